//! Shared helpers: a real server on an ephemeral port, clients, and story
//! texts written for these tests.
#![allow(dead_code)]

pub mod chain;
pub mod desk;
pub mod pg;
pub mod pki;
pub mod texts;

use std::net::SocketAddr;

use copydesk::grpc::proto::dedup_service_client::DedupServiceClient;
use copydesk::grpc::proto::summary_service_client::SummaryServiceClient;
use copydesk::grpc::proto::{IngestStoryRequest, IngestStoryResponse, Story};
use std::sync::Arc;

use copydesk::grpc::{ServerConfig, serve, serve_with_store};
use copydesk::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A server running in this process on 127.0.0.1:0.
pub struct TestServer {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), copydesk::grpc::ServeError>>>,
}

impl TestServer {
    /// Binds first, then serves: the port accepts connections before this
    /// returns, so no test sleeps.
    pub async fn start(config: ServerConfig) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(listener, config, async {
            let _ = rx.await;
        }));
        TestServer {
            address,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Like [`TestServer::start`], on a store the test built.
    pub async fn start_with_store(config: ServerConfig, store: Arc<dyn Store>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve_with_store(listener, config, store, async {
            let _ = rx.await;
        }));
        TestServer {
            address,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    pub async fn summary(&self) -> SummaryServiceClient<Channel> {
        SummaryServiceClient::new(self.channel().await)
    }

    pub async fn dedup(&self) -> DedupServiceClient<Channel> {
        DedupServiceClient::new(self.channel().await)
    }

    /// Signals shutdown and waits for the server to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server result");
        }
    }
}

/// Ingests one story through IngestStory; panics naming the story if refused.
pub async fn ingest(
    client: &mut DedupServiceClient<Channel>,
    id: &str,
    title: &str,
    body: &str,
) -> IngestStoryResponse {
    client
        .ingest_story(IngestStoryRequest {
            story: Some(story(id, title, body)),
        })
        .await
        .unwrap_or_else(|s| panic!("ingest {id}: {s:?}"))
        .into_inner()
}

pub fn story(id: &str, title: &str, body: &str) -> Story {
    Story {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        ..Story::default()
    }
}

/// The field names of a status's BadRequest detail.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
