//! The `pinion sync` and `pinion publish` command lines, as a library for
//! the `pinion` binary: clap argument structs and runners that take the
//! credential's token source, the API base URL and the granted scopes.
//!
//! On a terminal, `sync` shows a progress bar per stream (on stderr); it is
//! quiet otherwise. Both print a summary at the end: a table on stderr, or
//! with `--json` one JSON object on stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pinion_domain::ScopeSet;
use pinion_pinterest::{BaseUrl, ClientConfig, PinterestClient, TokenSource};

use crate::custom::{CustomPlan, CustomRequest};
use crate::custom_write::{CustomWritePlan, CustomWriteRequest};
use crate::destination;
use crate::error::{StateError, SyncError};
use crate::publish::{self, PublishError, PublishOptions, PublishReport};
use crate::run::{ProgressObserver, StreamReport, SyncJob, SyncOptions, SyncReport};
use crate::source::AnalyticsWindow;
use crate::stream::StreamName;

/// Arguments of `pinion sync` (besides `--credential`, which the binary
/// resolves into a [`CliEnv`]).
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// Streams to read, comma-separated: user_account, boards,
    /// board_sections, board_pins, board_section_pins, pins, ad_accounts,
    /// ad_account_analytics. Default: every stream the credential's scopes
    /// allow (the others are skipped with a message); a stream named here
    /// without its scopes fails the run before any request.
    #[arg(long, value_delimiter = ',')]
    pub streams: Option<Vec<String>>,
    /// Where records go: jsonl:DIR, sqlite:PATH, postgres://URL or stdout.
    #[arg(long)]
    pub dest: String,
    /// Continue the last unfinished run of this credential and destination.
    #[arg(long)]
    pub resume: bool,
    /// Skip boards unchanged since the last successful run; read analytics
    /// from the last date read minus the lookback.
    #[arg(long)]
    pub incremental: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Boards or ad accounts read in parallel (paced by the rate budget).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Days of ad-account analytics on a first run (at most 90).
    #[arg(long, default_value_t = 90)]
    pub analytics_days: u32,
    /// Days of analytics read again on later runs, because Pinterest revises
    /// recent days.
    #[arg(long, default_value_t = 7)]
    pub lookback_days: u32,
    /// Analytics columns, comma-separated (default: spend, impressions,
    /// clicks, engagement, CTR).
    #[arg(long, value_delimiter = ',')]
    pub analytics_columns: Option<Vec<String>>,
    /// Keep run state in a separate file path or postgres://URL instead of
    /// Pinion's store.
    #[arg(long)]
    pub state: Option<String>,
    /// Also read a GET operation of Pinterest's API as the `custom` stream,
    /// named by operationId (`boards/list_pins`) or path
    /// (`/boards/{board_id}/pins`). Without --streams only it is read.
    #[arg(long, value_name = "OPERATION")]
    pub custom: Option<String>,
    /// A path or query parameter of the custom operation, NAME=VALUE
    /// (repeat for several).
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "custom")]
    pub params: Vec<String>,
    /// Read the custom operation once per id of a stream: boards (fills
    /// board_id) or ad_accounts (fills ad_account_id).
    #[arg(long, value_name = "STREAM", requires = "custom")]
    pub for_each: Option<String>,
}

