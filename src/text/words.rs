//! Words: Unicode word boundaries (UAX #29), and a case-insensitive hash.
//!
//! Works for any language written with spaces; CJK text comes out as one
//! token per ideograph, which is what UAX #29 gives and is good enough for
//! overlap figures.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `f` with each word of `text`, in order, as a slice of `text`.
///
/// A fast path follows UAX #29 byte by byte for ASCII text, Latin-1 letters
/// and the typographic punctuation common in news copy: letters, digits and
/// `_` form words; `.`, `'`, `‘` and `’` join two letters or two digits (`U.S`,
/// `it’s`, `3.5`), `:` joins two letters, `,` and `;` join two digits
/// (`1,000`); curly double quotes, dashes, ellipses, bullets and currency
/// signs separate. Any other text goes through `unicode-segmentation`.
pub fn for_each_word<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    if is_fast_text(text) {
        fast_words::<false>(text, |word, _| f(word));
    } else {
        text.unicode_words().for_each(f);
    }
}

/// Like [`for_each_word`], with each word's [`word_hash`]; on the fast path
/// words are hashed as they are found, a machine word at a time.
pub fn for_each_word_hashed<'t>(text: &'t str, mut f: impl FnMut(&'t str, u64)) {
    if is_fast_text(text) {
        fast_words::<true>(text, f);
    } else {
        text.unicode_words()
            .for_each(|word| f(word, word_hash(word)));
    }
}

/// [`for_each_word_hashed`] for text already known to pass
/// [`is_fast_text`] (checked again only in debug builds): saves a second
/// pass when the caller had to check anyway.
pub fn for_each_fast_word_hashed<'t>(text: &'t str, f: impl FnMut(&'t str, u64)) {
    debug_assert!(is_fast_text(text));
    fast_words::<true>(text, f);
}

/// The fast path, for text that [`is_fast_text`]: one pass over the bytes,
/// decoding only the non-ASCII characters. With `HASH`, each word comes with
/// its [`word_hash`], else with 0.
fn fast_words<'t, const HASH: bool>(text: &'t str, mut f: impl FnMut(&'t str, u64)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // The class of the character at `i` and its length in bytes.
    let class_at = |i: usize| -> (Class, usize) {
        let b = bytes[i];
        if b < 0x80 {
            return (ascii_class(b), 1);
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        (fast_class(c).unwrap_or(Class::Separator), c.len_utf8())
    };
    // Whether the character at `i` is a letter, a digit (or neither).
    let kind_at = |i: usize| -> (bool, bool) {
        let b = bytes[i];
        if b < 0x80 {
            (b.is_ascii_alphabetic(), b.is_ascii_digit())
        } else {
            (class_at(i).0 == Class::Letter, false)
        }
    };
    let mut bits = ByteBits::new(bytes);
    let mut i = 0;
    loop {
        i = bits.next_word_or_wide(i);
        if i >= n {
            break;
        }
        if bytes[i] >= 0x80 {
            let (class, len) = class_at(i);
            if class != Class::Letter {
                i += len;
                continue;
            }
        }
        let start = i;
        let mut has_wide = false;
        loop {
            i = bits.run_end(i);
            if i >= n {
                break;
            }
            let (class, len) = class_at(i);
            // A non-ASCII letter continues the word.
            if class == Class::Letter {
                has_wide = true;
                i += len;
                continue;
            }
            // A joiner between two letters or two digits continues the word.
            if i + len >= n
                || !matches!(
                    class,
                    Class::MidLetterNum | Class::MidLetter | Class::MidNum
                )
            {
                break;
            }
            // The character before `i` ended a run: an ASCII word byte or a
            // non-ASCII letter.
            let prev = if bytes[i - 1] < 0x80 {
                (
                    bytes[i - 1].is_ascii_alphabetic(),
                    bytes[i - 1].is_ascii_digit(),
                )
            } else {
                (true, false)
            };
            let next = kind_at(i + len);
            let letters = prev.0 && next.0;
            let digits = prev.1 && next.1;
            let joins = match class {
                Class::MidLetterNum => letters || digits,
                Class::MidLetter => letters,
                Class::MidNum => digits,
                Class::Letter | Class::Digit | Class::Underscore | Class::Separator => false,
            };
            if !joins {
                break;
            }
            has_wide |= len > 1;
            i += len;
        }
        let word = &text[start..i];
        // A run of underscores alone is not a word (UAX #29 words need a
        // letter or a digit).
        if bytes[start] == b'_' && !has_wide && !word.bytes().any(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let hash = match (HASH, has_wide) {
            (false, _) => 0,
            (true, false) => hash_lowered_in(bytes, start, i),
            (true, true) => word_hash(word),
        };
        f(word, hash);
    }
}

/// Bitmaps of one 64-byte block of the text: which bytes are ASCII word
/// bytes (letters, digits, `_`) and which are not ASCII. Each byte is
/// classified once, eight at a time; finding where a word starts or ends is
/// then a count of trailing zeros, with no branch per byte.
struct ByteBits<'a> {
    bytes: &'a [u8],
    /// Offset of the cached block (a multiple of 64), or `usize::MAX`.
    block: usize,
    word: u64,
    wide: u64,
}

impl<'a> ByteBits<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        ByteBits {
            bytes,
            block: usize::MAX,
            word: 0,
            wide: 0,
        }
    }

    /// Caches the block holding `i` and returns its offset.
    #[inline]
    fn load(&mut self, i: usize) -> usize {
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let block = i & !63;
        if block == self.block {
            return block;
        }
        let (mut word, mut wide) = (0u64, 0u64);
        for k in 0..8 {
            let at = block + 8 * k;
            let x = if at + 8 <= self.bytes.len() {
                load_eight(self.bytes, at)
            } else {
                // Past the end reads as spaces: neither word nor wide.
                let mut eight = [b' '; 8];
                if at < self.bytes.len() {
                    let rest = &self.bytes[at..];
                    eight[..rest.len()].copy_from_slice(rest);
                }
                u64::from_le_bytes(eight)
            };
            word |= high_bits_to_mask(!non_word_bytes(x) & HIGH) << (8 * k);
            wide |= high_bits_to_mask(x & HIGH) << (8 * k);
        }
        self.block = block;
        self.word = word;
        self.wide = wide;
        block
    }

    /// The first word byte or non-ASCII byte at or after `i`, or the end of
    /// the text. A non-ASCII character may start a word (a Latin-1 letter)
    /// or not: the caller looks.
    fn next_word_or_wide(&mut self, mut i: usize) -> usize {
        while i < self.bytes.len() {
            let block = self.load(i);
            let starts = (self.word | self.wide) >> (i - block);
            if starts != 0 {
                return i + starts.trailing_zeros() as usize;
            }
            i = block + 64;
        }
        self.bytes.len()
    }

    /// The end of the run of ASCII word bytes starting at `i`.
    fn run_end(&mut self, mut i: usize) -> usize {
        while i < self.bytes.len() {
            let block = self.load(i);
            let stops = !self.word >> (i - block);
            if stops != 0 {
                return (i + stops.trailing_zeros() as usize).min(self.bytes.len());
            }
            i = block + 64;
        }
        self.bytes.len()
    }
}

