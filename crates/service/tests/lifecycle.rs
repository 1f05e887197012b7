//! The credential lifecycle against the simulator over real HTTP on loopback:
//! headless authorization, refused callbacks, rotation, the stampede, and
//! revocation followed by re-authorization.

use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{AuthorizationCode, CredentialId, CredentialStatus, OAuthState, SystemClock};
use pinion_oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_service::{
    Authorizations, BrowserBinding, CallbackError, CallbackParams, RefreshError, RefreshPolicy,
    Refresher, RefresherConfig, TokenManager, Users,
};
use pinion_simulator::{RunningSimulator, SimConfig};
use pinion_store::{KeySource, Store, User};

use pinion_testkit::REDIRECT;

struct Harness {
    sim: RunningSimulator,
    store: Arc<dyn Store>,
    authorizations: Authorizations,
    manager: Arc<TokenManager>,
    alice: User,
    credential_id: CredentialId,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn harness(config: SimConfig) -> Harness {
    let app = pinion_simulator::AppSpec {
        name: "Pinion test".into(),
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    };
    let user = pinion_testkit::pinterest_user("alice-pinner", "pw", true, Default::default());
    let (sim, app) = pinion_testkit::simulator_with(config, &app, &user).await;
    let dir = tempfile::tempdir().unwrap();
    let store = pinion_testkit::open_data_dir(dir.path()).await;
    let (alice, _) = Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let record = pinion_testkit::create_credential(
        &store,
        &alice,
        &app,
        "Boards",
        "boards:read,pins:read,user_accounts:read",
    )
    .await;
    let oauth = pinion_testkit::oauth(&sim);
    let authorizations = Authorizations::new(
        store.clone(),
        oauth.clone(),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let manager = Arc::new(TokenManager::new(
        store.clone(),
        oauth,
        Arc::new(SystemClock),
        RefreshPolicy::default(),
    ));
    Harness {
        sim,
        store,
        authorizations,
        manager,
        alice,
        credential_id: record.id.clone(),
        http: pinion_testkit::no_redirects(),
        _dir: dir,
    }
}

/// Follows the consent URL with headless approval and returns the callback's
/// `code` and `state`.
async fn approve(h: &Harness, url: &str) -> (String, String) {
    let location = pinion_testkit::headless_consent(&h.http, url).await;
    assert!(location.as_str().starts_with(REDIRECT));
    let get = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

fn params(code: &str, state: &str) -> CallbackParams {
    CallbackParams {
        state: Some(OAuthState::new(state)),
        code: Some(AuthorizationCode::new(code)),
        ..Default::default()
    }
}

async fn authorize(h: &Harness) {
    let started = h
        .authorizations
        .start(&h.alice, &h.credential_id, None)
        .await
        .unwrap();
    let (code, state) = approve(h, started.url.as_str()).await;
    let done = h
        .authorizations
        .complete(params(&code, &state), None)
        .await
        .unwrap();
    assert_eq!(done.credential.status, CredentialStatus::Active);
}

fn id(h: &Harness) -> pinion_domain::CredentialId {
    h.credential_id.clone()
}

#[tokio::test]
async fn headless_authorization_makes_the_credential_active_with_tokens() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert!(record.has_access_token && record.has_refresh_token);
    assert!(record.access_token_expires_at.is_some());
    assert!(record.granted_scopes.is_some());
    let stats = h.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("authorization_code"), 1);
    // The token works against the API.
    let token = h.manager.access_token(&id(&h)).await.unwrap();
    let account = h
        .http
        .get(format!("{}/user_account", h.sim.api_url()))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200);
}

