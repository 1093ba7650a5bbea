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

/// Runs a handler body inside its RPC span, logs how it ended, and maps
/// its error to a `Status`.
async fn traced<T>(
    span: tracing::Span,
    handler: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, tonic::Status> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let result = handler.instrument(span.clone()).await;
    let elapsed_us = started.elapsed().as_micros() as u64;
    let _entered = span.enter();
    match &result {
        Ok(_) => tracing::debug!(elapsed_us, "rpc ok"),
        Err(ApiError::InvalidArgument(_)) => {
            tracing::debug!(elapsed_us, "rpc refused: invalid argument")
        }
        Err(err) => tracing::info!(elapsed_us, cause = %err, "rpc failed"),
    }
    result.map_err(tonic::Status::from)
}
