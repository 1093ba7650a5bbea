//! What the index keeps of a story to match it: its word-shingle set, the
//! shingles of its lede, its normalized headline and its MinHash signature.
//!
//! Wire furniture is removed before shingling, so two versions of one story
//! that differ only in dateline, agency tag, trailing credits or site
//! furniture produce the same shingles.

use unicode_segmentation::UnicodeSegmentation;

use super::minhash::{Signature, signature};
use crate::text::normalize;
use crate::text::stopwords::is_stopword;
use crate::text::words::{for_each_word_hashed, is_fast_text};

/// Words per shingle. Five keeps unrelated stories apart on news copy while
/// a copy-edit touches only a handful of shingles.
pub const SHINGLE_WORDS: usize = 5;

/// Words of the lede: about the first two sentences of wire copy.
pub const LEDE_WORDS: usize = 40;

/// A story's matching fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// Sorted, deduplicated shingle hashes of the body, 32 bits each: two
    /// stories of 1,000 shingles share a false match about once in four
    /// thousand pairs, which moves no figure.
    pub shingles: Vec<u32>,
    /// Sorted, deduplicated shingle hashes that start in the lede.
    pub lede: Vec<u32>,
    /// The headline's words, normalized, slugs removed.
    pub title_words: Vec<String>,
    /// MinHash signature of `shingles`.
    pub signature: Signature,
    /// Content words (stopwords and single letters left out) as a
    /// unit-length term-frequency vector, sorted by word hash. A rewrite
    /// keeps its vocabulary while its word order, and so its shingles,
    /// change.
    pub words: Vec<(u32, f32)>,
}

impl Fingerprint {
    /// Fingerprints a story from its headline and body.
    pub fn of(title: &str, body: &str) -> Fingerprint {
        let stripped = strip_furniture(body);
        // Words are hashed without regard to case or curly apostrophes, and
        // the word splitter treats curly quotes, dashes and non-breaking
        // spaces as separators: for such text, normalizing first changes no
        // word. Anything else (ligatures, full-width forms, invisible
        // characters) goes through the full normalization.
        let normalized;
        let text: &str = if is_fast_text(&stripped) {
            &stripped
        } else {
            normalized = normalize(&stripped);
            &normalized
        };
        let mut words: Vec<(&str, u64)> = Vec::with_capacity(text.len() / 5);
        for_each_word_hashed(text, |word, hash| words.push((word, hash)));
        let lede_shingle_count = LEDE_WORDS.saturating_sub(SHINGLE_WORDS - 1).max(1);
        let full_shingles = shingle_hashes(&words);
        // The signature takes the full 64-bit hashes; the sets keep 32 bits.
        let short = |h: &u64| (h >> 32) as u32;
        let mut lede: Vec<u32> = full_shingles
            .iter()
            .take(lede_shingle_count)
            .map(short)
            .collect();
        let mut sorted = full_shingles;
        sorted.sort_unstable();
        sorted.dedup();
        let signature = signature(&sorted);
        // The high bits of sorted hashes are already in order.
        let mut shingles: Vec<u32> = sorted.iter().map(short).collect();
        shingles.dedup();
        shingles.shrink_to_fit();
        lede.sort_unstable();
        lede.dedup();
        let title = normalize(strip_slug(title));
        Fingerprint {
            shingles,
            lede,
            title_words: title.unicode_words().map(str::to_owned).collect(),
            signature,
            words: word_vector(&words),
        }
    }
}

/// The unit-length term-frequency vector of the content words of `words`.
fn word_vector(words: &[(&str, u64)]) -> Vec<(u32, f32)> {
    let mut hashes: Vec<u32> = words
        .iter()
        .filter(|&&(w, h)| w.chars().nth(1).is_some() && !is_stopword(w, h))
        .map(|&(_, h)| (h >> 32) as u32)
        .collect();
    hashes.sort_unstable();
    let mut vector: Vec<(u32, f32)> = Vec::new();
    for h in hashes {
        match vector.last_mut() {
            Some((last, count)) if *last == h => *count += 1.0,
            _ => vector.push((h, 1.0)),
        }
    }
    let norm = vector.iter().map(|(_, c)| c * c).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|(_, c)| *c /= norm);
    }
    vector.shrink_to_fit();
    vector
}

