//! What the index answers: a story's matches and placement, an ingest's
//! report, a cluster as clients see it. Plain data, built by the other
//! parts of the index.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::{CanonicalPolicy, ClusterId};
use crate::dedup::changes::VersionChanges;
use crate::dedup::compare::{Evidence, Relation};
use crate::text::agency::Agency;
use crate::text::headline::HeadlineFrom;

/// What the index keeps of a story besides its fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryMeta {
    /// The client's story id.
    pub id: String,
    /// Hash of headline and body: tells a re-send from a new version.
    pub content_hash: u64,
    /// Body length in bytes (the `longest` policy).
    pub body_bytes: usize,
    /// Publication time, if the client gave one.
    pub published_at: Option<SystemTime>,
    /// When this version was accepted.
    pub ingested_at: SystemTime,
    /// Where its headline comes from: its title, a line heading its text
    /// when the title is page furniture a scraper took for one, or nowhere
    /// (see [`crate::text::headline::story_headline`]). The canonical
    /// story is one whose headline a feed can show.
    pub headline: HeadlineFrom,
}

/// One stored story that a text matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The stored story's id.
    pub story_id: String,
    /// Its cluster.
    pub cluster: ClusterId,
    /// The decision.
    pub relation: Relation,
    /// The figures behind it.
    pub evidence: Evidence,
}

/// Where a text would go, decided without changing the index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    /// The existing cluster it would join; `None` starts a new one.
    pub cluster: Option<ClusterId>,
    /// The closest version in that cluster, with the figures.
    pub duplicate_of: Option<(String, Evidence)>,
    /// Clusters on the same event that it would be linked to.
    pub related: BTreeSet<ClusterId>,
    /// Other clusters that the text would fold into the joined one.
    pub merged: Vec<ClusterId>,
    /// Verified matches (SAME and RELATED), best first.
    pub matches: Vec<Match>,
}

/// What ingesting a story did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A new story id.
    Created,
    /// The same id and text were already indexed: nothing changed.
    Unchanged,
    /// The same id with a new text replaced the earlier version.
    Replaced,
}

/// The answer to an ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestReport {
    /// The story's id.
    pub story_id: String,
    /// The cluster it is in.
    pub cluster: ClusterId,
    /// The version it duplicates, with the figures, when it joined a cluster.
    pub duplicate_of: Option<(String, Evidence)>,
    /// The cluster's canonical story.
    pub canonical: String,
    /// Members of the cluster.
    pub cluster_size: usize,
    /// Related clusters.
    pub related: Vec<ClusterId>,
    /// Created, unchanged or replaced.
    pub outcome: IngestOutcome,
    /// Verified matches at ingest time, best first.
    pub matches: Vec<Match>,
    /// The news agency the story's copy names, if any.
    pub agency: Option<Agency>,
    /// What this version changes against the one it follows, when it
    /// follows one (a store fills it in: the index keeps no text).
    pub changes: Option<VersionChanges>,
}

/// Where a stored story is now (see [`super::Index::story_placement`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoryPlacement {
    /// Its cluster.
    pub cluster: ClusterId,
    /// The cluster's canonical story.
    pub canonical: String,
    /// Members of the cluster.
    pub cluster_size: usize,
    /// Related clusters.
    pub related: Vec<ClusterId>,
    /// The version it duplicated when it was ingested, with the figures.
    pub duplicate_of: Option<(String, Evidence)>,
    /// The news agency its copy names, if any.
    pub agency: Option<Agency>,
}

/// A cluster as clients see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// The cluster's number.
    pub id: ClusterId,
    /// The canonical story's id.
    pub canonical: String,
    /// The policy that elected it.
    pub policy: CanonicalPolicy,
    /// Members, canonical first, then in ingest order.
    pub members: Vec<MemberView>,
    /// Related clusters.
    pub related: Vec<ClusterId>,
    /// When the cluster was created.
    pub created: SystemTime,
    /// When a member last joined or left.
    pub updated: SystemTime,
}

/// One member of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    /// The story's metadata.
    pub meta: StoryMeta,
    /// The figures against the canonical story.
    pub evidence_to_canonical: Evidence,
}
