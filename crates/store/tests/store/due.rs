//! The refresh rule: the background refresher's batch claim (SQL) and the
//! token manager's `DueRule::is_due` (Rust) pick exactly the same credentials,
//! at every moment, including the microsecond either side of a due time; a
//! short-lived token is refreshed near the end of its life, not on every
//! pass; a refresh token near its end is refreshed to keep it alive.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pinion_domain::{AccessToken, Clock, CredentialId, RefreshToken, ScopeSet};
use pinion_store::{
    ConnectOptions, DueRule, KeySource, RefreshBasis, RefreshClaim, Store, TokenSet, connect_with,
};

use crate::helpers::{TestDb, keyring, new_credential, options, user};

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

const LEASE: StdDuration = StdDuration::from_secs(120);

fn rule(now: DateTime<Utc>) -> DueRule {
    DueRule {
        now,
        access_margin: StdDuration::from_secs(5 * 60),
        refresh_token_margin: StdDuration::from_secs(7 * 24 * 3600),
    }
}

fn tokens(now: DateTime<Utc>, access_life: Duration, refresh_life: Duration) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new("acc"),
        access_token_expires_at: Some(now + access_life),
        refresh_token: Some(RefreshToken::new("ref")),
        refresh_token_expires_at: Some(now + refresh_life),
        granted_scopes: Some(ScopeSet::parse("boards:read").unwrap()),
    }
}

/// Claims at `at` and checks the claim equals what `is_due` says of every
/// credential not already claimed; returns the names claimed.
async fn claim_at(
    store: &Arc<dyn Store>,
    clock: &ManualClock,
    names: &[(CredentialId, &'static str)],
    at: DateTime<Utc>,
) -> BTreeSet<&'static str> {
    clock.set(at);
    let mut expected = BTreeSet::new();
    for (id, name) in names {
        let record = store.get_credential(id).await.unwrap();
        if record.refresh.started_at.is_none() && rule(at).is_due(&record) {
            expected.insert(*name);
        }
    }
    let claimed: BTreeSet<&'static str> = store
        .claim_due_refreshes(rule(at), LEASE, "batch_due", 100)
        .await
        .unwrap()
        .iter()
        .map(|id| names.iter().find(|(known, _)| known == id).unwrap().1)
        .collect();
    assert_eq!(claimed, expected, "SQL and Rust disagree at {at}");
    claimed
}

pub async fn the_batch_claim_and_the_due_rule_agree_and_spare_short_lived_tokens(db: &TestDb) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(t0)));
    let store = connect_with(
        &db.location,
        KeySource::Given(Arc::new(keyring(&[(1, 1)]))),
        ConnectOptions {
            clock: clock.clone(),
            ..options()
        },
    )
    .await
    .unwrap()
    .store;
    let owner = user(&*store, "alice").await;
    let days = Duration::days;
    // (name, access token lifetime, refresh token lifetime), all stored at t0.
    let specs = [
        ("tiny", Duration::minutes(2), days(60)),
        ("short", Duration::minutes(10), days(60)),
        ("hour", Duration::minutes(60), days(60)),
        ("keepalive", days(30), days(7) + Duration::minutes(20)),
    ];
    let mut names = Vec::new();
    for (name, access, refresh) in specs {
        let created = store
            .create_credential(&owner, &new_credential(name, "s"))
            .await
            .unwrap();
        store
            .set_tokens(&created.id, &tokens(t0, access, refresh), created.version)
            .await
            .unwrap();
        names.push((created.id.clone(), name));
    }
    let micro = Duration::microseconds(1);
    let set = |items: &[&'static str]| items.iter().copied().collect::<BTreeSet<_>>();

    // Each token is claimed at min(5 minutes, a tenth of its lifetime) before
    // its expiry, not a microsecond earlier; the refresh token 7 days before
    // its own.
    let tiny_due = t0 + Duration::seconds(108);
    assert_eq!(claim_at(&store, &clock, &names, t0).await, set(&[]));
    assert_eq!(
        claim_at(&store, &clock, &names, tiny_due - micro).await,
        set(&[])
    );
    assert_eq!(
        claim_at(&store, &clock, &names, tiny_due).await,
        set(&["tiny"])
    );
    // Six minutes in, "short" expires within the 5-minute margin but has 4
    // minutes left of a 10-minute life: not due, in SQL or in Rust (an
    // unforced claim of the row finds nothing to do).
    let six = t0 + Duration::minutes(6);
    assert_eq!(claim_at(&store, &clock, &names, six).await, set(&[]));
    let short = names[1].0.clone();
    let claim = store
        .claim_refresh(&short, "att_probe", LEASE, RefreshBasis::IfDue, rule(six))
        .await
        .unwrap();
    assert!(matches!(claim, RefreshClaim::NotNeeded(_)), "{claim:?}");
    let short_due = t0 + Duration::minutes(9);
    assert_eq!(
        claim_at(&store, &clock, &names, short_due - micro).await,
        set(&[])
    );
    assert_eq!(
        claim_at(&store, &clock, &names, short_due).await,
        set(&["short"])
    );
    let keepalive_due = t0 + Duration::minutes(20);
    assert_eq!(
        claim_at(&store, &clock, &names, keepalive_due - micro).await,
        set(&[])
    );
    assert_eq!(
        claim_at(&store, &clock, &names, keepalive_due).await,
        set(&["keepalive"])
    );
    let hour_due = t0 + Duration::minutes(55);
    assert_eq!(
        claim_at(&store, &clock, &names, hour_due - micro).await,
        set(&[])
    );
    assert_eq!(
        claim_at(&store, &clock, &names, hour_due).await,
        set(&["hour"])
    );

    // "short" refreshed at its due time with another 10-minute token: the
    // passes that follow leave it alone until 9 minutes into the new token.
    clock.set(short_due);
    let version = store.get_credential(&short).await.unwrap().version;
    store
        .set_tokens(
            &short,
            &tokens(short_due, Duration::minutes(10), days(60)),
            version,
        )
        .await
        .unwrap();
    for minutes in [0, 1, 5, 6, 8] {
        let at = short_due + Duration::minutes(minutes);
        assert_eq!(
            claim_at(&store, &clock, &names, at).await,
            set(&[]),
            "{minutes} min after the refresh"
        );
    }
    let next_due = short_due + Duration::minutes(9);
    assert_eq!(
        claim_at(&store, &clock, &names, next_due).await,
        set(&["short"])
    );
    store.close().await;
}

