//! Pairwise evidence between two fingerprints and the decision a wire editor
//! would make from it: SAME (versions of one report), RELATED (same event,
//! different story) or UNRELATED.

use std::time::{Duration, SystemTime};

use textdistance::{Algorithm, SorensenDice};

use super::fingerprint::{Fingerprint, LEDE_WORDS};
use super::sample::Sample;

/// How two stories relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    /// Versions of one report: a feed shows only one.
    Same,
    /// Different stories on the same subject or event: a feed shows both.
    Related,
    /// Nothing worth linking.
    Unrelated,
}

/// The figures behind a decision, each in [0, 1]. Serialized as the
/// `similarity` of the CLI's JSON lines (the file keeps its own row: see
/// `store::durable::records`).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Evidence {
    /// Jaccard similarity of the shingle sets.
    pub jaccard: f64,
    /// Shared shingles over the smaller set: high for trimmed versions.
    pub containment: f64,
    /// Share of each lede found in the other story, averaged: low for a
    /// follow-up that repeats background under new top news.
    pub lede_overlap: f64,
    /// Sørensen–Dice similarity of the headline words (0 if either is empty).
    pub title_similarity: f64,
    /// Share of the smaller story's distinct content words found in the
    /// other: high for a rewrite of the same report (same names, places and
    /// facts in other sentences), lower for a different story that repeats
    /// some background.
    pub word_overlap: f64,
    /// Share of the longer story's head (its first quarter) found in the
    /// shorter: low when the longer one is a different story that carries
    /// the other below its own top. Measured when the longer story has 600
    /// or more words and its head is in the samples; absent otherwise, and
    /// on figures recorded before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_overlap: Option<f64>,
    /// Hours between the two stories' publication times, when both have
    /// one (ingest times say nothing about the news: a batch job ingests a
    /// week of copy in a minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours_apart: Option<f64>,
}

/// Bodies this alike are versions of one story whatever else differs.
const SAME_JACCARD: f64 = 0.7;
/// A rewrite or a trimmed version: most of the smaller story's shingles
/// are in the other...
const SAME_CONTAINMENT: f64 = 0.5;
/// ...and the two use the same words...
const SAME_WORD_OVERLAP: f64 = 0.85;
/// ...and some of their ledes agree: a follow-up repeats background but
/// leads with new news.
const SAME_LEDE: f64 = 0.1;
/// A trimmed version: the smaller story lies almost whole inside the other
/// and starts the same way (its word frequencies differ, being shorter).
const TRIMMED_CONTAINMENT: f64 = 0.9;
const TRIMMED_LEDE: f64 = 0.5;
/// ...or its top is the other's top, which is counted exactly, and most of
/// it is in the other. The sampled containment of a brief in a long story
/// rests on few elements (about 14 for a 120-word brief against a story
/// sampled at one in eight), so the exact lede lets it stand lower.
const TRIMMED_TOP_LEDE: f64 = 0.9;
const TRIMMED_TOP_CONTAINMENT: f64 = 0.6;
/// Below this share of the longer story's head found in the shorter, the
/// longer one is a new story with the other below its top (a column that
/// appends an earlier item, a follow-up that quotes the first report
/// whole), not a version of it...
const NEW_STORY_HEAD: f64 = 0.1;
/// ...when that head, a quarter of the story, is 150 words or more: several
/// paragraphs of new top, not the one a write-through adds.
const NEW_STORY_MIN_SHINGLES: u64 = 600;
/// Text this alike is a re-run, however long after the first it appears.
const RERUN_JACCARD: f64 = 0.9;
/// The default for [`Evidence::relation_within`]: a story that reuses an
/// earlier one's text more than a day after it is a second-day story.
pub const DEFAULT_FOLLOW_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Enough shared text to link two stories as related.
const RELATED_CONTAINMENT: f64 = 0.05;
/// Shared templates (sports previews, show intros): the ledes match, little
/// else does, and the vocabularies differ. Not related.
const TEMPLATE_LEDE: f64 = 0.9;
const TEMPLATE_MAX_CONTAINMENT: f64 = 0.3;
const TEMPLATE_MAX_WORD_OVERLAP: f64 = 0.5;

