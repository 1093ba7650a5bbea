//! The gRPC face of copydesk: `copydesk.v1` over tonic, with health and
//! reflection.
//!
//! Every handler does the same four steps: validate the request into core
//! types ([`convert`]), run the core off the async executor, convert the
//! answer back, and map any error through the one [`error::ApiError`] →
//! `Status` mapping.

pub mod codec;
mod convert;
mod dedup_service;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod server;
mod summary_service;

pub use convert::story_message;
pub use error::ApiError;
pub use server::{ServeError, ServerConfig, serve, serve_with_store};

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
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    if name == "O_K" { "OK".into() } else { name }
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
            tracing::info!(code = %code_name(status.code()), elapsed_ms, %cause, "rpc");
        } else {
            tracing::info!(code = %code_name(status.code()), elapsed_ms, fields, "rpc");
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
