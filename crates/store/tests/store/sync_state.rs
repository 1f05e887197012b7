//! Sync state in the store: run progress per job (credential plus
//! destination) that a resumed run finds again, watermarks promoted only by
//! a successful run, and the publish ledger whose first send time never
//! moves.

use pinion_store::SyncPartitionState;

use crate::helpers::{TestDb, keyring};

fn part(name: &str, bookmark: Option<&str>, done: bool, mark: Option<&str>) -> SyncPartitionState {
    SyncPartitionState {
        part: name.into(),
        bookmark: bookmark.map(str::to_owned),
        done,
        watermark: mark.map(str::to_owned),
    }
}

pub async fn sync_runs_resume_per_job_and_promote_watermarks_only_on_success(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let job = "cred_1|sqlite:/data/out.db";
    let other = "cred_2|sqlite:/data/out.db";

    let first = store.sync_begin_run(job, false).await.unwrap();
    assert!(!first.resumed && first.streams.is_empty());
    store
        .sync_save_checkpoint(
            first.run_id,
            "board_pins",
            4096,
            12,
            &[
                part("1", Some("bm-2"), false, None),
                part("2", None, true, Some("w2")),
            ],
        )
        .await
        .unwrap();
    // A second checkpoint moves one partition and keeps the other.
    store
        .sync_save_checkpoint(
            first.run_id,
            "board_pins",
            8192,
            20,
            &[part("1", Some("bm-3"), false, None)],
        )
        .await
        .unwrap();
    store
        .sync_set_stream_status(first.run_id, "boards", "done", None)
        .await
        .unwrap();

    // Another job never continues this one's run.
    let theirs = store.sync_begin_run(other, true).await.unwrap();
    assert!(!theirs.resumed);
    assert_ne!(theirs.run_id, first.run_id);

    let resumed = store.sync_begin_run(job, true).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.run_id, first.run_id);
    let pins = resumed
        .streams
        .iter()
        .find(|s| s.stream == "board_pins")
        .unwrap();
    assert_eq!(
        (pins.position, pins.records, pins.status.as_str()),
        (Some(8192), 20, "running")
    );
    assert_eq!(
        pins.partitions,
        vec![
            part("1", Some("bm-3"), false, None),
            part("2", None, true, Some("w2"))
        ]
    );
    let boards = resumed
        .streams
        .iter()
        .find(|s| s.stream == "boards")
        .unwrap();
    assert_eq!(boards.status, "done");

    // A failed run promotes nothing; a successful one promotes its finished
    // partitions' watermarks for its job only.
    store
        .sync_finish_run(first.run_id, job, false)
        .await
        .unwrap();
    assert!(
        store
            .sync_watermarks(job, "board_pins")
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.sync_begin_run(job, true).await.unwrap();
    assert_eq!(again.run_id, first.run_id, "a failed run can be resumed");
    store
        .sync_finish_run(again.run_id, job, true)
        .await
        .unwrap();
    assert_eq!(
        store.sync_watermarks(job, "board_pins").await.unwrap(),
        vec![("2".to_owned(), "w2".to_owned())]
    );
    assert!(
        store
            .sync_watermarks(other, "board_pins")
            .await
            .unwrap()
            .is_empty()
    );
    let fresh = store.sync_begin_run(job, true).await.unwrap();
    assert!(!fresh.resumed, "a succeeded run is not resumed");

    // Without --resume, an unfinished run is abandoned for a new one.
    let newer = store.sync_begin_run(job, false).await.unwrap();
    assert_ne!(newer.run_id, fresh.run_id);
    let latest = store.sync_begin_run(job, true).await.unwrap();
    assert_eq!(latest.run_id, newer.run_id);
    store.close().await;
}

pub async fn the_publish_ledger_keeps_the_first_send_and_confirmed_ids_per_target(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    assert!(
        store
            .ledger_entry("cred_1", "row-1")
            .await
            .unwrap()
            .is_none()
    );
    store
        .ledger_record_sent("cred_1", "row-1", "111")
        .await
        .unwrap();
    let sent = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sent.state.as_str(), sent.target.as_str()), ("sent", "111"));
    let first_sent = sent.sent_at.expect("sent_at");

    store
        .ledger_record_outcome("cred_1", "row-1", "sent", "answer lost: HTTP 503")
        .await
        .unwrap();
    let lost = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lost.state, "sent");
    assert_eq!(lost.message.as_deref(), Some("answer lost: HTTP 503"));
    assert!(lost.updated_at >= sent.updated_at);

    store
        .ledger_record_sent("cred_1", "row-1", "111")
        .await
        .unwrap();
    let resent = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        resent.sent_at,
        Some(first_sent),
        "a later send keeps sent_at"
    );
    assert_eq!(resent.message, None);

    store
        .ledger_record_confirmed("cred_1", "row-1", "900001")
        .await
        .unwrap();
    store
        .ledger_record_sent("cred_1", "row-2", "222")
        .await
        .unwrap();
    store
        .ledger_record_confirmed("cred_1", "row-2", "900002")
        .await
        .unwrap();
    store
        .ledger_record_sent("cred_2", "row-1", "111")
        .await
        .unwrap();
    store
        .ledger_record_confirmed("cred_2", "row-1", "900003")
        .await
        .unwrap();
    store
        .ledger_record_sent("cred_1", "row-3", "111")
        .await
        .unwrap();
    store
        .ledger_record_outcome("cred_1", "row-3", "failed", "Pinterest refused it")
        .await
        .unwrap();

    let confirmed = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.state, "confirmed");
    assert_eq!(confirmed.object_id.as_deref(), Some("900001"));
    assert_eq!(
        store.ledger_confirmed_ids("cred_1", "111").await.unwrap(),
        vec!["900001".to_owned()]
    );
    assert_eq!(
        store.ledger_confirmed_ids("cred_2", "111").await.unwrap(),
        vec!["900003".to_owned()]
    );
    // Only the states the ledger knows can be stored.
    assert!(
        store
            .ledger_record_outcome("cred_1", "row-3", "maybe", "x")
            .await
            .is_err()
    );
    store.close().await;
}
