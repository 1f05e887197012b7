//! One rate budget per Pinterest account and app (issue 14), through the
//! composition root against the simulator: two credentials of one app,
//! authorized by one Pinterest user, draw from one budget once a check has
//! named the account; until then, and again after a new authorization
//! (which may be another account's), each is keyed by itself.

use pinion_service::Actor;
use pinion_simulator::SimConfig;
use pinion_testkit::{authorize, create_credential, pinion_on, simulator};

#[tokio::test]
async fn credentials_of_one_account_and_app_share_a_budget_once_checked() {
    let (sim, app) = simulator(SimConfig::for_tests(), "Budget", Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (pinion, store) = pinion_on(&sim, dir.path(), |_| {}).await;
    let (alice, _) = pinion
        .users
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["Boards", "Pins"] {
        let record =
            create_credential(&store, &alice, &app, name, "boards:read,user_accounts:read").await;
        authorize(&pinion.authorizations, &alice, &record.id).await;
        ids.push(record.id);
    }
    let key = |i: usize| {
        let pinion = &pinion;
        let id = ids[i].clone();
        async move {
            pinion
                .lifecycle
                .tokens_for_run(Actor::Operator, &id)
                .await
                .unwrap()
                .budget
                .key()
                .to_owned()
        }
    };
    let (first, second) = (key(0).await, key(1).await);
    assert_ne!(first, second, "unchecked credentials are keyed apart");
    assert!(first.contains(&format!("credential:{}", ids[0])), "{first}");

    let account = sim.control().user(pinion_testkit::PINNER).await.unwrap().id;
    for id in &ids {
        let report = pinion.lifecycle.check(&alice, id).await.unwrap();
        assert!(report.ok, "{report:?}");
    }
    let (first, second) = (key(0).await, key(1).await);
    assert_eq!(first, second, "one account and app, one budget");
    assert_eq!(first, format!("{}/account:{account}", app.client_id));

    // A new authorization may be another account's: keyed by itself again
    // until the next check.
    authorize(&pinion.authorizations, &alice, &ids[1]).await;
    assert_ne!(key(0).await, key(1).await);
    pinion.lifecycle.check(&alice, &ids[1]).await.unwrap();
    assert_eq!(key(0).await, key(1).await);
}
