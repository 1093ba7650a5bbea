//! Words: Unicode word boundaries (UAX #29), and a case-insensitive hash.
//!
//! Works for any language written with spaces; CJK text comes out as one
//! token per ideograph, which is what UAX #29 gives and is good enough for
//! overlap figures.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `f` with each word of `text`, in order, as a slice of `text`.
///
/// A fast path follows UAX #29 byte by byte for ASCII text and for the
/// typographic punctuation common in news copy: letters, digits and `_` form
/// words; `.`, `'`, `‘` and `’` join two letters or two digits (`U.S`,
/// `it’s`, `3.5`), `:` joins two letters, `,` and `;` join two digits
/// (`1,000`); curly double quotes, dashes, ellipses, bullets and currency
/// signs separate. Any other text goes through `unicode-segmentation`.
pub fn for_each_word<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    if text.is_ascii() {
        return ascii_words(text, |word, _| f(word));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii() || fast_class(c).is_some())
    {
        text.unicode_words().for_each(f);
        return;
    }
    let bytes = text.as_bytes();
    let class_at = |i: usize| -> (Class, usize) {
        let b = bytes[i];
        if b.is_ascii() {
            return (ascii_class(b), 1);
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        (fast_class(c).unwrap_or(Class::Separator), c.len_utf8())
    };
    let mut i = 0;
    while i < bytes.len() {
        let (class, len) = class_at(i);
        if !matches!(class, Class::Letter | Class::Digit | Class::Underscore) {
            i += len;
            continue;
        }
        let start = i;
        let mut has_alphanumeric = class != Class::Underscore;
        let mut prev = class;
        i += len;
        while i < bytes.len() {
            let (class, len) = class_at(i);
            match class {
                Class::Letter | Class::Digit | Class::Underscore => {
                    has_alphanumeric |= class != Class::Underscore;
                    prev = class;
                    i += len;
                    continue;
                }
                Class::Separator => break,
                Class::MidLetterNum | Class::MidLetter | Class::MidNum => {}
            }
            let Some(next) = (i + len < bytes.len()).then(|| class_at(i + len).0) else {
                break;
            };
            let joins = match class {
                Class::MidLetterNum => {
                    (prev == Class::Letter && next == Class::Letter)
                        || (prev == Class::Digit && next == Class::Digit)
                }
                Class::MidLetter => prev == Class::Letter && next == Class::Letter,
                Class::MidNum => prev == Class::Digit && next == Class::Digit,
                Class::Letter | Class::Digit | Class::Underscore | Class::Separator => false,
            };
            if !joins {
                break;
            }
            i += len;
        }
        // A run of underscores alone is not a word (UAX #29 words need a
        // letter or a digit).
        if has_alphanumeric {
            f(&text[start..i]);
        }
    }
}

/// Like [`for_each_word`], with each word's [`word_hash`]; ASCII text is
/// hashed in the same pass that finds the words.
pub fn for_each_word_hashed<'t>(text: &'t str, mut f: impl FnMut(&'t str, u64)) {
    if text.is_ascii() {
        ascii_words(text, f);
    } else {
        for_each_word(text, |word| f(word, word_hash(word)));
    }
}

/// The ASCII-only fast path: the same rules as the general fast path, with
/// a table lookup per byte, and each word's [`word_hash`] computed while it
/// is scanned.
fn ascii_words<'t>(text: &'t str, mut f: impl FnMut(&'t str, u64)) {
    let bytes = text.as_bytes();
    let is_word = |b: u8| {
        matches!(
            ascii_class(b),
            Class::Letter | Class::Digit | Class::Underscore
        )
    };
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        while i < n && !is_word(bytes[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        let mut hash = HASH_SEED;
        loop {
            while i < n && is_word(bytes[i]) {
                hash = hash_byte(hash, bytes[i] | 0x20);
                i += 1;
            }
            if i + 1 < n && joins(bytes[i - 1], bytes[i], bytes[i + 1]) {
                hash = hash_byte(hash, bytes[i] | 0x20);
                i += 1;
            } else {
                break;
            }
        }
        // A run of underscores alone is not a word.
        if bytes[start] != b'_' || bytes[start..i].iter().any(u8::is_ascii_alphanumeric) {
            f(&text[start..i], finish(hash ^ (i - start) as u64));
        }
    }
}

/// Whether ASCII punctuation `mid` joins the word characters around it.
fn joins(prev: u8, mid: u8, next: u8) -> bool {
    let letters = prev.is_ascii_alphabetic() && next.is_ascii_alphabetic();
    let digits = prev.is_ascii_digit() && next.is_ascii_digit();
    match ascii_class(mid) {
        Class::MidLetterNum => letters || digits,
        Class::MidLetter => letters,
        Class::MidNum => digits,
        Class::Letter | Class::Digit | Class::Underscore | Class::Separator => false,
    }
}

/// Whether every character of `text` is one the word fast path knows:
/// ASCII or the common typographic punctuation of news copy.
pub fn is_fast_text(text: &str) -> bool {
    text.is_ascii()
        || text
            .chars()
            .all(|c| c.is_ascii() || fast_class(c).is_some())
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
        _ => None,
    }
}

/// A hash of `word` that ignores case: equal for `Geneva` and `GENEVA`.
/// Stable across runs and platforms.
///
/// Meant for words as [`for_each_word`] yields them: a multiply-xor per byte
/// of the lowercased UTF-8 (ASCII is lowercased by setting bit 5, exact for
/// letters and a no-op for digits and the joining punctuation), then the
/// length and a finalizer.
pub fn word_hash(word: &str) -> u64 {
    let mut hash = HASH_SEED;
    if word.is_ascii() {
        for b in word.bytes() {
            hash = hash_byte(hash, b | 0x20);
        }
        return finish(hash ^ word.len() as u64);
    }
    let mut buffer = [0u8; 4];
    let mut len = 0;
    // Curly apostrophes hash as the ASCII one: `it’s` and `it's` agree.
    let fold = |c: char| {
        if matches!(c, '\u{2018}' | '\u{2019}') {
            '\''
        } else {
            c
        }
    };
    for c in word.chars().map(fold).flat_map(char::to_lowercase) {
        for b in c.encode_utf8(&mut buffer).bytes() {
            hash = hash_byte(hash, b);
            len += 1;
        }
    }
    finish(hash ^ len)
}

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

#[inline]
fn hash_byte(hash: u64, b: u8) -> u64 {
    (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
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
        fn fast_path_matches_unicode_words(text in "[a-zA-Z0-9 .,;:'_\u{2018}\u{2019}\u{201C}\u{2014}£-]{0,40}") {
            let uax: Vec<&str> = text.unicode_words().collect();
            proptest::prop_assert_eq!(fast_words(&text), uax);
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
