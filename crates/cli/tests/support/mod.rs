//! Shared by the process tests of source runs and `pinion sync`: a user with
//! an API token and a credential authorized against a simulator, seeded
//! through Pinion's own services on the test's store.

use std::sync::Arc;

use pinion_domain::{AuthorizationCode, ClientSecret, CredentialInput, OAuthState, SystemClock};
use pinion_service::oauth::{OAuthConfig, PinterestOAuth, RedirectUri};
use pinion_service::{Authorizations, CallbackParams, Credentials, Users};
use pinion_simulator::{AppInfo, DataShape, RunningSimulator, UserSpec};
use pinion_store::Store;

pub const REDIRECT: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";
pub const USERNAME: &str = "pinner";

/// A simulator with one app and one auto-approving user holding `data`.
pub async fn simulator(data: DataShape) -> (RunningSimulator, AppInfo) {
    let sim = pinion_simulator::spawn(pinion_simulator::SimConfig::for_tests())
        .await
        .unwrap();
    let app = sim
        .control()
        .register_test_app("Runs", REDIRECT)
        .await
        .unwrap();
    sim.control()
        .register_user(&UserSpec {
            username: USERNAME.into(),
            password: "pw".into(),
            account_type: pinion_simulator::AccountType::Business,
            auto_approve: true,
            data,
        })
        .await
        .unwrap();
    (sim, app)
}

fn oauth(sim: &RunningSimulator) -> Arc<PinterestOAuth> {
    Arc::new(
        PinterestOAuth::new(
            OAuthConfig::from_urls(&sim.oauth_url(), &sim.api_url()).unwrap(),
            Arc::new(SystemClock),
        )
        .unwrap(),
    )
}

/// A user with an API token and a credential with `scopes`, authorized
/// headless; returns the token and the credential id.
pub async fn seed(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    scopes: &str,
) -> (String, String) {
    let (owner, token) = Users::new(store.clone())
        .create("alice", false)
        .await
        .unwrap();
    let record = Credentials::new(store.clone())
        .create(
            &owner,
            &CredentialInput {
                name: "Runs".into(),
                description: None,
                client_id: app.client_id.clone(),
                client_secret: Some(ClientSecret::new(app.client_secret.clone())),
                scopes: Some(scopes.into()),
            },
        )
        .await
        .unwrap();
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let started = authorizations
        .start(&owner, record.id.as_str(), None)
        .await
        .unwrap();
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started.url.as_str())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let get = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    authorizations
        .complete(
            CallbackParams {
                state: Some(OAuthState::new(get("state"))),
                code: Some(AuthorizationCode::new(get("code"))),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    (
        token.expose_secret().to_owned(),
        record.id.as_str().to_owned(),
    )
}

/// The `id` of every line of a JSON Lines file.
pub fn jsonl_ids(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Asserts `got` holds every id the simulator lists for `stream`, once.
pub async fn assert_exact(
    sim: &RunningSimulator,
    stream: pinion_simulator::Stream,
    got: Vec<String>,
) {
    let mut counts: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for id in &got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let duplicates: std::collections::BTreeMap<&str, u32> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    assert!(
        duplicates.is_empty(),
        "{stream:?}: {} duplicated ids, e.g. {:?}",
        duplicates.len(),
        duplicates.iter().take(5).collect::<Vec<_>>()
    );
    let mut expected = sim.control().expected_ids(USERNAME, stream).await.unwrap();
    let mut got = got;
    expected.sort();
    got.sort();
    assert_eq!(got.len(), expected.len(), "{stream:?}: count differs");
    assert_eq!(got, expected, "{stream:?}: ids differ");
}
