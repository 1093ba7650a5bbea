//! Where stories and the near-duplicate index live, behind one async trait.
//!
//! No gRPC types. The trait's unit of work is a whole ingest ("find
//! candidates → decide → assign → write"), so a backend can run it inside
//! its own transaction; nothing here assumes the index lives in this process.
//! [`DurableStore`] (the default) keeps stories and clusters in a redb file
//! and the matching index in memory; [`MemoryStore`] keeps everything in
//! memory.

mod durable;
mod error;
mod memory;
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
pub use retention::Retention;
pub use versions::{TimelineEntry, VersionRecord, timeline};

use crate::dedup::changes::{VersionChanges, version_changes};
use crate::dedup::furniture::LearnedFurniture;
use crate::dedup::{ClusterId, ClusterView, Index, IngestOutcome, IngestReport, Placement};
use crate::story::{PreparedStory, StoredStory, Story};

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

/// One page of `index`'s clusters older than `before`, newest first, each
/// completed by `detail`: the paging both backends share.
fn cluster_page(
    index: &Index,
    before: Option<ClusterId>,
    limit: usize,
    detail: impl Fn(ClusterView) -> Result<ClusterDetail, StoreError>,
) -> Result<ClusterPage, StoreError> {
    // One more than asked tells whether another page exists.
    let mut views = index.clusters_before(before, limit + 1);
    let more = views.len() > limit;
    views.truncate(limit);
    let next_before = if more {
        views.last().map(|v| v.id)
    } else {
        None
    };
    let clusters = views
        .into_iter()
        .map(detail)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClusterPage {
        clusters,
        next_before,
    })
}

/// The two texts an ingest's changes come from.
#[derive(Debug)]
struct FollowedVersion {
    against: String,
    old: Story,
    new: Story,
}

impl FollowedVersion {
    /// The version an ingested story follows: its own earlier text
    /// (`previous`) when its id came with new text, else the story it
    /// duplicates, which `stored` looks up. `None` when it follows none, or
    /// that version cannot be read.
    fn of(
        report: &IngestReport,
        previous: Option<Story>,
        story: &Story,
        stored: impl Fn(&str) -> Option<Story>,
    ) -> Option<FollowedVersion> {
        let (against, old) = match (report.outcome, previous, &report.duplicate_of) {
            (IngestOutcome::Replaced, Some(previous), _) => (story.id.clone(), previous),
            (IngestOutcome::Created, _, Some((duplicated, _))) => {
                (duplicated.clone(), stored(duplicated)?)
            }
            _ => return None,
        };
        Some(FollowedVersion {
            against,
            old,
            new: story.clone(),
        })
    }

    /// What the new version changes against the old. CPU work, done once
    /// per new version while the store is locked so that the changes are
    /// committed with the version.
    fn compare(&self, learned: &LearnedFurniture) -> VersionChanges {
        version_changes(
            &self.against,
            (&self.old.title, &self.old.body),
            (&self.new.title, &self.new.body),
            &|line| learned.is_furniture(line),
        )
    }
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
