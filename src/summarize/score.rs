//! Sentence scores: a position prior, PacSum directed centrality, headline
//! similarity, and a form multiplier for sentences that make poor summary
//! lines. Every part is kept so a client can see why a sentence was chosen.
//!
//! Built for throughput: one pass over the words of each sentence (hashed,
//! never allocated), term ids in one arena, tf-idf vectors in another, and
//! the similarity graph only over the first [`MAX_GRAPH_SENTENCES`].

use std::sync::LazyLock;

use crate::text::furniture;
use crate::text::sentences::SentenceSpan;
use crate::text::stopwords::{WordSet, is_stopword};
use crate::text::words::for_each_word_hashed;

/// The weights of the score. `Default` holds the values tuned on the
/// CNN/DailyMail development split (see `examples/tune_summary.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Exponent of the position prior `1 / (1 + index)^decay`.
    pub position_decay: f64,
    /// Weight of the directed centrality, scaled to [0, 1] within a story.
    pub centrality: f64,
    /// Weight of the tf-idf cosine with the headline.
    pub title: f64,
    /// PacSum: edges below `min + beta * (max - min)` are dropped.
    pub beta: f64,
    /// PacSum: weight of edges to earlier sentences (a sentence that echoes
    /// earlier text is not central). Edges to later ones weigh 1.
    pub lambda_earlier: f64,
    /// Sentences with fewer words are penalized.
    pub min_words: usize,
    /// Sentences with more words are penalized.
    pub max_words: usize,
    /// Multiplier for a sentence shorter than `min_words`.
    pub short_penalty: f64,
    /// Multiplier for a sentence longer than `max_words`.
    pub long_penalty: f64,
    /// Multiplier for a question.
    pub question_penalty: f64,
    /// Multiplier for a sentence that opens with a quotation mark.
    pub quote_penalty: f64,
    /// Multiplier for a sentence (not the first) that opens with a pronoun.
    pub pronoun_penalty: f64,
    /// Multiplier for a byline, credit or other furniture line.
    pub furniture_penalty: f64,
    /// Two chosen sentences may not be more alike than this (tf-idf
    /// cosine): wire copy often repeats its lede almost word for word.
    pub max_redundancy: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            position_decay: 0.6,
            centrality: 0.2,
            title: 0.35,
            beta: 0.6,
            lambda_earlier: -0.3,
            min_words: 13,
            max_words: 40,
            short_penalty: 0.4,
            long_penalty: 0.8,
            question_penalty: 0.6,
            quote_penalty: 0.8,
            pronoun_penalty: 0.85,
            furniture_penalty: 0.1,
            max_redundancy: 0.6,
        }
    }
}

/// The centrality graph covers at most this many leading sentences: news
/// puts what matters early, and a 1 MiB story must not cost a quadratic
/// graph. Later sentences score on position and headline alone.
pub const MAX_GRAPH_SENTENCES: usize = 200;

/// The parts of one sentence's score:
/// `total = (position + centrality_weight · centrality + title_weight · title) · form`.
/// In JSON (a summary line's `parts`) the total is left out: it is the
/// sentence's `score`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct ScoreParts {
    /// Position prior: 1 for the first sentence, decaying.
    pub position: f64,
    /// Directed centrality in [0, 1].
    pub centrality: f64,
    /// Cosine similarity with the headline, in [0, 1].
    pub title: f64,
    /// Form multiplier in (0, 1]: 1 unless a penalty applies.
    pub form: f64,
    /// The combined score.
    #[serde(skip)]
    pub total: f64,
}

/// Pronouns that need an antecedent: a summary line opening with one dangles.
const LEADING_PRONOUNS: &[&str] = &[
    "he", "she", "they", "it", "this", "these", "those", "his", "her", "their", "its", "him",
    "them",
];

static PRONOUNS: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(LEADING_PRONOUNS));

/// Dense ids for the distinct word hashes of one story: open addressing
/// with linear probing, kept at most half full. Word hashes are already well
/// mixed, so their low bits index the table directly.
#[derive(Debug)]
struct Vocabulary {
    /// (hash, id + 1); an id of 0 marks an empty slot.
    slots: Vec<(u64, u32)>,
    len: u32,
}

