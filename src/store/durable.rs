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
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ClusterDetail, ClusterPage, Store, StoreError, cluster_page};
use crate::dedup::{
    ClusterChanges, ClusterId, ClusterRecord, ClusterView, Fingerprint, Index, IndexConfig,
    IndexCounters, IngestOutcome, IngestReport, Placement, PlacementRecord, StoryMeta,
};
use crate::story::{PreparedStory, StoredStory, Story};

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "copydesk.redb";

/// Version of the records' layout. A file written with another version is
/// refused at open, never misread. Version 2 stores the story as one nested
/// record (version 1 listed its fields).
pub const SCHEMA_VERSION: u32 = 2;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("stories");
const CLUSTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("clusters");
const SCHEMA_KEY: &str = "schema_version";
const COUNTERS_KEY: &str = "counters";

/// One story as stored, keyed by its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoryRecord {
    story: Story,
    ingested_at: SystemTime,
    placement: PlacementRecord,
    /// Evicted by retention: readable, no longer matched or clustered.
    evicted: bool,
}

impl StoryRecord {
    fn stored(self) -> StoredStory {
        StoredStory {
            story: self.story,
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

/// Maps any redb error to a backend error naming what was being done.
fn backend<E: Into<redb::Error>>(context: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Backend(format!("{context}: {}", e.into()))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

/// Decodes a stored value; `what` names it in the error.
fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    what: impl std::fmt::Display,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Backend(format!("{what} does not decode: {e}")))
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
        let stories = fingerprint_all(&records);
        drop(records);
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
            state.usable()?;
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
        state.usable()?;
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
    let txn = db.begin_write().map_err(backend("begin"))?;
    {
        let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
        let found = meta
            .get(SCHEMA_KEY)
            .map_err(backend("read schema"))?
            .map(|v| v.value().to_vec());
        match found {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())
                    .map_err(backend("write schema"))?;
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
    txn.open_table(STORIES).map_err(backend("create stories"))?;
    txn.open_table(CLUSTERS)
        .map_err(backend("create clusters"))?;
    txn.commit().map_err(backend("commit schema"))
}

type Records = (Vec<StoryRecord>, Vec<ClusterRecord>, IndexCounters);

/// Every live (not evicted) story, every cluster, and the counters.
fn read_all(db: &Database) -> Result<Records, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let mut stories = Vec::new();
    for row in txn
        .open_table(STORIES)
        .map_err(backend("open stories"))?
        .iter()
        .map_err(backend("read stories"))?
    {
        let (id, value) = row.map_err(backend("read story"))?;
        let record: StoryRecord = decode(value.value(), format_args!("story {:?}", id.value()))?;
        if !record.evicted {
            stories.push(record);
        }
    }
    let mut clusters = Vec::new();
    for row in txn
        .open_table(CLUSTERS)
        .map_err(backend("open clusters"))?
        .iter()
        .map_err(backend("read clusters"))?
    {
        let (id, value) = row.map_err(backend("read cluster"))?;
        clusters.push(decode(
            value.value(),
            format_args!("cluster {}", id.value()),
        )?);
    }
    let counters = match txn
        .open_table(META)
        .map_err(backend("open meta"))?
        .get(COUNTERS_KEY)
        .map_err(backend("read counters"))?
    {
        Some(value) => decode(value.value(), "the counters")?,
        None => Index::new(IndexConfig::default()).counters(),
    };
    Ok((stories, clusters, counters))
}

/// Fingerprints stored stories on every core: the costly part of a rebuild.
fn fingerprint_all(records: &[StoryRecord]) -> Vec<(StoryMeta, Fingerprint, PlacementRecord)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = records.len().div_ceil(threads).max(1);
    let fingerprint = |record: &StoryRecord| {
        let story = &record.story;
        (
            story.meta(record.ingested_at),
            Fingerprint::of(&story.title, &story.body),
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
    /// Refuses work once a commit has failed.
    fn usable(&self) -> Result<(), StoreError> {
        match &self.failed {
            None => Ok(()),
            Some(reason) => Err(StoreError::Backend(format!(
                "an earlier commit failed ({reason}); restart to rebuild from the file"
            ))),
        }
    }

    fn ingest_batch(
        &mut self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let mut writes = Writes::default();
        let mut reports = Vec::with_capacity(batch.len());
        for PreparedStory { story, fingerprint } in batch {
            let report = self.index.ingest(story.meta(now), fingerprint);
            if report.outcome != IngestOutcome::Unchanged {
                let placement = self
                    .index
                    .placement_record(&story.id)
                    .ok_or_else(|| StoreError::Backend("ingested story not indexed".into()))?;
                let record = StoryRecord {
                    story,
                    ingested_at: now,
                    placement,
                    evicted: false,
                };
                writes.stories.push((record.story.id.clone(), Some(record)));
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

    /// The stored records of `ids`, in one read transaction.
    fn read_stories(&self, ids: &[&str]) -> Result<Vec<Option<StoryRecord>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend("begin read"))?;
        let table = txn.open_table(STORIES).map_err(backend("open stories"))?;
        ids.iter()
            .map(|&id| {
                table
                    .get(id)
                    .map_err(backend("read story"))?
                    .map(|value| decode(value.value(), format_args!("story {id:?}")))
                    .transpose()
            })
            .collect()
    }

    fn read_story(&self, id: &str) -> Result<Option<StoryRecord>, StoreError> {
        Ok(self.read_stories(&[id])?.pop().flatten())
    }

    fn detail(&self, view: ClusterView) -> Result<ClusterDetail, StoreError> {
        let ids: Vec<&str> = std::iter::once(view.canonical.as_str())
            .chain(view.members.iter().map(|m| m.meta.id.as_str()))
            .collect();
        let mut records = self.read_stories(&ids)?.into_iter();
        let canonical = records
            .next()
            .flatten()
            .ok_or_else(|| {
                StoreError::Backend(format!("canonical story {:?} has no text", view.canonical))
            })?
            .stored();
        let titles = records
            .map(|r| r.map(|r| r.story.title).unwrap_or_default())
            .collect();
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
        let kept = if self.options.keep_evicted {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            self.read_stories(&ids)?
        } else {
            vec![None; ids.len()]
        };
        let mut writes = Writes::default();
        for (id, kept) in ids.iter().zip(kept) {
            self.index.remove(id, now);
            let kept = kept.map(|mut record| {
                record.evicted = true;
                record
            });
            writes.stories.push((id.clone(), kept));
        }
        self.commit(writes)?;
        Ok(ids.len())
    }
}

fn write(db: &Database, writes: &Writes, counters: IndexCounters) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(backend("begin"))?;
    {
        let mut stories = txn.open_table(STORIES).map_err(backend("open stories"))?;
        for (id, record) in &writes.stories {
            match record {
                Some(record) => {
                    stories
                        .insert(id.as_str(), encode(record)?.as_slice())
                        .map_err(backend("write story"))?;
                }
                None => {
                    stories
                        .remove(id.as_str())
                        .map_err(backend("remove story"))?;
                }
            }
        }
        let mut clusters = txn.open_table(CLUSTERS).map_err(backend("open clusters"))?;
        for record in &writes.changes.changed {
            clusters
                .insert(record.id, encode(record)?.as_slice())
                .map_err(backend("write cluster"))?;
        }
        for id in &writes.changes.removed {
            clusters.remove(*id).map_err(backend("remove cluster"))?;
        }
        let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
        meta.insert(COUNTERS_KEY, encode(&counters)?.as_slice())
            .map_err(backend("write counters"))?;
    }
    txn.commit().map_err(backend("commit"))
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

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.with_state(move |state| state.evict(cutoff, now, limit))
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
                .map(StoryRecord::stored)
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
            cluster_page(&state.index, before, limit, |view| state.detail(view))
        })
        .await
    }
}
