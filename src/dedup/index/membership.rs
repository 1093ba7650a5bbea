//! Changing the index: a story in (a new one or a new version), a story
//! out, two clusters folded into one.

use std::time::SystemTime;

use smallvec::SmallVec;

use super::entry::{Cluster, Entry, EntryMeta, Stamp, id_hash, posted_key_hash, topic_hash};
use super::matching::{POSTED_TOPIC_WORDS, headline_key};
use super::{ClusterId, Index, IngestOutcome, IngestReport, Match, StoryMeta};
use crate::dedup::compare::Evidence;
use crate::dedup::fingerprint::Fingerprint;

/// Whether taking a story out keeps its cluster when it was the last
/// member (a correction about to join it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepEmpty {
    Yes,
    No,
}

impl Index {
    /// Adds a story (or a new version of a stored one) and reports where it
    /// went. Re-sending the same id with the same content changes nothing.
    pub fn ingest(&mut self, meta: StoryMeta, fingerprint: Fingerprint) -> IngestReport {
        let mut outcome = IngestOutcome::Created;
        let mut corrected_in = None;
        if let Some(existing) = self.entry(&meta.id) {
            if existing.meta.content_hash == meta.content_hash {
                let duplicate_of = existing.duplicate_of.as_deref().cloned();
                let matches = self.matches(
                    &existing.fingerprint,
                    existing.meta.published_at(),
                    Some(&meta.id),
                );
                return self.report(&meta.id, duplicate_of, IngestOutcome::Unchanged, matches);
            }
            // A correction: the story keeps its cluster (a cluster id,
            // once given, stays valid while its stories are stored), even
            // when it was the cluster's only member.
            corrected_in = self.detach(&meta.id, meta.ingested_at, KeepEmpty::Yes);
            outcome = IngestOutcome::Replaced;
        }

        let mut placement = self.place(&fingerprint, meta.published_at, None);
        let now = meta.ingested_at;
        let cluster_id = match (corrected_in, placement.cluster) {
            (Some(kept), joined) => {
                // The corrected text may now read as a version of another
                // report: linked, not moved, so the correction stays where
                // readers of its cluster look for it.
                if joined != Some(kept) {
                    placement.related.extend(joined);
                    placement.related.extend(placement.merged.drain(..));
                    placement.duplicate_of = None;
                }
                placement.related.remove(&kept);
                placement.merged.retain(|&c| c != kept);
                kept
            }
            (None, Some(id)) => id,
            (None, None) => {
                let id = self.next_cluster;
                self.next_cluster += 1;
                id
            }
        };
        let slot = self.insert_entry(Entry {
            meta: EntryMeta::new(meta),
            fingerprint,
            cluster: cluster_id,
            sequence: self.next_sequence,
            duplicate_of: placement.duplicate_of.clone().map(Box::new),
        });
        self.next_sequence += 1;

        let cluster = self.clusters.entry(cluster_id).or_insert(Cluster {
            members: SmallVec::new(),
            canonical: slot,
            related: None,
            created: now.into(),
            updated: now.into(),
        });
        cluster.members.push(slot);
        cluster.updated = now.into();
        for &other in &placement.related {
            cluster.link(other);
        }
        self.mark_changed(cluster_id);
        for &other in &placement.related {
            if let Some(other_cluster) = self.clusters.get_mut(&other) {
                other_cluster.link(cluster_id);
                self.mark_changed(other);
            }
        }
        for &other in &placement.merged {
            self.merge_cluster(other, cluster_id, now);
        }
        self.elect_canonical(cluster_id);
        let id = self.slot_entry(slot).meta.id.to_string();
        self.report(&id, placement.duplicate_of, outcome, placement.matches)
    }

    fn report(
        &self,
        id: &str,
        duplicate_of: Option<(String, Evidence)>,
        outcome: IngestOutcome,
        matches: Vec<Match>,
    ) -> IngestReport {
        let entry = self.entry(id).expect("reported stories are indexed");
        let cluster = &self.clusters[&entry.cluster];
        IngestReport {
            story_id: id.to_owned(),
            cluster: entry.cluster,
            duplicate_of,
            canonical: self.slot_entry(cluster.canonical).meta.id.to_string(),
            cluster_size: cluster.members.len(),
            related: cluster.related().collect(),
            outcome,
            matches,
            agency: entry.fingerprint.agency,
            changes: None,
        }
    }

