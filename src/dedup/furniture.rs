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
}

/// The short lines the index has seen and in how many clusters.
#[derive(Debug, Default)]
pub struct LearnedFurniture {
    seen: HashMap<u64, Seen>,
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

    /// Whether any of `lines` is furniture.
    pub fn any(&self, lines: &[u64]) -> bool {
        !self.seen.is_empty() && lines.iter().any(|&l| self.is_furniture(l))
    }

    /// Counts `lines` as seen in `cluster`.
    pub fn learn(&mut self, cluster: ClusterId, lines: &[u64]) {
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
            });
            if seen.clusters == 0 || seen.last_cluster != cluster {
                seen.clusters = seen.clusters.saturating_add(1);
                seen.last_cluster = cluster;
            }
        }
    }

    /// Makes room: lines seen in one cluster go first, then those seen in
    /// fewer than [`MIN_CLUSTERS`].
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
        for story in 0..(3 * MAX_TRACKED as u64) {
            learned.learn(1000 + story, &[story * 7919 + 1000]);
        }
        assert!(learned.len() <= MAX_TRACKED);
        assert!(learned.is_furniture(widget));
    }

    #[test]
    fn only_short_lines_are_counted() {
        let long = "word ".repeat(MAX_LINE_WORDS + 1);
        let body = format!("Share this\n{long}\nShare this\n\n");
        assert_eq!(short_lines(&body), vec![line_hash("Share this")]);
    }
}