/// Hashes of the word n-grams of `words`, in text order, combined from the
/// words' own hashes (order-sensitive, then finalized). A text shorter than
/// one shingle is one shingle.
fn shingle_hashes(words: &[(&str, u64)]) -> Vec<u64> {
    if words.is_empty() {
        return Vec::new();
    }
    let combine = |window: &[(&str, u64)]| {
        let mut h = window.len() as u64;
        for &(_, w) in window {
            h = (h.rotate_left(23) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        h ^ (h >> 29)
    };
    if words.len() < SHINGLE_WORDS {
        return vec![combine(words)];
    }
    words.windows(SHINGLE_WORDS).map(combine).collect()
}

/// Lines that are wire or site furniture, not story: compared lowercased
/// and trimmed, by prefix.
const FURNITURE_PREFIXES: &[&str] = &[
    "related news",
    "related stories",
    "related coverage",
    "read more",
    "click here",
    "follow us",
    "follow @",
    "sign up for",
    "subscribe to",
    "reporting by",
    "additional reporting by",
    "writing by",
    "editing by",
    "compiled by",
    "copyright",
    "(c) ",
    "©",
    "all rights reserved",
    "this material may not be published",
    "our standards:",
];

/// Removes furniture lines, bylines on their own line and a leading
/// dateline with an agency tag.
fn strip_furniture(body: &str) -> String {
    let mut kept = String::with_capacity(body.len() + 1);
    for line in body.lines() {
        let trimmed = line.trim();
        let is_furniture = FURNITURE_PREFIXES
            .iter()
            .any(|p| starts_with_ignore_case(trimmed, p))
            || (starts_with_ignore_case(trimmed, "by ") && trimmed.split_whitespace().count() <= 6)
            || ends_with_ignore_case(trimmed, "all rights reserved.");
        if !is_furniture {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    strip_dateline(&kept).to_owned()
}

/// ASCII-case-insensitive prefix test (`prefix` is lowercase ASCII or `©`).
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Agency tags that close a dateline.
const AGENCIES: &[&str] = &[
    "(reuters)",
    "(ap)",
    "(afp)",
    "(upi)",
    "(bloomberg)",
    "(dpa)",
    "(cnn)",
];

/// Drops `GENEVA (Reuters) -` or `WASHINGTON, Jan 10 (AP) —` from the start
/// of the text: everything up to and including the agency tag and the dash
/// after it, when that prefix is short.
fn strip_dateline(text: &str) -> &str {
    const MAX_DATELINE_BYTES: usize = 80;
    let head_end = text
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|&i| i <= MAX_DATELINE_BYTES)
        .last()
        .unwrap_or(0);
    // ASCII lowercasing keeps byte offsets valid in the original.
    let head = text[..head_end].to_ascii_lowercase();
    for agency in AGENCIES {
        if let Some(at) = head.find(agency) {
            let rest = &text[at + agency.len()..];
            let rest = rest.trim_start_matches([' ', '-', '\u{2013}', '\u{2014}', ':']);
            return rest;
        }
    }
    text
}

/// Slugs that wire services put before a headline.
const SLUGS: &[&str] = &[
    "update",
    "refile",
    "wrapup",
    "corrected",
    "exclusive",
    "rpt",
    "urgent",
];

/// Removes slugs such as `UPDATE 2-` or `REFILE-` from a headline.
pub fn strip_slug(title: &str) -> &str {
    let mut rest = title.trim_start();
    loop {
        let Some(dash) = rest.find('-') else {
            return rest;
        };
        let head = rest[..dash].trim().to_lowercase();
        let word = head.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
        if dash <= 14 && SLUGS.contains(&word) {
            rest = rest[dash + 1..].trim_start();
        } else {
            return rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dateline_and_agency_are_not_story() {
        let a = Fingerprint::of(
            "",
            "GENEVA (Reuters) - Russia and the United States opened talks.",
        );
        let b = Fingerprint::of(
            "",
            "WASHINGTON, Jan 10 (AP) \u{2014} Russia and the United States opened talks.",
        );
        assert_eq!(a.shingles, b.shingles);
    }

    #[test]
    fn furniture_lines_are_not_story() {
        let a = Fingerprint::of(
            "",
            "Talks opened in Geneva on Monday.\nReporting by Jane Doe; Editing by John Roe",
        );
        let b = Fingerprint::of(
            "",
            "Talks opened in Geneva on Monday.\n\nRelated News\nClick here for more",
        );
        assert_eq!(a.shingles, b.shingles);
    }

    #[test]
    fn slugs_leave_titles() {
        assert_eq!(strip_slug("UPDATE 2-Talks end"), "Talks end");
        assert_eq!(strip_slug("REFILE-UPDATE 1-Talks end"), "Talks end");
        assert_eq!(strip_slug("Russia-US talks end"), "Russia-US talks end");
    }

    #[test]
    fn typography_does_not_change_shingles() {
        let a = Fingerprint::of(
            "",
            "\u{201C}We are ready,\u{201D} Lavrov said \u{2014} then left.",
        );
        let b = Fingerprint::of("", "\"We are ready,\" Lavrov said - then left.");
        assert_eq!(a.shingles, b.shingles);
    }

    proptest::proptest! {
        #[test]
        fn sets_are_sorted_and_a_story_matches_itself(text in "[A-Za-z’“” .,\n-]{1,300}") {
            let fp = Fingerprint::of("", &text);
            proptest::prop_assert!(fp.shingles.windows(2).all(|w| w[0] < w[1]));
            proptest::prop_assert!(fp.lede.windows(2).all(|w| w[0] < w[1]));
            proptest::prop_assert!(fp.words.windows(2).all(|w| w[0].0 < w[1].0));
            if !fp.shingles.is_empty() {
                let e = crate::dedup::compare(&fp, &fp);
                proptest::prop_assert_eq!(e.relation(), crate::dedup::Relation::Same);
            }
        }
    }

    #[test]
    fn short_text_is_one_shingle() {
        assert_eq!(Fingerprint::of("", "Talks end").shingles.len(), 1);
        assert!(Fingerprint::of("", "  ").shingles.is_empty());
    }
}