/// A claim that names the token it replaces is decided under the row lock:
/// claimed while that token is stored (fresh or not), "not needed" once
/// another token is, so every process that saw one token rejected makes at
/// most one token request between them.
pub async fn a_claim_naming_a_replaced_token_is_not_needed(db: &TestDb) {
    let store = db.connect(keyring(&[(1, 1)])).await;
    let owner = user(&*store, "alice").await;
    let created = store
        .create_credential(&owner, &new_credential("named", "s"))
        .await
        .unwrap();
    let now = Utc::now();
    let fresh = tokens(now, Duration::hours(1), Duration::days(60));
    let stored = store
        .set_tokens(&created.id, &fresh, created.version)
        .await
        .unwrap();
    let rejected = AccessToken::new("acc");

    // Fresh, yet claimed: the caller names the stored token as rejected.
    let claim = store
        .claim_refresh(
            &created.id,
            "att_first",
            LEASE,
            RefreshBasis::Replacing(&rejected),
            rule(now),
        )
        .await
        .unwrap();
    let RefreshClaim::Claimed { secrets, .. } = claim else {
        panic!("the stored token named as rejected is claimed: {claim:?}");
    };
    assert!(secrets.record.version > stored.version);
    // A second caller naming the same token while the lease is live waits.
    let claim = store
        .claim_refresh(
            &created.id,
            "att_second",
            LEASE,
            RefreshBasis::Replacing(&rejected),
            rule(now),
        )
        .await
        .unwrap();
    assert!(matches!(claim, RefreshClaim::InFlight(_)), "{claim:?}");

    // The first stores new tokens; every later claim naming the old one is
    // not needed, whatever the lease or the due rule say.
    let rotated = TokenSet {
        access_token: AccessToken::new("acc2"),
        refresh_token: Some(RefreshToken::new("ref2")),
        ..tokens(now, Duration::hours(1), Duration::days(60))
    };
    store
        .set_tokens(&created.id, &rotated, secrets.record.version)
        .await
        .unwrap();
    for attempt in ["att_second", "att_third"] {
        let claim = store
            .claim_refresh(
                &created.id,
                attempt,
                LEASE,
                RefreshBasis::Replacing(&rejected),
                rule(now),
            )
            .await
            .unwrap();
        assert!(
            matches!(claim, RefreshClaim::NotNeeded(_)),
            "{attempt}: {claim:?}"
        );
    }
    // Naming the new token claims again.
    let claim = store
        .claim_refresh(
            &created.id,
            "att_fourth",
            LEASE,
            RefreshBasis::Replacing(&AccessToken::new("acc2")),
            rule(now),
        )
        .await
        .unwrap();
    assert!(matches!(claim, RefreshClaim::Claimed { .. }), "{claim:?}");
    store.close().await;
}
