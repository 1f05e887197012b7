//! The library behind `pinion sync` and `pinion publish`: arguments parse
//! as the binary will parse them, runs use the default (Pinterest-paced)
//! client, a stream named without its scopes fails before any request, and
//! with Pinion's store the run state and the ledger live in the store.

use clap::Parser;
use pinion_domain::ScopeSet;
use pinion_sync::cli::{CliEnv, PublishArgs, SyncArgs, run_publish, run_sync};
use pinion_sync::state::StreamStatus;
use pinion_sync::{StreamName, SyncError};

use crate::sim::{self, ALL_SCOPES, TestSim};

#[derive(Parser)]
struct SyncCommand {
    #[command(flatten)]
    args: SyncArgs,
}

#[derive(Parser)]
struct PublishCommand {
    #[command(flatten)]
    args: PublishArgs,
}

async fn env(sim: &TestSim, scopes: &str, dir: &std::path::Path) -> CliEnv {
    let tokens = sim.tokens(scopes).await;
    CliEnv {
        tokens: sim.token_source(&tokens),
        api_base_url: sim.sim.api_url(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        credential_key: "credential-7".into(),
        data_dir: dir.to_path_buf(),
        store: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_command_writes_the_named_streams_and_reports_them() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let command = SyncCommand::parse_from([
        "sync",
        "--streams",
        "boards,pins",
        "--dest",
        &format!("jsonl:{}", out.display()),
        "--json",
    ]);
    let report = run_sync(&command.args, env(&sim, ALL_SCOPES, dir.path()).await)
        .await
        .unwrap();
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
    let named =
        SyncCommand::parse_from(["sync", "--streams", "boards,ad_accounts", "--dest", &dest]);
    let cli_env = env(&sim, scopes, dir.path()).await;
    sim.sim.control().reset_stats().await.unwrap();
    let err = run_sync(&named.args, cli_env).await.err().unwrap();
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

    let all =
        SyncCommand::parse_from(["sync", "--streams", "user_account,boards", "--dest", &dest]);
    let report = run_sync(&all.args, env(&sim, scopes, dir.path()).await)
        .await
        .unwrap();
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
        let command = PublishCommand::parse_from([
            "publish",
            "--input",
            input.to_str().unwrap(),
            "--board",
            &board,
        ]);
        if let Ok(report) =
            run_publish(&command.args, env(&sim, ALL_SCOPES, dir.path()).await).await
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
    let store = pinion_store::connect(
        data.join("pinion.db").to_str().unwrap(),
        pinion_store::KeySource::DataDirFile(data.join("master.key")),
    )
    .await
    .unwrap()
    .store;
    let env_with_store = |env: CliEnv| CliEnv {
        store: Some(store.clone()),
        ..env
    };
    let out = dir.path().join("out");
    let dest = format!("jsonl:{}", out.display());
    let sync = |extra: &[&str]| {
        SyncCommand::parse_from(
            [
                &["sync", "--streams", "boards,pins", "--dest", &dest][..],
                extra,
            ]
            .concat(),
        )
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
        &sync(&[]).args,
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
    )
    .await;
    assert!(failed.is_err());
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
        &sync(&["--resume"]).args,
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
    )
    .await
    .unwrap();
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
        let command = PublishCommand::parse_from(["publish", "--input", input.to_str().unwrap()]);
        if let Ok(report) = run_publish(
            &command.args,
            env_with_store(env(&sim, ALL_SCOPES, &data).await),
        )
        .await
        {
            published = Some((command, report));
            break;
        }
    }
    let (command, report) = published.expect("one board accepts the pin");
    assert_eq!(report.created, 1);
    let entry = store
        .ledger_entry("credential-7", "row-s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, pinion_store::LedgerState::Confirmed);
    let again = run_publish(
        &command.args,
        env_with_store(env(&sim, ALL_SCOPES, &data).await),
    )
    .await
    .unwrap();
    assert_eq!((again.created, again.already_published), (0, 1));
    assert!(!data.join("sync-state.db").exists());
    store.close().await;
}
