//! [`StoreState`]: run state and the publish ledger kept in Pinion's store
//! (its SQLite file or PostgreSQL database), through the store's
//! `SyncStateStore` part. This is where `pinion sync` and `pinion publish`
//! keep their state; [`super::SqlState`] remains for a standalone file
//! (`--state`, and the crash-test worker, which has no store).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pinion_store::{SyncPartitionState, SyncStateStore};

use super::{
    Checkpoint, LedgerEntry, LedgerState, PartitionProgress, PublishLedger, RunId, RunStart,
    RunStateStore, StreamProgress, StreamStatus,
};
use crate::error::StateError;
use crate::stream::StreamName;

/// Run state and ledger in Pinion's store (only its sync-state part).
#[derive(Clone)]
pub struct StoreState {
    store: Arc<dyn SyncStateStore>,
}

impl std::fmt::Debug for StoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreState").finish_non_exhaustive()
    }
}

impl StoreState {
    /// State kept in `store`.
    pub fn new(store: Arc<dyn SyncStateStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl RunStateStore for StoreState {
    async fn begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StateError> {
        let start = self.store.sync_begin_run(job, resume).await?;
        let mut streams = HashMap::new();
        for stream in start.streams {
            let Ok(name) = stream.stream.parse::<StreamName>() else {
                continue;
            };
            let partitions = stream
                .partitions
                .into_iter()
                .map(|p| {
                    (
                        p.part,
                        PartitionProgress {
                            bookmark: p.bookmark,
                            done: p.done,
                            watermark: p.watermark,
                        },
                    )
                })
                .collect();
            streams.insert(
                name,
                StreamProgress {
                    status: StreamStatus::parse(&stream.status)?,
                    position: stream.position.map(|p| p as u64),
                    records: stream.records as u64,
                    partitions,
                },
            );
        }
        Ok(RunStart {
            run_id: RunId(start.run_id),
            resumed: start.resumed,
            streams,
        })
    }

    async fn save_checkpoint(
        &self,
        run: RunId,
        stream: StreamName,
        checkpoint: &Checkpoint,
    ) -> Result<(), StateError> {
        let partitions: Vec<SyncPartitionState> = checkpoint
            .partitions
            .iter()
            .map(|(part, p)| SyncPartitionState {
                part: part.clone(),
                bookmark: p.bookmark.clone(),
                done: p.done,
                watermark: p.watermark.clone(),
            })
            .collect();
        Ok(self
            .store
            .sync_save_checkpoint(
                run.0,
                stream.as_str(),
                checkpoint.position as i64,
                checkpoint.records as i64,
                &partitions,
            )
            .await?)
    }

    async fn set_stream_status(
        &self,
        run: RunId,
        stream: StreamName,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StateError> {
        Ok(self
            .store
            .sync_set_stream_status(run.0, stream.as_str(), status.as_str(), message)
            .await?)
    }

    async fn finish_run(&self, run: RunId, job: &str, succeeded: bool) -> Result<(), StateError> {
        Ok(self.store.sync_finish_run(run.0, job, succeeded).await?)
    }

    async fn watermarks(
        &self,
        job: &str,
        stream: StreamName,
    ) -> Result<HashMap<String, String>, StateError> {
        Ok(self
            .store
            .sync_watermarks(job, stream.as_str())
            .await?
            .into_iter()
            .collect())
    }
}

#[async_trait]
impl PublishLedger for StoreState {
    async fn entry(&self, namespace: &str, key: &str) -> Result<Option<LedgerEntry>, StateError> {
        self.store
            .ledger_entry(namespace, key)
            .await?
            .map(|row| {
                Ok(LedgerEntry {
                    state: LedgerState::parse(&row.state)?,
                    target: row.target,
                    object_id: row.object_id,
                    sent_at: row.sent_at,
                    updated_at: row.updated_at,
                    message: row.message,
                })
            })
            .transpose()
    }

    async fn record_sent(
        &self,
        namespace: &str,
        key: &str,
        target: &str,
    ) -> Result<(), StateError> {
        Ok(self
            .store
            .ledger_record_sent(namespace, key, target)
            .await?)
    }

    async fn record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StateError> {
        Ok(self
            .store
            .ledger_record_confirmed(namespace, key, object_id)
            .await?)
    }

    async fn record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StateError> {
        Ok(self
            .store
            .ledger_record_outcome(namespace, key, state.as_str(), message)
            .await?)
    }

    async fn confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StateError> {
        Ok(self.store.ledger_confirmed_ids(namespace, target).await?)
    }
}
