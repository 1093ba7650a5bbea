use std::time::Duration;

use super::rebuild::{Records, read_all};
use super::*;
use crate::dedup::IngestOutcome;

const FULL: &str = "Russia and the United States ended security talks in Geneva on Monday without a breakthrough, officials said. \
    Moscow has massed troops near Ukraine and demands that NATO rule out further expansion to the east. \
    Washington and its allies have called the demands non-starters and threatened sanctions if Russia attacks. \
    The Geneva meeting was the first of three rounds of talks this week, with NATO and OSCE meetings to follow.";

fn story(id: &str, body: &str, hour: u64) -> PreparedStory {
    PreparedStory::new(Story {
        id: id.into(),
        body: body.into(),
        published_at: Some(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + hour * 3600),
        ),
        ..Story::default()
    })
}

/// Rewrites every story record of the file in `dir` in the version 2
/// layout and marks the file version 2, as an older copydesk left it.
fn downgrade_to_v2(dir: &Path) {
    let db = Database::create(dir.join(DATABASE_FILE)).expect("open");
    let Records {
        stories: records,
        clusters,
        counters,
        ..
    } = read_all(&db).expect("read");
    let txn = db.begin_write().expect("begin");
    // Versions before 5 kept no history.
    txn.delete_table(VERSIONS).expect("drop versions");
    {
        // Versions 2 and 3 kept values without checksums.
        let mut table = txn.open_table(CLUSTERS).expect("clusters");
        for cluster in clusters {
            table
                .insert(
                    cluster.id,
                    encode_plain(&cluster.to_row()).expect("encode").as_slice(),
                )
                .expect("insert");
        }
        let mut meta = txn.open_table(META).expect("meta");
        if let Some(counters) = counters {
            meta.insert(
                COUNTERS_KEY,
                encode_plain(&counters.to_row()).expect("encode").as_slice(),
            )
            .expect("counters");
        }
    }
    {
        let mut stories = txn.open_table(STORIES).expect("stories");
        for record in records {
            let old = v2::StoryRecord {
                placement: v2::PlacementRecord {
                    sequence: record.placement.sequence,
                    cluster: record.placement.cluster,
                    duplicate_of: record.placement.duplicate_of.map(|(id, e)| {
                        let figures = v2::Figures {
                            jaccard: e.jaccard,
                            containment: e.containment,
                            lede_overlap: e.lede_overlap,
                            title_similarity: e.title_similarity,
                            word_overlap: e.word_overlap,
                        };
                        (id, figures)
                    }),
                },
                ingested_at: record.ingested_at,
                evicted: record.evicted,
                story: record.story.to_row(),
            };
            let key = record.story.id.clone();
            stories
                .insert(key.as_str(), encode_plain(&old).expect("encode").as_slice())
                .expect("insert");
        }
        let mut meta = txn.open_table(META).expect("meta");
        meta.insert(SCHEMA_KEY, v2::VERSION.to_le_bytes().as_slice())
            .expect("schema");
    }
    txn.commit().expect("commit");
}

/// A new store in a temporary directory (kept while the first lives).
fn temp_store() -> (tempfile::TempDir, DurableStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("open");
    (dir, store)
}

#[tokio::test]
async fn a_story_sent_again_unchanged_writes_nothing() {
    let (_dir, store) = temp_store();
    let first = store
        .ingest(story("full", FULL, 0), SystemTime::now())
        .await
        .expect("ingest");
    let commits = store.commits();
    assert_eq!(commits, 1);
    let again = store
        .ingest(story("full", FULL, 0), SystemTime::now())
        .await
        .expect("re-send");
    assert_eq!(again.outcome, IngestOutcome::Unchanged);
    assert_eq!(again.cluster, first.cluster);
    assert_eq!(store.commits(), commits, "nothing changed, nothing written");
    // A new version is written as before.
    store
        .ingest(story("full", &FULL[..200], 0), SystemTime::now())
        .await
        .expect("new text");
    assert_eq!(store.commits(), commits + 1);
}