#[tokio::test]
async fn refused_callbacks_make_no_token_request() {
    let h = harness(SimConfig::for_tests()).await;
    // R1: no state, a random state.
    let missing = CallbackParams {
        code: Some(AuthorizationCode::new("c")),
        ..Default::default()
    };
    assert!(matches!(
        h.authorizations.complete(missing, None).await,
        Err(CallbackError::Malformed(_))
    ));
    assert!(matches!(
        h.authorizations
            .complete(params("c", &"x".repeat(43)), None)
            .await,
        Err(CallbackError::UnknownState)
    ));
    // R1: another browser's cookie, and no cookie, on a bound flow.
    let binding = BrowserBinding::random();
    for presented in [Some(BrowserBinding::random()), None] {
        let started = h
            .authorizations
            .start(&h.alice, &h.credential_id, Some(&binding))
            .await
            .unwrap();
        let (code, state) = approve(&h, started.url.as_str()).await;
        assert!(matches!(
            h.authorizations
                .complete(params(&code, &state), presented.as_ref())
                .await,
            Err(CallbackError::OtherBrowser)
        ));
    }
    // R2: a replayed state; R7: error and code together, duplicated parameters,
    // access_denied.
    let started = h
        .authorizations
        .start(&h.alice, &h.credential_id, None)
        .await
        .unwrap();
    let (code, state) = approve(&h, started.url.as_str()).await;
    let mut both = params(&code, &state);
    both.error = Some("access_denied".into());
    assert!(matches!(
        h.authorizations.complete(both, None).await,
        Err(CallbackError::Malformed(_))
    ));
    assert!(matches!(
        h.authorizations.complete(params(&code, &state), None).await,
        Err(CallbackError::UnknownState)
    ));
    let mut duplicated = params(&code, &state);
    duplicated.duplicated = true;
    assert!(matches!(
        h.authorizations.complete(duplicated, None).await,
        Err(CallbackError::Malformed(_))
    ));
    let started = h
        .authorizations
        .start(&h.alice, &h.credential_id, None)
        .await
        .unwrap();
    let state = started
        .url
        .as_url()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = CallbackParams {
        state: Some(OAuthState::new(state)),
        error: Some("access_denied".into()),
        error_description: Some("<script>alert(1)</script>".into()),
        ..Default::default()
    };
    let err = h.authorizations.complete(denied, None).await.unwrap_err();
    assert!(matches!(err, CallbackError::Denied { .. }));
    assert!(err.to_string().contains("not granted"), "{err}");
    let stats = h.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("authorization_code"), 0, "{stats:?}");
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert_eq!(record.status, CredentialStatus::NeedsAuthorization);
}

#[tokio::test]
async fn a_timed_out_code_exchange_is_never_retried() {
    let h = harness(SimConfig::for_tests()).await;
    let started = h
        .authorizations
        .start(&h.alice, &h.credential_id, None)
        .await
        .unwrap();
    let (code, state) = approve(&h, started.url.as_str()).await;
    h.sim
        .control()
        .inject_fault(&pinion_simulator::FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: pinion_simulator::FaultKind::DropConnection,
            count: Some(1),
            duration_ms: None,
        })
        .await
        .unwrap();
    let err = h
        .authorizations
        .complete(params(&code, &state), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CallbackError::ExchangeFailed { .. }), "{err}");
    assert!(
        h.authorizations
            .complete(params(&code, &state), None)
            .await
            .is_err()
    );
    let stats = h.sim.control().stats().await.unwrap();
    assert!(stats.grant_type("authorization_code") <= 1, "{stats:?}");
    assert!(stats.endpoint("POST /v5/oauth/token") <= 1, "{stats:?}");
}

#[tokio::test]
async fn a_hundred_rotations_in_a_row_keep_the_accepted_refresh_token() {
    let h = harness(SimConfig {
        access_token_ttl: Duration::from_secs(5),
        refresh_token_ttl: Duration::from_secs(30),
        ..SimConfig::for_tests()
    })
    .await;
    authorize(&h).await;
    let mut previous = h
        .store
        .credential_secrets(&id(&h))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    for round in 0..100 {
        h.manager.refresh(&id(&h)).await.unwrap();
        let now = h.store.credential_secrets(&id(&h)).await.unwrap();
        let current = now.refresh_token.unwrap();
        assert_ne!(
            current.expose_secret(),
            previous.expose_secret(),
            "round {round}: the rotated refresh token was not stored"
        );
        assert_eq!(now.record.status, CredentialStatus::Active);
        previous = current;
    }
    let stats = h.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type_succeeded("refresh_token"), 100);
    assert_eq!(stats.grant_type("refresh_token"), 100);
}

#[tokio::test]
async fn a_thousand_concurrent_callers_on_an_expired_token_cause_one_refresh() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    // Make the stored access token look expired.
    pinion_testkit::make_due(&h.store, &[id(&h)]).await;
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let manager = h.manager.clone();
        let id = id(&h);
        tasks.push(tokio::spawn(async move { manager.access_token(&id).await }));
    }
    let mut tokens = std::collections::HashSet::new();
    for task in tasks {
        tokens.insert(task.await.unwrap().unwrap().expose_secret().to_owned());
    }
    assert_eq!(tokens.len(), 1, "every caller gets the one new token");
    let stats = h.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 1, "{stats:?}");
}

