//! [`SqlState`]: the run-state store and publish ledger on a SQLite file
//! (WAL, `synchronous=FULL`, so a commit survives a crash and power loss)
//! or a PostgreSQL database, through sqlx's `Any` driver so one set of
//! statements serves both.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};

use super::{
    Checkpoint, LedgerEntry, LedgerState, PartitionProgress, PublishLedger, RunId, RunStart,
    RunStateStore, StreamProgress, StreamStatus,
};
use crate::destination::redact_url;
use crate::error::StateError;
use crate::stream::StreamName;

/// Run state and ledger in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlState {
    pool: AnyPool,
    shown: String,
}

const COMMON_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sync_streams (run_id BIGINT NOT NULL, stream TEXT NOT NULL, \
     status TEXT NOT NULL, position BIGINT, records BIGINT NOT NULL DEFAULT 0, message TEXT, \
     PRIMARY KEY (run_id, stream))",
    "CREATE TABLE IF NOT EXISTS sync_partitions (run_id BIGINT NOT NULL, stream TEXT NOT NULL, \
     part TEXT NOT NULL, bookmark TEXT, done BIGINT NOT NULL, watermark TEXT, \
     PRIMARY KEY (run_id, stream, part))",
    "CREATE TABLE IF NOT EXISTS sync_watermarks (job TEXT NOT NULL, stream TEXT NOT NULL, \
     part TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (job, stream, part))",
    "CREATE TABLE IF NOT EXISTS publish_ledger (namespace TEXT NOT NULL, key TEXT NOT NULL, \
     state TEXT NOT NULL, target TEXT NOT NULL, object_id TEXT, sent_at TEXT, message TEXT, \
     updated_at TEXT NOT NULL, PRIMARY KEY (namespace, key))",
];

fn now() -> String {
    Utc::now().to_rfc3339()
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StateError::Corrupt(format!("time `{text}`")))
}

