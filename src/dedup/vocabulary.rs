//! How common each word is in the copy the index holds, learned from the
//! index itself: the evidence that two stories by different writers are on
//! one event.
//!
//! Independent reports of one event share names, places and numbers, not
//! sentences, so the shingles that fold versions miss them. What they share
//! counts only if it is rare: every story in a language shares its function
//! words, and every story on a beat shares the beat's vocabulary. The index
//! counts, for each word key, how many of its stories hold it (document
//! frequency); a word held by more than one in [`COMMON_ONE_IN`] of the stories
//! that could show it is *common* and says nothing about the event. No list
//! of any language's words is involved, so this works the same in every
//! language the index sees.
//!
//! A word's key is the top 16 bits of its 64-bit hash. The content-word
//! samples of [`super::sample`] keep, at level `L`, the words whose hash
//! starts with `L` zero bits and store the 16 bits after them, so a stored
//! value `v` names the key `v >> L`; and a story sampled at level `L` can
//! only show keys below `2^(16 - L)`. The share of a key is therefore
//! counted among the stories whose level lets them show it.
//!
//! Fixed size: one 4-byte counter per key (256 KiB), whatever the index
//! holds. Keys collide (a 16-bit key stands for every word with those top
//! bits); at a large index a rare word may share its key with a common one
//! and be left out too, which costs some recall, never a false link.

use smallvec::SmallVec;

use super::sample::Sample;

/// Keys: the top 16 bits of a word hash.
const KEYS: usize = 1 << 16;

/// A word in more than one in this many of the stories that could show it
/// is common: function words of every language, and a beat's stock
/// phrases. Measured on the multilingual event pairs (`events_dev`): one in
/// a hundred keeps the names and terms of an event and drops the words of
/// a language or beat.
pub const COMMON_ONE_IN: u64 = 100;

/// ...and a word held by fewer stories than this is never common: in a
/// young index every word is in a large share of a handful of stories.
pub const COMMON_MIN_STORIES: u32 = 5;

/// Levels a sample can have: a key at level 16 or coarser is 0.
const LEVELS: usize = 17;

/// Document frequency of word keys over the stories an index holds.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Stories holding each key.
    stories_with: Box<[u32]>,
    /// Stories counted whose word sample's level is at most the index:
    /// those that could show a key with that many leading zeros.
    visible_at_level: [u64; LEVELS],
}

impl Vocabulary {
    /// Heap the counts hold (fixed).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.stories_with)
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary {
            stories_with: vec![0; KEYS].into_boxed_slice(),
            visible_at_level: [0; LEVELS],
        }
    }
}

/// The key of a sample's stored `value` at `level`: the top 16 bits of the
/// word's hash (its first `level` bits are the zeros that sampled it).
pub fn key_of(value: u16, level: u8) -> u16 {
    value.checked_shr(u32::from(level)).unwrap_or(0)
}

/// The key of a full 64-bit word hash.
pub fn key_of_hash(hash: u64) -> u16 {
    (hash >> 48) as u16
}

/// The distinct keys of a sample, ascending.
fn keys<'a>(sample: &'a Sample<'a>) -> impl Iterator<Item = u16> + 'a {
    let mut last = None;
    sample.values.iter().filter_map(move |&v| {
        let key = key_of(v, sample.level);
        (last.replace(key) != Some(key)).then_some(key)
    })
}

impl Vocabulary {
    /// Counts a story's word sample.
    pub fn learn(&mut self, words: &Sample<'_>) {
        for key in keys(words) {
            let count = &mut self.stories_with[usize::from(key)];
            *count = count.saturating_add(1);
        }
        for visible in &mut self.visible_at_level[level_slot(words.level)..] {
            *visible += 1;
        }
    }

    /// Uncounts a story's word sample (the story left the index).
    pub fn forget(&mut self, words: &Sample<'_>) {
        for key in keys(words) {
            let count = &mut self.stories_with[usize::from(key)];
            *count = count.saturating_sub(1);
        }
        for visible in &mut self.visible_at_level[level_slot(words.level)..] {
            *visible = visible.saturating_sub(1);
        }
    }

    /// Stories counted so far.
    pub fn stories(&self) -> u64 {
        self.visible_at_level[LEVELS - 1]
    }

    /// Whether `key` is a common word (see [`COMMON_ONE_IN`]).
    pub fn is_common(&self, key: u16) -> bool {
        let with = self.stories_with[usize::from(key)];
        if with < COMMON_MIN_STORIES {
            return false;
        }
        // Stories sampled at a level up to the key's leading zeros could
        // show it.
        let could_show = self.visible_at_level[(key.leading_zeros() as usize).min(LEVELS - 1)];
        u64::from(with) * COMMON_ONE_IN > could_show
    }

    /// The sample's values whose words are not common, as a sample of the
    /// same level.
    pub fn uncommon(&self, words: &Sample<'_>) -> SmallVec<[u16; 128]> {
        words
            .values
            .iter()
            .copied()
            .filter(|&v| !self.is_common(key_of(v, words.level)))
            .collect()
    }

