//! The gRPC face of copydesk: `copydesk.v1` over tonic, with health and
//! reflection.
//!
//! Every handler does the same four steps: validate the request into core
//! types ([`convert`]), run the core off the async executor, convert the
//! answer back, and map any error through the one [`error::ApiError`] →
//! `Status` mapping.

mod convert;
mod dedup_service;
mod error;
mod server;
mod summary_service;

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
