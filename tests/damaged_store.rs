//! A damaged store file: a flipped bit in a stored story is found by its
//! checksum and answered DATA_LOSS while the rest of the store serves; an
//! empty or foreign file is refused, never started over; no damaged copy
//! of a real store makes opening it panic; `copydesk store check` names
//! the damage and sets it aside.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{TestServer, texts};
use copydesk::dedup::IndexConfig;
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::{GetClusterRequest, GetStoryRequest, ListStoryVersionsRequest};
use copydesk::store::{DATABASE_FILE, DurableOptions, DurableStore, OpenError, StoreError};
use tonic::Code;

/// A phrase only the damaged story holds, to find its bytes in the file.
const MARKER: &str = "The quartermaster counted forty-one crates of signal flares.";

fn open(dir: &Path) -> Result<DurableStore, OpenError> {
    DurableStore::open(dir, IndexConfig::default(), DurableOptions::default()).map(|(s, _)| s)
}

/// A store with the Geneva story, the council story and a story holding
/// [`MARKER`], written through the real server and closed.
async fn write_store(dir: &Path) {
    let store = Arc::new(open(dir).expect("open"));
    let server = TestServer::start_with_store(ServerConfig::default(), store).await;
    let mut client = server.dedup().await;
    common::ingest(
        &mut client,
        "geneva",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;
    common::ingest(&mut client, "council", texts::COUNCIL_TITLE, texts::COUNCIL).await;
    let depot = format!("{MARKER} The depot in the harbour district was sealed on Friday.");
    common::ingest(&mut client, "depot", "Harbour depot sealed", &depot).await;
    drop(client);
    server.stop().await;
}

/// Flips one bit in the middle of the first copy of [`MARKER`] in the file.
fn flip_a_bit_in_the_marker(file: &Path) {
    let mut bytes = std::fs::read(file).expect("read the store");
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER.as_bytes())
        .expect("the story's text is in the file");
    bytes[at + MARKER.len() / 2] ^= 0x04;
    std::fs::write(file, bytes).expect("write the store");
}

#[tokio::test]
async fn a_flipped_bit_is_data_loss_for_that_story_and_the_rest_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_store(dir.path()).await;
    flip_a_bit_in_the_marker(&dir.path().join(DATABASE_FILE));

    let (store, report) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("a store with one damaged record still opens");
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert!(report.damaged[0].contains("depot"), "{:?}", report.damaged);
    let server = TestServer::start_with_store(ServerConfig::default(), Arc::new(store)).await;
    let mut client = server.dedup().await;
    let damaged = client
        .get_story(GetStoryRequest {
            name: "stories/depot".into(),
        })
        .await
        .expect_err("a damaged story is never served as good");
    assert_eq!(damaged.code(), Code::DataLoss, "{damaged:?}");
    assert!(damaged.message().contains("depot"), "{damaged:?}");
    for id in ["geneva", "council"] {
        client
            .get_story(GetStoryRequest {
                name: format!("stories/{id}"),
            })
            .await
            .unwrap_or_else(|s| panic!("{id} is whole and served: {s:?}"));
    }
    // Writes go on, and the damaged story can be sent again.
    common::ingest(&mut client, "depot", "Harbour depot sealed", MARKER).await;
    drop(client);
    server.stop().await;
}

#[test]
fn an_empty_or_foreign_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(DATABASE_FILE);
    std::fs::write(&file, b"").expect("write");
    let err = open(dir.path()).expect_err("an empty file is no store");
    assert!(err.to_string().contains("empty (0 bytes)"), "{err}");
    assert_eq!(std::fs::metadata(&file).expect("still there").len(), 0);

    std::fs::write(&file, b"SQLite format 3\0 a newsroom's other database").expect("write");
    let err = open(dir.path()).expect_err("a foreign file is no store");
    assert!(err.to_string().contains("not a copydesk store"), "{err}");
    assert!(
        std::fs::read(&file)
            .expect("read")
            .starts_with(b"SQLite format 3")
    );
}

/// Deterministic positions over the file (an LCG), for damaged copies.
fn positions(len: usize, count: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % len
        })
        .collect()
}