impl Vocabulary {
    fn with_capacity(terms: usize) -> Vocabulary {
        let size = (terms * 2).max(16).next_power_of_two();
        Vocabulary {
            slots: vec![(0, 0); size],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    /// The id of `hash`, assigning the next one if it is new.
    fn id(&mut self, hash: u64) -> u32 {
        if (self.len as usize + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let (h, id) = self.slots[i];
            if id == 0 {
                self.len += 1;
                self.slots[i] = (hash, self.len);
                return self.len - 1;
            }
            if h == hash {
                return id - 1;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![(0, 0); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for (hash, id) in old.into_iter().filter(|&(_, id)| id != 0) {
            let mut i = hash as usize & mask;
            while self.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (hash, id);
        }
    }
}

/// One story's sentences, analysed and scored.
#[derive(Debug)]
pub struct ScoredSentences {
    /// Score and parts per sentence, in story order.
    pub parts: Vec<ScoreParts>,
    /// Words per sentence.
    pub words: Vec<usize>,
    /// tf-idf vectors, (term, weight) in order of first use, in one arena.
    vectors: Vec<(u32, f32)>,
    /// Each sentence's range in `vectors`.
    ranges: Vec<(u32, u32)>,
    /// Distinct terms in the story and headline.
    vocabulary_len: usize,
}

impl ScoredSentences {
    /// The highest cosine similarity of sentence `candidate` with any of
    /// `others`. `dense` is scratch space, all zeros on entry and on return;
    /// it grows to the vocabulary's size.
    pub fn max_similarity(&self, candidate: usize, others: &[usize], dense: &mut Vec<f32>) -> f64 {
        if dense.len() < self.vocabulary_len {
            dense.resize(self.vocabulary_len, 0.0);
        }
        let vector = self.vector(candidate);
        for &(t, w) in vector {
            dense[t as usize] = w;
        }
        let best = others
            .iter()
            .map(|&other| dense_dot(dense, self.vector(other)))
            .fold(0.0f32, f32::max);
        for &(t, _) in vector {
            dense[t as usize] = 0.0;
        }
        f64::from(best)
    }

    fn vector(&self, i: usize) -> &[(u32, f32)] {
        let (start, end) = self.ranges[i];
        &self.vectors[start as usize..end as usize]
    }
}

/// Dot product of a dense vector and a sparse one: no sorting, no branches.
fn dense_dot(dense: &[f32], sparse: &[(u32, f32)]) -> f32 {
    sparse.iter().map(|&(t, w)| w * dense[t as usize]).sum()
}

/// What one pass over a sentence's words finds.
struct SentenceWords {
    words: usize,
    first_word: Option<u64>,
}

/// Pushes the term ids of `text`'s content words onto `terms`.
fn collect_terms(text: &str, vocabulary: &mut Vocabulary, terms: &mut Vec<u32>) -> SentenceWords {
    let mut words = 0;
    let mut first_word = None;
    for_each_word_hashed(text, |word, hash| {
        if words == 0 {
            first_word = Some(hash);
        }
        words += 1;
        // Every stopword is short: longer words skip the lookup.
        if !is_stopword(word, hash) {
            terms.push(vocabulary.id(hash));
        }
    });
    SentenceWords { words, first_word }
}

/// Appends the unit-length tf-idf vector of `terms` to `out`, terms in order
/// of first use. `position` maps a term to where it was last pushed: an
/// entry pointing into this vector's part of `out` (and naming the term)
/// means the term is already there, so no sort and no clearing is needed.
fn push_tfidf(terms: &[u32], idf: &[f32], position: &mut [u32], out: &mut Vec<(u32, f32)>) {
    let start = out.len();
    for &term in terms {
        let at = position[term as usize] as usize;
        if at >= start && at < out.len() && out[at].0 == term {
            out[at].1 += 1.0;
        } else {
            position[term as usize] = out.len() as u32;
            out.push((term, 1.0));
        }
    }
    let mut norm = 0.0f32;
    for (term, weight) in &mut out[start..] {
        *weight *= idf[*term as usize];
        norm += *weight * *weight;
    }
    let norm = norm.sqrt();
    if norm > 0.0 {
        out[start..].iter_mut().for_each(|(_, w)| *w /= norm);
    }
}

/// Scores every sentence of `body` (split into `spans`) for a summary.
pub fn score_sentences(
    title: &str,
    body: &str,
    spans: &[SentenceSpan],
    weights: &Weights,
) -> ScoredSentences {
    let n = spans.len();
    let mut vocabulary = Vocabulary::with_capacity(body.len() / 16);
    let mut terms: Vec<u32> = Vec::new();
    let mut term_ranges: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut words = Vec::with_capacity(n);
    let mut first_words = Vec::with_capacity(n);
    for span in spans {
        let start = terms.len() as u32;
        let found = collect_terms(span.text(body), &mut vocabulary, &mut terms);
        term_ranges.push((start, terms.len() as u32));
        words.push(found.words);
        first_words.push(found.first_word);
    }
    let title_start = terms.len();
    collect_terms(title, &mut vocabulary, &mut terms);

    // Document frequency over sentences (the headline does not count).
    let mut document_frequency = vec![0u32; vocabulary.len()];
    let mut last_seen = vec![u32::MAX; vocabulary.len()];
    for (i, &(start, end)) in term_ranges.iter().enumerate() {
        for &t in &terms[start as usize..end as usize] {
            if last_seen[t as usize] != i as u32 {
                last_seen[t as usize] = i as u32;
                document_frequency[t as usize] += 1;
            }
        }
    }
    // idf = ln(n / df) + 1. Most terms occur in one or two sentences, so
    // the logarithm is computed once per distinct df, not once per term.
    let log_sentences = (n.max(1) as f32).ln();
    let mut idf_by_df: Vec<f32> = Vec::new();
    let idf: Vec<f32> = document_frequency
        .iter()
        .map(|&df| {
            let df = df.max(1) as usize;
            if df >= idf_by_df.len() {
                idf_by_df.extend(
                    (idf_by_df.len()..=df).map(|d| log_sentences - (d.max(1) as f32).ln() + 1.0),
                );
            }
            idf_by_df[df]
        })
        .collect();

    let mut vectors = Vec::with_capacity(terms.len());
    let mut ranges = Vec::with_capacity(n);
    // `last_seen` is done with: it becomes push_tfidf's position map.
    let mut position = last_seen;
    for &(start, end) in &term_ranges {
        let from = vectors.len() as u32;
        push_tfidf(
            &terms[start as usize..end as usize],
            &idf,
            &mut position,
            &mut vectors,
        );
        ranges.push((from, vectors.len() as u32));
    }
    let mut title_vector = Vec::new();
    push_tfidf(
        &terms[title_start..],
        &idf,
        &mut position,
        &mut title_vector,
    );
    let mut title_weights = vec![0.0f32; vocabulary.len()];
    for &(t, w) in &title_vector {
        title_weights[t as usize] = w;
    }

    let mut scored = ScoredSentences {
        parts: Vec::with_capacity(n),
        words,
        vectors,
        ranges,
        vocabulary_len: vocabulary.len(),
    };
    let centrality = directed_centrality(&scored, n.min(MAX_GRAPH_SENTENCES), weights);
    for (index, span) in spans.iter().enumerate() {
        let position = 1.0 / (1.0 + index as f64).powf(weights.position_decay);
        let title = f64::from(dense_dot(&title_weights, scored.vector(index)));
        let centrality = centrality.get(index).copied().unwrap_or(0.0);
        let form = form_multiplier(
            span.text(body),
            index,
            scored.words[index],
            first_words[index],
            weights,
        );
        let total = (position + weights.centrality * centrality + weights.title * title) * form;
        scored.parts.push(ScoreParts {
            position,
            centrality,
            title,
            form,
            total,
        });
    }
    scored
}

/// PacSum directed centrality over the first `m` sentences, scaled to [0, 1].
fn directed_centrality(scored: &ScoredSentences, m: usize, weights: &Weights) -> Vec<f64> {
    if m < 2 {
        return vec![0.0; m];
    }
    // Pairwise cosines through an inverted index: each term adds to the
    // pairs of sentences that share it. Most terms occur in one or two
    // sentences, so this costs far less than every pair's dot product.
    let vocabulary = scored.vocabulary_len;
    let mut starts = vec![0usize; vocabulary + 1];
    for i in 0..m {
        for &(t, _) in scored.vector(i) {
            starts[t as usize + 1] += 1;
        }
    }
    for t in 0..vocabulary {
        starts[t + 1] += starts[t];
    }
    let mut fill = starts.clone();
    let mut postings = vec![(0u32, 0.0f32); starts[vocabulary]];
    for i in 0..m {
        for &(t, w) in scored.vector(i) {
            postings[fill[t as usize]] = (i as u32, w);
            fill[t as usize] += 1;
        }
    }
    // The upper triangle only, row by row: row i holds pairs (i, j > i).
    let row_start = |i: usize| i * m - i * (i + 1) / 2;
    let mut similarity = vec![0.0f32; m * (m - 1) / 2];
    for t in 0..vocabulary {
        let list = &postings[starts[t]..starts[t + 1]];
        for (k, &(a, wa)) in list.iter().enumerate() {
            // Sentences were added in order, so a < b.
            for &(b, wb) in &list[k + 1..] {
                let (a, b) = (a as usize, b as usize);
                similarity[row_start(a) + b - a - 1] += wa * wb;
            }
        }
    }
    let (mut min, mut max) = (f32::MAX, f32::MIN);
    for i in 0..m {
        for &s in &similarity[row_start(i)..row_start(i + 1)] {
            min = min.min(s);
            max = max.max(s);
        }
    }
    let threshold = f64::from(min) + weights.beta * f64::from(max - min);
    // Most pairs fall below the threshold; the rest add to the earlier
    // sentence (it is echoed) and, weighted by lambda, to the later one.
    let threshold = threshold as f32;
    let mut echoed = vec![0.0f64; m];
    let mut echoing = vec![0.0f64; m];
    for i in 0..m {
        let row = &similarity[row_start(i)..row_start(i + 1)];
        for (k, &s) in row.iter().enumerate() {
            if s > threshold {
                let edge = f64::from(s - threshold);
                echoed[i] += edge;
                echoing[i + 1 + k] += edge;
            }
        }
    }
    let centrality: Vec<f64> = echoed
        .iter()
        .zip(&echoing)
        .map(|(later, earlier)| later + weights.lambda_earlier * earlier)
        .collect();
    let lo = centrality.iter().copied().fold(f64::MAX, f64::min);
    let hi = centrality.iter().copied().fold(f64::MIN, f64::max);
    if hi - lo <= f64::EPSILON {
        return vec![0.0; m];
    }
    centrality.iter().map(|c| (c - lo) / (hi - lo)).collect()
}

/// Multiplier in (0, 1] for the form of a sentence.
fn form_multiplier(
    sentence: &str,
    index: usize,
    words: usize,
    first_word: Option<u64>,
    w: &Weights,
) -> f64 {
    let is_first_word = |set: &WordSet| first_word.is_some_and(|h| set.contains(h));
    let mut multiplier = 1.0;
    if words < w.min_words {
        multiplier *= w.short_penalty;
    } else if words > w.max_words {
        multiplier *= w.long_penalty;
    }
    let trimmed = sentence.trim_end_matches(['"', '\'', '”', '’', ')', ' ']);
    if trimmed.ends_with('?') {
        multiplier *= w.question_penalty;
    }
    if sentence.starts_with(['"', '“', '\'', '‘', '`']) {
        multiplier *= w.quote_penalty;
    }
    if index > 0 && is_first_word(&PRONOUNS) {
        multiplier *= w.pronoun_penalty;
    }
    // Bylines and credits: short sentences that open as one does (the
    // credit stage of `text::furniture`, which dedup uses too).
    if words <= 12 && furniture::is_credit(sentence) {
        multiplier *= w.furniture_penalty;
    }
    multiplier
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::split_sentences;

    fn score(title: &str, body: &str) -> ScoredSentences {
        score_sentences(title, body, &split_sentences(body), &Weights::default())
    }

    #[test]
    fn vocabulary_ids_are_dense_and_stable() {
        let mut vocabulary = Vocabulary::with_capacity(1);
        let ids: Vec<u32> = (0..100u64)
            .map(|h| vocabulary.id(h.wrapping_mul(0x9E37_79B9)))
            .collect();
        assert_eq!(ids, (0..100).collect::<Vec<u32>>());
        assert_eq!(vocabulary.id(7u64.wrapping_mul(0x9E37_79B9)), 7);
        assert_eq!(vocabulary.len(), 100);
    }

    #[test]
    fn parts_multiply_out_to_the_total() {
        let body = "Talks on security opened in Geneva on Monday. Russia wants guarantees on NATO. \
                    The Geneva talks on security continue on Tuesday.";
        let scored = score("Geneva security talks", body);
        let w = Weights::default();
        for p in &scored.parts {
            let expected = (p.position + w.centrality * p.centrality + w.title * p.title) * p.form;
            assert!((p.total - expected).abs() < 1e-12);
            assert!((0.0..=1.0).contains(&p.centrality) && (0.0..=1.0 + 1e-6).contains(&p.title));
        }
        assert!(scored.parts[0].title > scored.parts[1].title);
    }

    #[test]
    fn penalties_apply() {
        let body = "Talks on European security opened in Geneva on Monday morning with delegations from both sides. \
                    Will the talks on European security succeed at all in the end, or fail like the last round? \
                    He said the talks on European security were useful and long and would go on next week. \
                    Reporting by Jane Doe.";
        let scored = score("", body);
        let w = Weights::default();
        assert_eq!(scored.parts[0].form, 1.0);
        assert_eq!(scored.parts[1].form, w.question_penalty);
        assert_eq!(scored.parts[2].form, w.pronoun_penalty);
        assert!(scored.parts[3].form <= w.furniture_penalty);
    }

    #[test]
    fn a_huge_story_scores_without_a_quadratic_graph() {
        let body = "The council met again on the budget today. ".repeat(5_000);
        let scored = score("", &body);
        assert_eq!(scored.parts.len(), 5_000);
        assert_eq!(scored.parts[4_999].centrality, 0.0);
    }
}
