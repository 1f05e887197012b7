//! Faults: 429 storms, 5xx bursts, malformed JSON, cut bodies, dropped
//! connections and token expiry in the middle of a stream each end in the
//! exact data set; exhausted retries end in a loud failure with intact
//! output that `--resume` completes.

use std::time::Duration;

use pinion_simulator::{FaultKind, FaultSpec};
use pinion_sync::StreamName;
use pinion_sync::destination::JsonlDestination;
use pinion_sync::run::StreamOutcome;

use crate::helpers::{assert_exact, jsonl_ids, options, sync};
use crate::sim::{self, ALL_SCOPES, TestSim};

fn fault(prefix: &str, kind: FaultKind, count: Option<u64>) -> FaultSpec {
    FaultSpec {
        path_prefix: prefix.into(),
        method: Some("GET".into()),
        kind,
        count,
        duration_ms: None,
    }
}

const READ_STREAMS: [StreamName; 4] = [
    StreamName::Boards,
    StreamName::BoardPins,
    StreamName::BoardSectionPins,
    StreamName::Pins,
];

async fn assert_streams_exact(sim: &TestSim, dest: &JsonlDestination) {
    for stream in READ_STREAMS {
        assert_exact(sim, stream, &jsonl_ids(&dest.final_path(stream))).await;
    }
}

/// Runs the four read streams with `faults` injected and checks the data.
async fn survives(faults: &[FaultSpec]) -> pinion_sync::SyncReport {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    for spec in faults {
        sim.sim.control().inject_fault(spec).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path()).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let mut opts = options();
    opts.streams = Some(READ_STREAMS.to_vec());
    let report = sync(&client, ALL_SCOPES, &dest, &*state, &opts).await;
    assert!(report.succeeded(), "{:?}", report.failure);
    assert_streams_exact(&sim, &dest).await;
    let applied: u64 = sim
        .sim
        .control()
        .faults()
        .await
        .unwrap()
        .iter()
        .map(|f| f.applied)
        .sum();
    assert_eq!(applied, 0, "counted faults are used up and removed");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_waited_out_and_the_same_pages_are_read_again() {
    let report = survives(&[
        fault("/v5/boards/", FaultKind::RateLimit, Some(12)),
        fault("/v5/pins", FaultKind::RateLimit, Some(3)),
    ])
    .await;
    let limited: u64 = report.streams.iter().map(|s| s.rate_limited).sum();
    assert_eq!(limited, 15, "every 429 was seen and retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_burst_is_retried_with_backoff() {
    let report = survives(&[
        fault("/v5/boards", FaultKind::Status { status: 503 }, Some(4)),
        fault("/v5/pins", FaultKind::Status { status: 500 }, Some(2)),
    ])
    .await;
    let retries: u64 = report.streams.iter().map(|s| s.retries).sum();
    assert!(retries >= 6, "{retries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_truncated_and_dropped_answers_are_read_again() {
    survives(&[
        fault("/v5/boards/", FaultKind::MalformedJson, Some(2)),
        fault("/v5/pins", FaultKind::TruncatedBody, Some(2)),
        fault("/v5/boards", FaultKind::DropConnection, Some(2)),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expiring_mid_stream_is_refreshed_once_and_the_stream_completes() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let source = sim.token_source(&tokens);
    let client = sim.client(source.clone());
    sim.sim
        .control()
        .inject_fault(&fault("/v5/boards/", FaultKind::Latency { ms: 15 }, None))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path()).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let mut opts = options();
    opts.streams = Some(vec![StreamName::BoardPins]);
    let control = sim.sim.control().clone();
    let expire = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(120)).await;
        control.expire_access_tokens(sim::USER, None).await.unwrap()
    });
    let report = sync(&client, ALL_SCOPES, &dest, &*state, &opts).await;
    assert_eq!(expire.await.unwrap(), 1, "the token was expired mid-run");
    assert!(report.succeeded(), "{:?}", report.failure);
    assert_eq!(source.refreshes(), 1);
    assert_exact(
        &sim,
        StreamName::BoardPins,
        &jsonl_ids(&dest.final_path(StreamName::BoardPins)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_fail_loudly_keep_output_valid_and_resume_completes() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path()).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let mut opts = options();
    opts.streams = Some(READ_STREAMS.to_vec());
    opts.concurrency = 1;
    // Let a few board-pin pages through, then fail for good.
    sim.sim
        .control()
        .inject_fault(&fault("/v5/boards/", FaultKind::Latency { ms: 1 }, Some(5)))
        .await
        .unwrap();
    sim.sim
        .control()
        .inject_fault(&fault(
            "/v5/boards/",
            FaultKind::Status { status: 503 },
            None,
        ))
        .await
        .unwrap();
    let report = sync(&client, ALL_SCOPES, &dest, &*state, &opts).await;
    assert!(!report.succeeded());
    let message = report.failure.as_ref().unwrap().to_string();
    assert!(
        message.contains("board_pins")
            && message.contains("/boards/{board_id}/pins")
            && message.contains("503"),
        "the failure names stream, endpoint and cause: {message}"
    );
    let outcome = |s: StreamName| {
        report
            .streams
            .iter()
            .find(|r| r.stream == s)
            .unwrap()
            .outcome
    };
    assert_eq!(outcome(StreamName::Boards), StreamOutcome::Done);
    assert_eq!(outcome(StreamName::BoardPins), StreamOutcome::Failed);
    assert_eq!(outcome(StreamName::Pins), StreamOutcome::NotStarted);
    // No final file for the failed stream; the partial one holds whole
    // lines of committed pages only.
    assert!(!dest.final_path(StreamName::BoardPins).exists());
    let partial = jsonl_ids(&dest.partial_path(StreamName::BoardPins));
    let expected: std::collections::HashSet<String> = sim
        .sim
        .control()
        .expected_ids(sim::USER, pinion_simulator::Stream::BoardPins)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let unique: std::collections::HashSet<&String> = partial.iter().collect();
    assert!(
        !partial.is_empty() && partial.len() < expected.len(),
        "{}",
        partial.len()
    );
    assert_eq!(
        unique.len(),
        partial.len(),
        "no duplicate in the partial file"
    );
    assert!(partial.iter().all(|id| expected.contains(id)));
    // The completed boards stream waits beside it until the run completes:
    // the folder itself holds complete runs only.
    assert!(!dest.final_path(StreamName::Boards).exists());
    assert_exact(
        &sim,
        StreamName::Boards,
        &jsonl_ids(&dest.staged_path(StreamName::Boards)),
    )
    .await;

    sim.sim.control().clear_faults().await.unwrap();
    let before = sim.sim.control().stats().await.unwrap();
    opts.resume = true;
    let resumed = sync(&client, ALL_SCOPES, &dest, &*state, &opts).await;
    assert!(resumed.succeeded(), "{:?}", resumed.failure);
    assert!(resumed.resumed);
    assert_streams_exact(&sim, &dest).await;
    let after = sim.sim.control().stats().await.unwrap();
    let boards_lists = after.endpoint("GET /v5/boards") - before.endpoint("GET /v5/boards");
    let expected_ids = sim
        .sim
        .control()
        .expected_ids(sim::USER, pinion_simulator::Stream::Boards)
        .await
        .unwrap();
    // The finished boards stream is not read again; only the board list
    // that drives the per-board streams is.
    assert_eq!(boards_lists, expected_ids.len().div_ceil(4) as u64);
}