/// Gathers the high bit of each byte of `x` (other bits zero) into the low
/// eight bits, byte `k` to bit `k`.
#[inline]
fn high_bits_to_mask(x: u64) -> u64 {
    (x >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Bytes `at..at + 8` as a little-endian word (one unaligned load).
#[inline]
fn load_eight(bytes: &[u8], at: usize) -> u64 {
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(eight)
}

/// The high bit of each byte of `x` (little endian) that is not a word
/// byte, by range tests on all eight bytes at once.
fn non_word_bytes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    // High bit set in each byte >= m; bytes must be below 0x80.
    let at_least = |v: u64, m: u64| (v + (0x80 - m) * ONES) & HIGH;
    let x7 = x & LOW7;
    let folded = x7 | (0x20 * ONES);
    let digit = at_least(x7, b'0'.into()) & !at_least(x7, u64::from(b'9') + 1);
    let letter = at_least(folded, b'a'.into()) & !at_least(folded, u64::from(b'z') + 1);
    let off_underscore = x7 ^ (u64::from(b'_') * ONES);
    let underscore = !((off_underscore & LOW7) + LOW7) & HIGH;
    let ascii = !x & HIGH;
    !((digit | letter | underscore) & ascii) & HIGH
}

/// Whether every character of `text` is one the word fast path knows:
/// ASCII or the common typographic punctuation of news copy.
pub fn is_fast_text(text: &str) -> bool {
    // Only the non-ASCII characters need a look: jump from one to the next
    // eight bytes at a time instead of decoding every character.
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let high = load_eight(bytes, i) & HIGH;
            if high == 0 {
                i += 8;
                continue;
            }
            i += (high.trailing_zeros() / 8) as usize;
        } else if bytes[i] < 0x80 {
            i += 1;
            continue;
        }
        // `i` is the first byte of a non-ASCII character: the bytes before
        // it were ASCII, and every earlier multi-byte character was skipped
        // whole.
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if fast_class(c).is_none() {
            return false;
        }
        i += c.len_utf8();
    }
    true
}

