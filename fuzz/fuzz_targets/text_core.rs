//! The text core on arbitrary text: normalization, sentence splitting,
//! fingerprints and summaries, each asserting what its proptests state.
#![no_main]

use copydesk::dedup::{Fingerprint, Relation, compare};
use copydesk::summarize::{Budget, summarize};
use copydesk::text::markup;
use copydesk::text::normalize::normalize;
use copydesk::text::sentences::split_sentences;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // Normalizing twice changes nothing more.
    let once = normalize(text);
    assert_eq!(normalize(&once), once);

    // Sentences are ordered, trimmed, within the text, on char boundaries.
    let spans = split_sentences(text);
    let mut last_end = 0;
    for span in &spans {
        assert!(span.start >= last_end && span.start < span.end && span.end <= text.len());
        let sentence = span.text(text);
        assert_eq!(sentence, sentence.trim());
        last_end = span.end;
    }

    // Fingerprint samples are sorted sets, and a story is its own version.
    let title = text.lines().next().unwrap_or_default();
    let fingerprint = Fingerprint::of(title, text);
    for part in [
        fingerprint.shingle_sample().values,
        fingerprint.lede().values,
        fingerprint.word_sample().values,
        fingerprint.title_words(),
    ] {
        assert!(part.windows(2).all(|w| w[0] < w[1]));
    }
    if fingerprint.shingle_count > 0 {
        assert_eq!(
            compare(&fingerprint, &fingerprint).relation(),
            Relation::Same
        );
    }

    // A summary is an ordered subset of the story's sentences, in budget.
    for budget in [Budget::sentences(3), Budget::words(40)]
        .into_iter()
        .flatten()
    {
        let summary = summarize(title, text, budget);
        let (max_sentences, max_words) = budget.limits(spans.len());
        assert!(summary.sentences.len() <= max_sentences);
        assert!(summary.words <= max_words);
        assert!(
            summary
                .sentences
                .windows(2)
                .all(|w| w[0].index < w[1].index)
        );
        for s in &summary.sentences {
            if markup::is_markup(text) {
                // An HTML body's sentences are its text's: offsets span
                // their markup in the body as sent.
                assert!(s.start <= s.end && s.end <= text.len());
                assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            } else {
                assert_eq!((s.start, s.end), (spans[s.index].start, spans[s.index].end));
                assert_eq!(s.text, &text[s.start..s.end]);
            }
        }
    }

    // Any range of an HTML body's text maps into the body, in order, on
    // char boundaries.
    let plain = markup::PlainText::of(text);
    let view = plain.text();
    let mut last_end = 0;
    for span in split_sentences(view) {
        let source = plain.source_range(span.start..span.end);
        assert!(source.start <= source.end && source.end <= text.len());
        assert!(text.is_char_boundary(source.start) && text.is_char_boundary(source.end));
        assert!(source.start >= last_end.min(source.start));
        last_end = source.end;
    }
});
