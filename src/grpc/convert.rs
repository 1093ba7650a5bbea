//! Requests into validated core values, core answers into responses.
//!
//! Every `proto` message is destructured field by field (no `..`), so a new
//! proto field fails to compile until it is handled here.

use std::time::SystemTime;

use tonic_types::FieldViolation;

use super::error::ApiError;
use super::proto;
use crate::dedup::changes::{ChangedSentence, Changes, Passage, VersionChanges};
use crate::dedup::{ClusterId, Evidence, IngestOutcome, IngestReport, Match, Placement, Relation};
use crate::names;
use crate::store::{ClusterDetail, VersionRecord};
use crate::story::{StoredStory, Story, validate_story_id};
use crate::summarize::{Budget, Summary};

/// Size limits a client can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// Longest headline accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 4096;
/// Longest `source` or `language`, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;
/// Default and maximum `page_size` of ListClusters.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// Default and maximum `max_matches` of FindDuplicates; the default is
/// also how many matches an ingest answer lists (a story re-run on
/// thousands of sites would otherwise answer with thousands).
pub const DEFAULT_MAX_MATCHES: usize = 10;
pub const MAX_MATCHES: usize = 100;

/// Whether the request needs a story id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRule {
    Required,
    Optional,
}

/// Collects field violations so a client sees all of them at once.
#[derive(Debug, Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::InvalidArgument(self.0))
        }
    }
}

/// Validates `story` (found at `field`) into a core [`Story`].
pub fn story(
    story: Option<proto::Story>,
    field: &str,
    ids: IdRule,
    limits: Limits,
) -> Result<Story, ApiError> {
    let Some(proto::Story {
        name: _,
        id,
        title,
        body,
        published_at,
        source,
        language,
        cluster: _,
        ingest_time: _,
        agency: _,
    }) = story
    else {
        return Err(ApiError::field(field, "is required"));
    };
    let mut violations = Violations::default();
    let id_given = ids == IdRule::Required || !id.is_empty();
    if let (true, Err(e)) = (id_given, validate_story_id(&id)) {
        violations.add(format!("{field}.id"), e.to_string());
    }
    if body.trim().is_empty() {
        violations.add(format!("{field}.body"), "must not be empty");
    } else if body.len() > limits.max_body_bytes {
        violations.add(
            format!("{field}.body"),
            format!(
                "must be at most {} bytes, got {}",
                limits.max_body_bytes,
                body.len()
            ),
        );
    }
    if title.len() > MAX_TITLE_BYTES {
        violations.add(
            format!("{field}.title"),
            format!("must be at most {MAX_TITLE_BYTES} bytes"),
        );
    }
    for (name, value) in [("source", &source), ("language", &language)] {
        if value.len() > MAX_LABEL_BYTES {
            violations.add(
                format!("{field}.{name}"),
                format!("must be at most {MAX_LABEL_BYTES} bytes"),
            );
        }
    }
    let published_at = match published_at.map(SystemTime::try_from).transpose() {
        // Stored times count from the Unix epoch: an earlier one could not
        // be written, and the store never takes what it cannot keep.
        Ok(Some(time)) if time < SystemTime::UNIX_EPOCH => {
            violations.add(
                format!("{field}.published_at"),
                "must be 1970-01-01T00:00:00Z or later",
            );
            None
        }
        Ok(time) => time,
        Err(e) => {
            violations.add(
                format!("{field}.published_at"),
                format!("is not a valid time: {e}"),
            );
            None
        }
    };
    violations.finish(Story {
        id,
        title,
        body,
        published_at,
        source,
        language,
    })
}

