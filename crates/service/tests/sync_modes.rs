//! A source's sync mode (issue 15): an incremental source's second run
//! skips the boards whose pins did not change since its last successful run
//! and says so; switched back to full refresh, its next run reads them all.

use std::time::Duration;

use pinion_domain::record::RunStatus;
use pinion_domain::{SourceId, User};
use pinion_service::{Pinion, SourceInput};
use pinion_simulator::{DataShape, SimConfig};
use pinion_store::RunRecord;
use pinion_testkit::{authorize, create_credential, pinion_on, simulator};

async fn run_to_end(pinion: &Pinion, alice: &User, source: &SourceId) -> RunRecord {
    let run = pinion.runs.start(alice, source).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = pinion.runs.get(alice, source, &run.id).await.unwrap();
        if run.status.is_final() {
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            return run;
        }
        assert!(std::time::Instant::now() < deadline, "{run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn board_pins(run: &RunRecord) -> (u64, String) {
    let stream = run
        .streams
        .iter()
        .find(|s| s.stream == "board_pins")
        .unwrap_or_else(|| panic!("{run:?}"));
    (stream.records, stream.error.clone().unwrap_or_default())
}

#[tokio::test]
async fn an_incremental_source_skips_unchanged_boards_until_switched_to_full_refresh() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Modes", DataShape::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), |_| {}).await;
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let credential =
        create_credential(&store, &alice, &app, "Boards", "boards:read,pins:read").await;
    authorize(&pinion.authorizations, &alice, &credential.id).await;
    let input = SourceInput {
        name: "Pins as they change".into(),
        credential_id: credential.id.as_str().to_owned(),
        streams: vec!["boards".into(), "board_pins".into()],
        output_kind: "sqlite".into(),
        output_path: "pins.db".into(),
        sync_mode: "incremental".into(),
    };
    let source = pinion.sources.create(&alice, &input).await.unwrap();
    assert_eq!(source.sync_mode, pinion_domain::SyncMode::Incremental);

    let (all, note) = board_pins(&run_to_end(&pinion, &alice, &source.id).await);
    assert!(all > 0, "the first run reads every board's pins");
    assert!(!note.contains("unchanged"), "{note}");

    let (read, note) = board_pins(&run_to_end(&pinion, &alice, &source.id).await);
    assert_eq!(read, 0, "no board changed: {note}");
    assert!(
        note.contains("unchanged since the last successful run (incremental)"),
        "{note}"
    );

    let full = SourceInput {
        sync_mode: "full_refresh".into(),
        ..input
    };
    pinion
        .sources
        .update(&alice, &source.id, &full)
        .await
        .unwrap();
    let (again, note) = board_pins(&run_to_end(&pinion, &alice, &source.id).await);
    assert_eq!(again, all, "a full refresh reads every board again: {note}");
}
