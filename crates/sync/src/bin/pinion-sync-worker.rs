//! `pinion-sync-worker`: one sync run in its own process, configured from
//! the environment. The crash test kills it with SIGKILL at random points
//! and resumes it; the benchmark measures its throughput and peak RSS. It
//! uses no client-side rate budget and short retry waits, so it is meant for
//! the simulator, not for Pinterest (the `pinion` binary is).
//!
//! Configured through the environment so no token appears in a process
//! listing: `PINION_CHILD_API` (API base URL), `PINION_CHILD_TOKEN` (access
//! token), `PINION_CHILD_DEST` (destination), `PINION_CHILD_STATE` (state
//! location), optional `PINION_CHILD_RESUME=1`, `PINION_CHILD_PAGE_SIZE`,
//! `PINION_CHILD_STREAMS` (comma-separated), `PINION_CHILD_CONCURRENCY` and
//! `PINION_CHILD_COMMIT_MS` (milliseconds between commits; the engine's
//! default, 500, unless set: the crash test commits often to be killed
//! between commits).
//! Exits 0 when the run succeeded, 1 otherwise; prints the report, the
//! process's peak RSS (`VmHWM`) and its CPU time as one JSON object.

use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{AccessToken, ScopeSet};
use pinion_pinterest::{
    BaseUrl, ClientConfig, PageSize, PinterestClient, RateBudgets, RetryPolicy, StaticTokenSource,
};
use pinion_sync::{StreamName, SyncJob, SyncOptions};

/// Every read scope.
const SCOPES: &str =
    "user_accounts:read,boards:read,boards:read_secret,pins:read,pins:read_secret,ads:read";

/// User plus system CPU time of this process so far, from
/// `/proc/self/stat` (clock ticks, 100 per second on Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set"))
}

#[tokio::main]
async fn main() {
    let token = StaticTokenSource::new(AccessToken::new(env("PINION_CHILD_TOKEN")));
    let config = ClientConfig {
        base_url: BaseUrl::parse(&env("PINION_CHILD_API")).unwrap(),
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
            max_rate_limit_wait: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        budgets: RateBudgets::unlimited().with_max_header_pause(Duration::from_millis(50)),
        ..ClientConfig::default()
    };
    let client = PinterestClient::new(config, Arc::new(token)).unwrap();
    let destination = pinion_sync::destination::open(&env("PINION_CHILD_DEST"))
        .await
        .unwrap();
    let state = pinion_sync::state::open(&env("PINION_CHILD_STATE"))
        .await
        .unwrap();
    let mut options = SyncOptions {
        resume: std::env::var("PINION_CHILD_RESUME").is_ok_and(|v| v == "1"),
        ..SyncOptions::default()
    };
    if let Ok(ms) = std::env::var("PINION_CHILD_COMMIT_MS") {
        options.commit_interval = Duration::from_millis(ms.parse().unwrap());
    }
    if let Ok(size) = std::env::var("PINION_CHILD_PAGE_SIZE") {
        options.page_size = PageSize::new(size.parse().unwrap()).unwrap();
    }
    if let Ok(n) = std::env::var("PINION_CHILD_CONCURRENCY") {
        options.concurrency = n.parse().unwrap();
    }
    if let Ok(streams) = std::env::var("PINION_CHILD_STREAMS") {
        options.streams = Some(
            streams
                .split(',')
                .map(|s| s.parse::<StreamName>().unwrap())
                .collect(),
        );
    }
    let job = SyncJob {
        client,
        scopes: ScopeSet::parse(SCOPES).unwrap(),
        job_key: "worker".into(),
        destination: destination.as_ref(),
        state: &*state,
        observer: None,
    };
    let report = pinion_sync::run::run(&job, &options).await.unwrap();
    let peak_rss_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        });
    println!(
        "{}",
        serde_json::json!({
            "report": report,
            "peak_rss_kb": peak_rss_kb,
            "cpu_seconds": cpu_seconds(),
        })
    );
    std::process::exit(if report.succeeded() { 0 } else { 1 });
}
