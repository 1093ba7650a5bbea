//! Version 3: the values without checksums.

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
