//! Normalization that makes two versions of one story compare equal where
//! they differ only in typography.
//!
//! Stages, in order: NFKC (ligatures, full-width forms, non-breaking spaces),
//! invisible characters dropped (zero-width spaces and joiners, byte-order
//! marks, soft hyphens), quotes and apostrophes unified to ASCII, dashes
//! unified to `-`, lowercase, whitespace runs collapsed to one space.
//! Punctuation is kept: the word tokenizer decides what a word is.

use unicode_normalization::UnicodeNormalization;

/// Returns the normalized form of `text`. Idempotent:
/// `normalize(&normalize(t)) == normalize(t)`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.nfkc() {
        let Some(ch) = fold_char(ch) else { continue };
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if ch.is_uppercase() {
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    // Lowercasing can produce characters that NFKC would compose differently
    // (rare, e.g. some Greek and Turkish forms); a second pass keeps the
    // function idempotent without paying for it on plain text.
    if out.is_ascii() {
        out
    } else {
        let again: String = out.nfkc().collect();
        if again == out { out } else { normalize(&again) }
    }
}

/// Maps one character to its comparison form; `None` drops it.
fn fold_char(ch: char) -> Option<char> {
    match ch {
        // Zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => None,
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' | '`' => {
            Some('\'')
        }
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => Some('"'),
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{FE58}' => Some('-'),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn curly_quotes_and_dashes_become_ascii() {
        assert_eq!(
            normalize("\u{201C}We\u{2019}re ready\u{201D} \u{2014} Lavrov"),
            "\"we're ready\" - lavrov"
        );
    }

    #[test]
    fn invisible_characters_and_nbsp_vanish() {
        assert_eq!(
            normalize("Gen\u{00AD}eva\u{200B} talks\u{00A0}end"),
            "geneva talks end"
        );
    }

    #[test]
    fn ligatures_and_fullwidth_forms_fold() {
        assert_eq!(normalize("\u{FB01}nal ＵＳ"), "final us");
    }

    #[test]
    fn whitespace_runs_collapse_and_trim() {
        assert_eq!(normalize("  a \n\n b\t c  "), "a b c");
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(text in "\\PC{0,80}") {
            let once = normalize(&text);
            prop_assert_eq!(normalize(&once), once);
        }
    }
}
