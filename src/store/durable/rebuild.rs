//! Rebuilding the matching index from the file at open (and after a failed
//! commit): every live story fingerprinted again on every core, clusters
//! and counters as stored, damaged records named and left out.

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    ALIASES_KEY, CLUSTERS, COUNTERS_KEY, META, STORIES, StoreError, StoryRecord, backend, decode,
    integrity,
};
use crate::dedup::{ClusterId, ClusterRecord, Index, IndexConfig, IndexCounters};
use crate::parallel::{available_threads, map_in_order};

/// What the file holds, as the index is rebuilt from it.
pub(super) struct Records {
    /// Every live (not evicted) story that reads back whole.
    pub(super) stories: Vec<StoryRecord>,
    /// Every cluster that reads back whole.
    pub(super) clusters: Vec<ClusterRecord>,
    /// The counters, or `None` when they are damaged.
    pub(super) counters: Option<IndexCounters>,
    /// Folded cluster ids (none when the record is damaged).
    pub(super) aliases: Vec<(ClusterId, ClusterId)>,
    /// The damaged records, named ("story \"x\" fails its checksum").
    pub(super) damaged: Vec<String>,
}

/// The matching index of what the file holds: every live story
/// fingerprinted again, clusters and counters as stored. Damaged records
/// are left out (and named in the answer); the clusters that named them
/// are mended around them (see [`integrity::mend`]).
pub(super) fn rebuild_index(
    db: &Database,
    config: IndexConfig,
) -> Result<(Index, Vec<String>), StoreError> {
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
    // Fingerprints on every core: the costly part of a rebuild.
    let stories = map_in_order(records, available_threads(), StoryRecord::into_indexed);
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
pub(super) fn visit_records(
    db: &Database,
    mut story: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
    mut cluster: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
    counters: impl FnOnce(&[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    each_row(&txn, STORIES, &mut story)?;
    each_row(&txn, CLUSTERS, &mut cluster)?;
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

/// Calls `visit` with the key and stored bytes of every row of one table.
fn each_row<K: redb::Key + 'static>(
    txn: &ReadTransaction,
    definition: TableDefinition<K, &'static [u8]>,
    mut visit: impl FnMut(K::SelfType<'_>, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let table = txn
        .open_table(definition)
        .map_err(backend("open a table"))?;
    for row in table.iter().map_err(backend("read a table"))? {
        let (key, value) = row.map_err(backend("read a row"))?;
        visit(key.value(), value.value())?;
    }
    Ok(())
}

/// Every live (not evicted) story, every cluster, and the counters, with
/// the records that are damaged named rather than read.
pub(super) fn read_all(db: &Database) -> Result<Records, StoreError> {
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
pub(super) fn read_meta(db: &Database, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let meta = txn.open_table(META).map_err(backend("open meta"))?;
    Ok(meta
        .get(key)
        .map_err(backend("read meta"))?
        .map(|value| value.value().to_vec()))
}
