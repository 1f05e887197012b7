//! On-demand callers during a token endpoint outage (review finding 4),
//! against the simulator over loopback: while the access token is due (inside
//! the refresh margin) but has not expired, callers get it even though the
//! refresh fails, and the backoff holds: one token request, not one per
//! caller.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinion_domain::Clock;
use pinion_service::{RefreshPolicy, TokenManager};
use pinion_simulator::{FaultKind, FaultSpec, SimConfig};

/// The system clock moved ahead by a fixed amount.
#[derive(Debug)]
struct AheadClock(chrono::Duration);

impl Clock for AheadClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_inside_the_margin_get_the_still_valid_token_while_refreshes_back_off() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    // Access tokens live 1,000 s; the callers' clock runs 950 s ahead, so the
    // token is due (inside its last tenth) yet has 50 s left.
    let (sim, app) = support::simulator(SimConfig {
        access_token_ttl: Duration::from_secs(1000),
        ..SimConfig::for_tests()
    })
    .await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let id = ids[0].clone();
    let manager = Arc::new(TokenManager::new(
        store.clone(),
        support::oauth(&sim),
        Arc::new(AheadClock(chrono::Duration::seconds(950))),
        RefreshPolicy::default(),
    ));
    let stored = store
        .credential_secrets(&id)
        .await
        .unwrap()
        .access_token
        .unwrap();
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: FaultKind::Status { status: 503 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    sim.control().reset_stats().await.unwrap();

    // Fifty callers at once, then fifty one after another.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (manager, id) = (manager.clone(), id.clone());
        tasks.push(tokio::spawn(async move { manager.access_token(&id).await }));
    }
    for task in tasks {
        let token = task
            .await
            .unwrap()
            .expect("the still-valid token is handed out");
        assert_eq!(token.expose_secret(), stored.expose_secret());
    }
    for _ in 0..50 {
        let token = manager
            .access_token(&id)
            .await
            .expect("the still-valid token is handed out");
        assert_eq!(token.expose_secret(), stored.expose_secret());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("POST /v5/oauth/token"), 1, "{stats:?}");
    let record = store.get_credential(&id).await.unwrap();
    assert_eq!(record.refresh.failures, 1);
    assert!(
        record.refresh.next_refresh_at.unwrap() > AheadClock(chrono::Duration::seconds(950)).now()
    );
    assert!(record.last_error.is_some());
}

#[tokio::test]
async fn an_expired_token_is_not_handed_out_when_the_refresh_fails() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    support::make_due(&store, &ids).await;
    let manager = support::manager(store.clone(), &sim);
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: FaultKind::Status { status: 503 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
    let err = manager.access_token(&ids[0]).await.unwrap_err();
    assert!(
        matches!(err, pinion_service::RefreshError::Unavailable { .. }),
        "{err}"
    );
}
