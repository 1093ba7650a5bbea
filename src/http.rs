//! The operations listener (`--metrics-listen`): plain HTTP for the
//! platform's probes and scraper, apart from the gRPC port.
//!
//! - `/healthz`: 200 while the process serves (liveness).
//! - `/readyz`: 200 when the store takes writes and the server is not
//!   draining, else 503 with the reason (readiness: a load balancer sends
//!   ingests elsewhere).
//! - `/metrics`: Prometheus text (format 0.0.4) of [`Metrics`]: the gRPC
//!   series and copydesk's own (README, "Running in production").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::store::{Store, WriteState};

/// What the probes read.
#[derive(Debug, Clone)]
pub struct OpsState {
    /// The store whose write state readiness reports.
    pub store: Arc<dyn Store>,
    /// Set once the server starts draining for shutdown.
    pub draining: Arc<AtomicBool>,
    /// The registry `/metrics` renders.
    pub metrics: Arc<Metrics>,
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
    let body = state.metrics.render(state.store.as_ref()).await;
    ([(header::CONTENT_TYPE, Metrics::CONTENT_TYPE)], body)
}
