use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::entry::{Cluster, Entry, EntryMeta, Stamp};
use super::*;
use crate::dedup::compare::Relation;
use crate::dedup::fingerprint::Fingerprint;
use crate::dedup::vocabulary;
use crate::text::headline::HeadlineFrom;

/// The index's memory budget (about 1 KiB a story, README) rests on
/// these inline sizes; a new field should be a deliberate choice.
#[test]
fn entries_and_clusters_stay_small() {
    // 232 since entries hold a compact EntryMeta (48 bytes, was 80):
    // measured 989 bytes a story at 100,000 (README, index memory).
    assert!(std::mem::size_of::<Option<Entry>>() <= 232);
    assert!(std::mem::size_of::<EntryMeta>() <= 48);
    assert!(std::mem::size_of::<Cluster>() <= 56);
    assert!(std::mem::size_of::<Fingerprint>() <= 160);
}

#[test]
fn stamps_keep_times_after_1970_exactly() {
    let time = SystemTime::UNIX_EPOCH + std::time::Duration::new(1_790_000_000, 123_456_789);
    assert_eq!(SystemTime::from(Stamp::from(time)), time);
    let before = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(5);
    assert_eq!(
        SystemTime::from(Stamp::from(before)),
        SystemTime::UNIX_EPOCH
    );
}

fn meta(id: &str, body: &str, second: u64) -> StoryMeta {
    StoryMeta {
        id: id.to_owned(),
        content_hash: xxhash_rust::xxh3::xxh3_64(body.as_bytes()),
        body_bytes: body.len(),
        published_at: None,
        ingested_at: UNIX_EPOCH + Duration::from_secs(second),
        headline: HeadlineFrom::Nowhere,
    }
}

fn ingest(index: &mut Index, id: &str, body: &str, second: u64) -> IngestReport {
    index.ingest(meta(id, body, second), Fingerprint::of("", body))
}

const FULL: &str = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough. \
    Moscow wants guarantees that NATO will not expand further east, while Washington calls the demand a non-starter. \
    The two sides agreed to keep talking, and further rounds with NATO and the OSCE follow this week. \
    Diplomats said the mood was businesslike but that the gap between the positions remained wide.";

fn trimmed() -> &'static str {
    &FULL[..FULL.rfind("The two sides").unwrap()]
}

const OTHER: &str = "The city council approved a budget for road repairs on Tuesday after a long debate about potholes and bus lanes in the centre.";

#[test]
fn versions_fold_and_longest_is_canonical() {
    let mut index = Index::new(IndexConfig::default());
    let first = ingest(&mut index, "short", trimmed(), 1);
    let second = ingest(&mut index, "full", FULL, 2);
    assert_eq!(second.cluster, first.cluster);
    assert_eq!(
        second.duplicate_of.as_ref().map(|d| d.0.as_str()),
        Some("short")
    );
    assert_eq!(second.canonical, "full");
    assert_eq!(second.cluster_size, 2);
    let other = ingest(&mut index, "other", OTHER, 3);
    assert_ne!(other.cluster, first.cluster);
    assert!(other.duplicate_of.is_none());
}

/// Replays the changes an index reports into a map, as a store would,
/// and rebuilds an index from it.
#[test]
fn restored_index_matches_the_original() {
    let mut index = Index::restore(
        IndexConfig::default(),
        Vec::new(),
        Vec::new(),
        Index::new(IndexConfig::default()).counters(),
    )
    .unwrap();
    let mut clusters: BTreeMap<ClusterId, ClusterRecord> = BTreeMap::new();
    let mut stories: BTreeMap<String, (&str, u64)> = BTreeMap::new();
    let apply = |index: &mut Index, clusters: &mut BTreeMap<ClusterId, ClusterRecord>| {
        let changes = index.take_changes();
        for record in changes.changed {
            clusters.insert(record.id, record);
        }
        for id in changes.removed {
            clusters.remove(&id);
        }
    };
    for (id, body, second) in [
        ("short", trimmed(), 1),
        ("other", OTHER, 2),
        ("full", FULL, 3),
        ("gone", OTHER, 4),
    ] {
        ingest(&mut index, id, body, second);
        stories.insert(id.to_owned(), (body, second));
        apply(&mut index, &mut clusters);
    }
    index.remove("gone", UNIX_EPOCH + Duration::from_secs(5));
    stories.remove("gone");
    apply(&mut index, &mut clusters);

    let records = stories
        .iter()
        .map(|(id, &(body, second))| {
            let placement = index.placement_record(id).unwrap();
            (meta(id, body, second), Fingerprint::of("", body), placement)
        })
        .collect();
    let mut restored = Index::restore(
        IndexConfig::default(),
        records,
        clusters.values().cloned().collect(),
        index.counters(),
    )
    .unwrap();
    for id in clusters.keys() {
        assert_eq!(restored.cluster(*id), index.cluster(*id));
    }
    assert_eq!(restored.cluster_count(), index.cluster_count());
    let late = ingest(&mut restored, "late", FULL, 6);
    let expected = ingest(&mut index, "late", FULL, 6);
    assert_eq!(late, expected);
}

