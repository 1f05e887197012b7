//! One sync run: picks the streams the scopes allow, reads each stream's
//! partitions in parallel, writes pages through one writer per stream, and
//! saves a checkpoint after every durable commit.
//!
//! Order of a page's life: a partition reader fetches it and sends it to the
//! stream's writer; the writer writes it to the destination; at the next
//! commit (every `commit_interval`, and at the end) the destination makes
//! everything durable and only then is the checkpoint, holding each
//! partition's next bookmark and the destination position, saved in one
//! transaction. A crash therefore loses at most uncommitted pages, which a
//! resumed run reads again: upserts absorb them in databases, and JSON Lines
//! files are cut back to the committed position first.
//!
//! Streams run one after another; a stream that fails stops the run, is
//! marked failed with its cause, and its output is never finished.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use pinion_domain::{Clock, Scope, ScopeSet, SystemClock};
use pinion_pinterest::{ClientStats, PageSize, PinterestClient};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::custom::{self, CustomPlan};
use crate::destination::{Destination, StreamSink};
use crate::error::SyncError;
use crate::source::{self, AnalyticsWindow, BoardInfo, PageMsg, SourceContext};
use crate::state::{Checkpoint, PartitionProgress, RunStateStore, StreamProgress, StreamStatus};
use crate::stream::StreamName;

/// Pages queued between a stream's readers and its writer.
const PAGES_IN_FLIGHT: usize = 1;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The streams to read; `None` reads every stream the scopes allow and
    /// skips the others with a message. A stream named here whose scopes are
    /// missing fails the run before any request, unless
    /// [`SyncOptions::skip_missing_scopes`].
    pub streams: Option<Vec<StreamName>>,
    /// Skip a named stream whose scopes are missing (with a note saying
    /// which) instead of failing the run, as a saved source does: its
    /// streams were chosen once, and the credential's grant may have changed
    /// since. The run still fails, before any request, when every stream
    /// would be skipped.
    pub skip_missing_scopes: bool,
    /// Continue the job's last unfinished run.
    pub resume: bool,
    /// Skip boards whose `board_pins_modified_at` did not change since the
    /// last successful run, and read analytics only from the last date read
    /// minus the lookback.
    pub incremental: bool,
    /// Boards (or ad accounts) read at the same time; the client's rate
    /// budget paces them all.
    pub concurrency: usize,
    /// Items per page (250, Pinterest's largest, unless testing).
    pub page_size: PageSize,
    /// Longest time between two commits (and checkpoints).
    pub commit_interval: Duration,
    /// Ad-account analytics window.
    pub analytics: AnalyticsWindow,
    /// A GET operation of the spec read as the `custom` stream (see
    /// [`crate::custom`]). With it and no `streams`, only the custom stream
    /// is read. The job key should then name it
    /// ([`CustomPlan::fingerprint`]), so a resumed run never continues
    /// another operation's checkpoint.
    pub custom: Option<Arc<CustomPlan>>,
    /// What "today" is for ad-account analytics windows.
    pub clock: Arc<dyn Clock>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            streams: None,
            skip_missing_scopes: false,
            resume: false,
            incremental: false,
            concurrency: 4,
            page_size: PageSize::MAX,
            commit_interval: Duration::from_millis(500),
            analytics: AnalyticsWindow::default(),
            custom: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// How one stream of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamOutcome {
    /// Every record was written and the output completed.
    Done,
    /// Completed by an earlier attempt of the resumed run.
    AlreadyDone,
    /// Not read (missing scopes); see the notes.
    Skipped,
    /// Stopped by an error; output kept as committed.
    Failed,
    /// Not reached because an earlier stream failed.
    NotStarted,
}

/// What happened to one stream.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// The stream.
    pub stream: StreamName,
    /// How it ended.
    pub outcome: StreamOutcome,
    /// Records committed in this stream (including earlier attempts of a
    /// resumed run).
    pub records: u64,
    /// Items Pinterest sent that were not valid records (left out, counted).
    pub invalid_records: u64,
    /// Partitions (boards, sections, ad accounts) left out and why.
    pub notes: Vec<String>,
    /// HTTP requests, retries and 429s of this stream.
    pub requests: u64,
    /// Attempts repeated after transient failures or 429s.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The error that stopped it.
    pub error: Option<String>,
}

/// What happened in a run.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    /// The run's id in the state store.
    pub run_id: i64,
    /// True when an unfinished run was continued.
    pub resumed: bool,
    /// The destination, without passwords.
    pub destination: String,
    /// One entry per stream considered.
    pub streams: Vec<StreamReport>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The error that stopped the run, if any (its message in JSON; `null`
    /// when every stream completed).
    #[serde(serialize_with = "failure_message")]
    pub failure: Option<SyncError>,
}

