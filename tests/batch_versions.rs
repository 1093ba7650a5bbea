//! A batch ingested on several threads answers and keeps what one story
//! at a time would: the same placements, and for every new version the
//! same changes, worked out against the furniture the index had learned
//! at that version's ingest even where it learned more later in the batch.
//! The copy is written here; none of it comes from an evaluation set.

use std::num::NonZeroUsize;
use std::time::SystemTime;

use copydesk::dedup::{IndexConfig, IngestReport};
use copydesk::store::{MemoryStore, Store, VersionRecord};
use copydesk::story::{PreparedStory, Story};

/// A short line the text rules do not know as furniture; the index learns
/// it once it turns up under three different stories.
const STATION_LINE: &str = "Harbour Lights Radio keeps you posted every evening at seven.";

const FERRY: &str = "The harbour ferry will stop running on Sundays from next month, the \
    transport board said on Tuesday. Board members voted five to two for the cut after a \
    long meeting in the town hall. Passengers who rely on the Sunday crossing said they \
    would petition the council.";

const FERRY_LONGER: &str = "The harbour ferry will stop running on Sundays from next month, \
    the transport board said on Tuesday. Board members voted five to two for the cut after a \
    long meeting in the town hall. Passengers who rely on the Sunday crossing said they \
    would petition the council. The board chair said fuel costs had doubled since spring.";

const FERRY_LATEST: &str = "The harbour ferry will stop running on Sundays from next month, \
    the transport board said on Tuesday. Board members voted five to two for the cut after a \
    long meeting in the town hall. The board chair said fuel costs had doubled since spring. \
    A petition against the cut had gathered four hundred names by the evening.";

const OTHERS: [&str; 3] = [
    "Volunteers planted two thousand oak saplings along the river bank over the weekend, \
     organisers said. The planting is the first stage of a ten-year plan to restore the \
     floodplain woodland that was cleared a century ago.",
    "The county library reopened its reading room after an eighteen-month restoration of \
     the painted ceiling. Conservators cleaned soot from more than four hundred panels and \
     repaired water damage along the north wall.",
    "A local bakery won the regional bread prize for a rye loaf made with grain from a \
     single farm. The judges praised its crust and said the entry stood out among more than \
     sixty loaves from across the county.",
];

fn story(id: &str, body: String) -> PreparedStory {
    PreparedStory::new(Story {
        id: id.to_owned(),
        title: String::new(),
        body,
        published_at: None,
        source: String::new(),
        language: String::new(),
    })
}

fn with_station_line(body: &str) -> String {
    format!("{body}\n\n{STATION_LINE}")
}

/// The ferry story's first version; its second, carrying the station line
/// before the index has learned it; three other stories carrying it,
/// which teach it; the ferry story's third version, and another site's
/// copy of it.
fn batch() -> Vec<PreparedStory> {
    let mut batch = vec![
        story("ferry", FERRY.to_owned()),
        story("ferry", with_station_line(FERRY_LONGER)),
    ];
    for (i, other) in OTHERS.iter().enumerate() {
        batch.push(story(&format!("other-{i}"), with_station_line(other)));
    }
    batch.push(story("ferry", with_station_line(FERRY_LATEST)));
    batch.push(story("ferry-copy", FERRY_LATEST.to_owned()));
    batch
}

const NOW: SystemTime = SystemTime::UNIX_EPOCH;

fn ids() -> Vec<String> {
    let mut ids: Vec<String> = batch().iter().map(|p| p.story.id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// What a store answered and keeps: the reports, and each story's versions.
async fn kept(
    store: &MemoryStore,
    reports: Vec<IngestReport>,
) -> Vec<(String, Vec<VersionRecord>)> {
    let mut kept = vec![(format!("{reports:?}"), Vec::new())];
    for id in ids() {
        let versions = store.story_versions(&id).await.expect("versions");
        kept.push((id, versions));
    }
    kept
}

#[tokio::test]
async fn a_batch_on_many_threads_keeps_what_one_story_at_a_time_keeps() {
    let one_at_a_time = MemoryStore::new(IndexConfig::default());
    let mut reports = Vec::new();
    for prepared in batch() {
        reports.push(one_at_a_time.ingest(prepared, NOW).await.expect("ingest"));
    }
    // The second version was compared before the station line was
    // learned, so the line is part of what it added; the third after.
    let added = |report: &IngestReport| -> Vec<String> {
        let changes = report.changes.as_ref().expect("a new version has changes");
        changes
            .changes
            .added
            .iter()
            .map(|p| p.text.clone())
            .collect()
    };
    assert!(
        added(&reports[1])
            .iter()
            .any(|s| s.contains("Harbour Lights")),
        "before it is learned the line is a change: {:?}",
        reports[1].changes
    );
    assert!(
        !added(&reports[5])
            .iter()
            .any(|s| s.contains("Harbour Lights")),
        "once learned it is not: {:?}",
        reports[5].changes
    );
    let expected = kept(&one_at_a_time, reports).await;

    for threads in [1, 2, 3] {
        let store = MemoryStore::new(IndexConfig::default());
        let threads = NonZeroUsize::new(threads).expect("nonzero");
        let reports = store
            .ingest_group_blocking(batch(), NOW, threads)
            .expect("ingest group");
        assert_eq!(
            kept(&store, reports).await,
            expected,
            "{threads} threads answered or kept otherwise"
        );
    }
}