    pub(super) fn insert_entry(&mut self, mut entry: Entry) -> u32 {
        let id_hash = id_hash(&entry.meta.id);
        // Posted under its first topic words that are uncommon before it
        // is counted (a story's own words make none of them common), and
        // it keeps only those: which words are common changes as the
        // index grows, and table `i` finds a story's key as its topic word
        // `i`.
        let vocabulary = &self.vocabulary;
        entry
            .fingerprint
            .retain_topic_words(POSTED_TOPIC_WORDS, |key| !vocabulary.is_common(key));
        // The stored metadata says where the headline comes from, however
        // the fingerprint was made (a store rebuilds it from the text).
        entry.fingerprint.headline = entry.meta.headline;
        self.vocabulary.learn(&entry.fingerprint.word_sample());
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                // Grow by an eighth rather than doubling: a large index
                // would otherwise carry up to half its entries' size unused
                // (large reallocations are remapped, not copied).
                if self.slots.len() == self.slots.capacity() {
                    self.slots.reserve_exact((self.slots.len() / 8).max(64));
                }
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        let lsh = self.config.lsh;
        let slots = &self.slots;
        let live = |s: u32| {
            slots[s as usize]
                .as_ref()
                .expect("tables only hold live slots")
        };
        let signature = &live(slot).fingerprint.signature;
        for (band, table) in self.buckets.iter_mut().enumerate() {
            table.insert(lsh.band_key(signature, band), slot, |s| {
                lsh.band_key(&live(s).fingerprint.signature, band)
            });
        }
        let posted = live(slot).fingerprint.topic_words();
        for (table_at, (table, &key)) in self.by_topic.iter_mut().zip(posted).enumerate() {
            table.insert(topic_hash(key), slot, |s| {
                posted_key_hash(live(s), table_at)
            });
        }
        if let Some(key) = headline_key(&live(slot).fingerprint) {
            self.by_headline.insert(key, slot, |s| {
                headline_key(&live(s).fingerprint).unwrap_or_default()
            });
        }
        self.by_id
            .insert(id_hash, slot, |s| self::id_hash(&live(s).meta.id));
        slot
    }

    /// Removes a story. Its cluster re-elects a canonical story, or
    /// disappears (with its related links) when it was the last member.
    /// Returns the story's cluster, or `None` if the id was not indexed.
    pub fn remove(&mut self, id: &str, now: SystemTime) -> Option<ClusterId> {
        self.detach(id, now, KeepEmpty::No)
    }

    /// Takes a story out of the index and its cluster; a cluster left
    /// empty goes unless `keep` says a new version is about to join it.
    fn detach(&mut self, id: &str, now: SystemTime, keep: KeepEmpty) -> Option<ClusterId> {
        let slot = self.slot_of(id)?;
        let cluster_id = self.slot_entry(slot).cluster;
        self.unfile(id, slot);
        self.mark_changed(cluster_id);
        let now_empty = match self.clusters.get_mut(&cluster_id) {
            Some(cluster) => {
                cluster.members.retain(|s| *s != slot);
                cluster.updated = now.into();
                cluster.members.is_empty()
            }
            None => false,
        };
        if now_empty && keep == KeepEmpty::No {
            let aliases = self.merged_into.len();
            self.merged_into.retain(|_, into| *into != cluster_id);
            self.aliases_changed |= self.merged_into.len() != aliases;
            if let Some(cluster) = self.clusters.remove(&cluster_id) {
                for other in cluster.related() {
                    if let Some(other_cluster) = self.clusters.get_mut(&other) {
                        other_cluster.unlink(cluster_id);
                        self.mark_changed(other);
                    }
                }
            }
        } else if !now_empty {
            self.elect_canonical(cluster_id);
        }
        Some(cluster_id)
    }

    /// Folds cluster `from` into `into`: its members move, its related
    /// links are re-pointed, and it is gone.
    fn merge_cluster(&mut self, from: ClusterId, into: ClusterId, now: SystemTime) {
        if from == into {
            return;
        }
        let Some(gone) = self.clusters.remove(&from) else {
            return;
        };
        for target in self.merged_into.values_mut() {
            if *target == from {
                *target = into;
            }
        }
        self.merged_into.insert(from, into);
        self.aliases_changed = true;
        self.mark_changed(from);
        self.mark_changed(into);
        for &slot in &gone.members {
            if let Some(entry) = self.slots[slot as usize].as_mut() {
                entry.cluster = into;
            }
        }
        let links: Vec<ClusterId> = gone.related().collect();
        for other in links {
            if let Some(other_cluster) = self.clusters.get_mut(&other) {
                other_cluster.unlink(from);
                if other != into {
                    other_cluster.link(into);
                }
                self.mark_changed(other);
            }
        }
        if let Some(target) = self.clusters.get_mut(&into) {
            target.members.extend(gone.members.iter().copied());
            for other in gone.related() {
                if other != into {
                    target.link(other);
                }
            }
            target.unlink(from);
            target.created = Stamp(target.created.0.min(gone.created.0));
            target.updated = now.into();
        }
    }
}
