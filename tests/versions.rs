//! How the index follows a story's versions through a news cycle: a
//! write-through chain folds into one cluster whatever order its versions
//! arrive in, a next-day follow-up is linked rather than folded, and bridge
//! stories never chain different reports together. The copy is written
//! here; none of it comes from an evaluation set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;

use common::chain::{chain, paragraph, text};
use copydesk::dedup::{Fingerprint, Index, IndexConfig, IngestReport, Relation, StoryMeta};

fn meta(id: &str, body: &str, published_hour: Option<u64>) -> StoryMeta {
    let at = |hours: u64| UNIX_EPOCH + Duration::from_secs(1_800_000_000 + hours * 3600);
    StoryMeta {
        id: id.to_owned(),
        content_hash: fnv_hash(body),
        body_bytes: body.len(),
        published_at: published_hour.map(at),
        ingested_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        headline: copydesk::text::headline::HeadlineFrom::Nowhere,
    }
}

/// A content hash for the index's "same text again" test (any stable hash).
fn fnv_hash(body: &str) -> u64 {
    body.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn ingest(index: &mut Index, id: &str, body: &str, hour: Option<u64>) -> IngestReport {
    index.ingest(meta(id, body, hour), Fingerprint::of("", body))
}

#[test]
fn the_chain_is_a_chain() {
    let versions = chain();
    let fp: Vec<Fingerprint> = versions.iter().map(|v| Fingerprint::of("", v)).collect();
    for pair in fp.windows(2) {
        let e = copydesk::dedup::compare(&pair[0], &pair[1]);
        assert_eq!(e.relation(), Relation::Same, "consecutive versions: {e:?}");
    }
    let ends = copydesk::dedup::compare(&fp[0], &fp[4]);
    assert!(ends.containment < 0.25, "first and last: {ends:?}");
    assert_ne!(ends.relation(), Relation::Same, "{ends:?}");
}

#[test]
fn a_write_through_in_order_is_one_cluster() {
    let mut index = Index::new(IndexConfig::default());
    let reports: Vec<IngestReport> = chain()
        .iter()
        .enumerate()
        .map(|(k, v)| ingest(&mut index, &format!("v{k}"), v, Some(k as u64)))
        .collect();
    assert!(
        reports.iter().all(|r| r.cluster == reports[0].cluster),
        "{reports:#?}"
    );
    assert_eq!(index.cluster_count(), 1);
}

#[test]
fn a_write_through_in_any_order_is_one_cluster() {
    let versions = chain();
    for order in [
        [4, 0, 2, 1, 3],
        [0, 4, 2, 3, 1],
        [2, 4, 0, 3, 1],
        [4, 3, 2, 1, 0],
    ] {
        let mut index = Index::new(IndexConfig::default());
        for k in order {
            ingest(&mut index, &format!("v{k}"), &versions[k], Some(k as u64));
        }
        assert_eq!(index.cluster_count(), 1, "order {order:?}");
        let cluster = index.story_cluster("v0").expect("indexed");
        assert!((0..5).all(|k| index.story_cluster(&format!("v{k}")) == Some(cluster)));
        assert_eq!(index.cluster(cluster).expect("cluster").members.len(), 5);
    }
}

#[test]
fn a_next_day_follow_up_is_linked_not_folded() {
    let versions = chain();
    let mut index = Index::new(IndexConfig::default());
    for (k, v) in versions.iter().enumerate() {
        ingest(&mut index, &format!("v{k}"), v, Some(k as u64));
    }
    // The second-day story: a new top over the last version's background,
    // published 30 hours after the first version.
    let mut follow_up: String = (200..203).map(|n| paragraph(0, n)).collect();
    follow_up.push_str(&versions[4]);
    let report = ingest(&mut index, "day2", &follow_up, Some(30));
    let chain_cluster = index.story_cluster("v0").expect("indexed");
    assert_ne!(report.cluster, chain_cluster, "{report:?}");
    assert!(report.related.contains(&chain_cluster), "{report:?}");
}

#[test]
fn bridges_never_chain_different_reports_together() {
    let reports: Vec<String> = (0..3).map(|t| text(t, &[0, 1, 2, 3])).collect();
    let mut index = Index::new(IndexConfig::default());
    for (t, r) in reports.iter().enumerate() {
        ingest(&mut index, &format!("report{t}"), r, None);
    }
    // Digests that carry two of the reports whole, each SAME as both by
    // its text, in both orders.
    for (a, b) in [(0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)] {
        let bridge = format!("{}{}", reports[a], reports[b]);
        ingest(&mut index, &format!("bridge{a}{b}"), &bridge, None);
    }
    let clusters: Vec<_> = (0..3)
        .map(|t| index.story_cluster(&format!("report{t}")).expect("indexed"))
        .collect();
    assert_ne!(clusters[0], clusters[1]);
    assert_ne!(clusters[1], clusters[2]);
    assert_ne!(clusters[0], clusters[2]);
}

/// A press conference as an agency wrote it up: its own lede over the
/// long quotes every agency in the room carried.
fn press_conference(agency_dateline: &str, lede: &str) -> String {
    let quotes = [
        "\"We have agreed to keep talking, and that is more than anyone expected from this room,\" the foreign minister said.",
        "\"Nobody should read this as a breakthrough, but nobody should read it as a failure either,\" she added.",
        "\"The next round will be in Vienna, and it will be about the border, the troops and the treaty,\" her counterpart said.",
        "\"We told them plainly that the sanctions stay until the troops go home,\" the foreign minister said of the talks.",
        "\"If they want the treaty back, they know what the price is, and it has not changed since the spring,\" he said.",
        "\"I will report to the president tonight and to the parliament on Thursday,\" the foreign minister told the room.",
    ];
    format!("{agency_dateline} {lede}\n\n{}\n", quotes[..4].join("\n\n"))
}

#[test]
fn two_agencies_on_one_press_conference_are_related_not_same() {
    let ap = press_conference(
        "GENEVA (AP) —",
        "The foreign ministers agreed in Geneva on Monday to keep talking about the treaty and the troops. \
         Neither side offered a concession on the border or the sanctions, and the room was tense.",
    );
    let reuters = press_conference(
        "GENEVA (Reuters) -",
        "Talks on the treaty and the troops will go on, the foreign ministers said in Geneva on Monday. \
         The sanctions and the border were not settled, and the next round was set for Vienna.",
    );
    let (a, b) = (Fingerprint::of("", &ap), Fingerprint::of("", &reuters));
    assert_eq!(a.agency.map(|x| x.as_str()), Some("AP"));
    assert_eq!(b.agency.map(|x| x.as_str()), Some("Reuters"));
    // By their text alone the two are SAME: the quotes are most of both.
    let text_only = copydesk::dedup::compare(&a, &b);
    assert_eq!(text_only.relation(), Relation::Same, "{text_only:?}");
    let mut index = Index::new(IndexConfig::default());
    let first = ingest(&mut index, "ap", &ap, Some(0));
    let second = ingest(&mut index, "reuters", &reuters, Some(1));
    assert_ne!(first.cluster, second.cluster, "{second:?}");
    assert!(second.related.contains(&first.cluster), "{second:?}");
}

#[test]
fn one_agency_s_copy_on_three_sites_is_one_report() {
    let copy = press_conference(
        "GENEVA (AP) —",
        "The foreign ministers agreed in Geneva on Monday to keep talking about the treaty and the troops.",
    );
    let sites = [
        format!("Advertisement\n\nBy The Associated Press\n\n{copy}\nRelated content\n\nMore\n"),
        format!(
            "Share this story\n\nPosted 9:58 AM, Monday\n\n{copy}\nCopyright 2026 The Associated Press. All rights reserved.\n"
        ),
        format!(
            "Close\n\nImage 1 of 4\n\nMinisters leave the talks. (AP Photo/Jane Doe)\n\n{copy}"
        ),
    ];
    let titles = [
        "Ministers promise more talks",
        "Geneva talks end with a promise of more meetings | Harbour Gazette",
        "Enter City and State or Zip Code",
    ];
    let mut index = Index::new(IndexConfig::default());
    let reports: Vec<IngestReport> = sites
        .iter()
        .zip(titles)
        .enumerate()
        .map(|(i, (body, title))| {
            index.ingest(
                meta(&format!("site{i}"), body, Some(i as u64)),
                Fingerprint::of(title, body),
            )
        })
        .collect();
    assert!(
        reports.iter().all(|r| r.cluster == reports[0].cluster),
        "{reports:#?}"
    );
    assert!(
        reports
            .iter()
            .all(|r| r.agency.map(|a| a.as_str()) == Some("AP"))
    );
}

/// An agency's main story and its re-top: five of the earlier version's
/// twelve paragraphs under eight paragraphs of new top.
fn re_topped(dateline: &str) -> (String, String) {
    let first = format!("{dateline} {}", text(0, &(0..12).collect::<Vec<_>>()));
    let new_top: Vec<usize> = (300..308).chain(0..5).collect();
    let second = format!("{dateline} {}", text(0, &new_top));
    (first, second)
}

#[test]
fn an_agency_s_re_top_folds_on_the_byline_and_not_without_it() {
    let (first, second) = re_topped("HELSINKI (AP) —");
    let e = copydesk::dedup::compare(&Fingerprint::of("", &first), &Fingerprint::of("", &second));
    // By their text alone: a follow-up (new top over part of the story).
    assert_eq!(e.relation(), Relation::Related, "{e:?}");
    let mut index = Index::new(IndexConfig::default());
    let a = ingest(&mut index, "ap-1", &first, None);
    let b = ingest(&mut index, "ap-2", &second, None);
    assert_eq!(b.cluster, a.cluster, "one agency's versions: {b:?}");

    // The same two texts with no byline are two outlets' stories.
    let (first, second) = re_topped("HELSINKI —");
    let mut index = Index::new(IndexConfig::default());
    let a = ingest(&mut index, "site-1", &first, None);
    let b = ingest(&mut index, "site-2", &second, None);
    assert_ne!(b.cluster, a.cluster, "{b:?}");
    assert!(b.related.contains(&a.cluster), "{b:?}");

    // And the agency's copy a day and a half later is a second-day story.
    let (first, second) = re_topped("HELSINKI (AP) —");
    let mut index = Index::new(IndexConfig::default());
    let a = ingest(&mut index, "ap-mon", &first, Some(0));
    let b = ingest(&mut index, "ap-tue", &second, Some(36));
    assert_ne!(b.cluster, a.cluster, "{b:?}");
    assert!(b.related.contains(&a.cluster), "{b:?}");
}

/// Versions that arrive out of order start clusters that fold later: every
/// cluster id an answer gave still names the story's cluster, in memory
/// and after the durable store is opened again.
#[tokio::test]
async fn a_cluster_id_once_given_stays_valid_after_a_fold() {
    use copydesk::store::{DurableOptions, DurableStore, Store};
    use copydesk::story::{PreparedStory, Story};

    let versions = chain();
    let dir = tempfile::tempdir().expect("temp dir");
    let open = || {
        DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("open")
        .0
    };
    let store = open();
    let mut given = Vec::new();
    for k in [4, 0, 2, 1, 3] {
        let story = Story {
            id: format!("v{k}"),
            body: versions[k].clone(),
            ..Story::default()
        };
        let reports = store
            .ingest_blocking(vec![PreparedStory::new(story)], SystemTime::now())
            .expect("ingest");
        given.push(reports[0].cluster);
    }
    given.sort_unstable();
    given.dedup();
    assert!(given.len() > 1, "the chain starts more than one cluster");
    let folded = store.get_story("v0").await.expect("story").cluster;
    check_ids(&store, &given, folded).await;
    drop(store);
    check_ids(&open(), &given, folded).await;
}

async fn check_ids(
    store: &copydesk::store::DurableStore,
    given: &[copydesk::dedup::ClusterId],
    folded: copydesk::dedup::ClusterId,
) {
    use copydesk::store::Store;
    for &id in given {
        let cluster = store
            .get_cluster(id)
            .await
            .expect("every id given stays valid");
        assert_eq!(cluster.view.id, folded, "cluster {id}");
        assert_eq!(cluster.view.members.len(), 5);
    }
}
