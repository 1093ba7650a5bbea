//! What the index holds per story and per cluster, kept small: every
//! indexed story pays for these (README, index memory).

use std::collections::BTreeSet;
use std::time::SystemTime;

use smallvec::SmallVec;

use super::{ClusterId, StoryMeta};
use crate::dedup::compare::Evidence;
use crate::dedup::fingerprint::Fingerprint;
use crate::text::headline::HeadlineFrom;

/// [`StoryMeta`] as an index entry holds it: the id boxed, the times as
/// [`Stamp`]s and the length in 32 bits, 48 bytes instead of 80, which
/// every indexed story pays (README, index memory). Lossless for what the
/// edge accepts (times from 1970, bodies far below 4 GiB).
#[derive(Debug, Clone)]
pub(super) struct EntryMeta {
    pub(super) id: Box<str>,
    pub(super) content_hash: u64,
    pub(super) published_at: Stamp,
    pub(super) ingested_at: Stamp,
    /// Saturates at 4 GiB: only compared, for the `longest` policy.
    pub(super) body_bytes: u32,
    pub(super) has_published_at: bool,
    pub(super) headline: HeadlineFrom,
}

impl EntryMeta {
    pub(super) fn new(meta: StoryMeta) -> EntryMeta {
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

    pub(super) fn published_at(&self) -> Option<SystemTime> {
        self.has_published_at
            .then(|| SystemTime::from(self.published_at))
    }

    pub(super) fn time(&self) -> SystemTime {
        SystemTime::from(if self.has_published_at {
            self.published_at
        } else {
            self.ingested_at
        })
    }

    pub(super) fn to_meta(&self) -> StoryMeta {
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
pub(super) struct Entry {
    pub(super) meta: EntryMeta,
    pub(super) fingerprint: Fingerprint,
    pub(super) cluster: ClusterId,
    /// Ingest order, for stable tie breaks.
    pub(super) sequence: u64,
    /// The answer given when this version was ingested (boxed: most
    /// stories duplicate nothing, and every entry pays for the inline size).
    pub(super) duplicate_of: Option<Box<(String, Evidence)>>,
}

/// The hash a word key is filed under in the event tables.
pub(super) fn topic_hash(key: u16) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&key.to_le_bytes())
}

/// The hash `entry` is filed under in event table `table_at`.
pub(super) fn posted_key_hash(entry: &Entry, table_at: usize) -> u64 {
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
pub(super) struct Cluster {
    pub(super) members: SmallVec<[u32; 1]>,
    pub(super) canonical: u32,
    // Boxed so that the common case, no links, costs 8 bytes instead of a
    // 24-byte empty set.
    #[allow(clippy::box_collection)]
    pub(super) related: Option<Box<BTreeSet<ClusterId>>>,
    pub(super) created: Stamp,
    pub(super) updated: Stamp,
}

impl Cluster {
    pub(super) fn related(&self) -> impl Iterator<Item = ClusterId> + '_ {
        self.related.iter().flat_map(|set| set.iter().copied())
    }

    pub(super) fn link(&mut self, other: ClusterId) {
        self.related.get_or_insert_default().insert(other);
    }

    pub(super) fn unlink(&mut self, other: ClusterId) {
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
pub(super) struct Stamp(pub(super) u64);

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
pub(super) fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}
