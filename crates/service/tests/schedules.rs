//! Schedules (issue 14) on a clock the test moves: a schedule of every
//! minute on two replicas of one database gives exactly one run a minute
//! over ten minutes, and stopping both for five minutes gives one catch-up
//! run. On PostgreSQL the replicas have their own connection pools; on
//! SQLite (one process per file) one replica ticks.
//!
//! The source's credential is never authorized, so each run fails at once
//! ("not authorized yet") and the test needs no Pinterest: what is counted
//! is runs started, which is what the scheduler decides.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pinion_domain::record::RunStatus;
use pinion_domain::{ClientSecret, Clock, CredentialInput, SourceId, User};
use pinion_service::{Actor, Pinion, ScheduleInput, ServiceError, Settings, SourceInput};
use pinion_store::{RunLease, RunRecord, Store};
use support::TestDb;

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn replica(store: Arc<dyn Store>, clock: Arc<TestClock>, data_dir: &std::path::Path) -> Pinion {
    let mut settings = Settings::new("http://127.0.0.1:8080".parse().unwrap());
    settings.clock = clock;
    settings.data_dir = Some(data_dir.to_owned());
    Pinion::with_store(store, settings).unwrap()
}

/// User `alice` with a credential (never authorized) and a source.
async fn source(pinion: &Pinion) -> (User, SourceId) {
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let credential = pinion
        .credentials
        .create(
            &alice,
            &alice.id,
            &CredentialInput {
                name: "Boards".into(),
                description: None,
                client_id: "1484362".into(),
                client_secret: Some(ClientSecret::new("app-secret")),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let source = pinion
        .sources
        .create(
            &alice,
            &SourceInput {
                name: "Weekly boards".into(),
                credential_id: credential.id.as_str().to_owned(),
                streams: vec!["boards".into()],
                output_kind: "jsonl".into(),
                output_path: "weekly".into(),
                sync_mode: String::new(),
            },
        )
        .await
        .unwrap();
    (alice, source.id)
}

fn every(text: &str) -> ScheduleInput {
    ScheduleInput {
        every: Some(text.into()),
        ..ScheduleInput::default()
    }
}

/// Waits (on real time) until every run of `source` has ended; returns them.
async fn settled_runs(pinion: &Pinion, owner: &User, source: &SourceId) -> Vec<RunRecord> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = pinion.runs.list(owner, source).await.unwrap();
        if runs.iter().all(|run| run.status.is_final()) {
            return runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "runs never ended: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
}

async fn every_minute_for_ten_minutes_then_five_down(db: TestDb) {
    let clock = Arc::new(TestClock(Mutex::new(start())));
    let first = replica(db.store(4).await, clock.clone(), db.dir.path());
    let replicas = if db.is_postgres() {
        vec![
            first.clone(),
            replica(db.store(4).await, clock.clone(), db.dir.path()),
        ]
    } else {
        vec![first.clone()]
    };
    let (alice, source) = source(&first).await;
    let schedule = first
        .schedules
        .set(&alice, &source, &every("1m"))
        .await
        .unwrap();
    assert_eq!(
        schedule.next_run_at,
        Some(start() + chrono::Duration::minutes(1))
    );
    assert_eq!(schedule.description, "every 1m");

    // Ten minutes; each replica ticks three times a minute, all at once.
    let mut started = 0;
    for minute in 1..=10 {
        for _ in 0..3 {
            clock.advance(chrono::Duration::seconds(20));
            let ticks =
                futures::future::join_all(replicas.iter().map(|r| r.schedules.tick())).await;
            started += ticks.into_iter().map(Result::unwrap).sum::<usize>();
            settled_runs(&first, &alice, &source).await;
        }
        assert_eq!(started, minute, "after minute {minute}");
    }
    let runs = settled_runs(&first, &alice, &source).await;
    assert_eq!(runs.len(), 10);
    assert!(runs.iter().all(|run| run.status == RunStatus::Failed));

    // Both replicas stopped for five minutes; then both tick, several times.
    clock.advance(chrono::Duration::minutes(5));
    for _ in 0..3 {
        let ticks = futures::future::join_all(replicas.iter().map(|r| r.schedules.tick())).await;
        started += ticks.into_iter().map(Result::unwrap).sum::<usize>();
        settled_runs(&first, &alice, &source).await;
    }
    assert_eq!(started, 11, "one catch-up run, not five");
    let schedule = first.schedules.get(&alice, &source).await.unwrap().unwrap();
    assert_eq!(
        schedule.next_run_at,
        Some(start() + chrono::Duration::minutes(16)),
        "the next slot keeps the schedule's phase"
    );
    assert_eq!(
        schedule.last_run_id.as_deref(),
        Some(runs_now(&first, &alice, &source).await.as_str())
    );
}

async fn runs_now(pinion: &Pinion, owner: &User, source: &SourceId) -> String {
    pinion.runs.list(owner, source).await.unwrap()[0]
        .id
        .as_str()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_minute_gives_one_run_a_minute_and_one_catch_up_run() {
    every_minute_for_ten_minutes_then_five_down(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_replicas_every_minute_give_one_run_a_minute_and_one_catch_up_run() {
    let Some(db) = TestDb::postgres("schedule_two_replicas") else {
        return;
    };
    every_minute_for_ten_minutes_then_five_down(db).await;
}

#[tokio::test]
async fn a_slot_whose_previous_run_is_still_going_starts_nothing_and_says_so() {
    let db = TestDb::sqlite();
    let clock = Arc::new(TestClock(Mutex::new(start())));
    let store = db.store(4).await;
    let pinion = replica(store.clone(), clock.clone(), db.dir.path());
    let (alice, source) = source(&pinion).await;
    pinion
        .schedules
        .set(&alice, &source, &every("5m"))
        .await
        .unwrap();
    // A run held by another process, still going.
    let going = RunRecord {
        id: pinion_domain::RunId::generate(),
        source_id: source.clone(),
        owner: alice.id.clone(),
        status: RunStatus::Running,
        streams: vec![],
        error: None,
        created_at: start(),
        started_at: Some(start()),
        finished_at: None,
        taken_over_at: None,
    };
    let lease = RunLease {
        owner: "inst_elsewhere".into(),
        expires_at: start() + chrono::Duration::hours(1),
    };
    store.create_run(&going, &lease).await.unwrap();
    // The database refuses a second unfinished run of the source, whoever
    // starts it.
    let second = RunRecord {
        id: pinion_domain::RunId::generate(),
        ..going.clone()
    };
    assert!(matches!(
        store.create_run(&second, &lease).await,
        Err(pinion_store::StoreError::Conflict {
            field: "source",
            ..
        })
    ));

    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(pinion.schedules.tick().await.unwrap(), 0);
    let schedule = pinion
        .schedules
        .get(&alice, &source)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(schedule.last_run_id, None);
    assert_eq!(
        schedule.last_note.as_deref(),
        Some("Skipped: the previous run was still going.")
    );
    assert_eq!(
        schedule.last_fired_at,
        Some(start() + chrono::Duration::minutes(5))
    );
    assert_eq!(
        schedule.next_run_at,
        Some(start() + chrono::Duration::minutes(10))
    );
}

#[tokio::test]
async fn pause_resume_change_and_remove() {
    let db = TestDb::sqlite();
    let clock = Arc::new(TestClock(Mutex::new(start())));
    let pinion = replica(db.store(4).await, clock.clone(), db.dir.path());
    let (alice, source) = source(&pinion).await;
    pinion
        .schedules
        .set(&alice, &source, &every("10m"))
        .await
        .unwrap();

    let paused = pinion.schedules.pause(&alice, &source).await.unwrap();
    assert!(paused.paused);
    assert_eq!(paused.next_run_at, None);
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(pinion.schedules.tick().await.unwrap(), 0, "paused");

    // Changing a paused schedule keeps it paused.
    let changed = pinion
        .schedules
        .set(
            &alice,
            &source,
            &ScheduleInput {
                cron: Some("30 6 * * 1-5".into()),
                time_zone: Some("Europe/Paris".into()),
                ..ScheduleInput::default()
            },
        )
        .await
        .unwrap();
    assert!(changed.paused);
    assert_eq!(changed.description, "30 6 * * 1-5 (Europe/Paris)");

    // Resuming skips what was missed: the next match after now (Monday 7
    // December, 06:30 in Paris, 05:30 UTC).
    let resumed = pinion.schedules.resume(&alice, &source).await.unwrap();
    assert!(!resumed.paused);
    assert_eq!(
        resumed.next_run_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 7, 5, 30, 0).unwrap())
    );
    assert_eq!(pinion.schedules.tick().await.unwrap(), 0, "not due yet");

    pinion.schedules.remove(&alice, &source).await.unwrap();
    assert_eq!(pinion.schedules.get(&alice, &source).await.unwrap(), None);
    assert!(matches!(
        pinion.schedules.remove(&alice, &source).await,
        Err(ServiceError::NotFound { what: "schedule" })
    ));
    assert!(matches!(
        pinion.schedules.pause(&alice, &source).await,
        Err(ServiceError::Conflict {
            field: "schedule",
            ..
        })
    ));
    assert!(matches!(
        pinion.schedules.resume(&alice, &source).await,
        Err(ServiceError::Conflict {
            field: "schedule",
            ..
        })
    ));
}

#[tokio::test]
async fn bad_schedules_name_their_field_and_others_cannot_see_or_set_one() {
    let db = TestDb::sqlite();
    let clock = Arc::new(TestClock(Mutex::new(start())));
    let pinion = replica(db.store(4).await, clock.clone(), db.dir.path());
    let (alice, source) = source(&pinion).await;
    let (bob, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "bob", false)
        .await
        .unwrap();

    let field_of = |result: Result<_, ServiceError>| match result {
        Err(ServiceError::Validation(errors)) => {
            errors.0.iter().map(|e| e.field).collect::<Vec<_>>()
        }
        other => panic!("expected a validation error, got {other:?}"),
    };
    let cases = [
        (ScheduleInput::default(), vec!["every"]),
        (
            ScheduleInput {
                every: Some("1h".into()),
                cron: Some("0 * * * *".into()),
                time_zone: None,
            },
            vec!["every"],
        ),
        (every("30s"), vec!["every"]),
        (every("soon"), vec!["every"]),
        (
            ScheduleInput {
                every: Some("1h".into()),
                time_zone: Some("Europe/Paris".into()),
                cron: None,
            },
            vec!["time_zone"],
        ),
        (
            ScheduleInput {
                cron: Some("0 6 * *".into()),
                time_zone: Some("Atlantis/Capital".into()),
                every: None,
            },
            vec!["cron", "time_zone"],
        ),
    ];
    for (input, fields) in cases {
        assert_eq!(
            field_of(pinion.schedules.set(&alice, &source, &input).await),
            fields,
            "{input:?}"
        );
    }
    let short = pinion.schedules.set(&alice, &source, &every("30s")).await;
    assert!(
        format!("{:?}", short.unwrap_err()).contains("at most once every 1m"),
        "the message says the limit"
    );
    assert_eq!(
        pinion.schedules.get(&alice, &source).await.unwrap(),
        None,
        "nothing written"
    );

    // Another user: the same 404 as an unknown source.
    for result in [
        pinion
            .schedules
            .set(&bob, &source, &every("1h"))
            .await
            .map(|_| ()),
        pinion.schedules.get(&bob, &source).await.map(|_| ()),
        pinion.schedules.remove(&bob, &source).await,
    ] {
        assert!(
            matches!(result, Err(ServiceError::NotFound { what: "source" })),
            "{result:?}"
        );
    }
    // The operator (the local CLI) may.
    let set = pinion
        .schedules
        .set(Actor::Operator, &source, &every("1h"))
        .await
        .unwrap();
    assert_eq!(set.every.as_deref(), Some("1h"));
    assert_eq!(pinion.schedules.list(&alice).await.unwrap(), vec![set]);
    assert!(pinion.schedules.list(&bob).await.unwrap().is_empty());
}