fn failure_message<S: serde::Serializer>(
    failure: &Option<SyncError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match failure {
        Some(failure) => serializer.serialize_some(&failure.to_string()),
        None => serializer.serialize_none(),
    }
}

impl SyncReport {
    /// True when every stream that was to be read completed and no invalid
    /// record was seen.
    pub fn succeeded(&self) -> bool {
        self.failure.is_none() && self.streams.iter().all(|s| s.invalid_records == 0)
    }

    /// Records committed over all streams.
    pub fn records(&self) -> u64 {
        self.streams.iter().map(|s| s.records).sum()
    }
}

/// Live progress, e.g. a progress bar per stream.
pub trait ProgressObserver: Send + Sync {
    /// A stream started; `partitions` is the number of boards or accounts
    /// when known.
    fn stream_started(&self, stream: StreamName, partitions: Option<u64>);
    /// Records were committed (`total` so far in the stream).
    fn records_committed(&self, stream: StreamName, total: u64);
    /// A partition finished.
    fn partition_done(&self, stream: StreamName);
    /// The stream ended.
    fn stream_finished(&self, report: &StreamReport);
}

/// Everything a run works with.
pub struct SyncJob<'a> {
    /// The Pinterest client of the credential.
    pub client: PinterestClient,
    /// The scopes the credential was granted.
    pub scopes: ScopeSet,
    /// Names the job for resume and incremental watermarks (e.g. credential
    /// id plus destination).
    pub job_key: String,
    /// Where records go.
    pub destination: &'a dyn Destination,
    /// Where progress is saved.
    pub state: &'a dyn RunStateStore,
    /// Live progress, if wanted.
    pub observer: Option<&'a dyn ProgressObserver>,
}

struct Plan {
    stream: StreamName,
    skip: Option<String>,
}

fn plan(options: &SyncOptions, scopes: &ScopeSet) -> Result<Vec<Plan>, SyncError> {
    let explicit = options.streams.is_some() || options.custom.is_some();
    let mut streams = match (&options.streams, &options.custom) {
        (Some(streams), _) => streams.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => StreamName::ALL.to_vec(),
    };
    match &options.custom {
        Some(_) => streams.push(StreamName::Custom),
        None if streams.contains(&StreamName::Custom) => {
            return Err(SyncError::Invalid(
                "the custom stream needs an operation (--custom OPERATION)".into(),
            ));
        }
        None => {}
    }
    streams.sort();
    streams.dedup();
    let mut plans = Vec::new();
    for stream in streams {
        let missing = match (stream, &options.custom) {
            (StreamName::Custom, Some(custom)) => custom.missing_scopes(scopes),
            _ => stream.missing_scopes(scopes),
        };
        let skip = match missing {
            Some(missing) if explicit && !options.skip_missing_scopes => {
                return Err(SyncError::MissingScope { stream, missing });
            }
            Some(missing) => Some(format!("skipped: the credential was not granted {missing}")),
            None => None,
        };
        plans.push(Plan { stream, skip });
    }
    if explicit
        && options.skip_missing_scopes
        && let Some(first) = plans.first()
        && plans.iter().all(|plan| plan.skip.is_some())
    {
        // Nothing can be read: say so for the first stream, as if named.
        let missing = match (first.stream, &options.custom) {
            (StreamName::Custom, Some(custom)) => custom.missing_scopes(scopes),
            _ => first.stream.missing_scopes(scopes),
        }
        .unwrap_or_default();
        return Err(SyncError::MissingScope {
            stream: first.stream,
            missing,
        });
    }
    Ok(plans)
}

