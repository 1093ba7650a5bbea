//! The one engine both embedded backends run: the matching index in
//! memory, decisions and versions worked out here once, and the records
//! (stories and their versions) wherever the backend keeps them, behind
//! [`Records`]. [`super::MemoryStore`] keeps them in maps;
//! [`super::DurableStore`] buffers them for one redb transaction, which it
//! commits (and rolls the index back from) itself.
//!
//! No locking here: a backend calls these functions holding whatever
//! guards its state, on the blocking pool.

use std::num::NonZeroUsize;
use std::time::SystemTime;

use super::versions::{self, VersionRecord};
use super::{ClusterDetail, ClusterPage, StoreError};
use crate::dedup::changes::{VersionChanges, version_changes};
use crate::dedup::furniture::{self, Generation, LearnedFurniture};
use crate::dedup::{
    ClusterId, ClusterView, Index, IngestOutcome, IngestReport, Placement, PlacementRecord,
};
use crate::parallel::map_in_order;
use crate::story::{PreparedStory, StoredStory, Story};

/// Where a backend keeps its stories and their versions. Reads see the
/// writes of the unit of work in progress.
pub(super) trait Records {
    /// A story's text, `None` when it is not stored or does not read (a
    /// damaged record: the answer then says nothing of changes).
    fn story(&self, id: &str) -> Option<Story>;

    /// The stored stories `ids`, in order (`None` for one not stored).
    fn stored(&self, ids: &[&str]) -> Result<Vec<Option<StoredStory>>, StoreError>;

    /// The number of the latest version kept of `id`, with its record
    /// (`None` when that record is damaged: the next version is numbered
    /// after it all the same); `None` when none is kept.
    fn last_version(&self, id: &str) -> Result<Option<(u32, Option<VersionRecord>)>, StoreError>;

    /// Every version kept of `id`, oldest first (empty when none is).
    fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError>;

    /// Puts a version of `id` (one with the same number is replaced).
    fn put_version(&mut self, id: &str, version: VersionRecord);

    /// Puts a story's current text with where the index placed it.
    fn put_story(&mut self, story: Story, ingested_at: SystemTime, placement: PlacementRecord);

    /// Removes a story and its versions.
    fn remove(&mut self, id: &str);

    /// A story retention took out of the index: removed, or kept readable
    /// where the backend keeps evicted stories.
    fn evicted(&mut self, id: &str) -> Result<(), StoreError>;
}

/// Ingests one story: the index decides, and the new version is put with
/// what it changes against the version it follows. A re-send of the same
/// text puts nothing.
pub(super) fn ingest(
    index: &mut Index,
    records: &mut impl Records,
    prepared: PreparedStory,
    now: SystemTime,
) -> Result<IngestReport, StoreError> {
    Ok(put_ingested(index, records, prepared, now, Compare::Now)?.0)
}

/// Ingests `batch` in order, as [`ingest`] one at a time would, with what
/// each new version changes worked out on up to `threads` threads once
/// the batch is placed: that comparison is most of an ingest's work and
/// depends on no later decision, only on the furniture the index had
/// learned at the story's ingest, which [`LearnedFurniture::as_of`] still
/// answers.
pub(super) fn ingest_group(
    index: &mut Index,
    records: &mut impl Records,
    batch: Vec<PreparedStory>,
    now: SystemTime,
    threads: NonZeroUsize,
) -> Result<Vec<IngestReport>, StoreError> {
    // One story, or one thread: nothing to spread, so no patching after.
    let compare = if threads.get() > 1 && batch.len() > 1 {
        Compare::Later
    } else {
        Compare::Now
    };
    let mut reports = Vec::with_capacity(batch.len());
    let mut later = Vec::new();
    for prepared in batch {
        let (report, pending) = put_ingested(index, records, prepared, now, compare)?;
        if let Some(pending) = pending {
            later.push((reports.len(), pending));
        }
        reports.push(report);
    }
    let learned = index.learned_furniture();
    let compared = map_in_order(later, threads, |(at, pending)| {
        let changes = pending.followed.compare(learned, pending.generation);
        (at, pending.number, changes)
    });
    for (at, number, changes) in compared {
        let report = &mut reports[at];
        put_changes(records, &report.story_id, number, &changes)?;
        report.changes = Some(changes);
    }
    Ok(reports)
}

/// When an ingest works out what its new version changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Before the version is put, which then holds them.
    Now,
    /// Later, by the caller: the version is put without them.
    Later,
}

/// A version put without its changes ([`Compare::Later`]): its number,
/// the texts to compare and the furniture generation to compare them as
/// of.
struct PendingChanges {
    number: u32,
    followed: FollowedVersion,
    generation: Generation,
}

