//! The operations listener (`--metrics-listen`): plain HTTP for the
//! platform's probes and scraper, apart from the gRPC port.
//!
//! - `/healthz`: 200 while the process serves (liveness).
//! - `/readyz`: 200 when the store takes writes and the server is not
//!   draining, else 503 with the reason (readiness: a load balancer sends
//!   ingests elsewhere).
//! - `/metrics`: Prometheus text: `copydesk_build_info{version,commit}`
//!   and `copydesk_store_accepting_writes`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::store::{Store, WriteState};

/// What the probes read.
#[derive(Debug, Clone)]
pub struct OpsState {
    /// The store whose write state readiness reports.
    pub store: Arc<dyn Store>,
    /// Set once the server starts draining for shutdown.
    pub draining: Arc<AtomicBool>,
}

/// Serves the operations endpoints on `listener` until `shutdown` ends.
pub async fn serve_ops(
    listener: TcpListener,
    state: OpsState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Why the server is not ready, if it is not.
fn not_ready(state: &OpsState) -> Option<String> {
    if state.draining.load(Ordering::Relaxed) {
        return Some("draining for shutdown".into());
    }
    match &*state.store.write_state().borrow() {
        WriteState::Accepting => None,
        WriteState::Refusing(reason) => Some(reason.clone()),
    }
}

async fn ready(State(state): State<OpsState>) -> impl IntoResponse {
    match not_ready(&state) {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    let accepting = matches!(*state.store.write_state().borrow(), WriteState::Accepting);
    let body = format!(
        "# HELP copydesk_build_info The version and commit of this copydesk.\n\
         # TYPE copydesk_build_info gauge\n\
         copydesk_build_info{{version=\"{}\",commit=\"{}\"}} 1\n\
         # HELP copydesk_store_accepting_writes 1 while the store takes writes, 0 while it refuses them (a full data directory).\n\
         # TYPE copydesk_store_accepting_writes gauge\n\
         copydesk_store_accepting_writes {}\n",
        crate::VERSION,
        crate::COMMIT,
        u8::from(accepting),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
