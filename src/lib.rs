//! copydesk: extractive summaries of news stories, and a near-duplicate
//! index that folds the versions of one wire story into one canonical item.
//!
//! # Layout
//!
//! - [`text`]: normalization, sentence splitting, word tokens (no gRPC, no I/O).
//! - [`summarize`]: sentence scoring and selection within a budget.
//! - [`dedup`]: fingerprints, MinHash/LSH, pairwise decisions, clusters.
//! - [`story`]: the validated story the core works on.
//! - [`store`]: stories and the index behind an async trait: one engine,
//!   with its records in a redb file (the default) or in memory.
//! - [`parallel`]: per-story work on every core, answers in input order.
//! - [`names`]: resource names, `stories/{id}` and `clusters/{number}`.
//! - [`grpc`]: the tonic service: validation, conversions, handlers, `serve()`.
//! - [`metrics`]: the Prometheus registry (gRPC and copydesk series) and
//!   the store wrapper that records into it.
//! - [`http`]: the operations listener: liveness, readiness, Prometheus
//!   text, and the editor's page.
//! - [`page`]: the editor's page rendered as HTML (newest clusters, a
//!   cluster's timeline), for the server and `dedup --report`.
//! - [`ninjs`]: IPTC ninjs documents in (a story, its version, a cancel)
//!   and copydesk's answer out as ninjs associations; an input format at
//!   the edge, beside the CLI's JSON Lines.
//! - [`cli`]: the `copydesk` command: `serve`, offline `summarize` and `dedup`.
//!
//! The core (`text`, `summarize`, `dedup`, `story`, `store`, `parallel`) never imports
//! tonic or prost; the server and the offline CLI call the same core.

/// The version, as `copydesk --version` and the startup log give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit built from (see `build.rs`): a short git hash, `-dirty` when
/// the tree had changes, or `unknown`.
pub const COMMIT: &str = env!("COPYDESK_COMMIT");

/// `VERSION (commit COMMIT)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("COPYDESK_COMMIT"),
    ")"
);

pub mod cli;
pub mod dedup;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod names;
pub mod ninjs;
pub mod page;
pub mod parallel;
pub mod store;
pub mod story;
pub mod summarize;
pub mod text;