/// Validates a Summarize request.
pub fn summarize_request(
    request: proto::SummarizeRequest,
    limits: Limits,
) -> Result<(Story, Budget), ApiError> {
    use proto::summarize_request::Budget as B;
    let proto::SummarizeRequest {
        story: story_field,
        budget,
    } = request;
    let story = story(story_field, "story", IdRule::Optional, limits);
    let budget = match budget {
        None => Ok(Budget::default()),
        Some(B::MaxSentences(n)) => Budget::sentences(n as usize)
            .map_err(|e| ApiError::field("max_sentences", e.to_string())),
        Some(B::MaxWords(n)) => {
            Budget::words(n as usize).map_err(|e| ApiError::field("max_words", e.to_string()))
        }
        Some(B::Ratio(r)) => Budget::ratio(r).map_err(|e| ApiError::field("ratio", e.to_string())),
    };
    match (story, budget) {
        (Ok(story), Ok(budget)) => Ok((story, budget)),
        (Err(ApiError::InvalidArgument(mut a)), Err(ApiError::InvalidArgument(b))) => {
            a.extend(b);
            Err(ApiError::InvalidArgument(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The SummarizeResponse for `summary`.
pub fn summary_response(summary: &Summary) -> proto::SummarizeResponse {
    let sentences: Vec<proto::SummarySentence> = summary
        .sentences
        .iter()
        .map(|s| proto::SummarySentence {
            text: s.text.clone(),
            index: s.index as u32,
            start: s.start as u64,
            end: s.end as u64,
            score: s.score.total,
            parts: Some(proto::ScoreParts {
                position: s.score.position,
                centrality: s.score.centrality,
                title: s.score.title,
                form: s.score.form,
            }),
        })
        .collect();
    proto::SummarizeResponse {
        summary: summary.joined(),
        sentences,
        story_sentences: summary.story_sentences as u32,
        summary_words: summary.words as u32,
    }
}

/// `stories/{id}` → id.
pub fn story_name(name: &str, field: &str) -> Result<String, ApiError> {
    names::parse_story(name)
        .map(str::to_owned)
        .map_err(|e| ApiError::field(field, e.to_string()))
}

/// `clusters/{id}` → id.
pub fn cluster_name(name: &str, field: &str) -> Result<ClusterId, ApiError> {
    names::parse_cluster(name).map_err(|e| ApiError::field(field, e.to_string()))
}

pub fn story_resource(id: &str) -> String {
    names::story(id)
}

pub fn cluster_resource(id: ClusterId) -> String {
    names::cluster(id)
}

/// Page size per AIP-158: 0 means the default, larger than the maximum is
/// coerced to the maximum, negative is an error.
pub fn page_size(size: i32) -> Result<usize, ApiError> {
    match size {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(ApiError::field("page_size", "must not be negative")),
        n => Ok((n as usize).min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens are opaque to clients: `c` and the last cluster id seen.
pub fn page_token(token: &str) -> Result<Option<ClusterId>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    // Only a token this server issued: `c00` or `c+5` would name the same
    // page as `c0` and `c5` (found by `fuzz/`, target `requests`).
    token
        .strip_prefix('c')
        .and_then(|id| id.parse::<ClusterId>().ok().filter(|n| n.to_string() == id))
        .map(Some)
        .ok_or_else(|| ApiError::field("page_token", "is not a token this server issued"))
}

pub fn next_page_token(before: Option<ClusterId>) -> String {
    before.map(|id| format!("c{id}")).unwrap_or_default()
}

/// `max_matches`: 0 means the default; more than the maximum is an error.
pub fn max_matches(n: u32) -> Result<usize, ApiError> {
    match n as usize {
        0 => Ok(DEFAULT_MAX_MATCHES),
        n if n > MAX_MATCHES => Err(ApiError::field(
            "max_matches",
            format!("must be at most {MAX_MATCHES}"),
        )),
        n => Ok(n),
    }
}

/// The figures of a `Similarity` message, as the core names them (the
/// CLI's `--server` lines print them as it prints its own).
pub fn evidence(similarity: proto::Similarity) -> Evidence {
    let proto::Similarity {
        jaccard,
        containment,
        lede_overlap,
        title_similarity,
        word_overlap,
        hours_apart,
        head_overlap,
    } = similarity;
    Evidence {
        jaccard,
        containment,
        lede_overlap,
        title_similarity,
        word_overlap,
        head_overlap,
        hours_apart,
    }
}

fn similarity(e: &Evidence) -> proto::Similarity {
    proto::Similarity {
        jaccard: e.jaccard,
        containment: e.containment,
        lede_overlap: e.lede_overlap,
        title_similarity: e.title_similarity,
        word_overlap: e.word_overlap,
        hours_apart: e.hours_apart,
        head_overlap: e.head_overlap,
    }
}

fn relation(r: Relation) -> proto::Relation {
    match r {
        Relation::Same => proto::Relation::Same,
        Relation::Related => proto::Relation::Related,
        Relation::Unrelated => proto::Relation::Unrelated,
    }
}

fn matches(matches: &[Match]) -> Vec<proto::Match> {
    matches
        .iter()
        .map(|m| proto::Match {
            story: story_resource(&m.story_id),
            cluster: cluster_resource(m.cluster),
            relation: relation(m.relation) as i32,
            similarity: Some(similarity(&m.evidence)),
        })
        .collect()
}

pub fn ingest_response(report: &IngestReport) -> proto::IngestStoryResponse {
    let outcome = match report.outcome {
        IngestOutcome::Created => proto::IngestOutcome::Created,
        IngestOutcome::Unchanged => proto::IngestOutcome::Unchanged,
        IngestOutcome::Replaced => proto::IngestOutcome::Replaced,
    };
    proto::IngestStoryResponse {
        story: story_resource(&report.story_id),
        cluster: cluster_resource(report.cluster),
        duplicate: report.duplicate_of.is_some(),
        duplicate_of: report
            .duplicate_of
            .as_ref()
            .map(|(id, _)| story_resource(id))
            .unwrap_or_default(),
        similarity: report.duplicate_of.as_ref().map(|(_, e)| similarity(e)),
        canonical_story: story_resource(&report.canonical),
        cluster_size: report.cluster_size as u32,
        related_clusters: report
            .related
            .iter()
            .map(|&c| cluster_resource(c))
            .collect(),
        outcome: outcome as i32,
        matches: matches(&report.matches[..report.matches.len().min(DEFAULT_MAX_MATCHES)]),
        agency: agency_name(report.agency),
        match_count: u32::try_from(report.matches.len()).unwrap_or(u32::MAX),
        changes: report.changes.as_ref().map(changes),
    }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

fn passage(passage: &Passage) -> proto::Passage {
    let Passage { range, text } = passage;
    proto::Passage {
        text: text.clone(),
        start: offset(range.start),
        end: offset(range.end),
    }
}

/// The Changes message of what a version changes.
pub fn changes(version: &VersionChanges) -> proto::Changes {
    let VersionChanges { against, changes } = version;
    let Changes {
        added,
        removed,
        changed,
        top_changed,
        trimmed,
        cut,
        update_summary,
    } = changes;
    proto::Changes {
        against: story_resource(against),
        added: added.iter().map(passage).collect(),
        removed: removed.iter().map(passage).collect(),
        changed: changed
            .iter()
            .map(|c| proto::ChangedSentence {
                old: Some(passage(&c.old)),
                new: Some(passage(&c.new)),
                words_removed: c.words_removed.clone(),
                words_added: c.words_added.clone(),
            })
            .collect(),
        top_changed: *top_changed,
        trimmed: *trimmed,
        cut: *cut,
        update_summary: update_summary.iter().map(passage).collect(),
    }
}

/// The core's changes a `Changes` message carries (the CLI reads a
/// server's answers with it): `against` by story id.
pub fn version_changes(message: proto::Changes) -> VersionChanges {
    let proto::Changes {
        against,
        added,
        removed,
        changed,
        top_changed,
        trimmed,
        cut,
        update_summary,
    } = message;
    let passages = |list: Vec<proto::Passage>| list.into_iter().map(passage_of).collect();
    VersionChanges {
        against: names::story_id_of(&against).to_owned(),
        changes: Changes {
            added: passages(added),
            removed: passages(removed),
            changed: changed
                .into_iter()
                .map(|c| ChangedSentence {
                    // A server always sets both.
                    old: passage_of(c.old.unwrap_or_default()),
                    new: passage_of(c.new.unwrap_or_default()),
                    words_removed: c.words_removed,
                    words_added: c.words_added,
                })
                .collect(),
            top_changed,
            trimmed,
            cut,
            update_summary: passages(update_summary),
        },
    }
}

fn passage_of(message: proto::Passage) -> Passage {
    let proto::Passage { text, start, end } = message;
    Passage {
        range: start as usize..end as usize,
        text,
    }
}

pub fn find_response(placement: &Placement, max_matches: usize) -> proto::FindDuplicatesResponse {
    let shown = &placement.matches[..placement.matches.len().min(max_matches)];
    proto::FindDuplicatesResponse {
        duplicate: placement.duplicate_of.is_some(),
        duplicate_of: placement
            .duplicate_of
            .as_ref()
            .map(|(id, _)| story_resource(id))
            .unwrap_or_default(),
        cluster: placement.cluster.map(cluster_resource).unwrap_or_default(),
        related_clusters: placement
            .related
            .iter()
            .map(|&c| cluster_resource(c))
            .collect(),
        matches: matches(shown),
        match_count: u32::try_from(placement.matches.len()).unwrap_or(u32::MAX),
    }
}

/// A core story as a `Story` message (output-only fields left empty).
pub fn story_message(story: Story) -> proto::Story {
    let Story {
        id,
        title,
        body,
        published_at,
        source,
        language,
    } = story;
    proto::Story {
        name: story_resource(&id),
        id,
        title,
        body,
        published_at: published_at.map(Into::into),
        source,
        language,
        cluster: String::new(),
        ingest_time: None,
        agency: String::new(),
    }
}

pub fn stored_story(stored: StoredStory) -> proto::Story {
    let StoredStory {
        story,
        cluster,
        ingested_at,
    } = stored;
    proto::Story {
        cluster: cluster_resource(cluster),
        ingest_time: Some(ingested_at.into()),
        agency: agency_name(crate::text::agency::detect(&story.text())),
        ..story_message(story)
    }
}

/// The agency's name, empty for none.
fn agency_name(agency: Option<crate::text::agency::Agency>) -> String {
    agency.map(|a| a.as_str().to_owned()).unwrap_or_default()
}

/// The Cluster message; `summary` is given for GetCluster and left out of
/// ListClusters together with the canonical body.
pub fn cluster(detail: ClusterDetail, summary: Option<proto::SummarizeResponse>) -> proto::Cluster {
    let ClusterDetail {
        view,
        canonical,
        titles,
        // Used for the summary, which the caller made.
        learned_furniture: _,
        timeline,
    } = detail;
    let with_body = summary.is_some();
    let canonical_headline =
        crate::text::headline::story_headline(&canonical.story.title, &canonical.story.text())
            .unwrap_or_default()
            .to_owned();
    let mut canonical = stored_story(canonical);
    if !with_body {
        canonical.body.clear();
    }
    proto::Cluster {
        name: cluster_resource(view.id),
        canonical_story: story_resource(&view.canonical),
        canonical_reason: view.policy.as_str().to_owned(),
        canonical: Some(canonical),
        summary,
        members: view
            .members
            .iter()
            .zip(titles)
            .map(|(m, title)| proto::ClusterMember {
                story: story_resource(&m.meta.id),
                title,
                similarity_to_canonical: Some(similarity(&m.evidence_to_canonical)),
                published_at: m.meta.published_at.map(Into::into),
                ingest_time: Some(m.meta.ingested_at.into()),
                body_bytes: m.meta.body_bytes as u64,
            })
            .collect(),
        related_clusters: view.related.iter().map(|&c| cluster_resource(c)).collect(),
        create_time: Some(view.created.into()),
        update_time: Some(view.updated.into()),
        canonical_headline,
        timeline: timeline
            .into_iter()
            .map(|entry| story_version(&entry.story_id, entry.version, entry.current))
            .collect(),
    }
}

/// One version of story `id`; `current` for the story's present text.
pub fn story_version(id: &str, version: VersionRecord, current: bool) -> proto::StoryVersion {
    let VersionRecord {
        number,
        title,
        published_at,
        ingested_at,
        source,
        agency,
        body_bytes,
        cluster,
        changes: version_changes,
        superseded_body,
    } = version;
    proto::StoryVersion {
        story: story_resource(id),
        version: number,
        title,
        published_at: published_at.map(Into::into),
        ingest_time: Some(ingested_at.into()),
        source,
        agency: agency_name(agency),
        body_bytes,
        cluster: cluster_resource(cluster),
        changes: version_changes.as_ref().map(changes),
        current,
        body: superseded_body.unwrap_or_default(),
    }
}

/// A story's versions, oldest first; the last is its current text.
pub fn story_versions(id: &str, versions: Vec<VersionRecord>) -> proto::ListStoryVersionsResponse {
    let latest = versions.iter().map(|v| v.number).max();
    proto::ListStoryVersionsResponse {
        versions: versions
            .into_iter()
            .map(|v| {
                let current = Some(v.number) == latest;
                story_version(id, v, current)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_this_server_issued_are_taken() {
        assert_eq!(page_token("").ok(), Some(None));
        assert_eq!(page_token(&next_page_token(Some(42))).ok(), Some(Some(42)));
        assert_eq!(page_token("c0").ok(), Some(Some(0)));
        for other in ["c00", "c042", "c+42", "c", "42", "c4 2"] {
            assert!(page_token(other).is_err(), "{other}");
        }
    }
}
