//! Many runs at once in one process (issue 14): forty sources of one
//! credential run together against the simulator on a store with the
//! production pool of 8 connections. Every run succeeds with every record,
//! and while they run, every call a page or the API would make (listing
//! sources) answers: the runs take turns at the database
//! (`RUN_DATABASE_CALLS`), so they never hold every connection, which on
//! PostgreSQL made other calls time out waiting for one.

use std::time::Duration;

use pinion_domain::CredentialPatchInput;
use pinion_domain::record::RunStatus;
use pinion_service::{Pinion, Settings, SourceInput};
use pinion_simulator::{DataShape, SimConfig};
use pinion_testkit::{TestDb, authorize, create_credential, simulator};

const RUNS: usize = 40;

async fn forty_runs_at_once(db: TestDb) {
    let shape = DataShape {
        boards: 10,
        sections_per_board: 1,
        pins_per_board: 150,
        pins_per_section: 10,
        secret_share: 0.0,
        protected_share: 0.0,
        ..DataShape::default()
    };
    let (sim, app) = simulator(SimConfig::for_tests(), "Many runs", shape.clone()).await;
    let store = db.store(8).await;
    let mut settings = Settings::new(url::Url::parse("http://127.0.0.1:8080").unwrap());
    settings.pinterest_oauth_url = sim.oauth_url();
    settings.pinterest_api_url = sim.api_url();
    settings.data_dir = Some(db.dir.path().to_owned());
    let pinion = Pinion::with_store(store.clone(), settings).unwrap();
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let credential =
        create_credential(&store, &alice, &app, "Boards", "boards:read,pins:read").await;
    authorize(&pinion.authorizations, &alice, &credential.id).await;
    // The simulator has no limits here; the client need not pace.
    pinion
        .credentials
        .update(
            &alice,
            &credential.id,
            &CredentialPatchInput {
                rate_tier: Some("unlimited".into()),
                ..CredentialPatchInput::default()
            },
        )
        .await
        .unwrap();
    let mut sources = Vec::new();
    for i in 0..RUNS {
        let source = pinion
            .sources
            .create(
                &alice,
                &SourceInput {
                    name: format!("Boards {i}"),
                    credential_id: credential.id.as_str().to_owned(),
                    streams: vec!["boards".into(), "board_pins".into()],
                    output_kind: "jsonl".into(),
                    output_path: format!("boards-{i}"),
                    sync_mode: String::new(),
                },
            )
            .await
            .unwrap();
        sources.push(source.id);
    }
    let mut runs = Vec::new();
    for source in &sources {
        runs.push(pinion.runs.start(&alice, source).await.unwrap().id);
    }

    // Until every run has ended, what a page would ask keeps answering.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let mut calls = 0;
    let finished = loop {
        let listed = pinion.sources.list(&alice).await;
        assert!(
            listed.is_ok(),
            "listing sources during the runs: {listed:?}"
        );
        calls += 1;
        let mut finished = Vec::new();
        for (source, run) in sources.iter().zip(&runs) {
            let run = pinion.runs.get(&alice, source, run).await.unwrap();
            if run.status.is_final() {
                finished.push(run);
            }
        }
        if finished.len() == RUNS {
            break finished;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {RUNS} runs ended",
            finished.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(calls > 0);
    let pins = u64::from(shape.boards) * (shape.pins_per_board + shape.pins_per_section);
    for run in finished {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let count = |stream: &str| {
            run.streams
                .iter()
                .find(|s| s.stream == stream)
                .map(|s| s.records)
        };
        assert_eq!(count("boards"), Some(u64::from(shape.boards)), "{run:?}");
        assert_eq!(count("board_pins"), Some(pins), "{run:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_forty_runs_at_once_all_succeed_and_the_store_keeps_answering() {
    forty_runs_at_once(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_forty_runs_at_once_all_succeed_and_the_store_keeps_answering() {
    let Some(db) = TestDb::postgres("concurrent_runs") else {
        return;
    };
    forty_runs_at_once(db).await;
}
