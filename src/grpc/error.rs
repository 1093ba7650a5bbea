//! The API's error type and its one mapping to `tonic::Status` (AIP-193).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::names;
use crate::store::{StoreError, chain};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; each violation names its field.
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task died (a bug); details go to the log only.
    #[error("worker task failed: {0}")]
    Worker(String),
}

impl ApiError {
    /// One bad field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::Worker(err.to_string())
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        match err {
            ApiError::InvalidArgument(violations) => {
                let message = format!("invalid request: {}", describe(&violations));
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            ApiError::Store(StoreError::StoryNotFound(id)) => {
                Status::not_found(format!("{} not found", names::story(&id)))
            }
            ApiError::Store(StoreError::ClusterNotFound(id)) => {
                Status::not_found(format!("{} not found", names::cluster(id)))
            }
            ApiError::Store(err @ StoreError::Full { .. }) => {
                tracing::error!(cause = %chain(&err), "data directory full: refusing writes");
                Status::resource_exhausted(
                    "the data directory is full: writes are refused until space is freed",
                )
            }
            ApiError::Store(StoreError::Damaged(record)) => {
                tracing::error!(%record, "a stored record is damaged");
                Status::data_loss(format!(
                    "{record}: the stored copy is damaged; send it again, or see `copydesk store check`"
                ))
            }
            // The engine failed (an I/O error): nothing of the call was
            // stored, and the store heals by reopening its file, so the
            // client should retry.
            ApiError::Store(err @ StoreError::Engine { .. }) => {
                tracing::error!(cause = %chain(&err), "store engine failed");
                Status::unavailable("the store failed; try again shortly")
            }
            ApiError::Store(err @ StoreError::Refusing { .. }) => {
                tracing::error!(cause = %chain(&err), "store refusing work until it heals");
                Status::unavailable(
                    "the store cannot serve just now after a failed write; try again shortly",
                )
            }
            // Concurrent writers on one database kept conflicting: nothing
            // was stored, and the same call is likely to go through now.
            ApiError::Store(err @ StoreError::Contended { .. }) => {
                tracing::warn!(cause = %chain(&err), "ingest contended");
                Status::aborted("other replicas changed the same clusters meanwhile; try again")
            }
            // Bugs, or a file changed by hand: retrying will not help.
            ApiError::Store(
                err @ (StoreError::Inconsistent(_) | StoreError::Restore(_) | StoreError::Task(_)),
            ) => {
                tracing::error!(cause = %chain(&err), "store failed");
                Status::internal("internal error")
            }
            ApiError::Worker(detail) => {
                tracing::error!(cause = %detail, "worker task failed");
                Status::internal("internal error")
            }
        }
    }
}

/// The `google.rpc.Status` form of a status, details included, for an error
/// carried inside a streamed response.
pub fn to_rpc_status(status: &Status) -> tonic_types::pb::Status {
    use prost::Message as _;
    let plain = || tonic_types::pb::Status {
        code: status.code() as i32,
        message: status.message().to_owned(),
        details: Vec::new(),
    };
    // Details, when present, already hold the whole encoded google.rpc.Status.
    if status.details().is_empty() {
        return plain();
    }
    tonic_types::pb::Status::decode(status.details()).unwrap_or_else(|_| plain())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let status = Status::from(ApiError::field("story.body", "must not be empty"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = status.get_details_bad_request().expect("BadRequest detail");
        assert_eq!(bad.field_violations[0].field, "story.body");
        let rpc = to_rpc_status(&status);
        assert_eq!(rpc.code, Code::InvalidArgument as i32);
        assert_eq!(rpc.details.len(), 1);
        let plain = to_rpc_status(&Status::not_found("stories/x not found"));
        assert_eq!(plain.code, Code::NotFound as i32);
    }

    #[test]
    fn a_store_that_refuses_until_it_heals_is_unavailable() {
        let status = Status::from(ApiError::Store(StoreError::refusing(
            "reopen: permission denied on /data",
        )));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("/data"));
    }

    #[test]
    fn engine_detail_stays_in_the_log_and_the_client_retries() {
        let failed = StoreError::engine("commit", std::io::Error::other("disk on fire"));
        let status = Status::from(ApiError::Store(failed));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("disk"));
        let bug = StoreError::Inconsistent("canonical story \"a\" has no text".into());
        let status = Status::from(ApiError::Store(bug));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("canonical"));
    }
}
