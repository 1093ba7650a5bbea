//! The editor's page for tests: a server with its HTTP listener on a
//! store loaded with a corpus written here, and a bare HTTP GET.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use copydesk::dedup::IndexConfig;
use copydesk::grpc::{AuthConfig, ServerConfig};
use copydesk::http::{OpsState, serve_ops};
use copydesk::metrics::Metrics;
use copydesk::store::{MemoryStore, Store};

use super::{TestServer, ingest, texts};

/// The headline of a story meant to run script if the page let it.
pub const HOSTILE_HEADLINE: &str = "<script>alert(1)</script>";

/// The sentence the second version of the Geneva story adds.
pub const ADDED: &str = "Russia said on Tuesday it would send a delegation to Brussels after all, reversing its refusal of the day before.";

/// A gRPC server and its HTTP listener (the page) on one in-memory store.
pub struct Desk {
    pub server: TestServer,
    /// `127.0.0.1:port` of the HTTP listener.
    pub http: String,
    /// `clusters/{n}` of the Geneva story.
    pub geneva: String,
}

/// Starts the desk, guarded by `auth` when given, and loads the corpus:
/// the Geneva story, a version adding [`ADDED`], the council story, and a
/// story headed [`HOSTILE_HEADLINE`].
pub async fn start(auth: Option<AuthConfig>) -> Desk {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(IndexConfig::default()));
    let server = TestServer::start_with_store(ServerConfig::default(), Arc::clone(&store)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http = listener.local_addr().expect("address").to_string();
    tokio::spawn(serve_ops(
        listener,
        OpsState {
            store,
            draining: Arc::new(AtomicBool::new(false)),
            metrics: Arc::new(Metrics::new()),
            auth,
        },
        std::future::pending(),
    ));
    let mut client = server.dedup().await;
    let full = texts::geneva_full();
    let first = ingest(&mut client, "geneva-1", texts::GENEVA_TITLE, &full).await;
    let updated = full.replacen(
        "GENEVA (Reuters) - ",
        &format!("GENEVA (Reuters) - {ADDED}\n\n"),
        1,
    );
    let second = ingest(&mut client, "geneva-2", texts::GENEVA_TITLE, &updated).await;
    assert_eq!(second.cluster, first.cluster, "the update folds");
    ingest(&mut client, "council", texts::COUNCIL_TITLE, texts::COUNCIL).await;
    ingest(
        &mut client,
        "hostile",
        HOSTILE_HEADLINE,
        "The harbour office said on Friday that the ferry timetable would change next month, adding two evening sailings.",
    )
    .await;
    Desk {
        server,
        http,
        geneva: first.cluster,
    }
}

/// An answer to a GET: status, headers (names lowercased), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GET `path` from `address` with extra header lines, over a plain TCP
/// connection (blocking: call it from a blocking task).
pub fn get(address: &str, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8(raw).expect("utf-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // The page is small: chunked bodies are joined by dropping the chunk
    // sizes, which are alone on their lines.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut joined = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            joined.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        joined
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}
