//! The in-memory near-duplicate index: LSH buckets over signatures, verified
//! matches, leader-style cluster assignment and canonical election.
//!
//! A story joins the cluster of the version it is most strongly SAME as, so
//! a write-through is followed one version to the next. When it is SAME as
//! versions in two clusters, the two fold into one only if those versions
//! share real text themselves (versions that arrived out of order);
//! otherwise (a digest that carries two reports) it joins the stronger and
//! the other becomes a related cluster.
//!
//! One file per part, each an `impl Index` over the fields here:
//! - [`config`]: the settings (LSH banding, canonical policy, follow-up
//!   window).
//! - `entry`: what is held per story and per cluster, kept small.
//! - `matching`: candidates (LSH bands, posted topic words, headlines) and
//!   their verification, with the agency and event rules.
//! - `placement`: the join rule (which cluster, which folds, which links).
//! - `membership`: a story in or out, clusters folded.
//! - `election`: the canonical story.
//! - `restore`: what a store keeps of the index and the rebuild from it.
//! - `follow`: another writer's committed stories and clusters put in as
//!   decided (a store shared by several processes).
//! - [`answers`]: the plain data the index answers with.

pub mod answers;
pub mod config;
mod election;
mod entry;
mod follow;
mod matching;
mod membership;
mod placement;
mod restore;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

pub use answers::{
    ClusterView, IngestOutcome, IngestReport, Match, MemberView, Placement, StoryMeta,
    StoryPlacement,
};
pub use config::{CANDIDATE_THRESHOLD, CanonicalPolicy, IndexConfig};
pub use follow::HOT_KEY_STORIES;
pub use restore::{ClusterChanges, ClusterRecord, IndexCounters, PlacementRecord, RestoreError};

use super::compare::{Evidence, compare};
use super::furniture::LearnedFurniture;
use super::slot_table::SlotTable;
use super::vocabulary::Vocabulary;
use entry::{Cluster, Entry, id_hash};
use matching::POSTED_TOPIC_WORDS;

/// A cluster's number; clusters are named `clusters/{id}`.
pub type ClusterId = u64;

/// The near-duplicate index.
#[derive(Debug)]
pub struct Index {
    config: IndexConfig,
    slots: Vec<Option<Entry>>,
    free_slots: Vec<u32>,
    /// Slots by the hash of their story id.
    by_id: SlotTable,
    /// One table per band: slots by band key.
    buckets: Vec<SlotTable>,
    clusters: BTreeMap<ClusterId, Cluster>,
    next_cluster: ClusterId,
    next_sequence: u64,
    /// Clusters changed since the last [`Index::take_changes`].
    /// `None` unless a store asked for changes (see [`Index::restore`]):
    /// otherwise the set would only grow.
    dirty: Option<BTreeSet<ClusterId>>,
    /// Short lines seen under many clusters: furniture.
    furniture: LearnedFurniture,
    /// How many stories hold each word: which words are common.
    vocabulary: Vocabulary,
    /// One table per posted topic word: slots by word key.
    by_topic: Vec<SlotTable>,
    /// Pages with no story text, and stories whose title is their
    /// headline, by headline (see `matching::headline_key`).
    by_headline: SlotTable,
    /// Clusters folded into another, by the cluster they live on in: a
    /// cluster id, once given, stays valid while its stories are stored.
    /// Always one step (a fold re-points the ids folded before).
    merged_into: BTreeMap<ClusterId, ClusterId>,
    /// Whether `merged_into` changed since the last
    /// [`Index::take_changes`].
    aliases_changed: bool,
}

impl Index {
    /// An empty index.
    pub fn new(config: IndexConfig) -> Index {
        Index {
            buckets: (0..config.lsh.bands())
                .map(|_| SlotTable::default())
                .collect(),
            config,
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_id: SlotTable::default(),
            clusters: BTreeMap::new(),
            next_cluster: 1,
            next_sequence: 0,
            dirty: None,
            furniture: LearnedFurniture::default(),
            vocabulary: Vocabulary::default(),
            by_topic: (0..POSTED_TOPIC_WORDS)
                .map(|_| SlotTable::default())
                .collect(),
            by_headline: SlotTable::default(),
            merged_into: BTreeMap::new(),
            aliases_changed: false,
        }
    }

    /// The cluster a cluster id names now: itself, or the one it was
    /// folded into.
    pub fn resolve_cluster(&self, id: ClusterId) -> ClusterId {
        self.merged_into.get(&id).copied().unwrap_or(id)
    }

    /// The furniture learned so far.
    pub fn learned_furniture(&self) -> &LearnedFurniture {
        &self.furniture
    }

    /// Counts a story's short lines (see [`super::furniture::short_lines`])
    /// as seen in `cluster`.
    pub fn learn_furniture(&mut self, cluster: ClusterId, lines: &[u64]) {
        self.furniture.learn(cluster, lines);
    }

    /// Ids of stories whose time (publication, else ingest) is before
    /// `cutoff`, at most `limit` of them.
    pub fn stories_before(&self, cutoff: SystemTime, limit: usize) -> Vec<String> {
        self.slots
            .iter()
            .flatten()
            .filter(|e| e.meta.time() < cutoff)
            .take(limit)
            .map(|e| e.meta.id.to_string())
            .collect()
    }

