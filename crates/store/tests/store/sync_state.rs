//! Sync state in the store: run progress per job (credential plus
//! destination) that a resumed run finds again, watermarks promoted only by
//! a successful run, and the publish ledger whose first send time never
//! moves.

use std::collections::HashMap;

use pinion_store::{Checkpoint, LedgerState, PartitionProgress, StreamStatus};

use crate::helpers::{TestDb, keyring};

fn part(
    name: &str,
    bookmark: Option<&str>,
    done: bool,
    mark: Option<&str>,
) -> (String, PartitionProgress) {
    let progress = PartitionProgress {
        bookmark: bookmark.map(str::to_owned),
        done,
        watermark: mark.map(str::to_owned),
    };
    (name.to_owned(), progress)
}

fn checkpoint(
    position: u64,
    records: u64,
    partitions: Vec<(String, PartitionProgress)>,
) -> Checkpoint {
    Checkpoint {
        position,
        records,
        partitions,
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
            &checkpoint(
                4096,
                12,
                vec![
                    part("1", Some("bm-2"), false, None),
                    part("2", None, true, Some("w2")),
                ],
            ),
        )
        .await
        .unwrap();
    // A second checkpoint moves one partition and keeps the other.
    store
        .sync_save_checkpoint(
            first.run_id,
            "board_pins",
            &checkpoint(8192, 20, vec![part("1", Some("bm-3"), false, None)]),
        )
        .await
        .unwrap();
    store
        .sync_set_stream_status(first.run_id, "boards", StreamStatus::Done, None)
        .await
        .unwrap();

    // Another job never continues this one's run.
    let theirs = store.sync_begin_run(other, true).await.unwrap();
    assert!(!theirs.resumed);
    assert_ne!(theirs.run_id, first.run_id);

    let resumed = store.sync_begin_run(job, true).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.run_id, first.run_id);
    let pins = &resumed.streams["board_pins"];
    assert_eq!(
        (pins.position, pins.records, pins.status),
        (Some(8192), 20, StreamStatus::Running)
    );
    assert_eq!(
        pins.partitions,
        HashMap::from([
            part("1", Some("bm-3"), false, None),
            part("2", None, true, Some("w2"))
        ])
    );
    assert_eq!(resumed.streams["boards"].status, StreamStatus::Done);

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
        HashMap::from([("2".to_owned(), "w2".to_owned())])
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
    assert_eq!(
        (sent.state, sent.target.as_str()),
        (LedgerState::Sent, "111")
    );
    let first_sent = sent.sent_at.expect("sent_at");

    store
        .ledger_record_outcome(
            "cred_1",
            "row-1",
            LedgerState::Sent,
            "answer lost: HTTP 503",
        )
        .await
        .unwrap();
    let lost = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lost.state, LedgerState::Sent);
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
        .ledger_record_outcome(
            "cred_1",
            "row-3",
            LedgerState::Failed,
            "Pinterest refused it",
        )
        .await
        .unwrap();

    let confirmed = store
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.state, LedgerState::Confirmed);
    assert_eq!(confirmed.object_id.as_deref(), Some("900001"));
    assert_eq!(
        store.ledger_confirmed_ids("cred_1", "111").await.unwrap(),
        vec!["900001".to_owned()]
    );
    assert_eq!(
        store.ledger_confirmed_ids("cred_2", "111").await.unwrap(),
        vec!["900003".to_owned()]
    );
    // Only the states the ledger knows can be stored: the API takes a
    // `LedgerState`, and a stored text it does not know reads as corrupt.
    assert!(LedgerState::parse("maybe").is_err());
    assert_eq!(
        store
            .ledger_entry("cred_1", "row-3")
            .await
            .unwrap()
            .unwrap()
            .state,
        LedgerState::Failed
    );
    store.close().await;
}

/// The `_sqlx_migrations` rows of the database at `db`, as (version,
/// checksum).
async fn migrations(db: &TestDb) -> Vec<(i64, Vec<u8>)> {
    use sqlx::Connection;
    let sql = "SELECT version, checksum FROM _sqlx_migrations ORDER BY version";
    if db.is_postgres() {
        let mut conn = sqlx::PgConnection::connect(&db.location).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
    } else {
        let url = format!("sqlite://{}", db.location);
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
    }
}

