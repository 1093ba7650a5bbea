//! What the durable store does with a damaged file: refuse a file that is
//! not a copydesk store (empty, or another format) instead of starting
//! over in it, turn a panic inside redb into an error, mend the clusters
//! around damaged records so the rest of the store serves, and check a
//! store offline, moving damaged records aside (`copydesk store check`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::rebuild::{Records, read_all, visit_records};
use super::records::{AliasesRow, OnDisk};
use super::{
    ALIASES_KEY, CLUSTERS, COUNTERS_KEY, DATABASE_FILE, META, STORIES, StoryRecord, VERSIONS,
    backend, encode, verified,
};
use crate::dedup::{ClusterRecord, IndexCounters};
use crate::store::VersionRecord;
use crate::store::{OpenError, StoreError};

/// The first bytes of every redb file (its format's magic number).
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Damaged records moved aside, by "stories/ID", "clusters/N",
/// "versions/ID/N" or "meta/KEY", with their bytes as they were.
const DAMAGED: TableDefinition<&str, &[u8]> = TableDefinition::new("damaged");

/// Why a store file did not open.
#[derive(Debug)]
pub(super) enum OpenFailure {
    /// The file is there but is not a copydesk store: says what it is.
    NotAStore(String),
    /// redb could not open it.
    Redb(redb::DatabaseError),
}

impl OpenFailure {
    /// The open error for the file at `path`: another process holding it
    /// is [`OpenError::Locked`].
    pub(super) fn into_open_error(self, path: &Path) -> OpenError {
        let path = path.to_owned();
        match self {
            OpenFailure::NotAStore(reason) => OpenError::NotAStore { path, reason },
            OpenFailure::Redb(redb::DatabaseError::DatabaseAlreadyOpen) => {
                OpenError::Locked { path }
            }
            OpenFailure::Redb(e) => OpenError::Engine {
                path,
                source: Box::new(e),
            },
        }
    }
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::NotAStore(reason) => f.write_str(reason),
            OpenFailure::Redb(e) => write!(f, "{e}"),
        }
    }
}

/// Opens the store file at `path`, creating it when there is none. A file
/// that is there but empty or not a redb file is refused: starting an
/// empty store over it would hide whatever happened to the data.
pub(super) fn open_database(path: &Path) -> Result<Database, OpenFailure> {
    match std::fs::File::open(path) {
        Ok(mut file) => {
            let mut head = [0u8; REDB_MAGIC.len()];
            let mut read = 0;
            while read < head.len() {
                match file.read(&mut head[read..]) {
                    Ok(0) => break,
                    Ok(n) => read += n,
                    Err(e) => return Err(OpenFailure::NotAStore(format!("cannot read it: {e}"))),
                }
            }
            if read == 0 {
                return Err(OpenFailure::NotAStore(
                    "the file is empty (0 bytes), not a copydesk store: move it away to start \
                     an empty store, or restore it from a backup"
                        .into(),
                ));
            }
            if head[..read] != REDB_MAGIC[..read] || read < head.len() {
                return Err(OpenFailure::NotAStore(
                    "the file is not a copydesk store (not a redb file): move it away, or \
                     point --data-dir elsewhere"
                        .into(),
                ));
            }
            Database::open(path).map_err(OpenFailure::Redb)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Database::create(path).map_err(OpenFailure::Redb)
        }
        Err(e) => Err(OpenFailure::NotAStore(format!("cannot read it: {e}"))),
    }
}

/// Runs `work`, catching a panic (redb panics on some damaged files) as
/// `Err(Err(message))`; `work`'s own error is `Err(Ok(error))`.
pub(super) fn without_panic<T, E>(
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, Result<E, String>> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Ok(err)),
        Err(panic) => Err(Err(panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()))),
    }
}

