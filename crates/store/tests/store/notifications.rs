//! Webhook endpoints, the delivery outbox and credential alerts (issue 14):
//! an event is queued for the subscribed, enabled endpoints of its owner;
//! a due delivery is claimed by one caller at a time; every attempt is
//! kept and the schedule decides the next; an endpoint failing for the
//! whole disable period is disabled with a reason and can be enabled
//! again; alerts announce once; secrets are sealed and re-encrypted with
//! the rest; the health-check claim lets one caller check per slot.

use std::time::Duration;

use chrono::Utc;
use pinion_domain::webhook::{DeliveryState, EventFilter, EventType, NewWebhook};
use pinion_domain::{CredentialStatus, WebhookSecret};
use pinion_store::{
    AlertState, AttemptOutcome, DeliveryPolicy, NewEvent, Recorded, Store, StoreError,
};

use crate::helpers::{TestDb, keyring, new_credential, user};

fn webhook(url: &str, events: &[&str]) -> NewWebhook {
    NewWebhook {
        url: url.to_owned(),
        events: EventFilter::parse(events).unwrap(),
        description: None,
    }
}

fn event(event_type: EventType) -> NewEvent {
    NewEvent {
        event_type,
        at: Utc::now(),
        body: format!(r#"{{"type":"{event_type}","timestamp":"x","data":{{}}}}"#),
    }
}

fn attempt(status: Option<i64>, delivered: bool) -> AttemptOutcome {
    AttemptOutcome {
        at: Utc::now(),
        status_code: status,
        error: (!delivered).then(|| "refused".to_owned()),
        duration: Duration::from_millis(3),
        delivered,
    }
}

/// Waits (up to 20 s) until a delivery of `store` is due and claims it as
/// `owner`.
async fn claim_one(store: &dyn Store, owner: &str) -> pinion_store::ClaimedDelivery {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let now = Utc::now();
        let mut claimed = store
            .claim_deliveries(now, owner, now + chrono::Duration::seconds(30), 1)
            .await
            .unwrap();
        if let Some(one) = claimed.pop() {
            assert!(claimed.is_empty());
            return one;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let due = store.next_delivery_due(Utc::now()).await.unwrap();
    panic!(
        "no delivery became due (next due: {due:?}, now {:?})",
        Utc::now()
    );
}

pub async fn events_are_queued_claimed_once_retried_and_logged_per_attempt(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let secret = WebhookSecret::random();
    let all = store
        .create_webhook(&alice, &webhook("https://a.example/hook", &["*"]), &secret)
        .await
        .unwrap();
    assert!(all.enabled);
    assert_eq!(all.events, vec!["*"]);
    let runs = store
        .create_webhook(
            &alice,
            &webhook("https://b.example/hook", &["run.succeeded"]),
            &WebhookSecret::random(),
        )
        .await
        .unwrap();
    let bobs = store
        .create_webhook(
            &bob,
            &webhook("https://c.example/hook", &["*"]),
            &WebhookSecret::random(),
        )
        .await
        .unwrap();
    assert_eq!(store.list_webhooks(Some(&alice)).await.unwrap().len(), 2);
    assert_eq!(store.list_webhooks(None).await.unwrap().len(), 3);

    // `*` does not take the opt-in run.succeeded; Bob gets nothing of Alice's.
    assert_eq!(
        store
            .enqueue_event(&alice, &event(EventType::RunFailed))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enqueue_event(&alice, &event(EventType::RunSucceeded))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .list_deliveries(&bobs.id, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Two claimers: each due delivery goes to one of them.
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(30);
    let first = store.claim_deliveries(now, "one", lease, 10).await.unwrap();
    let second = store.claim_deliveries(now, "two", lease, 10).await.unwrap();
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(second.is_empty());
    let to_all = first.iter().find(|d| d.endpoint_id == all.id).unwrap();
    assert_eq!(to_all.attempt, 1);
    assert_eq!(to_all.secret.expose_secret(), secret.expose_secret());
    assert_eq!(to_all.event_type, "run.failed");
    assert_eq!(
        store.next_delivery_due(now).await.unwrap(),
        None,
        "leased deliveries are not due"
    );

    // Another lease holder cannot record; the holder can.
    assert_eq!(
        store
            .record_attempt(
                &to_all.id,
                "two",
                &attempt(Some(500), false),
                &DeliveryPolicy::default()
            )
            .await
            .unwrap(),
        Recorded::LeaseLost
    );
    // A tiny unit: five failures, then the sixth attempt is taken.
    let policy = DeliveryPolicy::with_unit(Duration::from_micros(100));
    let mut current = to_all.clone();
    for n in 1..=5 {
        let recorded = store
            .record_attempt(&current.id, "one", &attempt(Some(500 + n), false), &policy)
            .await
            .unwrap();
        assert!(
            matches!(recorded, Recorded::RetryAt(_)),
            "{n}: {recorded:?}"
        );
        let failing = store.get_webhook(&all.id).await.unwrap().failing_since;
        assert!(failing.is_some());
        current = claim_one(&*store, "one").await;
        assert_eq!(current.id, to_all.id);
        assert_eq!(current.attempt, n + 1);
        assert_eq!(current.body, to_all.body, "the same body on every attempt");
    }
    assert_eq!(
        store
            .record_attempt(&current.id, "one", &attempt(Some(204), true), &policy)
            .await
            .unwrap(),
        Recorded::Delivered
    );
    assert_eq!(
        store.get_webhook(&all.id).await.unwrap().failing_since,
        None
    );
    let log = store.list_deliveries(&all.id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].state, DeliveryState::Delivered);
    let codes: Vec<Option<i64>> = log[0].attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(
        codes,
        vec![
            Some(501),
            Some(502),
            Some(503),
            Some(504),
            Some(505),
            Some(204)
        ]
    );
    assert!(log[0].finished_at.is_some());
    assert_eq!(log[0].next_attempt_at, None);

    // The test event goes to one endpoint whatever it lists.
    let message = store
        .enqueue_to(&runs.id, &event(EventType::Test))
        .await
        .unwrap();
    let deliveries = store.list_deliveries(&runs.id, 10).await.unwrap();
    assert!(deliveries.iter().any(|d| d.id == message));

    // Deleting an endpoint takes its deliveries.
    store.delete_webhook(&runs.id).await.unwrap();
    assert!(matches!(
        store.get_webhook(&runs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_webhook(&runs.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .list_deliveries(&runs.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn an_endpoint_failing_for_the_whole_period_is_disabled_and_can_be_enabled(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let endpoint = store
        .create_webhook(
            &alice,
            &webhook("https://a.example/hook", &["*"]),
            &WebhookSecret::random(),
        )
        .await
        .unwrap();
    // Disable after 10 ms of failures.
    let mut policy = DeliveryPolicy::with_unit(Duration::from_millis(1));
    policy.disable.after = Duration::from_millis(10);
    for _ in 0..2 {
        store
            .enqueue_event(&alice, &event(EventType::RunFailed))
            .await
            .unwrap();
    }
    let first = claim_one(&*store, "one").await;
    let recorded = store
        .record_attempt(&first.id, "one", &attempt(None, false), &policy)
        .await
        .unwrap();
    assert!(matches!(recorded, Recorded::RetryAt(_)), "{recorded:?}");
    tokio::time::sleep(Duration::from_millis(15)).await;
    let next = claim_one(&*store, "one").await;
    let recorded = store
        .record_attempt(&next.id, "one", &attempt(Some(410), false), &policy)
        .await
        .unwrap();
    assert_eq!(recorded, Recorded::EndpointDisabled);
    let disabled = store.get_webhook(&endpoint.id).await.unwrap();
    assert!(!disabled.enabled);
    let reason = disabled.disabled_reason.clone().unwrap();
    assert!(
        reason.contains("disabled") && reason.contains("failed"),
        "{reason}"
    );
    // Its pending deliveries failed with it, nothing is due, nothing new queues.
    let log = store.list_deliveries(&endpoint.id, 10).await.unwrap();
    assert!(
        log.iter().all(|d| d.state == DeliveryState::Failed),
        "{log:?}"
    );
    assert_eq!(store.next_delivery_due(Utc::now()).await.unwrap(), None);
    assert_eq!(
        store
            .enqueue_event(&alice, &event(EventType::RunFailed))
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store
            .enqueue_to(&endpoint.id, &event(EventType::Test))
            .await,
        Err(StoreError::Conflict {
            field: "enabled",
            ..
        })
    ));

    // Its owner enables it again.
    let enabled = store
        .set_webhook_enabled(&endpoint.id, true, None)
        .await
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.disabled_reason, None);
    assert_eq!(enabled.failing_since, None);
    assert_eq!(
        store
            .enqueue_event(&alice, &event(EventType::RunFailed))
            .await
            .unwrap(),
        1
    );
    let changed = store
        .update_webhook(
            &endpoint.id,
            &webhook("https://z.example/x", &["run.failed"]),
        )
        .await
        .unwrap();
    assert_eq!(changed.url, "https://z.example/x");
    assert_eq!(changed.events, vec!["run.failed"]);
}

pub async fn alerts_announce_once_and_recovery_follows_only_an_alert(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let endpoint = store
        .create_webhook(
            &alice,
            &webhook("https://a.example/hook", &["*"]),
            &WebhookSecret::random(),
        )
        .await
        .unwrap();
    let credential = store
        .create_credential(&alice, &new_credential("Boards", "app-secret"))
        .await
        .unwrap();
    let id = &credential.id;
    let failing = event(EventType::CredentialRefreshFailing);
    let reauth = event(EventType::CredentialNeedsReauthorization);
    let recovered = event(EventType::CredentialRecovered);
    assert!(
        !store
            .clear_credential_alert(id, &alice, &recovered)
            .await
            .unwrap()
    );
    assert!(
        store
            .raise_credential_alert(id, AlertState::RefreshFailing, &alice, &failing)
            .await
            .unwrap()
    );
    assert!(
        !store
            .raise_credential_alert(id, AlertState::RefreshFailing, &alice, &failing)
            .await
            .unwrap()
    );
    assert!(
        store
            .raise_credential_alert(id, AlertState::NeedsReauthorization, &alice, &reauth)
            .await
            .unwrap()
    );
    assert!(
        store
            .clear_credential_alert(id, &alice, &recovered)
            .await
            .unwrap()
    );
    assert!(
        !store
            .clear_credential_alert(id, &alice, &recovered)
            .await
            .unwrap()
    );
    // One delivery per transition announced (the order within one
    // microsecond is the ids', which are random: compare as a set).
    let mut types: Vec<String> = store
        .list_deliveries(&endpoint.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "credential.needs_reauthorization",
            "credential.recovered",
            "credential.refresh_failing",
        ]
    );
}

pub async fn changes_a_stopped_process_left_unannounced_are_found_until_announced(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let endpoint = store
        .create_webhook(
            &alice,
            &webhook("https://a.example/hook", &["*"]),
            &WebhookSecret::random(),
        )
        .await
        .unwrap();
    let credential = store
        .create_credential(&alice, &new_credential("Boards", "app-secret"))
        .await
        .unwrap();
    let id = &credential.id;
    let unannounced = || async { store.unannounced_credential_changes(10).await.unwrap() };
    assert!(unannounced().await.is_empty(), "not authorized yet");

    // Needs reauthorization, no alert yet: found until the alert is raised.
    store
        .set_status(
            id,
            CredentialStatus::NeedsReauthorization,
            Some("revoked"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(unannounced().await, vec![id.clone()]);
    let reauth = event(EventType::CredentialNeedsReauthorization);
    assert!(
        store
            .raise_credential_alert(id, AlertState::NeedsReauthorization, &alice, &reauth)
            .await
            .unwrap()
    );
    assert!(unannounced().await.is_empty());
    // Working again under the alert: found until it is cleared.
    store
        .set_status(id, CredentialStatus::Active, None, None)
        .await
        .unwrap();
    assert_eq!(unannounced().await, vec![id.clone()]);
    let recovered = event(EventType::CredentialRecovered);
    assert!(
        store
            .clear_credential_alert(id, &alice, &recovered)
            .await
            .unwrap()
    );
    assert!(unannounced().await.is_empty());
    // Refreshes failing, then a good one never announced.
    let failing = event(EventType::CredentialRefreshFailing);
    assert!(
        store
            .raise_credential_alert(id, AlertState::RefreshFailing, &alice, &failing)
            .await
            .unwrap()
    );
    assert_eq!(
        unannounced().await,
        vec![id.clone()],
        "no failures in a row"
    );

    // A run's outcome: found until announced, announced once.
    let source = store
        .create_source(&crate::runs::source("src_announced", &alice, id.as_str()))
        .await
        .unwrap();
    let run = store
        .create_run(
            &pinion_store::RunRecord {
                id: pinion_domain::RunId::generate(),
                source_id: source.id.clone(),
                owner: alice.clone(),
                status: pinion_store::RunStatus::Queued,
                streams: Vec::new(),
                error: None,
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                taken_over_at: None,
            },
            &pinion_store::RunLease {
                owner: "a process".into(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let failed = event(EventType::RunFailed);
    assert_eq!(
        store.announce_run(&run.id, &alice, &failed).await.unwrap(),
        None,
        "no outcome yet"
    );
    assert!(store.unannounced_runs(10).await.unwrap().is_empty());
    store.start_run(&run.id).await.unwrap();
    // Taken over from a process that stopped: found until announced.
    assert!(store.unannounced_takeovers(10).await.unwrap().is_empty());
    assert!(
        store
            .claim_run(
                &run.id,
                "a process",
                true,
                &pinion_store::RunLease {
                    owner: "another process".into(),
                    expires_at: Utc::now() + chrono::Duration::hours(1),
                },
                Utc::now(),
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.unannounced_takeovers(10).await.unwrap(),
        vec![(run.id.clone(), 1)]
    );
    let taken = event(EventType::RunTakenOver);
    assert_eq!(
        store
            .announce_takeover(&run.id, 1, &alice, &taken)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .announce_takeover(&run.id, 1, &alice, &taken)
            .await
            .unwrap(),
        None,
        "announced once"
    );
    assert!(store.unannounced_takeovers(10).await.unwrap().is_empty());
    store
        .finish_run(
            &run.id,
            pinion_store::RunStatus::Failed,
            &[],
            Some("stopped"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.unannounced_runs(10).await.unwrap(),
        vec![run.id.clone()]
    );
    assert_eq!(
        store.announce_run(&run.id, &alice, &failed).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.announce_run(&run.id, &alice, &failed).await.unwrap(),
        None,
        "announced once"
    );
    assert!(store.unannounced_runs(10).await.unwrap().is_empty());
    let mut types: Vec<String> = store
        .list_deliveries(&endpoint.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "credential.needs_reauthorization",
            "credential.recovered",
            "credential.refresh_failing",
            "run.failed",
            "run.taken_over",
        ]
    );
}

pub async fn webhook_secrets_are_sealed_and_reencrypted_with_the_rest(db: &TestDb) {
    let canary = "whsec_Q0FOQVJZLXdlYmhvb2stc2VjcmV0LTk5";
    {
        let store = db.connect(keyring(&[(1, 1)])).await;
        let alice = user(&*store, "alice").await;
        store
            .create_webhook(
                &alice,
                &webhook("https://a.example/hook", &["*"]),
                &WebhookSecret::new(canary),
            )
            .await
            .unwrap();
        store.close().await;
    }
    let raw = db.raw_bytes();
    assert!(!raw.windows(canary.len()).any(|w| w == canary.as_bytes()));
    let rotating = db.connect(keyring(&[(1, 1), (2, 2)])).await;
    assert_eq!(
        rotating
            .keyring_status()
            .await
            .unwrap()
            .pending_reencryption(),
        1
    );
    assert_eq!(
        pinion_store::reencrypt_all(&*rotating, 10, |_| {})
            .await
            .unwrap(),
        1
    );
    rotating.retire_key(1).await.unwrap();
    rotating.close().await;
    let after = db.connect(keyring(&[(2, 2)])).await;
    let alice = after.list_users().await.unwrap().remove(0);
    after
        .enqueue_event(&alice.id, &event(EventType::RunFailed))
        .await
        .unwrap();
    let claimed = claim_one(&*after, "one").await;
    assert_eq!(claimed.secret.expose_secret(), canary);
}

pub async fn one_caller_claims_each_due_health_check(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let alice = user(&*store, "alice").await;
    let credential = store
        .create_credential(&alice, &new_credential("Boards", "app-secret"))
        .await
        .unwrap();
    let id = &credential.id;
    // Not active yet: not a candidate, not claimable.
    assert!(store.health_check_candidates().await.unwrap().is_empty());
    let now = Utc::now();
    assert!(!store.claim_health_check(id, now, now).await.unwrap());
    store
        .set_status(id, CredentialStatus::Active, None, None)
        .await
        .unwrap();
    assert_eq!(
        store.health_check_candidates().await.unwrap(),
        vec![(id.clone(), None)]
    );
    assert!(store.claim_health_check(id, now, now).await.unwrap());
    assert!(!store.claim_health_check(id, now, now).await.unwrap());
    let later = now + chrono::Duration::seconds(10);
    assert!(store.claim_health_check(id, later, later).await.unwrap());
    let checked = store.get_credential(id).await.unwrap().last_checked_at;
    assert_eq!(
        checked.map(|t| t.timestamp_micros()),
        Some(later.timestamp_micros())
    );
}
