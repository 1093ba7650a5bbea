//! The embedded durable store, the default: one redb file in the data
//! directory holds every story (text and metadata), where the index placed
//! it, the clusters (members, canonical, related links), the index counters
//! and a schema version. The matching index itself lives in memory and is
//! rebuilt from the file at open: fingerprints are recomputed from the
//! stored text on every core, and clusters are restored as stored, never
//! re-decided.
//!
//! Every change is one redb write transaction, committed with immediate
//! durability (fsync) before the call returns: nothing acknowledged is lost
//! in a crash. A batch of ingests shares one transaction. If a commit fails,
//! the in-memory index has moved ahead of the file, so the store refuses all
//! further work until it is reopened (a restart rebuilds from the file).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{ClusterDetail, ClusterPage, Store, StoreError};
use crate::dedup::{
    ClusterChanges, ClusterId, ClusterView, Fingerprint, Index, IndexConfig, IndexCounters,
    IngestOutcome, IngestReport, Placement, PlacementRecord, StoryMeta,
};
use crate::story::{PreparedStory, StoredStory, Story};

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "copydesk.redb";

/// Version of the records' layout. A file written with another version is
/// refused at open, never misread.
pub const SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("stories");
const CLUSTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("clusters");
const SCHEMA_KEY: &str = "schema_version";
const COUNTERS_KEY: &str = "counters";

/// One story as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoryRecord {
    title: String,
    body: String,
    published_at: Option<SystemTime>,
    source: String,
    language: String,
    ingested_at: SystemTime,
    placement: PlacementRecord,
    /// Evicted by retention: readable, no longer matched or clustered.
    evicted: bool,
}

impl StoryRecord {
    fn stored(self, id: &str) -> StoredStory {
        StoredStory {
            story: Story {
                id: id.to_owned(),
                title: self.title,
                body: self.body,
                published_at: self.published_at,
                source: self.source,
                language: self.language,
            },
            cluster: self.placement.cluster,
            ingested_at: self.ingested_at,
        }
    }
}

/// How the durable store treats stories that retention evicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurableOptions {
    /// Keep evicted stories readable through GetStory (they leave the
    /// matching index and their clusters either way).
    pub keep_evicted: bool,
}

/// What opening the store found, for the startup log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenReport {
    /// Stories back in the matching index.
    pub stories: usize,
    /// Clusters restored.
    pub clusters: usize,
    /// Seconds spent reading and rebuilding.
    pub seconds: f64,
}

#[derive(Debug)]
struct State {
    index: Index,
    db: Database,
    options: DurableOptions,
    /// Set when a commit failed: the index no longer matches the file.
    failed: Option<String>,
}