    /// The Sørensen–Dice overlap of two stories' uncommon words, given
    /// the first story's uncommon words already picked (see
    /// [`Vocabulary::uncommon`]; a query computes them once for all its
    /// candidates).
    pub fn uncommon_dice(&self, uncommon: &Sample<'_>, other: &Sample<'_>) -> f64 {
        let other_words = self.uncommon(other);
        let overlap = uncommon.overlap(&Sample {
            values: &other_words,
            level: other.level,
        });
        let total = overlap.left + overlap.right;
        if total == 0 {
            0.0
        } else {
            2.0 * overlap.shared as f64 / total as f64
        }
    }

    /// An upper bound of [`Vocabulary::uncommon_dice`] that needs no word
    /// counts: the words both hold are among `uncommon` already, and the
    /// other story has at least those uncommon words. Most stories that
    /// share one name share nothing else, and this says so cheaply.
    pub fn uncommon_dice_bound(uncommon: &Sample<'_>, other: &Sample<'_>) -> f64 {
        let overlap = uncommon.overlap(other);
        let total = overlap.left + overlap.shared;
        if total == 0 {
            0.0
        } else {
            2.0 * overlap.shared as f64 / total as f64
        }
    }

    /// How much two stories share of their uncommon words beyond what the
    /// text they share verbatim explains ([`event_overlap`] of their
    /// [`Vocabulary::uncommon_dice`]).
    pub fn event_overlap(&self, a: &Sample<'_>, b: &Sample<'_>, shared_text: f64) -> f64 {
        let a_words = self.uncommon(a);
        let a_uncommon = Sample {
            values: &a_words,
            level: a.level,
        };
        event_overlap(self.uncommon_dice(&a_uncommon, b), shared_text)
    }
}

/// The overlap `dice` of two stories' uncommon words with the share
/// `shared_text` of shingles the two have in common (their containment)
/// taken out, as `(dice − shared_text) / (1 − shared_text)`, at least 0.
/// Two pages of one site share a cookie notice word for word, and its
/// words say nothing about their news; two reports of one event share
/// names and terms in sentences of their own. Never above `dice`.
pub fn event_overlap(dice: f64, shared_text: f64) -> f64 {
    if shared_text >= 1.0 {
        return 0.0;
    }
    ((dice - shared_text) / (1.0 - shared_text)).max(0.0)
}

fn level_slot(level: u8) -> usize {
    usize::from(level).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::sample;

    /// A level-`level` sample of the words with these 64-bit hashes.
    fn sample_of(hashes: &[u64], level: u8) -> Vec<u16> {
        sample::sample(hashes.iter().copied(), level)
    }

    fn word(i: u64) -> u64 {
        // Spread over the hash space, with some leading zeros.
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()) >> 3
    }

    #[test]
    fn a_sample_value_names_the_top_bits_of_its_hash() {
        let hash = 0x0123_4567_89ab_cdef_u64;
        for level in 0..=7 {
            let value = sample::stored_bits(hash, level);
            assert_eq!(key_of(value, level), key_of_hash(hash), "level {level}");
        }
    }

    #[test]
    fn a_word_in_every_story_is_common_and_a_rare_one_is_not() {
        let mut vocabulary = Vocabulary::default();
        let function_word = word(0);
        for story in 1..=200u64 {
            let words = [function_word, word(story * 10), word(story * 10 + 1)];
            let values = sample_of(&words, 0);
            vocabulary.learn(&Sample {
                values: &values,
                level: 0,
            });
        }
        assert_eq!(vocabulary.stories(), 200);
        assert!(vocabulary.is_common(key_of_hash(function_word)));
        assert!(!vocabulary.is_common(key_of_hash(word(50))));
        // A word in 3 of 200 stories is rare; in a young index nothing is
        // common.
        let young = Vocabulary::default();
        assert!(!young.is_common(key_of_hash(function_word)));
    }

    #[test]
    fn forgetting_a_story_undoes_learning_it() {
        let mut vocabulary = Vocabulary::default();
        let values = sample_of(&[word(1), word(2)], 0);
        let sample = Sample {
            values: &values,
            level: 0,
        };
        for _ in 0..10 {
            vocabulary.learn(&sample);
        }
        assert!(vocabulary.is_common(key_of_hash(word(1))));
        for _ in 0..10 {
            vocabulary.forget(&sample);
        }
        assert_eq!(vocabulary.stories(), 0);
        assert!(!vocabulary.is_common(key_of_hash(word(1))));
    }

    #[test]
    fn shared_verbatim_text_does_not_count_as_shared_news() {
        let vocabulary = Vocabulary::default();
        let a = sample_of(&(0..40).map(word).collect::<Vec<_>>(), 0);
        let b = sample_of(&(20..60).map(word).collect::<Vec<_>>(), 0);
        let (a, b) = (
            Sample {
                values: &a,
                level: 0,
            },
            Sample {
                values: &b,
                level: 0,
            },
        );
        let overlap = vocabulary.event_overlap(&a, &b, 0.0);
        assert!((overlap - 0.5).abs() < 0.05, "{overlap}");
        // The same words, when half the text is one notice word for word.
        assert!(vocabulary.event_overlap(&a, &b, 0.5) < 0.05);
    }
}
