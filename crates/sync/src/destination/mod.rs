//! Where records go: a small trait with one implementation per kind of
//! output (JSON Lines files, SQLite, PostgreSQL, stdout).
//!
//! A run opens one [`StreamSink`] per stream with [`Destination::begin`],
//! writes pages of records with [`StreamSink::write_batch`], makes them
//! durable with [`StreamSink::commit`] (only then is the checkpoint saved),
//! and completes the stream with [`StreamSink::finish`]. A stream that fails
//! is never finished: JSON Lines output stays under its `.partial` name, and
//! database rows are complete upserts. The position that `commit` returns is
//! saved in the checkpoint; on resume it goes back to `begin`, so a file can
//! be cut back to exactly what was committed and nothing is written twice.

mod jsonl;
pub mod preview;
mod sql;
mod stdout;

pub use jsonl::{JsonlDestination, STAGING_DIR};
pub use sql::SqlDestination;
pub use stdout::StdoutDestination;

use std::sync::Arc;

use async_trait::async_trait;
use pinion_domain::{Clock, SystemClock};

use crate::error::DestinationError;
use crate::stream::{StreamName, SyncRecord};

/// A kind of output.
#[async_trait]
pub trait Destination: Send + Sync {
    /// A description safe to print (no credentials), and the destination's
    /// identity for resume: canonical, so two spellings of one destination
    /// (a relative and an absolute path, a URL with or without a password
    /// or the default port) describe it alike.
    fn describe(&self) -> String;

    /// Called once a run began, before any stream: `resumed` when it
    /// continues an unfinished run. JSON Lines starts a new run's staging
    /// folder afresh.
    async fn start_run(&self, resumed: bool) -> Result<(), DestinationError> {
        let _ = resumed;
        Ok(())
    }

    /// Called when every stream to be read completed (`completed`), before
    /// the run is recorded as succeeded. JSON Lines moves the run's files
    /// into the folder, replacing the previous run's.
    async fn finish_run(&self, completed: &[StreamName]) -> Result<(), DestinationError> {
        let _ = completed;
        Ok(())
    }

    /// Opens `stream` for writing. `resume` is the position a previous run
    /// committed (from [`StreamSink::commit`]); `None` starts the stream from
    /// nothing.
    async fn begin(
        &self,
        stream: StreamName,
        resume: Option<u64>,
    ) -> Result<Box<dyn StreamSink>, DestinationError>;

    /// True when writing the same record twice leaves one copy (upserts), so
    /// a resumed stream needs no position.
    fn idempotent(&self) -> bool;
}

/// One stream's output.
#[async_trait]
pub trait StreamSink: Send {
    /// Writes a page of records (not yet durable).
    async fn write_batch(&mut self, records: &[SyncRecord]) -> Result<(), DestinationError>;

    /// Makes everything written so far durable and returns the position to
    /// save in the checkpoint.
    async fn commit(&mut self) -> Result<u64, DestinationError>;

    /// Completes the stream after its last commit (e.g. renames the file to
    /// its final name).
    async fn finish(self: Box<Self>) -> Result<(), DestinationError>;
}

/// Parses a destination: `jsonl:DIR`, `sqlite:PATH`, `postgres://…` (or
/// `postgres:postgres://…`), or `stdout`.
pub async fn open(spec: &str) -> Result<Box<dyn Destination>, DestinationError> {
    open_with_clock(spec, Arc::new(SystemClock)).await
}

/// [`open`], with the clock SQL tables' `synced_at` is stamped with.
pub async fn open_with_clock(
    spec: &str,
    clock: Arc<dyn Clock>,
) -> Result<Box<dyn Destination>, DestinationError> {
    if let Some(dir) = spec.strip_prefix("jsonl:") {
        return Ok(Box::new(JsonlDestination::create(dir)?));
    }
    if spec == "stdout" || spec == "-" {
        return Ok(Box::new(StdoutDestination));
    }
    let sql = if let Some(path) = spec.strip_prefix("sqlite:") {
        SqlDestination::sqlite(path).await?
    } else if let Some(url) = postgres_url(spec) {
        SqlDestination::postgres(url).await?
    } else {
        return Err(DestinationError::Invalid(redact_url(spec)));
    };
    Ok(Box::new(sql.with_clock(clock)))
}

/// The PostgreSQL URL `spec` names: `postgres://…` or `postgresql://…`,
/// alone or behind `postgres:`.
fn postgres_url(spec: &str) -> Option<&str> {
    let url = spec
        .strip_prefix("postgres:")
        .filter(|rest| rest.starts_with("postgres"))
        .unwrap_or(spec);
    (url.starts_with("postgres://") || url.starts_with("postgresql://")).then_some(url)
}

/// A URL with its password replaced, for messages.
pub(crate) fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_owned();
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
        changed = true;
    }
    // libpq also takes the password as a query parameter.
    if url
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                if key.eq_ignore_ascii_case("password") {
                    (key.into_owned(), "***".to_owned())
                } else {
                    (key.into_owned(), value.into_owned())
                }
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        url.to_string()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_the_password() {
        assert_eq!(
            redact_url("postgres://u:CANARY@127.0.0.1/db"),
            "postgres://u:***@127.0.0.1/db"
        );
        assert_eq!(redact_url("jsonl:/tmp/x"), "jsonl:/tmp/x");
        let redacted = redact_url("postgres://u@127.0.0.1/db?sslmode=disable&password=CANARY");
        assert!(!redacted.contains("CANARY"), "{redacted}");
        assert!(redacted.contains("sslmode=disable"), "{redacted}");
    }

    #[tokio::test]
    async fn an_unknown_destination_is_refused_without_its_password() {
        let err = open("mysql://u:CANARY@h/db").await.err().unwrap();
        assert!(!err.to_string().contains("CANARY"), "{err}");
    }

    #[test]
    fn postgres_urls_are_read_with_or_without_the_prefix() {
        for (spec, url) in [
            ("postgres://h/db", Some("postgres://h/db")),
            ("postgresql://h/db", Some("postgresql://h/db")),
            ("postgres:postgres://h/db", Some("postgres://h/db")),
            ("postgres:postgresql://h/db", Some("postgresql://h/db")),
            ("postgres:sqlite:x.db", None),
            ("postgres:postgres", None),
            ("sqlite:x.db", None),
            ("mysql://h/db", None),
        ] {
            assert_eq!(postgres_url(spec), url, "{spec}");
        }
    }
}
