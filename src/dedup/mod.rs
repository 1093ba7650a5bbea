//! Near-duplicate detection for wire copy: fingerprints, MinHash/LSH
//! candidates, verified pairwise decisions, and clusters with a canonical
//! story.
//!
//! Compute only: no gRPC types, no I/O, no clock (callers pass times in).
//!
//! - [`fingerprint`]: furniture removal, word shingles, lede, signature.
//! - [`minhash`]: one-permutation MinHash and LSH banding.
//! - [`compare`]: the evidence between two stories and the SAME / RELATED /
//!   UNRELATED decision.
//! - [`index`]: the in-memory index: buckets, clusters, canonical election.

pub mod compare;
pub mod fingerprint;
pub mod index;
pub mod minhash;
pub mod sample;
mod slot_table;

pub use compare::{Evidence, Relation, compare};
pub use fingerprint::Fingerprint;
pub use index::{
    CanonicalPolicy, ClusterChanges, ClusterId, ClusterRecord, ClusterView, Index, IndexConfig,
    IndexCounters, IngestOutcome, IngestReport, Match, MemberView, Placement, PlacementRecord,
    RestoreError, StoryMeta,
};
pub use minhash::LshParams;
