//! Where stories and the near-duplicate index live, behind one async trait.
//!
//! No gRPC types. The trait's unit of work is a whole ingest ("find
//! candidates → decide → assign → write"), so a backend can run it inside
//! its own transaction; nothing here assumes the index lives in this process.
//! Both embedded backends run one engine (`engine.rs`): the matching
//! index in memory, and the records (stories, versions) where the backend
//! keeps them. [`DurableStore`] (the default) keeps them in a redb file,
//! committed before a call returns; [`MemoryStore`] in maps.

mod durable;
mod engine;
mod error;
mod memory;
mod postgres;
mod retention;
mod versions;

use std::time::SystemTime;

use async_trait::async_trait;

pub use durable::{
    CheckReport, DATABASE_FILE, DurableOptions, DurableStore, OpenReport, SCHEMA_VERSION,
    check_store,
};
pub use error::{EngineError, OpenError, StoreError, chain};
pub use memory::MemoryStore;
pub use postgres::{PG_SCHEMA_VERSION, PostgresOptions, PostgresStore};
pub use retention::Retention;
pub use versions::{TimelineEntry, VersionRecord, timeline};

use crate::dedup::{ClusterId, ClusterView, Index, IngestReport, Placement};
use crate::story::{PreparedStory, StoredStory};

/// Whether a store takes writes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteState {
    /// Writes are taken.
    Accepting,
    /// Writes are refused until the cause goes away (reads go on); says
    /// why, for the log and the health report.
    Refusing(String),
}

/// How big the matching index is, for the monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Stories in the matching index.
    pub stories: usize,
    /// Clusters in the matching index.
    pub clusters: usize,
    /// Estimated heap the index holds, in bytes.
    pub memory_bytes: usize,
}

impl IndexStats {
    fn of(index: &Index) -> IndexStats {
        IndexStats {
            stories: index.len(),
            clusters: index.cluster_count(),
            memory_bytes: index.memory_estimate(),
        }
    }
}

/// A cluster with the stories clients want alongside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDetail {
    /// The cluster.
    pub view: ClusterView,
    /// The canonical story in full.
    pub canonical: StoredStory,
    /// Each member's headline, in the order of `view.members`.
    pub titles: Vec<String>,
    /// Hashes of the canonical story's lines that the index has learned
    /// for page furniture, which its summary leaves out.
    pub learned_furniture: Vec<u64>,
    /// Every version of the members, in time order (see
    /// [`timeline`]); empty in a page of clusters.
    pub timeline: Vec<TimelineEntry>,
}

/// One page of clusters, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterPage {
    /// The clusters.
    pub clusters: Vec<ClusterDetail>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_before: Option<ClusterId>,
}

/// Stories and the near-duplicate index.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Matches, decides, assigns and stores one story, returning once the
    /// change is stored.
    async fn ingest(
        &self,
        story: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError>;

    /// Ingests several stories in order, in one commit where the backend
    /// has transactions: none is stored unless all are. The answers are in
    /// the batch's order.
    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let mut reports = Vec::with_capacity(batch.len());
        for story in batch {
            reports.push(self.ingest(story, now).await?);
        }
        Ok(reports)
    }

    /// Evicts from the matching index up to `limit` stories whose time
    /// (publication, else ingest) is before `cutoff`; returns how many.
    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError>;

    /// Decides where a story would go, without storing anything. A story id,
    /// when set, leaves that stored story out of the matches.
    async fn find_duplicates(&self, story: PreparedStory) -> Result<Placement, StoreError>;

    /// One stored story.
    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError>;

    /// Removes a story from the index and the store.
    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError>;

    /// One cluster, with its timeline.
    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError>;

    /// Every version of one story, oldest first.
    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError>;

    /// Up to `limit` clusters older than `before`, newest first.
    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError>;

    /// Watches whether the store takes writes. A store that never refuses
    /// them (the default) reports [`WriteState::Accepting`] for good.
    fn write_state(&self) -> tokio::sync::watch::Receiver<WriteState> {
        tokio::sync::watch::channel(WriteState::Accepting).1
    }

    /// Checks again, without a write, whether a store refusing writes can
    /// take them (space freed under a full data directory), and returns
    /// the state now.
    async fn recheck_writes(&self) -> WriteState {
        WriteState::Accepting
    }

    /// How big the matching index is now. Zeros where the backend cannot
    /// tell (it fails, or keeps no index in this process).
    async fn index_stats(&self) -> IndexStats {
        IndexStats::default()
    }
}