#[tokio::test]
async fn after_a_restart_a_page_of_photos_still_finds_its_story_by_headline() {
    let headline = "Russia and the United States end Geneva talks without a breakthrough";
    let titled = |id: &str, body: &str| {
        PreparedStory::new(Story {
            id: id.into(),
            title: headline.into(),
            body: body.into(),
            ..Story::default()
        })
    };
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
    let talks = store
        .ingest(titled("talks", FULL), SystemTime::now())
        .await
        .expect("ingest");
    drop(store);
    let store = open();
    let photos = "Credit: The Associated Press\n\nDelegates leave the talks in Geneva, Switzerland, Monday, Jan. 10, 2022. (AP Photo/Jane Doe)";
    let page = store
        .ingest(titled("photos", photos), SystemTime::now())
        .await
        .expect("ingest");
    assert_eq!(page.cluster, talks.cluster, "{:?}", page.matches);
}

#[tokio::test]
async fn a_failed_commit_rolls_the_index_back_and_the_store_keeps_serving() {
    let (dir, store) = temp_store();
    store
        .ingest(story("full", FULL, 0), SystemTime::now())
        .await
        .expect("ingest");
    // A time the record layout cannot hold (the gRPC edge refuses it;
    // a library caller can still send it): this commit fails.
    let before_1970 = PreparedStory::new(Story {
        id: "moon".into(),
        body: "Armstrong walked on the Moon.".into(),
        published_at: SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(86_400)),
        ..Story::default()
    });
    store
        .ingest(before_1970, SystemTime::now())
        .await
        .expect_err("the record cannot be written");

    // What the file holds is served; what failed is not there.
    assert_eq!(
        store
            .get_story("full")
            .await
            .expect("still served")
            .story
            .body,
        FULL
    );
    assert!(matches!(
        store.get_story("moon").await,
        Err(StoreError::StoryNotFound(_))
    ));
    let trimmed = &FULL[..FULL.find(" Washington").expect("sentence")];
    let report = store
        .ingest(story("trimmed", trimmed, 1), SystemTime::now())
        .await
        .expect("writes go on");
    assert_eq!(
        report.duplicate_of.map(|(id, _)| id).as_deref(),
        Some("full")
    );
    drop(store);
    let (_, reopened) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("reopen");
    assert_eq!(reopened.stories, 2);
}

/// A commit fails and the file cannot be reopened (here: something
/// else stands at its path): the store refuses work, says so in its
/// write state (health reports NOT_SERVING), and heals by itself once
/// the file is back, on the next check, with nothing lost.
#[tokio::test]
async fn a_store_that_cannot_reopen_refuses_until_it_heals() {
    let (dir, store) = temp_store();
    store
        .ingest(story("full", FULL, 0), SystemTime::now())
        .await
        .expect("ingest");
    let file = dir.path().join(DATABASE_FILE);
    let aside = dir.path().join("aside.redb");
    std::fs::rename(&file, &aside).expect("move the file aside");
    let before_1970 = PreparedStory::new(Story {
        id: "moon".into(),
        body: "Armstrong walked on the Moon.".into(),
        published_at: SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(86_400)),
        ..Story::default()
    });
    let failed = store
        .ingest(before_1970, SystemTime::now())
        .await
        .expect_err("the record cannot be written");
    assert!(matches!(failed, StoreError::Engine { .. }), "{failed:?}");
    assert_eq!(
        *store.write_state().borrow(),
        WriteState::Refusing(HEALING.into())
    );
    // Gone: no empty store is made in its place.
    let refused = store.get_story("full").await.expect_err("refused");
    assert!(
        matches!(refused, StoreError::Refusing { .. }),
        "{refused:?}"
    );
    assert!(chain(&refused).contains("is gone"), "{refused}");
    assert!(!file.exists());
    // Something else in its place is no store either.
    std::fs::write(&file, b"not a store").expect("write a stranger");
    let refused = store.get_story("full").await.expect_err("refused");
    assert!(
        chain(&refused).contains("not a copydesk store"),
        "{refused}"
    );
    assert_eq!(
        store.recheck_writes().await,
        WriteState::Refusing(HEALING.into())
    );

    std::fs::rename(&aside, &file).expect("put the file back");
    assert_eq!(store.recheck_writes().await, WriteState::Accepting);
    assert_eq!(
        store.get_story("full").await.expect("healed").story.body,
        FULL
    );
}

