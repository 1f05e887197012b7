//! The `pinion sync` and `pinion publish` commands as library calls: plain
//! requests holding what the command line says, the environment the binary
//! resolves from `--credential`, and runners that return the report.
//!
//! The runners print nothing: the `pinion` binary parses the arguments,
//! renders progress and notes ([`CommandReporter`]) and prints the summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::ScopeSet;
use pinion_pinterest::{BaseUrl, ClientConfig, PinterestClient, RateTier, TokenSource};

use crate::custom::{CustomPlan, CustomRequest};
use crate::custom_write::{CustomWritePlan, CustomWriteRequest};
use crate::destination;
use crate::error::{StateError, SyncError};
use crate::publish::{self, PublishError, PublishOptions, PublishReport};
use crate::run::{ProgressObserver, SyncJob, SyncOptions, SyncReport};
use crate::source::AnalyticsWindow;
use crate::stream::StreamName;

/// Boards or ad accounts read in parallel, and creates in flight, unless
/// the command says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Days of ad-account analytics on a first run unless the command says
/// otherwise.
pub const DEFAULT_ANALYTICS_DAYS: u32 = 90;
/// Days of analytics read again on later runs unless the command says
/// otherwise.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 7;

/// What `pinion sync` is asked to do (besides `--credential`, which the
/// binary resolves into a [`CommandEnv`]).
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Streams to read by name; `None` is every stream the scopes allow.
    pub streams: Option<Vec<String>>,
    /// Where records go: `jsonl:DIR`, `sqlite:PATH`, `postgres://URL` or
    /// `stdout`.
    pub dest: String,
    /// Continue the last unfinished run of this credential and destination.
    pub resume: bool,
    /// Skip boards unchanged since the last successful run.
    pub incremental: bool,
    /// Boards or ad accounts read in parallel (at least one is).
    pub concurrency: usize,
    /// Days of ad-account analytics on a first run.
    pub analytics_days: u32,
    /// Days of analytics read again on later runs.
    pub lookback_days: u32,
    /// Analytics columns; `None` is the window's default.
    pub analytics_columns: Option<Vec<String>>,
    /// Run state in a separate file path or `postgres://URL` instead of
    /// Pinion's store.
    pub state: Option<String>,
    /// A GET operation of Pinterest's API read as the `custom` stream.
    pub custom: Option<String>,
    /// Parameters of the custom operation, `NAME=VALUE`.
    pub params: Vec<String>,
    /// Read the custom operation once per id of this stream.
    pub for_each: Option<String>,
}

impl SyncRequest {
    /// A sync of every allowed stream into `dest`, with the defaults of
    /// `pinion sync`.
    pub fn new(dest: impl Into<String>) -> Self {
        Self {
            streams: None,
            dest: dest.into(),
            resume: false,
            incremental: false,
            concurrency: DEFAULT_CONCURRENCY,
            analytics_days: DEFAULT_ANALYTICS_DAYS,
            lookback_days: DEFAULT_LOOKBACK_DAYS,
            analytics_columns: None,
            state: None,
            custom: None,
            params: Vec::new(),
            for_each: None,
        }
    }

    /// Whether records go to stdout, where no summary may go.
    pub fn writes_to_stdout(&self) -> bool {
        self.dest == "stdout" || self.dest == "-"
    }
}

/// What `pinion publish` is asked to do.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// JSON Lines input: pins or, with `boards`, boards.
    pub input: PathBuf,
    /// Board for pin rows that have none.
    pub board: Option<String>,
    /// The input holds boards, not pins.
    pub boards: bool,
    /// Creates in flight (at least one is).
    pub concurrency: usize,
    /// Where rejected rows go (default `<input>.rejects.jsonl`).
    pub reject_file: Option<PathBuf>,
    /// The ledger in a separate file path or `postgres://URL` instead of
    /// Pinion's store.
    pub state: Option<String>,
    /// How long to wait after a create whose answer was lost before looking
    /// for the pin.
    pub settle: Duration,
    /// Send each row to this POST or PATCH operation instead.
    pub custom_write: Option<String>,
    /// For `custom_write`: `TARGET=SOURCE` field mappings.
    pub mapping: Vec<String>,
}

impl PublishRequest {
    /// Publishes the pins in `input`, with the defaults of `pinion publish`.
    pub fn new(input: impl Into<PathBuf>) -> Self {
        Self {
            input: input.into(),
            board: None,
            boards: false,
            concurrency: DEFAULT_CONCURRENCY,
            reject_file: None,
            state: None,
            settle: publish::DEFAULT_SETTLE,
            custom_write: None,
            mapping: Vec::new(),
        }
    }
}

