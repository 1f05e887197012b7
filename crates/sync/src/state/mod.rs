//! Durable run state: per-stream progress of sync runs (the board being
//! read, its bookmark, the destination position, counts, status) and the
//! publish ledger, each behind a small async trait.
//!
//! Two implementations: [`StoreState`] keeps the state in Pinion's store
//! (what `pinion sync` and `pinion publish` use), and [`SqlState`] in a
//! standalone SQLite file (WAL, `synchronous=FULL`) or PostgreSQL database
//! (`--state`, and the crash-test worker). A checkpoint is one transaction,
//! so after a crash the state holds either the previous checkpoint or the
//! new one, never half of each.

mod sql;
mod store;

pub use sql::SqlState;
pub use store::StoreState;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StateError;
use crate::stream::StreamName;

/// A sync run's id in the state store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

/// Where one partition (a board, a section, an ad account, or `""` for a
/// stream read as one list) of a stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionProgress {
    /// The bookmark of the next page to read; `None` with `done == false`
    /// means "from the first page".
    pub bookmark: Option<String>,
    /// True once every page of the partition is committed.
    pub done: bool,
    /// The partition's change marker seen by this run (a board's
    /// `board_pins_modified_at`, the last analytics date), promoted to the
    /// job's watermarks when the run succeeds.
    pub watermark: Option<String>,
}

/// A stream's status in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Started, not finished.
    Running,
    /// Every record committed and the output completed.
    Done,
    /// Not read: scopes or options prevented it (see the message).
    Skipped,
    /// Stopped by an error (see the message); resumable.
    Failed,
}

impl StreamStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Running => "running",
            StreamStatus::Done => "done",
            StreamStatus::Skipped => "skipped",
            StreamStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StateError> {
        Ok(match text {
            "running" => StreamStatus::Running,
            "done" => StreamStatus::Done,
            "skipped" => StreamStatus::Skipped,
            "failed" => StreamStatus::Failed,
            other => return Err(StateError::Corrupt(format!("stream status `{other}`"))),
        })
    }
}

/// What a run had committed for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProgress {
    /// The stream's status.
    pub status: StreamStatus,
    /// The destination position of the last commit.
    pub position: Option<u64>,
    /// Records committed so far.
    pub records: u64,
    /// Progress per partition.
    pub partitions: HashMap<String, PartitionProgress>,
}

/// A run that was started or resumed.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// The run.
    pub run_id: RunId,
    /// True when an unfinished run was continued.
    pub resumed: bool,
    /// What that run had committed, per stream (empty for a new run).
    pub streams: HashMap<StreamName, StreamProgress>,
}

/// One checkpoint of a stream: saved only after the destination committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The destination position returned by the commit.
    pub position: u64,
    /// Records committed in the stream so far.
    pub records: u64,
    /// The partitions that moved since the previous checkpoint.
    pub partitions: Vec<(String, PartitionProgress)>,
}

/// Stores sync-run progress.
#[async_trait]
pub trait RunStateStore: Send + Sync {
    /// Starts a run of `job` (a credential plus destination, chosen by the
    /// caller). With `resume`, continues the latest run of `job` that did not
    /// succeed, if any.
    async fn begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StateError>;

    /// Saves a checkpoint atomically.
    async fn save_checkpoint(
        &self,
        run: RunId,
        stream: StreamName,
        checkpoint: &Checkpoint,
    ) -> Result<(), StateError>;

    /// Records a stream's status and a message saying why (for skipped and
    /// failed streams).
    async fn set_stream_status(
        &self,
        run: RunId,
        stream: StreamName,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StateError>;

    /// Ends a run. When it succeeded, the partitions' watermarks become the
    /// job's watermarks, used by the next incremental run.
    async fn finish_run(&self, run: RunId, job: &str, succeeded: bool) -> Result<(), StateError>;

    /// The job's watermarks for `stream`, by partition, from its last
    /// successful runs.
    async fn watermarks(
        &self,
        job: &str,
        stream: StreamName,
    ) -> Result<HashMap<String, String>, StateError>;
}

/// Where a publish row stands in the ledger (an outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerState {
    /// Written before the create request, and kept when the answer was
    /// lost (timeout, 5xx, cut answer): the object may exist, so it is
    /// looked for (after the settle window) before it is created again.
    Sent,
    /// Pinterest answered with the created object's id.
    Confirmed,
    /// Written by earlier versions for a lost answer; read like `Sent`.
    Unknown,
    /// Pinterest refused the row; nothing was created.
    Failed,
}

impl LedgerState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Sent => "sent",
            LedgerState::Confirmed => "confirmed",
            LedgerState::Unknown => "unknown",
            LedgerState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StateError> {
        Ok(match text {
            "sent" => LedgerState::Sent,
            "confirmed" => LedgerState::Confirmed,
            "unknown" => LedgerState::Unknown,
            "failed" => LedgerState::Failed,
            other => return Err(StateError::Corrupt(format!("ledger state `{other}`"))),
        })
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The state.
    pub state: LedgerState,
    /// The board the object was created on (pins) or `""` (boards).
    pub target: String,
    /// The created object's id, once confirmed.
    pub object_id: Option<String>,
    /// When the first create request for the key was sent; later sends
    /// never move it, so a search for the object reaches back to it.
    pub sent_at: Option<DateTime<Utc>>,
    /// The last write of the entry: for a `sent` row, the lost answer (or
    /// the send, after a crash), from which the settle window runs.
    pub updated_at: DateTime<Utc>,
    /// Why it failed, or why its outcome is unknown.
    pub message: Option<String>,
}

/// Stores what publishing created, so a rerun creates nothing twice.
#[async_trait]
pub trait PublishLedger: Send + Sync {
    /// The entry for `key` in `namespace` (a credential), if any.
    async fn entry(&self, namespace: &str, key: &str) -> Result<Option<LedgerEntry>, StateError>;

    /// Records, durably and before the request, that `key` is being created
    /// on `target`: state `sent`, with `sent_at` set by the first call only.
    async fn record_sent(&self, namespace: &str, key: &str, target: &str)
    -> Result<(), StateError>;

    /// Records the created object's id.
    async fn record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StateError>;

    /// Records an answer that was lost (`Sent`: the row stays `sent`) or a
    /// refusal (`Failed`), with the reason.
    async fn record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StateError>;

    /// Ids of objects confirmed on `target`, so reconciliation never claims
    /// an object that belongs to another row.
    async fn confirmed_ids(&self, namespace: &str, target: &str)
    -> Result<Vec<String>, StateError>;
}
