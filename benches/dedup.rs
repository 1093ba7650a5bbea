//! The dedup signature and query paths over the team's fixed corpus, with a
//! brute-force scan (verify every stored story) as the baseline in the same
//! run. Both assert their result first: every trimmed probe must find its
//! source as SAME.

mod common;

use copydesk::dedup::{Fingerprint, Index, IndexConfig, Relation, StoryMeta, compare};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, UNIX_EPOCH};

fn meta(id: usize, body: &str) -> StoryMeta {
    StoryMeta {
        id: format!("s{id}"),
        content_hash: id as u64,
        body_bytes: body.len(),
        published_at: None,
        ingested_at: UNIX_EPOCH + Duration::from_secs(id as u64),
        headline: copydesk::text::headline::HeadlineFrom::Nowhere,
    }
}

/// A paper's cut of a story: its first two thirds.
fn trimmed(story: &str) -> &str {
    let cut = story.len() * 2 / 3;
    let cut = story[..cut].rfind("\n\n").unwrap_or(cut);
    &story[..cut]
}

fn bench(c: &mut Criterion) {
    let stories = common::stories(2_000);
    let fingerprints: Vec<Fingerprint> = stories.iter().map(|s| Fingerprint::of("", s)).collect();
    let mut index = Index::new(IndexConfig::default());
    for (i, (story, fp)) in stories.iter().zip(&fingerprints).enumerate() {
        index.ingest(meta(i, story), fp.clone());
    }
    let probes: Vec<(usize, Fingerprint)> = (0..stories.len())
        .step_by(20)
        .map(|i| (i, Fingerprint::of("", trimmed(&stories[i]))))
        .collect();
    for (i, probe) in &probes {
        let matches = index.matches(probe, None, None);
        let own = format!("s{i}");
        assert!(
            matches
                .iter()
                .any(|m| m.story_id == own && m.relation == Relation::Same),
            "probe {i} must find its source"
        );
    }

    let bytes: usize = stories.iter().map(String::len).sum();
    let mut group = c.benchmark_group("dedup");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("fingerprint_2000_stories", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| Fingerprint::of("", s).shingle_count as usize)
                .sum::<usize>()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("query");
    group.throughput(Throughput::Elements(probes.len() as u64));
    group.bench_function("lsh_query_and_verify", |b| {
        b.iter(|| {
            probes
                .iter()
                .map(|(_, p)| index.matches(p, None, None).len())
                .sum::<usize>()
        })
    });
    group.bench_function("baseline_verify_every_story", |b| {
        b.iter(|| {
            probes
                .iter()
                .map(|(_, p)| {
                    fingerprints
                        .iter()
                        .filter(|fp| compare(p, fp).relation() != Relation::Unrelated)
                        .count()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