impl Evidence {
    /// Identical texts: every figure 1 (used for a story against itself).
    pub const IDENTICAL: Evidence = Evidence {
        jaccard: 1.0,
        containment: 1.0,
        lede_overlap: 1.0,
        title_similarity: 1.0,
        word_overlap: 1.0,
        head_overlap: Some(1.0),
        hours_apart: None,
    };

    /// These figures with the time between the stories' publication
    /// times, when both are known.
    pub fn with_publication_times(self, a: Option<SystemTime>, b: Option<SystemTime>) -> Evidence {
        let hours_apart = a.zip(b).map(|(a, b)| {
            let apart = a.duration_since(b).unwrap_or_else(|e| e.duration());
            apart.as_secs_f64() / 3600.0
        });
        Evidence {
            hours_apart,
            ..self
        }
    }

    /// The decision with the default follow-up window
    /// ([`DEFAULT_FOLLOW_UP_AFTER`]).
    pub fn relation(&self) -> Relation {
        self.relation_within(DEFAULT_FOLLOW_UP_AFTER)
    }

    /// The decision these figures support, for stories published more than
    /// `follow_up_after` apart being follow-ups unless their text is a
    /// re-run. The text thresholds were set on the labelled CNN/DailyMail
    /// development pairs and checked on the wire development set (see the
    /// README).
    pub fn relation_within(&self, follow_up_after: Duration) -> Relation {
        let rewrite = self.containment >= SAME_CONTAINMENT
            && self.word_overlap >= SAME_WORD_OVERLAP
            && self.lede_overlap >= SAME_LEDE;
        let template = self.lede_overlap >= TEMPLATE_LEDE
            && self.containment < TEMPLATE_MAX_CONTAINMENT
            && self.word_overlap < TEMPLATE_MAX_WORD_OVERLAP;
        let trimmed = (self.containment >= TRIMMED_CONTAINMENT
            && self.lede_overlap >= TRIMMED_LEDE)
            || (self.containment >= TRIMMED_TOP_CONTAINMENT
                && self.lede_overlap >= TRIMMED_TOP_LEDE);
        let new_story_on_top = self
            .head_overlap
            .is_some_and(|share| share < NEW_STORY_HEAD);
        let same_text = self.jaccard >= SAME_JACCARD || ((rewrite || trimmed) && !new_story_on_top);
        let later_day = self.published_apart_over(follow_up_after);
        if same_text && (self.jaccard >= RERUN_JACCARD || !later_day) {
            Relation::Same
        } else if same_text || (self.containment >= RELATED_CONTAINMENT && !template) {
            Relation::Related
        } else {
            Relation::Unrelated
        }
    }

    /// Whether both stories carry a publication time and the two are more
    /// than `window` apart.
    pub fn published_apart_over(&self, window: Duration) -> bool {
        self.hours_apart
            .is_some_and(|hours| hours * 3600.0 > window.as_secs_f64())
    }

    /// A single figure to rank matches of the same relation.
    pub fn strength(&self) -> f64 {
        (self.jaccard + self.containment + self.lede_overlap) / 3.0
    }
}

/// Compares two fingerprints on their shingle and word samples (see
/// [`Evidence::with_publication_times`] for the time between them).
pub fn compare(a: &Fingerprint, b: &Fingerprint) -> Evidence {
    let (longer, shorter) = if a.shingle_count >= b.shingle_count {
        (a, b)
    } else {
        (b, a)
    };
    // The head is measured only where it is long enough to be a story of
    // its own: on shorter copy a quarter is a paragraph, and a paragraph
    // moved to the top (or a one-paragraph write-through) is still the same
    // story. One pass gives the body overlap and the head's.
    let measure_head = u64::from(longer.shingle_count) >= NEW_STORY_MIN_SHINGLES;
    let (body, head) = longer
        .shingle_sample()
        .overlaps(&shorter.shingle_sample(), |i| {
            measure_head && longer.is_head(i)
        });
    let head_overlap = (head.left > 0).then(|| head.shared as f64 / head.left as f64);
    let containment = body.containment();
    let lede_a = lede_share(a, b, containment);
    let lede_b = lede_share(b, a, containment);
    let (title_a, title_b) = (a.title_words(), b.title_words());
    let title_similarity = if title_a.is_empty() || title_b.is_empty() {
        0.0
    } else {
        SorensenDice::default().for_vec(title_a, title_b).nval()
    };
    Evidence {
        jaccard: body.jaccard(),
        containment,
        lede_overlap: (lede_a + lede_b) / 2.0,
        title_similarity,
        word_overlap: a.word_sample().overlap(&b.word_sample()).containment(),
        head_overlap,
        hours_apart: None,
    }
}

