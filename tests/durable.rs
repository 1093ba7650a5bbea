//! The durable store behind the real server: restarts keep every story,
//! cluster and canonical; bad data directories fail clearly; retention
//! evicts in the background.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, story, texts};
use copydesk::dedup::IndexConfig;
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::{
    self, DeleteStoryRequest, GetClusterRequest, GetStoryRequest, IngestStoriesRequest,
    IngestStoryRequest, ListClustersRequest, ingest_stories_response,
};
use copydesk::store::{DATABASE_FILE, DurableOptions, DurableStore, OpenError};
use tonic::Code;
use tonic::transport::Channel;

type DedupClient = proto::dedup_service_client::DedupServiceClient<Channel>;

fn open(dir: &Path, options: DurableOptions) -> Arc<DurableStore> {
    let (store, _) =
        DurableStore::open(dir, IndexConfig::default(), options).expect("open the store");
    Arc::new(store)
}

/// The cluster a story lands in.
async fn ingest_cluster(client: &mut DedupClient, id: &str, title: &str, body: &str) -> String {
    common::ingest(client, id, title, body).await.cluster
}

/// Everything a client can read back: stories, clusters and the list.
async fn snapshot(client: &mut DedupClient, ids: &[&str]) -> String {
    let mut out = String::new();
    for id in ids {
        let found = client
            .get_story(GetStoryRequest {
                name: format!("stories/{id}"),
            })
            .await
            .map(|r| r.into_inner())
            // A status carries a date header: compare its code only.
            .map_err(|s| s.code());
        out.push_str(&format!("{id}: {found:?}\n"));
    }
    let clusters = client
        .list_clusters(ListClustersRequest {
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .expect("list clusters")
        .into_inner();
    out.push_str(&format!("{clusters:?}\n"));
    for cluster in &clusters.clusters {
        let detail = client
            .get_cluster(GetClusterRequest {
                name: cluster.name.clone(),
            })
            .await
            .expect("get cluster")
            .into_inner();
        out.push_str(&format!("{detail:?}\n"));
    }
    out
}

#[tokio::test]
async fn restart_keeps_stories_clusters_and_canonicals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = [
        "paper-trimmed",
        "reuters-full",
        "council",
        "follow-up",
        "gone",
    ];

    let server = TestServer::start_with_store(
        ServerConfig::default(),
        open(dir.path(), DurableOptions::default()),
    )
    .await;
    let mut client = server.dedup().await;
    let geneva = ingest_cluster(
        &mut client,
        "paper-trimmed",
        texts::GENEVA_TITLE,
        &texts::geneva_trimmed(),
    )
    .await;
    ingest_cluster(
        &mut client,
        "reuters-full",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    ingest_cluster(&mut client, "council", texts::COUNCIL_TITLE, texts::COUNCIL).await;
    ingest_cluster(
        &mut client,
        "follow-up",
        texts::GENEVA_TITLE,
        &texts::geneva_follow_up(),
    )
    .await;
    ingest_cluster(&mut client, "gone", "Gone", &texts::geneva_restyled()).await;
    client
        .delete_story(DeleteStoryRequest {
            name: "stories/gone".into(),
        })
        .await
        .expect("delete");
    let before = snapshot(&mut client, &ids).await;
    drop(client);
    server.stop().await;

    let server = TestServer::start_with_store(
        ServerConfig::default(),
        open(dir.path(), DurableOptions::default()),
    )
    .await;
    let mut client = server.dedup().await;
    let after = snapshot(&mut client, &ids).await;
    assert_eq!(after, before);
    assert!(before.contains("reuters-full"), "{before}");

    // A new version of an old story still joins its cluster, and the
    // re-sent original gets the same answer as before.
    let restyled = ingest_cluster(
        &mut client,
        "ap-restyled",
        texts::GENEVA_TITLE,
        &texts::geneva_restyled(),
    )
    .await;
    assert_eq!(restyled, geneva);
    let again = ingest_cluster(
        &mut client,
        "paper-trimmed",
        texts::GENEVA_TITLE,
        &texts::geneva_trimmed(),
    )
    .await;
    assert_eq!(again, geneva);
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn streamed_items_are_durable_when_answered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        commit_group: 16,
        ..ServerConfig::default()
    };
    let server =
        TestServer::start_with_store(config.clone(), open(dir.path(), DurableOptions::default()))
            .await;
    let mut client = server.dedup().await;
    let total = 120;
    let requests = (0..total).map(|i| IngestStoriesRequest {
        story: Some(story(
            &format!("s{i}"),
            &format!("Story {i}"),
            &format!("{} Item number {i} of the stream.", texts::COUNCIL),
        )),
    });
    let mut responses = client
        .ingest_stories(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut clusters = Vec::new();
    while let Some(response) = responses.message().await.expect("response") {
        match response.result {
            Some(ingest_stories_response::Result::Ingested(r)) => clusters.push(r.cluster),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(clusters.len(), total);
    drop(client);
    server.stop().await;

    let server =
        TestServer::start_with_store(config, open(dir.path(), DurableOptions::default())).await;
    let mut client = server.dedup().await;
    for (i, cluster) in clusters.iter().enumerate() {
        let stored = client
            .get_story(GetStoryRequest {
                name: format!("stories/s{i}"),
            })
            .await
            .expect("stored story")
            .into_inner();
        assert_eq!(&stored.cluster, cluster);
    }
    drop(client);
    server.stop().await;
}

#[test]
fn a_corrupt_store_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(DATABASE_FILE),
        b"this is not a redb file, it is a newsroom memo".repeat(200),
    )
    .expect("write garbage");
    let err = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect_err("garbage must not open");
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains(DATABASE_FILE), "{err}");
}

#[test]
fn a_store_another_process_holds_is_locked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = open(dir.path(), DurableOptions::default());
    let again = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    );
    let err = again.expect_err("the file is held");
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("another process"), "{err}");
}

