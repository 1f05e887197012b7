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
//!
//! ## Runs that outlive their process (issue 12)
//!
//! A run is owned by the process running it: its instance id (`inst_…`,
//! the OS-locked file `<data dir>/instances/inst_….lock` of each
//! `pinion serve`, see [`crate::Instances`]) or, without a registration, a
//! random process id. The owner holds a lease of [`RUN_LEASE`] (30 s) and
//! renews it every [`RUN_HEARTBEAT`] (10 s), so two heartbeats may be lost
//! or late before it lapses. Every `pinion serve` scans the unfinished runs
//! at start and then every [`RUN_SCAN`] (5 s, plus up to 1 s of jitter) and
//! claims a run whose lease ended, or whose owner's instance file in the
//! same data directory is unlocked (that process is gone, however it
//! ended), with one conditional `UPDATE` on (run, previous owner, lease):
//! exactly one replica wins. The winner resumes the run from the sync
//! engine's checkpoint (`SyncOptions::resume`, the state kept in Pinion's
//! store under the source's job key), writes "taken over" in the
//! credential's activity log and sets the run's `taken_over_at`, shown on
//! the run page. A run taken over more than [`MAX_TAKEOVERS`] times is
//! failed instead (something kills every process that runs it).
//!
//! So a replica killed with SIGKILL loses its runs to a replica sharing its
//! data directory within one scan, and to any other replica once the lease
//! ends (at most 30 s plus a scan); a restarted single server takes its
//! runs back at start. A process that stops cleanly stops its runs and
//! releases their leases. A process that cannot renew a lease for
//! [`RUN_LEASE`] − [`RUN_HEARTBEAT`] (20 s: the database is away, or the
//! process was paused) stops the run itself before anyone may claim it, and
//! a heartbeat that finds the run taken over stops it too; the outcome is
//! stored only by the run's current owner.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pinion_domain::{Credential, RunId, SourceId, User, UserId};
use pinion_pinterest::{ClientConfig, PinterestClient};
use pinion_store::{
    ActivityEvent, RunLease, RunRecord, RunStatus, RunStore, RunStreamCount, SourceRecord, Store,
    SyncStateStore,
};
use pinion_sync::{ProgressObserver, StreamName, StreamReport, SyncJob, SyncOptions};
use tokio::sync::watch;

use crate::activity::{self, Actor};
use crate::instance::{Instance, Instances, Liveness};
use crate::{Credentials, ServiceError, Sources, TokenManager};

/// How long a run's lease lasts after each renewal.
pub const RUN_LEASE: Duration = Duration::from_secs(30);

/// How often the owner of a run renews its lease (a third of [`RUN_LEASE`]).
pub const RUN_HEARTBEAT: Duration = Duration::from_secs(10);

/// How often `pinion serve` looks for runs to take over.
pub const RUN_SCAN: Duration = Duration::from_secs(5);

/// Takeovers after which a run is failed instead of resumed again.
pub const MAX_TAKEOVERS: i64 = 3;

/// The process that runs runs: its id, and the instance registry of its data
/// directory when it is registered there.
#[derive(Debug, Clone)]
struct Owner {
    id: String,
    registry: Option<Instances>,
}

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

/// A source's output as its latest run left it ([`Runs::output`]).
#[derive(Debug, Clone)]
pub struct SourceOutput {
    /// Where it is, as users name it: `outputs/<owner id>/<name>`.
    pub shown: String,
    /// Where it is on this server, when it has a data directory.
    pub location: Option<PathBuf>,
    /// Its files, to download.
    pub files: Vec<OutputFile>,
    /// The first records of each of the source's streams, by stream name.
    pub previews: Vec<(String, Vec<serde_json::Value>)>,
}

/// One file of a source's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The file's name (`boards.jsonl`, or the SQLite file's).
    pub name: String,
    /// Its size.
    pub bytes: u64,
}

/// Starting, reading and executing source runs.
#[derive(Debug, Clone)]
pub struct Runs {
    /// The runs and their leases.
    runs: Arc<dyn RunStore>,
    /// The sync engine's checkpoints.
    state: Arc<dyn SyncStateStore>,
    sources: Sources,
    credentials: Credentials,
    tokens: Arc<TokenManager>,
    pinterest: ClientConfig,
    data_dir: Option<PathBuf>,
    owner: Arc<RwLock<Owner>>,
    /// Runs executing in this process hold a read guard; stopping takes the
    /// write guard, so it waits for every run to let go.
    executing: Arc<tokio::sync::RwLock<()>>,
    /// Set when this process stops: its runs stop without an outcome.
    stopping: watch::Sender<bool>,
    /// Where outcomes and takeovers are announced (issue 14).
    events: crate::notifications::Events,
    /// The database turns this process's runs share ([`crate::turns`]).
    turns: crate::turns::Turns,
}

