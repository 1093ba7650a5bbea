//! Furniture learned from the index itself: a short line that turns up
//! under many different stories (a weather widget, a comment-policy line,
//! a site's "Get breaking news alerts") is the page's, not the story's,
//! whichever site it comes from and whatever it says. No list of phrases:
//! the index counts, for each short line, how many clusters it has been
//! seen in, and a line seen in [`MIN_CLUSTERS`] or more is furniture from
//! then on, for matching, canonical choice and summaries.
//!
//! The same line in twenty copies of one wire story is one cluster, so a
//! story's own paragraphs stay story; a line quoted by several different
//! reports becomes furniture, which costs those reports a little shared
//! text and is what a reader would do too.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] lines are counted; when the
//! table fills, lines seen in one cluster only are forgotten first.
//!
//! What is furniture only grows: a line's count never goes down and a
//! line counted as furniture is never forgotten. So what the table said
//! at an earlier [`Generation`] can still be asked of it later
//! ([`LearnedFurniture::as_of`]), which lets work that needs the table as
//! it was at one ingest (what a version changes) run after later ingests,
//! on other threads.

use std::collections::HashMap;

use super::index::ClusterId;
use crate::text::furniture::{line_hash, lines};

/// Clusters a line must be seen in to count as furniture.
pub const MIN_CLUSTERS: u32 = 3;

/// Longest line counted, in words: furniture is labels, widgets, policy
/// lines and teasers; story paragraphs are longer, and counting them would
/// only fill the table.
pub const MAX_LINE_WORDS: usize = crate::text::furniture::LEARNED_LINE_MAX_WORDS;

/// Most lines counted at once (about 24 bytes each).
pub const MAX_TRACKED: usize = 1 << 15;

#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The cluster it was last seen in.
    last_cluster: ClusterId,
    /// How many times it was seen in a cluster other than the last one.
    clusters: u32,
    /// The generation at which it became furniture (reached
    /// [`MIN_CLUSTERS`]); meaningless before.
    furniture_from: Generation,
}

/// How many times the table has learned (one ingest each), saturating: a
/// point in the table's history. Beyond `u32::MAX` learns every line
/// becomes furniture at the last generation, so asking for the table as of
/// then answers as of now.
pub type Generation = u32;

/// The short lines the index has seen and in how many clusters.
#[derive(Debug, Default, Clone)]
pub struct LearnedFurniture {
    seen: HashMap<u64, Seen>,
    generation: Generation,
}

impl LearnedFurniture {
    /// Heap the table holds: a key, its counts and a control byte a bucket.
    pub fn heap_bytes(&self) -> usize {
        self.seen.capacity() * (std::mem::size_of::<(u64, Seen)>() + 1)
    }

    /// Whether the line with this [`line_hash`] is furniture.
    pub fn is_furniture(&self, line: u64) -> bool {
        self.seen
            .get(&line)
            .is_some_and(|s| s.clusters >= MIN_CLUSTERS)
    }

    /// The table's generation now: what [`LearnedFurniture::as_of`]
    /// answers as of, later.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Whether the line with this [`line_hash`] was furniture when the
    /// table was at `generation`.
    pub fn as_of(&self, line: u64, generation: Generation) -> bool {
        self.seen
            .get(&line)
            .is_some_and(|s| s.clusters >= MIN_CLUSTERS && s.furniture_from <= generation)
    }

    /// Whether any of `lines` is furniture.
    pub fn any(&self, lines: &[u64]) -> bool {
        !self.seen.is_empty() && lines.iter().any(|&l| self.is_furniture(l))
    }

