//! The in-memory store: the index and the stories behind one mutex. Work
//! that verifies candidates runs on the blocking pool, never on the async
//! executor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;

use super::versions::{self, VersionRecord};
use super::{
    ClusterDetail, ClusterPage, FollowedVersion, IndexStats, Store, StoreError, cluster_page,
};
use crate::dedup::{
    ClusterId, ClusterView, Index, IndexConfig, IngestOutcome, IngestReport, Placement,
    StoryPlacement, furniture,
};
use crate::story::{PreparedStory, StoredStory};

#[derive(Debug)]
struct State {
    index: Index,
    stories: HashMap<String, StoredStory>,
    /// Every version of each stored story, oldest first.
    versions: HashMap<String, Vec<VersionRecord>>,
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
                stories: HashMap::new(),
                versions: HashMap::new(),
            })),
        }
    }

    /// Ingests a story synchronously (the offline CLI's path).
    pub fn ingest_blocking(&self, prepared: PreparedStory, now: SystemTime) -> IngestReport {
        lock(&self.state).ingest(prepared, now)
    }

    /// Where a story is now, synchronously (the offline CLI's last step).
    pub fn placement_blocking(&self, id: &str) -> Option<StoryPlacement> {
        lock(&self.state).index.story_placement(id)
    }

    /// Removes a story synchronously; `false` when it is not stored.
    pub fn delete_blocking(&self, id: &str, now: SystemTime) -> bool {
        lock(&self.state).delete(id, now)
    }

    /// Runs `work` on the state on the blocking pool.
    async fn with_state<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || work(&mut lock(&state)))
            .await
            .map_err(StoreError::Task)
    }
}

/// A panic while holding the lock leaves the index as it was before the
/// panicking call's first write; keep serving rather than poison every call.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// Removes a story with its history; `false` when it is not stored.
    fn delete(&mut self, id: &str, now: SystemTime) -> bool {
        self.stories.remove(id);
        self.versions.remove(id);
        self.index.remove(id, now).is_some()
    }

    /// Ingests one story: the index decides, the text and the new
    /// version are kept, with what the version changes.
    fn ingest(&mut self, prepared: PreparedStory, now: SystemTime) -> IngestReport {
        let previous = self
            .stories
            .get(&prepared.story.id)
            .map(|stored| stored.story.clone());
        let (story, mut report) = prepared.ingest_into(&mut self.index, now);
        let followed = FollowedVersion::of(&report, previous.clone(), &story, |id| {
            self.stories.get(id).map(|stored| stored.story.clone())
        });
        report.changes = followed
            .as_ref()
            .map(|f| f.compare(self.index.learned_furniture()));
        if report.outcome == IngestOutcome::Unchanged {
            return report;
        }
        let history = self.versions.entry(story.id.clone()).or_default();
        if let (Some(superseded), Some(previous)) = (history.last_mut(), previous) {
            superseded.superseded_body = Some(previous.body);
        }
        let number = history.last().map_or(1, |v| v.number + 1);
        history.push(VersionRecord::ingested(number, &story, &report, now));
        self.stories.insert(
            story.id.clone(),
            StoredStory {
                story,
                cluster: report.cluster,
                ingested_at: now,
            },
        );
        report
    }

    /// A cluster's detail; its timeline too when `with_timeline`.
    fn detail(&self, view: ClusterView, with_timeline: bool) -> Result<ClusterDetail, StoreError> {
        let canonical = self.stories.get(&view.canonical).cloned().ok_or_else(|| {
            StoreError::Inconsistent(format!("canonical story {:?} has no text", view.canonical))
        })?;
        let titles = view
            .members
            .iter()
            .map(|m| {
                self.stories
                    .get(&m.meta.id)
                    .map(|s| s.story.title.clone())
                    .unwrap_or_default()
            })
            .collect();
        let learned_furniture =
            furniture::learned_lines(&canonical.story.text(), self.index.learned_furniture());
        let timeline = if with_timeline {
            versions::timeline(
                view.members
                    .iter()
                    .map(|m| {
                        let mut kept = self.versions.get(&m.meta.id).cloned().unwrap_or_default();
                        for version in &mut kept {
                            version.superseded_body = None;
                        }
                        (m.meta.id.clone(), kept)
                    })
                    .collect(),
            )
        } else {
            Vec::new()
        };
        Ok(ClusterDetail {
            view,
            canonical,
            titles,
            learned_furniture,
            timeline,
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ingest(
        &self,
        prepared: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.ingest_blocking(prepared, now))
            .await
            .map_err(StoreError::Task)
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.with_state(move |state| {
            let ids = state.index.stories_before(cutoff, limit);
            for id in &ids {
                state.index.remove(id, now);
                state.stories.remove(id);
                state.versions.remove(id);
            }
            ids.len()
        })
        .await
    }

    async fn find_duplicates(&self, prepared: PreparedStory) -> Result<Placement, StoreError> {
        self.with_state(move |state| {
            let exclude = (!prepared.story.id.is_empty()).then_some(prepared.story.id.as_str());
            state.index.place(
                &prepared.fingerprint_for(&state.index),
                prepared.story.published_at,
                exclude,
            )
        })
        .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        // The mutex only on the blocking pool: a long ingest holding it
        // never stalls an executor thread.
        let id = id.to_owned();
        self.with_state(move |state| {
            let mut stored = state
                .stories
                .get(&id)
                .cloned()
                .ok_or_else(|| StoreError::StoryNotFound(id.clone()))?;
            if let Some(cluster) = state.index.story_cluster(&id) {
                stored.cluster = cluster;
            }
            Ok(stored)
        })
        .await?
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| {
            state
                .delete(&id, now)
                .then_some(())
                .ok_or(StoreError::StoryNotFound(id))
        })
        .await?
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.with_state(move |state| {
            let view = state
                .index
                .cluster(id)
                .ok_or(StoreError::ClusterNotFound(id))?;
            state.detail(view, true)
        })
        .await?
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| {
            state
                .versions
                .get(&id)
                .filter(|history| !history.is_empty())
                .cloned()
                .ok_or(StoreError::StoryNotFound(id))
        })
        .await?
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.with_state(move |state| {
            cluster_page(&state.index, before, limit, |view| {
                state.detail(view, false)
            })
        })
        .await?
    }

    async fn index_stats(&self) -> IndexStats {
        self.with_state(|state| IndexStats::of(&state.index))
            .await
            .unwrap_or_default()
    }
}
