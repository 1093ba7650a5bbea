//! The gRPC face of copydesk: `copydesk.v1` over tonic, with health and
//! reflection.
//!
//! Every handler does the same four steps: validate the request into core
//! types ([`convert`]), run the core off the async executor, convert the
//! answer back, and map any error through the one [`error::ApiError`] →
//! `Status` mapping.

mod auth;
pub mod client;
pub mod codec;
mod convert;
mod dedup_service;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod observe;
mod server;
mod summary_service;
mod tls;

pub use auth::{AccessTokens, AuthConfig, MIN_TOKEN_LEN, Scope, TokensError};
pub use convert::{
    changes as changes_message, evidence as evidence_of, story_message,
    version_changes as version_changes_of,
};
pub use error::ApiError;
pub(crate) use server::AbortOnDrop;
pub use server::{ServeError, ServerConfig, defaults, serve, serve_with_store};
pub use tls::{ServerTls, TlsError, TlsFiles};

/// The peer's address from a connection's info, plain or TLS.
fn peer_address(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
}

/// Generated protobuf types and tonic stubs for `copydesk.v1`.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
    tonic::include_proto!("copydesk.v1");

    /// Encoded descriptors of `proto/`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("copydesk_descriptor");
}

/// The span of one RPC: its method and the peer's address, with room for
/// what the handler learns (the story id, sizes). Every RPC logs one line
/// in it when it ends (see [`traced`]).
fn rpc_span<T>(method: &'static str, request: &tonic::Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        method,
        peer = tracing::field::Empty,
        story_id = tracing::field::Empty,
        body_bytes = tracing::field::Empty,
        items = tracing::field::Empty,
    );
    if let Some(peer) = request.remote_addr() {
        span.record("peer", tracing::field::display(peer));
    }
    span
}

/// The gRPC name of a status code, as clients and dashboards spell it
/// (`INVALID_ARGUMENT`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Runs a handler body inside its RPC span, logs one line at info when it
/// ends (status code, elapsed time; for a refused request the fields at
/// fault, never the body), and maps its error to a `Status`.
async fn traced<T>(
    span: tracing::Span,
    handler: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, tonic::Status> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let result = handler.instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    let result = result.map_err(|err| {
        let fields = match &err {
            ApiError::InvalidArgument(violations) => violations
                .iter()
                .map(|v| v.field.as_str())
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        let cause = err.to_string();
        let status = tonic::Status::from(err);
        if fields.is_empty() {
            tracing::info!(code = code_name(status.code()), elapsed_ms, %cause, "rpc");
        } else {
            tracing::info!(code = code_name(status.code()), elapsed_ms, fields, "rpc");
        }
        status
    });
    if result.is_ok() {
        tracing::info!(code = "OK", elapsed_ms, "rpc");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_spelled_as_grpc_spells_them() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(tonic::Code::DataLoss), "DATA_LOSS");
        assert_eq!(code_name(tonic::Code::NotFound), "NOT_FOUND");
    }
}