/// What the binary resolves from `--credential`.
pub struct CommandEnv {
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
    /// How fast the run may call Pinterest (`--rate-limit`): the app's tier
    /// by default. Pinterest's `x-ratelimit-*` headers and 429s may slow it
    /// further, never speed it past this.
    pub rate: RateTier,
    /// The rate budget the run draws from together with every other process
    /// calling Pinterest for the same app and account; `None` paces the run
    /// alone.
    pub shared_budget: Option<pinion_pinterest::SharedBudget>,
}

/// What the person running a command is told while it runs; the binary
/// renders it (progress bars and notes on stderr).
pub trait CommandReporter: Send + Sync {
    /// A note for the person running the command, e.g. that an earlier state
    /// file is not read.
    fn note(&self, text: &str);
    /// The observer of a sync run's progress, when progress is shown.
    fn progress(&self) -> Option<&dyn ProgressObserver>;
}

/// Why `pinion sync` did not run to its report.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SyncCommandError {
    /// The destination's description when it had been opened before the run
    /// stopped (the JSON summary names it).
    pub destination: Option<String>,
    /// What went wrong.
    pub error: SyncError,
}

impl From<SyncError> for SyncCommandError {
    fn from(error: SyncError) -> Self {
        Self {
            destination: None,
            error,
        }
    }
}

impl From<StateError> for SyncCommandError {
    fn from(error: StateError) -> Self {
        SyncError::from(error).into()
    }
}

/// Why `pinion publish` did not run to its report.
#[derive(Debug, thiserror::Error)]
pub enum PublishCommandError {
    /// Setup or a stop during the run.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The ledger could not be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// The client could not be built.
    #[error("{0}")]
    Invalid(String),
}

/// The client configuration of a run: `env`'s API and rate tier.
fn client_config(env: &CommandEnv) -> Result<ClientConfig, String> {
    let base = BaseUrl::parse(&env.api_base_url).map_err(|e| e.to_string())?;
    Ok(ClientConfig {
        budgets: pinion_pinterest::RateBudgets::for_tier(env.rate),
        shared_budget: env.shared_budget.clone(),
        ..ClientConfig::with_base_url(base)
    })
}

fn client(env: &CommandEnv) -> Result<PinterestClient, String> {
    PinterestClient::new(client_config(env)?, Arc::clone(&env.tokens)).map_err(|e| e.to_string())
}

/// Says so when a state file of an earlier version sits in the data
/// directory while the state now goes to the store: its unfinished runs and
/// ledger are not read unless `--state` names it.
fn note_earlier_state_file(env: &CommandEnv, reporter: &dyn CommandReporter) {
    let legacy = env.data_dir.join("sync-state.db");
    if legacy.exists() {
        tracing::warn!(file = %legacy.display(), "Run state and the publish ledger are now kept in Pinion's store; the earlier state file is not read.");
        reporter.note(&format!(
            "note: {} from an earlier version is not read any more (state is in Pinion's store); \
             pass --state {} to resume a run or publish an input recorded there",
            legacy.display(),
            legacy.display()
        ));
    }
}

fn state_location(explicit: &Option<String>, env: &CommandEnv) -> String {
    explicit
        .clone()
        .unwrap_or_else(|| env.data_dir.join("sync-state.db").display().to_string())
}

/// Where a command keeps run state and the publish ledger: Pinion's store
/// unless `--state` names another place or there is no store, else a
/// separate SQLite file or PostgreSQL database holding only the sync state.
async fn open_state(
    explicit: &Option<String>,
    env: &CommandEnv,
    reporter: &dyn CommandReporter,
) -> Result<Arc<dyn crate::state::RunStateStore>, StateError> {
    Ok(match (explicit, &env.store) {
        (None, Some(store)) => {
            note_earlier_state_file(env, reporter);
            Arc::clone(store)
        }
        (explicit, _) => crate::state::open(&state_location(explicit, env)).await?,
    })
}

