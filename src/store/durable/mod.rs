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
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

mod integrity;
mod records;

use records::OnDisk;

pub use integrity::{CheckReport, check_store};

use super::versions::{self, VersionRecord};
use super::{
    ClusterDetail, ClusterPage, FollowedVersion, IndexStats, OpenError, Store, StoreError,
    WriteState, chain, cluster_page,
};
use crate::dedup::furniture;
use crate::dedup::{
    ClusterChanges, ClusterId, ClusterRecord, ClusterView, Fingerprint, Index, IndexConfig,
    IndexCounters, IngestOutcome, IngestReport, Placement, PlacementRecord, StoryMeta,
    StoryPlacement,
};
use crate::story::{PreparedStory, StoredStory, Story};

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "copydesk.redb";

/// Version of the records' layout. A file written with another version is
/// refused at open, never misread, except versions 2 and 3, which are
/// upgraded in place. Version 2 stores the story as one nested record
/// (version 1 listed its fields); version 3 adds the head overlap and the
/// hours between publication times to the figures a story was folded on;
/// version 4 puts a checksum in front of every value; version 5 keeps every
/// version of a story (the `versions` table; a story stored before has its
/// one version read from its record).
pub const SCHEMA_VERSION: u32 = 5;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("stories");
const CLUSTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("clusters");
/// Each version of a story by (story id, version number).
const VERSIONS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("versions");
const SCHEMA_KEY: &str = "schema_version";
const COUNTERS_KEY: &str = "counters";
/// Cluster ids folded into another, with the cluster each lives on in.
const ALIASES_KEY: &str = "cluster_aliases";

/// One story as stored, keyed by its id.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct OpenReport {
    /// Stories back in the matching index.
    pub stories: usize,
    /// Clusters restored.
    pub clusters: usize,
    /// Seconds spent reading and rebuilding.
    pub seconds: f64,
    /// Records that failed their checksum or did not decode, named: left
    /// out of the index, reported as DATA_LOSS when read, and moved aside
    /// by `copydesk store check --set-aside`.
    pub damaged: Vec<String>,
}

#[derive(Debug)]
struct State {
    index: Index,
    /// How the index matches, to rebuild it from the file.
    config: IndexConfig,
    /// The file, to reopen it after a failed commit.
    path: PathBuf,
    /// The counters as last committed.
    committed_counters: IndexCounters,
    /// Transactions committed since the store was opened.
    commits: u64,
    /// The open file; `None` between a failed commit and the reopen that
    /// heals it (redb refuses every call after an I/O error in a commit
    /// until the file is opened again).
    db: Option<Database>,
    options: DurableOptions,
    /// Set when a commit failed and the store has not healed yet (the file
    /// reopened and the index rebuilt from it); every request tries again.
    failed: Option<String>,
    /// Whether writes are taken: refused while the data directory is full.
    writes: Arc<watch::Sender<WriteState>>,
}

/// Stories and clusters in a redb file; the matching index in memory.
#[derive(Debug, Clone)]
pub struct DurableStore {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    writes: Arc<watch::Sender<WriteState>>,
}

/// Why writes are refused while the data directory is full.
const DISK_FULL: &str = "the data directory is full: writes resume once space is freed";

/// Why the store refuses work after a commit failed and its file could not
/// be reopened yet (health reports it NOT_SERVING until it heals).
const HEALING: &str =
    "a commit failed and the store file could not be reopened yet: it tries again";

/// Bytes the space check writes (and removes): room for a commit of a few
/// stories. A disk with less free is still full for copydesk.
const SPACE_CHECK_BYTES: usize = 256 * 1024;

/// Whether the data directory `dir` has room for a commit again: writes
/// and syncs [`SPACE_CHECK_BYTES`] to a scratch file, then removes it. A
/// free-space figure alone would miss quotas and reserved blocks.
fn has_room(dir: &Path) -> bool {
    use std::io::Write;
    let probe = dir.join(".copydesk-space-check");
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&vec![0u8; SPACE_CHECK_BYTES])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}

/// Maps any redb error to the store's error, naming what was being done:
/// a full file system is [`StoreError::Full`], anything else
/// [`StoreError::Engine`], with redb's error as the source.
fn backend<E: Into<redb::Error>>(context: &'static str) -> impl Fn(E) -> StoreError {
    move |e| {
        let e = e.into();
        if is_disk_full(&e) {
            StoreError::Full {
                context,
                source: Some(Box::new(e)),
            }
        } else {
            StoreError::engine(context, e)
        }
    }
}

/// Whether redb failed because the file system has no room (or the
/// user's quota is spent): the operator's to fix, not a bug.
fn is_disk_full(e: &redb::Error) -> bool {
    // The standard library maps ENOSPC and EDQUOT to these kinds.
    matches!(e, redb::Error::Io(io) if matches!(
        io.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ))
}

/// Bytes of the checksum in front of every stored value.
const CHECKSUM_BYTES: usize = 8;

/// A value as stored: its postcard encoding behind an xxh3 checksum of it,
/// so that a damaged record is found when it is read, never served.
fn encode<T: OnDisk>(value: &T) -> Result<Vec<u8>, StoreError> {
    let payload = encode_plain(&value.to_row())?;
    let mut bytes = Vec::with_capacity(CHECKSUM_BYTES + payload.len());
    bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// A value's postcard encoding alone, as schema versions 2 and 3 stored it.
fn encode_plain<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::engine("encode a record", e))
}

/// Decodes a stored value after checking its checksum; `what` names it in
/// the error.
fn decode<T: OnDisk>(bytes: &[u8], what: impl std::fmt::Display) -> Result<T, StoreError> {
    let payload =
        verified(bytes).map_err(|problem| StoreError::Damaged(format!("{what} {problem}")))?;
    postcard::from_bytes(payload)
        .map(T::from_row)
        .map_err(|e| StoreError::Damaged(format!("{what} does not decode: {e}")))
}

