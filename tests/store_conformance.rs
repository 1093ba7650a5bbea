//! What every `Store` backend must do, run against each: in memory, the
//! durable redb file, and PostgreSQL (a database of its own per test on
//! the server at 127.0.0.1:5432; skipped, saying so, where none answers,
//! unless `COPYDESK_REQUIRE_POSTGRES` is set).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use copydesk::dedup::{IndexConfig, IngestOutcome};
use copydesk::store::{
    DurableOptions, DurableStore, MemoryStore, PostgresOptions, PostgresStore, Store, StoreError,
};
use copydesk::story::{PreparedStory, Story};

use common::pg::TestDatabase;
use common::{chain, texts};

/// A backend under test, and what keeps it alive.
struct Backend {
    store: Arc<dyn Store>,
    /// Opens the same store again (after the first is dropped); `None`
    /// for the store in memory.
    reopen: Option<Reopen>,
}

enum Reopen {
    File(tempfile::TempDir),
    Database(TestDatabase),
}

impl Backend {
    async fn memory() -> Option<Backend> {
        Some(Backend {
            store: Arc::new(MemoryStore::new(IndexConfig::default())),
            reopen: None,
        })
    }

    async fn durable() -> Option<Backend> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_durable(dir.path());
        Some(Backend {
            store,
            reopen: Some(Reopen::File(dir)),
        })
    }

    async fn postgres() -> Option<Backend> {
        let db = TestDatabase::create("store conformance").await?;
        let store = open_postgres(&db.url).await;
        Some(Backend {
            store,
            reopen: Some(Reopen::Database(db)),
        })
    }

    /// The same store opened again, the first one closed.
    async fn reopened(self) -> Option<Backend> {
        let Backend { store, reopen } = self;
        drop(store);
        let store = match reopen.as_ref()? {
            Reopen::File(dir) => open_durable(dir.path()),
            Reopen::Database(db) => open_postgres(&db.url).await,
        };
        Some(Backend { store, reopen })
    }
}

fn open_durable(dir: &std::path::Path) -> Arc<dyn Store> {
    let (store, _) = DurableStore::open(dir, IndexConfig::default(), DurableOptions::default())
        .expect("open the durable store");
    Arc::new(store)
}

async fn open_postgres(url: &str) -> Arc<dyn Store> {
    let (store, _) = PostgresStore::open(url, IndexConfig::default(), PostgresOptions::default())
        .await
        .expect("open the PostgreSQL store");
    Arc::new(store)
}

fn prepared(id: &str, title: &str, body: &str) -> PreparedStory {
    PreparedStory::new(Story {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        ..Story::default()
    })
}

fn published(id: &str, title: &str, body: &str, at: SystemTime) -> PreparedStory {
    PreparedStory::new(Story {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        published_at: Some(at),
        ..Story::default()
    })
}

fn now() -> SystemTime {
    SystemTime::now()
}

/// Runs each scenario against each backend: `memory::name`,
/// `durable::name`, `postgres::name`.
macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(backend) = super::Backend::memory().await {
                    super::$scenario(backend).await;
                }
            })*
        }
        mod durable {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(backend) = super::Backend::durable().await {
                    super::$scenario(backend).await;
                }
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(backend) = super::Backend::postgres().await {
                    super::$scenario(backend).await;
                }
            })*
        }
    };
}

conformance!(
    versions_fold_and_a_follow_up_is_related,
    a_write_through_chain_is_one_cluster,
    a_new_text_is_a_new_version_and_a_resend_changes_nothing,
    a_deleted_story_leaves_its_cluster,
    find_duplicates_stores_nothing,
    clusters_page_newest_first,
    retention_evicts_old_stories_only,
    a_batch_is_stored_in_order,
    a_reopened_store_serves_what_it_had,
);