/// Word-boundary classes of the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Underscore,
    /// Joins two letters or two digits.
    MidLetterNum,
    /// Joins two letters.
    MidLetter,
    /// Joins two digits.
    MidNum,
    Separator,
}

fn ascii_class(b: u8) -> Class {
    ASCII_CLASSES[usize::from(b & 0x7F)]
}

/// [`ascii_class_of`] for every ASCII byte, looked up in the hot loop.
static ASCII_CLASSES: [Class; 128] = {
    let mut table = [Class::Separator; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = ascii_class_of(b as u8);
        b += 1;
    }
    table
};

/// Whether each byte forms words on its own: ASCII letters, digits and `_`.
/// The reference the eight-at-a-time classifier is tested against.
#[cfg(test)]
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = matches!(
            ascii_class_of(b as u8),
            Class::Letter | Class::Digit | Class::Underscore
        );
        b += 1;
    }
    table
};

const fn ascii_class_of(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b'_' => Class::Underscore,
        b'.' | b'\'' => Class::MidLetterNum,
        b':' => Class::MidLetter,
        b',' | b';' => Class::MidNum,
        _ => Class::Separator,
    }
}

/// Classes of the non-ASCII characters the fast path knows; `None` sends
/// the text to the full UAX #29 segmenter.
fn fast_class(c: char) -> Option<Class> {
    match c {
        '\u{2018}' | '\u{2019}' => Some(Class::MidLetterNum),
        '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}' | '\u{2026}' | '\u{2022}' | '£' | '€'
        | '©' | '°' | '\u{00A0}' => Some(Class::Separator),
        // Latin-1 letters (names such as Pérez, Zoë, Ibrahimović's cousin
        // Müller): letters for UAX #29, unchanged by NFKC, and lowercased
        // the same by case folding. `ß` folds to `ss`, so it is left out.
        '\u{00C0}'..='\u{00FF}' if !matches!(c, '\u{00D7}' | '\u{00F7}' | '\u{00DF}') => {
            Some(Class::Letter)
        }
        _ => None,
    }
}

/// A hash of `word` that ignores case: equal for `Geneva` and `GENEVA`.
/// Stable across runs and platforms.
///
/// Meant for words as [`for_each_word`] yields them: the lowercased UTF-8
/// (curly apostrophes folded to `'`) is read eight bytes at a time, little
/// endian, and each chunk mixed in with a folded 64×64→128-bit multiply;
/// then the length and a finalizer. ASCII is lowercased by setting bit 5 of
/// each ASCII byte, exact for letters and a no-op for digits and the
/// joining punctuation, so ASCII words need no copy.
pub fn word_hash(word: &str) -> u64 {
    if word.is_ascii() {
        return hash_lowered(word.as_bytes());
    }
    let mut lowered = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '\u{2018}' | '\u{2019}') {
            lowered.push('\'');
        } else {
            lowered.extend(c.to_lowercase());
        }
    }
    hash_lowered(lowered.as_bytes())
}

/// The hash of [`word_hash`] over bytes whose non-ASCII part is already
/// lowercase.
fn hash_lowered(bytes: &[u8]) -> u64 {
    hash_lowered_in(bytes, 0, bytes.len())
}

