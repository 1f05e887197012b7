//! A refresh whose caller goes away mid-request (a client that hangs up, a
//! request timeout) still stores the tokens Pinterest rotated: the token
//! request and the write run as their own task, so dropping the caller's
//! future cannot lose the new refresh token. Runs on SQLite.

mod support;

use std::time::Duration;

use pinion_domain::CredentialStatus;
use pinion_simulator::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_dropped_by_its_caller_during_the_token_request_still_stores_the_rotation() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    let id = ids[0].clone();
    let before = store.credential_secrets(&id).await.unwrap();
    let spec: pinion_simulator::FaultSpec = serde_json::from_value(serde_json::json!({
        "path_prefix": "/v5/oauth/token",
        "method": "POST",
        "kind": {"type": "latency", "ms": 1500},
    }))
    .unwrap();
    sim.control().inject_fault(&spec).await.unwrap();
    sim.control().reset_stats().await.unwrap();
    let manager = support::manager(store.clone(), &sim);

    // The caller gives up while the token request is under way.
    let call = manager.refresh(&id);
    let dropped = tokio::time::timeout(Duration::from_millis(600), call).await;
    assert!(dropped.is_err(), "the caller gave up before the answer");

    // The rotated tokens still reach the database, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = store.credential_secrets(&id).await.unwrap();
        if now.record.refresh.started_at.is_none() && now.record.version > before.record.version + 1
        {
            assert_eq!(now.record.status, CredentialStatus::Active);
            assert_ne!(
                now.refresh_token.as_ref().unwrap().expose_secret(),
                before.refresh_token.as_ref().unwrap().expose_secret(),
                "the rotated refresh token is stored"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated tokens were never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim.control().clear_faults().await.unwrap();
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 1, "{stats:?}");
    // The stored refresh token is the one Pinterest accepts now.
    manager
        .refresh(&id)
        .await
        .expect("the stored refresh token works");
}