/// Runs a sync. Setup errors (unknown streams, a stream named explicitly
/// without its scopes, an unreachable state store) are returned before any
/// request; errors while reading or writing are in the report's `failure`.
pub async fn run(job: &SyncJob<'_>, options: &SyncOptions) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let plans = plan(options, &job.scopes)?;
    let start = job
        .state
        .sync_begin_run(&job.job_key, options.resume)
        .await?;
    let run_id = start.run_id;
    job.destination
        .start_run(start.resumed)
        .await
        .map_err(SyncError::DestinationSetup)?;
    let ctx = Arc::new(SourceContext {
        client: job.client.clone(),
        scopes: job.scopes.clone(),
        page_size: options.page_size,
        analytics: options.analytics.clone(),
        clock: options.clock.clone(),
    });
    let mut report = SyncReport {
        run_id: run_id.0,
        resumed: start.resumed,
        destination: job.destination.describe(),
        streams: Vec::new(),
        seconds: 0.0,
        failure: None,
    };
    let mut boards: Option<Vec<BoardInfo>> = None;
    for plan in plans {
        let stream = plan.stream;
        let blank = |outcome| StreamReport {
            stream,
            outcome,
            records: 0,
            invalid_records: 0,
            notes: Vec::new(),
            requests: 0,
            retries: 0,
            rate_limited: 0,
            seconds: 0.0,
            error: None,
        };
        if report.failure.is_some() {
            report.streams.push(blank(StreamOutcome::NotStarted));
            continue;
        }
        if let Some(reason) = plan.skip {
            job.state
                .sync_set_stream_status(
                    run_id,
                    stream.as_str(),
                    StreamStatus::Skipped,
                    Some(&reason),
                )
                .await?;
            let mut skipped = blank(StreamOutcome::Skipped);
            skipped.notes.push(reason);
            if let Some(observer) = job.observer {
                observer.stream_finished(&skipped);
            }
            report.streams.push(skipped);
            continue;
        }
        let previous = start.streams.get(stream.as_str());
        if let Some(previous) = previous.filter(|p| p.status == StreamStatus::Done) {
            let mut done = blank(StreamOutcome::AlreadyDone);
            done.records = previous.records;
            report.streams.push(done);
            continue;
        }
        let before = job.client.stats();
        let stream_started = Instant::now();
        let mut stream_report = blank(StreamOutcome::Done);
        let result = run_stream(
            job,
            options,
            &ctx,
            stream,
            run_id,
            previous,
            &mut boards,
            &mut stream_report,
        )
        .await;
        let stats: ClientStats = job.client.stats().since(&before);
        stream_report.requests = stats.requests;
        stream_report.retries = stats.retries;
        stream_report.rate_limited = stats.rate_limited;
        stream_report.seconds = stream_started.elapsed().as_secs_f64();
        // A stream is done once its state says so; failing to record it
        // fails the stream like any other error, and is reported.
        let result = match result {
            Ok(()) => job
                .state
                .sync_set_stream_status(run_id, stream.as_str(), StreamStatus::Done, None)
                .await
                .map_err(SyncError::from),
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {}
            Err(err) => {
                let message = err.to_string();
                tracing::error!(stream = %stream, error = %message, "Stream failed; its output keeps only committed records.");
                stream_report.outcome = StreamOutcome::Failed;
                stream_report.error = Some(message.clone());
                // The status write must not hide the stream's own error.
                if let Err(state_err) = job
                    .state
                    .sync_set_stream_status(
                        run_id,
                        stream.as_str(),
                        StreamStatus::Failed,
                        Some(&message),
                    )
                    .await
                {
                    tracing::error!(error = %state_err, "Could not record the stream's failure.");
                }
                report.failure = Some(err);
            }
        }
        if let Some(observer) = job.observer {
            observer.stream_finished(&stream_report);
        }
        report.streams.push(stream_report);
    }
    if report.failure.is_none() {
        let completed: Vec<StreamName> = report
            .streams
            .iter()
            .filter(|s| matches!(s.outcome, StreamOutcome::Done | StreamOutcome::AlreadyDone))
            .map(|s| s.stream)
            .collect();
        if let Err(source) = job.destination.finish_run(&completed).await {
            tracing::error!(error = %source, "The run's output could not be completed.");
            report.failure = Some(SyncError::DestinationSetup(source));
        }
    }
    let succeeded = report.failure.is_none();
    job.state
        .sync_finish_run(run_id, &job.job_key, succeeded)
        .await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn run_stream(
    job: &SyncJob<'_>,
    options: &SyncOptions,
    ctx: &Arc<SourceContext>,
    stream: StreamName,
    run_id: crate::state::RunId,
    previous: Option<&StreamProgress>,
    boards: &mut Option<Vec<BoardInfo>>,
    report: &mut StreamReport,
) -> Result<(), SyncError> {
    let saved: HashMap<String, PartitionProgress> =
        previous.map(|p| p.partitions.clone()).unwrap_or_default();
    let saved = Arc::new(saved);
    // One page waits for the writer whatever the concurrency; each reader
    // holds at most one more while it waits, so memory does not grow with
    // the number of pins or boards.
    let (tx, rx) = mpsc::channel::<PageMsg>(PAGES_IN_FLIGHT);
    let concurrency = options.concurrency.max(1);

    // Work out the partitions before opening the output, so a failure to
    // list boards leaves any earlier output untouched.
    let producer: futures::future::BoxFuture<'static, Result<(), SyncError>>;
    let mut partitions: Option<u64> = None;
    if stream.per_board() {
        if boards.is_none() {
            *boards = Some(source::list_boards(ctx, stream).await?);
        }
        let all = boards.clone().unwrap_or_default();
        let mut chosen = Vec::new();
        let mut secret_skipped = 0;
        let mut unchanged = 0;
        let watermarks = if options.incremental && stream != StreamName::BoardSections {
            job.state
                .sync_watermarks(&job.job_key, stream.as_str())
                .await?
        } else {
            HashMap::new()
        };
        for board in all {
            let needs_pin_secret = stream != StreamName::BoardSections;
            if board.secret && needs_pin_secret && !job.scopes.contains(Scope::PinsReadSecret) {
                secret_skipped += 1;
                continue;
            }
            let unchanged_since_last_run = matches!(
                (watermarks.get(board.id.as_str()), board.pins_modified_at.as_ref()),
                (Some(seen), Some(now)) if seen == now
            );
            if unchanged_since_last_run {
                unchanged += 1;
                continue;
            }
            chosen.push(board);
        }
        if secret_skipped > 0 {
            report.notes.push(format!(
                "{secret_skipped} secret board(s) left out: the credential was not granted pins:read_secret"
            ));
        }
        if unchanged > 0 {
            report.notes.push(format!(
                "{unchanged} board(s) unchanged since the last successful run (incremental)"
            ));
        }
        partitions = Some(chosen.len() as u64);
        let ctx = Arc::clone(ctx);
        producer = Box::pin(async move {
            let mut reads = futures::stream::iter(chosen.into_iter().map(|board| {
                source::read_board(
                    Arc::clone(&ctx),
                    stream,
                    board,
                    Arc::clone(&saved),
                    tx.clone(),
                )
            }))
            .buffer_unordered(concurrency);
            while let Some(result) = reads.next().await {
                result?;
            }
            Ok(())
        });
    } else if let (StreamName::Custom, Some(plan)) = (stream, &options.custom) {
        let ids = custom::fan_out_ids(ctx, plan, boards).await?;
        partitions = Some(ids.as_ref().map_or(1, |ids| ids.len() as u64));
        producer = Box::pin(custom::read(
            Arc::clone(ctx),
            Arc::clone(plan),
            ids,
            saved,
            concurrency,
            tx,
        ));
    } else if stream == StreamName::AdAccountAnalytics {
        let accounts = source::list_ad_accounts(ctx).await?;
        let watermarks = if options.incremental {
            job.state
                .sync_watermarks(&job.job_key, stream.as_str())
                .await?
        } else {
            HashMap::new()
        };
        partitions = Some(accounts.len() as u64);
        let ctx = Arc::clone(ctx);
        producer = Box::pin(async move {
            let mut reads = futures::stream::iter(accounts.into_iter().map(|account| {
                let last = watermarks
                    .get(account.as_str())
                    .and_then(|d| d.parse::<NaiveDate>().ok());
                let saved_part = saved.get(account.as_str()).cloned();
                source::read_analytics(Arc::clone(&ctx), account, saved_part, last, tx.clone())
            }))
            .buffer_unordered(concurrency);
            while let Some(result) = reads.next().await {
                result?;
            }
            Ok(())
        });
    } else {
        let part = saved.get("").cloned();
        let ctx = Arc::clone(ctx);
        producer = Box::pin(source::read_single(ctx, stream, part, tx));
    }
    if stream == StreamName::Boards && !job.scopes.contains(Scope::BoardsReadSecret) {
        report.notes.push(
            "secret boards left out: the credential was not granted boards:read_secret".into(),
        );
    }
    if stream == StreamName::Pins && !job.scopes.contains(Scope::PinsReadSecret) {
        report
            .notes
            .push("secret pins left out: the credential was not granted pins:read_secret".into());
    }

    let resume_position = previous.and_then(|p| p.position);
    let sink = job
        .destination
        .begin(stream, resume_position)
        .await
        .map_err(|source| SyncError::Destination { stream, source })?;
    job.state
        .sync_set_stream_status(run_id, stream.as_str(), StreamStatus::Running, None)
        .await?;
    if let Some(observer) = job.observer {
        observer.stream_started(stream, partitions);
    }

    // The readers run on their own task, so parsing and writing use both
    // cores; the writer runs here.
    let reader = tokio::spawn(producer);
    let records_before = previous.map(|p| p.records).unwrap_or(0);
    let written = write_stream(
        job,
        options,
        stream,
        run_id,
        sink,
        rx,
        records_before,
        report,
    )
    .await;
    let read = match reader.await {
        Ok(result) => result,
        Err(join) => Err(SyncError::Invalid(format!(
            "stream {stream}: reader task failed: {join}"
        ))),
    };
    // A reading error explains a failure better than the writer's view of it.
    let sink = match (read, written) {
        (Err(err), _) => return Err(err),
        (Ok(()), Err(err)) => return Err(err),
        (Ok(()), Ok(sink)) => sink,
    };
    sink.finish()
        .await
        .map_err(|source| SyncError::Destination { stream, source })?;
    Ok(())
}

/// Writes pages as they arrive and commits them; returns the sink for
/// finishing once every reader is done (the channel closed).
#[allow(clippy::too_many_arguments)]
async fn write_stream(
    job: &SyncJob<'_>,
    options: &SyncOptions,
    stream: StreamName,
    run_id: crate::state::RunId,
    mut sink: Box<dyn StreamSink>,
    mut rx: mpsc::Receiver<PageMsg>,
    records_before: u64,
    report: &mut StreamReport,
) -> Result<Box<dyn StreamSink>, SyncError> {
    let dest_err = |source| SyncError::Destination { stream, source };
    let mut pending: HashMap<String, PartitionProgress> = HashMap::new();
    let mut total = records_before;
    let mut last_commit = Instant::now();
    let mut uncommitted = false;
    loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            () = tokio::time::sleep_until((last_commit + options.commit_interval).into()), if uncommitted => {
                commit(job, stream, run_id, &mut sink, &mut pending, total).await?;
                last_commit = Instant::now();
                uncommitted = false;
                continue;
            }
        };
        let Some(msg) = msg else { break };
        if let Err(err) = sink.write_batch(&msg.records).await {
            // Stop the readers, then keep what was committed.
            rx.close();
            return Err(dest_err(err));
        }
        total += msg.records.len() as u64;
        metrics::counter!("pinion_sync_records_written_total", "stream" => stream.as_str())
            .increment(msg.records.len() as u64);
        report.invalid_records += msg.invalid;
        if let (true, Some(observer)) = (msg.progress.done, job.observer) {
            observer.partition_done(stream);
        }
        pending.insert(msg.partition, msg.progress);
        uncommitted = true;
        if last_commit.elapsed() >= options.commit_interval {
            commit(job, stream, run_id, &mut sink, &mut pending, total).await?;
            last_commit = Instant::now();
            uncommitted = false;
        }
    }
    // Every page received is complete: commit them even if a reader failed,
    // so a resumed run starts after them.
    commit(job, stream, run_id, &mut sink, &mut pending, total).await?;
    report.records = total;
    Ok(sink)
}

