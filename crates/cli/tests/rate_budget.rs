//! One rate budget per Pinterest account and app, across processes (issue
//! 14): three runs of one credential, two started on one `pinion serve`
//! replica and one on another, both on one PostgreSQL database, against a
//! simulator enforcing Pinterest's limits. Every request reserves its place
//! in the budget the store keeps for (app, account), so together the runs
//! stay under the limit (no 429) while still using most of it, and each run
//! writes every record exactly once.
//!
//! The simulator counts `org_read` in windows of 30 s of 300 requests (600 a
//! minute, stricter than one window of a minute), and the credential's tier
//! is `600/min`: each run alone would pace itself at 570 a minute, so three
//! pacing themselves apart would pass 300 in a window within about 11 s,
//! where together they make about 360 reads in about 38 s.
//!
//! Runs when `PINION_TEST_POSTGRES_URL` names a server (a fresh database is
//! created and dropped); otherwise it says it was skipped.

mod support;

use std::time::{Duration, Instant};

use pinion_simulator::{DataShape, SimConfig};
use serde_json::{Value, json};

use support::{Server, TestDatabase, assert_exact, jsonl_ids, seed};

/// The simulator's `org_read` limit per minute, and the credential's tier.
const PER_MINUTE: f64 = 600.0;

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

/// Every `GET` the simulator answered on its API (all `org_read` here).
fn reads(stats: &pinion_simulator::Stats) -> u64 {
    stats
        .endpoints
        .iter()
        .filter(|(route, _)| route.starts_with("GET /v5/"))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runs_on_two_replicas_share_one_budget_without_a_429() {
    let Some(database) = TestDatabase::create("rate_budget_processes") else {
        return;
    };
    let config = SimConfig {
        rate_limits_enabled: true,
        rate_limit_scale: 0.3,
        rate_limit_window: Duration::from_secs(30),
        universal_rate_limit_per_second: Some(100),
        ..SimConfig::for_tests()
    };
    let shape = DataShape {
        boards: 120,
        sections_per_board: 0,
        pins_per_board: 2,
        pins_per_section: 0,
        ad_accounts: 0,
        secret_share: 0.0,
        ..DataShape::default()
    };
    let (sim, app) = pinion_testkit::simulator(config, "Pinion budget", shape).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, key_file) = support::postgres_store(&database, dir.path()).await;
    let (token, credential) = seed(&store, &sim, &app, "boards:read,pins:read").await;
    store.close().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let start =
        |i: usize| Server::start(dirs[i].path(), &sim, Some(&database.url), Some(&key_file));
    let replicas = [start(0).await, start(1).await];
    let client = reqwest::Client::new();
    api(
        &client,
        reqwest::Method::PATCH,
        format!("{}/api/v1/credentials/{credential}", replicas[0].url),
        &token,
        Some(json!({"rate_tier": "600/min"})),
    )
    .await;

    // Three sources; runs 0 and 2 start on the first replica, run 1 on the
    // second.
    let mut sources = Vec::new();
    for i in 0..3 {
        let source = api(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/sources", replicas[0].url),
            &token,
            Some(json!({
                "name": format!("Boards and pins {i}"),
                "credential_id": credential,
                "streams": ["boards", "board_pins"],
                "output": {"kind": "jsonl", "path": format!("out-{i}")},
            })),
        )
        .await;
        sources.push((
            i % 2,
            source["id"].as_str().unwrap().to_owned(),
            source["owner"].as_str().unwrap().to_owned(),
        ));
    }
    let base = reads(&sim.control().stats().await.unwrap());
    let mut runs = Vec::new();
    for (replica, source, _) in &sources {
        let run = api(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/sources/{source}/runs", replicas[*replica].url),
            &token,
            None,
        )
        .await;
        runs.push(run["id"].as_str().unwrap().to_owned());
    }

    // Follow the simulator's count of reads while the runs go.
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    let finished = |run: &Value| run["status"] != "queued" && run["status"] != "running";
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        samples.push((Instant::now(), reads(&sim.control().stats().await.unwrap())));
        let mut all_done = true;
        for ((_, source, _), run) in sources.iter().zip(&runs) {
            let got = api(
                &client,
                reqwest::Method::GET,
                format!("{}/api/v1/sources/{source}/runs/{run}", replicas[0].url),
                &token,
                None,
            )
            .await;
            all_done &= finished(&got);
        }
        if all_done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runs did not end in four minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = sim.control().stats().await.unwrap();
    let logs = || format!("{}\n----\n{}", replicas[0].log(), replicas[1].log());
    for ((_, source, _), run) in sources.iter().zip(&runs) {
        let got = api(
            &client,
            reqwest::Method::GET,
            format!("{}/api/v1/sources/{source}/runs/{run}", replicas[1].url),
            &token,
            None,
        )
        .await;
        assert_eq!(got["status"], "succeeded", "{got:#}\n{}", logs());
    }
    assert_eq!(
        stats.rate_limited_total(),
        0,
        "429 answers: {:?}\n{}",
        stats.rate_limited,
        logs()
    );

    // The budget used: reads per second from the first read to the last,
    // against the limit.
    let total = reads(&stats);
    let first = samples
        .iter()
        .find(|(_, n)| *n > base)
        .expect("reads were made");
    let last = samples
        .iter()
        .find(|(_, n)| *n == total)
        .expect("the last read was seen");
    let seconds = last.0.duration_since(first.0).as_secs_f64();
    let used = (total - first.1) as f64 / seconds / (PER_MINUTE / 60.0);
    eprintln!(
        "{} reads in {seconds:.1} s: {:.1}% of the budget",
        total - base,
        used * 100.0
    );
    // More reads than one window allows, so runs pacing themselves apart
    // would have met the limit.
    assert!(total - base > 330, "{} reads", total - base);
    assert!(used >= 0.90, "only {:.1}% of the budget used", used * 100.0);
    assert!(used <= 1.0, "{:.1}% of the budget used", used * 100.0);

    // Every record exactly once in each run's output.
    for (i, (replica, _, owner)) in sources.iter().enumerate() {
        let out = dirs[*replica]
            .path()
            .join("outputs")
            .join(owner)
            .join(format!("out-{i}"));
        assert_exact(
            &sim,
            pinion_simulator::Stream::Boards,
            jsonl_ids(&out.join("boards.jsonl")),
        )
        .await;
        assert_exact(
            &sim,
            pinion_simulator::Stream::BoardPins,
            jsonl_ids(&out.join("board_pins.jsonl")),
        )
        .await;
    }
    for replica in replicas {
        replica.terminate().await;
    }
}