    /// Counts `lines` as seen in `cluster`.
    pub fn learn(&mut self, cluster: ClusterId, lines: &[u64]) {
        self.generation = self.generation.saturating_add(1);
        let generation = self.generation;
        if self.seen.len() + lines.len() > MAX_TRACKED {
            self.forget();
        }
        for &line in lines {
            if self.seen.len() >= MAX_TRACKED && !self.seen.contains_key(&line) {
                continue;
            }
            let seen = self.seen.entry(line).or_insert(Seen {
                last_cluster: cluster,
                clusters: 0,
                furniture_from: 0,
            });
            if seen.clusters == 0 || seen.last_cluster != cluster {
                seen.clusters = seen.clusters.saturating_add(1);
                seen.last_cluster = cluster;
                if seen.clusters == MIN_CLUSTERS {
                    seen.furniture_from = generation;
                }
            }
        }
    }

    /// Makes room: lines seen in one cluster go first, then those seen in
    /// fewer than [`MIN_CLUSTERS`]. Never furniture, so that what was
    /// furniture at a generation stays answerable.
    fn forget(&mut self) {
        self.seen.retain(|_, s| s.clusters > 1);
        if self.seen.len() > MAX_TRACKED / 2 {
            self.seen.retain(|_, s| s.clusters >= MIN_CLUSTERS);
        }
    }

    /// Lines counted now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when no line is counted.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The hashes of the lines of `body` that `learned` holds for furniture,
/// for a summary of a stored story to leave out.
pub fn learned_lines(body: &str, learned: &LearnedFurniture) -> Vec<u64> {
    let mut lines = short_lines(body);
    lines.retain(|&line| learned.is_furniture(line));
    lines
}

/// The hashes of the short lines of `body` that the index counts, each
/// once.
pub fn short_lines(body: &str) -> Vec<u64> {
    let mut hashes: Vec<u64> = lines(body)
        .map(|range| &body[range])
        .filter(|line| {
            let words = line.split_whitespace().take(MAX_LINE_WORDS + 1).count();
            words > 0 && words <= MAX_LINE_WORDS
        })
        .map(line_hash)
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_under_many_stories_is_learned_one_story_many_times_is_not() {
        let mut learned = LearnedFurniture::default();
        let widget = line_hash("Your weather is set to Lakeside.");
        let own = line_hash("The mayor said the bridge would reopen.");
        for copy in 0..10 {
            learned.learn(7, &[own]);
            learned.learn(copy, &[widget]);
        }
        assert!(learned.is_furniture(widget));
        assert!(!learned.is_furniture(own));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut learned = LearnedFurniture::default();
        let widget = 42;
        for cluster in 0..MIN_CLUSTERS as u64 {
            learned.learn(cluster, &[widget]);
        }
        let when_learned = learned.generation();
        for story in 0..(3 * MAX_TRACKED as u64) {
            learned.learn(1000 + story, &[story * 7919 + 1000]);
        }
        assert!(learned.len() <= MAX_TRACKED);
        assert!(learned.is_furniture(widget));
        assert!(learned.as_of(widget, when_learned));
        assert!(!learned.as_of(widget, when_learned - 1));
    }

    proptest::proptest! {
        /// Asked later as of a generation, the table answers what it
        /// answered then, whatever it learned since. (These few lines
        /// never fill the table; `the_table_stays_bounded` asks the same
        /// across forgetting.)
        #[test]
        fn the_table_as_of_a_generation_answers_as_it_did_then(
            learns in proptest::collection::vec(
                (0u64..6, proptest::collection::vec(0u64..12, 0..4)),
                1..80,
            ),
        ) {
            let mut learned = LearnedFurniture::default();
            let mut then = Vec::new();
            for (cluster, lines) in &learns {
                learned.learn(*cluster, lines);
                let answers: Vec<bool> = (0..12).map(|l| learned.is_furniture(l)).collect();
                then.push((learned.generation(), answers));
            }
            for (generation, answers) in then {
                for (line, was) in answers.into_iter().enumerate() {
                    proptest::prop_assert_eq!(learned.as_of(line as u64, generation), was);
                }
            }
        }
    }

    #[test]
    fn only_short_lines_are_counted() {
        let long = "word ".repeat(MAX_LINE_WORDS + 1);
        let body = format!("Share this\n{long}\nShare this\n\n");
        assert_eq!(short_lines(&body), vec![line_hash("Share this")]);
    }
}
