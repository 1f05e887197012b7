//! What can go wrong in a sync or a publish run, sorted by what the caller
//! must do about it.
//!
//! Every error names the stream (and, for reads, the Pinterest endpoint and
//! cause, through [`pinion_pinterest::ApiError`]'s own message), so a failed
//! run says exactly what stopped it. No variant ever holds a token.

use pinion_pinterest::{ApiError, ErrorAction};

use crate::stream::StreamName;

/// A destination that could not take or keep records.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// A file could not be created, written, synced or renamed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database refused a statement or a commit.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Output left by an earlier run does not match its checkpoint, so
    /// resuming could lose or duplicate records.
    #[error("cannot resume: {0}")]
    Inconsistent(String),
    /// The destination string is not understood.
    #[error("invalid destination `{0}`: expected jsonl:DIR, sqlite:PATH, postgres://URL or stdout")]
    Invalid(String),
}

/// The run-state or ledger database failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database refused a statement or a commit.
    #[error("sync state database: {0}")]
    Database(#[from] sqlx::Error),
    /// The state location is not understood.
    #[error("invalid state location `{0}`: expected a file path, sqlite:PATH or postgres://URL")]
    Invalid(String),
    /// A stored value could not be read back.
    #[error("sync state is corrupt: {0}")]
    Corrupt(String),
    /// The state's database (Pinion's store, or the location `--state`
    /// names) failed.
    #[error("sync state: {0}")]
    Store(#[from] pinion_store::StoreError),
    /// The state location named by `--state` could not be opened.
    #[error("cannot open the sync state at {location}: {source}")]
    Open {
        /// The location, without any password.
        location: String,
        /// Why.
        #[source]
        source: pinion_store::StoreError,
    },
}

impl From<pinion_store::StoreError> for SyncError {
    fn from(err: pinion_store::StoreError) -> Self {
        SyncError::State(StateError::Store(err))
    }
}

/// A sync run that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Reading a stream from Pinterest failed after the client's retries.
    /// What to do next is [`SyncError::action`].
    #[error("stream {stream}{}: {source}", partition_text(.partition))]
    Source {
        /// The stream.
        stream: StreamName,
        /// The board, section or ad account being read, if any.
        partition: Option<String>,
        /// Pinterest's answer, naming the endpoint and cause.
        #[source]
        source: ApiError,
    },
    /// Writing a stream failed; what was committed before stays valid.
    #[error("stream {stream}: destination failed: {source}")]
    Destination {
        /// The stream.
        stream: StreamName,
        /// The cause.
        #[source]
        source: DestinationError,
    },
    /// The destination could not be opened at all.
    #[error("destination: {0}")]
    DestinationSetup(#[source] DestinationError),
    /// Progress could not be saved or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// A stream named explicitly needs scopes the credential was not granted.
    #[error(
        "stream {stream} needs the scope(s) {missing}, which the credential was not granted; authorize it again with them or leave the stream out"
    )]
    MissingScope {
        /// The stream.
        stream: StreamName,
        /// The missing scopes, comma-separated.
        missing: String,
    },
    /// The arguments are wrong; nothing was requested.
    #[error("{0}")]
    Invalid(String),
    /// The custom stream cannot be read as asked; nothing was requested.
    #[error("custom stream: {0}")]
    Custom(#[from] crate::custom::CustomError),
    /// The run finished but some streams did not complete; the report says
    /// which and why.
    #[error("{failed} stream(s) did not complete: {first}")]
    Incomplete {
        /// How many streams failed.
        failed: usize,
        /// The first failure's message.
        first: String,
    },
}

fn partition_text(partition: &Option<String>) -> String {
    match partition {
        Some(p) => format!(" ({p})"),
        None => String::new(),
    }
}

impl SyncError {
    /// What the caller should do next: retry later (the run can be resumed
    /// with `--resume`), reauthorize the credential, or fix the request.
    pub fn action(&self) -> ErrorAction {
        match self {
            SyncError::Source { source, .. } => source.action(),
            SyncError::MissingScope { .. } => ErrorAction::Reauthorize,
            SyncError::Destination { .. } | SyncError::State(_) | SyncError::Incomplete { .. } => {
                ErrorAction::RetryLater(None)
            }
            SyncError::DestinationSetup(_) | SyncError::Invalid(_) | SyncError::Custom(_) => {
                ErrorAction::GiveUp
            }
        }
    }
}
