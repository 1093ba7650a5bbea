//! What a store keeps of the index and how the index is rebuilt from it:
//! the records are plain data (the store writes its own rows; see
//! `store::durable::records`), and nothing is re-decided on restore.

use std::collections::BTreeSet;
use std::time::SystemTime;

use smallvec::SmallVec;

use super::entry::{Cluster, Entry, EntryMeta};
use super::{ClusterId, Index, IndexConfig, StoryMeta};
use crate::dedup::compare::Evidence;
use crate::dedup::fingerprint::Fingerprint;

/// A cluster as a store keeps it: members by story id.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRecord {
    /// The cluster's number.
    pub id: ClusterId,
    /// Member story ids, in the order they joined.
    pub members: Vec<String>,
    /// The canonical story's id.
    pub canonical: String,
    /// Related clusters.
    pub related: Vec<ClusterId>,
    /// When the cluster was created.
    pub created: SystemTime,
    /// When a member last joined or left.
    pub updated: SystemTime,
}

/// What the index decided about one story, as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementRecord {
    /// Ingest order; breaks ties in canonical election.
    pub sequence: u64,
    /// The story's cluster.
    pub cluster: ClusterId,
    /// The version it duplicated when it joined, with the figures.
    pub duplicate_of: Option<(String, Evidence)>,
}

/// Clusters a store must write after a change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterChanges {
    /// Clusters created or changed, as they are now.
    pub changed: Vec<ClusterRecord>,
    /// Clusters that no longer exist.
    pub removed: Vec<ClusterId>,
    /// Every folded cluster id with the cluster it lives on in, when that
    /// changed (see [`Index::cluster_aliases`]).
    pub aliases: Option<Vec<(ClusterId, ClusterId)>>,
}

/// The index's counters, kept by a store so a rebuilt index numbers new
/// clusters as the old one would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexCounters {
    /// The next new cluster's number.
    pub next_cluster: ClusterId,
    /// The next ingest's sequence number.
    pub next_sequence: u64,
}

/// Why stored records do not make a consistent index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// A cluster names a member that is not among the stories.
    #[error("cluster {cluster} lists story {story:?}, which is not stored")]
    MissingMember { cluster: ClusterId, story: String },
    /// A story's cluster is not stored.
    #[error("story {story:?} belongs to cluster {cluster}, which is not stored")]
    MissingCluster { cluster: ClusterId, story: String },
    /// The same story id appears twice.
    #[error("story {0:?} is stored twice")]
    DuplicateStory(String),
}

impl Index {
    /// Every folded cluster id with the cluster it lives on in, as a store
    /// keeps them.
    pub fn cluster_aliases(&self) -> Vec<(ClusterId, ClusterId)> {
        self.merged_into.iter().map(|(&a, &b)| (a, b)).collect()
    }

    /// Takes back the folded cluster ids a store kept (after
    /// [`Index::restore`]); an alias of a cluster that is gone is dropped.
    pub fn restore_aliases(&mut self, aliases: Vec<(ClusterId, ClusterId)>) {
        self.merged_into = aliases
            .into_iter()
            .filter(|(_, into)| self.clusters.contains_key(into))
            .collect();
    }

    /// Rebuilds an index from what a store kept: each story's metadata,
    /// fingerprint and placement, the clusters, and the counters. Nothing
    /// is re-decided, so clusters and canonical stories are exactly as they
    /// were. A restored index records which clusters change, for
    /// [`Index::take_changes`]; a new one does not.
    pub fn restore(
        config: IndexConfig,
        mut stories: Vec<(StoryMeta, Fingerprint, PlacementRecord)>,
        clusters: Vec<ClusterRecord>,
        counters: IndexCounters,
    ) -> Result<Index, RestoreError> {
        let mut index = Index::new(config);
        index.dirty = Some(BTreeSet::new());
        stories.sort_by_key(|(_, _, placement)| placement.sequence);
        for (meta, fingerprint, placement) in stories {
            if index.slot_of(&meta.id).is_some() {
                return Err(RestoreError::DuplicateStory(meta.id));
            }
            index.insert_entry(Entry {
                meta: EntryMeta::new(meta),
                fingerprint,
                cluster: placement.cluster,
                sequence: placement.sequence,
                duplicate_of: placement.duplicate_of.map(Box::new),
            });
        }
        for record in clusters {
            let slot_of = |id: &str| {
                index
                    .slot_of(id)
                    .ok_or_else(|| RestoreError::MissingMember {
                        cluster: record.id,
                        story: id.to_owned(),
                    })
            };
            let members = record
                .members
                .iter()
                .map(|m| slot_of(m))
                .collect::<Result<SmallVec<[u32; 1]>, _>>()?;
            let canonical = slot_of(&record.canonical)?;
            // Membership is the cluster record's: a story folded in when
            // two clusters merged keeps the cluster it was first placed in
            // in its own record.
            for &slot in &members {
                if let Some(entry) = index.slots[slot as usize].as_mut() {
                    entry.cluster = record.id;
                }
            }
            index.clusters.insert(
                record.id,
                Cluster {
                    members,
                    canonical,
                    related: (!record.related.is_empty())
                        .then(|| Box::new(record.related.into_iter().collect())),
                    created: record.created.into(),
                    updated: record.updated.into(),
                },
            );
        }
        for entry in index.slots.iter().flatten() {
            if !index.clusters.contains_key(&entry.cluster) {
                return Err(RestoreError::MissingCluster {
                    cluster: entry.cluster,
                    story: entry.meta.id.to_string(),
                });
            }
        }
        index.next_cluster = counters.next_cluster;
        index.next_sequence = counters.next_sequence;
        Ok(index)
    }

    /// The counters a store keeps beside the records.
    pub fn counters(&self) -> IndexCounters {
        IndexCounters {
            next_cluster: self.next_cluster,
            next_sequence: self.next_sequence,
        }
    }

    /// Where a stored story was placed, as a store keeps it.
    pub fn placement_record(&self, id: &str) -> Option<PlacementRecord> {
        self.entry(id).map(|e| PlacementRecord {
            sequence: e.sequence,
            cluster: e.cluster,
            duplicate_of: e.duplicate_of.as_deref().cloned(),
        })
    }

    /// The clusters changed or removed since the last call (always empty for
    /// an index made by [`Index::new`]).
    pub fn take_changes(&mut self) -> ClusterChanges {
        let mut changes = ClusterChanges::default();
        let dirty = self.dirty.as_mut().map(std::mem::take).unwrap_or_default();
        for id in dirty {
            match self.clusters.get(&id) {
                Some(cluster) => changes.changed.push(ClusterRecord {
                    id,
                    members: cluster
                        .members
                        .iter()
                        .map(|&s| self.slot_entry(s).meta.id.to_string())
                        .collect(),
                    canonical: self.slot_entry(cluster.canonical).meta.id.to_string(),
                    related: cluster.related().collect(),
                    created: cluster.created.into(),
                    updated: cluster.updated.into(),
                }),
                None => changes.removed.push(id),
            }
        }
        if std::mem::take(&mut self.aliases_changed) {
            changes.aliases = Some(self.cluster_aliases());
        }
        changes
    }
}
