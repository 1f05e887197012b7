//! Runs of one process take turns at the database (issue 14: a hundred
//! concurrent runs must not starve the API).
//!
//! Every run writes checkpoints, stream statuses and progress snapshots. A
//! hundred runs reading from a fast server write far more often than the
//! connection pool can serve, and a pool that everyone queues on makes the
//! API wait behind them: requests to `/api/v1/...` took seconds, and on
//! PostgreSQL runs failed with "timed out waiting for a database
//! connection". So a run's sync-state calls and progress writes first take
//! one of [`RUN_DATABASE_CALLS`] turns shared by the process's runs; the
//! rest of the pool stays free for the API, the schedulers and the lease
//! renewals (which take no turn: a late renewal loses the run).
//!
//! A run waiting for its turn only waits: the engine's checkpoints are
//! coalesced by the engine itself, so a slower write means fewer writes,
//! not a backlog.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pinion_store::{
    Checkpoint, LedgerEntry, LedgerState, RunStart, StoreError, StreamStatus, SyncRunId,
    SyncStateStore,
};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many database calls the runs of one process make at once. The pool
/// holds 8 connections (`pinion_store::ConnectOptions::max_connections`), so
/// at least 4 stay free for everything else.
pub const RUN_DATABASE_CALLS: usize = 4;

/// The turns shared by the runs of one process.
#[derive(Debug, Clone)]
pub struct Turns {
    semaphore: Arc<Semaphore>,
}

impl Default for Turns {
    fn default() -> Self {
        Self::new(RUN_DATABASE_CALLS)
    }
}

impl Turns {
    /// `calls` turns (at least one).
    pub fn new(calls: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(calls.max(1))),
        }
    }

    /// Waits for a turn; the turn ends when the permit drops.
    pub async fn take(&self) -> SemaphorePermit<'_> {
        self.semaphore
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// `state` whose every call waits for a turn.
    pub fn state(&self, state: Arc<dyn SyncStateStore>) -> Arc<dyn SyncStateStore> {
        Arc::new(InTurn {
            turns: self.clone(),
            inner: state,
        })
    }
}

/// A sync-state store whose calls take turns.
#[derive(Debug)]
struct InTurn {
    turns: Turns,
    inner: Arc<dyn SyncStateStore>,
}

#[async_trait]
impl SyncStateStore for InTurn {
    async fn sync_begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StoreError> {
        let _turn = self.turns.take().await;
        self.inner.sync_begin_run(job, resume).await
    }

    async fn sync_save_checkpoint(
        &self,
        run: SyncRunId,
        stream: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner
            .sync_save_checkpoint(run, stream, checkpoint)
            .await
    }

    async fn sync_set_stream_status(
        &self,
        run: SyncRunId,
        stream: &str,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner
            .sync_set_stream_status(run, stream, status, message)
            .await
    }

    async fn sync_finish_run(
        &self,
        run: SyncRunId,
        job: &str,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner.sync_finish_run(run, job, succeeded).await
    }

    async fn sync_watermarks(
        &self,
        job: &str,
        stream: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let _turn = self.turns.take().await;
        self.inner.sync_watermarks(job, stream).await
    }

    async fn ledger_entry(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let _turn = self.turns.take().await;
        self.inner.ledger_entry(namespace, key).await
    }

    async fn ledger_record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner.ledger_record_sent(namespace, key, target).await
    }

    async fn ledger_record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner
            .ledger_record_confirmed(namespace, key, object_id)
            .await
    }

    async fn ledger_record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.turns.take().await;
        self.inner
            .ledger_record_outcome(namespace, key, state, message)
            .await
    }

    async fn ledger_confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StoreError> {
        let _turn = self.turns.take().await;
        self.inner.ledger_confirmed_ids(namespace, target).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A state store that counts the calls in progress and remembers the
    /// most at once.
    #[derive(Debug, Default)]
    struct Counting {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl SyncStateStore for Counting {
        async fn sync_begin_run(&self, _: &str, _: bool) -> Result<RunStart, StoreError> {
            unreachable!()
        }
        async fn sync_save_checkpoint(
            &self,
            _: SyncRunId,
            _: &str,
            _: &Checkpoint,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn sync_set_stream_status(
            &self,
            _: SyncRunId,
            _: &str,
            _: StreamStatus,
            _: Option<&str>,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn sync_finish_run(&self, _: SyncRunId, _: &str, _: bool) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn sync_watermarks(
            &self,
            _: &str,
            _: &str,
        ) -> Result<HashMap<String, String>, StoreError> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(HashMap::new())
        }
        async fn ledger_entry(&self, _: &str, _: &str) -> Result<Option<LedgerEntry>, StoreError> {
            unreachable!()
        }
        async fn ledger_record_sent(&self, _: &str, _: &str, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn ledger_record_confirmed(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn ledger_record_outcome(
            &self,
            _: &str,
            _: &str,
            _: LedgerState,
            _: &str,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn ledger_confirmed_ids(&self, _: &str, _: &str) -> Result<Vec<String>, StoreError> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn no_more_calls_at_once_than_turns() {
        let counting = Arc::new(Counting::default());
        let turns = Turns::new(3);
        let state = turns.state(counting.clone());
        let calls = (0..50).map(|_| {
            let state = state.clone();
            async move { state.sync_watermarks("job", "boards").await.unwrap() }
        });
        futures::future::join_all(calls).await;
        assert_eq!(counting.most.load(Ordering::SeqCst), 3);
        assert_eq!(counting.now.load(Ordering::SeqCst), 0);
    }
}
