//! Version 3: the values without checksums.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{CLUSTERS, COUNTERS_KEY, META, STORIES, StoreError, backend};

pub(super) const VERSION: u32 = 3;

/// Puts a checksum in front of every stored value. The values are not
/// decoded: one that is damaged already is found when it is read.
pub(super) fn upgrade(txn: &WriteTransaction) -> Result<(), StoreError> {
    rewrite(txn, STORIES)?;
    rewrite(txn, CLUSTERS)?;
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

/// Puts a checksum in front of every value of one table, keys as they are.
fn rewrite<K: redb::Key + 'static>(
    txn: &WriteTransaction,
    definition: TableDefinition<K, &'static [u8]>,
) -> Result<(), StoreError> {
    let mut table = txn
        .open_table(definition)
        .map_err(backend("open a table"))?;
    let rows: Vec<(Vec<u8>, Vec<u8>)> = table
        .iter()
        .map_err(backend("read a table"))?
        .map(|row| {
            row.map(|(key, value)| {
                let key = K::as_bytes(&key.value()).as_ref().to_vec();
                (key, value.value().to_vec())
            })
            .map_err(backend("read a row"))
        })
        .collect::<Result<_, _>>()?;
    for (key, plain) in rows {
        table
            .insert(K::from_bytes(&key), checksummed(&plain).as_slice())
            .map_err(backend("upgrade a row"))?;
    }
    Ok(())
}

fn checksummed(plain: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(super::CHECKSUM_BYTES + plain.len());
    bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(plain).to_le_bytes());
    bytes.extend_from_slice(plain);
    bytes
}
