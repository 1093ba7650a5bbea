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

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

mod file_records;
mod integrity;
mod rebuild;
mod records;
mod v2;
mod v3;

use file_records::{FileRecords, Writes};
use rebuild::{read_meta, rebuild_index};
pub(in crate::store) use records::OnDisk;

pub use integrity::{CheckReport, check_store};

use super::engine;
use super::versions::VersionRecord;
use super::{
    ClusterDetail, ClusterPage, IndexStats, OpenError, Store, StoreError, WriteState, chain,
};
use crate::dedup::furniture::LearnedFurniture;
use crate::dedup::{
    ClusterId, Fingerprint, Index, IndexConfig, IndexCounters, IngestReport, Placement,
    PlacementRecord, StoryMeta, StoryPlacement,
};
use crate::parallel::available_threads;
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
pub(in crate::store) struct StoryRecord {
    pub(in crate::store) story: Story,
    pub(in crate::store) ingested_at: SystemTime,
    pub(in crate::store) placement: PlacementRecord,
    /// Evicted by retention: readable, no longer matched or clustered.
    pub(in crate::store) evicted: bool,
}

impl StoryRecord {
    /// What the matching index is rebuilt from: the story's metadata, its
    /// fingerprint made again from the stored text (CPU work: callers run
    /// it on every core), and where it was placed.
    pub(in crate::store) fn into_indexed(self) -> (StoryMeta, Fingerprint, PlacementRecord) {
        let StoryRecord {
            story,
            ingested_at,
            placement,
            evicted: _,
        } = self;
        let fingerprint = Fingerprint::of(&story.title, &story.text());
        (story.meta(ingested_at), fingerprint, placement)
    }

    pub(in crate::store) fn stored(self) -> StoredStory {
        StoredStory {
            story: self.story,
            cluster: self.placement.cluster,
            ingested_at: self.ingested_at,
        }
    }
}

/// How the durable store treats stories that retention evicts, and how
/// many threads one batch's work may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurableOptions {
    /// Keep evicted stories readable through GetStory (they leave the
    /// matching index and their clusters either way).
    pub keep_evicted: bool,
    /// Threads that work out what a batch's new versions change (`None`:
    /// every core).
    pub threads: Option<NonZeroUsize>,
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
    db: Option<Arc<Database>>,
    /// The same file for reads that need no index (a story, its versions):
    /// they take a read transaction of their own and never wait for this
    /// state's lock or a commit's fsync.
    shared: SharedFile,
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
    /// The open file, for reads that need no index.
    shared: SharedFile,
    path: PathBuf,
    writes: Arc<watch::Sender<WriteState>>,
}

/// The open file, shared by the state (which replaces it when it heals)
/// and by reads that take their own read transaction. The lock is held
/// only to clone or swap the handle, never across a read or a commit.
#[derive(Debug, Clone, Default)]
struct SharedFile(Arc<Mutex<Option<Arc<Database>>>>);

impl SharedFile {
    fn set(&self, db: Option<Arc<Database>>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = db;
    }

