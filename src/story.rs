//! The story as the core sees it, validated, whatever transport it came by.

use std::time::SystemTime;

use std::borrow::Cow;

use xxhash_rust::xxh3::Xxh3;

use crate::dedup::furniture::{self, LearnedFurniture};
use crate::dedup::{ClusterId, Fingerprint, Index, IngestOutcome, IngestReport, StoryMeta};
use crate::text::headline::HeadlineFrom;
use crate::text::markup::PlainText;

/// Longest story id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Why a story id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoryIdError {
    /// The id is empty.
    #[error("must not be empty")]
    Empty,
    /// The id is longer than [`MAX_ID_BYTES`].
    #[error("must be at most {MAX_ID_BYTES} bytes, got {0}")]
    TooLong(usize),
    /// The id holds `/` (it would break `stories/{id}`), a control
    /// character, or an invisible formatting character.
    #[error(
        "must not contain '/', control characters or invisible formatting characters \
         (bidirectional controls, zero-width characters)"
    )]
    BadCharacter,
}

/// Characters that change how text displays without showing themselves
/// (Unicode's format characters): bidirectional controls turn `story-1` into
/// what reads as another id, zero-width ones make two ids that look alike.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Checks a client's story id.
pub fn validate_story_id(id: &str) -> Result<(), StoryIdError> {
    if id.is_empty() {
        Err(StoryIdError::Empty)
    } else if id.len() > MAX_ID_BYTES {
        Err(StoryIdError::TooLong(id.len()))
    } else if id
        .chars()
        .any(|c| c == '/' || c.is_control() || is_invisible_format(c))
    {
        Err(StoryIdError::BadCharacter)
    } else {
        Ok(())
    }
}

/// A news story.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Story {
    /// The client's id (may be empty where no id is needed).
    pub id: String,
    /// The headline (may be empty).
    pub title: String,
    /// The text.
    pub body: String,
    /// Publication time, if known.
    pub published_at: Option<SystemTime>,
    /// Source or feed name (may be empty).
    pub source: String,
    /// BCP-47 language tag (may be empty).
    pub language: String,
}

impl Story {
    /// The body as a reader sees it: an HTML body's text (see
    /// [`crate::text::markup`]), else the body itself. What summaries and
    /// matching read.
    pub fn text(&self) -> Cow<'_, str> {
        PlainText::of(&self.body).into_text()
    }

    /// A hash of the headline and body: equal for a re-send, different for a
    /// new version.
    pub fn content_hash(&self) -> u64 {
        let mut hasher = Xxh3::new();
        hasher.update(self.title.as_bytes());
        hasher.update(&[0]);
        hasher.update(self.body.as_bytes());
        hasher.digest()
    }

    /// What the near-duplicate index keeps of this story, accepted at
    /// `ingested_at`.
    pub fn meta(&self, ingested_at: SystemTime) -> StoryMeta {
        self.meta_headed(
            ingested_at,
            crate::text::headline::headline_from(&self.title, &self.text()),
        )
    }

    /// [`Story::meta`] with where its headline comes from already known.
    fn meta_headed(&self, ingested_at: SystemTime, headline: HeadlineFrom) -> StoryMeta {
        StoryMeta {
            id: self.id.clone(),
            content_hash: self.content_hash(),
            body_bytes: self.body.len(),
            published_at: self.published_at,
            ingested_at,
            headline,
        }
    }
}

/// A story with its fingerprint computed: the CPU-heavy part of matching,
/// done before any lock or transaction is taken.
#[derive(Debug, Clone)]
pub struct PreparedStory {
    /// The story.
    pub story: Story,
    /// Its matching fingerprint, without the lines of `left_out`.
    fingerprint: Fingerprint,
    /// Those of its `lines` an index had learned as furniture when it was
    /// prepared (see [`PreparedStory::against`]); empty for
    /// [`PreparedStory::new`].
    left_out: Vec<u64>,
    /// Hashes of its short lines, which the index counts to learn furniture
    /// (see [`crate::dedup::furniture`]).
    pub lines: Vec<u64>,
    /// Its headline (see [`crate::text::headline::story_headline`]).
    pub headline: Option<String>,
    headline_from: HeadlineFrom,
}

impl PreparedStory {
    /// Fingerprints `story`. CPU-bound: call it off the async executor.
    pub fn new(story: Story) -> PreparedStory {
        PreparedStory::without(story, |_| false)
    }

    /// Fingerprints `story` without the lines `learned` counts as
    /// furniture now: the work [`PreparedStory::ingest_into`] would
    /// otherwise do one story at a time, done ahead where many stories are
    /// prepared at once. Only the story's own short lines are ever asked
    /// about, so the fingerprint is the one an ingest would make whenever
    /// the index has learned the same of them by then, and it is checked
    /// that it has (else made again).
    pub fn against(story: Story, learned: &LearnedFurniture) -> PreparedStory {
        PreparedStory::without(story, |line| learned.is_furniture(line))
    }

    /// [`PreparedStory::against`] `learned` when it is given, else
    /// [`PreparedStory::new`]: the fingerprint made ahead pays only where
    /// other threads would otherwise wait for the ordered ingest, and on
    /// one thread it is work the ingest may do again.
    pub fn ahead(story: Story, learned: Option<&LearnedFurniture>) -> PreparedStory {
        match learned {
            Some(learned) => PreparedStory::against(story, learned),
            None => PreparedStory::new(story),
        }
    }

