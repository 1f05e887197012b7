//! The library behind `pinion sync` and `pinion publish`: arguments parse
//! as the binary will parse them, runs use the default (Pinterest-paced)
//! client, and a stream named without its scopes fails before any request.

use clap::Parser;
use pinion_domain::ScopeSet;
use pinion_sync::cli::{CliEnv, PublishArgs, SyncArgs, run_publish, run_sync};
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