/// The share of `a`'s lede shingles found anywhere in `b`. Those in `b`'s
/// lede are counted exactly; for the rest, the ones that fall in `b`'s body
/// sample tell how many of them `b` holds, with the body containment as a
/// prior worth one shingle.
fn lede_share(a: &Fingerprint, b: &Fingerprint, prior: f64) -> f64 {
    let (lede, other_lede) = (a.lede().values, b.lede().values);
    if lede.is_empty() {
        return 0.0;
    }
    let mut rest = [0u16; LEDE_WORDS];
    let mut rest_len = 0;
    let mut in_other_lede = 0usize;
    for &shingle in lede {
        if other_lede.binary_search(&shingle).is_ok() {
            in_other_lede += 1;
        } else if rest_len < rest.len() {
            rest[rest_len] = shingle;
            rest_len += 1;
        }
    }
    let seen = Sample {
        values: &rest[..rest_len],
        level: 0,
    }
    .overlap(&b.shingle_sample());
    let rest_found = rest_len as f64 * (seen.shared as f64 + prior) / (seen.left as f64 + 1.0);
    ((in_other_lede as f64 + rest_found) / lede.len() as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEDE: &str = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough, officials said.";
    const BACKGROUND: &str = "Moscow has massed troops near Ukraine and demands that NATO rule out further expansion to the east. \
        Washington and its allies have called the demands non-starters and threatened sanctions if Russia attacks. \
        The Geneva meeting was the first of three rounds of talks this week, with NATO and OSCE meetings to follow.";

    #[test]
    fn a_story_matches_itself() {
        let a = Fingerprint::of("Talks end", &format!("{LEDE} {BACKGROUND}"));
        let e = compare(&a, &a);
        assert_eq!((e.jaccard, e.containment, e.lede_overlap), (1.0, 1.0, 1.0));
        assert_eq!(e.relation(), Relation::Same);
    }

    #[test]
    fn trimmed_version_is_same() {
        let full = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        let trimmed = Fingerprint::of("", &format!("{LEDE} {}", &BACKGROUND[..100]));
        assert_eq!(compare(&full, &trimmed).relation(), Relation::Same);
    }

    /// A long story of varied sentences (numbers keep every shingle apart).
    fn long_story(paragraphs: usize) -> String {
        (1..=paragraphs)
            .map(|i| {
                format!(
                    "Officials in district {i} counted {} ballots by midnight, {} more than in the last election. \
                     The turnout in ward {} rose to {} percent, the returning officer said on Thursday. ",
                    i * 131,
                    i * 17,
                    i + 40,
                    30 + i % 50
                )
            })
            .collect()
    }

    #[test]
    fn a_brief_cut_from_a_long_story_is_same() {
        // About 1,550 words sampled at one in eight, against a 100-word
        // brief sampled whole: they compare at the coarser rate.
        let full = long_story(50);
        let brief: String = full.split(' ').take(100).collect::<Vec<_>>().join(" ");
        let (a, b) = (Fingerprint::of("", &full), Fingerprint::of("", &brief));
        let e = compare(&a, &b);
        assert!(e.containment > 0.85, "{e:?}");
        assert_eq!(e.relation(), Relation::Same, "{e:?}");
        // And a brief from the bottom of another long story is not. The
        // two share the template sentences' number-free shingles (30% of
        // the brief's, counted on the full sets), so the sampled
        // containment is well above zero but far from the brief's.
        let other = long_story(100);
        let tail: String = other
            .split(' ')
            .skip(3000)
            .take(100)
            .collect::<Vec<_>>()
            .join(" ");
        let e = compare(&a, &Fingerprint::of("", &tail));
        assert!(e.containment < 0.6, "{e:?}");
        assert_ne!(e.relation(), Relation::Same, "{e:?}");
    }

    #[test]
    fn follow_up_with_new_lede_is_related() {
        let first = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        let follow_up = Fingerprint::of(
            "",
            &format!(
                "NATO allies rejected Russia's demands on Wednesday and offered arms control talks instead, the alliance's chief told reporters in Brussels. \
                 Jens Stoltenberg said the door to membership stayed open. {BACKGROUND}"
            ),
        );
        let e = compare(&first, &follow_up);
        assert_eq!(e.relation(), Relation::Related, "{e:?}");
    }

    #[test]
    fn a_rewrite_in_the_same_words_is_same() {
        let original = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        // Another outlet's rewrite: the lede recast, the background in
        // another order, the same facts and words.
        let rewrite = Fingerprint::of(
            "",
            "Russia and the United States ended security talks in Geneva on Monday without a breakthrough, officials said after the meeting. \
             The Geneva meeting was the first of three rounds of talks this week, with NATO and OSCE meetings to follow. \
             Moscow has massed troops near Ukraine and demands that NATO rule out further expansion to the east. \
             Washington and its allies have called the demands non-starters and threatened sanctions if Russia attacks.",
        );
        let e = compare(&original, &rewrite);
        assert!(e.word_overlap > 0.8, "{e:?}");
        assert_eq!(e.relation(), Relation::Same, "{e:?}");
    }

    #[test]
    fn a_shared_template_alone_is_unrelated() {
        let template = "Sportsmail brings you all the team news, predicted line-ups, betting odds and key statistics ahead of \
                        this weekend's Premier League fixtures, with injury updates from both camps and the latest from the \
                        managers' press conferences on Friday afternoon.";
        let a = Fingerprint::of(
            "",
            &format!(
                "{template} Burnley host Tottenham at Turf Moor with their striker back from a hamstring injury. \
                 The defence is unchanged after two clean sheets in a row, and the manager expects a tight game. \
                 Tottenham have won only once in their last five away matches and will be without their goalkeeper. \
                 Their record signing has started on the bench in each of the last four games, frustrating supporters. \
                 Burnley sold out their allocation within hours, and the club expects a record attendance this season. \
                 The referee has shown more yellow cards than any other official in the division this year. \
                 Kick-off is at three o'clock, with highlights on the evening programme."
            ),
        );
        let b = Fingerprint::of(
            "",
            &format!(
                "{template} Swansea travel to Goodison Park without their captain, who serves a three-match ban. \
                 Everton have lost three home games running and face questions over their midfield after a heavy defeat. \
                 A win would lift Swansea into the top half for the first time since the opening weeks of the season. \
                 Their new loan winger could make his debut after international clearance arrived on Thursday. \
                 Everton's chairman has promised fresh money for the squad in the January transfer window. \
                 The two sides drew twice last season, both times after Swansea had led at half-time. \
                 Police have asked travelling fans to arrive early because of road works near the stadium."
            ),
        );
        let e = compare(&a, &b);
        assert_eq!(e.relation(), Relation::Unrelated, "{e:?}");
    }

    fn at_hour(hour: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + hour * 3600))
    }

    #[test]
    fn time_apart_is_symmetric_and_needs_both_times() {
        let a = Fingerprint::of("", LEDE);
        let e = compare(&a, &a);
        let forward = e.with_publication_times(at_hour(2), at_hour(32));
        let backward = e.with_publication_times(at_hour(32), at_hour(2));
        assert_eq!(forward.hours_apart, Some(30.0));
        assert_eq!(backward.hours_apart, Some(30.0));
        assert_eq!(e.with_publication_times(at_hour(2), None).hours_apart, None);
        assert_eq!(e.with_publication_times(None, at_hour(2)).hours_apart, None);
    }

    #[test]
    fn a_version_published_days_later_is_a_follow_up() {
        let full = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        let trimmed = Fingerprint::of("", &format!("{LEDE} {}", &BACKGROUND[..100]));
        let e = compare(&full, &trimmed);
        assert!(e.jaccard < RERUN_JACCARD, "{e:?}");
        // Without times, and within the news cycle, a trimmed version.
        assert_eq!(e.relation(), Relation::Same);
        let same_day = e.with_publication_times(at_hour(0), at_hour(9));
        assert_eq!(same_day.relation(), Relation::Same);
        // Three days on, the same text is a second-day story: linked, not
        // folded.
        let later = e.with_publication_times(at_hour(0), at_hour(72));
        assert_eq!(later.relation(), Relation::Related);
        // The window is the caller's to set.
        assert_eq!(
            later.relation_within(Duration::from_secs(7 * 24 * 3600)),
            Relation::Same
        );
        assert_eq!(
            same_day.relation_within(Duration::from_secs(6 * 3600)),
            Relation::Related
        );
    }

    #[test]
    fn a_rerun_days_later_is_still_the_same_story() {
        let text = format!("{LEDE} {BACKGROUND}");
        let original = Fingerprint::of("Talks end", &text);
        // Another paper runs the same copy days later under its own dateline
        // and credit line.
        let rerun = Fingerprint::of(
            "UPDATE 1-Talks end",
            &format!(
                "GENEVA (Reuters) - {text}\nReporting by Anna Keller; Editing by Mark Heinrich"
            ),
        );
        let e = compare(&original, &rerun).with_publication_times(at_hour(0), at_hour(24 * 5));
        assert!(e.jaccard >= RERUN_JACCARD, "{e:?}");
        assert_eq!(e.relation(), Relation::Same);
    }

    #[test]
    fn a_brief_with_the_same_top_is_trimmed_despite_a_low_sampled_containment() {
        let e = Evidence {
            jaccard: 0.15,
            containment: 0.65,
            lede_overlap: 1.0,
            title_similarity: 0.0,
            word_overlap: 0.8,
            head_overlap: Some(0.9),
            hours_apart: None,
        };
        assert_eq!(e.relation(), Relation::Same);
        // A new top over the same text needs the rewrite evidence instead.
        let new_top = Evidence {
            lede_overlap: 0.3,
            ..e
        };
        assert_eq!(new_top.relation(), Relation::Related);
    }

    #[test]
    fn a_long_new_story_on_top_of_another_is_related_not_same() {
        // A 430-word story, and a column that runs 270 words of its own
        // before carrying the first 400 words of it verbatim.
        let first = long_story(14);
        let column_top: String = (1..=10)
            .map(|i| {
                format!(
                    "In the capital, volunteers at shelter {i} handed out {} blankets overnight and asked the \
                     mayor for {} more beds before the cold weather returns next week. ",
                    i * 9,
                    i * 4
                )
            })
            .collect();
        let carried: String = first.split(' ').take(400).collect::<Vec<_>>().join(" ");
        let column = format!("{column_top}{carried}");
        let e = compare(&Fingerprint::of("", &first), &Fingerprint::of("", &column));
        assert!(e.containment > 0.8, "{e:?}");
        assert!(e.head_overlap.is_some_and(|h| h < NEW_STORY_HEAD), "{e:?}");
        assert_eq!(e.relation(), Relation::Related, "{e:?}");
        // A write-through's one new paragraph on top of a 680-word story is
        // still the story.
        let long = long_story(22);
        let new_top = &column_top[..column_top.find(". ").unwrap() + 1];
        let write_through = format!("{new_top} {long}");
        let e = compare(
            &Fingerprint::of("", &long),
            &Fingerprint::of("", &write_through),
        );
        assert!(e.head_overlap.is_some_and(|h| h > 0.5), "{e:?}");
        assert_eq!(e.relation(), Relation::Same, "{e:?}");
    }

    #[test]
    fn short_copy_has_no_head_figure() {
        let e = compare(
            &Fingerprint::of("", &format!("{LEDE} {BACKGROUND}")),
            &Fingerprint::of("", LEDE),
        );
        assert_eq!(e.head_overlap, None);
    }

    #[test]
    fn unrelated_stories_are_unrelated() {
        let a = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        let b = Fingerprint::of(
            "",
            "The city council approved a new budget for road repairs on Tuesday after a long debate about potholes.",
        );
        assert_eq!(compare(&a, &b).relation(), Relation::Unrelated);
    }
}