/// A story and its versions are read from committed state in a read
/// transaction of their own: not behind the lock an ingest holds
/// through its commit's fsync.
#[tokio::test]
#[allow(clippy::await_holding_lock)] // Holding it is the test.
async fn reading_a_story_does_not_wait_for_a_commit() {
    let (_dir, store) = temp_store();
    store
        .ingest(story("full", FULL, 0), SystemTime::now())
        .await
        .expect("ingest");
    let held = lock(&store.state);
    let limit = Duration::from_secs(30);
    let read = tokio::time::timeout(limit, store.get_story("full"))
        .await
        .expect("not behind the store's lock")
        .expect("read");
    assert_eq!(read.story.body, FULL);
    let versions = tokio::time::timeout(limit, store.story_versions("full"))
        .await
        .expect("not behind the store's lock")
        .expect("versions");
    assert_eq!(versions.len(), 1);
    drop(held);
}

#[test]
fn a_version_2_file_is_upgraded_in_place_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trimmed = &FULL[..FULL.find(" Washington").expect("sentence")];
    {
        let (store, _) = DurableStore::open(
            dir.path(),
            IndexConfig::default(),
            DurableOptions::default(),
        )
        .expect("open");
        let reports = store
            .ingest_blocking(
                vec![story("full", FULL, 0), story("trimmed", trimmed, 3)],
                SystemTime::now(),
            )
            .expect("ingest");
        assert_eq!(reports[1].cluster, reports[0].cluster, "{reports:?}");
    }
    let before = {
        let db = Database::create(dir.path().join(DATABASE_FILE)).expect("open");
        read_all(&db).expect("read").stories
    };
    downgrade_to_v2(dir.path());

    let (store, report) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("a version 2 file opens");
    assert_eq!((report.stories, report.clusters), (2, 1));
    drop(store);
    let db = Database::create(dir.path().join(DATABASE_FILE)).expect("open");
    let after = read_all(&db).expect("read").stories;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.story, new.story);
        assert_eq!(old.placement.cluster, new.placement.cluster);
        assert_eq!(old.placement.sequence, new.placement.sequence);
    }
    let (source, evidence) = after[1].placement.duplicate_of.clone().expect("folded");
    assert_eq!(source, "full");
    assert_eq!(evidence.hours_apart, Some(3.0));
    assert_eq!(
        Some((source, evidence)),
        before[1].placement.duplicate_of.clone(),
        "the figures survive the round trip"
    );
    // And the file is current now: opening again does no upgrade.
    check_schema(&db, dir.path()).expect("current version");
    drop(db);

    // A story stored before versions were kept has one, from its
    // record; a correction makes it two, the first text kept.
    let (store, _) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("open");
    let only = versions_of(&store, "full");
    let state = lock(&store.state);
    assert_eq!(only.len(), 1);
    assert_eq!(
        (only[0].number, only[0].cluster),
        (1, reports_cluster(&state))
    );
    drop(state);
    let corrected = FULL.replace("Monday", "Tuesday");
    store
        .ingest_blocking(vec![story("full", &corrected, 4)], SystemTime::now())
        .expect("correct");
    let history = versions_of(&store, "full");
    let numbers: Vec<u32> = history.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(history[0].superseded_body.as_deref(), Some(FULL));
    assert!(history[1].changes.is_some());
}

fn versions_of(store: &DurableStore, id: &str) -> Vec<VersionRecord> {
    let db = store.shared.get().expect("open");
    engine::story_versions(&FileRecords::new(&db, false), id).expect("versions")
}

fn reports_cluster(state: &State) -> ClusterId {
    state.index.story_cluster("full").expect("indexed")
}
