//! What the index keeps of a story to match it, in a few hundred bytes:
//! samples of its word shingles and content words, the shingles of its
//! lede, its headline words and its MinHash signature.
//!
//! Wire furniture is removed before shingling, so two versions of one story
//! that differ only in dateline, agency tag, trailing credits or site
//! furniture produce the same shingles.
//!
//! Full shingle sets would cost several kilobytes a story. The index keeps
//! nested hash samples instead ([`super::sample`]): every shingle of a
//! short story, at least [`sample::TARGET`] of a long one and never fewer
//! than one in eight. Overlaps measured on the samples estimate Jaccard
//! similarity and containment of the full sets.

use std::borrow::Cow;

use super::minhash::{Signature, signature};
use super::sample::{self, Sample};
use super::vocabulary;
use crate::text::agency::{self, Agency};
use crate::text::dateline::strip_tagged_dateline;
use crate::text::furniture;
use crate::text::headline::{HeadlineFrom, strip_slug};
use crate::text::normalize;
use crate::text::stopwords::is_stopword;
use crate::text::words::{for_each_fast_word_hashed, for_each_word_hashed, is_fast_text};

/// Words per shingle. Five keeps unrelated stories apart on news copy while
/// a copy-edit touches only a handful of shingles.
pub const SHINGLE_WORDS: usize = 5;

/// Words of the lede: about the first two sentences of wire copy.
pub const LEDE_WORDS: usize = 40;

/// The story's head, for [`Fingerprint::is_head`]: the first quarter of its
/// shingles. A write-through puts a paragraph or two of new top over the
/// old text; a long story whose whole first quarter is new is a different
/// story that carries the other one below.
const HEAD_DIVISOR: usize = 4;

/// Headline words kept (a headline is rarely longer).
const MAX_TITLE_WORDS: usize = 32;

/// The story's topic words: its most frequent content words, which the
/// index posts so that other reports of the same event can find it (see
/// [`super::vocabulary`]). Eight reach about four in five same-event pairs
/// of the multilingual event set through the two the index posts.
pub const TOPIC_WORDS: usize = 8;

/// A story's matching fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// MinHash signature of the shingle set (the LSH band keys).
    pub signature: Signature,
    /// Shingles in the body (a repeated passage counts each time).
    pub shingle_count: u32,
    /// One allocation for the six parts, in this order: the shingle
    /// sample, a bit per sample element set when the shingle occurs in the
    /// story's head (16 to a word), the lede shingles (top 16 bits,
    /// sorted), the content-word sample, the headline words (top 16 bits,
    /// sorted), the topic words (word keys, most frequent first).
    parts: Box<[u16]>,
    shingle_sample_len: u16,
    lede_len: u16,
    word_sample_len: u16,
    title_len: u8,
    shingle_level: u8,
    word_level: u8,
    /// The news agency the copy names, if any.
    pub agency: Option<Agency>,
    /// Where the story's headline comes from (see
    /// [`crate::text::headline::headline_from`]): a page with no story text
    /// is folded by its headline only into a story whose title is its
    /// headline. Set by [`crate::story::PreparedStory`]; `Nowhere` here.
    pub headline: HeadlineFrom,
}