#[test]
fn restore_refuses_inconsistent_records() {
    let body = OTHER;
    let placement = PlacementRecord {
        sequence: 0,
        cluster: 7,
        duplicate_of: None,
    };
    let result = Index::restore(
        IndexConfig::default(),
        vec![(meta("a", body, 1), Fingerprint::of("", body), placement)],
        Vec::new(),
        IndexCounters {
            next_cluster: 8,
            next_sequence: 1,
        },
    );
    assert!(matches!(
        result,
        Err(RestoreError::MissingCluster { cluster: 7, .. })
    ));
}

#[test]
fn resend_is_idempotent_and_new_text_replaces() {
    let mut index = Index::new(IndexConfig::default());
    let first = ingest(&mut index, "a", FULL, 1);
    let again = ingest(&mut index, "a", FULL, 2);
    assert_eq!(again.outcome, IngestOutcome::Unchanged);
    assert_eq!((again.cluster, again.cluster_size), (first.cluster, 1));
    let replaced = ingest(&mut index, "a", OTHER, 3);
    assert_eq!(replaced.outcome, IngestOutcome::Replaced);
    assert_eq!(index.len(), 1);
    assert_eq!(index.cluster_count(), 1);
    // A correction keeps its cluster, even as its only member.
    assert_eq!(replaced.cluster, first.cluster);
    assert_eq!(index.cluster(first.cluster).unwrap().canonical, "a");
}

#[test]
fn a_correction_stays_in_its_cluster_and_links_what_it_now_matches() {
    let mut index = Index::new(IndexConfig::default());
    let geneva = ingest(&mut index, "geneva", FULL, 1).cluster;
    let other = ingest(&mut index, "other", OTHER, 2).cluster;
    assert_ne!(geneva, other);
    // "other" is corrected to a copy of the Geneva report: it does not
    // move (readers of its cluster find the correction there), and the
    // two clusters are linked.
    let corrected = ingest(&mut index, "other", FULL, 3);
    assert_eq!(corrected.outcome, IngestOutcome::Replaced);
    assert_eq!(corrected.cluster, other);
    assert_eq!(corrected.duplicate_of, None);
    assert_eq!(corrected.related, vec![geneva]);
    assert_eq!(index.cluster(geneva).unwrap().related, vec![other]);
    // A correction inside a cluster of versions stays with them.
    let copy = ingest(&mut index, "copy", FULL, 4);
    assert_eq!(copy.cluster, geneva);
    let fixed = FULL.replace("Monday", "Tuesday");
    let again = ingest(&mut index, "copy", &fixed, 5);
    assert_eq!((again.cluster, again.cluster_size), (geneva, 2));
    assert_eq!(
        again.duplicate_of.map(|(id, _)| id).as_deref(),
        Some("geneva")
    );
}

#[test]
fn delete_reelects_and_empty_clusters_vanish() {
    let mut index = Index::new(IndexConfig::default());
    let cluster = ingest(&mut index, "short", trimmed(), 1).cluster;
    ingest(&mut index, "full", FULL, 2);
    assert_eq!(index.remove("full", UNIX_EPOCH), Some(cluster));
    assert_eq!(index.cluster(cluster).unwrap().canonical, "short");
    index.remove("short", UNIX_EPOCH);
    assert!(index.cluster(cluster).is_none());
    assert_eq!(index.remove("short", UNIX_EPOCH), None);
}