#[test]
fn another_schema_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = redb::Database::create(dir.path().join(DATABASE_FILE)).expect("create");
        let txn = db.begin_write().expect("begin");
        {
            let mut meta = txn
                .open_table(redb::TableDefinition::<&str, &[u8]>::new("meta"))
                .expect("meta");
            meta.insert("schema_version", 999u32.to_le_bytes().as_slice())
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let err = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect_err("a future schema must be refused");
    assert!(
        matches!(err, OpenError::Schema { found: 999, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema version 999"), "{err}");
}

#[tokio::test]
async fn retention_evicts_old_stories_in_the_background() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        retention: Some(Duration::from_secs(72 * 3600)),
        eviction_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let store = open(
        dir.path(),
        DurableOptions {
            keep_evicted: true,
            ..DurableOptions::default()
        },
    );
    let server = TestServer::start_with_store(config, store).await;
    let mut client = server.dedup().await;
    let mut old = story("old", texts::COUNCIL_TITLE, texts::COUNCIL);
    old.published_at = Some(prost_types::Timestamp {
        seconds: 946_684_800, // 2000-01-01
        nanos: 0,
    });
    client
        .ingest_story(IngestStoryRequest { story: Some(old) })
        .await
        .expect("ingest old");
    let fresh = ingest_cluster(
        &mut client,
        "fresh",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;

    // Eviction rounds run every 100 ms.
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = client
            .list_clusters(ListClustersRequest {
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .expect("list")
            .into_inner()
            .clusters
            .into_iter()
            .map(|c| c.name)
            .collect();
        if listed.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed, vec![fresh]);
    // Kept readable, as configured.
    let kept = client
        .get_story(GetStoryRequest {
            name: "stories/old".into(),
        })
        .await
        .expect("evicted story stays readable")
        .into_inner();
    assert_eq!(kept.body, texts::COUNCIL);
    // Deleting it removes it for good.
    client
        .delete_story(DeleteStoryRequest {
            name: "stories/old".into(),
        })
        .await
        .expect("delete evicted");
    let gone = client
        .get_story(GetStoryRequest {
            name: "stories/old".into(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    drop(client);
    server.stop().await;
}

/// The moon landing, as an archive would send it: published before 1970.
fn moon_story() -> proto::Story {
    proto::Story {
        published_at: Some(prost_types::Timestamp {
            seconds: -14_182_980,
            nanos: 0,
        }),
        ..story("moon", "Apollo 11", "Armstrong walked on the Moon.")
    }
}

#[tokio::test]
async fn a_time_before_1970_is_refused_and_the_store_keeps_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_with_store(
        ServerConfig::default(),
        open(dir.path(), DurableOptions::default()),
    )
    .await;
    let mut client = server.dedup().await;
    let geneva = ingest_cluster(
        &mut client,
        "geneva",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;

    let status = client
        .ingest_story(IngestStoryRequest {
            story: Some(moon_story()),
        })
        .await
        .expect_err("a time the store cannot keep");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        common::violated_fields(&status),
        ["story.published_at"],
        "{status:?}"
    );

    // In a stream the bad item fails alone.
    let items = vec![
        IngestStoriesRequest {
            story: Some(moon_story()),
        },
        IngestStoriesRequest {
            story: Some(story("council", texts::COUNCIL_TITLE, texts::COUNCIL)),
        },
    ];
    let mut answers = client
        .ingest_stories(tokio_stream::iter(items))
        .await
        .expect("stream")
        .into_inner();
    let mut results = Vec::new();
    while let Some(answer) = answers.message().await.expect("answer") {
        results.push(answer.result);
    }
    assert!(
        matches!(&results[0], Some(ingest_stories_response::Result::Error(e)) if e.code == Code::InvalidArgument as i32),
        "{results:?}"
    );
    assert!(
        matches!(
            &results[1],
            Some(ingest_stories_response::Result::Ingested(_))
        ),
        "{results:?}"
    );

    // Reads and writes go on.
    let found = client
        .get_story(GetStoryRequest {
            name: "stories/geneva".into(),
        })
        .await
        .expect("an acknowledged story is still served")
        .into_inner();
    assert_eq!(found.cluster, geneva);
    ingest_cluster(
        &mut client,
        "restyled",
        texts::GENEVA_TITLE,
        &texts::geneva_restyled(),
    )
    .await;
    server.stop().await;
}