/// Stories and clusters in a redb file; the matching index in memory.
#[derive(Debug, Clone)]
pub struct DurableStore {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

fn backend(context: &'static str) -> impl Fn(redb::Error) -> StoreError {
    move |e| StoreError::Backend(format!("{context}: {e}"))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

impl DurableStore {
    /// Opens (or creates) the store in `dir` and rebuilds the index.
    pub fn open(
        dir: &Path,
        config: IndexConfig,
        options: DurableOptions,
    ) -> Result<(DurableStore, OpenReport), StoreError> {
        let started = Instant::now();
        let path = dir.join(DATABASE_FILE);
        let open_error = |reason: String| StoreError::Open {
            path: path.clone(),
            reason,
        };
        let db = Database::create(&path).map_err(|e| open_error(e.to_string()))?;
        check_schema(&db).map_err(|e| match e {
            StoreError::Backend(reason) => open_error(reason),
            other => other,
        })?;
        let (records, clusters, counters) = read_all(&db).map_err(|e| open_error(e.to_string()))?;
        let stories = fingerprint_all(records);
        let story_count = stories.len();
        let index = Index::restore(config, stories, clusters, counters)
            .map_err(|e| open_error(format!("stored records are inconsistent: {e}")))?;
        let report = OpenReport {
            stories: story_count,
            clusters: index.cluster_count(),
            seconds: started.elapsed().as_secs_f64(),
        };
        let store = DurableStore {
            state: Arc::new(Mutex::new(State {
                index,
                db,
                options,
                failed: None,
            })),
            path,
        };
        Ok((store, report))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the state on the blocking pool.
    async fn with_state<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || {
            let mut state = lock(&state);
            if let Some(reason) = &state.failed {
                return Err(StoreError::Backend(format!(
                    "an earlier commit failed ({reason}); restart to rebuild from the file"
                )));
            }
            work(&mut state)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
    }

    /// Ingests a batch synchronously (the offline CLI's path).
    pub fn ingest_blocking(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.failed {
            return Err(StoreError::Backend(format!(
                "an earlier commit failed ({reason})"
            )));
        }
        state.ingest_batch(batch, now)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the schema version into a new file; refuses another version.
fn check_schema(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| backend("begin")(e.into()))?;
    {
        let mut meta = txn
            .open_table(META)
            .map_err(|e| backend("open meta")(e.into()))?;
        let found = meta
            .get(SCHEMA_KEY)
            .map_err(|e| backend("read schema")(e.into()))?
            .map(|v| v.value().to_vec());
        match found {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())
                    .map_err(|e| backend("write schema")(e.into()))?;
            }
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| {
                        StoreError::Backend("schema version is not a 4-byte number".into())
                    })?;
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
        }
    }
    // Read transactions cannot create tables: make sure every one exists.
    txn.open_table(STORIES)
        .map_err(|e| backend("create stories")(e.into()))?;
    txn.open_table(CLUSTERS)
        .map_err(|e| backend("create clusters")(e.into()))?;
    txn.commit().map_err(|e| backend("commit schema")(e.into()))
}

type Records = (
    Vec<(String, StoryRecord)>,
    Vec<crate::dedup::ClusterRecord>,
    IndexCounters,
);

fn read_all(db: &Database) -> Result<Records, StoreError> {
    let txn = db
        .begin_read()
        .map_err(|e| backend("begin read")(e.into()))?;
    let stories_table = txn
        .open_table(STORIES)
        .map_err(|e| backend("open stories")(e.into()))?;
    let mut stories = Vec::new();
    for row in stories_table
        .iter()
        .map_err(|e| backend("read stories")(e.into()))?
    {
        let (id, value) = row.map_err(|e| backend("read story")(e.into()))?;
        let record: StoryRecord = postcard::from_bytes(value.value()).map_err(|e| {
            StoreError::Backend(format!("story {:?} does not decode: {e}", id.value()))
        })?;
        if !record.evicted {
            stories.push((id.value().to_owned(), record));
        }
    }
    let clusters_table = txn
        .open_table(CLUSTERS)
        .map_err(|e| backend("open clusters")(e.into()))?;
    let mut clusters = Vec::new();
    for row in clusters_table
        .iter()
        .map_err(|e| backend("read clusters")(e.into()))?
    {
        let (id, value) = row.map_err(|e| backend("read cluster")(e.into()))?;
        clusters.push(postcard::from_bytes(value.value()).map_err(|e| {
            StoreError::Backend(format!("cluster {} does not decode: {e}", id.value()))
        })?);
    }
    let meta = txn
        .open_table(META)
        .map_err(|e| backend("open meta")(e.into()))?;
    let counters = match meta
        .get(COUNTERS_KEY)
        .map_err(|e| backend("read counters")(e.into()))?
    {
        Some(value) => postcard::from_bytes(value.value())
            .map_err(|e| StoreError::Backend(format!("counters do not decode: {e}")))?,
        None => Index::new(IndexConfig::default()).counters(),
    };
    Ok((stories, clusters, counters))
}

/// Fingerprints stored stories on every core: the costly part of a rebuild.
fn fingerprint_all(
    records: Vec<(String, StoryRecord)>,
) -> Vec<(StoryMeta, Fingerprint, PlacementRecord)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = records.len().div_ceil(threads).max(1);
    let fingerprint = |(id, record): &(String, StoryRecord)| {
        let story = Story {
            id: id.clone(),
            title: record.title.clone(),
            body: record.body.clone(),
            published_at: record.published_at,
            source: String::new(),
            language: String::new(),
        };
        let meta = StoryMeta {
            id: id.clone(),
            content_hash: story.content_hash(),
            body_bytes: record.body.len(),
            published_at: record.published_at,
            ingested_at: record.ingested_at,
        };
        (
            meta,
            Fingerprint::of(&record.title, &record.body),
            record.placement.clone(),
        )
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(fingerprint).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// One transaction's writes.
#[derive(Default)]
struct Writes {
    /// Stories to put (`Some`) or remove (`None`).
    stories: Vec<(String, Option<StoryRecord>)>,
    changes: ClusterChanges,
}

impl State {
    fn ingest_batch(
        &mut self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let mut writes = Writes::default();
        let mut reports = Vec::with_capacity(batch.len());
        for PreparedStory { story, fingerprint } in batch {
            let meta = StoryMeta {
                id: story.id.clone(),
                content_hash: story.content_hash(),
                body_bytes: story.body.len(),
                published_at: story.published_at,
                ingested_at: now,
            };
            let report = self.index.ingest(meta, fingerprint);
            if report.outcome != IngestOutcome::Unchanged {
                let placement = self
                    .index
                    .placement_record(&story.id)
                    .ok_or_else(|| StoreError::Backend("ingested story not indexed".into()))?;
                let Story {
                    id,
                    title,
                    body,
                    published_at,
                    source,
                    language,
                } = story;
                writes.stories.push((
                    id,
                    Some(StoryRecord {
                        title,
                        body,
                        published_at,
                        source,
                        language,
                        ingested_at: now,
                        placement,
                        evicted: false,
                    }),
                ));
            }
            reports.push(report);
        }
        self.commit(writes)?;
        Ok(reports)
    }

    /// Commits `writes` plus the index's cluster changes and counters.
    fn commit(&mut self, mut writes: Writes) -> Result<(), StoreError> {
        writes.changes = self.index.take_changes();
        let counters = self.index.counters();
        let result = write(&self.db, &writes, counters);
        if let Err(err) = &result {
            self.failed = Some(err.to_string());
        }
        result
    }

    fn read_story(&self, id: &str) -> Result<Option<StoryRecord>, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| backend("begin read")(e.into()))?;
        let table = txn
            .open_table(STORIES)
            .map_err(|e| backend("open stories")(e.into()))?;
        let Some(value) = table.get(id).map_err(|e| backend("read story")(e.into()))? else {
            return Ok(None);
        };
        postcard::from_bytes(value.value())
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("story {id:?} does not decode: {e}")))
    }

    fn detail(&self, view: ClusterView) -> Result<ClusterDetail, StoreError> {
        let canonical = self
            .read_story(&view.canonical)?
            .ok_or_else(|| {
                StoreError::Backend(format!("canonical story {:?} has no text", view.canonical))
            })?
            .stored(&view.canonical);
        let titles = view
            .members
            .iter()
            .map(|m| {
                Ok(self
                    .read_story(&m.meta.id)?
                    .map(|r| r.title)
                    .unwrap_or_default())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ClusterDetail {
            view,
            canonical,
            titles,
        })
    }

    /// Evicts up to `limit` stories older than `cutoff` from the index.
    fn evict(
        &mut self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let ids = self.index.stories_before(cutoff, limit);
        if ids.is_empty() {
            return Ok(0);
        }
        let mut writes = Writes::default();
        for id in &ids {
            self.index.remove(id, now);
            let kept = if self.options.keep_evicted {
                self.read_story(id)?.map(|mut r| {
                    r.evicted = true;
                    r
                })
            } else {
                None
            };
            writes.stories.push((id.clone(), kept));
        }
        self.commit(writes)?;
        Ok(ids.len())
    }
}

