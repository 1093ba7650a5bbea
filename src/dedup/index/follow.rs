//! Following another writer: a store shared by several processes (the
//! PostgreSQL backend) keeps one index per process and brings it up to
//! what the others committed by putting their stories and clusters in as
//! they were decided, never re-deciding them (as [`Index::restore`] does
//! for a whole store). The same calls put back what the database holds of
//! a unit of work that did not commit.
//!
//! Each call leaves the index usable on its own: a story put in before its
//! cluster's record, or a cluster that names a story not put in yet, never
//! makes a slot dangle. The records that come after make it exact.

use smallvec::SmallVec;

use super::entry::{Cluster, Entry, EntryMeta};
use super::matching::headline_key;
use super::{ClusterId, ClusterRecord, Index, IndexCounters, PlacementRecord, StoryMeta};
use crate::dedup::fingerprint::Fingerprint;

/// A band key under which more stories than this are filed is boilerplate
/// (a site's cookie notice, a shared photo caption): a writer does not
/// lock it (see [`Index::version_keys`]).
pub const HOT_KEY_STORIES: usize = 64;

impl Index {
    /// The keys under which `fingerprint` finds the versions it follows:
    /// its LSH band keys and its headline key. Two writers that lock these
    /// before deciding never both miss each other's version of one story.
    /// A band key already holding more than [`HOT_KEY_STORIES`] stories is
    /// left out: every page of a site would otherwise wait on one lock,
    /// and a story that shares nothing with another but boilerplate is no
    /// version of it. Sorted, each once.
    pub fn version_keys(&self, fingerprint: &Fingerprint) -> Vec<u64> {
        let lsh = self.config.lsh;
        let mut keys: Vec<u64> = lsh
            .band_keys(&fingerprint.signature)
            .enumerate()
            .filter(|&(band, key)| {
                self.buckets[band]
                    .candidates(key)
                    .take(HOT_KEY_STORIES + 1)
                    .count()
                    <= HOT_KEY_STORIES
            })
            .map(|(_, key)| key)
            .chain(headline_key(fingerprint))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The keys of a stored story (see [`Index::version_keys`]).
    pub fn story_version_keys(&self, id: &str) -> Option<Vec<u64>> {
        self.entry(id)
            .map(|entry| self.version_keys(&entry.fingerprint))
    }

    /// Puts a story in as another writer placed it (replacing what is held
    /// under its id). Its cluster's record, put after, makes it a member.
    pub fn put_placed(
        &mut self,
        meta: StoryMeta,
        fingerprint: Fingerprint,
        placement: PlacementRecord,
    ) {
        self.forget_story(&meta.id);
        let slot = self.insert_entry(Entry {
            meta: EntryMeta::new(meta),
            fingerprint,
            cluster: placement.cluster,
            sequence: placement.sequence,
            duplicate_of: placement.duplicate_of.map(Box::new),
        });
        // Until its cluster's record comes, the story is a member of the
        // cluster it was placed in, so no cluster answer leaves it out.
        if let Some(cluster) = self.clusters.get_mut(&placement.cluster)
            && !cluster.members.contains(&slot)
        {
            cluster.members.push(slot);
        }
    }

    /// Takes a story out as another writer did (removed, evicted or about
    /// to be put in again). Its cluster drops it; the cluster's record,
    /// when it comes, says the rest. Returns whether it was held.
    pub fn forget_story(&mut self, id: &str) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        let cluster_id = self.slot_entry(slot).cluster;
        if let Some(cluster) = self.clusters.get_mut(&cluster_id) {
            cluster.members.retain(|s| *s != slot);
            if cluster.members.is_empty() {
                self.clusters.remove(&cluster_id);
            } else if cluster.canonical == slot {
                cluster.canonical = cluster.members[0];
            }
        }
        self.unfile(id, slot);
        true
    }

    /// Puts a cluster in as another writer left it. Members not held (yet)
    /// are left out of it; a cluster with none held is dropped.
    pub fn put_cluster(&mut self, record: ClusterRecord) {
        let ClusterRecord {
            id,
            members,
            canonical,
            related,
            created,
            updated,
        } = record;
        let members: SmallVec<[u32; 1]> = members.iter().filter_map(|m| self.slot_of(m)).collect();
        // A member moved here leaves the cluster it was held in.
        for &slot in &members {
            let was_in = self.slot_entry(slot).cluster;
            if was_in != id
                && let Some(old) = self.clusters.get_mut(&was_in)
            {
                old.members.retain(|s| *s != slot);
                if old.members.is_empty() {
                    self.clusters.remove(&was_in);
                } else if old.canonical == slot {
                    old.canonical = old.members[0];
                }
            }
            if let Some(entry) = self.slots[slot as usize].as_mut() {
                entry.cluster = id;
            }
        }
        let Some(&first) = members.first() else {
            self.clusters.remove(&id);
            return;
        };
        let canonical = self
            .slot_of(&canonical)
            .filter(|slot| members.contains(slot))
            .unwrap_or(first);
        self.clusters.insert(
            id,
            Cluster {
                members,
                canonical,
                related: (!related.is_empty()).then(|| Box::new(related.into_iter().collect())),
                created: created.into(),
                updated: updated.into(),
            },
        );
    }

    /// Drops a cluster another writer removed (its members, if any are
    /// still held, are put elsewhere by their own records).
    pub fn forget_cluster(&mut self, id: ClusterId) {
        self.clusters.remove(&id);
    }

    /// Numbers the next new cluster and the next ingest as a shared
    /// counter says (the database's sequences), so writers never reuse
    /// one another's numbers.
    pub fn set_counters(&mut self, counters: IndexCounters) {
        self.next_cluster = counters.next_cluster;
        self.next_sequence = counters.next_sequence;
    }

    /// Every folded cluster id with the cluster it lives on in, replaced
    /// wholesale (an alias of a cluster not held is kept: its cluster may
    /// come in a later record).
    pub fn put_aliases(&mut self, aliases: Vec<(ClusterId, ClusterId)>) {
        self.merged_into = aliases.into_iter().collect();
    }

    /// Takes a story out of every table and frees its slot; its cluster
    /// is the caller's.
    pub(super) fn unfile(&mut self, id: &str, slot: u32) {
        self.by_id.remove(super::entry::id_hash(id), slot);
        let Some(entry) = self.slots[slot as usize].take() else {
            return;
        };
        self.free_slots.push(slot);
        for (band, key) in self
            .config
            .lsh
            .band_keys(&entry.fingerprint.signature)
            .enumerate()
        {
            self.buckets[band].remove(key, slot);
        }
        for (table, &key) in self
            .by_topic
            .iter_mut()
            .zip(entry.fingerprint.topic_words())
        {
            table.remove(super::entry::topic_hash(key), slot);
        }
        if let Some(key) = headline_key(&entry.fingerprint) {
            self.by_headline.remove(key, slot);
        }
        self.vocabulary.forget(&entry.fingerprint.word_sample());
    }
}
