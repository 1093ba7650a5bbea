//! What a new version changes, in the ingest answers: against the story it
//! duplicates, and against its own earlier text when an id is sent again
//! (a correction); on the in-memory store and on the durable store, where
//! the version followed may be earlier in the same commit.

mod common;

use std::sync::Arc;

use common::{TestServer, story, texts};
use copydesk::dedup::IndexConfig;
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::{
    Changes, DeleteStoryRequest, GetClusterRequest, IngestOutcome, IngestStoriesRequest,
    IngestStoryResponse, ListStoryVersionsRequest, ingest_stories_response,
};
use copydesk::store::{DurableOptions, DurableStore, MemoryStore, Store};
use tonic::transport::Channel;

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

    // A one-word correction of a lone story: compared with its own text,
    // and the story keeps its cluster.
    let council = texts::COUNCIL;
    let original = common::ingest(&mut client, "council", texts::COUNCIL_TITLE, council).await;
    let corrected = council.replacen("4.2 million", "4.3 million", 1);
    assert_ne!(corrected, council);
    let answer = common::ingest(&mut client, "council", texts::COUNCIL_TITLE, &corrected).await;
    assert_eq!(answer.outcome, IngestOutcome::Replaced as i32);
    assert_eq!(answer.cluster, original.cluster);
    let cluster = client
        .get_cluster(GetClusterRequest {
            name: original.cluster.clone(),
        })
        .await
        .expect("the cluster id stays valid")
        .into_inner();
    assert_eq!(cluster.members.len(), 1);
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

    // The story's history: the first text kept, the correction current.
    check_council_history(&mut client, council).await;
    let timeline = cluster.timeline;
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    assert_eq!(
        (timeline[0].version, timeline[0].current),
        (1, false),
        "{timeline:?}"
    );
    assert_eq!((timeline[1].version, timeline[1].current), (2, true));
    assert_eq!(
        timeline[1].changes.as_ref().expect("changes").changed.len(),
        1
    );

    // The wire story's timeline: the first version, then the re-top with
    // what it changed against it, with the agency its copy names.
    let wire = client
        .get_cluster(GetClusterRequest {
            name: first.cluster.clone(),
        })
        .await
        .expect("cluster")
        .into_inner();
    let order: Vec<(&str, u32)> = wire
        .timeline
        .iter()
        .map(|v| (v.story.as_str(), v.version))
        .collect();
    assert_eq!(order, [("stories/full", 1), ("stories/retop", 1)]);
    assert!(wire.timeline[0].changes.is_none());
    assert_eq!(wire.timeline[1].agency, "Reuters");
    let retop = wire.timeline[1].changes.as_ref().expect("changes");
    assert_eq!(retop.against, "stories/full");
    assert!(retop.top_changed && retop.trimmed);

    // A deleted story takes its history with it.
    client
        .delete_story(DeleteStoryRequest {
            name: "stories/retop".into(),
        })
        .await
        .expect("delete");
    let gone = client
        .list_story_versions(ListStoryVersionsRequest {
            name: "stories/retop".into(),
        })
        .await
        .expect_err("no history");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    server.stop().await;
}

/// `council` was ingested, then corrected once.
async fn check_council_history(client: &mut DedupServiceClient<Channel>, council: &str) {
    let history = client
        .list_story_versions(ListStoryVersionsRequest {
            name: "stories/council".into(),
        })
        .await
        .expect("versions")
        .into_inner()
        .versions;
    assert_eq!(history.len(), 2, "{history:?}");
    let (first, second) = (&history[0], &history[1]);
    assert_eq!((first.version, first.current), (1, false));
    assert_eq!(first.body, council, "the corrected text is kept");
    assert!(first.changes.is_none());
    assert_eq!((second.version, second.current), (2, true));
    assert!(second.body.is_empty(), "the current text is GetStory's");
    assert_eq!(second.cluster, first.cluster);
    let changes = second.changes.as_ref().expect("changes");
    assert_eq!(changes.changed[0].words_added, ["4.3"]);
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
    // The history is in the file: it is there after a restart.
    let server =
        TestServer::start_with_store(ServerConfig::default(), open_durable(dir.path())).await;
    let mut client = server.dedup().await;
    check_council_history(&mut client, texts::COUNCIL).await;
    server.stop().await;
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
