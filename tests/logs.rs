//! What `copydesk serve` tells its logs: the first line gives version,
//! commit, listen address, store, TLS and auth mode; every RPC ends with
//! one line (method, peer, status code, elapsed time, the story id when
//! there is one); a refused request names its fields, never its body.
//! With `--log-format json` each line is one JSON object with those
//! fields at the top level. The operations listener answers liveness,
//! readiness and Prometheus text.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{story, texts};
use copydesk::grpc::proto::IngestStoryRequest;
use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use serde_json::Value;

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .arg("--version")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("copydesk {} (commit ", copydesk::VERSION)),
        "{text}"
    );
    assert!(text.contains(copydesk::COMMIT), "{text}");
}

#[tokio::test]
async fn json_logs_give_the_start_and_one_flat_line_per_rpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, lines, first) =
        start_json(&["--data-dir", dir.path().to_str().expect("a UTF-8 path")]);
    let next = || -> Value {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a log line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
    };

    assert_eq!(first["message"], "copydesk starting");
    assert_eq!(first["version"], copydesk::VERSION);
    assert_eq!(first["commit"], copydesk::COMMIT);
    assert_eq!(first["tls"], "off");
    assert!(
        first["auth"]
            .as_str()
            .is_some_and(|a| a.starts_with("open"))
    );
    assert!(
        first["store"]
            .as_str()
            .is_some_and(|s| s.ends_with("copydesk.redb"))
    );
    let address = first["listen"].as_str().expect("listen").to_owned();

    let mut client = DedupServiceClient::connect(format!("http://{address}"))
        .await
        .expect("connect");
    client
        .ingest_story(IngestStoryRequest {
            story: Some(story("geneva", texts::GENEVA_TITLE, &texts::geneva_full())),
        })
        .await
        .expect("ingest");
    let secret = "a body that must never reach the log";
    client
        .ingest_story(IngestStoryRequest {
            story: Some(story("bad/id", "", secret)),
        })
        .await
        .expect_err("a bad id is refused");

    let ok = next();
    assert_eq!(ok["message"], "rpc");
    assert_eq!(ok["method"], "IngestStory");
    assert_eq!(ok["code"], "OK");
    assert_eq!(ok["story_id"], "geneva");
    assert!(
        ok["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{ok}"
    );
    assert!(ok["elapsed_ms"].as_f64().is_some(), "{ok}");
    assert!(ok["body_bytes"].as_u64().is_some_and(|b| b > 0), "{ok}");

    let refused = next();
    assert_eq!(refused["code"], "INVALID_ARGUMENT", "{refused}");
    assert_eq!(refused["level"], "INFO");
    assert_eq!(refused["fields"], "story.id", "{refused}");
    assert!(!refused.to_string().contains(secret), "{refused}");

    server.kill().expect("stop");
    let _ = server.wait();
}

/// A plain HTTP/1.1 GET on loopback: the status code and the body.
fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn the_operations_listener_answers_probes_and_the_scraper() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let mut next = || -> Value {
        let line = lines.next().expect("a log line").expect("read");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let first = next();
    let ops = first["metrics"]
        .as_str()
        .expect("the operations address")
        .to_owned();
    assert!(ops.starts_with("127.0.0.1:"), "{first}");
    while next()["message"] != "copydesk serving" {}

    assert_eq!(http_get(&ops, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(&ops, "/readyz"), (200, "ready\n".to_owned()));
    let (status, metrics) = http_get(&ops, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "copydesk_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            copydesk::VERSION,
            copydesk::COMMIT
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("copydesk_store_accepting_writes 1"),
        "{metrics}"
    );
    assert_eq!(http_get(&ops, "/nowhere").0, 404);

    server.kill().expect("stop");
    let _ = server.wait();
}

/// Starts `copydesk serve` with JSON logs and `extra` flags; returns the
/// child, its log lines and the first line (`copydesk starting`), having
/// waited for `copydesk serving`.
fn start_json(
    extra: &[&str],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    Value,
) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = server.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |lines: &std::sync::mpsc::Receiver<String>| -> Value {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a log line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let first = next(&lines);
    assert_eq!(first["message"], "copydesk starting", "{first}");
    while next(&lines)["message"] != "copydesk serving" {}
    (server, lines, first)
}

#[tokio::test]
async fn readiness_turns_false_while_the_server_drains() {
    let (mut server, _lines, first) = start_json(&[
        "--in-memory",
        "--metrics-listen",
        "127.0.0.1:0",
        "--drain-timeout",
        "20s",
    ]);
    let address = first["listen"].as_str().expect("listen").to_owned();
    let ops = first["metrics"].as_str().expect("metrics").to_owned();
    let probe = |ops: String| async move {
        tokio::task::spawn_blocking(move || http_get(&ops, "/readyz"))
            .await
            .expect("probe")
    };
    assert_eq!(probe(ops.clone()).await.0, 200);

    // A stream left open is a call in flight: the drain waits for it.
    let mut client = DedupServiceClient::connect(format!("http://{address}"))
        .await
        .expect("connect");
    let (items, receiver) = tokio::sync::mpsc::channel(4);
    items
        .send(copydesk::grpc::proto::IngestStoriesRequest {
            story: Some(story("geneva", texts::GENEVA_TITLE, &texts::geneva_full())),
        })
        .await
        .expect("send");
    let mut answers = client
        .ingest_stories(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .expect("stream")
        .into_inner();
    answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");

    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    let mut draining = None;
    for _ in 0..100 {
        let (status, body) = probe(ops.clone()).await;
        if status == 503 {
            draining = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = draining.expect("/readyz must answer 503 while draining");
    assert!(body.contains("draining"), "{body}");

    // Ending the stream lets the drain finish and the process exit.
    drop(items);
    while answers.message().await.ok().flatten().is_some() {}
    let exit = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("wait")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_start_line_gives_tls_and_auth_modes_never_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = common::pki::TestCa::new("log CA");
    let issued = ca.server();
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let tokens = dir.path().join("tokens");
    std::fs::write(&cert, issued.cert).expect("cert");
    std::fs::write(&key, issued.key).expect("key");
    let secret = "write-token-that-stays-secret";
    std::fs::write(&tokens, format!("# the ingest job\nwrite {secret}\n")).expect("tokens");
    let (mut server, _lines, first) = start_json(&[
        "--in-memory",
        "--tls-cert",
        cert.to_str().expect("path"),
        "--tls-key",
        key.to_str().expect("path"),
        "--auth-tokens",
        tokens.to_str().expect("path"),
    ]);
    assert_eq!(first["tls"], "on", "{first}");
    assert_eq!(
        first["auth"], "tokens: 0 read, 1 write; reflection open",
        "{first}"
    );
    assert!(!first.to_string().contains(secret));
    server.kill().expect("stop");
    let _ = server.wait();

    // A tokens file that cannot be used stops the start, naming the line.
    std::fs::write(&tokens, "write short\n").expect("tokens");
    let refused = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .args([
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--auth-tokens",
        ])
        .arg(&tokens)
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(
        !stderr.contains("short\n") || !stderr.contains("write short"),
        "{stderr}"
    );
}