async fn versions_fold_and_a_follow_up_is_related(backend: Backend) {
    let store = backend.store;
    let monday = SystemTime::UNIX_EPOCH + Duration::from_secs(1_642_377_600);
    let full = store
        .ingest(
            published("g1", texts::GENEVA_TITLE, &texts::geneva_full(), monday),
            now(),
        )
        .await
        .expect("ingest g1");
    let trimmed = store
        .ingest(
            published("g2", texts::GENEVA_TITLE, &texts::geneva_trimmed(), monday),
            now(),
        )
        .await
        .expect("ingest g2");
    let restyled = store
        .ingest(
            published("g3", texts::GENEVA_TITLE, &texts::geneva_restyled(), monday),
            now(),
        )
        .await
        .expect("ingest g3");
    assert_eq!(trimmed.cluster, full.cluster, "a trimmed version folds");
    assert_eq!(restyled.cluster, full.cluster, "a restyled version folds");
    assert!(trimmed.duplicate_of.is_some());
    let follow_up = store
        .ingest(
            published(
                "g4",
                "NATO rejects Russian demands, offers arms talks",
                &texts::geneva_follow_up(),
                monday + Duration::from_secs(50 * 3600),
            ),
            now(),
        )
        .await
        .expect("ingest g4");
    assert_ne!(
        follow_up.cluster, full.cluster,
        "a follow-up is another report"
    );
    let council = store
        .ingest(prepared("c1", texts::COUNCIL_TITLE, texts::COUNCIL), now())
        .await
        .expect("ingest c1");
    assert!(council.related.is_empty() && council.duplicate_of.is_none());
    let cluster = store.get_cluster(full.cluster).await.expect("cluster");
    let members: Vec<&str> = cluster
        .view
        .members
        .iter()
        .map(|m| m.meta.id.as_str())
        .collect();
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(cluster.view.related.contains(&follow_up.cluster));
    assert_eq!(cluster.timeline.len(), 3);
}

async fn a_write_through_chain_is_one_cluster(backend: Backend) {
    let store = backend.store;
    let mut clusters = Vec::new();
    for (i, text) in chain::chain().iter().enumerate() {
        let report = store
            .ingest(prepared(&format!("v{i}"), "Geneva talks", text), now())
            .await
            .expect("ingest a version");
        clusters.push(report.cluster);
    }
    assert!(clusters.iter().all(|&c| c == clusters[0]), "{clusters:?}");
    let cluster = store.get_cluster(clusters[0]).await.expect("cluster");
    assert_eq!(cluster.view.members.len(), 5);
}

async fn a_new_text_is_a_new_version_and_a_resend_changes_nothing(backend: Backend) {
    let store = backend.store;
    let first = store
        .ingest(
            prepared("g1", texts::GENEVA_TITLE, &texts::geneva_full()),
            now(),
        )
        .await
        .expect("ingest");
    assert_eq!(first.outcome, IngestOutcome::Created);
    let again = store
        .ingest(
            prepared("g1", texts::GENEVA_TITLE, &texts::geneva_full()),
            now(),
        )
        .await
        .expect("re-send");
    assert_eq!(again.outcome, IngestOutcome::Unchanged);
    assert_eq!(again.cluster, first.cluster);
    let corrected = format!("{}\n\n{}", texts::geneva_full(), common::desk::ADDED);
    let second = store
        .ingest(prepared("g1", texts::GENEVA_TITLE, &corrected), now())
        .await
        .expect("new version");
    assert_eq!(second.outcome, IngestOutcome::Replaced);
    assert_eq!(
        second.cluster, first.cluster,
        "a correction keeps its cluster"
    );
    assert!(
        second.changes.is_some(),
        "a new version says what it changes"
    );
    let versions = store.story_versions("g1").await.expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].number, 1);
    assert_eq!(versions[1].number, 2);
    let stored = store.get_story("g1").await.expect("story");
    assert_eq!(stored.story.body, corrected);
}

async fn a_deleted_story_leaves_its_cluster(backend: Backend) {
    let store = backend.store;
    let full = store
        .ingest(
            prepared("g1", texts::GENEVA_TITLE, &texts::geneva_full()),
            now(),
        )
        .await
        .expect("ingest");
    store
        .ingest(
            prepared("g2", texts::GENEVA_TITLE, &texts::geneva_trimmed()),
            now(),
        )
        .await
        .expect("ingest");
    store.delete_story("g2", now()).await.expect("delete");
    assert!(matches!(
        store.get_story("g2").await,
        Err(StoreError::StoryNotFound(_))
    ));
    assert!(matches!(
        store.delete_story("g2", now()).await,
        Err(StoreError::StoryNotFound(_))
    ));
    let cluster = store.get_cluster(full.cluster).await.expect("cluster");
    assert_eq!(cluster.view.members.len(), 1);
    store
        .delete_story("g1", now())
        .await
        .expect("delete the last");
    assert!(matches!(
        store.get_cluster(full.cluster).await,
        Err(StoreError::ClusterNotFound(_))
    ));
}