/// Runs `sql` (several statements) on the database at `db`, creating a
/// SQLite file if needed.
async fn execute_script(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    if db.is_postgres() {
        let mut conn = sqlx::PgConnection::connect(&db.location).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    } else {
        let url = format!("sqlite://{}?mode=rwc", db.location);
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

pub async fn a_sync_state_database_holds_only_the_sync_state_migration(db: &TestDb) {
    let options = crate::helpers::options();
    let state = pinion_store::open_sync_state(&db.location, &options)
        .await
        .unwrap();
    let job = "cred_1|jsonl:/out";
    let run = state.sync_begin_run(job, false).await.unwrap();
    state
        .sync_save_checkpoint(
            run.run_id,
            "boards",
            &checkpoint(7, 3, vec![part("", Some("bm"), false, None)]),
        )
        .await
        .unwrap();
    drop(state);
    #[cfg(unix)]
    if !db.is_postgres() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db.sqlite_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private like the store's file");
    }
    let only = migrations(db).await;
    assert_eq!(
        only.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        vec![20],
        "the sync-state migration alone"
    );

    // Opened again it resumes; opened as a full store, the full migrator
    // accepts the recorded migration (same checksum) and adds the rest.
    let state = pinion_store::open_sync_state(&db.location, &options)
        .await
        .unwrap();
    let resumed = state.sync_begin_run(job, true).await.unwrap();
    assert_eq!((resumed.resumed, resumed.run_id), (true, run.run_id));
    assert_eq!(resumed.streams["boards"].records, 3);
    drop(state);
    let store = db.connect(keyring(&[(1, 1)])).await;
    store.close().await;
    let full = migrations(db).await;
    assert!(full.len() > 1);
    assert!(full.contains(&only[0]), "the checksum is the store's");
}

pub async fn a_stores_database_opened_as_sync_state_is_left_as_it_is(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let job = "cred_1|jsonl:/out";
    let run = store.sync_begin_run(job, false).await.unwrap();
    store.close().await;
    let before = migrations(db).await;
    let state = pinion_store::open_sync_state(&db.location, &crate::helpers::options())
        .await
        .unwrap();
    let resumed = state.sync_begin_run(job, true).await.unwrap();
    assert_eq!((resumed.resumed, resumed.run_id), (true, run.run_id));
    drop(state);
    assert_eq!(
        migrations(db).await,
        before,
        "no migration added or changed"
    );
}

pub async fn sync_state_written_by_an_earlier_version_is_adopted(db: &TestDb) {
    let script = if db.is_postgres() {
        include_str!("fixtures/legacy_sync_state_postgres.sql")
    } else {
        include_str!("fixtures/legacy_sync_state_sqlite.sql")
    };
    execute_script(db, script).await;
    let options = crate::helpers::options();
    let state = pinion_store::open_sync_state(&db.location, &options)
        .await
        .unwrap();
    let job = "cred_1|jsonl:/out";
    assert_eq!(
        state.sync_watermarks(job, "board_pins").await.unwrap(),
        HashMap::from([("b0".to_owned(), "w0".to_owned())])
    );
    let resumed = state.sync_begin_run(job, true).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.run_id.0, 7);
    let pins = &resumed.streams["board_pins"];
    assert_eq!(
        (pins.status, pins.position, pins.records),
        (StreamStatus::Failed, Some(4096), 250)
    );
    assert_eq!(
        pins.partitions,
        HashMap::from([
            part("b1", Some("bm-2"), false, None),
            part("b2", None, true, Some("w2"))
        ])
    );
    let confirmed = state
        .ledger_entry("cred_1", "row-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.state, LedgerState::Confirmed);
    assert_eq!(confirmed.object_id.as_deref(), Some("900001"));
    assert_eq!(
        confirmed.sent_at.map(|t| t.to_rfc3339()),
        Some("2026-01-02T03:04:05+00:00".to_owned())
    );
    let sent = state
        .ledger_entry("cred_1", "row-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (sent.state, sent.message.as_deref()),
        (LedgerState::Sent, Some("answer lost"))
    );
    // New runs number on from the adopted ones.
    let newer = state
        .sync_begin_run("cred_2|jsonl:/out", false)
        .await
        .unwrap();
    assert!(newer.run_id.0 > 7, "{newer:?}");
    drop(state);
    assert_eq!(
        migrations(db)
            .await
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        vec![20]
    );
    // Opening again finds nothing left to adopt.
    let state = pinion_store::open_sync_state(&db.location, &options)
        .await
        .unwrap();
    assert!(state.sync_begin_run(job, true).await.unwrap().resumed);
}
