//! What a new version of a story changes against the version it follows:
//! sentences added, removed and changed, whether the top changed, whether
//! the copy was trimmed from the bottom, and an update summary (the best
//! of the added sentences).
//!
//! Cosmetic differences are not changes: a sentence is compared by its
//! words after normalization (quotes, dashes, spaces, ligatures, case), and
//! furniture lines (bylines, credits, captions, widgets), furniture
//! sentences and a leading dateline are not story. A sentence found in both
//! versions at another place has moved, which changes nothing but the top
//! when it moves there.
//!
//! Compute only: no I/O, no gRPC types.

use std::collections::HashMap;
use std::ops::Range;

use crate::summarize::{Weights, score_sentences};
use crate::text::markup::PlainText;
use crate::text::words::for_each_word;
use crate::text::{SentenceSpan, caption, furniture, normalize, split_sentences};

/// Two unmatched sentences are one sentence changed when this share of
/// their words (Jaccard of the word sets) is common to both.
const CHANGED_MIN_OVERLAP: f64 = 0.5;

/// Sentences the update summary picks from the added ones, at most.
const UPDATE_SUMMARY_SENTENCES: usize = 2;

/// A sentence of one version: its bytes in that version's body, and its
/// text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Byte offsets into the body it comes from.
    pub range: Range<usize>,
    /// The sentence.
    pub text: String,
}

/// The JSON shape (the CLI's lines): `{"text", "start", "end"}`, as the
/// gRPC `Passage` message names them.
impl serde::Serialize for Passage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut passage = serializer.serialize_struct("Passage", 3)?;
        passage.serialize_field("text", &self.text)?;
        passage.serialize_field("start", &self.range.start)?;
        passage.serialize_field("end", &self.range.end)?;
        passage.end()
    }
}

impl Passage {
    fn of(body: &str, range: Range<usize>) -> Passage {
        Passage {
            text: body[range.clone()].to_owned(),
            range,
        }
    }
}

/// A sentence present in both versions with different words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangedSentence {
    /// It in the earlier body.
    pub old: Passage,
    /// It in the new body.
    pub new: Passage,
    /// Words the new version dropped, lowercased, in the old order.
    pub words_removed: Vec<String>,
    /// Words the new version added, lowercased, in the new order.
    pub words_added: Vec<String>,
}

/// What a version changes against the one it follows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Sentences only the new version has (in the new body).
    pub added: Vec<Passage>,
    /// Sentences only the earlier version has (in the earlier body).
    pub removed: Vec<Passage>,
    /// Sentences in both, reworded.
    pub changed: Vec<ChangedSentence>,
    /// A new lede (the first story sentence is not the earlier first one,
    /// reworded or not) or a new headline.
    pub top_changed: bool,
    /// The earlier version's last story sentences are gone, and nothing
    /// follows where they stood: the copy was cut from the bottom.
    pub trimmed: bool,
    /// A sentence was taken out from inside the copy (not from its bottom).
    pub cut: bool,
    /// The best of the added sentences, in story order: what the update
    /// adds, for an editor.
    pub update_summary: Vec<Passage>,
}

impl Changes {
    /// True when the versions tell the same story in the same words.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.top_changed
    }
}

/// What an ingested version changes against the version it follows. In
/// JSON (the CLI's `changes`) the fields of `changes` follow `against`, in
/// the order of the gRPC `Changes` message's flags and lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChanges {
    /// The story id of the version it follows: the one it duplicates, or
    /// its own earlier text when an id is sent again with new text.
    pub against: String,
    /// What changed.
    pub changes: Changes,
}

impl serde::Serialize for VersionChanges {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = &self.changes;
        let mut line = serializer.serialize_struct("Changes", 8)?;
        line.serialize_field("against", &self.against)?;
        line.serialize_field("top_changed", &c.top_changed)?;
        line.serialize_field("trimmed", &c.trimmed)?;
        line.serialize_field("cut", &c.cut)?;
        line.serialize_field("added", &c.added)?;
        line.serialize_field("removed", &c.removed)?;
        line.serialize_field("changed", &c.changed)?;
        line.serialize_field("update_summary", &c.update_summary)?;
        line.end()
    }
}

/// What `new` changes against the stored story `against` (its title and
/// body as `old_title`, `old_body`). Lines whose
/// [`furniture::line_hash`] `learned` says are furniture (what an index
/// has learned recurs under unrelated stories: a subscription offer, a
/// weather widget) are not story, so not changes.
pub fn version_changes(
    against: &str,
    (old_title, old_body): (&str, &str),
    (new_title, new_body): (&str, &str),
    learned: &dyn Fn(u64) -> bool,
) -> VersionChanges {
    VersionChanges {
        against: against.to_owned(),
        changes: compare_learned(old_title, old_body, new_title, new_body, learned),
    }
}

