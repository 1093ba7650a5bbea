//! The in-memory near-duplicate index: LSH buckets over signatures, verified
//! matches, leader-style cluster assignment and canonical election.
//!
//! A story joins the cluster of the version it is most strongly SAME as, so
//! a write-through is followed one version to the next. When it is SAME as
//! versions in two clusters, the two fold into one only if those versions
//! share real text themselves (versions that arrived out of order);
//! otherwise (a digest that carries two reports) it joins the stronger and
//! the other becomes a related cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use smallvec::SmallVec;

use super::compare::{DEFAULT_FOLLOW_UP_AFTER, Evidence, Relation, compare};
use super::fingerprint::Fingerprint;
use super::furniture::LearnedFurniture;
use super::minhash::LshParams;
use super::sample::Sample;
use super::slot_table::SlotTable;
use super::vocabulary::{self, Vocabulary};
use crate::text::agency::Agency;
use crate::text::headline::HeadlineFrom;

/// A cluster's number; clusters are named `clusters/{id}`.
pub type ClusterId = u64;

/// Which member of a cluster is its canonical story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CanonicalPolicy {
    /// The longest story text (furniture excluded): the most complete
    /// version, since papers trim from the bottom. Ties go to the earliest
    /// ingested.
    #[default]
    Longest,
    /// The first published (or first ingested) version.
    Earliest,
    /// The last published (or last ingested) version: the latest update.
    Latest,
}

impl CanonicalPolicy {
    /// The policy's name, as accepted by [`FromStr`] and shown to clients.
    pub fn as_str(&self) -> &'static str {
        match self {
            CanonicalPolicy::Longest => "longest",
            CanonicalPolicy::Earliest => "earliest",
            CanonicalPolicy::Latest => "latest",
        }
    }
}

impl FromStr for CanonicalPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "longest" => Ok(CanonicalPolicy::Longest),
            "earliest" => Ok(CanonicalPolicy::Earliest),
            "latest" => Ok(CanonicalPolicy::Latest),
            other => Err(format!(
                "unknown canonical policy {other:?}: use longest, earliest or latest"
            )),
        }
    }
}

/// LSH candidates are looked for around this Jaccard similarity: low,
/// because related stories can share a tenth of their text or less. Every
/// candidate is then verified on its shingle, lede and word samples.
pub const CANDIDATE_THRESHOLD: f64 = 0.05;

/// Two clusters fold into one through a story that follows a version in
/// each only when those two versions share this much of the smaller one's
/// text (the text a write-through carries forward)...
const MERGE_SHARED_TEXT: f64 = 0.2;
/// ...but not all of it: a story that holds another whole (a digest, a
/// roundup) is no link in a chain.
const MERGE_MAX_SHARED_TEXT: f64 = 0.9;

/// A story posts this many of its topic words (the most frequent that are
/// not common), for later reports of the same event to find it by.
const POSTED_TOPIC_WORDS: usize = 2;

/// A word posted by more stories than this is no mark of one event (a
/// running story's stock names, a beat's vocabulary): it finds nothing.
/// Bounds the event candidates of one story to a few hundred.
const MAX_EVENT_POSTINGS: usize = 16;

/// Two stories that share this much of their uncommon vocabulary beyond
/// the text they share verbatim ([`Vocabulary::event_overlap`]) report one
/// event: RELATED. Set on the multilingual event pairs (`events_dev`) and
/// checked on the real-wire, wire and CNN/DM sets.
const EVENT_RELATED: f64 = 0.2;

/// A page with no story text (a photo gallery under a wire story's
/// headline) folds into the story whose title it carries only when that
/// headline has this many distinct words: a short label ("Weather",
/// "Obituaries Front") is shared by pages that have nothing in common.
const MIN_HEADLINE_WORDS: usize = 5;

/// The key a story is filed under in the headline table, if any: its
/// headline words, when it is a page with no story text, or a story whose
/// title is its own headline ([`HeadlineFrom::Title`]).
fn headline_key(fingerprint: &Fingerprint) -> Option<u64> {
    let words = fingerprint.title_words();
    let files = words.len() >= MIN_HEADLINE_WORDS
        && (fingerprint.shingle_count == 0 || fingerprint.headline == HeadlineFrom::Title);
    files.then(|| {
        // Every ingest asks: no allocation (a headline keeps 32 words at most).
        let mut bytes: SmallVec<[u8; 64]> = SmallVec::new();
        bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        xxhash_rust::xxh3::xxh3_64(&bytes)
    })
}