    /// Number of indexed stories.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no story is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Estimated heap the index holds, in bytes: the slots, every table's
    /// buckets, what each entry and cluster points to. Walks every entry,
    /// so it is for a scrape now and then, not for every ingest.
    pub fn memory_estimate(&self) -> usize {
        use std::mem::size_of;
        let entries: usize = self
            .slots
            .iter()
            .flatten()
            .map(|entry| {
                entry.meta.id.len()
                    + entry.fingerprint.heap_bytes()
                    + entry
                        .duplicate_of
                        .as_ref()
                        .map_or(0, |d| size_of::<(String, Evidence)>() + d.0.capacity())
            })
            .sum();
        let clusters: usize = self
            .clusters
            .values()
            .map(|c| {
                size_of::<(ClusterId, Cluster)>()
                    + if c.members.spilled() {
                        c.members.capacity() * size_of::<u32>()
                    } else {
                        0
                    }
                    + c.related.as_ref().map_or(0, |r| {
                        size_of::<BTreeSet<ClusterId>>() + r.len() * size_of::<ClusterId>()
                    })
            })
            .sum();
        let tables: usize = self
            .buckets
            .iter()
            .chain(&self.by_topic)
            .chain([&self.by_id, &self.by_headline])
            .map(SlotTable::heap_bytes)
            .sum();
        self.slots.capacity() * size_of::<Option<Entry>>()
            + self.free_slots.capacity() * size_of::<u32>()
            + entries
            + clusters
            + tables
            + self.furniture.heap_bytes()
            + self.vocabulary.heap_bytes()
            + self.merged_into.len() * size_of::<(ClusterId, ClusterId)>()
    }

    /// Number of clusters.
    pub fn cluster_count(&self) -> usize {
        self.clusters.len()
    }

    /// Where a stored story is now: clusters fold and re-elect as later
    /// versions arrive, so this can differ from the answer its ingest got.
    pub fn story_placement(&self, id: &str) -> Option<StoryPlacement> {
        let entry = self.entry(id)?;
        let cluster = self.clusters.get(&entry.cluster)?;
        Some(StoryPlacement {
            cluster: entry.cluster,
            canonical: self.slot_entry(cluster.canonical).meta.id.to_string(),
            cluster_size: cluster.members.len(),
            related: cluster.related().collect(),
            duplicate_of: entry.duplicate_of.as_deref().cloned(),
            agency: entry.fingerprint.agency,
        })
    }

    /// The cluster of a stored story.
    pub fn story_cluster(&self, id: &str) -> Option<ClusterId> {
        self.entry(id).map(|e| e.cluster)
    }

    /// The metadata of a stored story.
    pub fn story_meta(&self, id: &str) -> Option<StoryMeta> {
        self.entry(id).map(|e| e.meta.to_meta())
    }

    fn entry(&self, id: &str) -> Option<&Entry> {
        self.slot_of(id).and_then(|slot| self.slot(slot))
    }

    fn mark_changed(&mut self, cluster: ClusterId) {
        if let Some(dirty) = &mut self.dirty {
            dirty.insert(cluster);
        }
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id
            .candidates(id_hash(id))
            .find(|&slot| self.slot(slot).is_some_and(|e| &*e.meta.id == id))
    }

    fn slot(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn slot_entry(&self, slot: u32) -> &Entry {
        self.slot(slot)
            .expect("clusters and buckets only hold live slots")
    }

    /// One cluster, members with their figures against the canonical
    /// story. A cluster id folded into another names that one (the view
    /// carries its id).
    pub fn cluster(&self, id: ClusterId) -> Option<ClusterView> {
        let id = self.resolve_cluster(id);
        let cluster = self.clusters.get(&id)?;
        let canonical = self.slot_entry(cluster.canonical);
        let mut members: Vec<&Entry> = cluster
            .members
            .iter()
            .map(|&s| self.slot_entry(s))
            .collect();
        members.sort_by_key(|e| (e.sequence != canonical.sequence, e.sequence));
        Some(ClusterView {
            id,
            canonical: canonical.meta.id.to_string(),
            policy: self.config.canonical,
            members: members
                .into_iter()
                .map(|e| MemberView {
                    meta: e.meta.to_meta(),
                    evidence_to_canonical: if e.sequence == canonical.sequence {
                        Evidence::IDENTICAL
                    } else {
                        compare(&e.fingerprint, &canonical.fingerprint).with_publication_times(
                            e.meta.published_at(),
                            canonical.meta.published_at(),
                        )
                    },
                })
                .collect(),
            related: cluster.related().collect(),
            created: cluster.created.into(),
            updated: cluster.updated.into(),
        })
    }

    /// Up to `limit` clusters older than `before` (all when `None`), newest
    /// first.
    pub fn clusters_before(&self, before: Option<ClusterId>, limit: usize) -> Vec<ClusterView> {
        let upper = before.unwrap_or(ClusterId::MAX);
        self.clusters
            .range(..upper)
            .rev()
            .take(limit)
            .filter_map(|(&id, _)| self.cluster(id))
            .collect()
    }
}