#[test]
fn canonical_policies() {
    for (policy, expected) in [
        (CanonicalPolicy::Longest, "full"),
        (CanonicalPolicy::Earliest, "short"),
        (CanonicalPolicy::Latest, "full"),
    ] {
        let mut index = Index::new(IndexConfig {
            canonical: policy,
            ..IndexConfig::default()
        });
        ingest(&mut index, "short", trimmed(), 1);
        assert_eq!(
            ingest(&mut index, "full", FULL, 2).canonical,
            expected,
            "{policy:?}"
        );
    }
}

/// Paragraphs `range` of a long report, 19 words each, with a number at
/// least every three words so that no shingle repeats across them.
fn report(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            format!(
                "Site {i} logged {} faults by {} with {} crews on {} lines near {} stations and {} trains. ",
                i * 7 + 3,
                i + 100,
                i * 3 + 1000,
                i + 2000,
                i * 5 + 3000,
                i + 4000
            )
        })
        .collect()
}

#[test]
fn a_brief_joins_a_two_version_cluster_through_the_original() {
    let mut index = Index::new(IndexConfig::default());
    // The original, 760 words; an update that moves its last ten
    // paragraphs (a quarter, 190 words) to the top and is now the
    // longest; a brief cut from the original's top.
    let original = report(0..40);
    let moved_up = format!("{}{} Updated at noon.", report(30..40), report(0..30));
    let brief = report(0..6);
    let first = ingest(&mut index, "original", &original, 1);
    let update = ingest(&mut index, "update", &moved_up, 2);
    assert_eq!(update.cluster, first.cluster);
    assert_eq!(update.canonical, "update");
    // The brief is SAME as the original but not as the update, whose
    // whole first quarter it lacks: half the versions are enough.
    let e = compare(
        &Fingerprint::of("", &brief),
        &Fingerprint::of("", &moved_up),
    );
    assert_ne!(e.relation(), Relation::Same, "{e:?}");
    let cut = ingest(&mut index, "brief", &brief, 3);
    assert_eq!(cut.cluster, first.cluster, "{cut:?}");
    assert_eq!(cut.duplicate_of.map(|d| d.0), Some("original".to_owned()));
}

#[test]
fn a_story_matching_two_clusters_joins_the_stronger_and_links_the_other() {
    let first_half = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough. \
        Moscow wants guarantees that NATO will not expand further east, while Washington calls the demand a non-starter.";
    let second_half = "Flooding closed the main rail line between the two northern cities on Tuesday after days of heavy rain. \
        Engineers said the embankment would need at least a week of repairs before trains could run again.";
    let mut index = Index::new(IndexConfig::default());
    let a = ingest(&mut index, "geneva", first_half, 1);
    let b = ingest(&mut index, "floods", second_half, 2);
    assert_ne!(a.cluster, b.cluster);
    // A digest that carries both stories whole: SAME as each, but the
    // two clusters must not merge through it.
    let both = ingest(
        &mut index,
        "digest",
        &format!("{first_half} {second_half}"),
        3,
    );
    assert_eq!(
        both.cluster, a.cluster,
        "joins the cluster whose lede it shares"
    );
    assert_eq!(both.related, vec![b.cluster]);
    assert_eq!(index.cluster(b.cluster).unwrap().members.len(), 1);
    assert_eq!(index.cluster(b.cluster).unwrap().related, vec![a.cluster]);
    assert_eq!(index.cluster_count(), 2);
}

/// Two outlets' reports of one flood, in sentences of their own, and a
/// strike in the same city that week.
const FLOOD_WIRE: &str = "Floodwaters swept through the port city of Valparaiso on Tuesday, forcing more than 4,000 residents from their homes, mayor Ximena Lobos said. \
    The Aconcagua river burst its banks after three days of rain, and rescue crews in boats reached families trapped on rooftops in the Almendral district. \
    Lobos asked the national government for emergency funds and said schools would stay closed until Friday.";
const FLOOD_LOCAL: &str = "Mayor Ximena Lobos appealed for national emergency aid after the Aconcagua overflowed and flooded much of Valparaiso. \
    Some 4,000 people were evacuated, many from the low-lying Almendral neighbourhood, where boats ferried trapped families to safety. \
    Classes are suspended across the city through Friday, officials added.";
const PORT_STRIKE: &str = "Dock workers in Valparaiso ended a two-week strike on Tuesday after the port operator agreed to raise wages by six percent. \
    Container traffic, which had fallen by half during the stoppage, should recover within days, the union told officials.";