/// Runs `pinion sync`. Returns the report, whose `failure` is set when a
/// stream did not complete or items from Pinterest were left out as invalid
/// (the run can be continued with `--resume`), and an error when the run
/// could not start or stopped as a whole.
pub async fn run_sync(
    request: &SyncRequest,
    env: CommandEnv,
    reporter: &dyn CommandReporter,
) -> Result<SyncReport, SyncCommandError> {
    let streams = request
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
        days: request.analytics_days,
        lookback_days: request.lookback_days,
        ..AnalyticsWindow::default()
    };
    if let Some(columns) = &request.analytics_columns {
        analytics.columns.clone_from(columns);
    }
    // The custom operation is checked against the spec before anything
    // is opened or requested.
    let custom = match &request.custom {
        Some(operation) => {
            let for_each = request
                .for_each
                .as_deref()
                .map(|s| {
                    s.parse::<StreamName>()
                        .map_err(|e| SyncError::Invalid(e.to_string()))
                })
                .transpose()?;
            let custom_request = CustomRequest {
                operation: operation.clone(),
                params: CustomRequest::parse_params(&request.params).map_err(SyncError::from)?,
                for_each,
            };
            Some(Arc::new(
                CustomPlan::resolve(&custom_request).map_err(SyncError::from)?,
            ))
        }
        None => None,
    };
    let options = SyncOptions {
        streams,
        custom,
        resume: request.resume,
        incremental: request.incremental,
        concurrency: request.concurrency.max(1),
        analytics,
        ..SyncOptions::default()
    };
    let client = client(&env).map_err(SyncError::Invalid)?;
    let destination = destination::open(&request.dest)
        .await
        .map_err(SyncError::DestinationSetup)?;
    let opened = open_state(&request.state, &env, reporter).await?;
    let state: &dyn crate::state::RunStateStore = &*opened;
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
        observer: reporter.progress(),
    };
    let mut report = crate::run::run(&job, &options)
        .await
        .map_err(|error| SyncCommandError {
            destination: Some(destination.describe()),
            error,
        })?;
    let invalid: u64 = report.streams.iter().map(|s| s.invalid_records).sum();
    if report.failure.is_none() && invalid > 0 {
        report.failure = Some(SyncError::Incomplete {
            failed: 0,
            first: format!(
                "{invalid} item(s) from Pinterest were not valid records and were left out"
            ),
        });
    }
    Ok(report)
}

/// Runs `pinion publish`. Returns the report; rows it could not settle are
/// counted in it (running the same input again finishes them).
pub async fn run_publish(
    request: &PublishRequest,
    env: CommandEnv,
    reporter: &dyn CommandReporter,
) -> Result<PublishReport, PublishCommandError> {
    // A custom write is checked against the spec before anything is opened.
    let custom_write = match &request.custom_write {
        Some(operation) => {
            let invalid =
                |e: crate::custom::CustomError| PublishCommandError::Invalid(e.to_string());
            let write_request = CustomWriteRequest {
                operation: operation.clone(),
                mapping: CustomWriteRequest::parse_mapping(&request.mapping).map_err(invalid)?,
            };
            Some(Arc::new(
                CustomWritePlan::resolve(&write_request).map_err(invalid)?,
            ))
        }
        None => None,
    };
    let client = client(&env).map_err(PublishCommandError::Invalid)?;
    let opened = open_state(&request.state, &env, reporter).await?;
    let ledger: &dyn crate::state::PublishLedger = &*opened;
    let options = PublishOptions {
        namespace: env.credential_key.clone(),
        board: request.board.clone(),
        concurrency: request.concurrency.max(1),
        reject_file: request.reject_file.clone(),
        settle: request.settle,
        row_results: false,
        clock: Arc::new(pinion_domain::SystemClock),
    };
    let report = if let Some(plan) = custom_write {
        publish::publish_custom(&client, ledger, &request.input, plan, &options).await?
    } else if request.boards {
        publish::publish_boards(&client, ledger, &request.input, &options).await?
    } else {
        publish::publish_pins(&client, ledger, &request.input, &options).await?
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_calls_pinterest_at_its_rate_tier() {
        let env = |rate| CommandEnv {
            tokens: Arc::new(pinion_pinterest::StaticTokenSource::new(
                pinion_domain::AccessToken::new("t"),
            )),
            api_base_url: "http://127.0.0.1:9/v5".into(),
            scopes: ScopeSet::default(),
            credential_key: "cred".into(),
            data_dir: PathBuf::from("/nonexistent"),
            store: None,
            rate,
            shared_budget: None,
        };
        for rate in [
            RateTier::Standard,
            RateTier::Trial,
            RateTier::PerMinute(600),
            RateTier::Unlimited,
        ] {
            let config = client_config(&env(rate)).unwrap();
            assert_eq!(
                config.budgets,
                pinion_pinterest::RateBudgets::for_tier(rate),
                "{rate}"
            );
        }
    }
}
