//! Schedules across processes (issue 14): two `pinion serve` replicas on
//! one PostgreSQL database, a source scheduled every 2 s through the API
//! (the operator allowing intervals that short with
//! `PINION_MIN_SCHEDULE_INTERVAL=1s`). Every slot is started by exactly one
//! replica, one run per slot; with both replicas stopped (SIGTERM) for more
//! than five slots and started again, the missed slots give one catch-up
//! run and the schedule goes on in its phase.
//!
//! Each replica logs `Started a scheduled run.` with the slot it took
//! (`slot=…`); the test reads both logs. The same rule on a clock the test
//! moves (ten minutes, then five down) is in
//! `crates/service/tests/schedules.rs`.
//!
//! Runs when `PINION_TEST_POSTGRES_URL` names a server (a fresh database is
//! created and dropped); otherwise it says it was skipped.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use support::{Server, TestDatabase, seed, wait_for};

const EVERY: i64 = 2;
const ENV: &[(&str, &str)] = &[("PINION_MIN_SCHEDULE_INTERVAL", "1s")];

/// `text` without terminal colour sequences (`ESC [ … m`).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for next in chars.by_ref() {
                if next == 'm' {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// The slots in `log`'s "Started a scheduled run." lines.
fn started_slots(log: &str) -> Vec<DateTime<Utc>> {
    plain(log)
        .lines()
        .filter(|line| line.contains("Started a scheduled run."))
        .filter_map(|line| {
            let at = line.find("slot=")? + "slot=".len();
            let text = line[at..].split_whitespace().next()?;
            DateTime::parse_from_rfc3339(text.trim_matches('"'))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .collect()
}

async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client.request(method, &url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Runs its closure when dropped (on a panic: prints the servers' logs).
struct Guard<'a>(Box<dyn Fn() + 'a>);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_start_each_slot_once_and_missed_slots_once() {
    let Some(database) = TestDatabase::create("schedule_processes") else {
        return;
    };
    let (sim, app) =
        support::simulator("Pinion schedules", pinion_simulator::DataShape::empty()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, key_file) = support::postgres_store(&database, dir.path()).await;
    let (token, credential) = seed(&store, &sim, &app, "boards:read,user_accounts:read").await;
    store.close().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let start = |i: usize| {
        Server::start_with(
            dirs[i].path(),
            &sim,
            Some(&database.url),
            Some(&key_file),
            ENV,
        )
    };
    let (first, second) = (start(0).await, start(1).await);
    let client = reqwest::Client::new();
    let source = api(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/sources", first.url),
        &token,
        Some(json!({
            "name": "Account every two seconds",
            "credential_id": credential,
            "streams": ["user_account"],
            "output": {"kind": "jsonl", "path": "account"},
        })),
    )
    .await;
    let source = source["id"].as_str().unwrap().to_owned();
    let schedule = api(
        &client,
        reqwest::Method::PUT,
        format!("{}/api/v1/sources/{source}/schedule", second.url),
        &token,
        Some(json!({"every": format!("{EVERY}s")})),
    )
    .await;
    assert_eq!(schedule["description"], "every 2s");

    // Ten slots, taken between the two replicas.
    let logs = || [first.log(), second.log()];
    let printed = Guard(Box::new(|| {
        eprintln!("{}\n----\n{}", first.log(), second.log())
    }));
    wait_for(Duration::from_secs(90), "ten scheduled runs", || async {
        logs()
            .iter()
            .map(|log| started_slots(log).len())
            .sum::<usize>()
            >= 10
    })
    .await;
    let mut slots: Vec<_> = logs().iter().flat_map(|log| started_slots(log)).collect();
    slots.sort();
    let taken = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), taken, "a slot was started twice: {slots:?}");
    for pair in slots.windows(2) {
        let gap = (pair[1] - pair[0]).num_seconds();
        assert!(
            gap > 0 && gap % EVERY == 0,
            "slots off the schedule's phase: {slots:?}"
        );
    }
    std::mem::forget(printed);
    let by_each = logs().map(|log| started_slots(&log).len());
    eprintln!("slots started by each replica: {by_each:?}");

    // Every run ended well.
    let runs_url = format!("{}/api/v1/sources/{source}/runs", first.url);
    wait_for(Duration::from_secs(60), "the runs to end", || async {
        let runs = api(
            &client,
            reqwest::Method::GET,
            runs_url.clone(),
            &token,
            None,
        )
        .await;
        runs.as_array()
            .unwrap()
            .iter()
            .all(|run| run["status"] == "succeeded" || run["status"] == "failed")
    })
    .await;
    let runs = api(
        &client,
        reqwest::Method::GET,
        runs_url.clone(),
        &token,
        None,
    )
    .await;
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|run| run["status"] == "succeeded"),
        "{runs:#}"
    );

    // Both stopped for more than five slots.
    let before = [first.terminate().await, second.terminate().await];
    let last_before = before
        .iter()
        .flat_map(|log| started_slots(log))
        .max()
        .unwrap();
    let stopped_at = Utc::now();
    wait_for(Duration::from_secs(60), "five slots to pass", || async {
        Utc::now() > stopped_at + chrono::Duration::seconds(5 * EVERY + 1)
    })
    .await;
    let restarted_at = Utc::now();
    let (first, second) = (start(0).await, start(1).await);
    let logs = || [first.log(), second.log()];
    // The catch-up run, then two slots on the schedule's phase.
    wait_for(
        Duration::from_secs(60),
        "three runs after the restart",
        || async {
            logs()
                .iter()
                .map(|log| started_slots(log).len())
                .sum::<usize>()
                >= 3
        },
    )
    .await;
    let mut after: Vec<_> = logs().iter().flat_map(|log| started_slots(log)).collect();
    after.sort();
    let catch_up = after[0];
    assert!(
        catch_up > last_before && catch_up < restarted_at,
        "the catch-up run is for a slot missed while down: {catch_up} (last before {last_before}, restarted {restarted_at})"
    );
    assert!(
        after[1] > restarted_at,
        "only one missed slot ran: {after:?} (restarted {restarted_at})"
    );
    assert_eq!(
        (after[1] - catch_up).num_seconds() % EVERY,
        0,
        "the schedule keeps its phase: {after:?}"
    );
    first.terminate().await;
    second.terminate().await;
    sim.shutdown().await;
}
