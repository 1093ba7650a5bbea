//! Canonical election: which member of a cluster a feed shows.

use super::{CanonicalPolicy, ClusterId, Index};

impl Index {
    /// Elects the canonical story of `cluster_id` by the configured
    /// policy; called whenever a member joins, leaves or is replaced.
    pub(super) fn elect_canonical(&mut self, cluster_id: ClusterId) {
        let Some(cluster) = self.clusters.get(&cluster_id) else {
            return;
        };
        let policy = self.config.canonical;
        let best = cluster.members.iter().copied().max_by(|&a, &b| {
            let (a, b) = (self.slot_entry(a), self.slot_entry(b));
            let order = match policy {
                // Story text, not furniture: a version padded with
                // "Related News" lines is not more complete.
                // A version whose headline belongs to it first: a feed
                // shows the canonical's headline.
                CanonicalPolicy::Longest => a
                    .meta
                    .headline
                    .cmp(&b.meta.headline)
                    .then(
                        a.fingerprint
                            .shingle_count
                            .cmp(&b.fingerprint.shingle_count),
                    )
                    .then(a.meta.body_bytes.cmp(&b.meta.body_bytes)),
                CanonicalPolicy::Earliest => b.meta.time().cmp(&a.meta.time()),
                CanonicalPolicy::Latest => a.meta.time().cmp(&b.meta.time()),
            };
            // Ties: the earlier ingested wins, so the canonical does not
            // flip between equal versions.
            order.then(b.sequence.cmp(&a.sequence))
        });
        if let (Some(best), Some(cluster)) = (best, self.clusters.get_mut(&cluster_id)) {
            cluster.canonical = best;
        }
    }
}