fn write(db: &Database, writes: &Writes, counters: IndexCounters) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| backend("begin")(e.into()))?;
    {
        let mut stories = txn
            .open_table(STORIES)
            .map_err(|e| backend("open stories")(e.into()))?;
        for (id, record) in &writes.stories {
            match record {
                Some(record) => {
                    stories
                        .insert(id.as_str(), encode(record)?.as_slice())
                        .map_err(|e| backend("write story")(e.into()))?;
                }
                None => {
                    stories
                        .remove(id.as_str())
                        .map_err(|e| backend("remove story")(e.into()))?;
                }
            }
        }
        let mut clusters = txn
            .open_table(CLUSTERS)
            .map_err(|e| backend("open clusters")(e.into()))?;
        for record in &writes.changes.changed {
            clusters
                .insert(record.id, encode(record)?.as_slice())
                .map_err(|e| backend("write cluster")(e.into()))?;
        }
        for id in &writes.changes.removed {
            clusters
                .remove(*id)
                .map_err(|e| backend("remove cluster")(e.into()))?;
        }
        let mut meta = txn
            .open_table(META)
            .map_err(|e| backend("open meta")(e.into()))?;
        meta.insert(COUNTERS_KEY, encode(&counters)?.as_slice())
            .map_err(|e| backend("write counters")(e.into()))?;
    }
    txn.commit().map_err(|e| backend("commit")(e.into()))
}

#[async_trait]
impl Store for DurableStore {
    async fn ingest(
        &self,
        story: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        let mut reports = self.ingest_batch(vec![story], now).await?;
        reports
            .pop()
            .ok_or_else(|| StoreError::Backend("an ingest of one story reported none".into()))
    }

    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        self.with_state(move |state| state.ingest_batch(batch, now))
            .await
    }

    async fn find_duplicates(&self, prepared: PreparedStory) -> Result<Placement, StoreError> {
        self.with_state(move |state| {
            let exclude = (!prepared.story.id.is_empty()).then_some(prepared.story.id.as_str());
            Ok(state.index.place(&prepared.fingerprint, exclude))
        })
        .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| {
            state
                .read_story(&id)?
                .map(|r| r.stored(&id))
                .ok_or(StoreError::StoryNotFound(id))
        })
        .await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| {
            let indexed = state.index.remove(&id, now).is_some();
            // An evicted story kept readable is in the file only.
            if !indexed && state.read_story(&id)?.is_none() {
                return Err(StoreError::StoryNotFound(id));
            }
            state.commit(Writes {
                stories: vec![(id, None)],
                changes: ClusterChanges::default(),
            })
        })
        .await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.with_state(move |state| {
            let view = state
                .index
                .cluster(id)
                .ok_or(StoreError::ClusterNotFound(id))?;
            state.detail(view)
        })
        .await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.with_state(move |state| {
            let mut views = state.index.clusters_before(before, limit + 1);
            let more = views.len() > limit;
            views.truncate(limit);
            let next_before = if more {
                views.last().map(|v| v.id)
            } else {
                None
            };
            let clusters = views
                .into_iter()
                .map(|v| state.detail(v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ClusterPage {
                clusters,
                next_before,
            })
        })
        .await
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.with_state(move |state| state.evict(cutoff, now, limit))
            .await
    }
}