/// Clusters and counters consistent with the stories that read back: a
/// damaged story leaves the clusters that listed it (a cluster left empty
/// goes, one that lost its canonical story names its first member), a
/// story whose cluster record is damaged gets a cluster of its own kind
/// again (the stories that were placed in it, in ingest order), and
/// damaged counters start after the highest number in use.
pub(super) fn mend(
    stories: &[StoryRecord],
    clusters: Vec<ClusterRecord>,
    counters: Option<IndexCounters>,
) -> (Vec<ClusterRecord>, IndexCounters) {
    let live: BTreeSet<&str> = stories.iter().map(|r| r.story.id.as_str()).collect();
    let mut mended: Vec<ClusterRecord> = Vec::with_capacity(clusters.len());
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for mut cluster in clusters {
        cluster.members.retain(|m| live.contains(m.as_str()));
        if cluster.members.is_empty() {
            continue;
        }
        if !cluster.members.contains(&cluster.canonical) {
            cluster.canonical = cluster.members[0].clone();
        }
        listed.extend(cluster.members.iter().cloned());
        mended.push(cluster);
    }
    // Stories no cluster lists: their cluster record was damaged.
    let mut orphans: BTreeMap<u64, Vec<&StoryRecord>> = BTreeMap::new();
    for record in stories {
        if !listed.contains(&record.story.id) {
            orphans
                .entry(record.placement.cluster)
                .or_default()
                .push(record);
        }
    }
    let mut used: BTreeSet<u64> = mended.iter().map(|c| c.id).collect();
    let highest_cluster = stories
        .iter()
        .map(|r| r.placement.cluster)
        .chain(used.iter().copied())
        .max()
        .unwrap_or(0);
    let mut next_free = highest_cluster + 1;
    for (id, mut members) in orphans {
        members.sort_by_key(|r| r.placement.sequence);
        let id = if used.contains(&id) {
            next_free += 1;
            next_free - 1
        } else {
            id
        };
        used.insert(id);
        let times = members.iter().map(|r| r.ingested_at);
        let created = times.clone().min().unwrap_or(std::time::UNIX_EPOCH);
        let updated = times.max().unwrap_or(created);
        mended.push(ClusterRecord {
            id,
            canonical: members[0].story.id.clone(),
            members: members.iter().map(|r| r.story.id.clone()).collect(),
            related: Vec::new(),
            created,
            updated,
        });
    }
    for cluster in &mut mended {
        cluster.related.retain(|other| used.contains(other));
    }
    mended.sort_by_key(|c| c.id);
    let in_use = IndexCounters {
        next_cluster: next_free.max(used.iter().max().map_or(1, |id| id + 1)),
        next_sequence: stories
            .iter()
            .map(|r| r.placement.sequence + 1)
            .max()
            .unwrap_or(0),
    };
    let counters = match counters {
        Some(stored) => IndexCounters {
            next_cluster: stored.next_cluster.max(in_use.next_cluster),
            next_sequence: stored.next_sequence.max(in_use.next_sequence),
        },
        None => in_use,
    };
    (mended, counters)
}

/// What `copydesk store check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Records read.
    pub records: usize,
    /// Damaged records, named ("stories/x: fails its checksum").
    pub damaged: Vec<String>,
    /// Whether they were moved aside.
    pub set_aside: bool,
}

/// One damaged record: where it is and what is wrong.
struct Damage {
    /// "stories/ID", "clusters/N", "versions/ID/N" or "meta/KEY".
    name: String,
    /// The key of a version record (its name cannot be parsed back: an id
    /// may hold no `/`, but be safe).
    version_key: Option<(String, u32)>,
    problem: String,
    bytes: Vec<u8>,
}

/// Checks every record of the store in `dir` against its checksum and
/// decoding. With `set_aside`, moves the damaged ones into a `damaged`
/// table (their bytes kept for whoever wants to look) and writes the
/// clusters and counters mended around them, in one transaction: the
/// store then opens with nothing damaged in it.
pub fn check_store(dir: &Path, set_aside: bool) -> Result<CheckReport, OpenError> {
    let path = dir.join(DATABASE_FILE);
    if !path.exists() {
        return Err(OpenError::Missing { path });
    }
    let read = |source: StoreError| OpenError::Read {
        path: path.clone(),
        source,
    };
    without_panic(|| {
        let db = open_database(&path).map_err(|e| e.into_open_error(&path))?;
        let (records, damage) = find_damage(&db).map_err(read)?;
        let damaged = damage
            .iter()
            .map(|d| format!("{}: {}", d.name, d.problem))
            .collect();
        if set_aside && !damage.is_empty() {
            move_aside(&db, &damage).map_err(read)?;
        }
        Ok(CheckReport {
            records,
            damaged,
            set_aside: set_aside && !damage.is_empty(),
        })
    })
    .map_err(|panic| match panic {
        Ok(err) => err,
        Err(detail) => OpenError::Damaged {
            path: path.clone(),
            detail,
        },
    })
}