/// Arguments of `pinion publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// JSON Lines input: pins (`board_id`, `board_section_id`, `title`,
    /// `description`, `link`, `alt_text`, `image_url`, `key`) or, with
    /// `--boards`, boards (`name`, `description`, `privacy`, `key`).
    #[arg(long)]
    pub input: PathBuf,
    /// Board for pin rows that have none.
    #[arg(long)]
    pub board: Option<String>,
    /// The input holds boards, not pins.
    #[arg(long)]
    pub boards: bool,
    /// Creates in flight (paced by the org_write budget).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Where rejected rows go (default `<input>.rejects.jsonl`).
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    /// Keep the ledger in a separate file path or postgres://URL instead of
    /// Pinion's store.
    #[arg(long)]
    pub state: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait after a create whose answer was lost before looking
    /// for the pin and, if it is not there, creating it again (Pinterest's
    /// lists can lag behind its writes).
    #[arg(long, default_value_t = publish::DEFAULT_SETTLE.as_secs())]
    pub settle_seconds: u64,
    /// Send each row to a POST or PATCH operation of Pinterest's API
    /// instead, named by operationId (`pins/create`) or `METHOD /path`
    /// (`PATCH /boards/{board_id}`); each body is checked against the
    /// operation's request schema before anything is sent.
    #[arg(long, value_name = "OPERATION", conflicts_with = "boards")]
    pub custom_write: Option<String>,
    /// For --custom-write: put input field SOURCE into path parameter or
    /// body field TARGET (dotted for nested fields, e.g.
    /// media_source.url=image). Without it, the row is the body.
    #[arg(long = "map", value_name = "TARGET=SOURCE", requires = "custom_write")]
    pub mapping: Vec<String>,
}

/// What the binary resolves from `--credential`.
pub struct CliEnv {
    /// The credential's token source (the token manager).
    pub tokens: Arc<dyn TokenSource>,
    /// Pinterest's API base URL (`https://api.pinterest.com/v5`, or the
    /// simulator's).
    pub api_base_url: String,
    /// The scopes the credential was granted.
    pub scopes: ScopeSet,
    /// A stable name of the credential (its id): names resume state,
    /// watermarks and the publish ledger.
    pub credential_key: String,
    /// Pinion's data directory, for the state file when there is no store.
    pub data_dir: PathBuf,
    /// Pinion's store: run state and the publish ledger live there unless
    /// `--state` names another place. Without it, `<data dir>/sync-state.db`.
    pub store: Option<Arc<dyn pinion_store::SyncStateStore>>,
}

/// Why `pinion publish` did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PublishCliError {
    /// Setup or a stop during the run.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The ledger could not be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// The client could not be built.
    #[error("{0}")]
    Invalid(String),
    /// Some rows could not be settled; running the same input again finishes
    /// them without creating anything twice.
    #[error("{0} row(s) are unfinished; run the same command again to finish them")]
    Unfinished(u64),
}

fn client(env: &CliEnv) -> Result<PinterestClient, String> {
    let base = BaseUrl::parse(&env.api_base_url).map_err(|e| e.to_string())?;
    PinterestClient::new(ClientConfig::with_base_url(base), Arc::clone(&env.tokens))
        .map_err(|e| e.to_string())
}

/// Says so when a state file of an earlier version sits in the data
/// directory while the state now goes to the store: its unfinished runs and
/// ledger are not read unless `--state` names it.
fn note_earlier_state_file(env: &CliEnv) {
    let legacy = env.data_dir.join("sync-state.db");
    if legacy.exists() {
        tracing::warn!(file = %legacy.display(), "Run state and the publish ledger are now kept in Pinion's store; the earlier state file is not read.");
        eprintln!(
            "note: {} from an earlier version is not read any more (state is in Pinion's store); \
             pass --state {} to resume a run or publish an input recorded there",
            legacy.display(),
            legacy.display()
        );
    }
}

fn state_location(explicit: &Option<String>, env: &CliEnv) -> String {
    explicit
        .clone()
        .unwrap_or_else(|| env.data_dir.join("sync-state.db").display().to_string())
}

/// Progress bars on stderr, one per stream.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<StreamName, ProgressBar>>,
}

