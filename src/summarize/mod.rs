//! Extractive summaries: choose the sentences of a story that best stand for
//! it, within a budget, and say how each was scored.
//!
//! Compute only: no gRPC types, no I/O. The scorer follows the structure of
//! news copy (an inverted pyramid): a decaying position prior, PacSum-style
//! directed centrality over a tf-idf sentence graph (a sentence echoed by
//! later ones is central), similarity to the headline, and penalties for
//! sentences that make poor summary lines. Selection is greedy by score with
//! a redundancy check, and the result is returned in story order.

mod budget;
mod score;

pub use budget::{Budget, BudgetError};
pub use score::{MAX_GRAPH_SENTENCES, ScoreParts, Weights, score_sentences};

use crate::text::markup::PlainText;
use crate::text::{SentenceSpan, caption, dateline, furniture, headline, split_sentences};

/// One chosen sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySentence {
    /// 0-based position among the story's sentences.
    pub index: usize,
    /// Byte offset of the sentence in the body.
    pub start: usize,
    /// Byte offset just past the sentence in the body.
    pub end: usize,
    /// The sentence: `body[start..end]`, or for an HTML body the text a
    /// reader sees there (tags left out, entities decoded).
    pub text: String,
    /// The sentence's score (higher is better) and its parts.
    pub score: ScoreParts,
}

/// The JSON shape (the CLI's lines): the sentence's place and text, its
/// total as `score` and the parts it is made of as `parts`.
impl serde::Serialize for SummarySentence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let SummarySentence {
            index,
            start,
            end,
            text,
            score,
        } = self;
        let mut line = serializer.serialize_struct("SummarySentence", 6)?;
        line.serialize_field("text", text)?;
        line.serialize_field("index", index)?;
        line.serialize_field("start", start)?;
        line.serialize_field("end", end)?;
        line.serialize_field("score", &score.total)?;
        line.serialize_field("parts", score)?;
        line.end()
    }
}

/// A summary of one story.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// The chosen sentences, in story order.
    pub sentences: Vec<SummarySentence>,
    /// How many sentences the story has.
    pub story_sentences: usize,
    /// How many words the chosen sentences hold.
    pub words: usize,
}

impl Summary {
    /// The chosen sentences' texts.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.sentences.iter().map(|s| s.text.as_str())
    }

    /// The summary as one text: the sentences joined by single spaces.
    pub fn joined(&self) -> String {
        self.texts().collect::<Vec<_>>().join(" ")
    }
}

/// Summarizes `body` (with its headline `title`, which may be empty) within
/// `budget`, with the default weights.
pub fn summarize(title: &str, body: &str, budget: Budget) -> Summary {
    summarize_with(title, body, budget, &Weights::default())
}

/// Summarizes with the default weights, leaving out too the lines whose
/// [`furniture::line_hash`] `learned` says are furniture: what a
/// near-duplicate index has learned recurs under unrelated stories (a
/// weather widget, a subscription offer), which no test of form can tell.
pub fn summarize_learned(
    title: &str,
    body: &str,
    budget: Budget,
    learned: &dyn Fn(u64) -> bool,
) -> Summary {
    summarize_learned_with(title, body, budget, &Weights::default(), learned)
}

/// Summarizes with explicit scoring weights.
pub fn summarize_with(title: &str, body: &str, budget: Budget, weights: &Weights) -> Summary {
    summarize_learned_with(title, body, budget, weights, &|_| false)
}

/// An HTML body is summarized by the text a reader sees (see
/// [`crate::text::markup`]); the offsets point into the markup.
fn summarize_learned_with(
    title: &str,
    body: &str,
    budget: Budget,
    weights: &Weights,
    learned: &dyn Fn(u64) -> bool,
) -> Summary {
    let plain = PlainText::of(body);
    let mut summary = summarize_text(title, plain.text(), budget, weights, learned);
    if plain.is_markup() {
        for sentence in &mut summary.sentences {
            let source = plain.source_range(sentence.start..sentence.end);
            (sentence.start, sentence.end) = (source.start, source.end);
        }
    }
    summary
}