async fn commit(
    job: &SyncJob<'_>,
    stream: StreamName,
    run_id: crate::state::RunId,
    sink: &mut Box<dyn StreamSink>,
    pending: &mut HashMap<String, PartitionProgress>,
    total: u64,
) -> Result<(), SyncError> {
    let position = sink
        .commit()
        .await
        .map_err(|source| SyncError::Destination { stream, source })?;
    let checkpoint = Checkpoint {
        position,
        records: total,
        partitions: pending.drain().collect(),
    };
    job.state
        .sync_save_checkpoint(run_id, stream.as_str(), &checkpoint)
        .await?;
    if let Some(observer) = job.observer {
        observer.records_committed(stream, total);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_skip_streams_unless_they_were_named() {
        let scopes = ScopeSet::parse("user_accounts:read,boards:read,pins:read").unwrap();
        let plans = plan(&SyncOptions::default(), &scopes).unwrap();
        let skipped: Vec<StreamName> = plans
            .iter()
            .filter(|p| p.skip.is_some())
            .map(|p| p.stream)
            .collect();
        assert_eq!(
            skipped,
            [StreamName::AdAccounts, StreamName::AdAccountAnalytics]
        );
        let named = SyncOptions {
            streams: Some(vec![StreamName::Boards, StreamName::AdAccounts]),
            ..SyncOptions::default()
        };
        let err = plan(&named, &scopes).err().unwrap();
        assert!(err.to_string().contains("ads:read"), "{err}");

        // A saved source skips the stream with a note instead...
        let saved = SyncOptions {
            skip_missing_scopes: true,
            ..named
        };
        let plans = plan(&saved, &scopes).unwrap();
        assert_eq!(plans.len(), 2);
        assert!(plans[0].skip.is_none());
        assert!(plans[1].skip.as_deref().unwrap().contains("ads:read"));
        // ...and fails only when nothing can be read.
        let nothing = SyncOptions {
            streams: Some(vec![StreamName::AdAccounts]),
            ..saved
        };
        let err = plan(&nothing, &scopes).err().unwrap();
        assert!(err.to_string().contains("ads:read"), "{err}");
    }
}
