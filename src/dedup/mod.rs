//! Near-duplicate detection for wire copy: fingerprints, MinHash/LSH
//! candidates, verified pairwise decisions, and clusters with a canonical
//! story.
//!
//! Compute only: no gRPC types, no I/O, no clock (callers pass times in).
//!
//! - [`fingerprint`]: furniture removal, word shingles, lede, signature.
//! - [`furniture`]: short lines learned as furniture from how many
//!   clusters they occur in.
//! - [`sample`]: nested hash samples that stand in for full shingle and
//!   word sets, so the index keeps about 1 KiB a story.
//! - [`minhash`]: one-permutation MinHash and LSH banding.
//! - [`compare`]: the evidence between two stories and the SAME / RELATED /
//!   UNRELATED decision.
//! - [`vocabulary`]: how common each word is in the index, learned from
//!   it: the evidence that reports by different writers share an event.
//! - [`index`]: the in-memory index: buckets, clusters, canonical election
//!   (its hash tables hold slot numbers only; see `slot_table`).

pub mod changes;
pub mod compare;
pub mod fingerprint;
pub mod furniture;
pub mod index;
pub mod minhash;
pub mod sample;
mod slot_table;
pub mod vocabulary;

pub use compare::{DEFAULT_FOLLOW_UP_AFTER, Evidence, Relation, compare};
pub use fingerprint::Fingerprint;
pub use index::{
    CanonicalPolicy, ClusterChanges, ClusterId, ClusterRecord, ClusterView, Index, IndexConfig,
    IndexCounters, IngestOutcome, IngestReport, Match, MemberView, Placement, PlacementRecord,
    RestoreError, StoryMeta, StoryPlacement,
};
pub use minhash::LshParams;
