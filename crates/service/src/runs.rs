//! Running a data source (issue 6): `Runs::start` stores a queued run and
//! runs the source in a background task of the server process, through the
//! sync engine (`pinion_sync::run`) with the source's credential's tokens
//! from the token manager, its streams and its output.
//!
//! Outputs are confined: a source names its output (`weekly`,
//! `reports/boards.db`), and the run writes to
//! `<data dir>/outputs/<owner id>/<name>`, so no user can make the server
//! write anywhere else or into another user's outputs. Names are checked
//! when the source is saved ([`valid_output_name`]) and again before a run.
//!
//! Progress: the engine's observer updates the per-stream counts in memory;
//! a writer task stores each new snapshot (coalescing the ones that arrive
//! while it writes), and the final counts and status are stored last. A
//! run's error is a message for people: the sync error's text, which names
//! the stream, endpoint and cause but never a token or secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pinion_domain::{CredentialStatus, UserId};
use pinion_pinterest::{ClientConfig, PinterestClient};
use pinion_store::{
    CredentialRecord, RunRecord, RunStatus, RunStreamCount, SourceRecord, Store, User,
};
use pinion_sync::{ProgressObserver, StreamName, StreamReport, SyncJob, SyncOptions};
use tokio::sync::watch;

use crate::{Credentials, ServiceError, Sources, TokenManager};

/// The folder under the data directory that holds every source's output.
pub const OUTPUTS_DIR: &str = "outputs";

/// Runs of a source shown on its page and in the API.
pub const RUNS_LISTED: u32 = 20;

/// Longest stored error message, in characters.
const MAX_ERROR_CHARS: usize = 1000;

/// Whether `name` may name a source's output: a relative path of at most 4
/// parts, each starting with a letter or digit and made of letters, digits,
/// `.`, `_` and `-`, at most 200 bytes in all. So no `..`, no absolute
/// path, no hidden file, nothing a shell or a URL would read differently.
pub fn valid_output_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    !name.is_empty()
        && name.len() <= 200
        && parts.len() <= 4
        && parts.iter().all(|part| {
            part.chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphanumeric())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

/// Where a source of `owner` named `name` writes, under `data_dir`.
pub fn output_location(data_dir: &Path, owner: &UserId, name: &str) -> PathBuf {
    data_dir.join(OUTPUTS_DIR).join(owner.as_str()).join(name)
}

/// Starting, reading and executing source runs.
#[derive(Debug, Clone)]
pub struct Runs {
    store: Arc<dyn Store>,
    sources: Sources,
    credentials: Credentials,
    tokens: Arc<TokenManager>,
    pinterest: ClientConfig,
    data_dir: Option<PathBuf>,
}

fn new_run_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("run_{}", hex::encode(bytes))
}

fn shorten(message: String) -> String {
    if message.chars().count() <= MAX_ERROR_CHARS {
        message
    } else {
        let mut short: String = message.chars().take(MAX_ERROR_CHARS).collect();
        short.push('…');
        short
    }
}

