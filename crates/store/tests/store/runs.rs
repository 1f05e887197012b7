//! Source runs and named API tokens (the web UI's tables): a run moves from
//! queued to running to a final status with its per-stream counts; tokens
//! are listed by name without their value, revoked by public id only by
//! their owner, and note their last use.

use pinion_domain::{Role, Username};
use pinion_store::{RunRecord, RunStatus, RunStreamCount, SourceRecord, StoreError};

use crate::helpers::{TestDb, keyring};

fn count(stream: &str, records: u64, outcome: Option<&str>) -> RunStreamCount {
    RunStreamCount {
        stream: stream.into(),
        records,
        outcome: outcome.map(str::to_owned),
        error: None,
    }
}

pub async fn a_run_goes_from_queued_to_its_final_counts(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    store
        .create_source(&SourceRecord {
            id: "src_a".into(),
            owner: alice.id.clone(),
            credential_id: "cred_1".into(),
            name: "Boards".into(),
            streams: vec!["boards".into(), "pins".into()],
            output_kind: "jsonl".into(),
            output_path: "boards".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let run = |id: &str, source: &str| RunRecord {
        id: id.into(),
        source_id: source.into(),
        owner: alice.id.clone(),
        status: RunStatus::Queued,
        streams: vec![count("boards", 0, None), count("pins", 0, None)],
        error: None,
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
    };
    assert!(matches!(
        store.create_run(&run("run_x", "src_nope")).await,
        Err(StoreError::NotFound { .. })
    ));
    store.create_run(&run("run_1", "src_a")).await.unwrap();
    let queued = store.get_run("run_1").await.unwrap();
    assert_eq!(queued.status, RunStatus::Queued);
    assert!(queued.started_at.is_none());

    store.start_run("run_1").await.unwrap();
    assert!(store.start_run("run_1").await.is_err(), "a run starts once");
    store
        .update_run_streams(
            "run_1",
            &[count("boards", 7, Some("done")), count("pins", 3, None)],
        )
        .await
        .unwrap();
    let running = store.get_run("run_1").await.unwrap();
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(running.streams[0].records, 7);
    assert_eq!(running.streams[1].records, 3);

    let mut failed_pins = count("pins", 5, Some("failed"));
    failed_pins.error = Some("Pinterest answered 500".into());
    store
        .finish_run(
            "run_1",
            RunStatus::Failed,
            &[count("boards", 7, Some("done")), failed_pins.clone()],
            Some("the pins stream failed"),
        )
        .await
        .unwrap();
    // Late progress does not overwrite the final counts.
    store
        .update_run_streams("run_1", &[count("boards", 0, None)])
        .await
        .unwrap();
    let done = store.get_run("run_1").await.unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.streams[1], failed_pins);
    assert_eq!(done.error.as_deref(), Some("the pins stream failed"));
    assert!(done.finished_at.is_some());

    store.create_run(&run("run_2", "src_a")).await.unwrap();
    let listed: Vec<_> = store
        .list_runs("src_a", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(store.list_runs("src_a", 1).await.unwrap().len(), 1);
    assert_eq!(store.fail_unfinished_runs("interrupted").await.unwrap(), 1);
    let interrupted = store.get_run("run_2").await.unwrap();
    assert_eq!(interrupted.status, RunStatus::Failed);
    assert_eq!(interrupted.error.as_deref(), Some("interrupted"));
    assert!(matches!(
        store.get_run("run_nope").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn named_api_tokens_are_listed_revoked_by_owner_and_note_their_use(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let legacy = store.create_api_token(&alice.id).await.unwrap();
    let (token, info) = store
        .create_named_api_token(&alice.id, "CI pipeline")
        .await
        .unwrap();
    assert!(info.id.starts_with("tok_") && info.id.len() == 20);
    assert!(!info.id.contains(&token.expose_secret()[..8]));

    let listed = store.list_api_tokens(&alice.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    let named = listed.iter().find(|t| t.id == info.id).unwrap();
    assert_eq!(named.name.as_deref(), Some("CI pipeline"));
    assert!(named.last_used_at.is_none());
    assert!(listed.iter().any(|t| t.name.is_none()), "the legacy token");
    assert!(store.list_api_tokens(&bob.id).await.unwrap().is_empty());

    let user = store.authenticate_api_token(&token).await.unwrap().unwrap();
    assert_eq!(user.id, alice.id);
    let used = store.list_api_tokens(&alice.id).await.unwrap();
    assert!(
        used.iter()
            .find(|t| t.id == info.id)
            .unwrap()
            .last_used_at
            .is_some()
    );
    assert_eq!(
        store
            .authenticate_api_token(&legacy)
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );

    // Only the owner revokes, by id.
    assert!(
        !store
            .revoke_api_token_by_id(&bob.id, &info.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_token_by_id(&alice.id, "tok_0000000000000000")
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_api_token_by_id(&alice.id, &info.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_token_by_id(&alice.id, &info.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .authenticate_api_token(&token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.user_for_api_token(&token).await.unwrap().is_none());
    assert_eq!(store.list_api_tokens(&alice.id).await.unwrap().len(), 1);
}
