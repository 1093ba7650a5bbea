//! What a new version changes, in the ingest answers: against the story it
//! duplicates, and against its own earlier text when an id is sent again
//! (a correction); on the in-memory store and on the durable store, where
//! the version followed may be earlier in the same commit.

mod common;

use std::sync::Arc;

use common::{TestServer, story, texts};
use copydesk::dedup::IndexConfig;
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::{
    Changes, IngestOutcome, IngestStoriesRequest, IngestStoryResponse, ingest_stories_response,
};
use copydesk::store::{DurableOptions, DurableStore, MemoryStore, Store};

const NEW_TOP: &str = "Russia said on Tuesday it would send a delegation to Brussels after all, reversing its refusal of the day before.";

/// The full story with a new top sentence and its last paragraph cut.
fn retopped() -> String {
    let full = texts::geneva_full();
    let body = full
        .strip_prefix("GENEVA (Reuters) - ")
        .expect("the dateline");
    let cut = body
        .find("\n\nRyabkov said Russia would decide")
        .expect("the last paragraph");
    format!("GENEVA (Reuters) - {NEW_TOP}\n\n{}", &body[..cut])
}

fn check_retop(body: &str, answer: &IngestStoryResponse) {
    assert!(answer.duplicate, "{answer:?}");
    let changes: &Changes = answer.changes.as_ref().expect("changes");
    assert_eq!(changes.against, "stories/full");
    assert!(changes.top_changed);
    assert!(changes.trimmed, "{changes:?}");
    assert!(!changes.cut);
    assert_eq!(changes.added.len(), 1, "{changes:?}");
    let added = &changes.added[0];
    assert_eq!(added.text, NEW_TOP);
    assert_eq!(&body[added.start as usize..added.end as usize], NEW_TOP);
    assert_eq!(changes.update_summary, changes.added);
    assert_eq!(changes.removed.len(), 1);
    assert!(
        changes.removed[0]
            .text
            .starts_with("Ryabkov said Russia would decide")
    );
    let full = texts::geneva_full();
    let removed = &changes.removed[0];
    assert_eq!(
        &full[removed.start as usize..removed.end as usize],
        removed.text
    );
}

async fn versions_and_corrections_report_their_changes(store: Arc<dyn Store>) {
    let server = TestServer::start_with_store(ServerConfig::default(), store).await;
    let mut client = server.dedup().await;
    let first = common::ingest(
        &mut client,
        "full",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    assert!(first.changes.is_none(), "a first version follows none");
    let body = retopped();
    let answer = common::ingest(&mut client, "retop", texts::GENEVA_TITLE, &body).await;
    check_retop(&body, &answer);
    // The same text again changes nothing and says so by leaving it unset.
    let again = common::ingest(&mut client, "retop", texts::GENEVA_TITLE, &body).await;
    assert_eq!(again.outcome, IngestOutcome::Unchanged as i32);
    assert!(again.changes.is_none());

    // A one-word correction of a lone story: compared with its own text.
    let council = texts::COUNCIL;
    common::ingest(&mut client, "council", texts::COUNCIL_TITLE, council).await;
    let corrected = council.replacen("4.2 million", "4.3 million", 1);
    assert_ne!(corrected, council);
    let answer = common::ingest(&mut client, "council", texts::COUNCIL_TITLE, &corrected).await;
    assert_eq!(answer.outcome, IngestOutcome::Replaced as i32);
    let changes = answer.changes.expect("a correction's changes");
    assert_eq!(changes.against, "stories/council");
    assert!(
        changes.added.is_empty() && changes.removed.is_empty(),
        "{changes:?}"
    );
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].words_removed, ["4.2"]);
    assert_eq!(changes.changed[0].words_added, ["4.3"]);
    assert!(!changes.top_changed);
    server.stop().await;
}

fn open_durable(dir: &std::path::Path) -> Arc<dyn Store> {
    let (store, _) =
        DurableStore::open(dir, IndexConfig::default(), DurableOptions::default()).expect("open");
    Arc::new(store)
}

#[tokio::test]
async fn in_memory() {
    versions_and_corrections_report_their_changes(Arc::new(MemoryStore::new(
        IndexConfig::default(),
    )))
    .await;
}

#[tokio::test]
async fn durable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_durable(dir.path());
    versions_and_corrections_report_their_changes(store).await;
}

#[tokio::test]
async fn a_version_followed_within_one_durable_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_durable(dir.path());
    let server = TestServer::start_with_store(ServerConfig::default(), store).await;
    let mut client = server.dedup().await;
    let body = retopped();
    // Both items are in the stream before the server reads it: one commit.
    let items = vec![
        IngestStoriesRequest {
            story: Some(story("full", texts::GENEVA_TITLE, &texts::geneva_full())),
        },
        IngestStoriesRequest {
            story: Some(story("retop", texts::GENEVA_TITLE, &body)),
        },
    ];
    let mut answers = client
        .ingest_stories(tokio_stream::iter(items))
        .await
        .expect("stream")
        .into_inner();
    let mut ingested = Vec::new();
    while let Some(answer) = answers.message().await.expect("answer") {
        match answer.result {
            Some(ingest_stories_response::Result::Ingested(r)) => ingested.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ingested.len(), 2);
    check_retop(&body, &ingested[1]);
    server.stop().await;
}