impl Runs {
    /// Runs read with `tokens`, call Pinterest as `pinterest` says, and write
    /// under `data_dir` (without one, every run fails saying so).
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Arc<TokenManager>,
        pinterest: ClientConfig,
        data_dir: Option<PathBuf>,
    ) -> Self {
        Self {
            sources: Sources::new(store.clone()),
            credentials: Credentials::new(store.clone()),
            store,
            tokens,
            pinterest,
            data_dir,
        }
    }

    /// Stores a queued run of `actor`'s source `source_id` and starts it in
    /// the background; returns the queued run. Another user's source is
    /// `NotFound`; a source with a run still going is a `Conflict`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %source_id))]
    pub async fn start(&self, actor: &User, source_id: &str) -> Result<RunRecord, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        if let Some(last) = self.store.list_runs(&source.id, 1).await?.first()
            && !last.status.is_final()
        {
            return Err(ServiceError::Conflict {
                field: "source",
                message: "a run of this source is still going; wait for it to end".to_owned(),
            });
        }
        let run = RunRecord {
            id: new_run_id(),
            source_id: source.id.clone(),
            owner: source.owner.clone(),
            status: RunStatus::Queued,
            streams: source
                .streams
                .iter()
                .map(|stream| RunStreamCount {
                    stream: stream.clone(),
                    records: 0,
                    outcome: None,
                    error: None,
                })
                .collect(),
            error: None,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
        };
        let run = self.store.create_run(&run).await?;
        tracing::info!(run_id = %run.id, "Queued a source run.");
        let runs = self.clone();
        let actor = actor.clone();
        let run_id = run.id.clone();
        tokio::spawn(async move { runs.execute(&actor, &source, &run_id).await });
        Ok(run)
    }

    /// The runs of `actor`'s source, newest first (at most [`RUNS_LISTED`]).
    pub async fn list(
        &self,
        actor: &User,
        source_id: &str,
    ) -> Result<Vec<RunRecord>, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        Ok(self.store.list_runs(&source.id, RUNS_LISTED).await?)
    }

    /// One run of `actor`'s source; any other is `NotFound`.
    pub async fn get(
        &self,
        actor: &User,
        source_id: &str,
        run_id: &str,
    ) -> Result<RunRecord, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        let run = match self.store.get_run(run_id).await {
            Ok(run) => run,
            Err(pinion_store::StoreError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { what: "run" });
            }
            Err(err) => return Err(err.into()),
        };
        if run.source_id != source.id || run.owner != actor.id {
            return Err(ServiceError::NotFound { what: "run" });
        }
        Ok(run)
    }

    /// Deletes a finished run of `actor`'s source; any other is `NotFound`,
    /// and a run still going is a `Conflict`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %source_id))]
    pub async fn delete(
        &self,
        actor: &User,
        source_id: &str,
        run_id: &str,
    ) -> Result<(), ServiceError> {
        if !self.store.delete_run(source_id, run_id, &actor.id).await? {
            return Err(ServiceError::NotFound { what: "run" });
        }
        tracing::info!(run_id = %run_id, "Deleted a run.");
        Ok(())
    }

    /// Fails the runs a stopped single-process server left unfinished.
    pub async fn fail_interrupted(&self) -> Result<u64, ServiceError> {
        Ok(self
            .store
            .fail_unfinished_runs("The server stopped while this run was going; run it again.")
            .await?)
    }

    /// The credential a run of `source` reads with, if `actor` may use it
    /// now (they own it, or it is shared with them); otherwise a message for
    /// people saying what to do. A usable credential gets "used by run" in
    /// its activity log.
    async fn usable_credential(
        &self,
        actor: &User,
        source: &SourceRecord,
        run_id: &str,
    ) -> Result<CredentialRecord, String> {
        let credential = match self
            .credentials
            .use_for_run(actor, &source.credential_id, run_id)
            .await
        {
            Ok(credential) => credential,
            Err(ServiceError::NotFound { .. }) | Err(ServiceError::Forbidden(_)) => {
                return Err(
                    "The credential this source reads with was deleted or is no \
                            longer available to you; create the source again with another \
                            credential."
                        .to_owned(),
                );
            }
            Err(ServiceError::NotShared { credential }) => {
                return Err(format!(
                    "Credential \"{credential}\" is no longer shared with you: its owner \
                     withdrew the share. Ask them to share it again, or create the source \
                     again with another credential."
                ));
            }
            Err(other) => return Err(format!("The credential could not be read: {other}")),
        };
        let name = credential.name.as_str();
        match credential.status {
            CredentialStatus::Active => Ok(credential),
            CredentialStatus::NeedsAuthorization => Err(format!(
                "Credential \"{name}\" is not authorized yet: open Credentials and Authorize it, \
                 then run the source again."
            )),
            CredentialStatus::NeedsReauthorization | CredentialStatus::Error => Err(format!(
                "Credential \"{name}\" needs reauthorization{}: open Credentials and Reauthorize \
                 it, then run the source again.",
                credential
                    .last_error
                    .as_deref()
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default()
            )),
        }
    }

    /// Runs `source` as run `run_id` to its end and stores the outcome.
    #[tracing::instrument(skip_all, fields(run_id = %run_id, source_id = %source.id))]
    pub async fn execute(&self, actor: &User, source: &SourceRecord, run_id: &str) {
        if let Err(err) = self.store.start_run(run_id).await {
            tracing::error!(error = %err, "Could not start a run.");
            return;
        }
        let initial: Vec<RunStreamCount> = source
            .streams
            .iter()
            .map(|stream| RunStreamCount {
                stream: stream.clone(),
                records: 0,
                outcome: None,
                error: None,
            })
            .collect();
        let (status, streams, error) = match self.sync(actor, source, run_id, &initial).await {
            Ok((streams, None)) => (RunStatus::Succeeded, streams, None),
            Ok((streams, Some(error))) => (RunStatus::Failed, streams, Some(error)),
            Err(error) => (RunStatus::Failed, initial, Some(error)),
        };
        let error = error.map(shorten);
        match &error {
            None => tracing::info!("The run succeeded."),
            Some(error) => tracing::warn!(error = %error, "The run failed."),
        }
        if let Err(err) = self
            .store
            .finish_run(run_id, status, &streams, error.as_deref())
            .await
        {
            tracing::error!(error = %err, "Could not store a run's outcome.");
        }
    }

    /// The sync itself: `Err` when it could not start, else the final counts
    /// and the error that stopped it, if any.
    async fn sync(
        &self,
        actor: &User,
        source: &SourceRecord,
        run_id: &str,
        initial: &[RunStreamCount],
    ) -> Result<(Vec<RunStreamCount>, Option<String>), String> {
        let credential = self.usable_credential(actor, source, run_id).await?;
        let data_dir = self.data_dir.as_ref().ok_or_else(|| {
            "This server has no data directory for outputs (PINION_DATA_DIR); ask its \
             administrator."
                .to_owned()
        })?;
        if !valid_output_name(&source.output_path) {
            return Err(format!(
                "The output \"{}\" is not a name under the server's outputs folder; create the \
                 source again with a name such as \"weekly-boards\".",
                source.output_path
            ));
        }
        let output = output_location(data_dir, &source.owner, &source.output_path);
        let parent = if source.output_kind == "jsonl" {
            output.as_path()
        } else {
            output.parent().unwrap_or(data_dir)
        };
        pinion_store::private_fs::create_dir_all(parent)
            .map_err(|err| format!("The output folder could not be created: {err}"))?;
        let spec = match source.output_kind.as_str() {
            "jsonl" => format!("jsonl:{}", output.display()),
            "sqlite" => format!("sqlite:{}", output.display()),
            other => return Err(format!("Unknown output kind `{other}`.")),
        };
        let streams = source
            .streams
            .iter()
            .map(|name| name.parse::<StreamName>().map_err(|err| err.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let client = PinterestClient::new(
            self.pinterest.clone(),
            Arc::new(self.tokens.token_source(credential.id.clone())),
        )
        .map_err(|err| format!("The Pinterest client could not be set up: {err}"))?;
        let destination = pinion_sync::destination::open(&spec)
            .await
            .map_err(|err| format!("The output could not be opened: {err}"))?;
        // Run progress lives in Pinion's store, like the CLI's, keyed by
        // credential and source below.
        let state = pinion_sync::StoreState::new(self.store.clone());
        let scopes = credential
            .granted_scopes
            .clone()
            .unwrap_or_else(|| credential.scopes.clone());

        let (progress_tx, mut progress_rx) = watch::channel(initial.to_vec());
        let store = self.store.clone();
        let writer_run = run_id.to_owned();
        let writer = tokio::spawn(async move {
            while progress_rx.changed().await.is_ok() {
                let snapshot = progress_rx.borrow_and_update().clone();
                if let Err(err) = store.update_run_streams(&writer_run, &snapshot).await {
                    tracing::warn!(error = %err, "Could not store a run's progress.");
                }
            }
        });
        let observer = Progress { tx: progress_tx };
        let job = SyncJob {
            client,
            scopes,
            job_key: pinion_store::source_job_key(credential.id.as_str(), &source.id),
            destination: destination.as_ref(),
            state: &state,
            observer: Some(&observer),
        };
        let options = SyncOptions {
            streams: Some(streams),
            ..SyncOptions::default()
        };
        let result = pinion_sync::run::run(&job, &options).await;
        let mut counts = observer.tx.borrow().clone();
        drop(observer);
        let _ = writer.await;
        match result {
            Ok(mut report) => {
                for stream in &report.streams {
                    merge(&mut counts, stream);
                }
                let invalid: u64 = report.streams.iter().map(|s| s.invalid_records).sum();
                let error = match report.failure.take() {
                    Some(failure) => Some(failure.to_string()),
                    None if invalid > 0 => Some(format!(
                        "{invalid} item(s) from Pinterest were not valid records and were left out"
                    )),
                    None => None,
                };
                Ok((counts, error))
            }
            Err(err) => Ok((counts, Some(err.to_string()))),
        }
    }
}

fn merge(counts: &mut Vec<RunStreamCount>, report: &StreamReport) {
    let outcome = serde_json::to_value(report.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    let error = report
        .error
        .clone()
        .or_else(|| (!report.notes.is_empty()).then(|| report.notes.join("; ")));
    let entry = RunStreamCount {
        stream: report.stream.as_str().to_owned(),
        records: report.records,
        outcome,
        error: error.map(shorten),
    };
    match counts.iter_mut().find(|c| c.stream == entry.stream) {
        Some(existing) => *existing = entry,
        None => counts.push(entry),
    }
}

/// The engine's observer: per-stream counts, published to the writer task.
struct Progress {
    tx: watch::Sender<Vec<RunStreamCount>>,
}

impl ProgressObserver for Progress {
    fn stream_started(&self, _stream: StreamName, _partitions: Option<u64>) {}

    fn records_committed(&self, stream: StreamName, total: u64) {
        self.tx.send_modify(|counts| {
            match counts.iter_mut().find(|c| c.stream == stream.as_str()) {
                Some(count) => count.records = total,
                None => counts.push(RunStreamCount {
                    stream: stream.as_str().to_owned(),
                    records: total,
                    outcome: None,
                    error: None,
                }),
            }
        });
    }

    fn partition_done(&self, _stream: StreamName) {}

    fn stream_finished(&self, report: &StreamReport) {
        self.tx.send_modify(|counts| merge(counts, report));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_stay_under_the_outputs_folder() {
        for good in ["weekly", "reports/boards.db", "a-b_c.1", "x/y/z/w"] {
            assert!(valid_output_name(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../up",
            "a/../../b",
            ".hidden",
            "a/.git",
            "a//b",
            "a/",
            "with space",
            "a\\b",
            "a/b/c/d/e",
            "ü",
            &"x".repeat(201),
        ] {
            assert!(!valid_output_name(bad), "{bad}");
        }
        let owner = UserId::from_trusted("usr_1".to_owned());
        assert_eq!(
            output_location(Path::new("/data"), &owner, "weekly"),
            PathBuf::from("/data/outputs/usr_1/weekly")
        );
    }
}
