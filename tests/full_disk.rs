//! A full disk under the durable store: writes are refused with
//! RESOURCE_EXHAUSTED, reads go on, and writes resume by themselves once
//! space is freed. Needs a small file system to fill: the test mounts a
//! tmpfs, which takes root; elsewhere it says it was skipped.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::{TestServer, story, texts};
use copydesk::dedup::IndexConfig;
use copydesk::grpc::ServerConfig;
use copydesk::grpc::proto::{GetStoryRequest, IngestStoryRequest};
use copydesk::http::{OpsState, serve_ops};
use copydesk::store::{DurableOptions, DurableStore, Store};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Unmounts the tmpfs however the test ends.
struct Mount<'a>(&'a Path);

impl Drop for Mount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// A story of its own: numbers keep its shingles apart from the others.
fn filler_story(n: usize) -> String {
    (0..40)
        .map(|i| {
            format!(
                "Paragraph {i} of report {n} names figure {} and place {}.",
                n * 97 + i,
                i * 13 + n
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/readyz` of the operations listener: status code and body.
async fn ready(address: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, answer)
}

async fn health_of(health: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    let answer = health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check")
        .into_inner();
    ServingStatus::try_from(answer.status).expect("a known status")
}

/// Polls `service`'s health until it is `want`, for up to ten seconds.
async fn wait_for_health(
    health: &mut HealthClient<Channel>,
    service: &str,
    want: ServingStatus,
) -> bool {
    for _ in 0..100 {
        if health_of(health, service).await == want {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_heals_when_space_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    if !mount_tmpfs(dir.path(), "6m") {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let _mount = Mount(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let (store, _) =
        DurableStore::open(&data, IndexConfig::default(), DurableOptions::default()).expect("open");
    let store: Arc<dyn Store> = Arc::new(store);
    let server = TestServer::start_with_store(ServerConfig::default(), Arc::clone(&store)).await;
    // The operations listener beside it, for readiness.
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ops_address = ops.local_addr().expect("address").to_string();
    let ops_state = OpsState {
        store: Arc::clone(&store),
        draining: Arc::new(AtomicBool::new(false)),
        metrics: Arc::new(copydesk::metrics::Metrics::new()),
        auth: None,
    };
    tokio::spawn(serve_ops(ops, ops_state, std::future::pending()));
    let mut client = server.dedup().await;
    let first = common::ingest(
        &mut client,
        "geneva",
        texts::GENEVA_TITLE,
        &texts::geneva_full(),
    )
    .await;

    // Fill the file system, leaving little room.
    let ballast = dir.path().join("ballast");
    let free_kb = 6 * 1024 - 2 * 1024;
    let _ = Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", ballast.display()),
            "bs=1k",
            &format!("count={free_kb}"),
        ])
        .status();
    let mut refused = None;
    for n in 0..2_000 {
        let result = client
            .ingest_story(IngestStoryRequest {
                story: Some(story(&format!("filler-{n}"), "", &filler_story(n))),
            })
            .await;
        if let Err(status) = result {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("full"), "{refused:?}");

    // Reads go on.
    let found = client
        .get_story(GetStoryRequest {
            name: "stories/geneva".into(),
        })
        .await
        .expect("an acknowledged story is served on a full disk")
        .into_inner();
    assert_eq!(found.cluster, first.cluster);

    // Health says the dedup service cannot take writes; the summary
    // service, which needs no disk, still serves.
    let mut health = HealthClient::new(server.channel().await);
    assert_eq!(
        health_of(&mut health, "copydesk.v1.DedupService").await,
        ServingStatus::NotServing
    );
    assert_eq!(
        health_of(&mut health, "copydesk.v1.SummaryService").await,
        ServingStatus::Serving
    );
    let (status, reason) = ready(&ops_address).await;
    assert_eq!(status, 503, "{reason}");
    assert!(reason.contains("full"), "{reason}");
    // While the disk stays full, a write is refused at once.
    let again = client
        .ingest_story(IngestStoryRequest {
            story: Some(story("refused", "", &filler_story(5_000))),
        })
        .await
        .expect_err("the disk is still full");
    assert_eq!(again.code(), Code::ResourceExhausted, "{again:?}");

    // Space comes back: health says SERVING again before any client
    // writes, and writes resume, no restart.
    std::fs::remove_file(&ballast).expect("free space");
    let serving = wait_for_health(
        &mut health,
        "copydesk.v1.DedupService",
        ServingStatus::Serving,
    )
    .await;
    assert!(
        serving,
        "health did not return to SERVING once space was freed"
    );
    assert_eq!(ready(&ops_address).await.0, 200);
    let after = common::ingest(&mut client, "after", "", &filler_story(99_999)).await;
    assert!(!after.cluster.is_empty());
    let found = client
        .get_story(GetStoryRequest {
            name: "stories/geneva".into(),
        })
        .await
        .expect("still served")
        .into_inner();
    assert_eq!(found.cluster, first.cluster);
    server.stop().await;
}