/// How the index matches and elects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexConfig {
    /// LSH banding for candidate search.
    pub lsh: LshParams,
    /// Canonical story policy.
    pub canonical: CanonicalPolicy,
    /// Stories published further apart than this are follow-ups unless
    /// their text is a re-run (see [`Evidence::relation_within`]).
    pub follow_up_after: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            lsh: LshParams::for_threshold(CANDIDATE_THRESHOLD)
                .expect("the candidate threshold constant is in (0, 1)"),
            canonical: CanonicalPolicy::default(),
            follow_up_after: DEFAULT_FOLLOW_UP_AFTER,
        }
    }
}

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
    pub changes: Option<super::changes::VersionChanges>,
}

/// Where a stored story is now (see [`Index::story_placement`]).
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

/// [`StoryMeta`] as an index entry holds it: the id boxed, the times as
/// [`Stamp`]s and the length in 32 bits, 48 bytes instead of 80, which
/// every indexed story pays (README, index memory). Lossless for what the
/// edge accepts (times from 1970, bodies far below 4 GiB).
#[derive(Debug, Clone)]
struct EntryMeta {
    id: Box<str>,
    content_hash: u64,
    published_at: Stamp,
    ingested_at: Stamp,
    /// Saturates at 4 GiB: only compared, for the `longest` policy.
    body_bytes: u32,
    has_published_at: bool,
    headline: HeadlineFrom,
}

impl EntryMeta {
    fn new(meta: StoryMeta) -> EntryMeta {
        let StoryMeta {
            id,
            content_hash,
            body_bytes,
            published_at,
            ingested_at,
            headline,
        } = meta;
        EntryMeta {
            id: id.into_boxed_str(),
            content_hash,
            published_at: published_at.map_or(Stamp(0), Stamp::from),
            ingested_at: Stamp::from(ingested_at),
            body_bytes: u32::try_from(body_bytes).unwrap_or(u32::MAX),
            has_published_at: published_at.is_some(),
            headline,
        }
    }

    fn published_at(&self) -> Option<SystemTime> {
        self.has_published_at
            .then(|| SystemTime::from(self.published_at))
    }

    fn time(&self) -> SystemTime {
        SystemTime::from(if self.has_published_at {
            self.published_at
        } else {
            self.ingested_at
        })
    }

    fn to_meta(&self) -> StoryMeta {
        StoryMeta {
            id: self.id.to_string(),
            content_hash: self.content_hash,
            body_bytes: self.body_bytes as usize,
            published_at: self.published_at(),
            ingested_at: SystemTime::from(self.ingested_at),
            headline: self.headline,
        }
    }
}

#[derive(Debug)]
struct Entry {
    meta: EntryMeta,
    fingerprint: Fingerprint,
    cluster: ClusterId,
    /// Ingest order, for stable tie breaks.
    sequence: u64,
    /// The answer given when this version was ingested (boxed: most
    /// stories duplicate nothing, and every entry pays for the inline size).
    duplicate_of: Option<Box<(String, Evidence)>>,
}

/// The hash a word key is filed under in the event tables.
fn topic_hash(key: u16) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&key.to_le_bytes())
}

/// The hash `entry` is filed under in event table `table_at`.
fn posted_key_hash(entry: &Entry, table_at: usize) -> u64 {
    entry
        .fingerprint
        .topic_words()
        .get(table_at)
        .copied()
        .map_or(0, topic_hash)
}

/// A cluster as the index holds it: most clusters are one story with no
/// related links, so the common case allocates nothing and every field is
/// as small as it can be (there is one of these per story or so).
#[derive(Debug)]
struct Cluster {
    members: SmallVec<[u32; 1]>,
    canonical: u32,
    // Boxed so that the common case, no links, costs 8 bytes instead of a
    // 24-byte empty set.
    #[allow(clippy::box_collection)]
    related: Option<Box<BTreeSet<ClusterId>>>,
    created: Stamp,
    updated: Stamp,
}

impl Cluster {
    fn related(&self) -> impl Iterator<Item = ClusterId> + '_ {
        self.related.iter().flat_map(|set| set.iter().copied())
    }

    fn link(&mut self, other: ClusterId) {
        self.related.get_or_insert_default().insert(other);
    }

    fn unlink(&mut self, other: ClusterId) {
        if let Some(set) = &mut self.related {
            set.remove(&other);
            if set.is_empty() {
                self.related = None;
            }
        }
    }
}

/// A time as nanoseconds since the Unix epoch: half the size of a
/// `SystemTime`, exact for any time after 1970 and before 2554 (earlier
/// times read as the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(u64);

