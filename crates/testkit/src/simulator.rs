//! A simulator on port 0 with one app and one user, as most tests start.

use pinion_simulator::{
    AccountType, AppInfo, AppSpec, DataShape, RunningSimulator, SimConfig, UserSpec,
};

/// The redirect URI of the test app when the test completes flows through
/// the service library, so nothing listens there.
pub const REDIRECT: &str = "http://127.0.0.1:8080/oauth/pinterest/callback";

/// The simulated Pinterest user of the tests.
pub const PINNER: &str = "pinner";

/// A business account `username` with `password` and `data`; with
/// `auto_approve` it gives consent without the sign-in and consent pages.
pub fn pinterest_user(
    username: &str,
    password: &str,
    auto_approve: bool,
    data: DataShape,
) -> UserSpec {
    UserSpec {
        username: username.into(),
        password: password.into(),
        account_type: AccountType::Business,
        auto_approve,
        data,
    }
}

/// Starts a simulator with `config` on a free loopback port and registers
/// `app` and `user`.
pub async fn simulator_with(
    config: SimConfig,
    app: &AppSpec,
    user: &UserSpec,
) -> (RunningSimulator, AppInfo) {
    let sim = pinion_simulator::spawn(config)
        .await
        .expect("the simulator starts");
    let app = sim
        .control()
        .register_app(app)
        .await
        .expect("the test app registers");
    sim.control()
        .register_user(user)
        .await
        .expect("the test user registers");
    (sim, app)
}

/// A simulator with `config`, one app `app_name` (redirect [`REDIRECT`])
/// and the auto-approving user [`PINNER`] (password `pw`) holding `data`.
pub async fn simulator(
    config: SimConfig,
    app_name: &str,
    data: DataShape,
) -> (RunningSimulator, AppInfo) {
    let app = AppSpec {
        name: app_name.into(),
        redirect_uris: vec![REDIRECT.into()],
        ..AppSpec::default()
    };
    simulator_with(config, &app, &pinterest_user(PINNER, "pw", true, data)).await
}

/// An HTTP client that follows no redirect, as an API client or a test
/// stepping through a flow needs.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client builds")
}

/// Pinion (the composition root) over the store of `data_dir`, reaching
/// Pinterest at `sim`, with its public URL the one [`REDIRECT`] is under and
/// its outputs in `data_dir`; `adjust` may change the settings first.
pub async fn pinion_on(
    sim: &RunningSimulator,
    data_dir: &std::path::Path,
    adjust: impl FnOnce(&mut pinion_service::Settings),
) -> (
    pinion_service::Pinion,
    std::sync::Arc<dyn pinion_store::Store>,
) {
    let store = crate::open_data_dir(data_dir).await;
    let mut settings =
        pinion_service::Settings::new(url::Url::parse("http://127.0.0.1:8080").unwrap());
    settings.pinterest_oauth_url = sim.oauth_url();
    settings.pinterest_api_url = sim.api_url();
    settings.data_dir = Some(data_dir.to_owned());
    adjust(&mut settings);
    let pinion = pinion_service::Pinion::with_store(store.clone(), settings)
        .expect("Pinion builds over the store");
    (pinion, store)
}