impl SqlState {
    /// Opens the state at `location`: `postgres://…`, `sqlite:PATH` or a
    /// plain file path (created if missing), and creates its tables.
    pub async fn open(location: &str) -> Result<Self, StateError> {
        install_default_drivers();
        let postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        let (url, shown) = if postgres {
            (location.to_owned(), redact_url(location))
        } else {
            let path = location.strip_prefix("sqlite:").unwrap_or(location);
            if path.is_empty() {
                return Err(StateError::Invalid(location.to_owned()));
            }
            // Private, and SQLite's -wal and -shm take the file's mode
            // (SECURITY.md R32).
            pinion_store::private_fs::prepare_sqlite_file(std::path::Path::new(path))
                .map_err(|e| StateError::Database(sqlx::Error::Io(e)))?;
            (
                format!("sqlite://{path}?mode=rwc"),
                format!("sqlite:{path}"),
            )
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 4 } else { 1 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !postgres {
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA synchronous=FULL").await?;
                        conn.execute("PRAGMA busy_timeout=30000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let runs = if postgres {
            "CREATE TABLE IF NOT EXISTS sync_runs (id BIGSERIAL PRIMARY KEY, job TEXT NOT NULL, \
             status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT)"
        } else {
            "CREATE TABLE IF NOT EXISTS sync_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             job TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT)"
        };
        pool.execute(runs).await?;
        for statement in COMMON_SCHEMA {
            pool.execute(*statement).await?;
        }
        if !postgres {
            let path = location.strip_prefix("sqlite:").unwrap_or(location);
            pinion_store::private_fs::restrict_sqlite_files(std::path::Path::new(path))
                .map_err(|e| StateError::Database(sqlx::Error::Io(e)))?;
        }
        Ok(Self { pool, shown })
    }

    /// Where the state lives, without a password.
    pub fn describe(&self) -> &str {
        &self.shown
    }

    async fn load_run(&self, run: i64) -> Result<HashMap<StreamName, StreamProgress>, StateError> {
        let mut streams = HashMap::new();
        let rows = sqlx::query(
            "SELECT stream, status, position, records FROM sync_streams WHERE run_id = $1",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("stream")?;
            let Ok(stream) = name.parse::<StreamName>() else {
                continue;
            };
            let status: String = row.try_get("status")?;
            let position: Option<i64> = row.try_get("position")?;
            let records: i64 = row.try_get("records")?;
            streams.insert(
                stream,
                StreamProgress {
                    status: StreamStatus::parse(&status)?,
                    position: position.map(|p| p as u64),
                    records: records as u64,
                    partitions: HashMap::new(),
                },
            );
        }
        let rows = sqlx::query(
            "SELECT stream, part, bookmark, done, watermark FROM sync_partitions WHERE run_id = $1",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("stream")?;
            let Ok(stream) = name.parse::<StreamName>() else {
                continue;
            };
            let done: i64 = row.try_get("done")?;
            let progress = PartitionProgress {
                bookmark: row.try_get("bookmark")?,
                done: done != 0,
                watermark: row.try_get("watermark")?,
            };
            if let Some(entry) = streams.get_mut(&stream) {
                entry.partitions.insert(row.try_get("part")?, progress);
            }
        }
        Ok(streams)
    }
}

#[async_trait]
impl RunStateStore for SqlState {
    async fn begin_run(&self, job: &str, resume: bool) -> Result<RunStart, StateError> {
        if resume {
            let row = sqlx::query(
                "SELECT id FROM sync_runs WHERE job = $1 AND status IN ('running', 'failed') \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(job)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                let id: i64 = row.try_get("id")?;
                sqlx::query("UPDATE sync_runs SET status = 'running' WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                return Ok(RunStart {
                    run_id: RunId(id),
                    resumed: true,
                    streams: self.load_run(id).await?,
                });
            }
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sync_runs SET status = 'abandoned' WHERE job = $1 AND status IN ('running', 'failed')",
        )
        .bind(job)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "INSERT INTO sync_runs (job, status, started_at) VALUES ($1, 'running', $2) RETURNING id",
        )
        .bind(job)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RunStart {
            run_id: RunId(row.try_get("id")?),
            resumed: false,
            streams: HashMap::new(),
        })
    }

    async fn save_checkpoint(
        &self,
        run: RunId,
        stream: StreamName,
        checkpoint: &Checkpoint,
    ) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, position, records) \
             VALUES ($1, $2, 'running', $3, $4) ON CONFLICT (run_id, stream) DO UPDATE SET \
             position = excluded.position, records = excluded.records",
        )
        .bind(run.0)
        .bind(stream.as_str())
        .bind(checkpoint.position as i64)
        .bind(checkpoint.records as i64)
        .execute(&mut *tx)
        .await?;
        for (part, progress) in &checkpoint.partitions {
            sqlx::query(
                "INSERT INTO sync_partitions (run_id, stream, part, bookmark, done, watermark) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, stream, part) DO UPDATE SET \
                 bookmark = excluded.bookmark, done = excluded.done, watermark = excluded.watermark",
            )
            .bind(run.0)
            .bind(stream.as_str())
            .bind(part.as_str())
            .bind(progress.bookmark.as_deref())
            .bind(i64::from(progress.done))
            .bind(progress.watermark.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_stream_status(
        &self,
        run: RunId,
        stream: StreamName,
        status: StreamStatus,
        message: Option<&str>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO sync_streams (run_id, stream, status, message) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (run_id, stream) DO UPDATE SET status = excluded.status, \
             message = excluded.message",
        )
        .bind(run.0)
        .bind(stream.as_str())
        .bind(status.as_str())
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_run(&self, run: RunId, job: &str, succeeded: bool) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE sync_runs SET status = $1, finished_at = $2 WHERE id = $3")
            .bind(if succeeded { "succeeded" } else { "failed" })
            .bind(now())
            .bind(run.0)
            .execute(&mut *tx)
            .await?;
        if succeeded {
            sqlx::query(
                "INSERT INTO sync_watermarks (job, stream, part, value) \
                 SELECT CAST($1 AS TEXT), stream, part, watermark FROM sync_partitions \
                 WHERE run_id = $2 AND done = 1 AND watermark IS NOT NULL \
                 ON CONFLICT (job, stream, part) DO UPDATE SET value = excluded.value",
            )
            .bind(job)
            .bind(run.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn watermarks(
        &self,
        job: &str,
        stream: StreamName,
    ) -> Result<HashMap<String, String>, StateError> {
        let rows =
            sqlx::query("SELECT part, value FROM sync_watermarks WHERE job = $1 AND stream = $2")
                .bind(job)
                .bind(stream.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get("part")?, row.try_get("value")?)))
            .collect()
    }
}

#[async_trait]
impl PublishLedger for SqlState {
    async fn entry(&self, namespace: &str, key: &str) -> Result<Option<LedgerEntry>, StateError> {
        let row = sqlx::query(
            "SELECT state, target, object_id, sent_at, updated_at, message FROM publish_ledger \
             WHERE namespace = $1 AND key = $2",
        )
        .bind(namespace)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let state: String = row.try_get("state")?;
            let sent_at: Option<String> = row.try_get("sent_at")?;
            let updated_at: String = row.try_get("updated_at")?;
            Ok(LedgerEntry {
                state: LedgerState::parse(&state)?,
                target: row.try_get("target")?,
                object_id: row.try_get("object_id")?,
                sent_at: sent_at.as_deref().map(parse_time).transpose()?,
                updated_at: parse_time(&updated_at)?,
                message: row.try_get("message")?,
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
        let at = now();
        sqlx::query(
            "INSERT INTO publish_ledger (namespace, key, state, target, sent_at, updated_at) \
             VALUES ($1, $2, 'sent', $3, $4, $4) ON CONFLICT (namespace, key) DO UPDATE SET \
             state = 'sent', target = excluded.target, \
             sent_at = COALESCE(publish_ledger.sent_at, excluded.sent_at), \
             updated_at = excluded.updated_at, message = NULL",
        )
        .bind(namespace)
        .bind(key)
        .bind(target)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_confirmed(
        &self,
        namespace: &str,
        key: &str,
        object_id: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE publish_ledger SET state = 'confirmed', object_id = $1, message = NULL, \
             updated_at = $2 WHERE namespace = $3 AND key = $4",
        )
        .bind(object_id)
        .bind(now())
        .bind(namespace)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_outcome(
        &self,
        namespace: &str,
        key: &str,
        state: LedgerState,
        message: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE publish_ledger SET state = $1, message = $2, updated_at = $3 \
             WHERE namespace = $4 AND key = $5",
        )
        .bind(state.as_str())
        .bind(message)
        .bind(now())
        .bind(namespace)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn confirmed_ids(
        &self,
        namespace: &str,
        target: &str,
    ) -> Result<Vec<String>, StateError> {
        let rows = sqlx::query(
            "SELECT object_id FROM publish_ledger WHERE namespace = $1 AND target = $2 \
             AND state = 'confirmed' AND object_id IS NOT NULL",
        )
        .bind(namespace)
        .bind(target)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok(row.try_get("object_id")?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_checkpoint_survives_reopening_and_resume_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let state = SqlState::open(path.to_str().unwrap()).await.unwrap();
        let start = state.begin_run("job", false).await.unwrap();
        let checkpoint = Checkpoint {
            position: 42,
            records: 3,
            partitions: vec![(
                "123".into(),
                PartitionProgress {
                    bookmark: Some("bm".into()),
                    done: false,
                    watermark: None,
                },
            )],
        };
        state
            .save_checkpoint(start.run_id, StreamName::BoardPins, &checkpoint)
            .await
            .unwrap();
        drop(state);

        let state = SqlState::open(path.to_str().unwrap()).await.unwrap();
        let resumed = state.begin_run("job", true).await.unwrap();
        assert!(resumed.resumed);
        assert_eq!(resumed.run_id, start.run_id);
        let stream = &resumed.streams[&StreamName::BoardPins];
        assert_eq!(stream.position, Some(42));
        assert_eq!(stream.partitions["123"].bookmark.as_deref(), Some("bm"));
        state.finish_run(start.run_id, "job", true).await.unwrap();
        assert!(!state.begin_run("job", true).await.unwrap().resumed);
    }

    #[tokio::test]
    async fn a_second_send_keeps_the_first_sent_at_and_a_lost_answer_keeps_the_row_sent() {
        let dir = tempfile::tempdir().unwrap();
        let state = SqlState::open(dir.path().join("l.db").to_str().unwrap())
            .await
            .unwrap();
        state.record_sent("n", "k", "board").await.unwrap();
        let first = state.entry("n", "k").await.unwrap().unwrap();
        assert_eq!(first.state, LedgerState::Sent);
        assert!(first.sent_at.is_some());
        state
            .record_outcome("n", "k", LedgerState::Sent, "answer lost")
            .await
            .unwrap();
        let lost = state.entry("n", "k").await.unwrap().unwrap();
        assert_eq!(lost.state, LedgerState::Sent);
        assert_eq!(lost.message.as_deref(), Some("answer lost"));
        assert!(lost.updated_at >= first.updated_at);
        state.record_sent("n", "k", "board").await.unwrap();
        let again = state.entry("n", "k").await.unwrap().unwrap();
        assert_eq!(again.sent_at, first.sent_at);
        assert!(again.updated_at >= lost.updated_at);
        assert_eq!(again.message, None);
        state.record_confirmed("n", "k", "42").await.unwrap();
        assert_eq!(
            state.confirmed_ids("n", "board").await.unwrap(),
            vec!["42".to_owned()]
        );
    }

    #[tokio::test]
    async fn watermarks_are_promoted_only_when_the_run_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let state = SqlState::open(dir.path().join("s.db").to_str().unwrap())
            .await
            .unwrap();
        let mark = |run| Checkpoint {
            position: 0,
            records: 1,
            partitions: vec![(
                "b1".into(),
                PartitionProgress {
                    bookmark: None,
                    done: true,
                    watermark: Some(format!("w{run}")),
                },
            )],
        };
        let first = state.begin_run("j", false).await.unwrap().run_id;
        state
            .save_checkpoint(first, StreamName::BoardPins, &mark(1))
            .await
            .unwrap();
        state.finish_run(first, "j", false).await.unwrap();
        assert!(
            state
                .watermarks("j", StreamName::BoardPins)
                .await
                .unwrap()
                .is_empty()
        );
        let second = state.begin_run("j", false).await.unwrap().run_id;
        state
            .save_checkpoint(second, StreamName::BoardPins, &mark(2))
            .await
            .unwrap();
        state.finish_run(second, "j", true).await.unwrap();
        assert_eq!(
            state.watermarks("j", StreamName::BoardPins).await.unwrap()["b1"],
            "w2"
        );
    }
}
