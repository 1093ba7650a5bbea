//! Running in production: TLS and mutual TLS (certificates made in the
//! test), access tokens and their status codes, and the Prometheus series
//! moving by exactly what was called.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::pki::TestCa;
use common::{TestServer, story, texts};
use copydesk::grpc::client::{BearerToken, ClientOptions, endpoint};
use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::summary_service_client::SummaryServiceClient;
use copydesk::grpc::proto::{
    GetStoryRequest, IngestStoriesRequest, IngestStoryRequest, SummarizeRequest,
};
use copydesk::grpc::{AccessTokens, AuthConfig, ServerConfig, ServerTls, TlsFiles};
use copydesk::http::{OpsState, serve_ops};
use copydesk::metrics::Metrics;
use copydesk::store::{MemoryStore, Store};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const READER: &str = "reader-0123456789abcdef";
const WRITER: &str = "writer-0123456789abcdef";

fn summarize_request() -> SummarizeRequest {
    SummarizeRequest {
        story: Some(story("", texts::GENEVA_TITLE, &texts::geneva_full())),
        budget: None,
    }
}

/// Writes the server's PEM files; returns them and the directory.
fn server_files(ca: &TestCa, client_ca: Option<&TestCa>) -> (TlsFiles, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let issued = ca.server();
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, issued.cert).expect("write cert");
    std::fs::write(&key, issued.key).expect("write key");
    let client_ca = client_ca.map(|client_ca| {
        let path = dir.path().join("clients.pem");
        std::fs::write(&path, &client_ca.pem).expect("write client CA");
        path
    });
    (
        TlsFiles {
            cert,
            key,
            client_ca,
        },
        dir,
    )
}