async fn find_duplicates_stores_nothing(backend: Backend) {
    let store = backend.store;
    let full = store
        .ingest(
            prepared("g1", texts::GENEVA_TITLE, &texts::geneva_full()),
            now(),
        )
        .await
        .expect("ingest");
    let placement = store
        .find_duplicates(prepared("", texts::GENEVA_TITLE, &texts::geneva_trimmed()))
        .await
        .expect("find");
    assert_eq!(placement.cluster, Some(full.cluster));
    let page = store.list_clusters(None, 10).await.expect("list");
    assert_eq!(page.clusters.len(), 1);
    assert_eq!(page.clusters[0].view.members.len(), 1);
}

async fn clusters_page_newest_first(backend: Backend) {
    let store = backend.store;
    let mut ids = Vec::new();
    for topic in 0..3 {
        let report = store
            .ingest(
                prepared(
                    &format!("t{topic}"),
                    "Report",
                    &chain::text(topic, &[0, 1, 2, 3]),
                ),
                now(),
            )
            .await
            .expect("ingest");
        ids.push(report.cluster);
    }
    ids.push(
        store
            .ingest(prepared("c1", texts::COUNCIL_TITLE, texts::COUNCIL), now())
            .await
            .expect("ingest")
            .cluster,
    );
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.list_clusters(before, 3).await.expect("list");
        seen.extend(page.clusters.iter().map(|c| c.view.id));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, ids, "every cluster once, newest first");
}

async fn retention_evicts_old_stories_only(backend: Backend) {
    let store = backend.store;
    let old = SystemTime::now() - Duration::from_secs(30 * 86_400);
    store
        .ingest(
            published("old1", "Report", &chain::text(1, &[0, 1, 2, 3]), old),
            now(),
        )
        .await
        .expect("ingest");
    store
        .ingest(
            published("old2", "Report", &chain::text(2, &[0, 1, 2, 3]), old),
            now(),
        )
        .await
        .expect("ingest");
    store
        .ingest(prepared("new", texts::COUNCIL_TITLE, texts::COUNCIL), now())
        .await
        .expect("ingest");
    let cutoff = SystemTime::now() - Duration::from_secs(86_400);
    let evicted = store.evict_before(cutoff, now(), 100).await.expect("evict");
    assert_eq!(evicted, 2);
    assert_eq!(
        store.evict_before(cutoff, now(), 100).await.expect("again"),
        0
    );
    assert!(store.get_story("new").await.is_ok());
    assert!(matches!(
        store.get_story("old1").await,
        Err(StoreError::StoryNotFound(_))
    ));
    // An evicted story matches nothing any more.
    let placement = store
        .find_duplicates(prepared("", "Report", &chain::text(1, &[0, 1, 2, 3])))
        .await
        .expect("find");
    assert_eq!(placement.cluster, None);
}

async fn a_batch_is_stored_in_order(backend: Backend) {
    let store = backend.store;
    let batch: Vec<PreparedStory> = chain::chain()
        .iter()
        .enumerate()
        .map(|(i, text)| prepared(&format!("v{i}"), "Geneva talks", text))
        .collect();
    let reports = store.ingest_batch(batch, now()).await.expect("batch");
    let ids: Vec<&str> = reports.iter().map(|r| r.story_id.as_str()).collect();
    assert_eq!(ids, ["v0", "v1", "v2", "v3", "v4"]);
    assert!(reports.iter().all(|r| r.cluster == reports[0].cluster));
    assert_eq!(reports[4].cluster_size, 5);
}

async fn a_reopened_store_serves_what_it_had(backend: Backend) {
    if backend.reopen.is_none() {
        return; // in memory: nothing outlives the process
    }
    let first = backend
        .store
        .ingest(
            prepared("g1", texts::GENEVA_TITLE, &texts::geneva_full()),
            now(),
        )
        .await
        .expect("ingest");
    backend
        .store
        .ingest(prepared("c1", texts::COUNCIL_TITLE, texts::COUNCIL), now())
        .await
        .expect("ingest");
    let backend = backend.reopened().await.expect("reopen");
    let store = backend.store;
    let cluster = store.get_cluster(first.cluster).await.expect("cluster");
    assert_eq!(cluster.view.canonical, "g1");
    let trimmed = store
        .ingest(
            prepared("g2", texts::GENEVA_TITLE, &texts::geneva_trimmed()),
            now(),
        )
        .await
        .expect("ingest after reopening");
    assert_eq!(
        trimmed.cluster, first.cluster,
        "matched against what was stored"
    );
    let page = store.list_clusters(None, 10).await.expect("list");
    assert_eq!(page.clusters.len(), 2, "no cluster number given twice");
}
