//! Durable run state: per-stream progress of sync runs (the board being
//! read, its bookmark, the destination position, counts, status) and the
//! publish ledger.
//!
//! Both are Pinion's store's: its [`pinion_store::SyncStateStore`] part,
//! with its types, re-exported here under the names the sync code uses
//! ([`RunStateStore`] and [`PublishLedger`] are that one trait). The state
//! lives in Pinion's store (what `pinion sync` and `pinion publish` use) or
//! in a database of its own that [`open`] opens (`--state`, and the
//! crash-test worker): a SQLite file (WAL, `synchronous=FULL`) or a
//! PostgreSQL database, with the store's sync-state migration and SQL. A
//! checkpoint is one transaction, so after a crash the state holds either
//! the previous checkpoint or the new one, never half of each.

use std::sync::Arc;
use std::time::Duration;

/// Stores sync-run progress: the store's sync-state part.
pub use pinion_store::SyncStateStore as RunStateStore;
/// Stores what publishing created, so a rerun creates nothing twice: the
/// store's sync-state part.
pub use pinion_store::SyncStateStore as PublishLedger;
pub use pinion_store::{
    Checkpoint, LedgerEntry, LedgerState, PartitionProgress, RunStart, StreamProgress,
    StreamStatus, SyncRunId as RunId, SyncStateStore,
};

use crate::destination::redact_url;
use crate::error::StateError;

/// Opens the state at `location`: `postgres://…`, `sqlite:PATH` or a plain
/// file path (created if missing), applying the store's sync-state
/// migration only. Errors name the location without its password.
pub async fn open(location: &str) -> Result<Arc<dyn SyncStateStore>, StateError> {
    let postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
    let options = pinion_store::ConnectOptions {
        // One writer connection on SQLite, as the state always had: the
        // streams of a run take turns at their checkpoints.
        max_connections: if postgres { 4 } else { 1 },
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(30),
        acquire_timeout: Duration::from_secs(30),
        ..pinion_store::ConnectOptions::default()
    };
    pinion_store::open_sync_state(location, &options)
        .await
        .map_err(|source| match source {
            pinion_store::StoreError::InvalidLocation(_) => StateError::Invalid(shown(location)),
            source => StateError::Open {
                location: shown(location),
                source,
            },
        })
}

/// `location` for messages: a URL without its password.
fn shown(location: &str) -> String {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        redact_url(location)
    } else {
        location.to_owned()
    }
}