    /// The open file; refused between a failed commit and the reopen that
    /// heals it.
    fn get(&self) -> Result<Arc<Database>, StoreError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| StoreError::refusing("the store file is closed after a failed commit"))
    }
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
pub(in crate::store) fn encode<T: OnDisk>(value: &T) -> Result<Vec<u8>, StoreError> {
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
pub(in crate::store) fn decode<T: OnDisk>(
    bytes: &[u8],
    what: impl std::fmt::Display,
) -> Result<T, StoreError> {
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
        let db = Arc::new(db);
        let shared = SharedFile::default();
        shared.set(Some(Arc::clone(&db)));
        let store = DurableStore {
            shared: shared.clone(),
            writes: Arc::clone(&writes),
            state: Arc::new(Mutex::new(State {
                committed_counters: index.counters(),
                commits: 0,
                index,
                config,
                path: path.clone(),
                db: Some(Arc::clone(&db)),
                shared: shared.clone(),
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

    /// Runs `work` with the furniture the index has learned (the offline
    /// CLI prepares a round of stories against it), holding the lock.
    pub fn with_learned_furniture<T>(&self, work: impl FnOnce(&LearnedFurniture) -> T) -> T {
        work(lock(&self.state).index.learned_furniture())
    }

    /// Runs `read` on the open file in a read transaction of its own, on
    /// the blocking pool, without the state's lock. While the file is
    /// closed after a failed commit, heals first as every call does.
    async fn read_committed<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = match self.shared.get() {
            Ok(db) => db,
            Err(_) => {
                self.with_state(|_| Ok(())).await?;
                self.shared.get()?
            }
        };
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .map_err(StoreError::Task)?
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
        state.delete(id, now)
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
            self.set_file(Some(Arc::new(db)));
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
    fn db(&self) -> Result<&Arc<Database>, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::refusing("the store file is closed after a failed commit"))
    }

    /// The open file, shared (reads take their own transactions on it).
    fn file(&self) -> Result<Arc<Database>, StoreError> {
        self.db().map(Arc::clone)
    }

    /// Opens or closes the file for this state and for the reads that go
    /// around it.
    fn set_file(&mut self, db: Option<Arc<Database>>) {
        self.shared.set(db.clone());
        self.db = db;
    }

    /// Runs one unit of work on the index and the file's records, then
    /// commits what it wrote. Work that fails after the index moved (a
    /// record that would not read) goes back to what the file holds, as a
    /// failed commit does; a story not found changed nothing.
    fn unit<T>(
        &mut self,
        work: impl FnOnce(&mut Index, &mut FileRecords<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writable()?;
        let db = self.file()?;
        let mut records = FileRecords::new(&db, self.options.keep_evicted);
        let done = work(&mut self.index, &mut records);
        let writes = records.writes;
        // The handle goes before a commit that may fail: healing reopens
        // the file, which redb refuses while another handle is open.
        drop(db);
        match done {
            Ok(answer) => {
                self.commit(writes)?;
                Ok(answer)
            }
            Err(err @ StoreError::StoryNotFound(_)) => Err(err),
            Err(err) => {
                self.roll_back(&err);
                Err(err)
            }
        }
    }

    /// Ingests and commits a batch: each new text is a new version of its
    /// story, kept with what it changes against the version it follows.
    fn ingest_batch(
        &mut self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let threads = self.options.threads.unwrap_or_else(available_threads);
        self.unit(|index, records| engine::ingest_group(index, records, batch, now, threads))
    }

    /// Commits `writes` plus the index's cluster changes and counters.
    fn commit(&mut self, mut writes: Writes) -> Result<(), StoreError> {
        writes.changes = self.index.take_changes();
        let counters = self.index.counters();
        if writes.holds_no_records()
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
            self.roll_back(err);
        }
        result
    }

    /// The index already holds what a failed unit of work would have
    /// written: go back to what the file holds, as a restart would, so
    /// one failed write (a record that cannot be encoded, a full disk)
    /// never wedges the store. Only while the file cannot be read back is
    /// the store refused (health NOT_SERVING), and it tries again.
    fn roll_back(&mut self, err: &StoreError) {
        tracing::warn!(error = %chain(err), "a write failed; reopening the file and rebuilding the index");
        self.failed = Some(err.to_string());
        self.set_file(None);
        if let Err(recovery) = self.recover() {
            tracing::warn!(error = %chain(&recovery), "the store will try again on the next request");
            if !matches!(recovery, StoreError::Full { .. }) {
                self.writes
                    .send_replace(WriteState::Refusing(HEALING.into()));
            }
        }
    }

    /// Removes a story, its history with it.
    fn delete(&mut self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        self.unit(|index, records| engine::delete(index, records, id, now))
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
        self.unit(|index, records| engine::evict(index, records, &ids, now))
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
        self.with_state(move |state| Ok(engine::find_duplicates(&state.index, &prepared)))
            .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        // Committed state, in a read transaction of its own: never behind
        // an ingest's commit.
        let id = id.to_owned();
        self.read_committed(move |db| file_records::committed_story(db, &id))
            .await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_state(move |state| state.delete(&id, now)).await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.with_state(move |state| {
            let db = state.file()?;
            engine::get_cluster(&state.index, &FileRecords::new(&db, false), id)
        })
        .await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        // As a story: committed state, never behind a commit.
        let id = id.to_owned();
        self.read_committed(move |db| engine::story_versions(&FileRecords::new(db, false), &id))
            .await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.with_state(move |state| {
            let db = state.file()?;
            engine::list_clusters(&state.index, &FileRecords::new(&db, false), before, limit)
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
mod tests;
