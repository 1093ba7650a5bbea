//! `serve()`: the copydesk services, health and reflection on one listener,
//! with bounded message sizes and a bounded graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;

use super::auth::{AuthConfig, AuthLayer};
use super::convert::Limits;
use super::dedup_service::DedupApi;
use super::observe::{MethodTable, MetricsLayer};
use super::proto::dedup_service_server::DedupServiceServer;
use super::proto::summary_service_server::SummaryServiceServer;
use super::summary_service::SummaryApi;
use super::tls::{ServerTls, tls_incoming};
use crate::dedup::IndexConfig;
use crate::metrics::{MeteredStore, Metrics};
use crate::store::{MemoryStore, Retention, Store, WriteState};

/// Server settings; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Longest story body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests served at once on one connection.
    pub max_concurrent_requests: usize,
    /// Responses an IngestStories stream may hold unread.
    pub stream_buffer: usize,
    /// How long shutdown waits for in-flight calls.
    pub drain_timeout: Duration,
    /// Stories older than this (publication, else ingest time) leave the
    /// matching index, in the background; `None` keeps them.
    pub retention: Option<Duration>,
    /// How often retention looks for stories to evict.
    pub eviction_interval: Duration,
    /// Most IngestStories items committed together: items already waiting
    /// in the stream share one durable commit, and each is answered only
    /// after it.
    pub commit_group: usize,
    /// TLS on the gRPC listener; `None` serves plaintext.
    pub tls: Option<Arc<ServerTls>>,
    /// Access tokens; `None` lets every caller do everything.
    pub auth: Option<AuthConfig>,
    /// Where the gRPC and store series are recorded (the operations
    /// listener renders the same registry).
    pub metrics: Arc<Metrics>,
}

/// The server's defaults: [`ServerConfig::default`] and the flags of
/// `copydesk serve` (whose `--help` shows them) both take them from here.
pub mod defaults {
    use std::time::Duration;

    /// Longest story body accepted, in bytes.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// Requests served at once on one connection.
    pub const MAX_CONCURRENT_REQUESTS: usize = 256;
    /// Responses an IngestStories stream may hold unread.
    pub const STREAM_BUFFER: usize = 64;
    /// Most IngestStories items that share one durable commit.
    pub const COMMIT_GROUP: usize = 64;
    /// How long shutdown waits for in-flight calls.
    pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
    /// How often retention looks for stories to evict.
    pub const EVICTION_INTERVAL: Duration = Duration::from_secs(30);
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_concurrent_requests: defaults::MAX_CONCURRENT_REQUESTS,
            stream_buffer: defaults::STREAM_BUFFER,
            drain_timeout: defaults::DRAIN_TIMEOUT,
            retention: None,
            eviction_interval: defaults::EVICTION_INTERVAL,
            commit_group: defaults::COMMIT_GROUP,
            tls: None,
            auth: None,
            metrics: Arc::new(Metrics::new()),
        }
    }
}

impl ServerConfig {
    /// Largest request message: a full body plus headline and metadata.
    fn max_decoding_bytes(&self) -> usize {
        self.max_body_bytes + 64 * 1024
    }

