//! copydesk: extractive summaries of news stories, and a near-duplicate
//! index that folds the versions of one wire story into one canonical item.
//!
//! # Layout
//!
//! - [`text`]: normalization, sentence splitting, word tokens (no gRPC, no I/O).
//! - [`summarize`]: sentence scoring and selection within a budget.
//! - [`dedup`]: fingerprints, MinHash/LSH, pairwise decisions, clusters.
//! - [`story`]: the validated story the core works on.
//! - [`store`]: stories and the index behind an async trait; in-memory backend.
//! - [`grpc`]: the tonic service: validation, conversions, handlers, `serve()`.
//! - [`cli`]: the `copydesk` command: `serve`, offline `summarize` and `dedup`.
//!
//! The core (`text`, `summarize`, `dedup`, `story`, `store`) never imports
//! tonic or prost; the server and the offline CLI call the same core.

pub mod cli;
pub mod dedup;
pub mod grpc;
pub mod store;
pub mod story;
pub mod summarize;
pub mod text;