async fn tls_channel(
    server: &TestServer,
    trusted: &TestCa,
    identity: Option<Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&trusted.pem));
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(format!("https://127.0.0.1:{}", server.address.port()))
        .expect("uri")
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn tls_serves_grpc_and_a_reload_takes_a_new_certificate_for_new_connections() {
    let first_ca = TestCa::new("first CA");
    let (files, dir) = server_files(&first_ca, None);
    let tls = Arc::new(ServerTls::load(files.clone()).expect("load TLS"));
    let config = ServerConfig {
        tls: Some(Arc::clone(&tls)),
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await;

    let channel = tls_channel(&server, &first_ca, None)
        .await
        .expect("TLS connect");
    let mut before = SummaryServiceClient::new(channel);
    before
        .summarize(summarize_request())
        .await
        .expect("summarize over TLS");

    // A plaintext client gets no answer from a TLS port.
    let plain = SummaryServiceClient::connect(format!("http://{}", server.address)).await;
    let refused = match plain {
        Err(_) => true,
        Ok(mut client) => client.summarize(summarize_request()).await.is_err(),
    };
    assert!(refused, "plaintext must not be served on a TLS port");

    // The certificate is replaced on disk by one from another CA, and
    // read again (what SIGHUP does).
    let second_ca = TestCa::new("second CA");
    let issued = second_ca.server();
    std::fs::write(&files.cert, issued.cert).expect("rewrite cert");
    std::fs::write(&files.key, issued.key).expect("rewrite key");
    assert!(
        tls_channel(&server, &second_ca, None).await.is_err() || {
            let ch = tls_channel(&server, &second_ca, None).await.expect("ch");
            SummaryServiceClient::new(ch)
                .summarize(summarize_request())
                .await
                .is_err()
        },
        "before the reload the old certificate is served"
    );
    tls.reload().expect("reload");
    let channel = tls_channel(&server, &second_ca, None)
        .await
        .expect("connect after reload");
    SummaryServiceClient::new(channel)
        .summarize(summarize_request())
        .await
        .expect("the new certificate is served to new connections");
    // The connection opened before the reload goes on.
    before
        .summarize(summarize_request())
        .await
        .expect("an open connection survives the reload");

    // A key that does not match keeps the configuration in use.
    std::fs::write(&files.key, first_ca.server().key).expect("rewrite key");
    assert!(tls.reload().is_err(), "a mismatched key is refused");
    let channel = tls_channel(&server, &second_ca, None)
        .await
        .expect("connect");
    SummaryServiceClient::new(channel)
        .summarize(summarize_request())
        .await
        .expect("still served with the last good certificate");
    drop(dir);
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let (files, _dir) = server_files(&server_ca, Some(&client_ca));
    let config = ServerConfig {
        tls: Some(Arc::new(ServerTls::load(files).expect("load TLS"))),
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await;

    // Without a certificate: the handshake (or the first call) fails.
    let anonymous = match tls_channel(&server, &server_ca, None).await {
        Err(_) => true,
        Ok(channel) => SummaryServiceClient::new(channel)
            .summarize(summarize_request())
            .await
            .is_err(),
    };
    assert!(anonymous, "a client without a certificate must be refused");

    // A certificate from another CA is refused too.
    let stranger = TestCa::new("stranger CA").client("intruder");
    let forged = match tls_channel(
        &server,
        &server_ca,
        Some(Identity::from_pem(stranger.cert, stranger.key)),
    )
    .await
    {
        Err(_) => true,
        Ok(channel) => SummaryServiceClient::new(channel)
            .summarize(summarize_request())
            .await
            .is_err(),
    };
    assert!(forged, "a certificate from an unknown CA must be refused");

    let newsroom = client_ca.client("newsroom-backend");
    let channel = tls_channel(
        &server,
        &server_ca,
        Some(Identity::from_pem(newsroom.cert, newsroom.key)),
    )
    .await
    .expect("connect with a client certificate");
    SummaryServiceClient::new(channel)
        .summarize(summarize_request())
        .await
        .expect("a client with a certificate is served");
    server.stop().await;
}

fn auth_config(guard_reflection: bool) -> AuthConfig {
    let tokens = AccessTokens::parse(&format!("read {READER}\nwrite {WRITER}\n")).expect("tokens");
    AuthConfig::new(tokens, guard_reflection)
}

async fn dedup_with(
    server: &TestServer,
    token: Option<&str>,
) -> DedupServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>> {
    let channel = server.channel().await;
    DedupServiceClient::with_interceptor(channel, BearerToken::new(token).expect("token"))
}

fn ingest_request(id: &str) -> IngestStoryRequest {
    IngestStoryRequest {
        story: Some(story(id, texts::GENEVA_TITLE, &texts::geneva_full())),
    }
}

#[tokio::test]
async fn tokens_decide_who_may_read_and_write() {
    let config = ServerConfig {
        auth: Some(auth_config(false)),
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await;

    let mut nobody = dedup_with(&server, None).await;
    let status = nobody
        .ingest_story(ingest_request("a"))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(!status.message().contains(READER));

    let mut stranger = dedup_with(&server, Some("stranger-0123456789abcdef")).await;
    assert_eq!(
        code(stranger.ingest_story(ingest_request("a")).await),
        Code::Unauthenticated
    );
    let mut wrong_scheme = DedupServiceClient::with_interceptor(
        server.channel().await,
        |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", format!("Basic {WRITER}").parse().unwrap());
            Ok(request)
        },
    );
    assert_eq!(
        code(wrong_scheme.ingest_story(ingest_request("a")).await),
        Code::Unauthenticated
    );

    let mut reader = dedup_with(&server, Some(READER)).await;
    let denied = reader
        .ingest_story(ingest_request("a"))
        .await
        .expect_err("a read token cannot ingest");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        code(
            reader
                .delete_story(copydesk::grpc::proto::DeleteStoryRequest {
                    name: "stories/a".into()
                })
                .await
        ),
        Code::PermissionDenied
    );

    let mut writer = dedup_with(&server, Some(WRITER)).await;
    writer
        .ingest_story(ingest_request("a"))
        .await
        .expect("a write token ingests");
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(IngestStoriesRequest {
        story: Some(story("b", texts::COUNCIL_TITLE, texts::COUNCIL)),
    })
    .await
    .unwrap();
    drop(tx);
    assert_eq!(
        code(
            reader
                .ingest_stories(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        ),
        Code::PermissionDenied
    );
    // A read token reads.
    reader
        .get_story(GetStoryRequest {
            name: "stories/a".into(),
        })
        .await
        .expect("a read token reads");
    let mut summary = SummaryServiceClient::with_interceptor(
        server.channel().await,
        BearerToken::new(Some(READER)).unwrap(),
    );
    summary
        .summarize(summarize_request())
        .await
        .expect("a read token summarizes");
    let mut anonymous_summary = SummaryServiceClient::new(server.channel().await);
    assert_eq!(
        code(anonymous_summary.summarize(summarize_request()).await),
        Code::Unauthenticated
    );

    // Health stays open, and reflection without --auth-reflection.
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token");
    assert_eq!(reflection_code(&server).await, Code::Ok);
    server.stop().await;

    let guarded = TestServer::start(ServerConfig {
        auth: Some(auth_config(true)),
        ..ServerConfig::default()
    })
    .await;
    assert_eq!(reflection_code(&guarded).await, Code::Unauthenticated);
    guarded.stop().await;
}

/// The code a call ended with.
fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// The status of a reflection call without a token.
async fn reflection_code(server: &TestServer) -> Code {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_request};
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    match client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
    {
        Ok(response) => {
            use futures::StreamExt;
            let mut stream = response.into_inner();
            match stream.next().await {
                Some(Ok(_)) => Code::Ok,
                Some(Err(status)) => status.code(),
                None => Code::Unknown,
            }
        }
        Err(status) => status.code(),
    }
}

/// A plain HTTP/1.1 GET of the scrape page.
fn scrape(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The value of one series (name with its labels, as printed).
fn value(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn method(service: &str, method: &str, kind: &str) -> String {
    format!("grpc_type=\"{kind}\",grpc_service=\"{service}\",grpc_method=\"{method}\"")
}

#[tokio::test]
async fn the_counters_move_by_exactly_what_was_called() {
    let metrics = Arc::new(Metrics::new());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(Default::default()));
    let config = ServerConfig {
        metrics: Arc::clone(&metrics),
        auth: Some(auth_config(false)),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with_store(config, Arc::clone(&store)).await;
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops_address = ops.local_addr().unwrap().to_string();
    tokio::spawn(serve_ops(
        ops,
        OpsState {
            store,
            draining: Arc::new(AtomicBool::new(false)),
            metrics,
            auth: None,
        },
        std::future::pending(),
    ));
    let ops_for_scrape = ops_address.clone();
    let before = tokio::task::spawn_blocking(move || scrape(&ops_for_scrape))
        .await
        .unwrap();
    let summarize = method("copydesk.v1.SummaryService", "Summarize", "unary");
    let ingest = method("copydesk.v1.DedupService", "IngestStory", "unary");
    let stream = method("copydesk.v1.DedupService", "IngestStories", "bidi_stream");
    // Every method is there from the start, at zero.
    assert_eq!(
        value(&before, &format!("grpc_server_started_total{{{stream}}}")),
        0.0,
        "{before}"
    );
    assert!(before.contains(&format!("grpc_server_started_total{{{stream}}} 0")));

    let mut summary = SummaryServiceClient::with_interceptor(
        server.channel().await,
        BearerToken::new(Some(READER)).unwrap(),
    );
    for _ in 0..3 {
        summary
            .summarize(summarize_request())
            .await
            .expect("summarize");
    }
    let bad = summary
        .summarize(SummarizeRequest {
            story: None,
            budget: None,
        })
        .await
        .expect_err("no story");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let mut writer = dedup_with(&server, Some(WRITER)).await;
    writer.ingest_story(ingest_request("geneva")).await.unwrap();
    writer.ingest_story(ingest_request("geneva")).await.unwrap();
    let mut reader = dedup_with(&server, Some(READER)).await;
    reader
        .ingest_story(ingest_request("denied"))
        .await
        .expect_err("read token");
    let items = vec![
        IngestStoriesRequest {
            story: Some(story("council", texts::COUNCIL_TITLE, texts::COUNCIL)),
        },
        IngestStoriesRequest {
            story: Some(story(
                "geneva-2",
                texts::GENEVA_TITLE,
                &texts::geneva_trimmed(),
            )),
        },
        IngestStoriesRequest {
            story: Some(story("", "no id", "A story without an id is refused.")),
        },
    ];
    let mut answers = writer
        .ingest_stories(tokio_stream::iter(items))
        .await
        .expect("stream")
        .into_inner();
    let mut answered = 0;
    while let Some(answer) = answers.message().await.expect("answer") {
        let _ = answer;
        answered += 1;
    }
    assert_eq!(answered, 3);

    let after = tokio::task::spawn_blocking(move || scrape(&ops_address))
        .await
        .unwrap();
    let delta = |series: String| value(&after, &series) - value(&before, &series);
    assert_eq!(
        delta(format!("grpc_server_started_total{{{summarize}}}")),
        4.0
    );
    assert_eq!(
        delta(format!(
            "grpc_server_handled_total{{{summarize},grpc_code=\"OK\"}}"
        )),
        3.0
    );
    assert_eq!(
        delta(format!(
            "grpc_server_handled_total{{{summarize},grpc_code=\"INVALID_ARGUMENT\"}}"
        )),
        1.0
    );
    assert_eq!(
        delta(format!("grpc_server_handling_seconds_count{{{summarize}}}")),
        4.0
    );
    assert_eq!(
        delta(format!("grpc_server_msg_received_total{{{summarize}}}")),
        4.0
    );
    assert_eq!(
        delta(format!("grpc_server_msg_sent_total{{{summarize}}}")),
        3.0
    );
    assert_eq!(delta(format!("grpc_server_started_total{{{ingest}}}")), 3.0);
    assert_eq!(
        delta(format!(
            "grpc_server_handled_total{{{ingest},grpc_code=\"OK\"}}"
        )),
        2.0
    );
    assert_eq!(
        delta(format!(
            "grpc_server_handled_total{{{ingest},grpc_code=\"PERMISSION_DENIED\"}}"
        )),
        1.0
    );
    assert_eq!(delta(format!("grpc_server_started_total{{{stream}}}")), 1.0);
    assert_eq!(
        delta(format!(
            "grpc_server_handled_total{{{stream},grpc_code=\"OK\"}}"
        )),
        1.0
    );
    assert_eq!(
        delta(format!("grpc_server_msg_received_total{{{stream}}}")),
        3.0
    );
    assert_eq!(
        delta(format!("grpc_server_msg_sent_total{{{stream}}}")),
        3.0
    );
    // The store's series: geneva created, geneva again unchanged; council
    // created, geneva-2 a duplicate of geneva; the refused item is none.
    assert_eq!(
        delta("copydesk_ingested_total{outcome=\"created\"}".into()),
        2.0
    );
    assert_eq!(
        delta("copydesk_ingested_total{outcome=\"unchanged\"}".into()),
        1.0
    );
    assert_eq!(
        delta("copydesk_ingested_total{outcome=\"duplicate\"}".into()),
        1.0
    );
    assert_eq!(
        delta("copydesk_decisions_total{verdict=\"same\"}".into()),
        1.0
    );
    assert_eq!(value(&after, "copydesk_index_stories"), 3.0);
    assert_eq!(value(&after, "copydesk_index_clusters"), 2.0);
    assert!(value(&after, "copydesk_index_memory_bytes") > 0.0);
    assert_eq!(value(&after, "copydesk_store_accepting_writes"), 1.0);
    server.stop().await;
}

#[tokio::test]
async fn the_cli_client_speaks_tls_with_a_token() {
    let ca = TestCa::new("cli CA");
    let (files, dir) = server_files(&ca, None);
    let server = TestServer::start(ServerConfig {
        tls: Some(Arc::new(ServerTls::load(files).expect("TLS"))),
        auth: Some(auth_config(false)),
        ..ServerConfig::default()
    })
    .await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n",
            serde_json::json!({"id": "geneva", "title": texts::GENEVA_TITLE, "text": texts::geneva_full()})
        ),
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{}", server.address.port());
    let run = |token: &str| {
        let (url, ca_file, input) = (url.clone(), ca_file.clone(), input.clone());
        let token = token.to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_copydesk"))
                .args(["dedup", "--server", &url, "--tls-ca"])
                .arg(&ca_file)
                .arg("--input")
                .arg(&input)
                .env("COPYDESK_TOKEN", token)
                .output()
                .expect("run the CLI")
        })
    };
    let ok = run(WRITER).await.unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"geneva\""));
    let denied = run(READER).await.unwrap();
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("write token"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    // The options the library gives other clients build the same endpoint.
    let options = ClientOptions {
        tls_ca: Some(ca_file.clone()),
        token: Some(READER.into()),
    };
    endpoint(&url, &options).expect("endpoint");
    server.stop().await;
}