fn find_damage(db: &Database) -> Result<(usize, Vec<Damage>), StoreError> {
    let mut records = 0;
    let mut damage = Vec::new();
    let found = std::cell::RefCell::new((&mut records, &mut damage));
    // Checksum first, then whether the payload decodes as what it is.
    let check = |name: String, bytes: &[u8], decodes: fn(&[u8]) -> Result<(), postcard::Error>| {
        let (records, damage) = &mut *found.borrow_mut();
        **records += 1;
        let problem = match verified(bytes) {
            Ok(payload) => decodes(payload)
                .err()
                .map(|e| format!("does not decode: {e}")),
            Err(problem) => Some(problem.to_owned()),
        };
        if let Some(problem) = problem {
            damage.push(Damage {
                name,
                version_key: None,
                problem,
                bytes: bytes.to_vec(),
            });
        }
        Ok(())
    };
    visit_records(
        db,
        |id, bytes| {
            check(format!("stories/{id}"), bytes, |p| {
                postcard::from_bytes::<<StoryRecord as OnDisk>::Row>(p).map(drop)
            })
        },
        |id, bytes| {
            check(format!("clusters/{id}"), bytes, |p| {
                postcard::from_bytes::<<ClusterRecord as OnDisk>::Row>(p).map(drop)
            })
        },
        |bytes| {
            check(format!("meta/{COUNTERS_KEY}"), bytes, |p| {
                postcard::from_bytes::<<IndexCounters as OnDisk>::Row>(p).map(drop)
            })
        },
    )?;
    if let Some(bytes) = super::read_meta(db, ALIASES_KEY)? {
        check(format!("meta/{ALIASES_KEY}"), &bytes, |p| {
            postcard::from_bytes::<<AliasesRow as OnDisk>::Row>(p).map(drop)
        })?;
    }
    // A story's history is not needed to rebuild the index; it is checked
    // the same way.
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let versions = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
    for row in versions.iter().map_err(backend("read versions"))? {
        let (key, value) = row.map_err(backend("read version"))?;
        let (id, number) = key.value();
        let before = found.borrow().1.len();
        check(format!("versions/{id}/{number}"), value.value(), |p| {
            postcard::from_bytes::<<VersionRecord as OnDisk>::Row>(p).map(drop)
        })?;
        let (_, damage) = &mut *found.borrow_mut();
        if damage.len() > before
            && let Some(last) = damage.last_mut()
        {
            last.version_key = Some((id.to_owned(), number));
        }
    }
    Ok((records, damage))
}

fn move_aside(db: &Database, damage: &[Damage]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(backend("begin"))?;
    {
        let mut aside = txn.open_table(DAMAGED).map_err(backend("open damaged"))?;
        let mut stories = txn.open_table(STORIES).map_err(backend("open stories"))?;
        let mut clusters = txn.open_table(CLUSTERS).map_err(backend("open clusters"))?;
        let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
        let mut versions = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
        for d in damage {
            aside
                .insert(d.name.as_str(), d.bytes.as_slice())
                .map_err(backend("set aside"))?;
            if let Some((id, number)) = &d.version_key {
                versions
                    .remove((id.as_str(), *number))
                    .map_err(backend("remove version"))?;
            } else if let Some(id) = d.name.strip_prefix("stories/") {
                stories.remove(id).map_err(backend("remove story"))?;
            } else if let Some(id) = d.name.strip_prefix("clusters/") {
                if let Ok(id) = id.parse::<u64>() {
                    clusters.remove(id).map_err(backend("remove cluster"))?;
                }
            } else if let Some(key) = d.name.strip_prefix("meta/") {
                meta.remove(key).map_err(backend("remove meta"))?;
            }
        }
    }
    txn.commit().map_err(backend("commit"))?;
    // The clusters mended around what went aside, written back.
    let Records {
        stories,
        clusters,
        counters,
        // Kept as they are: an alias of a cluster that is gone is dropped
        // when the index is rebuilt.
        aliases: _,
        damaged: _,
    } = read_all(db)?;
    let (clusters, counters) = mend(&stories, clusters, counters);
    let txn = db.begin_write().map_err(backend("begin"))?;
    {
        let mut table = txn.open_table(CLUSTERS).map_err(backend("open clusters"))?;
        let stale: Vec<u64> = table
            .iter()
            .map_err(backend("read clusters"))?
            .map(|row| {
                row.map(|(id, _)| id.value())
                    .map_err(backend("read cluster"))
            })
            .collect::<Result<_, _>>()?;
        for id in stale {
            table.remove(id).map_err(backend("remove cluster"))?;
        }
        for cluster in &clusters {
            table
                .insert(cluster.id, encode(cluster)?.as_slice())
                .map_err(backend("write cluster"))?;
        }
        let mut meta = txn.open_table(META).map_err(backend("open meta"))?;
        meta.insert(COUNTERS_KEY, encode(&counters)?.as_slice())
            .map_err(backend("write counters"))?;
    }
    txn.commit().map_err(backend("commit"))
}
