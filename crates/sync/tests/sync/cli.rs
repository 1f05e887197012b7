//! The library behind `pinion sync` and `pinion publish`: runs use the
//! default (Pinterest-paced) client, a stream named without its scopes fails
//! before any request, and with Pinion's store the run state and the ledger
//! live in the store. (The flags themselves are tested with the `pinion`
//! binary's arguments in `crates/cli/src/commands/sync/args.rs`.)

use pinion_domain::ScopeSet;
use pinion_sync::command::{CommandEnv, PublishRequest, SyncRequest, run_publish, run_sync};
use pinion_sync::publish::PublishReport;
use pinion_sync::state::StreamStatus;
use pinion_sync::{StreamName, SyncError};

use crate::helpers::Quiet;
use crate::sim::{self, ALL_SCOPES, TestSim};

async fn env(sim: &TestSim, scopes: &str, dir: &std::path::Path) -> CommandEnv {
    let tokens = sim.tokens(scopes).await;
    CommandEnv {
        tokens: sim.token_source(&tokens),
        api_base_url: sim.sim.api_url(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        credential_key: "credential-7".into(),
        data_dir: dir.to_path_buf(),
        store: None,
        rate: pinion_pinterest::RateTier::Standard,
        shared_budget: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_command_writes_the_named_streams_and_reports_them() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let request = SyncRequest {
        streams: Some(vec!["boards".into(), "pins".into()]),
        ..SyncRequest::new(format!("jsonl:{}", out.display()))
    };
    let report = run_sync(&request, env(&sim, ALL_SCOPES, dir.path()).await, &Quiet)
        .await
        .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.streams.len(), 2);
    assert!(out.join("boards.jsonl").exists() && out.join("pins.jsonl").exists());
    assert!(
        dir.path().join("sync-state.db").exists(),
        "state in the data dir"
    );
    crate::helpers::assert_exact(
        &sim,
        StreamName::Pins,
        &crate::helpers::jsonl_ids(&out.join("pins.jsonl")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_stream_without_its_scope_fails_before_any_request_and_unnamed_ones_are_skipped() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let scopes = "user_accounts:read,boards:read,pins:read";
    let dest = format!("jsonl:{}", dir.path().join("out").display());
    let named = SyncRequest {
        streams: Some(vec!["boards".into(), "ad_accounts".into()]),
        ..SyncRequest::new(dest.clone())
    };
    let command_env = env(&sim, scopes, dir.path()).await;
    sim.sim.control().reset_stats().await.unwrap();
    let err = run_sync(&named, command_env, &Quiet)
        .await
        .err()
        .unwrap()
        .error;
    assert!(
        matches!(
            err,
            SyncError::MissingScope {
                stream: StreamName::AdAccounts,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("ads:read"));
    let stats = sim.sim.control().stats().await.unwrap();
    assert_eq!(stats.endpoints.values().sum::<u64>(), 0, "{stats:?}");

    let all = SyncRequest {
        streams: Some(vec!["user_account".into(), "boards".into()]),
        ..SyncRequest::new(dest)
    };
    let report = run_sync(&all, env(&sim, scopes, dir.path()).await, &Quiet)
        .await
        .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let boards = report
        .streams
        .iter()
        .find(|s| s.stream == StreamName::Boards)
        .unwrap();
    assert!(
        boards
            .notes
            .iter()
            .any(|n| n.contains("boards:read_secret")),
        "{:?}",
        boards.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_command_rejects_bad_rows_and_creates_the_rest() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let boards = sim
        .sim
        .control()
        .expected_ids(sim::USER, pinion_simulator::Stream::Boards)
        .await
        .unwrap();
    let input = dir.path().join("pins.jsonl");
    std::fs::write(
        &input,
        "{\"title\":\"ok\",\"image_url\":\"https://i.example/1.jpg\"}\n{\"title\":\"no image\"}\n",
    )
    .unwrap();
    // The first public board: secret ones need more care than this test wants.
    let mut created = None;
    for board in boards {
        let request = PublishRequest {
            board: Some(board),
            ..PublishRequest::new(&input)
        };
        if let Some(report) = run_publish(&request, env(&sim, ALL_SCOPES, dir.path()).await, &Quiet)
            .await
            .ok()
            .filter(PublishReport::complete)
        {
            created = Some(report);
            break;
        }
    }
    let report = created.expect("one board accepts the pin");
    assert_eq!((report.created, report.rejected), (1, 1), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_pinions_store_progress_and_the_ledger_live_in_it_per_credential_and_destination() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = pinion_testkit::open_data_dir(&data).await;
    let env_with_store = |env: CommandEnv| CommandEnv {
        store: Some(store.clone()),
        ..env
    };
    let out = dir.path().join("out");
    let dest = format!("jsonl:{}", out.display());
    let sync = |resume: bool| SyncRequest {
        streams: Some(vec!["boards".into(), "pins".into()]),
        resume,
        ..SyncRequest::new(dest.clone())
    };

    // The pins stream fails: the run stops with its progress in the store.
    sim.sim
        .control()
        .inject_fault(&pinion_simulator::FaultSpec {
            path_prefix: "/v5/pins".into(),
            method: Some("GET".into()),
            kind: pinion_simulator::FaultKind::Status { status: 400 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    let failed = run_sync(
        &sync(false),
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
        &Quiet,
    )
    .await;
    assert!(failed.unwrap().failure.is_some(), "the pins stream failed");
    assert!(
        !data.join("sync-state.db").exists(),
        "no separate state file"
    );
    let job = format!("credential-7|{dest}");
    let other_credential = store
        .sync_begin_run(&format!("credential-8|{dest}"), true)
        .await
        .unwrap();
    assert!(
        !other_credential.resumed,
        "another credential's job has no run"
    );
    let other_destination = store
        .sync_begin_run("credential-7|jsonl:/elsewhere", true)
        .await
        .unwrap();
    assert!(
        !other_destination.resumed,
        "another destination's job has no run"
    );
    let stored = store.sync_begin_run(&job, true).await.unwrap();
    assert!(stored.resumed, "the failed run is in the store");
    assert_eq!(stored.streams["boards"].status, StreamStatus::Done);
    assert_eq!(stored.streams["pins"].status, StreamStatus::Failed);

    // --resume continues it from the store and ends with the exact data.
    sim.sim.control().clear_faults().await.unwrap();
    let report = run_sync(
        &sync(true),
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
        &Quiet,
    )
    .await
    .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(report.resumed);
    crate::helpers::assert_exact(
        &sim,
        StreamName::Pins,
        &crate::helpers::jsonl_ids(&out.join("pins.jsonl")),
    )
    .await;

    // The publish ledger too: a rerun finds the row in the store.
    let board = sim
        .sim
        .control()
        .expected_ids(sim::USER, pinion_simulator::Stream::Boards)
        .await
        .unwrap();
    let input = dir.path().join("pins.jsonl");
    let mut published = None;
    for board in board {
        let row = serde_json::json!({"board_id": board, "title": "in the store", "key": "row-s",
            "image_url": "https://i.example/s.jpg"});
        std::fs::write(&input, format!("{row}\n")).unwrap();
        let request = PublishRequest::new(&input);
        if let Some(report) = run_publish(
            &request,
            env_with_store(env(&sim, ALL_SCOPES, &data).await),
            &Quiet,
        )
        .await
        .ok()
        .filter(PublishReport::complete)
        {
            published = Some((request, report));
            break;
        }
    }
    let (request, report) = published.expect("one board accepts the pin");
    assert_eq!(report.created, 1);
    let entry = store
        .ledger_entry("credential-7", "row-s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, pinion_store::LedgerState::Confirmed);
    let again = run_publish(
        &request,
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
        &Quiet,
    )
    .await
    .unwrap();
    assert!(again.complete());
    assert_eq!((again.created, again.already_published), (0, 1));
    assert!(!data.join("sync-state.db").exists());
    store.close().await;
}
