//! Webhook events are queued where their transitions happen (issue 14),
//! through the composition root against the simulator: three transient
//! refresh failures in a row announce `credential.refresh_failing` once,
//! the next good refresh `credential.recovered`; a revoked grant announces
//! `credential.needs_reauthorization` and re-authorizing
//! `credential.recovered`; a user sees only their own endpoints. Nothing is
//! delivered here (no deliverer runs): the test reads the outbox.

use pinion_domain::Role;
use pinion_service::{Actor, NotificationSettings, Pinion, ServiceError, WebhookInput};
use pinion_simulator::{FaultKind, FaultSpec, SimConfig};
use pinion_testkit::{authorize, create_credential, pinion_on, simulator};

/// The tests' endpoints are on loopback.
fn loopback_endpoints(settings: &mut pinion_service::Settings) {
    settings.notifications = NotificationSettings {
        addresses: pinion_service::AddressPolicy {
            allow_loopback: true,
            allow_private: false,
        },
        ..NotificationSettings::default()
    };
}

fn event_types(deliveries: &[pinion_domain::webhook::WebhookDelivery]) -> Vec<String> {
    deliveries
        .iter()
        .rev()
        .map(|d| d.event_type.clone())
        .collect()
}

#[tokio::test]
async fn credential_events_are_queued_once_per_transition_for_the_owners_endpoints() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Events", Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), loopback_endpoints).await;
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let (bob, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "bob", false)
        .await
        .unwrap();
    let record = create_credential(
        &store,
        &alice,
        &app,
        "Boards",
        "boards:read,user_accounts:read",
    )
    .await;
    authorize(&pinion.authorizations, &alice, &record.id).await;
    let input = |path: &str| WebhookInput {
        url: format!("http://127.0.0.1:9/{path}"),
        events: vec!["*".into()],
        description: None,
    };
    let (hook, secret) = pinion
        .webhooks
        .create(&alice, None, &input("alice"))
        .await
        .unwrap();
    assert!(secret.expose_secret().starts_with("whsec_"));
    let (bobs, _) = pinion
        .webhooks
        .create(&bob, None, &input("bob"))
        .await
        .unwrap();

    // Access: Bob (and an admin) cannot see Alice's endpoint; the operator can.
    assert!(matches!(
        pinion.webhooks.get(&bob, &hook.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    let (root, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "root", true)
        .await
        .unwrap();
    assert_eq!(root.role, Role::Admin);
    assert!(matches!(
        pinion.webhooks.deliveries(&root, &hook.id, None).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert_eq!(
        pinion.webhooks.list(&bob, None).await.unwrap(),
        vec![bobs.clone()]
    );
    assert_eq!(
        pinion
            .webhooks
            .list(Actor::Operator, None)
            .await
            .unwrap()
            .len(),
        2
    );
    // Invalid input names its field and stores nothing.
    let bad = pinion
        .webhooks
        .create(
            &alice,
            None,
            &WebhookInput {
                url: "http://10.0.0.1/x".into(),
                events: vec!["run.nope".into()],
                description: None,
            },
        )
        .await
        .unwrap_err();
    let ServiceError::Validation(errors) = bad else {
        panic!("{bad:?}")
    };
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["url", "events"]);
    assert_eq!(pinion.webhooks.list(&alice, None).await.unwrap().len(), 1);

    // Transient refresh failures: announced once, at the third in a row.
    let fault = sim
        .control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: FaultKind::Status { status: 503 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    for attempt in 1..=4 {
        let outcome = pinion
            .lifecycle
            .refresh(Actor::Operator, &record.id)
            .await
            .unwrap();
        assert!(outcome.is_err(), "attempt {attempt} should fail");
    }
    let log = pinion
        .webhooks
        .deliveries(&alice, &hook.id, None)
        .await
        .unwrap();
    assert_eq!(event_types(&log), vec!["credential.refresh_failing"]);
    sim.control().remove_fault(fault).await.unwrap();
    pinion
        .lifecycle
        .refresh(Actor::Operator, &record.id)
        .await
        .unwrap()
        .unwrap();
    let log = pinion
        .webhooks
        .deliveries(&alice, &hook.id, None)
        .await
        .unwrap();
    assert_eq!(
        event_types(&log),
        vec!["credential.refresh_failing", "credential.recovered"]
    );

    // A revoked grant, then a new authorization.
    sim.control()
        .revoke_grant(pinion_testkit::PINNER, &app.client_id)
        .await
        .unwrap();
    let refused = pinion
        .lifecycle
        .refresh(Actor::Operator, &record.id)
        .await
        .unwrap();
    assert!(refused.is_err());
    authorize(&pinion.authorizations, &alice, &record.id).await;
    let log = pinion
        .webhooks
        .deliveries(&alice, &hook.id, None)
        .await
        .unwrap();
    assert_eq!(
        event_types(&log),
        vec![
            "credential.refresh_failing",
            "credential.recovered",
            "credential.needs_reauthorization",
            "credential.recovered",
        ]
    );
    // Bob's endpoint got none of Alice's events.
    assert!(
        pinion
            .webhooks
            .deliveries(&bob, &bobs.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The test event goes to the one endpoint asked for.
    pinion.webhooks.send_test(&bob, &bobs.id).await.unwrap();
    let log = pinion
        .webhooks
        .deliveries(&bob, &bobs.id, None)
        .await
        .unwrap();
    assert_eq!(event_types(&log), vec!["webhook.test"]);
}

/// A process that stored a credential's change and stopped before queuing
/// its event: the deliverers of two replicas look for such changes, and the
/// owner's endpoint gets each event once.
#[tokio::test]
async fn a_change_a_stopped_process_never_announced_is_announced_once() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Missed", Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), loopback_endpoints).await;
    let replica = Pinion::with_store(store.clone(), pinion.settings().clone()).unwrap();
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let record = create_credential(&store, &alice, &app, "Boards", "boards:read").await;
    authorize(&pinion.authorizations, &alice, &record.id).await;
    let (hook, _) = pinion
        .webhooks
        .create(
            &alice,
            None,
            &WebhookInput {
                url: "http://127.0.0.1:9/alice".into(),
                events: vec!["*".into()],
                description: None,
            },
        )
        .await
        .unwrap();
    let events = || async {
        event_types(
            &pinion
                .webhooks
                .deliveries(&alice, &hook.id, None)
                .await
                .unwrap(),
        )
    };
    let (here, there) = (pinion.deliverer(), replica.deliverer());
    let sweep_on_both = || async {
        let (a, b) = tokio::join!(here.announce_missed(), there.announce_missed());
        a.unwrap() + b.unwrap()
    };
    assert_eq!(sweep_on_both().await, 0, "nothing was left unannounced");

    // The change is stored; its event never was.
    store
        .set_status(
            &record.id,
            pinion_domain::CredentialStatus::NeedsReauthorization,
            Some("Pinterest no longer accepts this connection"),
            None,
        )
        .await
        .unwrap();
    assert!(events().await.is_empty());
    assert_eq!(sweep_on_both().await, 1);
    assert_eq!(events().await, vec!["credential.needs_reauthorization"]);
    assert_eq!(sweep_on_both().await, 0, "announced once");

    // Authorized again, and the process stopped before announcing it.
    store
        .set_status(
            &record.id,
            pinion_domain::CredentialStatus::Active,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(sweep_on_both().await, 1);
    assert_eq!(
        events().await,
        vec!["credential.needs_reauthorization", "credential.recovered"]
    );
    assert_eq!(sweep_on_both().await, 0);
}

/// Waits until run `run` of `source` has ended and returns it.
async fn ended(
    pinion: &Pinion,
    owner: &pinion_domain::User,
    source: &pinion_domain::SourceId,
    run: &pinion_domain::RunId,
) -> pinion_store::RunRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = pinion.runs.get(owner, source, run).await.unwrap();
        if !matches!(
            got.status,
            pinion_store::RunStatus::Queued | pinion_store::RunStatus::Running
        ) {
            return got;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn run_outcomes_are_queued_and_success_only_for_endpoints_that_ask() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Run events", Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), loopback_endpoints).await;
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let record = create_credential(
        &store,
        &alice,
        &app,
        "Account",
        "boards:read,user_accounts:read",
    )
    .await;
    authorize(&pinion.authorizations, &alice, &record.id).await;
    let endpoint = |path: &str, events: &[&str]| WebhookInput {
        url: format!("http://127.0.0.1:9/{path}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: None,
    };
    let (every, _) = pinion
        .webhooks
        .create(&alice, None, &endpoint("every", &["*"]))
        .await
        .unwrap();
    let (successes, _) = pinion
        .webhooks
        .create(&alice, None, &endpoint("successes", &["run.succeeded"]))
        .await
        .unwrap();
    let source = pinion
        .sources
        .create(
            &alice,
            &pinion_service::SourceInput {
                name: "Account".into(),
                credential_id: record.id.to_string(),
                streams: vec!["user_account".into()],
                output_kind: "jsonl".into(),
                output_path: "account".into(),
                sync_mode: String::new(),
            },
        )
        .await
        .unwrap();

    // A run that succeeds: only the endpoint that asked for successes hears.
    let run = pinion.runs.start(&alice, &source.id).await.unwrap();
    let done = ended(&pinion, &alice, &source.id, &run.id).await;
    assert_eq!(done.status, pinion_store::RunStatus::Succeeded, "{done:?}");
    let log = |id| {
        let pinion = &pinion;
        let alice = &alice;
        async move { pinion.webhooks.deliveries(alice, id, None).await.unwrap() }
    };
    // The event is queued just after the outcome is stored.
    let queued = |id, expected: Vec<&'static str>| {
        let log = &log;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let got = event_types(&log(id).await);
                if got == expected || std::time::Instant::now() >= deadline {
                    return got;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(
        queued(&successes.id, vec!["run.succeeded"]).await,
        vec!["run.succeeded"]
    );
    assert!(event_types(&log(&every.id).await).is_empty());

    // A run that fails: `*` hears it, the successes endpoint does not.
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/user_account".into(),
            method: None,
            kind: FaultKind::Status { status: 404 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    let run = pinion.runs.start(&alice, &source.id).await.unwrap();
    let done = ended(&pinion, &alice, &source.id, &run.id).await;
    assert_eq!(done.status, pinion_store::RunStatus::Failed, "{done:?}");
    assert_eq!(
        queued(&every.id, vec!["run.failed"]).await,
        vec!["run.failed"]
    );
    assert_eq!(
        event_types(&log(&successes.id).await),
        vec!["run.succeeded"]
    );
    assert_eq!(
        pinion.deliverer().announce_missed().await.unwrap(),
        0,
        "both outcomes were announced"
    );

    // A process stored a run's outcome and stopped before announcing it:
    // a deliverer announces it, once.
    let stopped = store
        .create_run(
            &pinion_store::RunRecord {
                id: pinion_domain::RunId::generate(),
                source_id: source.id.clone(),
                owner: alice.id.clone(),
                status: pinion_store::RunStatus::Queued,
                streams: Vec::new(),
                error: None,
                created_at: chrono::Utc::now(),
                started_at: None,
                finished_at: None,
                taken_over_at: None,
            },
            &pinion_store::RunLease {
                owner: "stopped".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    store.start_run(&stopped.id).await.unwrap();
    store
        .finish_run(
            &stopped.id,
            pinion_store::RunStatus::Failed,
            &[],
            Some("the process stopped"),
        )
        .await
        .unwrap();
    assert_eq!(pinion.deliverer().announce_missed().await.unwrap(), 1);
    assert_eq!(
        event_types(&log(&every.id).await),
        vec!["run.failed", "run.failed"]
    );
    assert_eq!(pinion.deliverer().announce_missed().await.unwrap(), 0);
}
