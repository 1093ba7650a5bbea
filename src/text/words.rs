//! Word tokens: Unicode word boundaries (UAX #29), lowercased.
//!
//! Works for any language written with spaces; CJK text comes out as one
//! token per ideograph, which is what UAX #29 gives and is good enough for
//! overlap figures.

use unicode_segmentation::UnicodeSegmentation;

/// One word of a text, lowercased, with its byte range in that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordToken {
    /// The lowercased word.
    pub text: String,
    /// Byte offset of the word's start in the text it came from.
    pub start: usize,
}

/// Lowercased words of `text` with their byte offsets. Punctuation and
/// whitespace are not words.
pub fn word_tokens(text: &str) -> Vec<WordToken> {
    text.unicode_word_indices()
        .map(|(start, word)| WordToken {
            text: lowercase(word),
            start,
        })
        .collect()
}

/// Counts the words of `text` without allocating them.
pub fn word_count(text: &str) -> usize {
    text.unicode_words().count()
}

fn lowercase(word: &str) -> String {
    if word.is_ascii() {
        word.to_ascii_lowercase()
    } else {
        word.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        word_tokens(text).into_iter().map(|w| w.text).collect()
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
        for w in word_tokens(text) {
            assert_eq!(text[w.start..].to_lowercase().find(&w.text), Some(0));
        }
    }

    #[test]
    fn cjk_does_not_break() {
        assert!(!word_tokens("日内瓦会谈结束。").is_empty());
        assert_eq!(word_count("два слова"), 2);
    }
}
