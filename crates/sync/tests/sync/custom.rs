//! The custom endpoint source against the simulator: a paginated operation,
//! a single-object operation, fan-out over every board, and refusals that
//! happen before any request.

use futures::StreamExt;
use pinion_domain::ScopeSet;
use pinion_pinterest::{BoardId, PageRequest, PinsQuery};
use pinion_simulator::Stream;
use pinion_sync::command::{CommandEnv, PublishRequest, SyncRequest, run_publish, run_sync};
use pinion_sync::{StreamName, SyncError};

use crate::helpers::{Quiet, assert_exact, jsonl_ids};
use crate::sim::{self, ALL_SCOPES, TestSim, USER};

async fn env(sim: &TestSim, dir: &std::path::Path) -> CommandEnv {
    let tokens = sim.tokens(ALL_SCOPES).await;
    CommandEnv {
        tokens: sim.token_source(&tokens),
        api_base_url: sim.sim.api_url(),
        scopes: ScopeSet::parse(ALL_SCOPES).unwrap(),
        credential_key: "credential-custom".into(),
        data_dir: dir.to_path_buf(),
        store: None,
        rate: pinion_pinterest::RateTier::Standard,
        shared_budget: None,
    }
}

/// Syncs the custom operation with these parameters (and fan-out) into
/// `dir/out`; a report with a failure is an error, as `pinion sync` exits.
async fn sync(
    sim: &TestSim,
    dir: &std::path::Path,
    custom: &str,
    params: &[&str],
    for_each: Option<&str>,
) -> Result<(), SyncError> {
    let out = dir.join("out");
    let request = SyncRequest {
        custom: Some(custom.to_owned()),
        params: params.iter().map(|p| (*p).to_owned()).collect(),
        for_each: for_each.map(str::to_owned),
        ..SyncRequest::new(format!("jsonl:{}", out.display()))
    };
    let report = run_sync(&request, env(sim, dir).await, &Quiet)
        .await
        .map_err(|e| e.error)?;
    report.failure.map_or(Ok(()), Err)
}

async fn first_board(sim: &TestSim) -> String {
    sim.sim
        .control()
        .expected_ids(USER, Stream::parse("boards").unwrap())
        .await
        .unwrap()
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paginated_operation_reads_every_page_of_one_board() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let board = first_board(&sim).await;
    let board_param = format!("board_id={board}");
    sync(
        &sim,
        dir.path(),
        "boards/list_pins",
        &[&board_param, "page_size=4"],
        None,
    )
    .await
    .unwrap();
    let got = jsonl_ids(&dir.path().join("out/custom.jsonl"));

    // The typed client's reading of the same board is the reference.
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let mut expected = Vec::new();
    let mut pages = client.board_pins(
        &BoardId::new(board.clone()).unwrap(),
        &PinsQuery::default(),
        PageRequest::first(),
    );
    while let Some(page) = pages.next().await {
        expected.extend(
            page.unwrap()
                .items
                .iter()
                .map(|p| p.id().as_str().to_owned()),
        );
    }
    // small_shape: 11 pins on the board plus 2 sections of 3.
    assert_eq!(got.len(), 17);
    assert_eq!(got, expected);
    let stats = sim.sim.control().stats().await.unwrap();
    assert_eq!(
        stats.endpoint("GET /v5/boards/{board_id}/pins"),
        5 + 1,
        "17 pins in pages of 4, plus the reference read: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_object_operation_gives_one_record() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let board = first_board(&sim).await;
    let board_param = format!("board_id={board}");
    sync(
        &sim,
        dir.path(),
        "/boards/{board_id}",
        &[&board_param],
        None,
    )
    .await
    .unwrap();
    assert_eq!(jsonl_ids(&dir.path().join("out/custom.jsonl")), [board]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_boards_reads_every_pin_of_every_board_once() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    sync(&sim, dir.path(), "boards/list_pins", &[], Some("boards"))
        .await
        .unwrap();
    let got = jsonl_ids(&dir.path().join("out/custom.jsonl"));
    assert_exact(&sim, StreamName::BoardPins, &got).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operations_and_missing_parameters_are_refused_before_any_request() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    // Getting tokens calls the simulator; count only what the sync does.
    let _ = env(&sim, dir.path()).await;
    sim.sim.control().reset_stats().await.unwrap();

    let err = sync(&sim, dir.path(), "boards/list_pin", &[], None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unknown operation") && text.contains("boards/list_pins"),
        "{text}"
    );
    let err = sync(&sim, dir.path(), "boards/list_pins", &[], None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, SyncError::Custom(_)) && text.contains("board_id"),
        "{text}"
    );
    let err = sync(
        &sim,
        dir.path(),
        "boards/list_pins",
        &["board_id=1", "bord=2"],
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("has no parameter `bord`"), "{err}");

    let stats = sim.sim.control().stats().await.unwrap();
    let api_calls: u64 = stats
        .endpoints
        .iter()
        .filter(|(route, _)| route.contains("/v5/") && !route.contains("oauth"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(api_calls, 0, "{stats:?}");
    assert!(!dir.path().join("out").exists(), "nothing was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_write_naming_an_unknown_operation_is_refused_before_any_request() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rows.jsonl");
    std::fs::write(&input, "{\"board_id\":\"1\",\"title\":\"t\"}\n").unwrap();
    let env = env(&sim, dir.path()).await;
    sim.sim.control().reset_stats().await.unwrap();
    // That --map needs --custom-write is the command line's rule, tested
    // with the `pinion` binary's arguments.
    let request = PublishRequest {
        custom_write: Some("pins/creat".into()),
        ..PublishRequest::new(&input)
    };
    let err = run_publish(&request, env, &Quiet).await.unwrap_err();
    assert!(err.to_string().contains("pins/create"), "{err}");
    let stats = sim.sim.control().stats().await.unwrap();
    assert_eq!(
        stats
            .endpoints
            .iter()
            .filter(|(route, _)| route.contains("/v5/"))
            .map(|(_, n)| n)
            .sum::<u64>(),
        0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_stream_goes_to_sqlite_keyed_by_id() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let dest = format!("sqlite:{}", db.display());
    let request = SyncRequest {
        custom: Some("boards/list_pins".into()),
        for_each: Some("boards".into()),
        ..SyncRequest::new(dest)
    };
    let report = run_sync(&request, env(&sim, dir.path()).await, &Quiet)
        .await
        .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let ids =
        crate::helpers::sql_ids(&format!("sqlite://{}", db.display()), StreamName::Custom).await;
    assert_exact(&sim, StreamName::BoardPins, &ids).await;
}
