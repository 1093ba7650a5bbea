//! The store's two errors: [`OpenError`] when a store cannot be opened (at
//! startup, for the operator), and [`StoreError`] when one call fails (for
//! the caller, who maps it to what a client should do: see
//! `grpc::error`). Each keeps the engine's own error as its `source`, so a
//! log line with the error chain says what redb (or the file system) said.

use std::path::PathBuf;

use crate::dedup::{ClusterId, RestoreError};

/// An error of the storage engine underneath (redb, the file system, the
/// record encoding), kept whole as a `source`.
pub type EngineError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one call to a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No story with this id is stored.
    #[error("story {0:?} not found")]
    StoryNotFound(String),
    /// No cluster with this id exists.
    #[error("cluster {0} not found")]
    ClusterNotFound(ClusterId),
    /// The engine failed while the store was doing `context` ("commit",
    /// "read story"). The store heals from a failed commit by reopening
    /// its file; a client may retry.
    #[error("the store failed to {context}")]
    Engine {
        context: &'static str,
        #[source]
        source: EngineError,
    },
    /// The data directory's file system is full (or the quota is spent):
    /// writes are refused until space is freed; reads go on.
    #[error("the data directory is full ({context})")]
    Full {
        context: &'static str,
        #[source]
        source: Option<EngineError>,
    },
    /// An earlier commit failed and the store has not healed yet (its
    /// file could not be reopened and read back): it refuses work, and
    /// tries again on every call. As redb's `PreviousIo`, retrying later is
    /// right.
    #[error("the store refuses work until it heals: {reason}")]
    Refusing {
        reason: String,
        #[source]
        source: Option<Box<StoreError>>,
    },
    /// Other writers sharing the store kept changing the same stories or
    /// clusters while this one decided: it gave up after `attempts`
    /// tries, nothing of the call stored. Retrying is right.
    #[error("other writers changed the same clusters {attempts} times while this call decided")]
    Contended { attempts: u32 },
    /// A stored record fails its checksum or does not decode: damaged on
    /// disk. Names the record; the rest of the store keeps serving (see
    /// `copydesk store check`).
    #[error("{0}")]
    Damaged(String),
    /// What the store holds contradicts itself (a member with no text, a
    /// cluster naming a story that is not stored): a bug, or a file
    /// changed by hand.
    #[error("the store is inconsistent: {0}")]
    Inconsistent(String),
    /// The stored clusters and stories do not make one index.
    #[error("the stored records do not make one index")]
    Restore(#[source] RestoreError),
    /// The blocking task that ran the store's work died (a bug: a panic).
    #[error("a store task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl StoreError {
    /// The engine failed while doing `context`.
    pub fn engine(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Engine {
            context,
            source: Box::new(source),
        }
    }

    /// The same error for another caller (a group commit's failure is
    /// every caller's): the variant and its fields, with each `source`
    /// kept as its message.
    pub fn for_another_caller(&self) -> StoreError {
        let text =
            |source: &dyn std::error::Error| -> EngineError { Box::new(Message(chain(source))) };
        match self {
            StoreError::StoryNotFound(id) => StoreError::StoryNotFound(id.clone()),
            StoreError::ClusterNotFound(id) => StoreError::ClusterNotFound(*id),
            StoreError::Engine { context, source } => StoreError::Engine {
                context,
                source: text(source.as_ref()),
            },
            StoreError::Full { context, source } => StoreError::Full {
                context,
                source: source.as_deref().map(|s| text(s)),
            },
            StoreError::Refusing { reason, source } => StoreError::Refusing {
                reason: reason.clone(),
                source: source.as_deref().map(|s| Box::new(s.for_another_caller())),
            },
            StoreError::Damaged(record) => StoreError::Damaged(record.clone()),
            StoreError::Contended { attempts } => StoreError::Contended {
                attempts: *attempts,
            },
            StoreError::Inconsistent(what) => StoreError::Inconsistent(what.clone()),
            StoreError::Restore(err) => StoreError::Restore(err.clone()),
            StoreError::Task(err) => StoreError::Engine {
                context: "run a store task",
                source: text(err),
            },
        }
    }

    /// Refused because the store has not healed, for `reason`.
    pub fn refusing(reason: impl Into<String>) -> StoreError {
        StoreError::Refusing {
            reason: reason.into(),
            source: None,
        }
    }
}

/// Why a store cannot be opened. Reported once, at startup, to the
/// operator: each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// There is no store file (`store check` on an empty directory).
    #[error("there is no store in {path}")]
    Missing { path: PathBuf },
    /// Another process has the file open: one copydesk per data directory.
    #[error(
        "cannot open the store {path}: another process has it open (one copydesk per data \
         directory)"
    )]
    Locked { path: PathBuf },
    /// The file is there but is not a copydesk store, or cannot be read.
    #[error("cannot open the store {path}: {reason}")]
    NotAStore { path: PathBuf, reason: String },
    /// The engine refused the file.
    #[error("cannot open the store {path}")]
    Engine {
        path: PathBuf,
        #[source]
        source: EngineError,
    },
    /// The file was written with another schema version.
    #[error(
        "the store was written with schema version {found}; this copydesk reads version {expected} \
         (use the copydesk release that wrote it, or start from an empty data directory)"
    )]
    Schema { found: u32, expected: u32 },
    /// Reading the file failed beyond its records (the engine panicked on
    /// it): damaged.
    #[error(
        "cannot open the store {path}: the file is damaged: reading it failed ({detail}); \
         `copydesk store check` tells more, or restore it from a backup"
    )]
    Damaged { path: PathBuf, detail: String },
    /// The database of a shared store did not answer, or refused the
    /// schema.
    #[error("cannot open the store in the database {target}")]
    Database {
        target: String,
        #[source]
        source: EngineError,
    },
    /// Reading the records back to rebuild the index failed.
    #[error("cannot open the store {path}: reading it back failed")]
    Read {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
}

/// An engine error known only by its message (see
/// [`StoreError::for_another_caller`]).
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// The message of `err` and every `source` under it, joined with ": ",
/// for a log line or a CLI's last word.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_says_what_the_engine_said() {
        let io = std::io::Error::other("Input/output error");
        let failed = StoreError::engine("commit", io);
        let refusing = StoreError::Refusing {
            reason: "an earlier commit failed and the file could not be reopened".into(),
            source: Some(Box::new(failed)),
        };
        assert_eq!(
            chain(&refusing),
            "the store refuses work until it heals: an earlier commit failed and the file could \
             not be reopened: the store failed to commit: Input/output error"
        );
    }
}