/// The payload of a stored value whose checksum holds, or what is wrong.
fn verified(bytes: &[u8]) -> Result<&[u8], &'static str> {
    let (sum, payload) = bytes
        .split_first_chunk::<CHECKSUM_BYTES>()
        .ok_or("is shorter than its checksum")?;
    if u64::from_le_bytes(*sum) == xxhash_rust::xxh3::xxh3_64(payload) {
        Ok(payload)
    } else {
        Err("fails its checksum")
    }
}

/// Decodes a value stored without a checksum (schema versions 2 and 3).
fn decode_plain<T: DeserializeOwned>(
    bytes: &[u8],
    what: impl std::fmt::Display,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Damaged(format!("{what} does not decode: {e}")))
}

impl DurableStore {
    /// Opens (or creates) the store in `dir` and rebuilds the index.
    pub fn open(
        dir: &Path,
        config: IndexConfig,
        options: DurableOptions,
    ) -> Result<(DurableStore, OpenReport), OpenError> {
        let started = Instant::now();
        let path = dir.join(DATABASE_FILE);
        // redb can panic on some damaged files: that is a damaged file
        // here, never a crash (see `integrity::without_panic`).
        let (db, index, damaged) = integrity::without_panic(|| {
            let db = integrity::open_database(&path).map_err(|e| e.into_open_error(&path))?;
            check_schema(&db, &path)?;
            let (index, damaged) =
                rebuild_index(&db, config).map_err(|source| OpenError::Read {
                    path: path.clone(),
                    source,
                })?;
            Ok((db, index, damaged))
        })
        .map_err(|panic| match panic {
            Ok(err) => err,
            Err(detail) => OpenError::Damaged {
                path: path.clone(),
                detail,
            },
        })?;
        for record in &damaged {
            tracing::error!(%record, "damaged record left out; `copydesk store check --set-aside` moves it aside");
        }
        let report = OpenReport {
            stories: index.len(),
            clusters: index.cluster_count(),
            seconds: started.elapsed().as_secs_f64(),
            damaged,
        };
        let writes = Arc::new(watch::Sender::new(WriteState::Accepting));
        let store = DurableStore {
            writes: Arc::clone(&writes),
            state: Arc::new(Mutex::new(State {
                committed_counters: index.counters(),
                commits: 0,
                index,
                config,
                path: path.clone(),
                db: Some(db),
                options,
                failed: None,
                writes,
            })),
            path,
        };
        Ok((store, report))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write transactions committed since the store was opened.
    pub fn commits(&self) -> u64 {
        lock(&self.state).commits
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
        .map_err(StoreError::Task)?
    }

    /// Ingests a batch synchronously (the offline CLI's path).
    pub fn ingest_blocking(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        ingest_locked(&self.state, batch, now)
    }

    /// Removes a story synchronously (the offline CLI's path for a canceled
    /// item).
    pub fn delete_blocking(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        state.usable()?;
        state.delete(id.to_owned(), now)
    }

    /// Where a story is now, synchronously (the offline CLI's last step);
    /// `None` for an id that is not stored.
    pub fn placement_blocking(&self, id: &str) -> Result<Option<StoryPlacement>, StoreError> {
        let mut state = lock(&self.state);
        state.usable()?;
        Ok(state.index.story_placement(id))
    }
}

/// Ingests and commits a batch under the lock.
fn ingest_locked(
    state: &Mutex<State>,
    batch: Vec<PreparedStory>,
    now: SystemTime,
) -> Result<Vec<IngestReport>, StoreError> {
    let mut state = lock(state);
    state.usable()?;
    state.ingest_batch(batch, now)
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the schema version into a new file; refuses another version.
fn check_schema(db: &Database, path: &Path) -> Result<(), OpenError> {
    let read = |source: StoreError| OpenError::Read {
        path: path.to_owned(),
        source,
    };
    check_schema_version(db).map_err(read)?
}

/// [`check_schema`]'s work: `Err` when the file cannot be read, `Ok(Err)`
/// when it holds another schema version.
fn check_schema_version(db: &Database) -> Result<Result<(), OpenError>, StoreError> {
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
                        StoreError::Damaged("the schema version is not a 4-byte number".into())
                    })?;
                if (v2::VERSION..SCHEMA_VERSION).contains(&found) {
                    drop(meta);
                    if found == v2::VERSION {
                        v2::upgrade(&txn)?;
                    }
                    if found <= v3::VERSION {
                        v3::upgrade(&txn)?;
                    }
                    // Version 4 to 5 adds the versions table, made below.
                    let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
                    meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())
                        .map_err(backend("write schema"))?;
                } else if found != SCHEMA_VERSION {
                    return Ok(Err(OpenError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    }));
                }
            }
        }
    }
    // Read transactions cannot create tables: make sure every one exists.
    txn.open_table(STORIES).map_err(backend("create stories"))?;
    txn.open_table(CLUSTERS)
        .map_err(backend("create clusters"))?;
    txn.open_table(VERSIONS)
        .map_err(backend("create versions"))?;
    txn.commit().map_err(backend("commit schema"))?;
    Ok(Ok(()))
}

/// Schema version 2, read once to upgrade a file in place: its figures had
/// no head overlap (left absent) and no time between the stories. The
/// upgrade fills the time in from the two stories' publication times where
/// the earlier version is still stored, within the open's write
/// transaction, so a crash leaves version 2 whole.
mod v2 {
    use std::collections::HashMap;
    use std::time::SystemTime;

    use redb::{ReadableTable, WriteTransaction};
    use serde::{Deserialize, Serialize};

    use super::records::{StoryRecordRow, StoryRow};
    use super::{STORIES, StoreError, backend, decode_plain, encode_plain};
    use crate::dedup::{ClusterId, Evidence};

    pub(super) const VERSION: u32 = 2;

