//! Sentence scores: position prior, directed centrality, headline overlap,
//! length and form penalties.

use std::collections::HashMap;

use crate::text::{sentences::SentenceSpan, word_tokens};

/// Weight of the position prior `1 / (1 + index)^POSITION_DECAY`.
const W_POSITION: f64 = 1.0;
const POSITION_DECAY: f64 = 0.7;
/// Weight of the directed centrality, scaled to [0, 1] within a story.
const W_CENTRALITY: f64 = 0.45;
/// Weight of the tf-idf cosine with the headline.
const W_TITLE: f64 = 0.35;
/// PacSum: edges below `min + BETA * (max - min)` are dropped.
const BETA: f64 = 0.6;
/// PacSum: weights of edges to earlier and to later sentences. A sentence
/// that later ones echo is central; one that echoes earlier ones is not.
const LAMBDA_EARLIER: f64 = -0.3;
const LAMBDA_LATER: f64 = 1.0;
/// Sentences shorter than this many words rarely summarize anything.
const MIN_WORDS: usize = 6;
/// Sentences longer than this are usually run-ons or lists.
const MAX_WORDS: usize = 70;
/// Multipliers for sentences that make poor summary lines.
const SHORT_PENALTY: f64 = 0.4;
const LONG_PENALTY: f64 = 0.8;
const QUESTION_PENALTY: f64 = 0.6;
const QUOTE_PENALTY: f64 = 0.8;
const DANGLING_PRONOUN_PENALTY: f64 = 0.85;

/// Function words left out of the similarity vectors (English; other
/// languages simply keep all their words).
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "for", "from", "had", "has", "have", "he", "her",
    "his", "i", "if", "in", "into", "is", "it", "it's", "its", "more", "not", "of", "on", "one",
    "or", "our", "out", "s", "said", "says", "she", "so", "than", "that", "the", "their", "them",
    "there", "they", "this", "to", "up", "was", "we", "were", "what", "when", "which", "who",
    "will", "with", "would", "you",
];

/// Pronouns that need an antecedent; a summary sentence opening with one
/// dangles.
const LEADING_PRONOUNS: &[&str] = &[
    "he", "she", "they", "it", "this", "these", "those", "his", "her", "their", "its",
];

/// Per-sentence scores of one story, and what selection needs to check
/// redundancy.
#[derive(Debug)]
pub struct ScoredSentences {
    /// One score per sentence, in story order.
    pub scores: Vec<f64>,
    vectors: Vec<SparseVector>,
}

impl ScoredSentences {
    /// Cosine similarity of sentences `a` and `b`.
    pub fn similarity(&self, a: usize, b: usize) -> f64 {
        self.vectors[a].cosine(&self.vectors[b])
    }
}

/// A unit-length tf-idf vector: (term id, weight), sorted by term id.
#[derive(Debug, Default)]
struct SparseVector(Vec<(u32, f64)>);