/// Stories on other news that all use a few everyday words, so the
/// index learns that those words are common.
fn ingest_other_news(index: &mut Index, stories: u64) {
    const TOPICS: [&str; 5] = ["budget", "election", "museum", "football", "bridge"];
    for i in 0..stories {
        let topic = TOPICS[(i % 5) as usize];
        let body = format!(
            "Officials in the city said on Tuesday that the {topic} plan number {i} would go ahead. \
             The council voted {} to {} after a debate about the cost of item {}, and reporters asked about week {}.",
            i + 7,
            i % 5,
            i * 31,
            i * 17
        );
        ingest(index, &format!("other-{i}"), &body, i);
    }
}

/// A story through the path the servers and the CLI take (which sets
/// where its headline comes from).
fn ingest_titled(index: &mut Index, id: &str, title: &str, body: &str) -> IngestReport {
    let story = crate::story::Story {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        published_at: None,
        source: String::new(),
        language: String::new(),
    };
    crate::story::PreparedStory::new(story)
        .ingest_into(index, UNIX_EPOCH + Duration::from_secs(1_790_000_000))
        .1
}

const FLOOD_HEADLINE: &str = "Floodwaters force thousands from homes in Valparaiso";
const FLOOD_PHOTOS: &str = "Credit: The Associated Press\n\n\
    Residents wade through a flooded street in the Almendral district of Valparaiso, Chile, Tuesday, May 5, 2026. (AP Photo/Jane Doe)\n\n\
    Credit: The Associated Press\n\n\
    Rescue crews reach a family on a rooftop in Valparaiso, Chile, Tuesday, May 5, 2026. (AP Photo/John Roe)\n\nprev next";

#[test]
fn a_page_of_photos_under_a_storys_headline_is_a_version_of_it() {
    assert_eq!(
        Fingerprint::of(FLOOD_HEADLINE, FLOOD_PHOTOS).shingle_count,
        0
    );
    // Story first, then its photo page; and the other way round.
    let mut index = Index::new(IndexConfig::default());
    ingest_other_news(&mut index, 10);
    let story = ingest_titled(&mut index, "flood", FLOOD_HEADLINE, FLOOD_WIRE);
    let photos = ingest_titled(&mut index, "flood-photos", FLOOD_HEADLINE, FLOOD_PHOTOS);
    assert_eq!(photos.cluster, story.cluster, "{:?}", photos.matches);
    assert_eq!(
        photos.canonical, "flood",
        "a page of photos is never the canonical story"
    );

    let mut index = Index::new(IndexConfig::default());
    let photos = ingest_titled(&mut index, "flood-photos", FLOOD_HEADLINE, FLOOD_PHOTOS);
    let story = ingest_titled(&mut index, "flood", FLOOD_HEADLINE, FLOOD_WIRE);
    assert_eq!(story.cluster, photos.cluster, "{:?}", story.matches);
    assert_eq!(story.canonical, "flood");
}

#[test]
fn pages_with_no_story_fold_by_headline_only_into_a_story_that_owns_it() {
    let mut index = Index::new(IndexConfig::default());
    // Two empty pages under one site label: nothing in common.
    let label = "Enter City and State or Zip Code";
    let a = ingest_titled(&mut index, "a", label, FLOOD_PHOTOS);
    let b = ingest_titled(
        &mut index,
        "b",
        label,
        "Credit: The Associated Press\n\nprev next",
    );
    assert_ne!(a.cluster, b.cluster);
    // A story under that label (its own headline is in its text) does
    // not own it either.
    let story = ingest_titled(&mut index, "c", label, FLOOD_WIRE);
    assert_ne!(story.cluster, a.cluster, "{:?}", story.matches);
    assert_ne!(story.cluster, b.cluster, "{:?}", story.matches);
    // A short headline is shared by pages that have nothing in common.
    let mut index = Index::new(IndexConfig::default());
    let story = ingest_titled(&mut index, "flood", "Valparaiso floods", FLOOD_WIRE);
    let photos = ingest_titled(&mut index, "photos", "Valparaiso floods", FLOOD_PHOTOS);
    assert_ne!(photos.cluster, story.cluster);
}