#[tokio::test]
async fn no_damaged_copy_of_a_real_store_makes_opening_it_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_store(dir.path()).await;
    let original = std::fs::read(dir.path().join(DATABASE_FILE)).expect("read");
    let copy_dir = tempfile::tempdir().expect("temp dir");
    let copy = copy_dir.path().join(DATABASE_FILE);
    let mut opened = 0;
    let mut refused = 0;
    let mut damage: Vec<Vec<u8>> = Vec::new();
    // Bytes flipped one at a time all over the file, the last pages most
    // (where redb keeps its newest tree pages)...
    for at in positions(original.len(), 150).into_iter().chain(
        positions(4096, 50)
            .into_iter()
            .map(|p| original.len() - 1 - p),
    ) {
        let mut bytes = original.clone();
        bytes[at] ^= 0xFF;
        damage.push(bytes);
    }
    // ...and the file cut short.
    for keep in [9, 100, 4096, original.len() / 2, original.len() - 1] {
        damage.push(original[..keep].to_vec());
    }
    for bytes in damage {
        std::fs::write(&copy, &bytes).expect("write the copy");
        // Any answer but a panic: a store that opens serves what it can.
        match open(copy_dir.path()) {
            Ok(store) => {
                opened += 1;
                let store: Arc<dyn copydesk::store::Store> = Arc::new(store);
                for id in ["geneva", "council", "depot"] {
                    let _ = store.get_story(id).await;
                }
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!("damaged copies: {opened} opened, {refused} refused");
    assert!(
        opened + refused == 205,
        "{opened} opened, {refused} refused"
    );
}

fn copydesk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_copydesk"))
}

#[tokio::test]
async fn store_check_names_the_damage_and_sets_it_aside() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_store(dir.path()).await;
    let check = |extra: &[&str]| {
        copydesk()
            .args(["store", "check", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .output()
            .expect("run copydesk store check")
    };
    let whole = check(&[]);
    assert!(whole.status.success(), "{whole:?}");
    assert!(String::from_utf8_lossy(&whole.stdout).contains("all whole"));

    flip_a_bit_in_the_marker(&dir.path().join(DATABASE_FILE));
    let found = check(&[]);
    assert_eq!(found.status.code(), Some(3), "{found:?}");
    let out = String::from_utf8_lossy(&found.stdout);
    assert!(
        out.contains("damaged stories/depot: fails its checksum"),
        "{out}"
    );

    let aside = check(&["--set-aside"]);
    assert!(aside.status.success(), "{aside:?}");
    let again = check(&[]);
    assert!(again.status.success(), "{again:?}");

    // The store opens with nothing damaged; the rest is there.
    let (store, report) = DurableStore::open(
        dir.path(),
        IndexConfig::default(),
        DurableOptions::default(),
    )
    .expect("open");
    assert!(report.damaged.is_empty(), "{:?}", report.damaged);
    let store: Arc<dyn copydesk::store::Store> = Arc::new(store);
    assert!(store.get_story("geneva").await.is_ok());
    assert!(matches!(
        store.get_story("depot").await,
        Err(StoreError::StoryNotFound(_))
    ));
}

/// A phrase only the first version of a corrected story holds.
const FIRST_VERSION_MARKER: &str =
    "The ferry timetable listed nineteen sailings to the outer islands.";

#[tokio::test]
async fn a_damaged_earlier_version_is_data_loss_for_that_history_and_is_set_aside() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = Arc::new(open(dir.path()).expect("open"));
        let server = TestServer::start_with_store(ServerConfig::default(), store).await;
        let mut client = server.dedup().await;
        let first = format!("{FIRST_VERSION_MARKER} The harbour office announced it on Monday.");
        common::ingest(&mut client, "ferry", "Ferry timetable", &first).await;
        let corrected = first.replace("nineteen", "twenty");
        common::ingest(&mut client, "ferry", "Ferry timetable", &corrected).await;
        drop(client);
        server.stop().await;
    }
    // The first version's text is only in its version record.
    let file = dir.path().join(DATABASE_FILE);
    let mut bytes = std::fs::read(&file).expect("read the store");
    let at = bytes
        .windows(FIRST_VERSION_MARKER.len())
        .position(|w| w == FIRST_VERSION_MARKER.as_bytes())
        .expect("the first version's text is in the file");
    bytes[at + 5] ^= 0x04;
    std::fs::write(&file, bytes).expect("write the store");

    let store = Arc::new(open(dir.path()).expect("the index does not need the history"));
    let server = TestServer::start_with_store(ServerConfig::default(), store).await;
    let mut client = server.dedup().await;
    let history = client
        .list_story_versions(ListStoryVersionsRequest {
            name: "stories/ferry".into(),
        })
        .await
        .expect_err("a damaged version is never served as good");
    assert_eq!(history.code(), Code::DataLoss, "{history:?}");
    let story = client
        .get_story(GetStoryRequest {
            name: "stories/ferry".into(),
        })
        .await
        .expect("the current text serves")
        .into_inner();
    let cluster = client
        .get_cluster(GetClusterRequest {
            name: story.cluster,
        })
        .await
        .expect("the cluster serves")
        .into_inner();
    assert_eq!(cluster.timeline.len(), 1, "the current version only");
    // The damaged record does not stop the story's next version.
    let third = "The harbour office said on Monday the timetable lists twenty-two sailings.";
    let answer = common::ingest(&mut client, "ferry", "Ferry timetable", third).await;
    assert!(answer.changes.is_some(), "{answer:?}");
    drop(client);
    server.stop().await;

    let report = copydesk::store::check_store(dir.path(), true).expect("check");
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert!(
        report.damaged[0].starts_with("versions/ferry/1: "),
        "{:?}",
        report.damaged
    );
    let report = copydesk::store::check_store(dir.path(), false).expect("check again");
    assert!(report.damaged.is_empty(), "{:?}", report.damaged);
    // What is left of the history reads again: versions 2 and 3.
    let store = Arc::new(open(dir.path()).expect("open"));
    let server = TestServer::start_with_store(ServerConfig::default(), store).await;
    let mut client = server.dedup().await;
    let history = client
        .list_story_versions(ListStoryVersionsRequest {
            name: "stories/ferry".into(),
        })
        .await
        .expect("the history serves once the damage is set aside")
        .into_inner()
        .versions;
    let numbers: Vec<u32> = history.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 3]);
    drop(client);
    server.stop().await;
}