#[tokio::test]
async fn revocation_needs_reauthorization_and_authorizing_again_restores_it() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    let app_id = h
        .store
        .get_credential(&id(&h))
        .await
        .unwrap()
        .client_id
        .as_str()
        .to_owned();
    h.sim
        .control()
        .revoke_grant("alice-pinner", &app_id)
        .await
        .unwrap();
    let err = h.manager.refresh(&id(&h)).await.unwrap_err();
    assert!(
        matches!(err, RefreshError::NeedsReauthorization { .. }),
        "{err}"
    );
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert_eq!(record.status, CredentialStatus::NeedsReauthorization);
    assert!(
        record.last_error.as_deref().unwrap().contains("Authorize"),
        "{:?}",
        record.last_error
    );
    authorize(&h).await;
    assert!(h.manager.access_token(&id(&h)).await.is_ok());
}

#[tokio::test]
async fn a_reset_app_secret_marks_an_error_and_keeps_the_tokens() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    h.sim
        .control()
        .reset_app_secret(record.client_id.as_str())
        .await
        .unwrap();
    let err = h.manager.refresh(&id(&h)).await.unwrap_err();
    // The simulator answers code 283 (grant invalid) or code 2 (client) here;
    // both must leave a clear state.
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    match err {
        RefreshError::AppCredentials { .. } => {
            assert_eq!(record.status, CredentialStatus::Error);
            assert!(record.has_refresh_token);
        }
        RefreshError::NeedsReauthorization { .. } => {
            assert_eq!(record.status, CredentialStatus::NeedsReauthorization);
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn transient_failures_keep_the_credential_active_and_back_off() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    h.sim
        .control()
        .inject_fault(&pinion_simulator::FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: pinion_simulator::FaultKind::Status { status: 503 },
            count: Some(1),
            duration_ms: None,
        })
        .await
        .unwrap();
    let err = h.manager.refresh(&id(&h)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Unavailable { .. }), "{err}");
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert_eq!(record.status, CredentialStatus::Active);
    assert_eq!(record.refresh.failures, 1);
    assert!(record.refresh.next_refresh_at.unwrap() > chrono::Utc::now());
    assert!(record.refresh.started_at.is_none());
    assert!(record.last_error.is_some());
    // The next refresh works and clears the failure.
    h.manager.refresh(&id(&h)).await.unwrap();
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert_eq!(record.refresh.failures, 0);
    assert!(record.last_error.is_none());
}

#[tokio::test]
async fn an_interrupted_refresh_is_resolved_at_the_next_start() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    // A refresh whose response was lost: Pinterest rotated, we kept the old token.
    h.sim
        .control()
        .inject_fault(&pinion_simulator::FaultSpec {
            path_prefix: "/v5/oauth/token".into(),
            method: None,
            kind: pinion_simulator::FaultKind::TruncatedBody,
            count: Some(1),
            duration_ms: None,
        })
        .await
        .unwrap();
    let err = h.manager.refresh(&id(&h)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Unavailable { .. }), "{err}");
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert!(record.refresh.started_at.is_some(), "the marker stays");
    let refresher = Refresher::new(h.manager.clone(), RefresherConfig::default());
    assert_eq!(
        refresher.recover_interrupted(Duration::ZERO).await.unwrap(),
        1
    );
    let record = h.store.get_credential(&id(&h)).await.unwrap();
    assert!(record.refresh.started_at.is_none());
    assert!(matches!(
        record.status,
        CredentialStatus::Active | CredentialStatus::NeedsReauthorization
    ));
    if record.status == CredentialStatus::NeedsReauthorization {
        assert!(
            record
                .last_error
                .clone()
                .unwrap()
                .contains("refresh outcome unknown")
        );
    }
}