/// One story sentence: where it is, its words and its comparison key.
struct Sentence {
    range: Range<usize>,
    words: Vec<String>,
    /// The words' hashes, sorted, each once: for the overlap test, which
    /// pairs every unmatched sentence with every other.
    word_set: Vec<u64>,
    key: String,
}

/// The story sentences of `body`: furniture lines and sentences left out,
/// a leading dateline cut from the first, empty ones dropped.
fn story_sentences(body: &str, learned: &dyn Fn(u64) -> bool) -> Vec<Sentence> {
    let furniture_lines = furniture::furniture_lines(body, learned);
    let mut sentences = Vec::new();
    for span in split_sentences(body) {
        let text = &body[span.start..span.end];
        if furniture_lines
            .iter()
            .any(|line| line.contains(&span.start))
            || furniture::is_furniture_sentence(text)
        {
            continue;
        }
        let mut start = span.start;
        if sentences.is_empty() {
            start += text.len() - without_dateline(text).len();
        }
        let mut words = Vec::new();
        for_each_word(&normalize(&body[start..span.end]), |w| {
            words.push(w.to_owned());
        });
        if words.is_empty() {
            continue;
        }
        let key = words.join(" ");
        let mut word_set: Vec<u64> = words
            .iter()
            .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes()))
            .collect();
        word_set.sort_unstable();
        word_set.dedup();
        sentences.push(Sentence {
            range: start..span.end,
            words,
            word_set,
            key,
        });
    }
    sentences
}

/// The longest dateline cut from a lede (`NEW YORK, Jan. 10 (AP) —`).
const MAX_DATELINE_BYTES: usize = 80;

/// `text` without its dateline: a tagged one (`GENEVA (Reuters) -`), or a
/// place and a dash (`TOKYO —`); unchanged when it opens with none.
fn without_dateline(text: &str) -> &str {
    // A name and its acronym (`The European Commission (EC) has…`) reads
    // like a tagged dateline to the matcher's looser cut; here the place
    // must be a dateline's.
    if !crate::text::dateline::opens_with_dateline(text) {
        return text;
    }
    let stripped = crate::text::dateline::strip_tagged_dateline(text);
    if stripped.len() < text.len() {
        return stripped;
    }
    let window = &text[..text.floor_char_boundary(MAX_DATELINE_BYTES.min(text.len()))];
    ["\u{2014}", "\u{2013}", "--", " - "]
        .iter()
        .filter_map(|dash| window.find(dash).map(|at| at + dash.len()))
        .min()
        .map_or(text, |end| text[end..].trim_start())
}

