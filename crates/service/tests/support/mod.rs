//! Shared set-up of the multi-credential tests and the refresh benchmark, on
//! top of `pinion_testkit` (simulator, fresh databases, the headless flow):
//! many credentials authorized through the real flow, and "replicas": token
//! managers with their own connection pools on one database.
#![allow(dead_code)]

use std::sync::Arc;

use futures::StreamExt;
use pinion_domain::{CredentialId, SystemClock};
use pinion_oauth::RedirectUri;
use pinion_service::{Authorizations, RefreshPolicy, TokenManager};
use pinion_simulator::{AppInfo, RunningSimulator, SimConfig};
use pinion_store::{Store, User};
// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use pinion_testkit::{POSTGRES_ENV, REDIRECT, TestDb, make_due, oauth};

/// A simulator with one app (redirect [`REDIRECT`]) and the auto-approving
/// user `pinner`.
pub async fn simulator(config: SimConfig) -> (RunningSimulator, AppInfo) {
    pinion_testkit::simulator(config, "Pinion fleet", pinion_simulator::DataShape::empty()).await
}

/// A token manager (one replica's) over `store`.
pub fn manager(store: Arc<dyn Store>, sim: &RunningSimulator) -> Arc<TokenManager> {
    Arc::new(TokenManager::new(
        store,
        oauth(sim),
        Arc::new(SystemClock),
        RefreshPolicy::default(),
    ))
}

/// Creates user `alice` and `count` credentials for `app`, authorizes each
/// through the real flow (`concurrency` at a time) and returns the owner
/// and the ids.
pub async fn authorized_credentials(
    store: &Arc<dyn Store>,
    sim: &RunningSimulator,
    app: &AppInfo,
    count: usize,
    concurrency: usize,
) -> (User, Vec<CredentialId>) {
    let (alice, _) = pinion_service::Users::new(store.clone())
        .create(pinion_service::Actor::Operator, "alice", false)
        .await
        .unwrap();
    let authorizations = Authorizations::new(
        store.clone(),
        oauth(sim),
        RedirectUri::parse(REDIRECT).unwrap(),
    );
    let http = pinion_testkit::no_redirects();
    let ids: Vec<CredentialId> = futures::stream::iter(0..count)
        .map(|n| {
            let (authorizations, http, alice) =
                (authorizations.clone(), http.clone(), alice.clone());
            async move {
                let record = pinion_testkit::create_credential(
                    store,
                    &alice,
                    app,
                    &format!("Fleet {n:05}"),
                    "boards:read,user_accounts:read",
                )
                .await;
                pinion_testkit::authorization::authorize_with(
                    &authorizations,
                    &http,
                    &alice,
                    &record.id,
                )
                .await;
                record.id
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    (alice, ids)
}