impl Fingerprint {
    /// Heap the fingerprint holds beyond its inline size.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.parts)
    }

    /// Fingerprints a story from its headline and body.
    pub fn of(title: &str, body: &str) -> Fingerprint {
        Fingerprint::with_learned_furniture(title, body, &|_| false)
    }

    /// Fingerprints a story, leaving out the lines whose
    /// [`furniture::line_hash`] `learned` says are furniture.
    pub fn with_learned_furniture(
        title: &str,
        body: &str,
        learned: &dyn Fn(u64) -> bool,
    ) -> Fingerprint {
        let stripped = strip_furniture(body, learned);
        // One pass finds and hashes the words; shingles and content words
        // are built as the words arrive, with no list of words in between.
        let mut shingles: Vec<u64> = Vec::with_capacity(stripped.len() / 5);
        let mut content: Vec<u64> = Vec::with_capacity(stripped.len() / 10);
        let mut window = [0u64; SHINGLE_WORDS];
        let mut seen = 0usize;
        let on_word = |word: &str, hash: u64| {
            if seen < SHINGLE_WORDS {
                window[seen] = hash;
            } else {
                window.copy_within(1.., 0);
                window[SHINGLE_WORDS - 1] = hash;
            }
            seen += 1;
            if seen >= SHINGLE_WORDS {
                shingles.push(shingle_hash(&window));
            }
            if has_two_chars(word) && !is_stopword(word, hash) {
                content.push(hash);
            }
        };
        // Words are hashed without regard to case or curly apostrophes, and
        // the word splitter treats curly quotes, dashes and non-breaking
        // spaces as separators: for such text, normalizing first changes no
        // word. Anything else (ligatures, full-width forms, invisible
        // characters) goes through the full normalization.
        if is_fast_text(&stripped) {
            for_each_fast_word_hashed(&stripped, on_word);
        } else {
            for_each_word_hashed(&normalize(&stripped), on_word);
        }
        if (1..SHINGLE_WORDS).contains(&seen) {
            // A text shorter than one shingle is one shingle.
            shingles.push(shingle_hash(&window[..seen]));
        }
        let signature = signature(&shingles);

        let (shingle_level, shingle_sample, head_mask) =
            sample::adaptive_sample_with_head(&shingles, shingles.len() / HEAD_DIVISOR);
        let lede_shingle_count = LEDE_WORDS.saturating_sub(SHINGLE_WORDS - 1).max(1);
        let lede = sample::sample(shingles.iter().take(lede_shingle_count).copied(), 0);
        let (word_level, word_sample) = sample::adaptive_sample(&content);

        let title = title_hashes(title);
        let topic = topic_words(&content);

        let mut parts = Vec::with_capacity(
            shingle_sample.len()
                + head_mask.len()
                + lede.len()
                + word_sample.len()
                + title.len()
                + topic.len(),
        );
        parts.extend_from_slice(&shingle_sample);
        parts.extend_from_slice(&head_mask);
        parts.extend_from_slice(&lede);
        parts.extend_from_slice(&word_sample);
        parts.extend_from_slice(&title);
        parts.extend_from_slice(&topic);
        Fingerprint {
            signature,
            shingle_count: saturating_u32(shingles.len()),
            parts: parts.into_boxed_slice(),
            // `level_for` keeps samples within 16-bit lengths; the lede and
            // headline are short by construction.
            shingle_sample_len: shingle_sample.len() as u16,
            lede_len: lede.len() as u16,
            word_sample_len: word_sample.len() as u16,
            title_len: title.len() as u8,
            shingle_level,
            word_level,
            agency: agency::detect(body),
            headline: HeadlineFrom::Nowhere,
        }
    }

    /// The sampled shingle set.
    pub fn shingle_sample(&self) -> Sample<'_> {
        Sample {
            values: &self.parts[..usize::from(self.shingle_sample_len)],
            level: self.shingle_level,
        }
    }

    /// Whether element `i` of the shingle sample occurs in the story's
    /// head (its first quarter).
    pub fn is_head(&self, i: usize) -> bool {
        let mask = &self.parts[usize::from(self.shingle_sample_len)..];
        i < usize::from(self.shingle_sample_len) && mask[i / 16] & (1 << (i % 16)) != 0
    }

    /// Where the lede starts in `parts`: after the sample and its head mask.
    fn lede_start(&self) -> usize {
        let sample_len = usize::from(self.shingle_sample_len);
        sample_len + head_mask_len(sample_len)
    }

    /// The lede's shingles, every one (a level-0 sample of the lede).
    pub fn lede(&self) -> Sample<'_> {
        let start = self.lede_start();
        Sample {
            values: &self.parts[start..start + usize::from(self.lede_len)],
            level: 0,
        }
    }

    /// The sampled content-word set.
    pub fn word_sample(&self) -> Sample<'_> {
        let start = self.lede_start() + usize::from(self.lede_len);
        Sample {
            values: &self.parts[start..start + usize::from(self.word_sample_len)],
            level: self.word_level,
        }
    }

    /// Where the headline words start in `parts`.
    fn title_start(&self) -> usize {
        self.lede_start() + usize::from(self.lede_len) + usize::from(self.word_sample_len)
    }

    /// The headline's distinct words, as sorted 16-bit hashes.
    pub fn title_words(&self) -> &[u16] {
        let start = self.title_start();
        &self.parts[start..start + usize::from(self.title_len)]
    }

    /// The story's topic words ([`TOPIC_WORDS`] at most) as word keys
    /// ([`super::vocabulary::key_of_hash`]), most frequent first.
    pub fn topic_words(&self) -> &[u16] {
        &self.parts[self.topic_start()..]
    }

    fn topic_start(&self) -> usize {
        self.title_start() + usize::from(self.title_len)
    }

    /// Keeps only the first `most` distinct topic words that `keep` picks:
    /// an indexed story needs only the words it is posted under, and every
    /// stored story pays for the rest.
    pub fn retain_topic_words(&mut self, most: usize, keep: impl Fn(u16) -> bool) {
        let start = self.topic_start();
        let mut kept: Vec<u16> = Vec::with_capacity(most);
        for &key in &self.parts[start..] {
            if kept.len() < most && keep(key) && !kept.contains(&key) {
                kept.push(key);
            }
        }
        if kept.as_slice() != &self.parts[start..] {
            let mut parts = Vec::with_capacity(start + kept.len());
            parts.extend_from_slice(&self.parts[..start]);
            parts.extend_from_slice(&kept);
            self.parts = parts.into_boxed_slice();
        }
    }
}

