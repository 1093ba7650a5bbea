//! A hash table of slot numbers whose keys live in the slots themselves.
//!
//! The index finds stories by id and by LSH band key. A map from key to
//! slot would store each key twice (once in the map, once in the story);
//! this table stores only the 4-byte slot and asks the caller for a slot's
//! key hash when it grows. Lookups return every slot whose hash matches;
//! the caller checks the real key, which also makes the rare 64-bit hash
//! collision harmless.

use hashbrown::HashTable;

/// Slot numbers by the hash of a key the caller keeps.
#[derive(Debug, Default)]
pub struct SlotTable {
    table: HashTable<u32>,
}

impl SlotTable {
    /// Adds `slot` under `hash`. `hash_of` gives any stored slot's hash
    /// (needed when the table grows). A slot may be added under one hash
    /// once; several slots may share a hash.
    pub fn insert(&mut self, hash: u64, slot: u32, hash_of: impl Fn(u32) -> u64) {
        self.table.insert_unique(hash, slot, |&s| hash_of(s));
    }

    /// Slots stored under `hash`, and perhaps a few others: check the key.
    pub fn candidates(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        self.table.iter_hash(hash).copied()
    }

    /// Removes `slot` stored under `hash`; false if it was not there.
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        match self.table.find_entry(hash, |&s| s == slot) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Number of stored slots.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Heap the table holds: a slot and a control byte per bucket.
    pub fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_share_hashes_and_leave_one_by_one() {
        // Keys: slot n has key n % 3, hashed to itself.
        let hash_of = |s: u32| u64::from(s % 3);
        let mut table = SlotTable::default();
        for slot in 0..100 {
            table.insert(hash_of(slot), slot, hash_of);
        }
        let mut ones: Vec<u32> = table.candidates(1).filter(|&s| hash_of(s) == 1).collect();
        ones.sort_unstable();
        assert_eq!(ones, (0..100).filter(|s| s % 3 == 1).collect::<Vec<_>>());
        assert!(table.remove(1, 4));
        assert!(!table.remove(1, 4));
        assert!(!table.candidates(1).any(|s| s == 4));
        assert_eq!(table.len(), 99);
    }
}