    /// The story fingerprinted once, without those of its short lines
    /// `learned` says are furniture.
    fn without(story: Story, learned: impl Fn(u64) -> bool) -> PreparedStory {
        let text = story.text();
        let lines = furniture::short_lines(&text);
        let left_out: Vec<u64> = lines.iter().copied().filter(|&l| learned(l)).collect();
        let mut fingerprint = Fingerprint::with_learned_furniture(&story.title, &text, &|line| {
            left_out.contains(&line)
        });
        let (headline, headline_from) =
            crate::text::headline::story_headline_from(&story.title, &text);
        fingerprint.headline = headline_from;
        let headline = headline.map(str::to_owned);
        drop(text);
        PreparedStory {
            story,
            fingerprint,
            left_out,
            lines,
            headline,
            headline_from,
        }
    }

    /// The fingerprint with the furniture `index` has learned left out:
    /// made again only when the index has learned other of the story's
    /// lines than it was made without.
    pub fn fingerprint_for(&self, index: &Index) -> Fingerprint {
        self.relearned(index)
            .unwrap_or_else(|| self.fingerprint.clone())
    }

    /// The fingerprint made again without what `index` has learned, when
    /// that is not what it was made without.
    fn relearned(&self, index: &Index) -> Option<Fingerprint> {
        let learned = index.learned_furniture();
        let same = self
            .lines
            .iter()
            .all(|&line| learned.is_furniture(line) == self.left_out.contains(&line));
        (!same).then(|| {
            let mut fingerprint =
                Fingerprint::with_learned_furniture(&self.story.title, &self.story.text(), &|l| {
                    learned.is_furniture(l)
                });
            fingerprint.headline = self.headline_from;
            fingerprint
        })
    }

    /// Ingests the story into `index` at `now`, leaving out learned
    /// furniture and counting its short lines under the cluster it joined.
    pub fn ingest_into(self, index: &mut Index, now: SystemTime) -> (Story, IngestReport) {
        let fingerprint = self.relearned(index).unwrap_or(self.fingerprint);
        let report = index.ingest(self.story.meta_headed(now, self.headline_from), fingerprint);
        if report.outcome != IngestOutcome::Unchanged {
            index.learn_furniture(report.cluster, &self.lines);
        }
        (self.story, report)
    }
}

/// A stored story with what the index says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStory {
    /// The story as submitted.
    pub story: Story,
    /// Its cluster.
    pub cluster: ClusterId,
    /// When this version was accepted.
    pub ingested_at: SystemTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::IndexConfig;

    const OFFER: &str = "Get the morning briefing in your inbox";

    fn story(id: &str, topic: &str, with_offer: bool) -> Story {
        let mut body = format!(
            "The {topic} committee met on Monday and approved a plan for the {topic} after a long \
             debate. Officials said the {topic} plan would cost less than feared."
        );
        if with_offer {
            body = format!("{body}\n\n{OFFER}");
        }
        Story {
            id: id.into(),
            body,
            ..Story::default()
        }
    }

    /// An index that learns the offer as furniture once `teach` stories
    /// on different topics carried it.
    fn index_taught(teach: usize) -> Index {
        let mut index = Index::new(IndexConfig::default());
        let topics = ["harbour", "railway", "museum", "glacier", "vineyard"];
        for (i, topic) in topics.iter().take(teach).enumerate() {
            PreparedStory::new(story(&format!("t{i}"), topic, true))
                .ingest_into(&mut index, SystemTime::UNIX_EPOCH);
        }
        index
    }

    /// Prepared ahead against what an index had learned, or when it was
    /// ingested: the same fingerprint and the same answer, whether the
    /// index learned more in between or not.
    #[test]
    fn prepared_ahead_ingests_as_prepared_at_ingest() {
        for (taught_ahead, taught_at_ingest) in [(0, 0), (0, 4), (4, 4), (2, 5), (4, 0)] {
            let ahead = index_taught(taught_ahead);
            let offer = crate::text::furniture::line_hash(OFFER);
            assert_eq!(
                ahead.learned_furniture().is_furniture(offer),
                taught_ahead >= 3
            );
            let prepared =
                PreparedStory::against(story("s", "ferry", true), ahead.learned_furniture());
            let (mut one, mut other) = (
                index_taught(taught_at_ingest),
                index_taught(taught_at_ingest),
            );
            let plain = PreparedStory::new(story("s", "ferry", true));
            assert_eq!(
                prepared.fingerprint_for(&one),
                plain.fingerprint_for(&other),
                "{taught_ahead} then {taught_at_ingest}"
            );
            let at = SystemTime::UNIX_EPOCH;
            assert_eq!(
                prepared.ingest_into(&mut one, at).1,
                plain.ingest_into(&mut other, at).1,
                "{taught_ahead} then {taught_at_ingest}"
            );
        }
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(validate_story_id(""), Err(StoryIdError::Empty));
        assert_eq!(validate_story_id("a/b"), Err(StoryIdError::BadCharacter));
        assert_eq!(
            validate_story_id(&"x".repeat(300)),
            Err(StoryIdError::TooLong(300))
        );
        assert_eq!(validate_story_id("reuters-2026-11-27-geneva"), Ok(()));
        for invisible in ["a\u{202E}b", "a\u{200B}b", "\u{FEFF}ab", "a\u{2066}b"] {
            assert_eq!(
                validate_story_id(invisible),
                Err(StoryIdError::BadCharacter),
                "{invisible:?}"
            );
        }
        // Letters of any script stay welcome.
        assert_eq!(validate_story_id("خبر-١"), Ok(()));
        assert_eq!(validate_story_id("Zürich-nachricht"), Ok(()));
    }

    #[test]
    fn content_hash_separates_title_from_body() {
        let a = Story {
            title: "ab".into(),
            body: "c".into(),
            ..Story::default()
        };
        let b = Story {
            title: "a".into(),
            body: "bc".into(),
            ..Story::default()
        };
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