impl ProgressObserver for Bars {
    fn stream_started(&self, stream: StreamName, partitions: Option<u64>) {
        let bar = match partitions {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template(
            "{prefix:>20} {bar:30} {pos}/{len} parts  {msg} {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = self.multi.add(bar);
        bar.set_style(style);
        bar.set_prefix(stream.as_str());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stream, bar);
    }

    fn records_committed(&self, stream: StreamName, total: u64) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&stream)
        {
            bar.set_message(format!("{total} records"));
        }
    }

    fn partition_done(&self, stream: StreamName) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&stream)
        {
            bar.inc(1);
        }
    }

    fn stream_finished(&self, report: &StreamReport) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&report.stream)
        {
            bar.finish_with_message(format!("{} records, {:?}", report.records, report.outcome));
        }
    }
}

/// The per-stream summary table.
pub fn summary_table(report: &SyncReport) -> String {
    let mut out = format!(
        "{:<22} {:<12} {:>10} {:>9} {:>8} {:>6} {:>8}\n",
        "stream", "outcome", "records", "requests", "retries", "429s", "seconds"
    );
    for s in &report.streams {
        out.push_str(&format!(
            "{:<22} {:<12} {:>10} {:>9} {:>8} {:>6} {:>8.2}\n",
            s.stream.as_str(),
            format!("{:?}", s.outcome).to_lowercase(),
            s.records,
            s.requests,
            s.retries,
            s.rate_limited,
            s.seconds
        ));
        for note in &s.notes {
            out.push_str(&format!("    note: {note}\n"));
        }
        if s.invalid_records > 0 {
            out.push_str(&format!(
                "    {} invalid item(s) left out\n",
                s.invalid_records
            ));
        }
        if let Some(error) = &s.error {
            out.push_str(&format!("    error: {error}\n"));
        }
    }
    out.push_str(&format!(
        "{} records to {} in {:.2}s{}\n",
        report.records(),
        report.destination,
        report.seconds,
        if report.resumed { " (resumed run)" } else { "" }
    ));
    out
}