#[test]
fn reports_of_one_event_by_different_writers_are_related_not_same() {
    let mut index = Index::new(IndexConfig::default());
    ingest_other_news(&mut index, 40);
    let wire = ingest(&mut index, "flood-wire", FLOOD_WIRE, 100);
    let local = ingest(&mut index, "flood-local", FLOOD_LOCAL, 101);
    assert_ne!(
        local.cluster, wire.cluster,
        "different writers: not one report"
    );
    assert_eq!(local.related, vec![wire.cluster], "{:?}", local.matches);
    let link = &local.matches[0];
    assert_eq!(link.relation, Relation::Related);
    // Their text alone links nothing: the shared names and terms do.
    assert_eq!(link.evidence.relation(), Relation::Unrelated, "{link:?}");
    // The same city and day, other news: no link.
    let strike = ingest(&mut index, "port-strike", PORT_STRIKE, 102);
    assert!(strike.related.is_empty(), "{:?}", strike.matches);
    // Deleting the local report takes its link with it.
    index.remove("flood-local", UNIX_EPOCH + Duration::from_secs(103));
    assert!(index.cluster(wire.cluster).unwrap().related.is_empty());
}

#[test]
fn a_word_every_story_uses_finds_no_event() {
    let mut index = Index::new(IndexConfig::default());
    ingest_other_news(&mut index, 40);
    // "officials", "tuesday" and "city" are in every story: they are
    // common, and a story is posted under none of them.
    let strike = ingest(&mut index, "port-strike", PORT_STRIKE, 100);
    assert!(strike.related.is_empty(), "{:?}", strike.matches);
    let everyday = crate::text::words::word_hash("officials");
    assert!(
        index
            .vocabulary
            .is_common(vocabulary::key_of_hash(everyday))
    );
    let slot = index.slot_of("port-strike").unwrap();
    let posted = index.slot_entry(slot).fingerprint.topic_words();
    assert_eq!(posted.len(), POSTED_TOPIC_WORDS);
    assert!(posted.iter().all(|&key| !index.vocabulary.is_common(key)));
}

#[test]
fn pages_newest_first() {
    let mut index = Index::new(IndexConfig::default());
    ingest(&mut index, "a", FULL, 1);
    ingest(&mut index, "b", OTHER, 2);
    let page = index.clusters_before(None, 1);
    assert_eq!(page[0].canonical, "b");
    let next = index.clusters_before(Some(page[0].id), 10);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].canonical, "a");
}

/// A follower that is given, after each ingest, the stories and clusters
/// the writer changed ends up with the writer's clusters, and places a new
/// text where the writer would.
#[test]
fn a_follower_put_in_what_a_writer_changed_answers_as_the_writer() {
    let config = IndexConfig::default();
    let counters = Index::new(config).counters();
    let mut writer = Index::restore(config, Vec::new(), Vec::new(), counters).unwrap();
    let mut follower = Index::new(config);
    let texts = [
        ("a", FULL.to_owned()),
        ("b", trimmed().to_owned()),
        ("c", OTHER.to_owned()),
        ("a", format!("{FULL} A correction came later in the day.")),
        ("d", FULL.to_owned()),
    ];
    for (second, (id, body)) in texts.iter().enumerate() {
        writer.ingest(meta(id, body, second as u64), Fingerprint::of("", body));
        let placement = writer.placement_record(id).unwrap();
        follower.put_placed(
            meta(id, body, second as u64),
            Fingerprint::of("", body),
            placement,
        );
        let changes = writer.take_changes();
        for removed in changes.removed {
            follower.forget_cluster(removed);
        }
        for record in changes.changed {
            follower.put_cluster(record);
        }
        if let Some(aliases) = changes.aliases {
            follower.put_aliases(aliases);
        }
    }
    writer.remove("c", UNIX_EPOCH + Duration::from_secs(60));
    follower.forget_story("c");
    for removed in writer.take_changes().removed {
        follower.forget_cluster(removed);
    }
    assert_eq!(follower.len(), writer.len());
    assert_eq!(
        follower.clusters_before(None, 10),
        writer.clusters_before(None, 10)
    );
    let probe = Fingerprint::of("", trimmed());
    assert_eq!(
        follower.place(&probe, None, None),
        writer.place(&probe, None, None)
    );
    assert_eq!(follower.version_keys(&probe), writer.version_keys(&probe));
    assert!(!writer.version_keys(&probe).is_empty());
}