    #[derive(Serialize, Deserialize)]
    pub(super) struct StoryRecord {
        pub story: StoryRow,
        pub ingested_at: SystemTime,
        pub placement: PlacementRecord,
        pub evicted: bool,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct PlacementRecord {
        pub sequence: u64,
        pub cluster: ClusterId,
        pub duplicate_of: Option<(String, Figures)>,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct Figures {
        pub jaccard: f64,
        pub containment: f64,
        pub lede_overlap: f64,
        pub title_similarity: f64,
        pub word_overlap: f64,
    }

    /// Rewrites every story record in the version 3 layout.
    pub(super) fn upgrade(txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut stories = txn.open_table(STORIES).map_err(backend("open stories"))?;
        let mut published: HashMap<String, Option<SystemTime>> = HashMap::new();
        for row in stories.iter().map_err(backend("read stories"))? {
            let (id, value) = row.map_err(backend("read story"))?;
            let record: StoryRecord =
                decode_plain(value.value(), format_args!("story {:?}", id.value()))?;
            published.insert(id.value().to_owned(), record.story.published_at());
        }
        let ids: Vec<String> = published.keys().cloned().collect();
        for id in ids {
            let old: StoryRecord = match stories.get(id.as_str()).map_err(backend("read story"))? {
                Some(value) => decode_plain(value.value(), format_args!("story {id:?}"))?,
                None => continue,
            };
            let duplicate_of = old.placement.duplicate_of.map(|(other, f)| {
                let evidence = Evidence {
                    jaccard: f.jaccard,
                    containment: f.containment,
                    lede_overlap: f.lede_overlap,
                    title_similarity: f.title_similarity,
                    word_overlap: f.word_overlap,
                    head_overlap: None,
                    hours_apart: None,
                }
                .with_publication_times(
                    old.story.published_at(),
                    published.get(&other).copied().flatten(),
                );
                (other, evidence)
            });
            let record = StoryRecordRow::new(
                old.story,
                old.ingested_at,
                &crate::dedup::PlacementRecord {
                    sequence: old.placement.sequence,
                    cluster: old.placement.cluster,
                    duplicate_of,
                },
                old.evicted,
            );
            stories
                .insert(id.as_str(), encode_plain(&record)?.as_slice())
                .map_err(backend("upgrade story"))?;
        }
        Ok(())
    }
}

/// Version 3: the values without checksums.
mod v3 {
    use redb::{ReadableTable, WriteTransaction};

    use super::{CLUSTERS, COUNTERS_KEY, META, STORIES, StoreError, backend};

    pub(super) const VERSION: u32 = 3;

    /// Puts a checksum in front of every stored value. The values are not
    /// decoded: one that is damaged already is found when it is read.
    pub(super) fn upgrade(txn: &WriteTransaction) -> Result<(), StoreError> {
        rewrite_stories(txn)?;
        rewrite_clusters(txn)?;
        let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
        let counters = meta
            .get(COUNTERS_KEY)
            .map_err(backend("read counters"))?
            .map(|value| value.value().to_vec());
        if let Some(plain) = counters {
            meta.insert(COUNTERS_KEY, checksummed(&plain).as_slice())
                .map_err(backend("upgrade counters"))?;
        }
        Ok(())
    }

    fn rewrite_stories(txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut table = txn.open_table(STORIES).map_err(backend("open stories"))?;
        let rows: Vec<(String, Vec<u8>)> = table
            .iter()
            .map_err(backend("read stories"))?
            .map(|row| {
                row.map(|(key, value)| (key.value().to_owned(), value.value().to_vec()))
                    .map_err(backend("read story"))
            })
            .collect::<Result<_, _>>()?;
        for (key, plain) in rows {
            table
                .insert(key.as_str(), checksummed(&plain).as_slice())
                .map_err(backend("upgrade story"))?;
        }
        Ok(())
    }

    fn rewrite_clusters(txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut table = txn.open_table(CLUSTERS).map_err(backend("open clusters"))?;
        let rows: Vec<(u64, Vec<u8>)> = table
            .iter()
            .map_err(backend("read clusters"))?
            .map(|row| {
                row.map(|(key, value)| (key.value(), value.value().to_vec()))
                    .map_err(backend("read cluster"))
            })
            .collect::<Result<_, _>>()?;
        for (key, plain) in rows {
            table
                .insert(key, checksummed(&plain).as_slice())
                .map_err(backend("upgrade cluster"))?;
        }
        Ok(())
    }