impl From<SystemTime> for Stamp {
    fn from(time: SystemTime) -> Stamp {
        let nanos = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Stamp(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl From<Stamp> for SystemTime {
    fn from(stamp: Stamp) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(stamp.0)
    }
}

/// The hash under which a story id is found.
/// Stories whose copy names different agencies are SAME only when their
/// text is largely one (the `jaccard` of the SAME rule) or one lies whole
/// in the other (the trimmed rule's containment).
const AGENCY_SAME_JACCARD: f64 = 0.7;
const AGENCY_SAME_CONTAINMENT: f64 = 0.9;

/// One agency's copy is a version of the agency's report when a third of
/// the smaller story is the other's text and half its words are the
/// other's: an agency re-tops its main story through the day ("sets
/// expectations low", then "arrives in Finland", then "names EU a foe"),
/// each version several paragraphs of new top over the last one's text,
/// which the rewrite rule (most of the text and nearly all the words)
/// cannot follow. The byline is what makes that safe: two outlets' stories
/// that share a third of their text are follow-ups as often as versions.
/// Set on the real-wire pairs (no labelled pair of one agency's copy
/// between 0.3 and 0.9 of shared text is RELATED); the CNN/DM pairs name
/// no agency and are untouched.
const AGENCY_VERSION_CONTAINMENT: f64 = 1.0 / 3.0;
const AGENCY_VERSION_WORDS: f64 = 0.5;

/// Whether both stories name the same agency.
fn same_agency(a: Option<Agency>, b: Option<Agency>) -> bool {
    a.zip(b).is_some_and(|(a, b)| a == b)
}

/// Whether both stories name an agency and the agencies differ.
fn agencies_differ(a: Option<Agency>, b: Option<Agency>) -> bool {
    a.zip(b).is_some_and(|(a, b)| a != b)
}

fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// Whether taking a story out keeps its cluster when it was the last
/// member (a correction about to join it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepEmpty {
    Yes,
    No,
}

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
    /// headline, by headline (see [`headline_key`]).
    by_headline: SlotTable,
    /// Clusters folded into another, by the cluster they live on in: a
    /// cluster id, once given, stays valid while its stories are stored.
    /// Always one step (a fold re-points the ids folded before).
    merged_into: BTreeMap<ClusterId, ClusterId>,
    /// Whether `merged_into` changed since the last
    /// [`Index::take_changes`].
    aliases_changed: bool,
}

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

    /// Verified matches of `fingerprint`, published at `published_at` (SAME
    /// and RELATED), best first. `exclude` leaves one stored story out (the
    /// text's own earlier version).
    pub fn matches(
        &self,
        fingerprint: &Fingerprint,
        published_at: Option<SystemTime>,
        exclude: Option<&str>,
    ) -> Vec<Match> {
        let excluded = exclude.and_then(|id| self.slot_of(id));
        // A text with no story in it (empty, or a page of nothing but
        // captions and widgets) is a version only of the story whose
        // headline it carries.
        if fingerprint.shingle_count == 0 {
            return self.headline_matches(fingerprint, excluded);
        }
        let words = fingerprint.word_sample();
        let uncommon_words = self.vocabulary.uncommon(&words);
        let uncommon = Sample {
            values: &uncommon_words,
            level: words.level,
        };
        let mut candidates = self.lsh_candidates(fingerprint);
        // Stories found only through a shared word are verified only when
        // their uncommon words could make them RELATED (the event overlap
        // is never above the words' overlap): most share one name and
        // nothing else.
        candidates.extend(
            self.event_candidates(fingerprint, &candidates)
                .into_iter()
                .filter(|&slot| {
                    let other = self.slot_entry(slot).fingerprint.word_sample();
                    Vocabulary::uncommon_dice_bound(&uncommon, &other) >= EVENT_RELATED
                }),
        );
        let mut matches: Vec<Match> = candidates
            .into_iter()
            .filter(|&slot| Some(slot) != excluded)
            .filter(|&slot| self.slot_entry(slot).fingerprint.shingle_count > 0)
            .filter_map(|slot| {
                let entry = self.slot_entry(slot);
                let evidence = compare(fingerprint, &entry.fingerprint)
                    .with_publication_times(published_at, entry.meta.published_at());
                let mut relation = evidence.relation_within(self.config.follow_up_after);
                // Two agencies' copy is two reports, though it shares long
                // quotes from one press conference: SAME then needs the
                // same text, not a rewrite's shared words. (One agency's
                // copy re-tagged by a site, which the synthetic wire set
                // does, still has the same text.)
                if relation == Relation::Same
                    && agencies_differ(fingerprint.agency, entry.fingerprint.agency)
                    && evidence.jaccard < AGENCY_SAME_JACCARD
                    && evidence.containment < AGENCY_SAME_CONTAINMENT
                {
                    relation = Relation::Related;
                }
                if relation != Relation::Same
                    && same_agency(fingerprint.agency, entry.fingerprint.agency)
                    && evidence.containment >= AGENCY_VERSION_CONTAINMENT
                    && evidence.word_overlap >= AGENCY_VERSION_WORDS
                    && !evidence.published_apart_over(self.config.follow_up_after)
                {
                    relation = Relation::Same;
                }
                // Reports of one event by different writers share its
                // names and terms, not its sentences.
                if relation == Relation::Unrelated {
                    let dice = self
                        .vocabulary
                        .uncommon_dice(&uncommon, &entry.fingerprint.word_sample());
                    if vocabulary::event_overlap(dice, evidence.containment) >= EVENT_RELATED {
                        relation = Relation::Related;
                    }
                }
                (relation != Relation::Unrelated).then(|| Match {
                    story_id: entry.meta.id.to_string(),
                    cluster: entry.cluster,
                    relation,
                    evidence,
                })
            })
            .collect();
        matches.extend(self.headline_matches(fingerprint, excluded));
        matches.sort_by(|a, b| {
            a.relation
                .cmp(&b.relation)
                .then(b.evidence.strength().total_cmp(&a.evidence.strength()))
                .then(a.story_id.cmp(&b.story_id))
        });
        matches
    }

    /// A page with no story text and a story whose title is its headline,
    /// the two carrying the same headline: versions of one report (a wire
    /// story's photo page and the story). The evidence is the headline
    /// alone. Pages with no text never match each other: a site's empty
    /// pages share its labels.
    fn headline_matches(&self, fingerprint: &Fingerprint, excluded: Option<u32>) -> Vec<Match> {
        let Some(key) = headline_key(fingerprint) else {
            return Vec::new();
        };
        let empty = fingerprint.shingle_count == 0;
        self.by_headline
            .candidates(key)
            .filter(|&slot| Some(slot) != excluded)
            .map(|slot| self.slot_entry(slot))
            .filter(|entry| {
                (entry.fingerprint.shingle_count == 0) != empty
                    && entry.fingerprint.title_words() == fingerprint.title_words()
            })
            .map(|entry| Match {
                story_id: entry.meta.id.to_string(),
                cluster: entry.cluster,
                relation: Relation::Same,
                evidence: Evidence {
                    title_similarity: 1.0,
                    ..Evidence::default()
                },
            })
            .collect()
    }

    /// Stories that share an LSH band with `fingerprint`: those whose text
    /// it may share. Sorted, each once.
    fn lsh_candidates(&self, fingerprint: &Fingerprint) -> Vec<u32> {
        let mut candidates: Vec<u32> = Vec::new();
        for (band, key) in self
            .config
            .lsh
            .band_keys(&fingerprint.signature)
            .enumerate()
        {
            let rows = self.config.lsh.band(&fingerprint.signature, band);
            candidates.extend(self.buckets[band].candidates(key).filter(|&slot| {
                self.config
                    .lsh
                    .band(&self.slot_entry(slot).fingerprint.signature, band)
                    == rows
            }));
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

    /// The stories posted under a word of `fingerprint` that is not
    /// common (its sampled content words and its topic words: a long
    /// story's sample holds one word in eight, its topic words always),
    /// leaving out those in `found` (sorted). A word posted by more than
    /// [`MAX_EVENT_POSTINGS`] stories finds nothing. Sorted, each once.
    fn event_candidates(&self, fingerprint: &Fingerprint, found: &[u32]) -> Vec<u32> {
        let mut candidates = Vec::new();
        let words = fingerprint.word_sample();
        let mut keys: SmallVec<[u16; 128]> = words
            .values
            .iter()
            .map(|&v| vocabulary::key_of(v, words.level))
            .chain(fingerprint.topic_words().iter().copied())
            .filter(|&key| !self.vocabulary.is_common(key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut posted: SmallVec<[u32; MAX_EVENT_POSTINGS + 1]> = SmallVec::new();
        for key in keys {
            for (table_at, table) in self.by_topic.iter().enumerate() {
                posted.clear();
                posted.extend(
                    table
                        .candidates(topic_hash(key))
                        .filter(|&slot| {
                            self.slot_entry(slot)
                                .fingerprint
                                .topic_words()
                                .get(table_at)
                                == Some(&key)
                        })
                        .take(MAX_EVENT_POSTINGS + 1),
                );
                if posted.len() <= MAX_EVENT_POSTINGS {
                    candidates.extend(
                        posted
                            .iter()
                            .filter(|slot| found.binary_search(slot).is_err()),
                    );
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

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

    fn insert_entry(&mut self, mut entry: Entry) -> u32 {
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
        self.by_id.remove(id_hash(id), slot);
        let entry = self.slots[slot as usize].take()?;
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
            table.remove(topic_hash(key), slot);
        }
        if let Some(key) = headline_key(&entry.fingerprint) {
            self.by_headline.remove(key, slot);
        }
        self.vocabulary.forget(&entry.fingerprint.word_sample());
        let cluster_id = entry.cluster;
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

    fn elect_canonical(&mut self, cluster_id: ClusterId) {
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

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// The index's memory budget (about 1 KiB a story, README) rests on
    /// these inline sizes; a new field should be a deliberate choice.
    #[test]
    fn entries_and_clusters_stay_small() {
        // 232 since entries hold a compact EntryMeta (48 bytes, was 80):
        // measured 989 bytes a story at 100,000 (README, index memory).
        assert!(std::mem::size_of::<Option<Entry>>() <= 232);
        assert!(std::mem::size_of::<EntryMeta>() <= 48);
        assert!(std::mem::size_of::<Cluster>() <= 56);
        assert!(std::mem::size_of::<Fingerprint>() <= 160);
    }

    #[test]
    fn stamps_keep_times_after_1970_exactly() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::new(1_790_000_000, 123_456_789);
        assert_eq!(SystemTime::from(Stamp::from(time)), time);
        let before = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(
            SystemTime::from(Stamp::from(before)),
            SystemTime::UNIX_EPOCH
        );
    }

    fn meta(id: &str, body: &str, second: u64) -> StoryMeta {
        StoryMeta {
            id: id.to_owned(),
            content_hash: xxhash_rust::xxh3::xxh3_64(body.as_bytes()),
            body_bytes: body.len(),
            published_at: None,
            ingested_at: UNIX_EPOCH + Duration::from_secs(second),
            headline: HeadlineFrom::Nowhere,
        }
    }

    fn ingest(index: &mut Index, id: &str, body: &str, second: u64) -> IngestReport {
        index.ingest(meta(id, body, second), Fingerprint::of("", body))
    }

    const FULL: &str = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough. \
        Moscow wants guarantees that NATO will not expand further east, while Washington calls the demand a non-starter. \
        The two sides agreed to keep talking, and further rounds with NATO and the OSCE follow this week. \
        Diplomats said the mood was businesslike but that the gap between the positions remained wide.";

    fn trimmed() -> &'static str {
        &FULL[..FULL.rfind("The two sides").unwrap()]
    }

    const OTHER: &str = "The city council approved a budget for road repairs on Tuesday after a long debate about potholes and bus lanes in the centre.";

    #[test]
    fn versions_fold_and_longest_is_canonical() {
        let mut index = Index::new(IndexConfig::default());
        let first = ingest(&mut index, "short", trimmed(), 1);
        let second = ingest(&mut index, "full", FULL, 2);
        assert_eq!(second.cluster, first.cluster);
        assert_eq!(
            second.duplicate_of.as_ref().map(|d| d.0.as_str()),
            Some("short")
        );
        assert_eq!(second.canonical, "full");
        assert_eq!(second.cluster_size, 2);
        let other = ingest(&mut index, "other", OTHER, 3);
        assert_ne!(other.cluster, first.cluster);
        assert!(other.duplicate_of.is_none());
    }

    /// Replays the changes an index reports into a map, as a store would,
    /// and rebuilds an index from it.
    #[test]
    fn restored_index_matches_the_original() {
        let mut index = Index::restore(
            IndexConfig::default(),
            Vec::new(),
            Vec::new(),
            Index::new(IndexConfig::default()).counters(),
        )
        .unwrap();
        let mut clusters: BTreeMap<ClusterId, ClusterRecord> = BTreeMap::new();
        let mut stories: BTreeMap<String, (&str, u64)> = BTreeMap::new();
        let apply = |index: &mut Index, clusters: &mut BTreeMap<ClusterId, ClusterRecord>| {
            let changes = index.take_changes();
            for record in changes.changed {
                clusters.insert(record.id, record);
            }
            for id in changes.removed {
                clusters.remove(&id);
            }
        };
        for (id, body, second) in [
            ("short", trimmed(), 1),
            ("other", OTHER, 2),
            ("full", FULL, 3),
            ("gone", OTHER, 4),
        ] {
            ingest(&mut index, id, body, second);
            stories.insert(id.to_owned(), (body, second));
            apply(&mut index, &mut clusters);
        }
        index.remove("gone", UNIX_EPOCH + Duration::from_secs(5));
        stories.remove("gone");
        apply(&mut index, &mut clusters);

        let records = stories
            .iter()
            .map(|(id, &(body, second))| {
                let placement = index.placement_record(id).unwrap();
                (meta(id, body, second), Fingerprint::of("", body), placement)
            })
            .collect();
        let mut restored = Index::restore(
            IndexConfig::default(),
            records,
            clusters.values().cloned().collect(),
            index.counters(),
        )
        .unwrap();
        for id in clusters.keys() {
            assert_eq!(restored.cluster(*id), index.cluster(*id));
        }
        assert_eq!(restored.cluster_count(), index.cluster_count());
        let late = ingest(&mut restored, "late", FULL, 6);
        let expected = ingest(&mut index, "late", FULL, 6);
        assert_eq!(late, expected);
    }

    #[test]
    fn restore_refuses_inconsistent_records() {
        let body = OTHER;
        let placement = PlacementRecord {
            sequence: 0,
            cluster: 7,
            duplicate_of: None,
        };
        let result = Index::restore(
            IndexConfig::default(),
            vec![(meta("a", body, 1), Fingerprint::of("", body), placement)],
            Vec::new(),
            IndexCounters {
                next_cluster: 8,
                next_sequence: 1,
            },
        );
        assert!(matches!(
            result,
            Err(RestoreError::MissingCluster { cluster: 7, .. })
        ));
    }

    #[test]
    fn resend_is_idempotent_and_new_text_replaces() {
        let mut index = Index::new(IndexConfig::default());
        let first = ingest(&mut index, "a", FULL, 1);
        let again = ingest(&mut index, "a", FULL, 2);
        assert_eq!(again.outcome, IngestOutcome::Unchanged);
        assert_eq!((again.cluster, again.cluster_size), (first.cluster, 1));
        let replaced = ingest(&mut index, "a", OTHER, 3);
        assert_eq!(replaced.outcome, IngestOutcome::Replaced);
        assert_eq!(index.len(), 1);
        assert_eq!(index.cluster_count(), 1);
        // A correction keeps its cluster, even as its only member.
        assert_eq!(replaced.cluster, first.cluster);
        assert_eq!(index.cluster(first.cluster).unwrap().canonical, "a");
    }

    #[test]
    fn a_correction_stays_in_its_cluster_and_links_what_it_now_matches() {
        let mut index = Index::new(IndexConfig::default());
        let geneva = ingest(&mut index, "geneva", FULL, 1).cluster;
        let other = ingest(&mut index, "other", OTHER, 2).cluster;
        assert_ne!(geneva, other);
        // "other" is corrected to a copy of the Geneva report: it does not
        // move (readers of its cluster find the correction there), and the
        // two clusters are linked.
        let corrected = ingest(&mut index, "other", FULL, 3);
        assert_eq!(corrected.outcome, IngestOutcome::Replaced);
        assert_eq!(corrected.cluster, other);
        assert_eq!(corrected.duplicate_of, None);
        assert_eq!(corrected.related, vec![geneva]);
        assert_eq!(index.cluster(geneva).unwrap().related, vec![other]);
        // A correction inside a cluster of versions stays with them.
        let copy = ingest(&mut index, "copy", FULL, 4);
        assert_eq!(copy.cluster, geneva);
        let fixed = FULL.replace("Monday", "Tuesday");
        let again = ingest(&mut index, "copy", &fixed, 5);
        assert_eq!((again.cluster, again.cluster_size), (geneva, 2));
        assert_eq!(
            again.duplicate_of.map(|(id, _)| id).as_deref(),
            Some("geneva")
        );
    }

    #[test]
    fn delete_reelects_and_empty_clusters_vanish() {
        let mut index = Index::new(IndexConfig::default());
        let cluster = ingest(&mut index, "short", trimmed(), 1).cluster;
        ingest(&mut index, "full", FULL, 2);
        assert_eq!(index.remove("full", UNIX_EPOCH), Some(cluster));
        assert_eq!(index.cluster(cluster).unwrap().canonical, "short");
        index.remove("short", UNIX_EPOCH);
        assert!(index.cluster(cluster).is_none());
        assert_eq!(index.remove("short", UNIX_EPOCH), None);
    }

    #[test]
    fn canonical_policies() {
        for (policy, expected) in [
            (CanonicalPolicy::Longest, "full"),
            (CanonicalPolicy::Earliest, "short"),
            (CanonicalPolicy::Latest, "full"),
        ] {
            let mut index = Index::new(IndexConfig {
                canonical: policy,
                ..IndexConfig::default()
            });
            ingest(&mut index, "short", trimmed(), 1);
            assert_eq!(
                ingest(&mut index, "full", FULL, 2).canonical,
                expected,
                "{policy:?}"
            );
        }
    }

    /// Paragraphs `range` of a long report, 19 words each, with a number at
    /// least every three words so that no shingle repeats across them.
    fn report(range: std::ops::Range<usize>) -> String {
        range
            .map(|i| {
                format!(
                    "Site {i} logged {} faults by {} with {} crews on {} lines near {} stations and {} trains. ",
                    i * 7 + 3,
                    i + 100,
                    i * 3 + 1000,
                    i + 2000,
                    i * 5 + 3000,
                    i + 4000
                )
            })
            .collect()
    }

    #[test]
    fn a_brief_joins_a_two_version_cluster_through_the_original() {
        let mut index = Index::new(IndexConfig::default());
        // The original, 760 words; an update that moves its last ten
        // paragraphs (a quarter, 190 words) to the top and is now the
        // longest; a brief cut from the original's top.
        let original = report(0..40);
        let moved_up = format!("{}{} Updated at noon.", report(30..40), report(0..30));
        let brief = report(0..6);
        let first = ingest(&mut index, "original", &original, 1);
        let update = ingest(&mut index, "update", &moved_up, 2);
        assert_eq!(update.cluster, first.cluster);
        assert_eq!(update.canonical, "update");
        // The brief is SAME as the original but not as the update, whose
        // whole first quarter it lacks: half the versions are enough.
        let e = compare(
            &Fingerprint::of("", &brief),
            &Fingerprint::of("", &moved_up),
        );
        assert_ne!(e.relation(), Relation::Same, "{e:?}");
        let cut = ingest(&mut index, "brief", &brief, 3);
        assert_eq!(cut.cluster, first.cluster, "{cut:?}");
        assert_eq!(cut.duplicate_of.map(|d| d.0), Some("original".to_owned()));
    }

    #[test]
    fn a_story_matching_two_clusters_joins_the_stronger_and_links_the_other() {
        let first_half = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough. \
            Moscow wants guarantees that NATO will not expand further east, while Washington calls the demand a non-starter.";
        let second_half = "Flooding closed the main rail line between the two northern cities on Tuesday after days of heavy rain. \
            Engineers said the embankment would need at least a week of repairs before trains could run again.";
        let mut index = Index::new(IndexConfig::default());
        let a = ingest(&mut index, "geneva", first_half, 1);
        let b = ingest(&mut index, "floods", second_half, 2);
        assert_ne!(a.cluster, b.cluster);
        // A digest that carries both stories whole: SAME as each, but the
        // two clusters must not merge through it.
        let both = ingest(
            &mut index,
            "digest",
            &format!("{first_half} {second_half}"),
            3,
        );
        assert_eq!(
            both.cluster, a.cluster,
            "joins the cluster whose lede it shares"
        );
        assert_eq!(both.related, vec![b.cluster]);
        assert_eq!(index.cluster(b.cluster).unwrap().members.len(), 1);
        assert_eq!(index.cluster(b.cluster).unwrap().related, vec![a.cluster]);
        assert_eq!(index.cluster_count(), 2);
    }

    /// Two outlets' reports of one flood, in sentences of their own, and a
    /// strike in the same city that week.
    const FLOOD_WIRE: &str = "Floodwaters swept through the port city of Valparaiso on Tuesday, forcing more than 4,000 residents from their homes, mayor Ximena Lobos said. \
        The Aconcagua river burst its banks after three days of rain, and rescue crews in boats reached families trapped on rooftops in the Almendral district. \
        Lobos asked the national government for emergency funds and said schools would stay closed until Friday.";
    const FLOOD_LOCAL: &str = "Mayor Ximena Lobos appealed for national emergency aid after the Aconcagua overflowed and flooded much of Valparaiso. \
        Some 4,000 people were evacuated, many from the low-lying Almendral neighbourhood, where boats ferried trapped families to safety. \
        Classes are suspended across the city through Friday, officials added.";
    const PORT_STRIKE: &str = "Dock workers in Valparaiso ended a two-week strike on Tuesday after the port operator agreed to raise wages by six percent. \
        Container traffic, which had fallen by half during the stoppage, should recover within days, the union told officials.";

    /// Stories on other news that all use a few everyday words, so the
    /// index learns that those words are common.
    fn ingest_other_news(index: &mut Index, stories: u64) {
        const TOPICS: [&str; 5] = ["budget", "election", "museum", "football", "bridge"];
        for i in 0..stories {
            let topic = TOPICS[(i % 5) as usize];
            let body = format!(
                "Officials in the city said on Tuesday that the {topic} plan number {i} would go ahead. \
                 The council voted {} to {} after a debate about the cost of item {}, and reporters asked about week {}.",
                i + 7,
                i % 5,
                i * 31,
                i * 17
            );
            ingest(index, &format!("other-{i}"), &body, i);
        }
    }

    /// A story through the path the servers and the CLI take (which sets
    /// where its headline comes from).
    fn ingest_titled(index: &mut Index, id: &str, title: &str, body: &str) -> IngestReport {
        let story = crate::story::Story {
            id: id.into(),
            title: title.into(),
            body: body.into(),
            published_at: None,
            source: String::new(),
            language: String::new(),
        };
        crate::story::PreparedStory::new(story)
            .ingest_into(index, UNIX_EPOCH + Duration::from_secs(1_790_000_000))
            .1
    }

    const FLOOD_HEADLINE: &str = "Floodwaters force thousands from homes in Valparaiso";
    const FLOOD_PHOTOS: &str = "Credit: The Associated Press\n\n\
        Residents wade through a flooded street in the Almendral district of Valparaiso, Chile, Tuesday, May 5, 2026. (AP Photo/Jane Doe)\n\n\
        Credit: The Associated Press\n\n\
        Rescue crews reach a family on a rooftop in Valparaiso, Chile, Tuesday, May 5, 2026. (AP Photo/John Roe)\n\nprev next";

    #[test]
    fn a_page_of_photos_under_a_storys_headline_is_a_version_of_it() {
        assert_eq!(
            Fingerprint::of(FLOOD_HEADLINE, FLOOD_PHOTOS).shingle_count,
            0
        );
        // Story first, then its photo page; and the other way round.
        let mut index = Index::new(IndexConfig::default());
        ingest_other_news(&mut index, 10);
        let story = ingest_titled(&mut index, "flood", FLOOD_HEADLINE, FLOOD_WIRE);
        let photos = ingest_titled(&mut index, "flood-photos", FLOOD_HEADLINE, FLOOD_PHOTOS);
        assert_eq!(photos.cluster, story.cluster, "{:?}", photos.matches);
        assert_eq!(
            photos.canonical, "flood",
            "a page of photos is never the canonical story"
        );

        let mut index = Index::new(IndexConfig::default());
        let photos = ingest_titled(&mut index, "flood-photos", FLOOD_HEADLINE, FLOOD_PHOTOS);
        let story = ingest_titled(&mut index, "flood", FLOOD_HEADLINE, FLOOD_WIRE);
        assert_eq!(story.cluster, photos.cluster, "{:?}", story.matches);
        assert_eq!(story.canonical, "flood");
    }

    #[test]
    fn pages_with_no_story_fold_by_headline_only_into_a_story_that_owns_it() {
        let mut index = Index::new(IndexConfig::default());
        // Two empty pages under one site label: nothing in common.
        let label = "Enter City and State or Zip Code";
        let a = ingest_titled(&mut index, "a", label, FLOOD_PHOTOS);
        let b = ingest_titled(
            &mut index,
            "b",
            label,
            "Credit: The Associated Press\n\nprev next",
        );
        assert_ne!(a.cluster, b.cluster);
        // A story under that label (its own headline is in its text) does
        // not own it either.
        let story = ingest_titled(&mut index, "c", label, FLOOD_WIRE);
        assert_ne!(story.cluster, a.cluster, "{:?}", story.matches);
        assert_ne!(story.cluster, b.cluster, "{:?}", story.matches);
        // A short headline is shared by pages that have nothing in common.
        let mut index = Index::new(IndexConfig::default());
        let story = ingest_titled(&mut index, "flood", "Valparaiso floods", FLOOD_WIRE);
        let photos = ingest_titled(&mut index, "photos", "Valparaiso floods", FLOOD_PHOTOS);
        assert_ne!(photos.cluster, story.cluster);
    }

    #[test]
    fn reports_of_one_event_by_different_writers_are_related_not_same() {
        let mut index = Index::new(IndexConfig::default());
        ingest_other_news(&mut index, 40);
        let wire = ingest(&mut index, "flood-wire", FLOOD_WIRE, 100);
        let local = ingest(&mut index, "flood-local", FLOOD_LOCAL, 101);
        assert_ne!(
            local.cluster, wire.cluster,
            "different writers: not one report"
        );
        assert_eq!(local.related, vec![wire.cluster], "{:?}", local.matches);
        let link = &local.matches[0];
        assert_eq!(link.relation, Relation::Related);
        // Their text alone links nothing: the shared names and terms do.
        assert_eq!(link.evidence.relation(), Relation::Unrelated, "{link:?}");
        // The same city and day, other news: no link.
        let strike = ingest(&mut index, "port-strike", PORT_STRIKE, 102);
        assert!(strike.related.is_empty(), "{:?}", strike.matches);
        // Deleting the local report takes its link with it.
        index.remove("flood-local", UNIX_EPOCH + Duration::from_secs(103));
        assert!(index.cluster(wire.cluster).unwrap().related.is_empty());
    }

    #[test]
    fn a_word_every_story_uses_finds_no_event() {
        let mut index = Index::new(IndexConfig::default());
        ingest_other_news(&mut index, 40);
        // "officials", "tuesday" and "city" are in every story: they are
        // common, and a story is posted under none of them.
        let strike = ingest(&mut index, "port-strike", PORT_STRIKE, 100);
        assert!(strike.related.is_empty(), "{:?}", strike.matches);
        let everyday = crate::text::words::word_hash("officials");
        assert!(
            index
                .vocabulary
                .is_common(vocabulary::key_of_hash(everyday))
        );
        let slot = index.slot_of("port-strike").unwrap();
        let posted = index.slot_entry(slot).fingerprint.topic_words();
        assert_eq!(posted.len(), POSTED_TOPIC_WORDS);
        assert!(posted.iter().all(|&key| !index.vocabulary.is_common(key)));
    }

    #[test]
    fn pages_newest_first() {
        let mut index = Index::new(IndexConfig::default());
        ingest(&mut index, "a", FULL, 1);
        ingest(&mut index, "b", OTHER, 2);
        let page = index.clusters_before(None, 1);
        assert_eq!(page[0].canonical, "b");
        let next = index.clusters_before(Some(page[0].id), 10);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].canonical, "a");
    }
}