/// An id for this process's runs when it is not registered in a data
/// directory: `proc_` and 32 random hex digits.
fn process_id() -> String {
    RunId::generate()
        .as_str()
        .replacen(RunId::PREFIX, "proc_", 1)
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
            sources: Sources::new(store.clone(), tokens.clock()),
            credentials: Credentials::new(store.clone()),
            runs: store.clone(),
            state: store,
            tokens,
            pinterest,
            data_dir,
            owner: Arc::new(RwLock::new(Owner {
                id: process_id(),
                registry: None,
            })),
            executing: Arc::new(tokio::sync::RwLock::new(())),
            stopping: watch::channel(false).0,
            events: crate::notifications::Events::default(),
            turns: crate::turns::Turns::default(),
        }
    }

    /// Announces outcomes and takeovers through `events` (issue 14).
    pub(crate) fn set_events(&mut self, events: crate::notifications::Events) {
        self.events = events;
    }

    /// Owns this process's runs as `instance`, so that when it dies another
    /// process of the same data directory takes them over at once (call
    /// before any run starts).
    pub fn set_instance(&self, instance: &Instance) {
        let mut owner = self.owner.write().unwrap_or_else(|e| e.into_inner());
        owner.id = instance.id().to_owned();
        owner.registry = Some(instance.registry().clone());
    }

    fn owner(&self) -> Owner {
        self.owner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn lease(&self, owner: &str) -> RunLease {
        RunLease {
            owner: owner.to_owned(),
            expires_at: self.tokens.now()
                + chrono::Duration::from_std(RUN_LEASE).unwrap_or_default(),
        }
    }

    /// Takes over every run whose owner is gone (see the module docs) and
    /// resumes it in the background; returns how many were taken.
    pub async fn take_over_abandoned(&self) -> Result<usize, ServiceError> {
        let me = self.owner();
        let now = self.tokens.now();
        let mut taken = 0;
        for run in self.runs.unfinished_runs().await? {
            if run.owner_instance == me.id {
                continue;
            }
            let ended = me
                .registry
                .as_ref()
                .is_some_and(|registry| registry.liveness(&run.owner_instance) == Liveness::Ended);
            if !run.may_be_taken_over(now, ended) {
                continue;
            }
            let lease = self.lease(&me.id);
            if !self
                .runs
                .claim_run(&run.id, &run.owner_instance, ended, &lease, now)
                .await?
            {
                continue;
            }
            taken += 1;
            let why = if ended {
                "the process running it stopped"
            } else {
                "the process running it stopped renewing its lease"
            };
            tracing::warn!(run_id = %run.id, previous_owner = %run.owner_instance, reason = why, "Took over a run.");
            self.events
                .run_taken_over(&run.id, run.takeovers + 1, why)
                .await;
            let record = match self.runs.get_run(&run.id).await {
                Ok(record) => record,
                Err(err) => {
                    tracing::error!(run_id = %run.id, error = %err, "Could not read a run taken over.");
                    continue;
                }
            };
            if run.takeovers + 1 > MAX_TAKEOVERS {
                let error = format!(
                    "The processes running this run stopped {} times; run it again.",
                    run.takeovers + 1
                );
                // Announced only by the process whose outcome was stored.
                if self
                    .runs
                    .finish_owned_run(
                        &run.id,
                        &me.id,
                        RunStatus::Failed,
                        &record.streams,
                        Some(&error),
                    )
                    .await?
                {
                    self.events.run_finished(&run.id).await;
                }
                continue;
            }
            let source = self.credentials.web.get_source(&record.source_id).await;
            let actor = self.credentials.users.get_user(&record.owner).await;
            match (source, actor) {
                (Ok(source), Ok(actor)) => {
                    let runs = self.clone();
                    let note = format!("taken over: {why}; resumed from its checkpoint");
                    tokio::spawn(async move {
                        runs.execute_as(&actor, &source, &record.id, Some(note))
                            .await
                    });
                }
                (Err(err), _) | (_, Err(err)) => {
                    let error = format!("The run could not be resumed: {err}");
                    if self
                        .runs
                        .finish_owned_run(
                            &run.id,
                            &me.id,
                            RunStatus::Failed,
                            &record.streams,
                            Some(&error),
                        )
                        .await?
                    {
                        self.events.run_finished(&run.id).await;
                    }
                }
            }
        }
        Ok(taken)
    }

    /// Takes over abandoned runs now and every [`RUN_SCAN`] until `stop`
    /// completes, then stops this process's runs and releases their leases,
    /// so another process (or the next start) resumes them at once.
    pub async fn supervise(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(err) = self.take_over_abandoned().await {
                tracing::warn!(error = %err, "Could not look for runs to take over.");
            }
            let jitter = Duration::from_millis(rand::random::<u64>() % 1000);
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(RUN_SCAN + jitter) => {}
            }
        }
        self.stop_all().await;
    }

    /// Stops every run of this process without an outcome and releases
    /// their leases.
    pub async fn stop_all(&self) {
        let _ = self.stopping.send(true);
        let _all_stopped = self.executing.write().await;
        let owner = self.owner().id;
        match self.runs.release_run_leases(&owner).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "Released the leases of this process's runs."),
            Err(err) => {
                tracing::warn!(error = %err, "Could not release the leases of this process's runs; they are taken over when the leases end.")
            }
        }
    }

    /// Stores a queued run of `actor`'s source `source_id` and starts it in
    /// the background; returns the queued run. Another user's source is
    /// `NotFound`; a source with a run still going is a `Conflict`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %source_id))]
    pub async fn start(
        &self,
        actor: &User,
        source_id: &SourceId,
    ) -> Result<RunRecord, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        if let Some(last) = self.runs.list_runs(&source.id, 1).await?.first()
            && !last.status.is_final()
        {
            return Err(ServiceError::Conflict {
                field: "source",
                message: "a run of this source is still going; wait for it to end".to_owned(),
            });
        }
        let run = RunRecord {
            id: RunId::generate(),
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
            created_at: self.tokens.now(),
            started_at: None,
            finished_at: None,
            taken_over_at: None,
        };
        let run = self
            .runs
            .create_run(&run, &self.lease(&self.owner().id))
            .await?;
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
        source_id: &SourceId,
    ) -> Result<Vec<RunRecord>, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        Ok(self.runs.list_runs(&source.id, RUNS_LISTED).await?)
    }

    /// The latest run of `actor`'s source, if it has run.
    pub async fn last(
        &self,
        actor: &User,
        source_id: &SourceId,
    ) -> Result<Option<RunRecord>, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        Ok(self.runs.list_runs(&source.id, 1).await?.into_iter().next())
    }

    /// One run of `actor`'s source; any other is `NotFound`.
    pub async fn get(
        &self,
        actor: &User,
        source_id: &SourceId,
        run_id: &RunId,
    ) -> Result<RunRecord, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        let run = match self.runs.get_run(run_id).await {
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

    /// `actor`'s source `source_id`'s output as its latest run left it:
    /// where it is, its files (for download) and up to `preview` records of
    /// each stream. `NotFound` for another user's source, as for none.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %source_id))]
    pub async fn output(
        &self,
        actor: &User,
        source_id: &SourceId,
        preview: usize,
    ) -> Result<SourceOutput, ServiceError> {
        let source = self.sources.get(actor, source_id).await?;
        let shown = format!(
            "{OUTPUTS_DIR}/{}/{}",
            source.owner.as_str(),
            source.output_path
        );
        let Some(data_dir) = self.data_dir.as_ref() else {
            return Ok(SourceOutput {
                shown,
                location: None,
                files: Vec::new(),
                previews: Vec::new(),
            });
        };
        let location = output_location(data_dir, &source.owner, &source.output_path);
        let kind = match source.output_kind.as_str() {
            "sqlite" => pinion_sync::destination::preview::OutputKind::Sqlite,
            _ => pinion_sync::destination::preview::OutputKind::Jsonl,
        };
        let mut files = Vec::new();
        let mut previews = Vec::new();
        for name in &source.streams {
            let Ok(stream) = name.parse::<StreamName>() else {
                continue;
            };
            let file = match kind {
                pinion_sync::destination::preview::OutputKind::Jsonl => {
                    location.join(format!("{stream}.jsonl"))
                }
                pinion_sync::destination::preview::OutputKind::Sqlite => location.clone(),
            };
            if let Ok(meta) = tokio::fs::metadata(&file).await
                && meta.is_file()
            {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !files.iter().any(|f: &OutputFile| f.name == name) {
                    files.push(OutputFile {
                        name,
                        bytes: meta.len(),
                    });
                }
            }
            if preview == 0 {
                continue;
            }
            let records = pinion_sync::destination::preview::first_records(
                kind,
                &location,
                stream,
                preview,
            )
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, stream = %stream, "Could not read the output for a preview.");
                Vec::new()
            });
            previews.push((name.clone(), records));
        }
        Ok(SourceOutput {
            shown,
            location: Some(location),
            files,
            previews,
        })
    }

    /// The file `name` of `actor`'s source's output (one listed by
    /// [`Runs::output`]), for download; `NotFound` for anything else.
    pub async fn output_file(
        &self,
        actor: &User,
        source_id: &SourceId,
        name: &str,
    ) -> Result<PathBuf, ServiceError> {
        let output = self.output(actor, source_id, 0).await?;
        let not_found = || ServiceError::NotFound { what: "file" };
        if !output.files.iter().any(|file| file.name == name) {
            return Err(not_found());
        }
        let location = output.location.ok_or_else(not_found)?;
        // A JSON Lines folder holds the file; a SQLite output is the file.
        Ok(if location.is_dir() {
            location.join(name)
        } else {
            location
        })
    }

    /// Deletes a finished run of `actor`'s source; any other is `NotFound`,
    /// and a run still going is a `Conflict`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %source_id))]
    pub async fn delete(
        &self,
        actor: &User,
        source_id: &SourceId,
        run_id: &RunId,
    ) -> Result<(), ServiceError> {
        if !self.runs.delete_run(source_id, run_id, &actor.id).await? {
            return Err(ServiceError::NotFound { what: "run" });
        }
        tracing::info!(run_id = %run_id, "Deleted a run.");
        Ok(())
    }

    /// The credential a run of `source` reads with, if `actor` may use it
    /// now (they own it, or it is shared with them); otherwise a message for
    /// people saying what to do. A usable credential gets "used by run" in
    /// its activity log.
    async fn usable_credential(
        &self,
        actor: &User,
        source: &SourceRecord,
        run_id: &RunId,
    ) -> Result<Credential, String> {
        let credential = match self
            .credentials
            .use_for_run(actor, &source.credential_id, run_id.as_str())
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
        match crate::usability(&credential) {
            Ok(()) => Ok(credential),
            Err(crate::Unusable::NotAuthorized) => Err(format!(
                "Credential \"{name}\" is not authorized yet: open Credentials and Authorize it, \
                 then run the source again."
            )),
            Err(
                crate::Unusable::NeedsReauthorization { .. }
                | crate::Unusable::AppCredentials { .. },
            ) => Err(format!(
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
    pub async fn execute(&self, actor: &User, source: &SourceRecord, run_id: &RunId) {
        self.execute_as(actor, source, run_id, None).await;
    }

    /// [`Runs::execute`]; with `takeover` (the note for the activity log)
    /// the run was claimed from a process that stopped and resumes from its
    /// checkpoint. Renews the run's lease while it runs, and stops without
    /// an outcome when the lease is lost or this process stops.
    #[tracing::instrument(skip_all, fields(run_id = %run_id, source_id = %source.id))]
    async fn execute_as(
        &self,
        actor: &User,
        source: &SourceRecord,
        run_id: &RunId,
        takeover: Option<String>,
    ) {
        let Ok(_executing) = self.executing.try_read() else {
            // This process is stopping; the released lease lets another
            // process (or the next start) run it.
            return;
        };
        let owner = self.owner().id;
        match self.runs.start_run(run_id).await {
            Ok(()) => {}
            // A run taken over while it was already running.
            Err(pinion_store::StoreError::NotFound { .. }) if takeover.is_some() => {}
            Err(err) => {
                tracing::error!(error = %err, "Could not start a run.");
                return;
            }
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
        let initial = match (&takeover, self.runs.get_run(run_id).await) {
            // Counts stored before the takeover, until the resumed run reports.
            (Some(_), Ok(stored)) if !stored.streams.is_empty() => stored.streams,
            _ => initial,
        };
        let mut lost = self.heartbeat(run_id, &owner);
        let mut stopping = self.stopping.subscribe();
        let outcome = tokio::select! {
            outcome = self.sync(actor, source, run_id, &initial, takeover.as_deref()) => outcome,
            _ = lost.changed() => {
                tracing::warn!("This run's lease was lost (another process took it over, or it could not be renewed in time); stopped running it here.");
                return;
            }
            _ = stopping.wait_for(|stopping| *stopping) => {
                tracing::info!("This process is stopping; the run is left for another process to resume.");
                return;
            }
        };
        let (status, streams, error) = match outcome {
            Ok((streams, None)) => (RunStatus::Succeeded, streams, None),
            Ok((streams, Some(error))) => (RunStatus::Failed, streams, Some(error)),
            Err(error) => (RunStatus::Failed, initial, Some(error)),
        };
        let error = error.map(shorten);
        match &error {
            None => tracing::info!("The run succeeded."),
            Some(error) => tracing::warn!(error = %error, "The run failed."),
        }
        match self
            .runs
            .finish_owned_run(run_id, &owner, status, &streams, error.as_deref())
            .await
        {
            Ok(true) => self.events.run_finished(run_id).await,
            Ok(false) => tracing::warn!(
                "Another process took this run over; its outcome here is not stored."
            ),
            Err(err) => tracing::error!(error = %err, "Could not store a run's outcome."),
        }
    }

    /// Renews run `run_id`'s lease every [`RUN_HEARTBEAT`] while the
    /// returned receiver lives; it changes when the lease is lost: another
    /// process holds the run, or no renewal succeeded for
    /// [`RUN_LEASE`] − [`RUN_HEARTBEAT`], after which another process may
    /// claim it any moment.
    fn heartbeat(&self, run_id: &RunId, owner: &str) -> watch::Receiver<()> {
        let (lost_tx, lost_rx) = watch::channel(());
        let runs = self.clone();
        let (run_id, owner) = (run_id.to_owned(), owner.to_owned());
        tokio::spawn(async move {
            let mut renewed = Instant::now();
            loop {
                tokio::select! {
                    () = lost_tx.closed() => return,
                    () = tokio::time::sleep(RUN_HEARTBEAT) => {}
                }
                match runs
                    .runs
                    .renew_run_lease(&run_id, &owner, runs.lease(&owner).expires_at)
                    .await
                {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => break,
                    Err(err) => {
                        tracing::warn!(run_id = %run_id, error = %err, "Could not renew a run's lease.");
                        if renewed.elapsed() >= RUN_LEASE - RUN_HEARTBEAT {
                            break;
                        }
                    }
                }
            }
            let _ = lost_tx.send(());
        });
        lost_rx
    }

    /// The sync itself: `Err` when it could not start, else the final counts
    /// and the error that stopped it, if any.
    async fn sync(
        &self,
        actor: &User,
        source: &SourceRecord,
        run_id: &RunId,
        initial: &[RunStreamCount],
        takeover: Option<&str>,
    ) -> Result<(Vec<RunStreamCount>, Option<String>), String> {
        let credential = self.usable_credential(actor, source, run_id).await?;
        if let Some(note) = takeover {
            let entry = activity::entry(
                &credential,
                &Actor::System,
                ActivityEvent::UsedByRun,
                Some(run_id.to_string()),
                Some(note.to_owned()),
            );
            activity::append(&*self.credentials.sharing, entry).await;
        }
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
        let output_existed = output.exists();
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
            crate::paced_for(&self.pinterest, &credential, self.tokens.rates()).await,
            Arc::new(self.tokens.token_source(credential.id.clone())),
        )
        .map_err(|err| format!("The Pinterest client could not be set up: {err}"))?;
        let destination = pinion_sync::destination::open_with_clock(&spec, self.tokens.clock())
            .await
            .map_err(|err| format!("The output could not be opened: {err}"))?;
        // Run progress lives in Pinion's store, like the CLI's, keyed by
        // credential and source below.
        let state = self.turns.state(self.state.clone());
        let scopes = credential
            .granted_scopes
            .clone()
            .unwrap_or_else(|| credential.scopes.clone());

        let (progress_tx, mut progress_rx) = watch::channel(initial.to_vec());
        let store = self.runs.clone();
        let turns = self.turns.clone();
        let writer_run = run_id.to_owned();
        let writer = tokio::spawn(async move {
            while progress_rx.changed().await.is_ok() {
                // Snapshots that arrive while this one waits for its turn
                // are coalesced into the next.
                let _turn = turns.take().await;
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
            job_key: pinion_store::source_job_key(credential.id.as_str(), source.id.as_str()),
            destination: destination.as_ref(),
            state: &*state,
            observer: Some(&observer),
        };
        // A run taken over continues the checkpoint of the run it took over,
        // when its output is here (a replica with another data directory
        // starts the output again).
        let options = SyncOptions {
            streams: Some(streams),
            skip_missing_scopes: true,
            resume: takeover.is_some() && output_existed,
            incremental: source.sync_mode == pinion_domain::SyncMode::Incremental,
            clock: self.tokens.clock(),
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