#[tokio::test]
async fn the_background_refresher_refreshes_due_credentials_once() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    let secrets = h.store.credential_secrets(&id(&h)).await.unwrap();
    // Stored now with an expiry already past: due (a token stored with a
    // minute to live would be due only in its last 6 seconds).
    h.store
        .set_tokens(
            &id(&h),
            &pinion_store::TokenSet {
                access_token: secrets.access_token.unwrap(),
                access_token_expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(5)),
                refresh_token: None,
                refresh_token_expires_at: None,
                granted_scopes: None,
            },
            secrets.record.version,
        )
        .await
        .unwrap();
    let refresher = Refresher::new(h.manager.clone(), RefresherConfig::default());
    let first = refresher.run_once().await.unwrap();
    assert_eq!((first.claimed, first.refreshed), (1, 1), "{first:?}");
    let second = refresher.run_once().await.unwrap();
    assert_eq!(second.claimed, 0, "{second:?}");
    let stats = h.sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type("refresh_token"), 1);
}

/// A clock running `behind` the system clock.
#[derive(Debug)]
struct Behind(chrono::Duration);

impl pinion_domain::Clock for Behind {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() - self.0
    }
}

#[tokio::test]
async fn the_refresher_deletes_flows_expired_more_than_a_day_ago() {
    let h = harness(SimConfig::for_tests()).await;
    // Flows started as if two days and one hour ago, through a second
    // connection whose clock runs behind.
    let dir = h._dir.path();
    let connect_behind = |behind: chrono::Duration| async move {
        pinion_store::connect_with(
            dir.join("pinion.db").to_str().unwrap(),
            KeySource::DataDirFile(dir.join("master.key")),
            pinion_store::ConnectOptions {
                clock: Arc::new(Behind(behind)),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .store
    };
    let start_with = |store: Arc<dyn Store>| {
        let authorizations = Authorizations::new(
            store,
            Arc::new(
                PinterestOAuth::new(
                    OAuthConfig::from_urls(&h.sim.oauth_url(), &h.sim.api_url()).unwrap(),
                    Arc::new(SystemClock),
                )
                .unwrap(),
            ),
            RedirectUri::parse(REDIRECT).unwrap(),
        );
        let (alice, id) = (h.alice.clone(), h.credential_id.clone());
        async move {
            authorizations
                .start(&alice, &id, None)
                .await
                .unwrap()
                .flow_id
        }
    };
    let old_store = connect_behind(chrono::Duration::days(2)).await;
    let old = start_with(old_store.clone()).await;
    let recent_store = connect_behind(chrono::Duration::hours(1)).await;
    let recent = start_with(recent_store.clone()).await;
    let current = start_with(h.store.clone()).await;

    let refresher = Refresher::new(h.manager.clone(), RefresherConfig::default());
    assert_eq!(refresher.purge_expired_flows().await.unwrap(), 1);
    assert!(
        h.store.get_flow(&old).await.is_err(),
        "the old flow is gone"
    );
    assert!(
        h.store.get_flow(&recent).await.is_ok(),
        "expired an hour ago: kept"
    );
    assert!(h.store.get_flow(&current).await.is_ok());

    // The background loop purges at start.
    let another = start_with(old_store.clone()).await;
    refresher.clone().run_until_stopped(async {}).await;
    assert!(h.store.get_flow(&another).await.is_err());
    assert!(h.store.get_flow(&recent).await.is_ok());
}

#[tokio::test]
async fn an_authorization_the_operator_started_is_logged_as_the_operators() {
    let h = harness(SimConfig::for_tests()).await;
    authorize(&h).await;
    let started = h
        .authorizations
        .start(pinion_service::Actor::Operator, &h.credential_id, None)
        .await
        .unwrap();
    let flow = h.authorizations.flow(&started.flow_id).await.unwrap();
    assert!(flow.started_by_operator);
    assert_eq!(flow.user_id, h.alice.id, "the consent is still the owner's");
    let (code, state) = approve(&h, started.url.as_str()).await;
    h.authorizations
        .complete(params(&code, &state), None)
        .await
        .unwrap();
    let log = h
        .store
        .list_activity(&h.credential_id, None, 10)
        .await
        .unwrap();
    // Newest first: the operator's authorization, then the owner's.
    let authorized: Vec<(&str, Option<&pinion_domain::UserId>)> = log
        .iter()
        .filter(|entry| entry.event == "authorized")
        .map(|entry| (entry.actor.as_str(), entry.actor_id.as_ref()))
        .collect();
    assert_eq!(
        authorized,
        vec![("operator", None), ("alice", Some(&h.alice.id))],
        "{log:?}"
    );
}
