//! Concurrent IngestStory calls share commits, as stream items do: a
//! store whose commits are slow sees the calls that arrived meanwhile in
//! one batch, and every call gets its own story's answer only after the
//! commit that holds it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use common::{TestServer, story};
use copydesk::dedup::{ClusterId, IndexConfig, IngestReport, Placement};
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::IngestStoryRequest;
use copydesk::store::{ClusterDetail, ClusterPage, MemoryStore, Store, StoreError, VersionRecord};
use copydesk::story::{PreparedStory, StoredStory};

/// A memory store whose every commit takes [`COMMIT_TIME`], recording the
/// size of each batch it commits.
#[derive(Debug)]
struct SlowCommits {
    inner: MemoryStore,
    batches: Mutex<Vec<usize>>,
}

const COMMIT_TIME: Duration = Duration::from_millis(150);

#[async_trait]
impl Store for SlowCommits {
    async fn ingest(
        &self,
        story: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        let mut reports = self.ingest_batch(vec![story], now).await?;
        Ok(reports.remove(0))
    }

    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        self.batches.lock().expect("batches").push(batch.len());
        tokio::time::sleep(COMMIT_TIME).await;
        self.inner.ingest_batch(batch, now).await
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.inner.evict_before(cutoff, now, limit).await
    }

    async fn find_duplicates(&self, story: PreparedStory) -> Result<Placement, StoreError> {
        self.inner.find_duplicates(story).await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        self.inner.get_story(id).await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        self.inner.delete_story(id, now).await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.inner.get_cluster(id).await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        self.inner.story_versions(id).await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.inner.list_clusters(before, limit).await
    }
}

/// A story of its own: numbers keep its shingles apart from the others.
fn own_story(n: usize) -> String {
    (0..12)
        .map(|i| {
            format!(
                "Item {i} of report {n} names figure {} and place {}.",
                n * 97 + i,
                i * 13 + n
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn concurrent_ingest_story_calls_share_commits() {
    let store = Arc::new(SlowCommits {
        inner: MemoryStore::new(IndexConfig::default()),
        batches: Mutex::new(Vec::new()),
    });
    let server = TestServer::start_with_store(ServerConfig::default(), store.clone()).await;
    let calls = 24;
    let mut handles = Vec::new();
    for n in 0..calls {
        let mut client = server.dedup().await;
        handles.push(tokio::spawn(async move {
            let id = format!("report-{n}");
            let answer = client
                .ingest_story(IngestStoryRequest {
                    story: Some(story(&id, "", &own_story(n))),
                })
                .await
                .expect("ingest")
                .into_inner();
            (id, answer)
        }));
    }
    let mut clusters = std::collections::BTreeSet::new();
    for handle in handles {
        let (id, answer) = handle.await.expect("call");
        assert_eq!(
            answer.story,
            format!("stories/{id}"),
            "each call gets its own answer"
        );
        clusters.insert(answer.cluster);
    }
    assert_eq!(clusters.len(), calls, "distinct reports, distinct clusters");
    let batches = store.batches.lock().expect("batches").clone();
    assert_eq!(batches.iter().sum::<usize>(), calls, "{batches:?}");
    // The calls that arrived during a slow commit went in the next one
    // together: far fewer commits than calls.
    assert!(batches.len() <= calls / 3, "{batches:?}");
    assert!(batches.iter().any(|&size| size > 1), "{batches:?}");
    server.stop().await;
}
