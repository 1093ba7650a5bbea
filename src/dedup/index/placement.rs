//! The join rule: which cluster a story joins, which clusters it folds
//! together, and which it links as related.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{ClusterId, Index, Placement};
use crate::dedup::compare::{Relation, compare};
use crate::dedup::fingerprint::Fingerprint;

/// Two clusters fold into one through a story that follows a version in
/// each only when those two versions share this much of the smaller one's
/// text (the text a write-through carries forward)...
const MERGE_SHARED_TEXT: f64 = 0.2;
/// ...but not all of it: a story that holds another whole (a digest, a
/// roundup) is no link in a chain.
const MERGE_MAX_SHARED_TEXT: f64 = 0.9;

impl Index {
    /// Decides where `fingerprint`, published at `published_at`, belongs,
    /// without changing the index.
    pub fn place(
        &self,
        fingerprint: &Fingerprint,
        published_at: Option<SystemTime>,
        exclude: Option<&str>,
    ) -> Placement {
        let matches = self.matches(fingerprint, published_at, exclude);
        // Per cluster: the best SAME match (matches are sorted best first).
        let mut same_by_cluster: BTreeMap<ClusterId, usize> = BTreeMap::new();
        for (i, m) in matches.iter().enumerate() {
            if m.relation == Relation::Same {
                same_by_cluster.entry(m.cluster).or_insert(i);
            }
        }
        // A version joins the cluster of the version it follows most
        // strongly: newsroom systems follow a story one version to the
        // next, so a write-through whose first and last versions share a
        // fifth of their text is still one story.
        let joined = same_by_cluster
            .iter()
            // Matches are sorted best first: the lowest best index is the
            // strongest cluster.
            .min_by_key(|(_, best)| **best)
            .map(|(&id, &best)| (id, best));
        // A version that follows stories in two clusters folds them into
        // one (versions that arrived out of order) only when the two it
        // follows overlap in part: a chain carries part of its text
        // forward, so two of its versions share some text and each has
        // text of its own. A digest that is SAME as two different reports
        // joins one and links the other: the reports share nothing, and a
        // digest already in a cluster holds the other report whole.
        let mut merged = Vec::new();
        if let Some((joined_id, best)) = joined {
            let anchor = self.slot_of(&matches[best].story_id);
            for (&other, &other_best) in &same_by_cluster {
                let follows = self.slot_of(&matches[other_best].story_id);
                let carried = anchor.zip(follows).is_some_and(|(a, b)| {
                    let (a, b) = (self.slot_entry(a), self.slot_entry(b));
                    let shared = compare(&a.fingerprint, &b.fingerprint).containment;
                    (MERGE_SHARED_TEXT..MERGE_MAX_SHARED_TEXT).contains(&shared)
                });
                if other != joined_id && carried {
                    merged.push(other);
                }
            }
        }

        let related = matches
            .iter()
            .map(|m| m.cluster)
            .filter(|&c| Some(c) != joined.map(|(id, _)| id) && !merged.contains(&c))
            .collect();
        Placement {
            cluster: joined.map(|(id, _)| id),
            duplicate_of: joined
                .map(|(_, best)| (matches[best].story_id.clone(), matches[best].evidence)),
            related,
            merged,
            matches,
        }
    }
}