/// Words of head mask for a shingle sample of `len` elements.
fn head_mask_len(len: usize) -> usize {
    len.div_ceil(16)
}

/// Whether `word` has more than one character, decoding at most one.
fn has_two_chars(word: &str) -> bool {
    // No character is longer than four bytes.
    word.len() > 4 || word.chars().nth(1).is_some()
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The keys of the [`TOPIC_WORDS`] most frequent of `content` (word
/// hashes in text order), ties to the word that comes first: a story's
/// most repeated words are its subject.
fn topic_words(content: &[u64]) -> Vec<u16> {
    // Key in the high half, position below (positions past 65,535 count
    // as the last): sorted, each key's run gives its count, and its first
    // element its first position. Four bytes an element sort fast.
    let mut keyed: Vec<u32> = content
        .iter()
        .enumerate()
        .map(|(at, &hash)| {
            (u32::from(vocabulary::key_of_hash(hash)) << 16) | at.min(usize::from(u16::MAX)) as u32
        })
        .collect();
    keyed.sort_unstable();
    // (count, first position, key)
    let mut counted: Vec<(usize, u32, u16)> = keyed
        .chunk_by(|a, b| a >> 16 == b >> 16)
        .map(|run| (run.len(), run[0] & 0xFFFF, (run[0] >> 16) as u16))
        .collect();
    let by_weight =
        |a: &(usize, u32, u16), b: &(usize, u32, u16)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    if counted.len() > TOPIC_WORDS {
        counted.select_nth_unstable_by(TOPIC_WORDS - 1, by_weight);
        counted.truncate(TOPIC_WORDS);
    }
    counted.sort_unstable_by(by_weight);
    counted.into_iter().map(|(_, _, key)| key).collect()
}

/// The headline's words, slugs removed, normalized and hashed.
fn title_hashes(title: &str) -> Vec<u16> {
    let title = normalize(strip_slug(title));
    let mut hashes = Vec::new();
    for_each_word_hashed(&title, |_, hash| {
        if hashes.len() < MAX_TITLE_WORDS {
            hashes.push(sample::stored_bits(hash, 0));
        }
    });
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// The hash of one word n-gram from its words' hashes, in order: each
/// position multiplies by its own odd constant, so the products are
/// independent (no chain of dependent multiplies per word, which the
/// fingerprint loop waited on), then one mixing step spreads the sum.
fn shingle_hash(window: &[u64]) -> u64 {
    // Odd 64-bit constants, one per position (from the golden ratio and
    // the fractional parts of square roots of primes).
    const POSITION: [u64; SHINGLE_WORDS] = [
        0x9E37_79B9_7F4A_7C15,
        0x6A09_E667_F3BC_C909,
        0xBB67_AE85_84CA_A73B,
        0x3C6E_F372_FE94_F82B,
        0xA54F_F53A_5F1D_36F1,
    ];
    let mut h = (window.len() as u64).wrapping_add(shingle_seed());
    for (&word, &k) in window.iter().zip(&POSITION) {
        h = h.wrapping_add(word.wrapping_mul(k));
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 32)
}

/// The shingle hash's starting value. Every sampled figure depends on which
/// shingles the hash happens to sample; the `eval-seed` feature reads
/// another start from `COPYDESK_EVAL_SEED` so that `scripts/seed_spread.sh`
/// can measure how far the evaluation figures move with it. Not a setting:
/// fingerprints from different seeds do not compare.
#[cfg(not(feature = "eval-seed"))]
fn shingle_seed() -> u64 {
    0
}

#[cfg(feature = "eval-seed")]
fn shingle_seed() -> u64 {
    static SEED: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        std::env::var("COPYDESK_EVAL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    });
    *SEED
}

/// Removes furniture lines (by their form, or learned by the index: see
/// [`crate::text::furniture`]) and a leading dateline with an agency tag.
/// Copies the text only when a line goes.
fn strip_furniture<'a>(body: &'a str, learned: &dyn Fn(u64) -> bool) -> Cow<'a, str> {
    let furniture = furniture::furniture_lines(body, learned);
    if furniture.is_empty() {
        return Cow::Borrowed(strip_tagged_dateline(body));
    }
    let mut kept = String::with_capacity(body.len() + 1);
    let mut next = furniture.iter().peekable();
    for range in furniture::lines(body) {
        if next.peek().is_some_and(|f| f.start == range.start) {
            next.next();
            continue;
        }
        kept.push_str(&body[range]);
        kept.push('\n');
    }
    let dateline = kept.len() - strip_tagged_dateline(&kept).len();
    kept.drain(..dateline);
    Cow::Owned(kept)
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
        // The same text to match on; the agency is kept as evidence.
        assert_eq!(
            (a.agency, b.agency),
            (Some(Agency::Reuters), Some(Agency::AssociatedPress))
        );
        assert_eq!(
            Fingerprint { agency: None, ..a },
            Fingerprint { agency: None, ..b }
        );
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
        assert_eq!(a, b);
    }

    #[test]
    fn typography_does_not_change_shingles() {
        let a = Fingerprint::of(
            "",
            "\u{201C}We are ready,\u{201D} Lavrov said \u{2014} then left.",
        );
        let b = Fingerprint::of("", "\"We are ready,\" Lavrov said - then left.");
        assert_eq!(a, b);
    }

    proptest::proptest! {
        #[test]
        fn sets_are_sorted_and_a_story_matches_itself(text in "[A-Za-z’“” .,\n-]{1,300}") {
            let fp = Fingerprint::of("", &text);
            for part in [fp.shingle_sample().values, fp.lede().values, fp.word_sample().values, fp.title_words()] {
                proptest::prop_assert!(part.windows(2).all(|w| w[0] < w[1]));
            }
            if fp.shingle_count > 0 {
                let e = crate::dedup::compare(&fp, &fp);
                proptest::prop_assert_eq!(e.relation(), crate::dedup::Relation::Same);
            }
        }
    }

    #[test]
    fn short_text_is_one_shingle() {
        assert_eq!(Fingerprint::of("", "Talks end").shingle_count, 1);
        assert_eq!(Fingerprint::of("", "  ").shingle_count, 0);
    }
}