    /// Largest response message: GetCluster carries the canonical body, its
    /// summary and the member list.
    fn max_encoding_bytes(&self) -> usize {
        2 * self.max_body_bytes + 4 * 1024 * 1024
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reflection could not be built from the embedded descriptors.
    #[error("building the reflection service failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Settings that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Serves copydesk on `listener` with an in-memory store of the default
/// matching settings until `shutdown` completes, then drains in-flight
/// calls for at most `drain_timeout`. A store with other settings, or a
/// durable one, goes to [`serve_with_store`].
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = MemoryStore::new(IndexConfig::default());
    serve_with_store(listener, config, Arc::new(store), shutdown).await
}

/// Like [`serve`], on a store the caller built.
pub async fn serve_with_store(
    listener: TcpListener,
    config: ServerConfig,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if config.max_body_bytes == 0
        || config.stream_buffer == 0
        || config.max_concurrent_requests == 0
        || config.commit_group == 0
    {
        return Err(ServeError::Config(
            "max body bytes, stream buffer, concurrency and commit group must be at least 1".into(),
        ));
    }
    let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, Arc::clone(&config.metrics)));
    // Owned here: retention stops when serving ends.
    let _retention = config
        .retention
        .map(|window| Retention::start(Arc::clone(&store), window, config.eviction_interval));
    let limits = Limits {
        max_body_bytes: config.max_body_bytes,
    };
    let summary = SummaryServiceServer::new(SummaryApi::new(limits))
        .max_decoding_message_size(config.max_decoding_bytes())
        .max_encoding_message_size(config.max_encoding_bytes());
    let write_state_store = Arc::clone(&store);
    let dedup = DedupServiceServer::new(DedupApi::new(
        store,
        limits,
        config.stream_buffer,
        config.commit_group,
    ))
    .max_decoding_message_size(config.max_decoding_bytes())
    .max_encoding_message_size(config.max_encoding_bytes());

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<SummaryServiceServer<SummaryApi>>()
        .await;
    health.set_serving::<DedupServiceServer<DedupApi>>().await;
    // Owned here: it stops when serving ends, and before draining marks
    // every service NOT_SERVING, so it cannot mark one SERVING again.
    let write_health = AbortOnDrop(tokio::spawn(report_write_state(
        write_state_store,
        health.clone(),
    )));

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            // tonic-types first: its google.rpc files win over our copy.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(super::proto::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let address = listener.local_addr().ok();
    tracing::info!(?address, tls = config.tls.is_some(), "copydesk serving");

    let (draining_tx, mut draining_rx) = tokio::sync::watch::channel(false);
    let drain_health = health.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight calls");
        drop(write_health);
        drain_health
            .set_not_serving::<SummaryServiceServer<SummaryApi>>()
            .await;
        drain_health
            .set_not_serving::<DedupServiceServer<DedupApi>>()
            .await;
        let _ = draining_tx.send(true);
    };

    let methods = MethodTable::from_descriptor_sets(&[
        super::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]);
    let router = Server::builder()
        .concurrency_limit_per_connection(config.max_concurrent_requests)
        // Outermost first: a call refused for its token is still counted.
        .layer(MetricsLayer::new(config.metrics.grpc().clone(), methods))
        .layer(AuthLayer::new(config.auth.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(summary)
        .add_service(dedup);
    let server: std::pin::Pin<
        Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>,
    > = match config.tls.clone() {
        Some(tls) => {
            Box::pin(router.serve_with_incoming_shutdown(tls_incoming(listener, tls), signal))
        }
        None => {
            // Small answers must not wait for the client's delayed ACK
            // (Nagle): tonic sets TCP_NODELAY only on listeners it
            // binds itself.
            let incoming = TcpListenerStream::new(listener).map(|connection| {
                if let Ok(stream) = &connection
                    && let Err(err) = stream.set_nodelay(true)
                {
                    tracing::warn!(cause = %err, "cannot set TCP_NODELAY");
                }
                connection
            });
            Box::pin(router.serve_with_incoming_shutdown(incoming, signal))
        }
    };

    let drain_deadline = async {
        if draining_rx.wait_for(|draining| *draining).await.is_err() {
            // The signal was dropped unsent: the server itself has ended.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(config.drain_timeout).await;
    };
    tokio::select! {
        result = server => result?,
        () = drain_deadline => {
            tracing::warn!(timeout = ?config.drain_timeout, "drain timeout: closing remaining calls");
        }
    }
    tracing::info!("copydesk stopped");
    Ok(())
}

/// Aborts a task when dropped: a task the server owns ends with it.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often a store that refuses writes is checked again for room.
const WRITE_RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps the dedup service's health in step with whether the store takes
/// writes: NOT_SERVING while it refuses them (a full data directory, or a
/// store healing after a failed commit), so a
/// load balancer sends ingests elsewhere, and SERVING again once it takes
/// them, which it checks for every [`WRITE_RECHECK_INTERVAL`] without a
/// client having to try a write.
async fn report_write_state(store: Arc<dyn Store>, health: HealthReporter) {
    let mut states = store.write_state();
    let mut refused = false;
    loop {
        let state = states.borrow_and_update().clone();
        match state {
            WriteState::Accepting => {
                if std::mem::take(&mut refused) {
                    tracing::info!("dedup service SERVING: the store takes writes again");
                }
                health.set_serving::<DedupServiceServer<DedupApi>>().await;
                if states.changed().await.is_err() {
                    return;
                }
            }
            WriteState::Refusing(reason) => {
                refused = true;
                tracing::warn!(%reason, "dedup service NOT_SERVING: the store refuses writes");
                health
                    .set_not_serving::<DedupServiceServer<DedupApi>>()
                    .await;
                loop {
                    tokio::select! {
                        changed = states.changed() => {
                            if changed.is_err() {
                                return;
                            }
                            break;
                        }
                        () = tokio::time::sleep(WRITE_RECHECK_INTERVAL) => {
                            if store.recheck_writes().await == WriteState::Accepting {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}
