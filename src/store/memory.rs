//! The in-memory store: the engine (`super::engine`) over records kept
//! in maps, behind one mutex. Every call runs on the blocking pool, never
//! on the async executor.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;

use super::engine::{self, Records};
use super::versions::VersionRecord;
use super::{ClusterDetail, ClusterPage, IndexStats, Store, StoreError};
use crate::dedup::furniture::LearnedFurniture;
use crate::dedup::{
    ClusterId, Index, IndexConfig, IngestReport, Placement, PlacementRecord, StoryPlacement,
};
use crate::story::{PreparedStory, StoredStory, Story};

#[derive(Debug)]
struct State {
    index: Index,
    records: MemoryRecords,
}

/// The records in maps.
#[derive(Debug, Default)]
struct MemoryRecords {
    stories: HashMap<String, StoredStory>,
    /// Every version of each stored story, oldest first.
    versions: HashMap<String, Vec<VersionRecord>>,
}

impl Records for MemoryRecords {
    fn story(&self, id: &str) -> Option<Story> {
        self.stories.get(id).map(|stored| stored.story.clone())
    }

    fn stored(&self, ids: &[&str]) -> Result<Vec<Option<StoredStory>>, StoreError> {
        Ok(ids
            .iter()
            .map(|id| self.stories.get(*id).cloned())
            .collect())
    }

    fn last_version(&self, id: &str) -> Result<Option<(u32, Option<VersionRecord>)>, StoreError> {
        Ok(self
            .versions
            .get(id)
            .and_then(|history| history.last())
            .map(|last| (last.number, Some(last.clone()))))
    }

    fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        Ok(self.versions.get(id).cloned().unwrap_or_default())
    }

    fn put_version(&mut self, id: &str, version: VersionRecord) {
        let history = self.versions.entry(id.to_owned()).or_default();
        match history.iter_mut().find(|v| v.number == version.number) {
            Some(kept) => *kept = version,
            None => history.push(version),
        }
    }

    fn put_story(&mut self, story: Story, ingested_at: SystemTime, placement: PlacementRecord) {
        self.stories.insert(
            story.id.clone(),
            StoredStory {
                story,
                cluster: placement.cluster,
                ingested_at,
            },
        );
    }

    fn remove(&mut self, id: &str) {
        self.stories.remove(id);
        self.versions.remove(id);
    }

    fn evicted(&mut self, id: &str) -> Result<(), StoreError> {
        self.remove(id);
        Ok(())
    }
}

/// Stories and index in memory; lost on restart.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new(config: IndexConfig) -> MemoryStore {
        MemoryStore {
            state: Arc::new(Mutex::new(State {
                index: Index::new(config),
                records: MemoryRecords::default(),
            })),
        }
    }

    /// Ingests a batch in order synchronously, what each new version
    /// changes worked out on up to `threads` threads (the offline CLI's
    /// path on several cores).
    pub fn ingest_group_blocking(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
        threads: NonZeroUsize,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let mut state = lock(&self.state);
        let State { index, records } = &mut *state;
        engine::ingest_group(index, records, batch, now, threads)
    }

    /// Runs `work` with the furniture the index has learned (the offline
    /// CLI prepares a round of stories against it), holding the lock.
    pub fn with_learned_furniture<T>(&self, work: impl FnOnce(&LearnedFurniture) -> T) -> T {
        work(lock(&self.state).index.learned_furniture())
    }

    /// Where a story is now, synchronously (the offline CLI's last step).
    pub fn placement_blocking(&self, id: &str) -> Option<StoryPlacement> {
        lock(&self.state).index.story_placement(id)
    }

    /// Removes a story synchronously; `false` when it is not stored.
    pub fn delete_blocking(&self, id: &str, now: SystemTime) -> bool {
        let mut state = lock(&self.state);
        let State { index, records } = &mut *state;
        engine::delete(index, records, id, now).is_ok()
    }

    /// Runs `work` on the state on the blocking pool.
    async fn with_state<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || work(&mut lock(&state)))
            .await
            .map_err(StoreError::Task)?
    }
}

/// A panic while holding the lock leaves the index as it was before the
/// panicking call's first write; keep serving rather than poison every call.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Store for MemoryStore {
    async fn ingest(
        &self,
        prepared: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        self.with_state(move |State { index, records }| {
            engine::ingest(index, records, prepared, now)
        })
        .await
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.with_state(move |State { index, records }| {
            let ids = index.stories_before(cutoff, limit);
            engine::evict(index, records, &ids, now)
        })
        .await
    }

    async fn find_duplicates(&self, prepared: PreparedStory) -> Result<Placement, StoreError> {
        self.with_state(move |state| Ok(engine::find_duplicates(&state.index, &prepared)))
            .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        // The mutex only on the blocking pool: a long ingest holding it
        // never stalls an executor thread.
        let id = id.to_owned();
        self.with_state(move |state| engine::get_story(&state.index, &state.records, &id))
            .await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_state(move |State { index, records }| engine::delete(index, records, &id, now))
            .await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.with_state(move |state| engine::get_cluster(&state.index, &state.records, id))
            .await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| engine::story_versions(&state.records, &id))
            .await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.with_state(move |state| {
            engine::list_clusters(&state.index, &state.records, before, limit)
        })
        .await
    }

    async fn index_stats(&self) -> IndexStats {
        self.with_state(|state| Ok(IndexStats::of(&state.index)))
            .await
            .unwrap_or_default()
    }
}