    fn checksummed(plain: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(super::CHECKSUM_BYTES + plain.len());
        bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(plain).to_le_bytes());
        bytes.extend_from_slice(plain);
        bytes
    }
}

/// What the file holds, as the index is rebuilt from it.
struct Records {
    /// Every live (not evicted) story that reads back whole.
    stories: Vec<StoryRecord>,
    /// Every cluster that reads back whole.
    clusters: Vec<ClusterRecord>,
    /// The counters, or `None` when they are damaged.
    counters: Option<IndexCounters>,
    /// Folded cluster ids (none when the record is damaged).
    aliases: Vec<(ClusterId, ClusterId)>,
    /// The damaged records, named ("story \"x\" fails its checksum").
    damaged: Vec<String>,
}

/// The matching index of what the file holds: every live story
/// fingerprinted again, clusters and counters as stored. Damaged records
/// are left out (and named in the answer); the clusters that named them
/// are mended around them (see [`integrity::mend`]).
fn rebuild_index(db: &Database, config: IndexConfig) -> Result<(Index, Vec<String>), StoreError> {
    let Records {
        stories: records,
        clusters,
        counters,
        aliases,
        damaged,
    } = read_all(db)?;
    let (clusters, counters) = if damaged.is_empty() {
        let counters = counters.unwrap_or_else(|| Index::new(IndexConfig::default()).counters());
        (clusters, counters)
    } else {
        integrity::mend(&records, clusters, counters)
    };
    let stories = fingerprint_all(&records);
    drop(records);
    let mut index =
        Index::restore(config, stories, clusters, counters).map_err(StoreError::Restore)?;
    index.restore_aliases(aliases);
    Ok((index, damaged))
}

/// Keeps what decodes; names what is damaged; fails on any other error.
fn keep_or_name<T>(
    decoded: Result<T, StoreError>,
    damaged: &mut Vec<String>,
) -> Result<Option<T>, StoreError> {
    match decoded {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Damaged(record)) => {
            damaged.push(record);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Calls `story`, `cluster` and `counters` with the key and stored bytes of
/// every story, every cluster and the counters (when there are any), in
/// one read transaction.
fn visit_records(
    db: &Database,
    mut story: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
    mut cluster: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
    counters: impl FnOnce(&[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    for row in txn
        .open_table(STORIES)
        .map_err(backend("open stories"))?
        .iter()
        .map_err(backend("read stories"))?
    {
        let (id, value) = row.map_err(backend("read story"))?;
        story(id.value(), value.value())?;
    }
    for row in txn
        .open_table(CLUSTERS)
        .map_err(backend("open clusters"))?
        .iter()
        .map_err(backend("read clusters"))?
    {
        let (id, value) = row.map_err(backend("read cluster"))?;
        cluster(id.value(), value.value())?;
    }
    if let Some(value) = txn
        .open_table(META)
        .map_err(backend("open meta"))?
        .get(COUNTERS_KEY)
        .map_err(backend("read counters"))?
    {
        counters(value.value())?;
    }
    Ok(())
}

/// Every live (not evicted) story, every cluster, and the counters, with
/// the records that are damaged named rather than read.
fn read_all(db: &Database) -> Result<Records, StoreError> {
    // Each of the three visitors names what is damaged.
    let damaged = std::cell::RefCell::new(Vec::new());
    let mut stories = Vec::new();
    let mut clusters = Vec::new();
    let mut counters = Some(Index::new(IndexConfig::default()).counters());
    visit_records(
        db,
        |id, bytes| {
            let record: Option<StoryRecord> = keep_or_name(
                decode(bytes, format_args!("story {id:?}")),
                &mut damaged.borrow_mut(),
            )?;
            stories.extend(record.filter(|r| !r.evicted));
            Ok(())
        },
        |id, bytes| {
            let cluster = keep_or_name(
                decode(bytes, format_args!("cluster {id}")),
                &mut damaged.borrow_mut(),
            )?;
            clusters.extend(cluster);
            Ok(())
        },
        |bytes| {
            counters = keep_or_name(decode(bytes, "the counters"), &mut damaged.borrow_mut())?;
            Ok(())
        },
    )?;
    let mut damaged = damaged.into_inner();
    let aliases = match read_meta(db, ALIASES_KEY)? {
        Some(bytes) => keep_or_name(decode(&bytes, "the cluster aliases"), &mut damaged)?,
        None => None,
    };
    Ok(Records {
        stories,
        clusters,
        counters,
        aliases: aliases.unwrap_or_default(),
        damaged,
    })
}

/// The stored bytes of one `meta` record.
fn read_meta(db: &Database, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let meta = txn.open_table(META).map_err(backend("open meta"))?;
    Ok(meta
        .get(key)
        .map_err(backend("read meta"))?
        .map(|value| value.value().to_vec()))
}

/// Fingerprints stored stories on every core: the costly part of a rebuild.
fn fingerprint_all(records: &[StoryRecord]) -> Vec<(StoryMeta, Fingerprint, PlacementRecord)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = records.len().div_ceil(threads).max(1);
    let fingerprint = |record: &StoryRecord| {
        let story = &record.story;
        (
            story.meta(record.ingested_at),
            Fingerprint::of(&story.title, &story.text()),
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
    /// Versions to put, by story id.
    versions: Vec<(String, VersionRecord)>,
    /// Stories whose versions all go.
    versions_dropped: Vec<String>,
    changes: ClusterChanges,
}

impl State {
    /// Refuses a write at once while the data directory is full, unless
    /// space has come back: a write that would fail costs a rebuild of the
    /// index.
    fn writable(&mut self) -> Result<(), StoreError> {
        if matches!(*self.writes.borrow(), WriteState::Accepting) {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if has_room(dir) {
            Ok(())
        } else {
            Err(StoreError::Full {
                context: "space check before writing",
                source: None,
            })
        }
    }

    /// After a failed commit, heals first: reopens the file and rebuilds
    /// the index from it, so the store serves again as soon as it can (a
    /// full disk with space freed) without a restart.
    fn usable(&mut self) -> Result<(), StoreError> {
        if self.failed.is_none() {
            return Ok(());
        }
        self.recover()
    }

    /// Reopens the file if it is closed and rebuilds the index from it.
    fn recover(&mut self) -> Result<(), StoreError> {
        let reason = self.failed.clone().unwrap_or_default();
        let still = |e: StoreError| match e {
            full @ StoreError::Full { .. } => full,
            other => StoreError::Refusing {
                reason: format!(
                    "an earlier commit failed ({reason}) and the store could not be reopened"
                ),
                source: Some(Box::new(other)),
            },
        };
        if self.db.is_none() {
            // Never a new empty file in place of the one that went away:
            // that would serve an empty store as this one.
            if !self.path.exists() {
                return Err(still(StoreError::Damaged(format!(
                    "the store file {} is gone: put it back, or restart on an empty data directory",
                    self.path.display()
                ))));
            }
            let db = integrity::open_database(&self.path)
                .map_err(|failure| match failure {
                    integrity::OpenFailure::Redb(e) => backend("reopen the file")(e),
                    integrity::OpenFailure::NotAStore(reason) => StoreError::Damaged(reason),
                })
                .map_err(still)?;
            self.db = Some(db);
        }
        let (index, _damaged) = rebuild_index(self.db()?, self.config).map_err(still)?;
        self.committed_counters = index.counters();
        self.index = index;
        self.failed = None;
        self.writes.send_if_modified(|state| {
            let was_healing = *state == WriteState::Refusing(HEALING.into());
            if was_healing {
                *state = WriteState::Accepting;
            }
            was_healing
        });
        tracing::info!("the store serves again after a failed commit");
        Ok(())
    }

    /// The open file.
    fn db(&self) -> Result<&Database, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::refusing("the store file is closed after a failed commit"))
    }

    /// Ingests and commits a batch: each new text is a new version of its
    /// story, kept with what it changes against the version it follows.
    fn ingest_batch(
        &mut self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        self.writable()?;
        let mut writes = Writes::default();
        let mut reports = Vec::with_capacity(batch.len());
        for prepared in batch {
            // Read only for an id sent again with new text: a re-send of
            // the same text changes nothing and reads nothing.
            let id = &prepared.story.id;
            let previous = self
                .index
                .story_meta(id)
                .filter(|meta| meta.content_hash != prepared.story.content_hash())
                .and_then(|meta| {
                    Some(StoredStory {
                        story: self.stored_story(&writes, id)?,
                        cluster: self.index.story_cluster(id)?,
                        ingested_at: meta.ingested_at,
                    })
                });
            let (story, mut report) = prepared.ingest_into(&mut self.index, now);
            let previous_text = previous.as_ref().map(|p| p.story.clone());
            let followed = FollowedVersion::of(&report, previous_text, &story, |id| {
                self.stored_story(&writes, id)
            });
            report.changes = followed
                .as_ref()
                .map(|f| f.compare(self.index.learned_furniture()));
            if report.outcome != IngestOutcome::Unchanged {
                let placement = self.index.placement_record(&story.id).ok_or_else(|| {
                    StoreError::Inconsistent("an ingested story is not indexed".into())
                })?;
                let last = self.last_version(&writes, &story.id, previous.as_ref())?;
                let number = last.as_ref().map_or(1, |(n, _)| n + 1);
                if let (Some((_, Some(mut superseded))), Some(previous)) = (last, previous) {
                    superseded.superseded_body = Some(previous.story.body);
                    writes.versions.push((story.id.clone(), superseded));
                }
                let version = VersionRecord::ingested(number, &story, &report, now);
                writes.versions.push((story.id.clone(), version));
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

    /// The latest version of `id` stored (this batch's first, then the
    /// file's). A story stored before versions were kept has its one
    /// version made from its record (`previous`, when known).
    ///
    /// The answer is the latest number with its record; the record is
    /// `None` when it is damaged (the new version is still numbered after
    /// it, and the damaged record is left for `store check`): one damaged
    /// record never stops a story's next version.
    fn last_version(
        &self,
        writes: &Writes,
        id: &str,
        previous: Option<&StoredStory>,
    ) -> Result<Option<(u32, Option<VersionRecord>)>, StoreError> {
        if let Some((_, version)) = writes.versions.iter().rev().find(|(v, _)| v == id) {
            return Ok(Some((version.number, Some(version.clone()))));
        }
        let txn = self.db()?.begin_read().map_err(backend("begin read"))?;
        let table = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
        let latest = table
            .range((id, 0)..=(id, u32::MAX))
            .map_err(backend("read versions"))?
            .next_back()
            .transpose()
            .map_err(backend("read version"))?;
        if let Some((key, value)) = latest {
            let (_, number) = key.value();
            return match decode(
                value.value(),
                format_args!("version {number} of story {id:?}"),
            ) {
                Ok(version) => Ok(Some((number, Some(version)))),
                Err(StoreError::Damaged(record)) => {
                    tracing::warn!(%record, "damaged version: the next one is numbered after it");
                    Ok(Some((number, None)))
                }
                Err(other) => Err(other),
            };
        }
        Ok(previous.map(|p| (1, Some(VersionRecord::only(p)))))
    }

    /// Every stored version of `id`, oldest first.
    fn read_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend("begin read"))?;
        let table = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
        table
            .range((id, 0)..=(id, u32::MAX))
            .map_err(backend("read versions"))?
            .map(|row| {
                let (key, value) = row.map_err(backend("read version"))?;
                let (_, number) = key.value();
                decode(
                    value.value(),
                    format_args!("version {number} of story {id:?}"),
                )
            })
            .collect()
    }

    /// A stored story's versions, oldest first: those kept, else the one
    /// its record holds (a story stored before versions were kept).
    fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let versions = self.read_versions(id)?;
        if !versions.is_empty() {
            return Ok(versions);
        }
        let record = self
            .read_story(id)?
            .ok_or_else(|| StoreError::StoryNotFound(id.to_owned()))?;
        Ok(vec![VersionRecord::only(&record.stored())])
    }

    /// A stored story's text, as this batch left it (the version a story
    /// follows may be earlier in the batch, not yet committed) or as the
    /// file holds it. `None` when it is not there or does not read (a
    /// damaged record: the answer then says nothing of changes).
    fn stored_story(&self, writes: &Writes, id: &str) -> Option<Story> {
        match writes
            .stories
            .iter()
            .rev()
            .find(|(written, _)| written == id)
        {
            Some((_, record)) => record.as_ref().map(|r| r.story.clone()),
            None => self.read_story(id).ok().flatten().map(|r| r.story),
        }
    }

    /// Commits `writes` plus the index's cluster changes and counters.
    fn commit(&mut self, mut writes: Writes) -> Result<(), StoreError> {
        writes.changes = self.index.take_changes();
        let counters = self.index.counters();
        if writes.stories.is_empty()
            && writes.versions.is_empty()
            && writes.versions_dropped.is_empty()
            && writes.changes.changed.is_empty()
            && writes.changes.aliases.is_none()
            && writes.changes.removed.is_empty()
            && counters == self.committed_counters
        {
            // Nothing changed (a re-sent story): nothing to make durable.
            return Ok(());
        }
        let result = write(self.db()?, &writes, counters);
        if result.is_ok() {
            self.commits += 1;
            self.committed_counters = counters;
            self.writes.send_if_modified(|state| {
                let was_refusing = *state != WriteState::Accepting;
                if was_refusing {
                    tracing::info!("the data directory has room again: writes resume");
                }
                *state = WriteState::Accepting;
                was_refusing
            });
        }
        if let Err(detail @ StoreError::Full { .. }) = &result {
            self.writes.send_if_modified(|state| {
                let was_accepting = *state == WriteState::Accepting;
                if was_accepting {
                    tracing::warn!(cause = %detail, "the data directory is full: refusing writes until space is freed");
                }
                *state = WriteState::Refusing(DISK_FULL.into());
                was_accepting
            });
        }
        if let Err(err) = &result {
            // The index already holds what the failed transaction would
            // have written: go back to what the file holds, as a restart
            // would, so one failed write (a record that cannot be encoded,
            // a full disk) never wedges the store. Only when the file
            // cannot be read back is the store refused until a restart.
            tracing::warn!(error = %chain(err), "commit failed; reopening the file and rebuilding the index");
            self.failed = Some(err.to_string());
            self.db = None;
            if let Err(recovery) = self.recover() {
                tracing::warn!(error = %chain(&recovery), "the store will try again on the next request");
                if !matches!(recovery, StoreError::Full { .. }) {
                    self.writes
                        .send_replace(WriteState::Refusing(HEALING.into()));
                }
            }
        }
        result
    }

    /// The stored records of `ids`, in one read transaction.
    fn read_stories(&self, ids: &[&str]) -> Result<Vec<Option<StoryRecord>>, StoreError> {
        let txn = self.db()?.begin_read().map_err(backend("begin read"))?;
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

    /// A cluster's detail; its timeline too when `with_timeline`.
    fn detail(&self, view: ClusterView, with_timeline: bool) -> Result<ClusterDetail, StoreError> {
        let ids: Vec<&str> = std::iter::once(view.canonical.as_str())
            .chain(view.members.iter().map(|m| m.meta.id.as_str()))
            .collect();
        let mut records = self.read_stories(&ids)?.into_iter();
        let canonical = records
            .next()
            .flatten()
            .ok_or_else(|| {
                StoreError::Inconsistent(format!(
                    "canonical story {:?} has no text",
                    view.canonical
                ))
            })?
            .stored();
        let members: Vec<Option<StoryRecord>> = records.collect();
        let timeline = if with_timeline {
            let mut histories = Vec::with_capacity(members.len());
            for record in members.iter().flatten() {
                let id = &record.story.id;
                let mut kept = match self.read_versions(id) {
                    Ok(kept) => kept,
                    // A damaged history leaves the timeline the current
                    // version; ListStoryVersions reports it as DATA_LOSS.
                    Err(StoreError::Damaged(record)) => {
                        tracing::warn!(%record, "damaged version left out of a timeline");
                        Vec::new()
                    }
                    Err(other) => return Err(other),
                };
                if kept.is_empty() {
                    kept.push(VersionRecord::only(&record.clone().stored()));
                }
                for version in &mut kept {
                    // The timeline says what changed; the old texts are
                    // for one story's own history.
                    version.superseded_body = None;
                }
                histories.push((record.story.id.clone(), kept));
            }
            versions::timeline(histories)
        } else {
            Vec::new()
        };
        let titles = members
            .into_iter()
            .map(|r| r.map(|r| r.story.title).unwrap_or_default())
            .collect();
        let learned_furniture =
            furniture::learned_lines(&canonical.story.text(), self.index.learned_furniture());
        Ok(ClusterDetail {
            view,
            canonical,
            titles,
            learned_furniture,
            timeline,
        })
    }

    /// Removes a story, its history with it.
    fn delete(&mut self, id: String, now: SystemTime) -> Result<(), StoreError> {
        self.writable()?;
        let indexed = self.index.remove(&id, now).is_some();
        // An evicted story kept readable is in the file only.
        if !indexed && self.read_story(&id)?.is_none() {
            return Err(StoreError::StoryNotFound(id));
        }
        self.commit(Writes {
            stories: vec![(id.clone(), None)],
            versions_dropped: vec![id],
            ..Writes::default()
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
        self.writable()?;
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
            // An evicted story kept readable keeps its history too.
            if kept.is_none() {
                writes.versions_dropped.push(id.clone());
            }
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
        let mut versions = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
        for id in &writes.versions_dropped {
            versions
                .retain_in((id.as_str(), 0)..=(id.as_str(), u32::MAX), |_, _| false)
                .map_err(backend("remove versions"))?;
        }
        for (id, version) in &writes.versions {
            versions
                .insert((id.as_str(), version.number), encode(version)?.as_slice())
                .map_err(backend("write version"))?;
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
        if let Some(aliases) = &writes.changes.aliases {
            meta.insert(ALIASES_KEY, encode(aliases)?.as_slice())
                .map_err(backend("write cluster aliases"))?;
        }
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
            .ok_or_else(|| StoreError::Inconsistent("an ingest of one story reported none".into()))
    }

    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || ingest_locked(&state, batch, now))
            .await
            .map_err(StoreError::Task)?
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
            Ok(state.index.place(
                &prepared.fingerprint_for(&state.index),
                prepared.story.published_at,
                exclude,
            ))
        })
        .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| {
            let mut stored = state
                .read_story(&id)?
                .map(StoryRecord::stored)
                .ok_or_else(|| StoreError::StoryNotFound(id.clone()))?;
            // A story folded in when two clusters merged keeps its first
            // cluster in its own record; the index knows where it is now.
            if let Some(cluster) = state.index.story_cluster(&id) {
                stored.cluster = cluster;
            }
            Ok(stored)
        })
        .await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| state.delete(id, now)).await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.with_state(move |state| {
            let view = state
                .index
                .cluster(id)
                .ok_or(StoreError::ClusterNotFound(id))?;
            state.detail(view, true)
        })
        .await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| state.story_versions(&id))
            .await
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
        .await
    }

    async fn index_stats(&self) -> IndexStats {
        self.with_state(|state| Ok(IndexStats::of(&state.index)))
            .await
            .unwrap_or_default()
    }

    fn write_state(&self) -> watch::Receiver<WriteState> {
        self.writes.subscribe()
    }

    async fn recheck_writes(&self) -> WriteState {
        let healing = match &*self.writes.borrow() {
            WriteState::Accepting => return WriteState::Accepting,
            WriteState::Refusing(reason) => reason == HEALING,
        };
        if healing {
            // Heals as the next request would: reopen, rebuild.
            let healed = self.with_state(|_| Ok(())).await;
            if let Err(err) = healed {
                tracing::debug!(error = %chain(&err), "the store has not healed yet");
            }
            return self.writes.borrow().clone();
        }
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_owned();
        let room = tokio::task::spawn_blocking(move || has_room(&dir))
            .await
            .unwrap_or(false);
        if room {
            self.writes.send_if_modified(|state| {
                let was_refusing = *state != WriteState::Accepting;
                *state = WriteState::Accepting;
                was_refusing
            });
            tracing::info!("the data directory has room again: writes resume");
        }
        self.writes.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FULL: &str = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough, officials said. \
        Moscow has massed troops near Ukraine and demands that NATO rule out further expansion to the east. \
        Washington and its allies have called the demands non-starters and threatened sanctions if Russia attacks. \
        The Geneva meeting was the first of three rounds of talks this week, with NATO and OSCE meetings to follow.";

    fn story(id: &str, body: &str, hour: u64) -> PreparedStory {
        PreparedStory::new(Story {
            id: id.into(),
            body: body.into(),
            published_at: Some(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + hour * 3600),
            ),
            ..Story::default()
        })
    }

    /// Rewrites every story record of the file in `dir` in the version 2
    /// layout and marks the file version 2, as an older copydesk left it.
    fn downgrade_to_v2(dir: &Path) {
        let db = Database::create(dir.join(DATABASE_FILE)).expect("open");
        let Records {
            stories: records,
            clusters,
            counters,
            ..
        } = read_all(&db).expect("read");
        let txn = db.begin_write().expect("begin");
        // Versions before 5 kept no history.
        txn.delete_table(VERSIONS).expect("drop versions");
        {
            // Versions 2 and 3 kept values without checksums.
            let mut table = txn.open_table(CLUSTERS).expect("clusters");
            for cluster in clusters {
                table
                    .insert(
                        cluster.id,
                        encode_plain(&cluster.to_row()).expect("encode").as_slice(),
                    )
                    .expect("insert");
            }
            let mut meta = txn.open_table(META).expect("meta");
            if let Some(counters) = counters {
                meta.insert(
                    COUNTERS_KEY,
                    encode_plain(&counters.to_row()).expect("encode").as_slice(),
                )
                .expect("counters");
            }
        }
        {
            let mut stories = txn.open_table(STORIES).expect("stories");
            for record in records {
                let old = v2::StoryRecord {
                    placement: v2::PlacementRecord {
                        sequence: record.placement.sequence,
                        cluster: record.placement.cluster,
                        duplicate_of: record.placement.duplicate_of.map(|(id, e)| {
                            let figures = v2::Figures {
                                jaccard: e.jaccard,
                                containment: e.containment,
                                lede_overlap: e.lede_overlap,
                                title_similarity: e.title_similarity,
                                word_overlap: e.word_overlap,
                            };
                            (id, figures)
                        }),
                    },
                    ingested_at: record.ingested_at,
                    evicted: record.evicted,
                    story: (&record.story).into(),
                };
                let key = record.story.id.clone();
                stories
                    .insert(key.as_str(), encode_plain(&old).expect("encode").as_slice())
                    .expect("insert");
            }
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert(SCHEMA_KEY, v2::VERSION.to_le_bytes().as_slice())
                .expect("schema");
        }
        txn.commit().expect("commit");
    }

    /// A new store in a temporary directory (kept while the first lives).
    fn temp_store() -> (tempfile::TempDir, DurableStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, _) = DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("open");
        (dir, store)
    }

    #[tokio::test]
    async fn a_story_sent_again_unchanged_writes_nothing() {
        let (_dir, store) = temp_store();
        let first = store
            .ingest(story("full", FULL, 0), SystemTime::now())
            .await
            .expect("ingest");
        let commits = store.commits();
        assert_eq!(commits, 1);
        let again = store
            .ingest(story("full", FULL, 0), SystemTime::now())
            .await
            .expect("re-send");
        assert_eq!(again.outcome, IngestOutcome::Unchanged);
        assert_eq!(again.cluster, first.cluster);
        assert_eq!(store.commits(), commits, "nothing changed, nothing written");
        // A new version is written as before.
        store
            .ingest(story("full", &FULL[..200], 0), SystemTime::now())
            .await
            .expect("new text");
        assert_eq!(store.commits(), commits + 1);
    }

    #[tokio::test]
    async fn after_a_restart_a_page_of_photos_still_finds_its_story_by_headline() {
        let headline = "Russia and the United States end Geneva talks without a breakthrough";
        let titled = |id: &str, body: &str| {
            PreparedStory::new(Story {
                id: id.into(),
                title: headline.into(),
                body: body.into(),
                ..Story::default()
            })
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let open = || {
            DurableStore::open(
                dir.path(),
                IndexConfig::default(),
                DurableOptions::default(),
            )
            .expect("open")
            .0
        };
        let store = open();
        let talks = store
            .ingest(titled("talks", FULL), SystemTime::now())
            .await
            .expect("ingest");
        drop(store);
        let store = open();
        let photos = "Credit: The Associated Press\n\nDelegates leave the talks in Geneva, Switzerland, Monday, Jan. 10, 2022. (AP Photo/Jane Doe)";
        let page = store
            .ingest(titled("photos", photos), SystemTime::now())
            .await
            .expect("ingest");
        assert_eq!(page.cluster, talks.cluster, "{:?}", page.matches);
    }

    #[tokio::test]
    async fn a_failed_commit_rolls_the_index_back_and_the_store_keeps_serving() {
        let (dir, store) = temp_store();
        store
            .ingest(story("full", FULL, 0), SystemTime::now())
            .await
            .expect("ingest");
        // A time the record layout cannot hold (the gRPC edge refuses it;
        // a library caller can still send it): this commit fails.
        let before_1970 = PreparedStory::new(Story {
            id: "moon".into(),
            body: "Armstrong walked on the Moon.".into(),
            published_at: SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(86_400)),
            ..Story::default()
        });
        store
            .ingest(before_1970, SystemTime::now())
            .await
            .expect_err("the record cannot be written");

        // What the file holds is served; what failed is not there.
        assert_eq!(
            store
                .get_story("full")
                .await
                .expect("still served")
                .story
                .body,
            FULL
        );
        assert!(matches!(
            store.get_story("moon").await,
            Err(StoreError::StoryNotFound(_))
        ));
        let trimmed = &FULL[..FULL.find(" Washington").expect("sentence")];
        let report = store
            .ingest(story("trimmed", trimmed, 1), SystemTime::now())
            .await
            .expect("writes go on");
        assert_eq!(
            report.duplicate_of.map(|(id, _)| id).as_deref(),
            Some("full")
        );
        drop(store);
        let (_, reopened) = DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("reopen");
        assert_eq!(reopened.stories, 2);
    }

    /// A commit fails and the file cannot be reopened (here: something
    /// else stands at its path): the store refuses work, says so in its
    /// write state (health reports NOT_SERVING), and heals by itself once
    /// the file is back, on the next check, with nothing lost.
    #[tokio::test]
    async fn a_store_that_cannot_reopen_refuses_until_it_heals() {
        let (dir, store) = temp_store();
        store
            .ingest(story("full", FULL, 0), SystemTime::now())
            .await
            .expect("ingest");
        let file = dir.path().join(DATABASE_FILE);
        let aside = dir.path().join("aside.redb");
        std::fs::rename(&file, &aside).expect("move the file aside");
        let before_1970 = PreparedStory::new(Story {
            id: "moon".into(),
            body: "Armstrong walked on the Moon.".into(),
            published_at: SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(86_400)),
            ..Story::default()
        });
        let failed = store
            .ingest(before_1970, SystemTime::now())
            .await
            .expect_err("the record cannot be written");
        assert!(matches!(failed, StoreError::Engine { .. }), "{failed:?}");
        assert_eq!(
            *store.write_state().borrow(),
            WriteState::Refusing(HEALING.into())
        );
        // Gone: no empty store is made in its place.
        let refused = store.get_story("full").await.expect_err("refused");
        assert!(
            matches!(refused, StoreError::Refusing { .. }),
            "{refused:?}"
        );
        assert!(chain(&refused).contains("is gone"), "{refused}");
        assert!(!file.exists());
        // Something else in its place is no store either.
        std::fs::write(&file, b"not a store").expect("write a stranger");
        let refused = store.get_story("full").await.expect_err("refused");
        assert!(
            chain(&refused).contains("not a copydesk store"),
            "{refused}"
        );
        assert_eq!(
            store.recheck_writes().await,
            WriteState::Refusing(HEALING.into())
        );

        std::fs::rename(&aside, &file).expect("put the file back");
        assert_eq!(store.recheck_writes().await, WriteState::Accepting);
        assert_eq!(
            store.get_story("full").await.expect("healed").story.body,
            FULL
        );
    }