impl SparseVector {
    fn cosine(&self, other: &SparseVector) -> f64 {
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < self.0.len() && j < other.0.len() {
            match self.0[i].0.cmp(&other.0[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += self.0[i].1 * other.0[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        dot
    }
}

/// Scores every sentence of `body` (split into `spans`) for a summary.
pub fn score_sentences(title: &str, body: &str, spans: &[SentenceSpan]) -> ScoredSentences {
    let mut vocabulary: HashMap<String, u32> = HashMap::new();
    let mut term_ids = |text: &str| -> Vec<u32> {
        word_tokens(text)
            .into_iter()
            .filter(|w| !STOPWORDS.contains(&w.text.as_str()))
            .map(|w| {
                let next = vocabulary.len() as u32;
                *vocabulary.entry(w.text).or_insert(next)
            })
            .collect()
    };
    let sentence_terms: Vec<Vec<u32>> = spans.iter().map(|s| term_ids(s.text(body))).collect();
    let title_terms = term_ids(title);

    let mut document_frequency = vec![0u32; vocabulary.len()];
    for terms in &sentence_terms {
        let mut seen = terms.clone();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            document_frequency[t as usize] += 1;
        }
    }
    let n = spans.len().max(1) as f64;
    let idf: Vec<f64> = document_frequency
        .iter()
        .map(|&df| (n / f64::from(df.max(1))).ln() + 1.0)
        .collect();
    let vectors: Vec<SparseVector> = sentence_terms.iter().map(|t| tfidf(t, &idf)).collect();
    let title_vector = tfidf(&title_terms, &idf);

    let centrality = directed_centrality(&vectors);
    let scores = spans
        .iter()
        .enumerate()
        .map(|(index, span)| {
            let position = 1.0 / (1.0 + index as f64).powf(POSITION_DECAY);
            let title = title_vector.cosine(&vectors[index]);
            let base = W_POSITION * position + W_CENTRALITY * centrality[index] + W_TITLE * title;
            base * form_multiplier(span.text(body), index)
        })
        .collect();
    ScoredSentences { scores, vectors }
}

fn tfidf(terms: &[u32], idf: &[f64]) -> SparseVector {
    let mut counts: HashMap<u32, f64> = HashMap::new();
    for &t in terms {
        *counts.entry(t).or_default() += 1.0;
    }
    let mut weights: Vec<(u32, f64)> = counts
        .into_iter()
        .map(|(t, tf)| (t, tf * idf[t as usize]))
        .collect();
    weights.sort_unstable_by_key(|&(t, _)| t);
    let norm = weights.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
    if norm > 0.0 {
        for (_, w) in &mut weights {
            *w /= norm;
        }
    }
    SparseVector(weights)
}

/// PacSum directed centrality, scaled to [0, 1].
fn directed_centrality(vectors: &[SparseVector]) -> Vec<f64> {
    let n = vectors.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut similarity = vec![0.0; n * n];
    let (mut min, mut max) = (f64::MAX, f64::MIN);
    for i in 0..n {
        for j in (i + 1)..n {
            let s = vectors[i].cosine(&vectors[j]);
            similarity[i * n + j] = s;
            min = min.min(s);
            max = max.max(s);
        }
    }
    let threshold = min + BETA * (max - min);
    let mut centrality = vec![0.0; n];
    for i in 0..n {
        for j in (i + 1)..n {
            let edge = (similarity[i * n + j] - threshold).max(0.0);
            // i is earlier than j: j echoes i.
            centrality[i] += LAMBDA_LATER * edge;
            centrality[j] += LAMBDA_EARLIER * edge;
        }
    }
    let lo = centrality.iter().copied().fold(f64::MAX, f64::min);
    let hi = centrality.iter().copied().fold(f64::MIN, f64::max);
    if hi - lo <= f64::EPSILON {
        return vec![0.0; n];
    }
    centrality.iter().map(|c| (c - lo) / (hi - lo)).collect()
}

/// Multiplier in (0, 1] for the form of a sentence.
fn form_multiplier(sentence: &str, index: usize) -> f64 {
    let words = word_tokens(sentence);
    let mut multiplier = 1.0;
    if words.len() < MIN_WORDS {
        multiplier *= SHORT_PENALTY;
    } else if words.len() > MAX_WORDS {
        multiplier *= LONG_PENALTY;
    }
    let trimmed = sentence.trim_end_matches(['"', '\'', '”', '’', ')']);
    if trimmed.ends_with('?') {
        multiplier *= QUESTION_PENALTY;
    }
    if sentence.starts_with(['"', '“', '\'', '‘']) {
        multiplier *= QUOTE_PENALTY;
    }
    if index > 0
        && words
            .first()
            .is_some_and(|w| LEADING_PRONOUNS.contains(&w.text.as_str()))
    {
        multiplier *= DANGLING_PRONOUN_PENALTY;
    }
    multiplier
}
