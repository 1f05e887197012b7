//! A saved source whose credential lacks a stream's scopes (issue 15): the
//! stream is skipped with a note naming the scope, the others are read and
//! the run succeeds; a run fails only when none of its streams can be read.

use std::time::Duration;

use pinion_domain::User;
use pinion_domain::record::RunStatus;
use pinion_service::{Pinion, SourceInput};
use pinion_simulator::{DataShape, SimConfig};
use pinion_store::RunRecord;
use pinion_testkit::{authorize, create_credential, pinion_on, simulator};

async fn run_to_end(pinion: &Pinion, alice: &User, source: &SourceInput) -> RunRecord {
    let source = pinion.sources.create(alice, source).await.unwrap();
    let run = pinion.runs.start(alice, &source.id).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = pinion.runs.get(alice, &source.id, &run.id).await.unwrap();
        if run.status.is_final() {
            return run;
        }
        assert!(std::time::Instant::now() < deadline, "{run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stream_without_its_scope_is_skipped_and_only_nothing_readable_fails() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Scopes", DataShape::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), |_| {}).await;
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let credential = create_credential(&store, &alice, &app, "Boards", "boards:read").await;
    authorize(&pinion.authorizations, &alice, &credential.id).await;
    let source = |name: &str, streams: &[&str]| SourceInput {
        name: name.into(),
        credential_id: credential.id.as_str().to_owned(),
        streams: streams.iter().map(|s| (*s).to_owned()).collect(),
        output_kind: "jsonl".into(),
        output_path: name.to_lowercase(),
        sync_mode: String::new(),
    };

    let run = run_to_end(
        &pinion,
        &alice,
        &source("Mixed", &["boards", "ad_accounts"]),
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.error, None);
    let stream = |name: &str| run.streams.iter().find(|s| s.stream == name).unwrap();
    assert_eq!(stream("boards").outcome.as_deref(), Some("done"));
    assert!(stream("boards").records > 0, "{run:?}");
    let ads = stream("ad_accounts");
    assert_eq!(ads.outcome.as_deref(), Some("skipped"), "{run:?}");
    assert!(
        ads.error.as_deref().unwrap_or("").contains("ads:read"),
        "the note names the scope: {run:?}"
    );

    let run = run_to_end(&pinion, &alice, &source("Ads", &["ad_accounts"])).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let error = run.error.unwrap_or_default();
    assert!(error.contains("ads:read"), "{error}");
}