    #[test]
    fn a_version_2_file_is_upgraded_in_place_with_nothing_lost() {
        let dir = tempfile::tempdir().expect("temp dir");
        let trimmed = &FULL[..FULL.find(" Washington").expect("sentence")];
        {
            let (store, _) = DurableStore::open(
                dir.path(),
                IndexConfig::default(),
                DurableOptions::default(),
            )
            .expect("open");
            let reports = store
                .ingest_blocking(
                    vec![story("full", FULL, 0), story("trimmed", trimmed, 3)],
                    SystemTime::now(),
                )
                .expect("ingest");
            assert_eq!(reports[1].cluster, reports[0].cluster, "{reports:?}");
        }
        let before = {
            let db = Database::create(dir.path().join(DATABASE_FILE)).expect("open");
            read_all(&db).expect("read").stories
        };
        downgrade_to_v2(dir.path());

        let (store, report) = DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("a version 2 file opens");
        assert_eq!((report.stories, report.clusters), (2, 1));
        drop(store);
        let db = Database::create(dir.path().join(DATABASE_FILE)).expect("open");
        let after = read_all(&db).expect("read").stories;
        assert_eq!(after.len(), before.len());
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(old.story, new.story);
            assert_eq!(old.placement.cluster, new.placement.cluster);
            assert_eq!(old.placement.sequence, new.placement.sequence);
        }
        let (source, evidence) = after[1].placement.duplicate_of.clone().expect("folded");
        assert_eq!(source, "full");
        assert_eq!(evidence.hours_apart, Some(3.0));
        assert_eq!(
            Some((source, evidence)),
            before[1].placement.duplicate_of.clone(),
            "the figures survive the round trip"
        );
        // And the file is current now: opening again does no upgrade.
        check_schema(&db, dir.path()).expect("current version");
        drop(db);

        // A story stored before versions were kept has one, from its
        // record; a correction makes it two, the first text kept.
        let (store, _) = DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("open");
        let state = lock(&store.state);
        let only = state.story_versions("full").expect("versions");
        assert_eq!(only.len(), 1);
        assert_eq!(
            (only[0].number, only[0].cluster),
            (1, reports_cluster(&state))
        );
        drop(state);
        let corrected = FULL.replace("Monday", "Tuesday");
        store
            .ingest_blocking(vec![story("full", &corrected, 4)], SystemTime::now())
            .expect("correct");
        let history = lock(&store.state).story_versions("full").expect("versions");
        let numbers: Vec<u32> = history.iter().map(|v| v.number).collect();
        assert_eq!(numbers, [1, 2]);
        assert_eq!(history[0].superseded_body.as_deref(), Some(FULL));
        assert!(history[1].changes.is_some());
    }

    fn reports_cluster(state: &State) -> ClusterId {
        state.index.story_cluster("full").expect("indexed")
    }
}