/// The work of one ingest: decide, put the story and its version. With
/// [`Compare::Later`] the version's changes are left for the caller, and
/// what it needs for them is returned.
fn put_ingested(
    index: &mut Index,
    records: &mut impl Records,
    prepared: PreparedStory,
    now: SystemTime,
    compare: Compare,
) -> Result<(IngestReport, Option<PendingChanges>), StoreError> {
    // Read only for an id sent again with new text: a re-send of the same
    // text changes nothing and reads nothing.
    let id = &prepared.story.id;
    let previous = index
        .story_meta(id)
        .filter(|meta| meta.content_hash != prepared.story.content_hash())
        .and_then(|meta| {
            Some(StoredStory {
                story: records.story(id)?,
                cluster: index.story_cluster(id)?,
                ingested_at: meta.ingested_at,
            })
        });
    let (story, mut report) = prepared.ingest_into(index, now);
    let previous_text = previous.as_ref().map(|p| p.story.clone());
    let followed = FollowedVersion::of(&report, previous_text, &story, |id| records.story(id));
    let generation = index.learned_furniture().generation();
    let followed = match (compare, followed) {
        (Compare::Now, Some(followed)) => {
            report.changes = Some(followed.compare(index.learned_furniture(), generation));
            None
        }
        (_, followed) => followed,
    };
    if report.outcome == IngestOutcome::Unchanged {
        return Ok((report, None));
    }
    let placement = index
        .placement_record(&story.id)
        .ok_or_else(|| StoreError::Inconsistent("an ingested story is not indexed".into()))?;
    // A story stored before versions were kept has its one version made
    // from its record.
    let last = match records.last_version(&story.id)? {
        Some(last) => Some(last),
        None => previous.as_ref().map(|p| (1, Some(VersionRecord::only(p)))),
    };
    let number = last.as_ref().map_or(1, |(n, _)| n + 1);
    if let (Some((_, Some(mut superseded))), Some(previous)) = (last, previous) {
        superseded.superseded_body = Some(previous.story.body);
        records.put_version(&story.id, superseded);
    }
    let version = VersionRecord::ingested(number, &story, &report, now);
    records.put_version(&story.id, version);
    records.put_story(story, now, placement);
    let pending = followed.map(|followed| PendingChanges {
        number,
        followed,
        generation,
    });
    Ok((report, pending))
}

/// Puts `changes` into version `number` of story `id`, as it is now (a
/// later ingest of the same id may have marked it superseded since).
fn put_changes(
    records: &mut impl Records,
    id: &str,
    number: u32,
    changes: &VersionChanges,
) -> Result<(), StoreError> {
    let version = match records.last_version(id)? {
        Some((last, Some(version))) if last == number => Some(version),
        _ => records
            .versions(id)?
            .into_iter()
            .find(|version| version.number == number),
    };
    let mut version = version.ok_or_else(|| {
        StoreError::Inconsistent(format!("version {number} of {id:?}, just put, is not kept"))
    })?;
    version.changes = Some(changes.clone());
    records.put_version(id, version);
    Ok(())
}

/// Removes a story from the index and the records.
pub(super) fn delete(
    index: &mut Index,
    records: &mut impl Records,
    id: &str,
    now: SystemTime,
) -> Result<(), StoreError> {
    let indexed = index.remove(id, now).is_some();
    // An evicted story kept readable is in the records only.
    if !indexed && records.stored(&[id])?.pop().flatten().is_none() {
        return Err(StoreError::StoryNotFound(id.to_owned()));
    }
    records.remove(id);
    Ok(())
}

/// Takes the stories `ids` (retention's: see [`Index::stories_before`])
/// out of the index; returns how many.
pub(super) fn evict(
    index: &mut Index,
    records: &mut impl Records,
    ids: &[String],
    now: SystemTime,
) -> Result<usize, StoreError> {
    for id in ids {
        index.remove(id, now);
        records.evicted(id)?;
    }
    Ok(ids.len())
}

/// Where a story would go, without storing anything. A story id, when
/// set, leaves that stored story out of the matches.
pub(super) fn find_duplicates(index: &Index, prepared: &PreparedStory) -> Placement {
    let exclude = (!prepared.story.id.is_empty()).then_some(prepared.story.id.as_str());
    index.place(
        &prepared.fingerprint_for(index),
        prepared.story.published_at,
        exclude,
    )
}

/// One stored story, in the cluster the index has it in now (a story
/// folded in when two clusters merged keeps its first cluster in its own
/// record).
pub(super) fn get_story(
    index: &Index,
    records: &impl Records,
    id: &str,
) -> Result<StoredStory, StoreError> {
    let mut stored = records
        .stored(&[id])?
        .pop()
        .flatten()
        .ok_or_else(|| StoreError::StoryNotFound(id.to_owned()))?;
    if let Some(cluster) = index.story_cluster(id) {
        stored.cluster = cluster;
    }
    Ok(stored)
}

