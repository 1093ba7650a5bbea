//! Summaries over the team's fixed corpus, against a LEAD-3 baseline (split
//! and take the first three) measured in the same run. Both assert their
//! result first, so a fast wrong answer fails.

mod common;

use copydesk::summarize::{Budget, summarize};
use copydesk::text::split_sentences;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn check(stories: &[String]) {
    for (i, story) in stories.iter().enumerate() {
        let summary = summarize("", story, Budget::default());
        assert_eq!(summary.sentences.len(), 3, "story {i}");
        assert!(
            summary
                .sentences
                .windows(2)
                .all(|w| w[0].index < w[1].index)
        );
        assert_eq!(
            summary.texts().next(),
            Some(common::lede(i)),
            "the lede leads story {i}"
        );
        let texts: Vec<&str> = summary.texts().collect();
        let mut unique = texts.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            texts.len(),
            "a repeated sentence was chosen twice in story {i}"
        );
    }
}

fn bench(c: &mut Criterion) {
    let stories = common::stories(200);
    check(&stories);
    let bytes: usize = stories.iter().map(String::len).sum();

    let mut group = c.benchmark_group("summarize");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("copydesk_3_sentences", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| summarize("", s, Budget::default()).sentences.len())
                .sum::<usize>()
        })
    });
    group.bench_function("baseline_split_lead3", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| split_sentences(s).into_iter().take(3).count())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