/// [`hash_lowered`] of `buffer[start..end]`. The last partial chunk is read
/// as a whole machine word from `buffer` and masked when `buffer` reaches
/// far enough, which spares a variable-length copy (and its mispredicted
/// branches) for most words.
fn hash_lowered_in(buffer: &[u8], start: usize, end: usize) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 5 set in each ASCII byte of the chunk.
    let lower = |x: u64| x | ((!(x >> 7) & ONES) * 0x20);
    let load = |at: usize| load_eight(buffer, at);
    let mut hash = HASH_SEED;
    let mut at = start;
    while at + 8 <= end {
        hash = folded_multiply(hash ^ lower(load(at)), MULTIPLIER);
        at += 8;
    }
    if at < end {
        let rest = end - at;
        let chunk = if at + 8 <= buffer.len() {
            load(at) & (u64::MAX >> (64 - 8 * rest))
        } else {
            buffer[at..end]
                .iter()
                .enumerate()
                .fold(0, |x, (k, &b)| x | u64::from(b) << (8 * k))
        };
        hash = folded_multiply(hash ^ lower(chunk), MULTIPLIER);
    }
    finish(hash ^ (end - start) as u64)
}

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// The high and low halves of the full product, xored: every input bit
/// reaches the middle of the output.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The splitmix64 finalizer: spreads every input bit over the output.
fn finish(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        fast_words(text)
            .into_iter()
            .map(str::to_lowercase)
            .collect()
    }

    #[test]
    fn punctuation_is_not_a_word() {
        assert_eq!(
            words("Talks end, Lavrov says."),
            ["talks", "end", "lavrov", "says"]
        );
    }

    #[test]
    fn contractions_and_decimals_stay_whole() {
        assert_eq!(words("It's 3.5% up"), ["it's", "3.5", "up"]);
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = "Genf — Gespräche";
        for_each_word(text, |w| {
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            assert_eq!(&text[start..start + w.len()], w);
        });
    }

    fn fast_words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_word(text, |w| out.push(w));
        out
    }

    #[test]
    fn ascii_fast_path_agrees_with_uax29() {
        for text in [
            "Talks end, Lavrov says.",
            "It's 3.5% up on the U.S. figure of 1,000 -- or $10.9bn.",
            "e-mail snake_case a:b 12:30 end.Next ''quoted'' `` tokens '' ( cnn )",
            "trailing dot. and comma, then 'single' quotes a.1 1'000 x'1",
        ] {
            let uax: Vec<&str> = text.unicode_words().collect();
            assert_eq!(fast_words(text), uax, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_path_matches_unicode_words(text in "[a-zA-Z0-9 .,;:'_\u{2018}\u{2019}\u{201C}\u{2014}£éÉñÿ×-]{0,40}") {
            let uax: Vec<&str> = text.unicode_words().collect();
            proptest::prop_assert_eq!(fast_words(&text), uax);
        }

        #[test]
        fn ascii_scan_matches_unicode_words(text in "([a-zA-Z0-9_@`{}]{1,12}[ .,;:'_-]{1,2}){0,100}") {
            let uax: Vec<&str> = text.unicode_words().collect();
            let mut scanned = Vec::new();
            for_each_word_hashed(&text, |word, _| scanned.push(word));
            proptest::prop_assert_eq!(scanned, uax);
        }

        #[test]
        fn fast_text_check_decodes_like_chars(text in "[a-z .\u{2019}\u{201C}\u{2014}£€©°\u{00A0}éÉ\u{00AD}ſ\u{4E00}]{0,40}") {
            let by_chars = text.chars().all(|c| c.is_ascii() || fast_class(c).is_some());
            proptest::prop_assert_eq!(is_fast_text(&text), by_chars);
        }

        #[test]
        fn hashes_in_the_scan_agree_with_word_hash(text in "[a-zA-Z0-9 .,;:'_\u{2018}\u{2019}\u{201C}\u{2014}£ÉéÖ-]{0,40}") {
            let mut pairs = Vec::new();
            for_each_word_hashed(&text, |word, hash| pairs.push((word, hash)));
            for (word, hash) in pairs {
                proptest::prop_assert_eq!(hash, word_hash(word), "{}", word);
            }
        }
    }

    #[test]
    fn hashed_words_agree_with_word_hash() {
        for text in [
            "It's 3.5% up on the U.S. figure",
            "Genf – Gespräche ’n’ Talks",
            "a_b __ x",
        ] {
            for_each_word_hashed(text, |word, hash| {
                assert_eq!(hash, word_hash(word), "{word}")
            });
        }
    }

    #[test]
    fn eight_bytes_at_a_time_classifies_like_the_table() {
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut eight = [b'a'; 8];
                eight[lane] = b;
                let stops = non_word_bytes(u64::from_le_bytes(eight));
                let expected = if WORD_BYTES[usize::from(b)] {
                    0
                } else {
                    0x80 << (8 * lane)
                };
                assert_eq!(stops, expected, "byte {b:#x} in lane {lane}");
            }
        }
    }

    #[test]
    fn word_hash_ignores_case() {
        assert_eq!(word_hash("Geneva"), word_hash("GENEVA"));
        assert_eq!(word_hash("ÉTÉ"), word_hash("été"));
        assert_eq!(word_hash("It\u{2019}s"), word_hash("it's"));
        assert_eq!(word_hash("Washington's"), word_hash("WASHINGTON'S"));
        assert_ne!(word_hash("geneva"), word_hash("genf"));
        assert_ne!(word_hash("3.5"), word_hash("3,5"));
        assert_ne!(word_hash("a"), word_hash("a\0"));
    }

    #[test]
    fn cjk_does_not_break() {
        assert!(!fast_words("日内瓦会谈结束。").is_empty());
        assert_eq!(fast_words("два слова").len(), 2);
    }
}
