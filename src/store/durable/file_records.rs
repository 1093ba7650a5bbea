//! The engine's records in the redb file: reads in their own read
//! transaction, writes buffered in [`Writes`] for the one write
//! transaction that commits a unit of work.

use std::time::SystemTime;

use redb::{Database, ReadableDatabase};

use super::{
    ALIASES_KEY, META, STORIES, StoryRecord, VERSIONS, backend, decode, records::AliasesRow,
};
use crate::dedup::{ClusterChanges, ClusterId, PlacementRecord};
use crate::store::engine::Records;
use crate::store::{StoreError, VersionRecord};
use crate::story::{StoredStory, Story};

/// One transaction's writes.
#[derive(Default)]
pub(super) struct Writes {
    /// Stories to put (`Some`) or remove (`None`).
    pub(super) stories: Vec<(String, Option<StoryRecord>)>,
    /// Versions to put, by story id.
    pub(super) versions: Vec<(String, VersionRecord)>,
    /// Stories whose versions all go.
    pub(super) versions_dropped: Vec<String>,
    pub(super) changes: ClusterChanges,
}

impl Writes {
    /// Whether nothing is to be written besides the index's changes.
    pub(super) fn holds_no_records(&self) -> bool {
        self.stories.is_empty() && self.versions.is_empty() && self.versions_dropped.is_empty()
    }

    /// The latest write of story `id` in this unit of work: `Some(None)`
    /// when it is removed.
    fn story(&self, id: &str) -> Option<Option<&StoryRecord>> {
        self.stories
            .iter()
            .rev()
            .find(|(written, _)| written == id)
            .map(|(_, record)| record.as_ref())
    }
}

/// The records of the file at `db`, with this unit of work's writes.
pub(super) struct FileRecords<'a> {
    db: &'a Database,
    /// Whether stories retention evicts stay readable.
    keep_evicted: bool,
    pub(super) writes: Writes,
}

impl<'a> FileRecords<'a> {
    pub(super) fn new(db: &'a Database, keep_evicted: bool) -> FileRecords<'a> {
        FileRecords {
            db,
            keep_evicted,
            writes: Writes::default(),
        }
    }
}

impl Records for FileRecords<'_> {
    fn story(&self, id: &str) -> Option<Story> {
        match self.writes.story(id) {
            Some(record) => record.map(|r| r.story.clone()),
            None => read_stories(self.db, &[id])
                .ok()
                .and_then(|mut found| found.pop().flatten())
                .map(|r| r.story),
        }
    }

    fn stored(&self, ids: &[&str]) -> Result<Vec<Option<StoredStory>>, StoreError> {
        let from_file = read_stories(self.db, ids)?;
        Ok(ids
            .iter()
            .zip(from_file)
            .map(|(id, read)| match self.writes.story(id) {
                Some(written) => written.cloned().map(StoryRecord::stored),
                None => read.map(StoryRecord::stored),
            })
            .collect())
    }

    fn last_version(&self, id: &str) -> Result<Option<(u32, Option<VersionRecord>)>, StoreError> {
        if let Some((_, version)) = self.writes.versions.iter().rev().find(|(v, _)| v == id) {
            return Ok(Some((version.number, Some(version.clone()))));
        }
        let txn = self.db.begin_read().map_err(backend("begin read"))?;
        let table = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
        let latest = table
            .range((id, 0)..=(id, u32::MAX))
            .map_err(backend("read versions"))?
            .next_back()
            .transpose()
            .map_err(backend("read version"))?;
        let Some((key, value)) = latest else {
            return Ok(None);
        };
        let (_, number) = key.value();
        match decode(
            value.value(),
            format_args!("version {number} of story {id:?}"),
        ) {
            Ok(version) => Ok(Some((number, Some(version)))),
            Err(StoreError::Damaged(record)) => {
                tracing::warn!(%record, "damaged version: the next one is numbered after it");
                Ok(Some((number, None)))
            }
            Err(other) => Err(other),
        }
    }

    fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let mut kept = if self.writes.versions_dropped.iter().any(|d| d == id) {
            Vec::new()
        } else {
            read_versions(self.db, id)?
        };
        for (written, version) in &self.writes.versions {
            if written == id {
                match kept.iter_mut().find(|v| v.number == version.number) {
                    Some(old) => *old = version.clone(),
                    None => kept.push(version.clone()),
                }
            }
        }
        Ok(kept)
    }

    fn put_version(&mut self, id: &str, version: VersionRecord) {
        self.writes.versions.push((id.to_owned(), version));
    }

    fn put_story(&mut self, story: Story, ingested_at: SystemTime, placement: PlacementRecord) {
        let record = StoryRecord {
            story,
            ingested_at,
            placement,
            evicted: false,
        };
        self.writes
            .stories
            .push((record.story.id.clone(), Some(record)));
    }

    fn remove(&mut self, id: &str) {
        self.writes.stories.push((id.to_owned(), None));
        self.writes.versions_dropped.push(id.to_owned());
    }

    fn evicted(&mut self, id: &str) -> Result<(), StoreError> {
        let kept = if self.keep_evicted {
            read_stories(self.db, &[id])?.pop().flatten()
        } else {
            None
        };
        match kept {
            // Kept readable, no longer matched; its history stays too.
            Some(mut record) => {
                record.evicted = true;
                self.writes.stories.push((id.to_owned(), Some(record)));
            }
            None => self.remove(id),
        }
        Ok(())
    }
}

/// The stored records of `ids`, in one read transaction.
pub(super) fn read_stories(
    db: &Database,
    ids: &[&str],
) -> Result<Vec<Option<StoryRecord>>, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let table = txn.open_table(STORIES).map_err(backend("open stories"))?;
    ids.iter()
        .map(|&id| {
            table
                .get(id)
                .map_err(backend("read story"))?
                .map(|value| decode(value.value(), format_args!("story {id:?}")))
                .transpose()
        })
        .collect()
}

/// Every stored version of `id`, oldest first.
pub(super) fn read_versions(db: &Database, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let table = txn.open_table(VERSIONS).map_err(backend("open versions"))?;
    table
        .range((id, 0)..=(id, u32::MAX))
        .map_err(backend("read versions"))?
        .map(|row| {
            let (key, value) = row.map_err(backend("read version"))?;
            let (_, number) = key.value();
            decode(
                value.value(),
                format_args!("version {number} of story {id:?}"),
            )
        })
        .collect()
}

/// One stored story as the file has it, in the cluster it lives on in now:
/// the cluster in its record, or the one that cluster was folded into
/// (the file keeps the folds beside the clusters, committed with them).
/// A read of committed state only, in its own read transaction: it never
/// waits for the store's lock or a commit.
pub(super) fn committed_story(db: &Database, id: &str) -> Result<StoredStory, StoreError> {
    let txn = db.begin_read().map_err(backend("begin read"))?;
    let stories = txn.open_table(STORIES).map_err(backend("open stories"))?;
    let record: StoryRecord = match stories.get(id).map_err(backend("read story"))? {
        Some(value) => decode(value.value(), format_args!("story {id:?}"))?,
        None => return Err(StoreError::StoryNotFound(id.to_owned())),
    };
    let meta = txn.open_table(META).map_err(backend("open meta"))?;
    let aliases: AliasesRow = match meta.get(ALIASES_KEY).map_err(backend("read meta"))? {
        Some(value) => decode(value.value(), "the cluster aliases")?,
        None => Vec::new(),
    };
    let mut stored = record.stored();
    stored.cluster = resolve(&aliases, stored.cluster);
    Ok(stored)
}

/// The cluster `id` names now, by the folds kept in the file.
fn resolve(aliases: &[(ClusterId, ClusterId)], id: ClusterId) -> ClusterId {
    aliases
        .iter()
        .find(|(folded, _)| *folded == id)
        .map_or(id, |(_, into)| *into)
}
