//! The shared rate budget's ledger: reservations from several pools on one
//! database queue up without losing one, a hold pushes a lane back and never
//! forward, keys are independent, and the Pinterest account of a credential
//! is kept until forgotten or the credential is deleted.

use crate::helpers::{TestDb, keyring, new_credential, user};

const HOUR_US: i64 = 3_600_000_000;
/// Slack for the time the test itself takes between statements.
const SLACK_US: i64 = 30_000_000;
/// How much later than its place a reservation may be answered: on
/// PostgreSQL `now` is the statement's start, and a statement that waited
/// for the other pool's row lock answers from that earlier start, so its
/// caller waits that much longer than needed (never less).
const LOCK_WAIT_US: i64 = 1_000_000;

pub async fn reservations_from_two_pools_queue_up_one_interval_apart(db: &TestDb) {
    let first = db.connect(keyring(&[(1, 1)])).await;
    let second = db.connect(keyring(&[(1, 1)])).await;
    // A fresh lane: the first request is due now, so its TAT is one interval
    // ahead, exactly (one statement, one clock reading).
    assert_eq!(
        first
            .reserve_rate("app:fresh", &[("org_read", 60_000)])
            .await
            .unwrap(),
        vec![60_000]
    );
    // An interval of an hour makes every reservation's place plain: the k-th
    // is k hours ahead, less the few seconds the test has taken.
    let reserve = |store: std::sync::Arc<dyn pinion_store::Store>| async move {
        let mut aheads = Vec::new();
        for _ in 0..10 {
            let ahead = store
                .reserve_rate("app:account", &[("org_read", HOUR_US)])
                .await
                .unwrap();
            aheads.push(ahead[0]);
        }
        aheads
    };
    let (a, b) = tokio::join!(reserve(first.clone()), reserve(second.clone()));
    let mut all: Vec<i64> = a.into_iter().chain(b).collect();
    all.sort_unstable();
    for (k, ahead) in all.iter().enumerate() {
        let place = (k as i64 + 1) * HOUR_US;
        assert!(
            *ahead <= place + LOCK_WAIT_US && *ahead > place - SLACK_US,
            "reservation {k} is {ahead} us ahead, expected about {place}: {all:?}"
        );
    }
    // Several lanes in one call answer in the order asked.
    let both = first
        .reserve_rate(
            "app:account",
            &[("universal", 10_000), ("org_read", HOUR_US)],
        )
        .await
        .unwrap();
    assert!(both[0] <= 10_000 && both[0] > 10_000 - SLACK_US, "{both:?}");
    assert!(both[1] > 20 * HOUR_US, "{both:?}");
    // Another key is another budget.
    assert_eq!(
        second
            .reserve_rate("other:account", &[("org_read", HOUR_US)])
            .await
            .unwrap(),
        vec![HOUR_US]
    );
    assert_eq!(
        first.reserve_rate("app:account", &[]).await.unwrap(),
        Vec::<i64>::new()
    );
}

pub async fn a_hold_pushes_a_lane_back_and_never_forward(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    store
        .hold_rate("app:account", "org_write", 10 * HOUR_US)
        .await
        .unwrap();
    let ahead = store
        .reserve_rate("app:account", &[("org_write", HOUR_US)])
        .await
        .unwrap()[0];
    assert!(
        ahead > 11 * HOUR_US - SLACK_US && ahead <= 11 * HOUR_US,
        "{ahead}"
    );
    // A shorter hold changes nothing.
    store
        .hold_rate("app:account", "org_write", HOUR_US)
        .await
        .unwrap();
    let ahead = store
        .reserve_rate("app:account", &[("org_write", HOUR_US)])
        .await
        .unwrap()[0];
    assert!(
        ahead > 12 * HOUR_US - SLACK_US && ahead <= 12 * HOUR_US,
        "{ahead}"
    );
    // Other lanes of the key are not held.
    assert_eq!(
        store
            .reserve_rate("app:account", &[("org_read", 1_000)])
            .await
            .unwrap(),
        vec![1_000]
    );
}

pub async fn a_credentials_pinterest_account_is_kept_until_forgotten(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let credential = store
        .create_credential(&owner, &new_credential("Budgeted", "secret-one"))
        .await
        .unwrap();
    assert_eq!(store.pinterest_account(&credential.id).await.unwrap(), None);
    store
        .note_pinterest_account(&credential.id, "549755885175")
        .await
        .unwrap();
    assert_eq!(
        store
            .pinterest_account(&credential.id)
            .await
            .unwrap()
            .as_deref(),
        Some("549755885175")
    );
    store
        .note_pinterest_account(&credential.id, "111")
        .await
        .unwrap();
    assert_eq!(
        store
            .pinterest_account(&credential.id)
            .await
            .unwrap()
            .as_deref(),
        Some("111")
    );
    store
        .forget_pinterest_account(&credential.id)
        .await
        .unwrap();
    assert_eq!(store.pinterest_account(&credential.id).await.unwrap(), None);
    store
        .note_pinterest_account(&credential.id, "111")
        .await
        .unwrap();
    store.delete_credential(&credential.id).await.unwrap();
    assert_eq!(store.pinterest_account(&credential.id).await.unwrap(), None);
    // A credential deleted meanwhile is no error.
    store
        .note_pinterest_account(&credential.id, "111")
        .await
        .unwrap();
    assert_eq!(store.pinterest_account(&credential.id).await.unwrap(), None);
}