/// Runs `pinion sync`. Prints the summary; returns the report when every
/// stream completed, and an error naming the stream, endpoint and cause
/// otherwise (the binary exits non-zero). The run can be continued with
/// `--resume`.
pub async fn run_sync(args: &SyncArgs, env: CliEnv) -> Result<SyncReport, SyncError> {
    let streams = args
        .streams
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    n.parse::<StreamName>()
                        .map_err(|e| SyncError::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let mut analytics = AnalyticsWindow {
        days: args.analytics_days,
        lookback_days: args.lookback_days,
        ..AnalyticsWindow::default()
    };
    if let Some(columns) = &args.analytics_columns {
        analytics.columns.clone_from(columns);
    }
    // The custom operation is checked against the spec before anything
    // is opened or requested.
    let custom = match &args.custom {
        Some(operation) => {
            let for_each = args
                .for_each
                .as_deref()
                .map(|s| {
                    s.parse::<StreamName>()
                        .map_err(|e| SyncError::Invalid(e.to_string()))
                })
                .transpose()?;
            let request = CustomRequest {
                operation: operation.clone(),
                params: CustomRequest::parse_params(&args.params)?,
                for_each,
            };
            Some(Arc::new(CustomPlan::resolve(&request)?))
        }
        None => None,
    };
    let options = SyncOptions {
        streams,
        custom,
        resume: args.resume,
        incremental: args.incremental,
        concurrency: args.concurrency.max(1),
        analytics,
        ..SyncOptions::default()
    };
    let client = client(&env).map_err(SyncError::Invalid)?;
    let destination = destination::open(&args.dest)
        .await
        .map_err(SyncError::DestinationSetup)?;
    let state = match (&args.state, &env.store) {
        (None, Some(store)) => {
            note_earlier_state_file(&env);
            Arc::clone(store)
        }
        (explicit, _) => crate::state::open(&state_location(explicit, &env)).await?,
    };
    let state: &dyn crate::state::RunStateStore = &*state;
    let to_stdout = args.dest == "stdout" || args.dest == "-";
    let bars = (!args.json && std::io::stderr().is_terminal()).then(|| Bars {
        multi: MultiProgress::new(),
        bars: Mutex::new(HashMap::new()),
    });
    let job = SyncJob {
        client,
        scopes: env.scopes.clone(),
        job_key: match &options.custom {
            Some(plan) => format!(
                "{}|{}|custom:{}",
                env.credential_key,
                destination.describe(),
                plan.fingerprint()
            ),
            None => format!("{}|{}", env.credential_key, destination.describe()),
        },
        destination: destination.as_ref(),
        state,
        observer: bars.as_ref().map(|b| b as &dyn ProgressObserver),
    };
    let mut report = match crate::run::run(&job, &options).await {
        Ok(report) => report,
        Err(err) => {
            if args.json && !to_stdout {
                let summary = serde_json::json!({
                    "destination": destination.describe(),
                    "streams": [],
                    "failure": err.to_string(),
                });
                println!("{summary}");
            }
            return Err(err);
        }
    };
    if args.resume && !report.resumed {
        eprintln!(
            "note: there was no unfinished run of this credential and destination ({}) to \
             resume; this was a new run",
            report.destination
        );
    }
    let invalid: u64 = report.streams.iter().map(|s| s.invalid_records).sum();
    if report.failure.is_none() && invalid > 0 {
        report.failure = Some(SyncError::Incomplete {
            failed: 0,
            first: format!(
                "{invalid} item(s) from Pinterest were not valid records and were left out"
            ),
        });
    }
    if args.json && !to_stdout {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        eprint!("{}", summary_table(&report));
    }
    if let Some(failure) = report.failure.take() {
        return Err(failure);
    }
    Ok(report)
}

/// Runs `pinion publish`. Prints the summary; rows that could not be settled
/// make it an error (running it again finishes them).
pub async fn run_publish(
    args: &PublishArgs,
    env: CliEnv,
) -> Result<PublishReport, PublishCliError> {
    // A custom write is checked against the spec before anything is opened.
    let custom_write = match &args.custom_write {
        Some(operation) => {
            let invalid = |e: crate::custom::CustomError| PublishCliError::Invalid(e.to_string());
            let request = CustomWriteRequest {
                operation: operation.clone(),
                mapping: CustomWriteRequest::parse_mapping(&args.mapping).map_err(invalid)?,
            };
            Some(Arc::new(
                CustomWritePlan::resolve(&request).map_err(invalid)?,
            ))
        }
        None => None,
    };
    let client = client(&env).map_err(PublishCliError::Invalid)?;
    let ledger = match (&args.state, &env.store) {
        (None, Some(store)) => {
            note_earlier_state_file(&env);
            Arc::clone(store)
        }
        (explicit, _) => crate::state::open(&state_location(explicit, &env)).await?,
    };
    let ledger: &dyn crate::state::PublishLedger = &*ledger;
    let options = PublishOptions {
        namespace: env.credential_key.clone(),
        board: args.board.clone(),
        concurrency: args.concurrency.max(1),
        reject_file: args.reject_file.clone(),
        settle: Duration::from_secs(args.settle_seconds),
    };
    let report = if let Some(plan) = custom_write {
        publish::publish_custom(&client, ledger, &args.input, plan, &options).await?
    } else if args.boards {
        publish::publish_boards(&client, ledger, &args.input, &options).await?
    } else {
        publish::publish_pins(&client, ledger, &args.input, &options).await?
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        eprintln!(
            "{} rows: {} created, {} already published, {} reconciled, {} rejected, {} duplicate, {} unfinished{}",
            report.rows,
            report.created,
            report.already_published,
            report.reconciled,
            report.rejected,
            report.duplicates,
            report.unfinished,
            report
                .reject_file
                .as_ref()
                .map(|f| format!("; rejected rows with reasons in {f}"))
                .unwrap_or_default()
        );
    }
    if !report.complete() {
        return Err(PublishCliError::Unfinished(report.unfinished));
    }
    Ok(report)
}
