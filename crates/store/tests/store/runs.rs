//! Source runs and named API tokens (the web UI's tables): a run moves from
//! queued to running to a final status with its per-stream counts; a
//! finished run, or a source with all it owns, is deleted by its owner only
//! and never while a run is going; a run is taken over only once its
//! owner is gone, by one claimant, and only its owner ends it; tokens are listed by name without their
//! value, revoked by public id only by their owner, and note their last use.

use crate::helpers::{credential_id, run_id, source_id, token_id};
use std::sync::Arc;

use pinion_domain::{Role, UserId, Username};
use pinion_store::{
    RunRecord, RunStatus, RunStreamCount, SourceRecord, Store, StoreError, source_job_key,
};

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
            id: pinion_domain::SourceId::from_trusted("src_a".into()),
            owner: alice.id.clone(),
            credential_id: pinion_domain::CredentialId::from_trusted("cred_1".into()),
            name: "Boards".into(),
            streams: vec!["boards".into(), "pins".into()],
            output_kind: "jsonl".into(),
            output_path: "boards".into(),
            sync_mode: pinion_domain::SyncMode::FullRefresh,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let run = |id: &str, source: &str| RunRecord {
        id: pinion_domain::RunId::from_trusted(id.into()),
        source_id: pinion_domain::SourceId::from_trusted(source.into()),
        owner: alice.id.clone(),
        status: RunStatus::Queued,
        streams: vec![count("boards", 0, None), count("pins", 0, None)],
        error: None,
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
        taken_over_at: None,
    };
    assert!(matches!(
        store
            .create_run(
                &run("run_x", "src_nope"),
                &pinion_store::RunLease {
                    owner: "test".into(),
                    expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
                }
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .create_run(
            &run("run_1", "src_a"),
            &pinion_store::RunLease {
                owner: "test".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let queued = store.get_run(&run_id("run_1")).await.unwrap();
    assert_eq!(queued.status, RunStatus::Queued);
    assert!(queued.started_at.is_none());

    store.start_run(&run_id("run_1")).await.unwrap();
    assert!(
        store.start_run(&run_id("run_1")).await.is_err(),
        "a run starts once"
    );
    store
        .update_run_streams(
            &run_id("run_1"),
            &[count("boards", 7, Some("done")), count("pins", 3, None)],
        )
        .await
        .unwrap();
    let running = store.get_run(&run_id("run_1")).await.unwrap();
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(running.streams[0].records, 7);
    assert_eq!(running.streams[1].records, 3);

    let mut failed_pins = count("pins", 5, Some("failed"));
    failed_pins.error = Some("Pinterest answered 500".into());
    store
        .finish_run(
            &run_id("run_1"),
            RunStatus::Failed,
            &[count("boards", 7, Some("done")), failed_pins.clone()],
            Some("the pins stream failed"),
        )
        .await
        .unwrap();
    // Late progress does not overwrite the final counts.
    store
        .update_run_streams(&run_id("run_1"), &[count("boards", 0, None)])
        .await
        .unwrap();
    let done = store.get_run(&run_id("run_1")).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.streams[1], failed_pins);
    assert_eq!(done.error.as_deref(), Some("the pins stream failed"));
    assert!(done.finished_at.is_some());

    store
        .create_run(
            &run("run_2", "src_a"),
            &pinion_store::RunLease {
                owner: "test".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_runs(&source_id("src_a"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        store.list_runs(&source_id("src_a"), 1).await.unwrap().len(),
        1
    );
    assert!(matches!(
        store.get_run(&run_id("run_nope")).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The claim and lease rules of issue 12: a run is claimed only from the
/// owner the claimant saw, only once its lease ended or that owner was seen
/// to end, by exactly one of many claimants at once; heartbeats and the
/// outcome belong to the current owner only.
pub async fn a_run_is_claimed_once_its_owner_is_gone_and_only_its_owner_ends_it(db: &TestDb) {
    use chrono::{Duration, Utc};
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let source = source("src_a", &alice.id, "cred_1");
    store.create_source(&source).await.unwrap();
    let lease = |owner: &str, seconds: i64| pinion_store::RunLease {
        owner: owner.into(),
        expires_at: Utc::now() + Duration::seconds(seconds),
    };
    let record = RunRecord {
        id: pinion_domain::RunId::from_trusted("run_1".into()),
        source_id: source.id.clone(),
        owner: alice.id.clone(),
        status: RunStatus::Queued,
        streams: vec![count("boards", 0, None)],
        error: None,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
        taken_over_at: None,
    };
    store
        .create_run(&record, &lease("inst_a", 30))
        .await
        .unwrap();
    store.start_run(&run_id("run_1")).await.unwrap();
    let unfinished = store.unfinished_runs().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].owner_instance, "inst_a");
    assert_eq!(unfinished[0].status, RunStatus::Running);
    assert_eq!(unfinished[0].takeovers, 0);

    // A live lease is not taken, nor one from an owner the claimant did not see.
    let now = Utc::now();
    assert!(
        !store
            .claim_run(&run_id("run_1"), "inst_a", false, &lease("inst_b", 30), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_run(&run_id("run_1"), "inst_x", true, &lease("inst_b", 30), now)
            .await
            .unwrap()
    );
    // Heartbeats: the owner's only.
    assert!(
        store
            .renew_run_lease(
                &run_id("run_1"),
                "inst_a",
                Utc::now() + Duration::seconds(30)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .renew_run_lease(
                &run_id("run_1"),
                "inst_b",
                Utc::now() + Duration::seconds(30)
            )
            .await
            .unwrap()
    );

    // The owner's instance was seen to end: exactly one of ten claimants wins.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..10 {
        let (store, lease) = (store.clone(), lease(&format!("inst_{n}"), 30));
        tasks.spawn(async move {
            let won = store
                .claim_run(&run_id("run_1"), "inst_a", true, &lease, Utc::now())
                .await
                .unwrap();
            (n, won)
        });
    }
    let mut claims = vec![false; 10];
    while let Some(claim) = tasks.join_next().await {
        let (n, won) = claim.unwrap();
        claims[n] = won;
    }
    assert_eq!(claims.iter().filter(|won| **won).count(), 1, "{claims:?}");
    let winner = format!("inst_{}", claims.iter().position(|won| *won).unwrap());
    let taken = store.get_run(&run_id("run_1")).await.unwrap();
    assert!(taken.taken_over_at.is_some());
    assert_eq!(taken.status, RunStatus::Running);
    let unfinished = store.unfinished_runs().await.unwrap();
    assert_eq!(unfinished[0].owner_instance, winner);
    assert_eq!(unfinished[0].takeovers, 1);
    // The old owner lost it: no heartbeat, no outcome.
    assert!(
        !store
            .renew_run_lease(
                &run_id("run_1"),
                "inst_a",
                Utc::now() + Duration::seconds(30)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_owned_run(
                &run_id("run_1"),
                "inst_a",
                RunStatus::Failed,
                &[],
                Some("late")
            )
            .await
            .unwrap()
    );

    // A lease that ended is taken without seeing the owner end.
    assert!(
        store
            .renew_run_lease(&run_id("run_1"), &winner, Utc::now() - Duration::seconds(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_run(
                &run_id("run_1"),
                &winner,
                false,
                &lease("inst_c", 30),
                Utc::now()
            )
            .await
            .unwrap()
    );
    // A clean stop releases the lease at once.
    assert_eq!(store.release_run_leases("inst_c").await.unwrap(), 1);
    assert!(
        store
            .claim_run(
                &run_id("run_1"),
                "inst_c",
                false,
                &lease("inst_d", 30),
                Utc::now()
            )
            .await
            .unwrap()
    );
    assert_eq!(store.unfinished_runs().await.unwrap()[0].takeovers, 3);
    assert!(
        store
            .finish_owned_run(
                &run_id("run_1"),
                "inst_d",
                RunStatus::Succeeded,
                &[count("boards", 9, Some("done"))],
                None
            )
            .await
            .unwrap()
    );
    let done = store.get_run(&run_id("run_1")).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!(done.streams[0].records, 9);
    assert!(store.unfinished_runs().await.unwrap().is_empty());
    // A finished run is never claimed again.
    assert!(
        !store
            .claim_run(
                &run_id("run_1"),
                "inst_d",
                true,
                &lease("inst_e", 30),
                Utc::now()
            )
            .await
            .unwrap()
    );
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
    assert!(info.id.as_str().starts_with("tok_") && info.id.as_str().len() == 20);
    assert!(!info.id.as_str().contains(&token.expose_secret()[..8]));

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
            .revoke_api_token_by_id(&alice.id, &token_id("tok_0000000000000000"))
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

pub(crate) fn source(id: &str, owner: &UserId, credential: &str) -> SourceRecord {
    SourceRecord {
        id: pinion_domain::SourceId::from_trusted(id.into()),
        owner: owner.clone(),
        credential_id: pinion_domain::CredentialId::from_trusted(credential.into()),
        name: format!("Source {id}"),
        streams: vec!["boards".into()],
        output_kind: "jsonl".into(),
        output_path: "out".into(),
        sync_mode: pinion_domain::SyncMode::FullRefresh,
        created_at: chrono::Utc::now(),
    }
}

/// Stores run `id` of `source` and brings it to `status`.
async fn stored_run(store: &Arc<dyn Store>, id: &str, source: &SourceRecord, status: RunStatus) {
    store
        .create_run(
            &RunRecord {
                id: pinion_domain::RunId::from_trusted(id.into()),
                source_id: source.id.clone(),
                owner: source.owner.clone(),
                status: RunStatus::Queued,
                streams: vec![count("boards", 0, None)],
                error: None,
                created_at: chrono::Utc::now(),
                started_at: None,
                finished_at: None,
                taken_over_at: None,
            },
            &pinion_store::RunLease {
                owner: "test".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    if status == RunStatus::Queued {
        return;
    }
    store.start_run(&run_id(id)).await.unwrap();
    if status.is_final() {
        store
            .finish_run(
                &run_id(id),
                status,
                &[count("boards", 3, Some("done"))],
                None,
            )
            .await
            .unwrap();
    }
}

/// Gives `job` a succeeded sync run with a watermark and an unfinished one
/// with a bookmark.
async fn sync_state_of(store: &Arc<dyn Store>, job: &str) {
    let done = store.sync_begin_run(job, false).await.unwrap();
    let checkpoint = |position: u64, bookmark: Option<&str>, done: bool| {
        let progress = pinion_store::PartitionProgress {
            bookmark: bookmark.map(str::to_owned),
            done,
            watermark: Some("w1".into()),
        };
        pinion_store::Checkpoint {
            position,
            records: position,
            partitions: vec![("board-1".to_owned(), progress)],
        }
    };
    store
        .sync_save_checkpoint(done.run_id, "board_pins", &checkpoint(1, None, true))
        .await
        .unwrap();
    store.sync_finish_run(done.run_id, job, true).await.unwrap();
    let going = store.sync_begin_run(job, false).await.unwrap();
    store
        .sync_save_checkpoint(
            going.run_id,
            "board_pins",
            &checkpoint(2, Some("bm"), false),
        )
        .await
        .unwrap();
}

async fn has_sync_state(store: &Arc<dyn Store>, job: &str) -> bool {
    let watermarks = store.sync_watermarks(job, "board_pins").await.unwrap();
    // Beginning a run with resume finds the unfinished one, if it is kept.
    let resumed = store.sync_begin_run(job, true).await.unwrap();
    assert_eq!(
        watermarks.is_empty(),
        !resumed.resumed,
        "{job}: all or nothing"
    );
    resumed.resumed
}

pub async fn deleting_a_source_takes_its_runs_and_sync_state_unless_a_run_is_going(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let doomed = source("src_a", &alice.id, "cred_1");
    let kept = source("src_b", &alice.id, "cred_1");
    for source in [&doomed, &kept] {
        store.create_source(source).await.unwrap();
    }
    stored_run(&store, "run_1", &doomed, RunStatus::Succeeded).await;
    stored_run(&store, "run_2", &doomed, RunStatus::Running).await;
    stored_run(&store, "run_3", &kept, RunStatus::Failed).await;
    let job = source_job_key("cred_1", "src_a");
    let kept_job = source_job_key("cred_1", "src_b");
    sync_state_of(&store, &job).await;
    sync_state_of(&store, &kept_job).await;

    // Only the owner deletes; another user's attempt changes nothing.
    assert!(
        !store
            .delete_source(&source_id("src_a"), &bob.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_source(&source_id("src_nope"), &alice.id)
            .await
            .unwrap()
    );
    // A run is going: nothing is deleted.
    match store.delete_source(&source_id("src_a"), &alice.id).await {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "source"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .list_runs(&source_id("src_a"), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(has_sync_state(&store, &job).await);

    store
        .finish_run(&run_id("run_2"), RunStatus::Failed, &[], Some("stopped"))
        .await
        .unwrap();
    assert!(
        store
            .delete_source(&source_id("src_a"), &alice.id)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.get_source(&source_id("src_a")).await,
        Err(StoreError::NotFound { .. })
    ));
    for run in ["run_1", "run_2"] {
        assert!(matches!(
            store.get_run(&run_id(run)).await,
            Err(StoreError::NotFound { .. })
        ));
    }
    assert!(
        store
            .list_runs(&source_id("src_a"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!has_sync_state(&store, &job).await, "the job starts afresh");
    assert!(
        !store
            .delete_source(&source_id("src_a"), &alice.id)
            .await
            .unwrap()
    );
    // A run can no longer be made for it.
    let late = RunRecord {
        id: pinion_domain::RunId::from_trusted("run_late".into()),
        source_id: pinion_domain::SourceId::from_trusted("src_a".into()),
        owner: alice.id.clone(),
        status: RunStatus::Queued,
        streams: vec![],
        error: None,
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
        taken_over_at: None,
    };
    assert!(matches!(
        store
            .create_run(
                &late,
                &pinion_store::RunLease {
                    owner: "test".into(),
                    expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
                }
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // The other source of the same credential keeps everything.
    assert_eq!(
        store.get_source(&source_id("src_b")).await.unwrap().name,
        kept.name
    );
    assert_eq!(
        store.get_run(&run_id("run_3")).await.unwrap().source_id,
        "src_b"
    );
    assert!(has_sync_state(&store, &kept_job).await);
    store.close().await;
}

pub async fn a_source_is_changed_by_its_owner_when_no_run_is_going_and_starts_afresh(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let before = source("src_a", &alice.id, "cred_1");
    store.create_source(&before).await.unwrap();
    stored_run(&store, "run_1", &before, RunStatus::Running).await;
    let job = source_job_key("cred_1", "src_a");
    sync_state_of(&store, &job).await;

    let renamed = SourceRecord {
        name: "Renamed".into(),
        ..before.clone()
    };
    // Another user's attempt and an unknown source change nothing.
    assert!(
        !store
            .update_source(&SourceRecord {
                owner: bob.id.clone(),
                ..renamed.clone()
            })
            .await
            .unwrap()
    );
    // A run is going: refused, nothing changes.
    match store.update_source(&renamed).await {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "source"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.get_source(&source_id("src_a")).await.unwrap().name,
        before.name
    );
    store
        .finish_run(&run_id("run_1"), RunStatus::Succeeded, &[], None)
        .await
        .unwrap();

    // A new name only: the job keeps its checkpoint.
    assert!(store.update_source(&renamed).await.unwrap());
    assert_eq!(
        store.get_source(&source_id("src_a")).await.unwrap().name,
        "Renamed"
    );
    assert!(has_sync_state(&store, &job).await);
    // Incremental from now on: the watermarks it reads are the checkpoint's.
    let renamed = SourceRecord {
        sync_mode: pinion_domain::SyncMode::Incremental,
        ..renamed
    };
    assert!(store.update_source(&renamed).await.unwrap());
    assert_eq!(
        store
            .get_source(&source_id("src_a"))
            .await
            .unwrap()
            .sync_mode,
        pinion_domain::SyncMode::Incremental
    );
    assert!(has_sync_state(&store, &job).await);
    // New streams, output and credential: the old job starts afresh.
    let changed = SourceRecord {
        credential_id: pinion_domain::CredentialId::from_trusted("cred_2".into()),
        streams: vec!["boards".into(), "board_pins".into()],
        output_kind: "sqlite".into(),
        output_path: "out.db".into(),
        ..renamed
    };
    assert!(store.update_source(&changed).await.unwrap());
    let read = store.get_source(&source_id("src_a")).await.unwrap();
    assert_eq!(read.credential_id.as_str(), "cred_2");
    assert_eq!(read.streams, ["boards", "board_pins"]);
    assert_eq!(
        (read.output_kind.as_str(), read.output_path.as_str()),
        ("sqlite", "out.db")
    );
    assert!(!has_sync_state(&store, &job).await);
    // Its runs stay.
    assert_eq!(
        store
            .list_runs(&source_id("src_a"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
}

pub async fn a_finished_run_is_deleted_by_its_owner_and_runs_are_found_by_credential(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = store
        .create_user(&Username::parse("alice").unwrap(), Role::User)
        .await
        .unwrap();
    let bob = store
        .create_user(&Username::parse("bob").unwrap(), Role::User)
        .await
        .unwrap();
    let boards = source("src_a", &alice.id, "cred_1");
    let pins = source("src_b", &alice.id, "cred_1");
    let elsewhere = source("src_c", &alice.id, "cred_2");
    let bobs = source("src_d", &bob.id, "cred_1");
    for source in [&boards, &pins, &elsewhere, &bobs] {
        store.create_source(source).await.unwrap();
    }
    stored_run(&store, "run_1", &boards, RunStatus::Succeeded).await;
    stored_run(&store, "run_2", &pins, RunStatus::Failed).await;
    stored_run(&store, "run_3", &elsewhere, RunStatus::Succeeded).await;
    stored_run(&store, "run_4", &bobs, RunStatus::Succeeded).await;
    stored_run(&store, "run_5", &boards, RunStatus::Running).await;
    stored_run(&store, "run_6", &pins, RunStatus::Queued).await;

    // Alice's runs of her sources that read with cred_1, newest first.
    let ids = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .runs_using_credential(&credential_id("cred_1"), &alice.id, 10)
            .await
            .unwrap()),
        vec!["run_6", "run_5", "run_2", "run_1"]
    );
    assert_eq!(
        ids(store
            .runs_using_credential(&credential_id("cred_1"), &alice.id, 2)
            .await
            .unwrap()),
        vec!["run_6", "run_5"]
    );
    assert_eq!(
        ids(store
            .runs_using_credential(&credential_id("cred_1"), &bob.id, 10)
            .await
            .unwrap()),
        vec!["run_4"]
    );

    // Deleting: only a finished run, of that source, by its owner.
    assert!(
        !store
            .delete_run(&source_id("src_a"), &run_id("run_1"), &bob.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_run(&source_id("src_b"), &run_id("run_1"), &alice.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_run(&source_id("src_a"), &run_id("run_nope"), &alice.id)
            .await
            .unwrap()
    );
    for (source, run) in [("src_a", "run_5"), ("src_b", "run_6")] {
        match store
            .delete_run(&source_id(source), &run_id(run), &alice.id)
            .await
        {
            Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "run"),
            other => panic!("{run}: expected a conflict, got {other:?}"),
        }
        assert!(store.get_run(&run_id(run)).await.is_ok(), "{run} is kept");
    }
    assert!(
        store
            .delete_run(&source_id("src_a"), &run_id("run_1"), &alice.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_run(&source_id("src_a"), &run_id("run_1"), &alice.id)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.get_run(&run_id("run_1")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        ids(store.list_runs(&source_id("src_a"), 10).await.unwrap()),
        vec!["run_5"]
    );
    assert!(
        store.get_source(&source_id("src_a")).await.is_ok(),
        "the source stays"
    );
    store.close().await;
}
