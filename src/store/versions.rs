//! A story's versions: each text its id was ingested with, numbered, with
//! what it changed against the version it followed. Both backends keep
//! them; a cluster's timeline is its members' versions in time order.

use std::time::SystemTime;

use crate::dedup::changes::VersionChanges;
use crate::dedup::{ClusterId, IngestReport};
use crate::story::{StoredStory, Story};
use crate::text::agency::Agency;

/// One version of a story, as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// 1 for the first text stored under the id, then one more for each
    /// new text (a correction or an update sent under the same id).
    pub number: u32,
    /// The headline of this version.
    pub title: String,
    /// When this version says it was published, if it says.
    pub published_at: Option<SystemTime>,
    /// When this version was accepted.
    pub ingested_at: SystemTime,
    /// The client's source or feed name (may be empty).
    pub source: String,
    /// The agency its copy names, if any.
    pub agency: Option<Agency>,
    /// Length of its body in bytes.
    pub body_bytes: u64,
    /// The cluster it was placed in.
    pub cluster: ClusterId,
    /// What it changed against the version it followed: its own previous
    /// text, or the story it duplicated when it joined a cluster.
    pub changes: Option<VersionChanges>,
    /// The text of a version a newer one replaced; `None` for the current
    /// version, whose text is the stored story's.
    pub superseded_body: Option<String>,
}

impl VersionRecord {
    /// The record of `story` as just ingested, numbered `number`.
    pub fn ingested(
        number: u32,
        story: &Story,
        report: &IngestReport,
        ingested_at: SystemTime,
    ) -> VersionRecord {
        VersionRecord {
            number,
            title: story.title.clone(),
            published_at: story.published_at,
            ingested_at,
            source: story.source.clone(),
            agency: report.agency,
            body_bytes: story.body.len() as u64,
            cluster: report.cluster,
            changes: report.changes.clone(),
            superseded_body: None,
        }
    }

    /// The one version known of a story stored before versions were kept.
    pub fn only(stored: &StoredStory) -> VersionRecord {
        VersionRecord {
            number: 1,
            title: stored.story.title.clone(),
            published_at: stored.story.published_at,
            ingested_at: stored.ingested_at,
            source: stored.story.source.clone(),
            agency: crate::text::agency::detect(&stored.story.text()),
            body_bytes: stored.story.body.len() as u64,
            cluster: stored.cluster,
            changes: None,
            superseded_body: None,
        }
    }

    /// When the version says it was published, else when it was accepted.
    pub fn time(&self) -> SystemTime {
        self.published_at.unwrap_or(self.ingested_at)
    }
}

/// One version in a cluster's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// Whose version it is.
    pub story_id: String,
    /// The version.
    pub version: VersionRecord,
    /// Whether it is the story's current text.
    pub current: bool,
}

/// The versions of a cluster's members in the order the news moved:
/// by publication time (ingest time where none is given), then by ingest
/// time, story id and number, so equal times keep one order.
pub fn timeline(members: Vec<(String, Vec<VersionRecord>)>) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = members
        .into_iter()
        .flat_map(|(story_id, versions)| {
            let latest = versions.iter().map(|v| v.number).max();
            versions.into_iter().map(move |version| TimelineEntry {
                current: Some(version.number) == latest,
                story_id: story_id.clone(),
                version,
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        (
            a.version.time(),
            a.version.ingested_at,
            &a.story_id,
            a.version.number,
        )
            .cmp(&(
                b.version.time(),
                b.version.ingested_at,
                &b.story_id,
                b.version.number,
            ))
    });
    entries
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn version(number: u32, published: Option<u64>, ingested: u64) -> VersionRecord {
        VersionRecord {
            number,
            title: String::new(),
            published_at: published.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            ingested_at: UNIX_EPOCH + Duration::from_secs(ingested),
            source: String::new(),
            agency: None,
            body_bytes: 0,
            cluster: 1,
            changes: None,
            superseded_body: None,
        }
    }

    #[test]
    fn the_timeline_runs_by_publication_time_then_ingest_time() {
        let entries = timeline(vec![
            ("late-site".into(), vec![version(1, Some(50), 60)]),
            (
                "wire".into(),
                vec![version(1, Some(10), 11), version(2, None, 40)],
            ),
            ("no-time".into(), vec![version(1, None, 20)]),
        ]);
        let order: Vec<(&str, u32, bool)> = entries
            .iter()
            .map(|e| (e.story_id.as_str(), e.version.number, e.current))
            .collect();
        assert_eq!(
            order,
            [
                ("wire", 1, false),
                ("no-time", 1, true),
                ("wire", 2, true),
                ("late-site", 1, true)
            ]
        );
    }
}