/// A stored story's versions, oldest first: those kept, else the one its
/// record holds (a story stored before versions were kept).
pub(super) fn story_versions(
    records: &impl Records,
    id: &str,
) -> Result<Vec<VersionRecord>, StoreError> {
    let versions = records.versions(id)?;
    if !versions.is_empty() {
        return Ok(versions);
    }
    let stored = records
        .stored(&[id])?
        .pop()
        .flatten()
        .ok_or_else(|| StoreError::StoryNotFound(id.to_owned()))?;
    Ok(vec![VersionRecord::only(&stored)])
}

/// One cluster with its timeline.
pub(super) fn get_cluster(
    index: &Index,
    records: &impl Records,
    id: ClusterId,
) -> Result<ClusterDetail, StoreError> {
    let view = index.cluster(id).ok_or(StoreError::ClusterNotFound(id))?;
    detail(index, records, view, true)
}

/// Up to `limit` clusters older than `before`, newest first.
pub(super) fn list_clusters(
    index: &Index,
    records: &impl Records,
    before: Option<ClusterId>,
    limit: usize,
) -> Result<ClusterPage, StoreError> {
    // One more than asked tells whether another page exists.
    let mut views = index.clusters_before(before, limit + 1);
    let more = views.len() > limit;
    views.truncate(limit);
    let next_before = if more {
        views.last().map(|v| v.id)
    } else {
        None
    };
    let clusters = views
        .into_iter()
        .map(|view| detail(index, records, view, false))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClusterPage {
        clusters,
        next_before,
    })
}

/// A cluster's detail; its timeline too when `with_timeline`.
fn detail(
    index: &Index,
    records: &impl Records,
    view: ClusterView,
    with_timeline: bool,
) -> Result<ClusterDetail, StoreError> {
    let ids: Vec<&str> = std::iter::once(view.canonical.as_str())
        .chain(view.members.iter().map(|m| m.meta.id.as_str()))
        .collect();
    let mut stored = records.stored(&ids)?.into_iter();
    let canonical = stored.next().flatten().ok_or_else(|| {
        StoreError::Inconsistent(format!("canonical story {:?} has no text", view.canonical))
    })?;
    let members: Vec<Option<StoredStory>> = stored.collect();
    let timeline = if with_timeline {
        let mut histories = Vec::with_capacity(members.len());
        for member in members.iter().flatten() {
            let id = &member.story.id;
            let mut kept = match records.versions(id) {
                Ok(kept) => kept,
                // A damaged history leaves the timeline the current
                // version; ListStoryVersions reports it as DATA_LOSS.
                Err(StoreError::Damaged(record)) => {
                    tracing::warn!(%record, "damaged version left out of a timeline");
                    Vec::new()
                }
                Err(other) => return Err(other),
            };
            if kept.is_empty() {
                kept.push(VersionRecord::only(member));
            }
            for version in &mut kept {
                // The timeline says what changed; the old texts are for
                // one story's own history.
                version.superseded_body = None;
            }
            histories.push((id.clone(), kept));
        }
        versions::timeline(histories)
    } else {
        Vec::new()
    };
    let titles = members
        .into_iter()
        .map(|m| m.map(|m| m.story.title).unwrap_or_default())
        .collect();
    let learned_furniture =
        furniture::learned_lines(&canonical.story.text(), index.learned_furniture());
    Ok(ClusterDetail {
        view,
        canonical,
        titles,
        learned_furniture,
        timeline,
    })
}

/// The two texts an ingest's changes come from.
#[derive(Debug)]
struct FollowedVersion {
    against: String,
    old: Story,
    new: Story,
}

impl FollowedVersion {
    /// The version an ingested story follows: its own earlier text
    /// (`previous`) when its id came with new text, else the story it
    /// duplicates, which `stored` looks up. `None` when it follows none, or
    /// that version cannot be read.
    fn of(
        report: &IngestReport,
        previous: Option<Story>,
        story: &Story,
        stored: impl Fn(&str) -> Option<Story>,
    ) -> Option<FollowedVersion> {
        let (against, old) = match (report.outcome, previous, &report.duplicate_of) {
            (IngestOutcome::Replaced, Some(previous), _) => (story.id.clone(), previous),
            (IngestOutcome::Created, _, Some((duplicated, _))) => {
                (duplicated.clone(), stored(duplicated)?)
            }
            _ => return None,
        };
        Some(FollowedVersion {
            against,
            old,
            new: story.clone(),
        })
    }

    /// What the new version changes against the old, leaving out what
    /// `learned` counted as furniture at `generation`. CPU work, done once
    /// per new version while the store is locked so that the changes are
    /// committed with the version.
    fn compare(&self, learned: &LearnedFurniture, generation: Generation) -> VersionChanges {
        version_changes(
            &self.against,
            (&self.old.title, &self.old.body),
            (&self.new.title, &self.new.body),
            &|line| learned.as_of(line, generation),
        )
    }
}
