//! A successful code exchange whose tokens cannot be stored still ends the
//! flow (review finding 8): the flow's outcome is recorded as failed, so the
//! CLI waiting on it stops. The store is made to refuse the write with a
//! database trigger, so this runs only when `PINION_TEST_POSTGRES_URL` names
//! a PostgreSQL server (a fresh database is created and dropped).

mod support;

use pinion_domain::{AuthorizationCode, OAuthState};
use pinion_oauth::RedirectUri;
use pinion_service::{Authorizations, CallbackParams};
use pinion_simulator::SimConfig;
use pinion_store::FlowOutcome;

fn psql(url: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql on the PATH");
    assert!(status.success(), "psql failed: {sql}");
}

#[tokio::test]
async fn a_failure_to_store_the_tokens_records_the_flow_as_failed() {
    let Some(db) = support::TestDb::postgres("a_failure_to_store_the_tokens_fails_the_flow") else {
        return;
    };
    let store = db.store(4).await;
    let (sim, app) = support::simulator(SimConfig::for_tests()).await;
    let (alice, ids) = support::authorized_credentials(&store, &sim, &app, 1, 1).await;
    // From now on every token write is refused by the database.
    psql(
        &db.location,
        "CREATE FUNCTION refuse_token_writes() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'token writes refused by the test'; END $$; \
         CREATE TRIGGER refuse_token_writes BEFORE UPDATE ON credentials FOR EACH ROW \
         WHEN (NEW.access_token_sealed IS DISTINCT FROM OLD.access_token_sealed) \
         EXECUTE FUNCTION refuse_token_writes();",
    );
    let authorizations = Authorizations::new(
        store.clone(),
        support::oauth(&sim),
        RedirectUri::parse(support::REDIRECT).unwrap(),
    );
    let started = authorizations.start(&alice, &ids[0], None).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = http.get(started.url.as_str()).send().await.unwrap();
    assert_eq!(consent.status(), 302);
    let location = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let get = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let result = authorizations
        .complete(
            CallbackParams {
                state: Some(OAuthState::new(get("state"))),
                code: Some(AuthorizationCode::new(get("code"))),
                ..Default::default()
            },
            None,
        )
        .await;
    assert!(result.is_err(), "the tokens could not have been stored");
    let stats = sim.control().stats().await.unwrap();
    assert_eq!(stats.grant_type_succeeded("authorization_code"), 2);
    let flow = store.get_flow(&started.flow_id).await.unwrap();
    assert_eq!(flow.outcome, Some(FlowOutcome::Failed));
    assert!(
        flow.message.as_deref().unwrap().contains("authorize"),
        "{:?}",
        flow.message
    );
}