fn summarize_text(
    title: &str,
    body: &str,
    budget: Budget,
    weights: &Weights,
    learned: &dyn Fn(u64) -> bool,
) -> Summary {
    let all = split_sentences(body);
    // Furniture lines (bylines, captions, widgets, time stamps), and
    // sentences that are furniture by their own form inside a line of
    // prose, are not story: they are neither candidates nor counted in the
    // story's position prior. A text that is all furniture lines keeps its
    // sentences that are not furniture themselves (a page of one caption
    // keeps the caption's sentence, not its credit), or else every one.
    // The headline set again in the text is beside the summary already.
    // Above a lead that opens with its dateline, a page sets head matter
    // (the headline again, a photo's caption, share buttons): not story
    // either.
    let mut furniture = furniture::furniture_lines(body, learned);
    furniture.extend(headline::repeated_headline_lines(title, body));
    let lead = dateline::lead_start(body).unwrap_or(0);
    let own_form = |i: usize| furniture::is_furniture_sentence(&body[all[i].start..all[i].end]);
    // A caption set inside a line of prose, known by how agencies close one
    // (`…, Finland, Monday, July 16, 2018.`), is not story either; but a
    // page of nothing else is summarized by its caption.
    let caption = |i: usize| caption::closes_like_caption(&body[all[i].start..all[i].end]);
    let mut story: Vec<usize> = (0..all.len())
        .filter(|&i| {
            all[i].start >= lead
                && !furniture.iter().any(|line| line.contains(&all[i].start))
                && !own_form(i)
                && !caption(i)
        })
        .collect();
    if story.is_empty() {
        story = (0..all.len()).filter(|&i| !own_form(i)).collect();
    }
    if story.is_empty() {
        story = (0..all.len()).collect();
    }
    let mut spans: Vec<SentenceSpan> = story.iter().map(|&i| all[i]).collect();
    // Page matter run into the lead's first sentence before its dateline
    // ("Follow the station Facebook | Twitter WASHINGTON (CNN) — …") is
    // left out of the sentence: it starts at the dateline.
    if let Some(first) = spans.first_mut()
        && let Some(at) = dateline::dateline_within(&body[first.start..first.end])
    {
        first.start += at;
    }
    let scored = score_sentences(title, body, &spans, weights);
    let (max_sentences, max_words) = budget.limits(spans.len());

    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| {
        scored.parts[b]
            .total
            .total_cmp(&scored.parts[a].total)
            .then(a.cmp(&b))
    });

    let mut chosen: Vec<usize> = Vec::new();
    let mut dense = Vec::new();
    let mut words = 0;
    for candidate in order {
        if chosen.len() >= max_sentences {
            break;
        }
        let length = scored.words[candidate];
        if length == 0 || words + length > max_words {
            continue;
        }
        if scored.max_similarity(candidate, &chosen, &mut dense) > weights.max_redundancy {
            continue;
        }
        words += length;
        chosen.push(candidate);
    }
    chosen.sort_unstable();

    Summary {
        sentences: chosen
            .into_iter()
            .map(|index| SummarySentence {
                index: story[index],
                start: spans[index].start,
                end: spans[index].end,
                text: body[spans[index].start..spans[index].end].to_owned(),
                score: scored.parts[index],
            })
            .collect(),
        story_sentences: all.len(),
        words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STORY: &str = "Russia and the United States opened security talks in Geneva on Monday. \
        The talks, led by deputy foreign ministers, focused on Ukraine and NATO expansion. \
        Moscow wants guarantees that NATO will not expand further east. \
        Washington has said such demands are non-starters. \
        The Geneva talks are the first of three meetings this week. \
        Officials said the Geneva talks would continue on Tuesday.";

    #[test]
    fn three_sentences_by_default_in_story_order() {
        let summary = summarize("", STORY, Budget::default());
        assert_eq!(summary.sentences.len(), 3);
        assert_eq!(summary.story_sentences, 6);
        assert!(
            summary
                .sentences
                .windows(2)
                .all(|w| w[0].index < w[1].index)
        );
        assert_eq!(summary.sentences[0].index, 0, "the lede leads");
    }

    #[test]
    fn furniture_lines_are_never_chosen_and_indices_stay_the_story_s() {
        let body = format!(
            "Advertisement\nBy Jane Doe, Harbour Gazette\nPosted 9:58 AM, March 3\n\
             Ministers meet in Geneva. (AP Photo/John Roe)\n{STORY}"
        );
        let summary = summarize("", &body, Budget::default());
        let texts: Vec<_> = summary.texts().collect();
        assert_eq!(
            texts,
            [
                "Russia and the United States opened security talks in Geneva on Monday.",
                "The talks, led by deputy foreign ministers, focused on Ukraine and NATO expansion.",
                "Moscow wants guarantees that NATO will not expand further east.",
            ]
        );
        assert!(
            summary.sentences[0].index >= 4,
            "{:?}",
            summary.sentences[0]
        );
    }

    #[test]
    fn furniture_run_into_prose_is_left_out_and_a_page_of_one_caption_keeps_its_sentence() {
        // A scraper ran a credit and a widget label into the lede's line,
        // and a byline after the outlet's name onto a line of its own.
        let body = format!(
            "The Harbour Gazette — By JANE DOE - Harbour Gazette\n\
             {STORY} | AP photo\nmore_vert"
        );
        let summary = summarize("", &body, Budget::sentences(6).unwrap());
        for text in summary.texts() {
            assert!(
                !text.contains("AP photo")
                    && !text.contains("more_vert")
                    && !text.contains("JANE DOE"),
                "{text}"
            );
        }
        let page = "more_vert\n\nPeople march through the harbour district on Sunday to protest the closure of the ferry pier. \
                    (Photo by Jane Doe / AFP) (Photo credit should read JANE DOE/AFP/Getty Images)";
        let summary = summarize("", page, Budget::default());
        let texts: Vec<_> = summary.texts().collect();
        assert_eq!(
            texts,
            [
                "People march through the harbour district on Sunday to protest the closure of the ferry pier."
            ]
        );
    }

    #[test]
    fn head_matter_above_the_dateline_is_not_summarized() {
        // A scraped page: the headline again, a photo's caption and credit,
        // a weather widget's forecast, then the wire lead with its dateline.
        let page = format!(
            "Ferry pier to close after council vote\n\n\
             The harbour master and the mayor walk along the old pier, Lakeside, March 2, 2026.\n\n\
             Jane Doe | AP\n\n\
             Areas of fog early, becoming mostly sunny this afternoon.\n\n\
             LAKESIDE (AP) \u{2014} {STORY}"
        );
        let summary = summarize("Ferry pier to close", &page, Budget::sentences(3).unwrap());
        let texts: Vec<_> = summary.texts().collect();
        assert_eq!(texts.len(), 3);
        for text in &texts {
            assert!(
                !text.contains("pier") && !text.contains("fog"),
                "head matter in the summary: {text}"
            );
        }
        assert!(texts[0].starts_with("LAKESIDE (AP)"), "{texts:?}");
    }

    #[test]
    fn word_budget_is_never_exceeded() {
        let summary = summarize("", STORY, Budget::words(25).unwrap());
        assert!(summary.words <= 25);
        assert!(!summary.sentences.is_empty());
    }

    #[test]
    fn ratio_budget_takes_a_share() {
        let summary = summarize("", STORY, Budget::ratio(0.5).unwrap());
        assert_eq!(summary.sentences.len(), 3);
    }

    #[test]
    fn repeated_sentence_is_not_chosen_twice() {
        let body =
            "Talks opened in Geneva on Monday. Talks opened in Geneva on Monday. Nothing else.";
        let summary = summarize("", body, Budget::sentences(2).unwrap());
        let texts: Vec<_> = summary.texts().collect();
        assert_eq!(
            texts,
            ["Talks opened in Geneva on Monday.", "Nothing else."]
        );
    }

    proptest! {
        #[test]
        fn summary_is_an_ordered_subset_within_budget(
            sentences in proptest::collection::vec("[A-Z][a-z]{1,8}( [a-z]{1,8}){0,12}[.!?]", 0..12),
            n in 1usize..5,
            words in 1usize..60,
        ) {
            let body = sentences.join(" ");
            let spans = split_sentences(&body);
            for budget in [Budget::sentences(n).unwrap(), Budget::words(words).unwrap()] {
                let summary = summarize("", &body, budget);
                let (max_sentences, max_words) = budget.limits(spans.len());
                prop_assert!(summary.sentences.len() <= max_sentences);
                prop_assert!(summary.words <= max_words);
                prop_assert!(summary.sentences.windows(2).all(|w| w[0].index < w[1].index));
                for s in &summary.sentences {
                    prop_assert_eq!((s.start, s.end), (spans[s.index].start, spans[s.index].end));
                }
            }
        }
    }
}