/// Pairs of equal keys in order (a longest common subsequence).
fn common_in_order(old: &[Sentence], new: &[Sentence]) -> Vec<(usize, usize)> {
    let (n, m) = (old.len(), new.len());
    // Stories run to dozens of sentences, not thousands: the table is small.
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[at(i, j)] = if old[i].key == new[j].key {
                table[at(i + 1, j + 1)] + 1
            } else {
                table[at(i + 1, j)].max(table[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < n && j < m {
        if old[i].key == new[j].key {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if table[at(i + 1, j)] >= table[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// Jaccard of two sorted sets.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        0.0
    } else {
        common as f64 / union as f64
    }
}

/// Words of `a` not in `b`, in `a`'s order.
fn words_missing(a: &[String], b: &[String]) -> Vec<String> {
    let mut left: HashMap<&str, usize> = HashMap::new();
    for word in b {
        *left.entry(word.as_str()).or_default() += 1;
    }
    a.iter()
        .filter(|word| match left.get_mut(word.as_str()) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// The headline's words, without a wire slug (`UPDATE 2-`).
fn headline_key(title: &str) -> String {
    let mut words = Vec::new();
    for_each_word(&normalize(crate::text::headline::strip_slug(title)), |w| {
        words.push(w.to_owned());
    });
    words.join(" ")
}

/// What `new` (headline and body) changes against `old`. HTML bodies are
/// compared by the text a reader sees (see [`crate::text::markup`]); each
/// passage's offsets point into its submitted body, its text is that text.
pub fn compare_versions(
    old_title: &str,
    old_body: &str,
    new_title: &str,
    new_body: &str,
) -> Changes {
    compare_learned(old_title, old_body, new_title, new_body, &|_| false)
}

/// [`compare_versions`] with learned furniture left out (see
/// [`version_changes`]).
fn compare_learned(
    old_title: &str,
    old_body: &str,
    new_title: &str,
    new_body: &str,
    learned: &dyn Fn(u64) -> bool,
) -> Changes {
    let (old_plain, new_plain) = (PlainText::of(old_body), PlainText::of(new_body));
    let mut changes = compare_texts(
        old_title,
        old_plain.text(),
        new_title,
        new_plain.text(),
        learned,
    );
    let into_old = |p: &mut Passage| p.range = old_plain.source_range(p.range.clone());
    let into_new = |p: &mut Passage| p.range = new_plain.source_range(p.range.clone());
    if old_plain.is_markup() {
        changes.removed.iter_mut().for_each(into_old);
        changes
            .changed
            .iter_mut()
            .for_each(|c| into_old(&mut c.old));
    }
    if new_plain.is_markup() {
        changes.added.iter_mut().for_each(into_new);
        changes.update_summary.iter_mut().for_each(into_new);
        changes
            .changed
            .iter_mut()
            .for_each(|c| into_new(&mut c.new));
    }
    changes
}

fn compare_texts(
    old_title: &str,
    old_body: &str,
    new_title: &str,
    new_body: &str,
    learned: &dyn Fn(u64) -> bool,
) -> Changes {
    let old = story_sentences(old_body, learned);
    let new = story_sentences(new_body, learned);
    let common = common_in_order(&old, &new);
    let mut old_matched = vec![false; old.len()];
    let mut new_matched = vec![false; new.len()];
    // Which earlier sentence each new one is (word for word, moved, or
    // reworded).
    let mut new_is_old: Vec<Option<usize>> = vec![None; new.len()];
    for &(i, j) in &common {
        old_matched[i] = true;
        new_matched[j] = true;
        new_is_old[j] = Some(i);
    }
    // A sentence the order-keeping match left out but that the other
    // version has word for word has moved.
    let mut old_keys: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, sentence) in old.iter().enumerate() {
        if !old_matched[i] {
            old_keys.entry(sentence.key.as_str()).or_default().push(i);
        }
    }
    for (j, sentence) in new.iter().enumerate() {
        if new_matched[j] {
            continue;
        }
        if let Some(i) = old_keys
            .get_mut(sentence.key.as_str())
            .and_then(|found| found.pop())
        {
            old_matched[i] = true;
            new_matched[j] = true;
            new_is_old[j] = Some(i);
        }
    }
    // What is left pairs up as changed when most words are shared, the
    // closest pairs first.
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (i, o) in old.iter().enumerate().filter(|(i, _)| !old_matched[*i]) {
        for (j, n) in new.iter().enumerate().filter(|(j, _)| !new_matched[*j]) {
            let overlap = jaccard(&o.word_set, &n.word_set);
            if overlap >= CHANGED_MIN_OVERLAP {
                candidates.push((overlap, i, j));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut changed = Vec::new();
    for (_, i, j) in candidates {
        if old_matched[i] || new_matched[j] {
            continue;
        }
        old_matched[i] = true;
        new_matched[j] = true;
        new_is_old[j] = Some(i);
        changed.push(ChangedSentence {
            old: Passage::of(old_body, old[i].range.clone()),
            new: Passage::of(new_body, new[j].range.clone()),
            words_removed: words_missing(&old[i].words, &new[j].words),
            words_added: words_missing(&new[j].words, &old[i].words),
        });
    }
    changed.sort_by_key(|c| c.new.range.start);

    let added_at: Vec<usize> = (0..new.len()).filter(|&j| !new_matched[j]).collect();
    let removed_at: Vec<usize> = (0..old.len()).filter(|&i| !old_matched[i]).collect();
    let removed = removed_at
        .iter()
        .map(|&i| Passage::of(old_body, old[i].range.clone()))
        .collect();

    // A new top: the new lede is not the earlier lede, reworded or not (a
    // corrected figure in the lede is a changed sentence, not a new top).
    let new_lede = match new_is_old.first() {
        Some(was) => *was != Some(0),
        None => !old.is_empty(),
    };
    // A copy without a headline (a scraper that lost it) says nothing
    // about the headline: only two different ones are a new headline.
    let (old_headline, new_headline) = (headline_key(old_title), headline_key(new_title));
    let new_headline =
        !old_headline.is_empty() && !new_headline.is_empty() && old_headline != new_headline;
    let top_changed = new_lede || new_headline;
    // Trimmed: the earlier version's last sentence went, and no sentence of
    // the new version stands after the last one they share.
    let trimmed = removed_at.last() == Some(&(old.len().wrapping_sub(1)))
        && common.last().is_none_or(|&(_, j)| {
            (j + 1..new.len()).all(|k| new_matched[k] && !added_at.contains(&k))
        });

    // Cut: a sentence went from before the trailing run of removed ones
    // (or from anywhere, when the bottom stayed).
    let trailing = removed_at
        .iter()
        .rev()
        .zip((0..old.len()).rev())
        .take_while(|(i, expected)| *i == expected)
        .count();
    let cut = removed_at.len() > if trimmed { trailing } else { 0 };

    let added: Vec<Range<usize>> = added_at.iter().map(|&j| new[j].range.clone()).collect();
    let update_summary = update_summary(new_title, new_body, &added)
        .into_iter()
        .map(|range| Passage::of(new_body, range))
        .collect();
    let added = added
        .into_iter()
        .map(|range| Passage::of(new_body, range))
        .collect();
    Changes {
        added,
        removed,
        changed,
        top_changed,
        trimmed,
        cut,
        update_summary,
    }
}

/// The best of the added sentences by the summarizer's scores (headline
/// words, centrality among them, position), at most
/// [`UPDATE_SUMMARY_SENTENCES`], in story order.
fn update_summary(title: &str, body: &str, added: &[Range<usize>]) -> Vec<Range<usize>> {
    let spans: Vec<SentenceSpan> = added
        .iter()
        .map(|r| SentenceSpan {
            start: r.start,
            end: r.end,
        })
        .collect();
    let weights = Weights::default();
    let scored = score_sentences(title, body, &spans, &weights);
    let mut order: Vec<usize> = (0..added.len()).collect();
    order.sort_by(|&a, &b| {
        scored.parts[b]
            .total
            .total_cmp(&scored.parts[a].total)
            .then(a.cmp(&b))
    });
    // As the summarizer chooses: a photo caption (closed by place and
    // date) is not what the update adds, and a sentence that repeats one
    // already chosen (a caption set twice) says nothing new.
    let mut chosen: Vec<usize> = Vec::new();
    let mut dense = Vec::new();
    for candidate in order {
        if chosen.len() == UPDATE_SUMMARY_SENTENCES {
            break;
        }
        let range = &added[candidate];
        if caption::closes_like_caption(&body[range.clone()])
            || scored.max_similarity(candidate, &chosen, &mut dense) > weights.max_redundancy
        {
            continue;
        }
        chosen.push(candidate);
    }
    let mut best: Vec<Range<usize>> = chosen.into_iter().map(|i| added[i].clone()).collect();
    best.sort_by_key(|r| r.start);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A version compared with itself changes nothing, and every range
        /// given lies on character boundaries inside its own body.
        #[test]
        fn a_version_changes_nothing_against_itself_and_ranges_hold(
            old in "([A-Za-z\u{2019}\u{201c}\u{a0} ,.!?()\n-]{0,40}){0,8}",
            new in "([A-Za-z\u{2019}\u{201c}\u{a0} ,.!?()\n-]{0,40}){0,8}",
        ) {
            prop_assert!(compare_versions("T", &old, "T", &old).is_empty());
            let changes = compare_versions("T", &old, "U", &new);
            for passage in changes.added.iter().chain(&changes.update_summary) {
                prop_assert_eq!(new.get(passage.range.clone()), Some(passage.text.as_str()));
            }
            for passage in &changes.removed {
                prop_assert_eq!(old.get(passage.range.clone()), Some(passage.text.as_str()));
            }
            for change in &changes.changed {
                prop_assert_eq!(old.get(change.old.range.clone()), Some(change.old.text.as_str()));
                prop_assert_eq!(new.get(change.new.range.clone()), Some(change.new.text.as_str()));
            }
        }
    }

    const FIRST: &str = "LAKESIDE (AP) \u{2014} The harbour bridge closed on Tuesday after engineers found cracks in two of its piers.\n\
        The council said repairs would take most of next year.\n\
        Ferries will run every half hour until the bridge reopens.\n\
        The bridge was built in 1931 and last repaired in 1988.";

    fn texts<'b>(body: &'b str, passages: &[Passage]) -> Vec<&'b str> {
        passages
            .iter()
            .map(|p| {
                assert_eq!(&body[p.range.clone()], p.text);
                &body[p.range.clone()]
            })
            .collect()
    }

    #[test]
    fn typography_furniture_and_the_dateline_are_not_changes() {
        let restyled = "By Jane Doe\nLAKESIDE, Norway (Reuters) - The harbour bridge closed on Tuesday after engineers found cracks in two of its piers.\n\
            The council said repairs would take most of next year.\n\
            Ferries will run every half\u{a0}hour until the bridge reopens.\n\
            The bridge was built in 1931 and last repaired in 1988.\n\
            (AP Photo/John Roe)";
        let changes = compare_versions("Bridge closes", FIRST, "UPDATE 1-Bridge closes", restyled);
        assert!(changes.is_empty(), "{changes:?}");
        assert!(!changes.trimmed);
    }

    #[test]
    fn the_update_summary_skips_captions_repeats_and_learned_furniture() {
        let news = "Shops on the east bank said trade had fallen by half since the closure.";
        let caption = "A ferry leaves the harbour in Lakeside, Norway, Tuesday, Nov. 24, 2026.";
        let offer = "Subscribe now for unlimited access.";
        let new = format!("{FIRST}\n{caption}\n{news}\n{news}\n{offer}");
        let learned = crate::text::furniture::line_hash(offer);
        let changes = version_changes(
            "first",
            ("Bridge closes", FIRST),
            ("Bridge closes", &new),
            &|line| line == learned,
        )
        .changes;
        let added = texts(&new, &changes.added);
        assert!(
            !added.contains(&offer),
            "learned furniture is no change: {added:?}"
        );
        assert_eq!(texts(&new, &changes.update_summary), [news]);
    }

    #[test]
    fn a_headline_lost_or_new_is_a_new_top_only_when_both_have_one() {
        assert!(!compare_versions("Bridge closes", FIRST, "", FIRST).top_changed);
        assert!(!compare_versions("", FIRST, "Bridge closes", FIRST).top_changed);
        assert!(compare_versions("Bridge closes", FIRST, "Bridge reopens", FIRST).top_changed);
    }

    #[test]
    fn a_new_top_an_added_and_a_trimmed_sentence() {
        let second = "LAKESIDE (AP) \u{2014} The harbour bridge will stay closed until next summer, the council said on Wednesday.\n\
            The harbour bridge closed on Tuesday after engineers found cracks in two of its piers.\n\
            The council said repairs would take most of next year.\n\
            Ferries will run every 20 minutes until the bridge reopens.";
        let changes = compare_versions("Bridge closes", FIRST, "Bridge to stay shut", second);
        assert!(changes.top_changed);
        assert!(changes.trimmed, "{changes:?}");
        assert_eq!(
            texts(second, &changes.added),
            [
                "The harbour bridge will stay closed until next summer, the council said on Wednesday."
            ]
        );
        assert_eq!(
            texts(FIRST, &changes.removed),
            ["The bridge was built in 1931 and last repaired in 1988."]
        );
        assert_eq!(changes.changed.len(), 1);
        assert_eq!(changes.changed[0].words_removed, ["half", "hour"]);
        assert_eq!(changes.changed[0].words_added, ["20", "minutes"]);
        assert!(!changes.cut);
        assert_eq!(changes.update_summary, changes.added);
    }

    #[test]
    fn a_sentence_cut_from_the_middle_is_removed_not_trimmed() {
        let cut = "LAKESIDE (AP) \u{2014} The harbour bridge closed on Tuesday after engineers found cracks in two of its piers.\n\
            Ferries will run every half hour until the bridge reopens.\n\
            The bridge was built in 1931 and last repaired in 1988.";
        let changes = compare_versions("Bridge closes", FIRST, "Bridge closes", cut);
        assert!(!changes.trimmed);
        assert!(changes.cut);
        assert!(!changes.top_changed);
        assert_eq!(
            texts(FIRST, &changes.removed),
            ["The council said repairs would take most of next year."]
        );
        assert!(changes.added.is_empty());
    }

    #[test]
    fn a_later_paragraph_moved_to_the_top_changes_only_the_top() {
        let moved = "Ferries will run every half hour until the bridge reopens.\n\
            The harbour bridge closed on Tuesday after engineers found cracks in two of its piers.\n\
            The council said repairs would take most of next year.\n\
            The bridge was built in 1931 and last repaired in 1988.";
        let changes = compare_versions("Bridge closes", FIRST, "Bridge closes", moved);
        assert!(changes.top_changed);
        assert!(
            changes.added.is_empty() && changes.removed.is_empty(),
            "{changes:?}"
        );
        assert!(!changes.trimmed);
    }
}
