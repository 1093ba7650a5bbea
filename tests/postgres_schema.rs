//! The PostgreSQL store's schema version: a database made by the version
//! before this one is upgraded in place at startup, and keeps serving what
//! it holds; one written by a version copydesk does not know is refused.
//! (A database of its own per test on the server at 127.0.0.1:5432;
//! skipped, saying so, where none answers, unless
//! `COPYDESK_REQUIRE_POSTGRES` is set.)

mod common;

use std::time::{Duration, SystemTime};

use copydesk::dedup::IndexConfig;
use copydesk::store::{OpenError, PG_SCHEMA_VERSION, PostgresOptions, PostgresStore, Store};
use copydesk::story::{PreparedStory, Story};

use common::pg::TestDatabase;
use common::texts;

fn published(id: &str, body: &str) -> PreparedStory {
    PreparedStory::new(Story {
        id: id.into(),
        title: texts::GENEVA_TITLE.into(),
        body: body.into(),
        published_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_642_377_600)),
        ..Story::default()
    })
}

async fn open(url: &str) -> Result<PostgresStore, OpenError> {
    PostgresStore::open(url, IndexConfig::default(), PostgresOptions::default())
        .await
        .map(|(store, _)| store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_and_keeps_serving() {
    let Some(db) = TestDatabase::create("schema upgrade").await else {
        return;
    };
    let store = open(&db.url).await.expect("open a new database");
    let first = store
        .ingest(published("g1", &texts::geneva_full()), SystemTime::now())
        .await
        .expect("ingest g1");
    drop(store);

    // What version 1 had: no append function, and its version number.
    let sql = db.client().await;
    sql.batch_execute(
        "DROP FUNCTION copydesk_append_change(bigint, text[], bigint[], boolean); \
         UPDATE copydesk_meta SET value = 1 WHERE key = 'schema_version'",
    )
    .await
    .expect("turn the database back into version 1");

    let store = open(&db.url).await.expect("open a version 1 database");
    let version: i64 = sql
        .query_one(
            "SELECT value FROM copydesk_meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .expect("read the version")
        .get(0);
    assert_eq!(version, PG_SCHEMA_VERSION, "the version is recorded");
    store.get_story("g1").await.expect("g1 is still served");
    // An ingest appends to the change log through the new function.
    let trimmed = store
        .ingest(published("g2", &texts::geneva_trimmed()), SystemTime::now())
        .await
        .expect("ingest g2 after the upgrade");
    assert_eq!(trimmed.cluster, first.cluster, "g2 folds into g1's cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_version_is_refused_naming_both() {
    let Some(db) = TestDatabase::create("schema refusal").await else {
        return;
    };
    drop(open(&db.url).await.expect("open a new database"));
    db.client()
        .await
        .batch_execute("UPDATE copydesk_meta SET value = 99 WHERE key = 'schema_version'")
        .await
        .expect("set a version from the future");
    match open(&db.url).await {
        Err(OpenError::Schema { found, expected }) => {
            assert_eq!(found, 99);
            assert_eq!(i64::from(expected), PG_SCHEMA_VERSION);
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a database of version 99 was opened"),
    }
}

/// The change log's append is what catches two replicas that put stories
/// into one cluster through different keys: a unit that read the log up
/// to `after` is refused, with the SQLSTATE the store retries on, when a
/// later row wrote any of its stories or clusters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_refuses_a_unit_that_missed_a_write_to_its_clusters() {
    let Some(db) = TestDatabase::create("change log conflict").await else {
        return;
    };
    drop(open(&db.url).await.expect("open a new database"));
    let sql = db.client().await;
    let append = |after: i64, story: &'static str, cluster: i64| {
        let sql = &sql;
        async move {
            sql.query_one(
                "SELECT copydesk_append_change($1, $2, $3, false)",
                &[&after, &vec![story], &vec![cluster]],
            )
            .await
        }
    };
    let first: i64 = append(0, "a", 7).await.expect("first unit").get(0);
    let refused = append(0, "b", 7)
        .await
        .expect_err("a unit that did not see the first one's cluster");
    assert_eq!(refused.code().map(|c| c.code()), Some("CDK01"));
    let refused = append(0, "a", 8).await.expect_err("nor its story");
    assert_eq!(refused.code().map(|c| c.code()), Some("CDK01"));
    append(0, "c", 9)
        .await
        .expect("a unit touching nothing the first one wrote");
    append(first, "b", 7)
        .await
        .expect("a unit that had read the first one");
}
