//! Three copydesk processes on one PostgreSQL database: versions of one
//! story sent to different replicas at the same instant always make one
//! cluster, and every answer agrees with what any replica says afterwards.
//! Skipped, saying so, where no PostgreSQL answers (unless
//! `COPYDESK_REQUIRE_POSTGRES` is set).

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::{GetClusterRequest, GetStoryRequest, IngestStoryRequest};
use tonic::transport::Channel;

use common::pg::TestDatabase;

/// One `copydesk serve` process on the shared database.
struct Replica {
    child: Child,
    address: String,
    log: std::path::PathBuf,
}

impl Replica {
    fn start(url: &str, logs: &std::path::Path, n: usize) -> Replica {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let log = logs.join(format!("replica-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_copydesk"))
            .args(["serve", "--store", url, "--listen", &address])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start copydesk");
        Replica {
            child,
            address,
            log,
        }
    }

    async fn client(&self) -> DedupServiceClient<Channel> {
        let uri = format!("http://{}", self.address);
        for _ in 0..300 {
            if let Ok(channel) = Channel::from_shared(uri.clone())
                .expect("uri")
                .connect()
                .await
            {
                return DedupServiceClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "replica {} did not serve within 30 s: {}",
            self.address,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A made-up word of story `story`: stories share none of their words.
fn word(story: usize, n: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "zo", "pa", "de", "fu", "gi", "ho", "ja",
        "be",
    ];
    let mut state = (story as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n as u64 + 7);
    let mut word = String::new();
    for _ in 0..4 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.push_str(SYLLABLES[(state % 16) as usize]);
    }
    word.push_str(&format!("{story}"));
    word
}

/// Paragraph `n` of story `story`: twenty of its words.
fn paragraph(story: usize, n: usize) -> String {
    let words: Vec<String> = (0..20)
        .map(|k| word(story, (n * 31 + k * 7) % 80))
        .collect();
    format!("{}.", words.join(" "))
}

/// The three versions of a story: the full copy, a trimmed one, and one
/// with a new top.
fn versions(story: usize) -> [String; 3] {
    let body = |paragraphs: &mut dyn Iterator<Item = usize>| {
        paragraphs
            .map(|n| paragraph(story, n))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    [
        body(&mut (0..10)),
        body(&mut (0..8)),
        body(&mut std::iter::once(40).chain(0..9)),
    ]
}

const STORIES: usize = 200;
/// Stories sent at once (each as three versions to three replicas).
const AT_ONCE: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn versions_sent_to_three_replicas_at_once_make_one_cluster() {
    let Some(db) = TestDatabase::create("the replica race test").await else {
        return;
    };
    let logs = tempfile::tempdir().expect("temp dir");
    // The first replica makes the tables; the others find them.
    let first = Replica::start(&db.url, logs.path(), 0);
    let mut clients = vec![first.client().await];
    let replicas = [
        first,
        Replica::start(&db.url, logs.path(), 1),
        Replica::start(&db.url, logs.path(), 2),
    ];
    for replica in &replicas[1..] {
        clients.push(replica.client().await);
    }

    let mut answers: Vec<(String, String)> = Vec::new();
    for start in (0..STORIES).step_by(AT_ONCE) {
        let mut calls = Vec::new();
        for story in start..(start + AT_ONCE).min(STORIES) {
            for (version, body) in versions(story).into_iter().enumerate() {
                // Each replica gets each kind of version in turn.
                let mut client = clients[(story + version) % 3].clone();
                let id = format!("s{story}-v{version}");
                calls.push(async move {
                    let answer = client
                        .ingest_story(IngestStoryRequest {
                            story: Some(common::story(&id, &format!("Report {story}"), &body)),
                        })
                        .await
                        .unwrap_or_else(|s| panic!("ingest {id}: {s:?}"))
                        .into_inner();
                    (id, answer.cluster)
                });
            }
        }
        answers.extend(futures::future::join_all(calls).await);
    }

    for story in 0..STORIES {
        let of_story: Vec<&(String, String)> = answers
            .iter()
            .filter(|(id, _)| id.starts_with(&format!("s{story}-")))
            .collect();
        let clusters: BTreeSet<&str> = of_story.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(
            clusters.len(),
            1,
            "story {story}'s versions were answered in {clusters:?}"
        );
    }
    let mut canonical_of = std::collections::HashMap::new();
    for (id, cluster) in &answers {
        for (n, client) in clients.iter_mut().enumerate() {
            let stored = client
                .get_story(GetStoryRequest {
                    name: format!("stories/{id}"),
                })
                .await
                .unwrap_or_else(|s| panic!("replica {n}: get {id}: {s:?}"))
                .into_inner();
            assert_eq!(&stored.cluster, cluster, "replica {n} puts {id} elsewhere");
            let got = client
                .get_cluster(GetClusterRequest {
                    name: cluster.clone(),
                })
                .await
                .unwrap_or_else(|s| panic!("replica {n}: get {cluster}: {s:?}"))
                .into_inner();
            let members: BTreeSet<String> = got.members.iter().map(|m| m.story.clone()).collect();
            assert!(
                members.contains(&format!("stories/{id}")),
                "replica {n}: {cluster} lacks {id}: {members:?}"
            );
            assert_eq!(members.len(), 3, "replica {n}: {cluster}: {members:?}");
            let canonical = canonical_of
                .entry(cluster.clone())
                .or_insert_with(|| got.canonical_story.clone());
            assert_eq!(
                canonical, &got.canonical_story,
                "replicas disagree on {cluster}'s canonical story"
            );
        }
    }
}
