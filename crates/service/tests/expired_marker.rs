//! An expired in-flight marker keeps saying "outcome unknown" (review finding
//! 6), against the simulator over loopback: the background refresher does not
//! take such a row over in its batch (which would forget that the earlier
//! request may have spent the refresh token) but resolves it through the
//! claim that reports the unknown outcome.

mod support;

use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{CredentialStatus, SystemClock};
use pinion_service::{RefreshPolicy, Refresher, RefresherConfig, TokenManager};
use pinion_simulator::SimConfig;
use pinion_store::RefreshClaim;

const LEASE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn the_refresher_resolves_an_expired_marker_as_an_unknown_outcome() {
    let db = support::TestDb::sqlite();
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (_, ids) = support::authorized_credentials(&store, &sim, &app, 2, 2).await;
    support::make_due(&store, &ids).await;
    let manager = Arc::new(TokenManager::new(
        store.clone(),
        support::oauth(&sim),
        Arc::new(SystemClock),
        RefreshPolicy {
            lease: LEASE,
            ..RefreshPolicy::default()
        },
    ));

    // The first credential's refresh reached Pinterest (which rotated the
    // token) and then its process died: the marker stays, the answer is lost.
    let spent = &ids[0];
    let claim = store
        .claim_refresh(
            spent,
            "att_died",
            LEASE,
            pinion_store::RefreshBasis::IfDue,
            manager.due_rule(),
        )
        .await
        .unwrap();
    let RefreshClaim::Claimed { secrets, .. } = claim else {
        panic!("the claim was not granted: {claim:?}");
    };
    support::oauth(&sim)
        .refresh(
            &secrets.record.client_id,
            &secrets.client_secret,
            secrets.refresh_token.as_ref().unwrap(),
            None,
        )
        .await
        .unwrap();
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;

    let refresher = Refresher::new(
        manager.clone(),
        RefresherConfig {
            batch_size: 10,
            concurrency: 2,
            interval: Duration::from_millis(20),
        },
    );
    let outcome = refresher.run_once().await.unwrap();
    assert_eq!(outcome.claimed, 1, "only the unmarked row is batched");
    assert_eq!(outcome.refreshed, 1, "{outcome:?}");

    let record = store.get_credential(spent).await.unwrap();
    assert_eq!(record.status, CredentialStatus::NeedsReauthorization);
    assert!(record.refresh.started_at.is_none());
    let reason = record.last_error.clone().unwrap();
    assert!(reason.contains("refresh outcome unknown"), "{reason}");
    let other = store.get_credential(&ids[1]).await.unwrap();
    assert_eq!(other.status, CredentialStatus::Active);
}
