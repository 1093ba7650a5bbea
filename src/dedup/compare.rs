//! Pairwise evidence between two fingerprints and the decision a wire editor
//! would make from it: SAME (versions of one report), RELATED (same event,
//! different story) or UNRELATED.

use textdistance::{Algorithm, SorensenDice};

use super::fingerprint::Fingerprint;

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

/// The figures behind a decision, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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
}

/// Bodies this alike are versions of one story whatever else differs.
const SAME_JACCARD: f64 = 0.6;
/// A version trimmed from the bottom or with a paragraph added...
const SAME_CONTAINMENT: f64 = 0.8;
/// ...is the same story only if the ledes agree: a follow-up repeats
/// background but leads with new news.
const SAME_LEDE: f64 = 0.4;
/// Enough shared text to link two stories as related.
const RELATED_CONTAINMENT: f64 = 0.1;
/// Headlines this alike with some shared text also link stories.
const RELATED_TITLE: f64 = 0.5;
const RELATED_TITLE_MIN_CONTAINMENT: f64 = 0.03;

impl Evidence {
    /// Identical texts: every figure 1 (used for a story against itself).
    pub const IDENTICAL: Evidence = Evidence {
        jaccard: 1.0,
        containment: 1.0,
        lede_overlap: 1.0,
        title_similarity: 1.0,
    };

    /// The decision these figures support.
    pub fn relation(&self) -> Relation {
        if self.jaccard >= SAME_JACCARD
            || (self.containment >= SAME_CONTAINMENT && self.lede_overlap >= SAME_LEDE)
        {
            Relation::Same
        } else if self.containment >= RELATED_CONTAINMENT
            || (self.title_similarity >= RELATED_TITLE
                && self.containment >= RELATED_TITLE_MIN_CONTAINMENT)
        {
            Relation::Related
        } else {
            Relation::Unrelated
        }
    }

    /// A single figure to rank matches of the same relation.
    pub fn strength(&self) -> f64 {
        (self.jaccard + self.containment + self.lede_overlap) / 3.0
    }
}

/// Compares two fingerprints on their real shingle sets.
pub fn compare(a: &Fingerprint, b: &Fingerprint) -> Evidence {
    let shared = intersection_len(&a.shingles, &b.shingles);
    let union = a.shingles.len() + b.shingles.len() - shared;
    let smaller = a.shingles.len().min(b.shingles.len());
    let lede_a = share_in(&a.lede, &b.shingles);
    let lede_b = share_in(&b.lede, &a.shingles);
    let title_similarity = if a.title_words.is_empty() || b.title_words.is_empty() {
        0.0
    } else {
        SorensenDice::default()
            .for_vec(&a.title_words, &b.title_words)
            .nval()
    };
    Evidence {
        jaccard: ratio(shared, union),
        containment: ratio(shared, smaller),
        lede_overlap: (lede_a + lede_b) / 2.0,
        title_similarity,
    }
}

fn share_in(part: &[u64], whole: &[u64]) -> f64 {
    ratio(intersection_len(part, whole), part.len())
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Size of the intersection of two sorted, deduplicated slices.
fn intersection_len(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
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
    fn unrelated_stories_are_unrelated() {
        let a = Fingerprint::of("", &format!("{LEDE} {BACKGROUND}"));
        let b = Fingerprint::of(
            "",
            "The city council approved a new budget for road repairs on Tuesday after a long debate about potholes.",
        );
        assert_eq!(compare(&a, &b).relation(), Relation::Unrelated);
    }
}
