//! English function words, and a fast set of word hashes to test them.
//!
//! Summaries leave stopwords out of their similarity vectors, and so does
//! the near-duplicate word vector; other languages keep all their words.

use std::sync::LazyLock;

use super::words::word_hash;

/// Function words left out of the similarity vectors (English; other
/// languages keep all their words).
pub const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "for", "from", "had", "has", "have", "he", "her",
    "his", "i", "if", "in", "into", "is", "it", "it's", "its", "more", "not", "of", "on", "one",
    "or", "our", "out", "s", "said", "says", "she", "so", "than", "that", "the", "their", "them",
    "there", "they", "this", "to", "up", "was", "we", "were", "what", "when", "which", "who",
    "will", "with", "would", "you",
];

/// Longest entry of [`STOPWORDS`], in bytes.
const MAX_STOPWORD_BYTES: usize = 5;

/// A set of word hashes answered with one or two loads: open addressing
/// over a small power-of-two table (the sets here hold under 100 words).
#[derive(Debug)]
pub struct WordSet {
    slots: Vec<u64>,
    mask: usize,
}

impl WordSet {
    pub fn new(words: &[&str]) -> WordSet {
        let size = (words.len() * 4).next_power_of_two();
        let mut set = WordSet {
            slots: vec![0; size],
            mask: size - 1,
        };
        for word in words {
            let hash = word_hash(word);
            let mut i = hash as usize & set.mask;
            while set.slots[i] != 0 && set.slots[i] != hash {
                i = (i + 1) & set.mask;
            }
            set.slots[i] = hash;
        }
        set
    }

    pub fn contains(&self, hash: u64) -> bool {
        let mut i = hash as usize & self.mask;
        loop {
            match self.slots[i] {
                0 => return false,
                h if h == hash => return true,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

static STOPWORD_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(STOPWORDS));

/// Whether `word` (with its [`word_hash`]) is a stopword.
pub fn is_stopword(word: &str, hash: u64) -> bool {
    // Every stopword is short: longer words skip the lookup.
    word.len() <= MAX_STOPWORD_BYTES && STOPWORD_SET.contains(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_set_answers_membership() {
        assert!(is_stopword("The", word_hash("The")));
        assert!(!is_stopword("geneva", word_hash("geneva")));
        assert!(STOPWORDS.iter().all(|w| is_stopword(w, word_hash(w))));
    }

    #[test]
    fn stopword_length_bound_holds() {
        assert_eq!(
            STOPWORDS.iter().map(|w| w.len()).max(),
            Some(MAX_STOPWORD_BYTES)
        );
    }
}
