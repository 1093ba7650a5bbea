//! The operations listener (`--metrics-listen`): plain HTTP for the
//! platform's probes and scraper, apart from the gRPC port.
//!
//! - `/healthz`: 200 while the process serves (liveness).
//! - `/readyz`: 200 when the store takes writes and the server is not
//!   draining, else 503 with the reason (readiness: a load balancer sends
//!   ingests elsewhere).
//! - `/metrics`: Prometheus text (format 0.0.4) of [`Metrics`]: the gRPC
//!   series and copydesk's own (README, "Running in production").
//! - `/`, `/clusters/{n}`, `/desk.css`: the editor's page (see
//!   [`crate::page`]): newest clusters first, and one cluster's timeline.
//!   Read-only; with access tokens, it needs a read or write token, sent as
//!   `Authorization: Bearer TOKEN` or as the password of HTTP Basic
//!   authentication (a browser asks for it). The probes and `/metrics`
//!   stay open for the platform.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use tokio::net::TcpListener;

use crate::dedup::ClusterId;
use crate::grpc::AuthConfig;
use crate::metrics::Metrics;
use crate::page;
use crate::store::{Store, StoreError, WriteState};

/// What the probes read.
#[derive(Debug, Clone)]
pub struct OpsState {
    /// The store whose write state readiness reports.
    pub store: Arc<dyn Store>,
    /// Set once the server starts draining for shutdown.
    pub draining: Arc<AtomicBool>,
    /// The registry `/metrics` renders.
    pub metrics: Arc<Metrics>,
    /// The gRPC port's access tokens, which the editor's page needs too;
    /// `None` leaves it open.
    pub auth: Option<AuthConfig>,
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
        .route("/", get(newest_clusters))
        .route("/clusters/{id}", get(one_cluster))
        .route("/desk.css", get(styles))
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

/// Clusters a page of the list shows.
const CARDS_PER_PAGE: usize = 20;

/// Headers every page carries: no script may run, the page may not be
/// framed, and nothing is cached (a cluster changes as copy arrives).
fn page_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn plain_page(status: StatusCode, message: &str) -> Response {
    page_response(
        status,
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>copydesk</title></head><body><p>{}</p></body></html>\n",
            page::escape(message)
        ),
    )
}

/// The token a request presents: `Authorization: Bearer TOKEN`, or the
/// password of `Authorization: Basic` (what a browser sends once asked).
fn presented_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if scheme.eq_ignore_ascii_case(b"basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim_ascii())
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii().to_vec())
}

/// `None` when the request may see the page, else the refusal.
fn refused(state: &OpsState, headers: &HeaderMap) -> Option<Response> {
    let auth = state.auth.as_ref()?;
    let allowed = presented_token(headers).is_some_and(|token| auth.scope_of(&token).is_some());
    if allowed {
        return None;
    }
    let mut response = plain_page(
        StatusCode::UNAUTHORIZED,
        "This page needs a copydesk access token: give it as the password.",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"copydesk\", charset=\"UTF-8\""),
    );
    Some(response)
}

fn store_failure(e: &StoreError) -> Response {
    match e {
        StoreError::ClusterNotFound(id) => {
            plain_page(StatusCode::NOT_FOUND, &format!("There is no cluster {id}."))
        }
        other => {
            tracing::warn!(error = %other, "the editor's page could not be read from the store");
            plain_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store cannot be read just now; try again shortly.",
            )
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    before: Option<ClusterId>,
}

async fn newest_clusters(
    State(state): State<OpsState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Some(refusal) = refused(&state, &headers) {
        return refusal;
    }
    let Ok(Query(ListQuery { before })) = query else {
        return plain_page(StatusCode::BAD_REQUEST, "before must be a cluster number.");
    };
    match page::cluster_cards(state.store.as_ref(), before, CARDS_PER_PAGE).await {
        Ok((cards, older)) => page_response(StatusCode::OK, page::index_page(&cards, older)),
        Err(e) => store_failure(&e),
    }
}

async fn one_cluster(
    State(state): State<OpsState>,
    headers: HeaderMap,
    id: Result<Path<ClusterId>, axum::extract::rejection::PathRejection>,
) -> Response {
    if let Some(refusal) = refused(&state, &headers) {
        return refusal;
    }
    let Ok(Path(id)) = id else {
        return plain_page(StatusCode::NOT_FOUND, "A cluster is named by its number.");
    };
    match page::cluster_view(state.store.as_ref(), id).await {
        Ok(view) => page_response(StatusCode::OK, page::cluster_page(&view)),
        Err(e) => store_failure(&e),
    }
}

async fn styles(State(state): State<OpsState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&state, &headers) {
        return refusal;
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        page::STYLES,
    )
        .into_response()
}
