//! The token lifecycle through the `pinion` binary: `pinion serve --simulator`
//! as a child process (its banner, `/readyz`, the embedded simulator), and
//! `pinion credentials authorize|check|refresh` against it, with the headless
//! consent of the simulator's auto-approving demo user.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use pinion_testkit::{ServerOutput, no_redirects};
use serde_json::Value;
use support::SimulatorBanner;
use tokio::process::{Child, Command};

/// A `pinion` command on `data_dir`, with TRACE logs and no ambient settings.
fn pinion(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinion"));
    support::isolated(&mut command, data_dir);
    command.env("PINION_LOG", "trace");
    command
}

/// Runs `pinion args…` to completion; returns the exit code and stdout + stderr.
async fn run(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut command = pinion(data_dir);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().unwrap();
        input.write_all(text.as_bytes()).await.unwrap();
        drop(input);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finished within a minute")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running `pinion serve --simulator` child.
struct Served {
    child: Child,
    public_url: String,
    banner: SimulatorBanner,
    /// Every stderr line the server wrote so far (read in the background).
    output: ServerOutput,
}

impl Served {
    /// The simulator's base URL (its control API is under `/_sim/`).
    fn simulator_base(&self) -> String {
        self.banner.api_url.trim_end_matches("/v5").to_owned()
    }

    fn control(&self) -> pinion_simulator::Control {
        pinion_simulator::Control::new(self.simulator_base())
    }

    /// The environment `pinion credentials …` needs to reach the same Pinterest.
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("PINTEREST_OAUTH_URL", self.banner.oauth_url.as_str()),
            ("PINTEREST_API_URL", self.banner.api_url.as_str()),
            ("PINION_PUBLIC_URL", self.public_url.as_str()),
        ]
    }

    /// Stops the server with SIGTERM and waits for it.
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server stopped within 20 s")
            .unwrap();
        assert!(status.success(), "pinion serve exited with {status}");
        // Give the reader thread a moment to drain the pipe.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.output.text()
    }
}

/// Starts `pinion serve --simulator` on a free port and reads its banner.
async fn serve_with_simulator(data_dir: &Path) -> Served {
    let port = pinion_testkit::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let mut child = pinion(data_dir)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--simulator",
        ])
        .spawn()
        .unwrap();
    let (output, mut rx) = ServerOutput::collect(child.stderr.take().unwrap());
    let banner = SimulatorBanner::read(&mut rx).await;
    let served = Served {
        child,
        public_url,
        banner,
        output,
    };
    // The server is ready when /readyz answers 200.
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(response) = http
            .get(format!("{}/readyz", served.public_url))
            .send()
            .await
            && response.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz never answered 200");
    served
}

#[tokio::test]
async fn serve_with_the_simulator_prints_a_working_app_and_user_and_serves_ready() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with_simulator(dir.path()).await;
    let banner = &served.banner;
    assert!(
        banner.oauth_url.starts_with("http://127.0.0.1:"),
        "{banner:?}"
    );
    assert!(banner.oauth_url.ends_with("/oauth/"), "{banner:?}");
    assert!(banner.api_url.ends_with("/v5"), "{banner:?}");
    assert_eq!(
        banner.redirect_uri,
        format!("{}/oauth/pinterest/callback", served.public_url)
    );
    assert!(!banner.client_secret.is_empty());
    assert_eq!(banner.username, "demo");

    // The simulator is up, and the app it holds is the one printed, with this
    // server's callback as its only redirect URI.
    let control = served.control();
    control.health().await.unwrap();
    let apps = control.apps().await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id, banner.client_id);
    assert_eq!(apps[0].client_secret, banner.client_secret);
    assert_eq!(apps[0].redirect_uris, vec![banner.redirect_uri.clone()]);
    let user = control.user(&banner.username).await.unwrap();
    assert!(user.auto_approve);

    // The printed client secret works at the simulator's token endpoint
    // (a client-credentials grant, acting as the app's owner).
    let token = reqwest::Client::new()
        .post(format!("{}/oauth/token", banner.api_url))
        .basic_auth(&banner.client_id, Some(&banner.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);

    let log = served.stop().await;
    assert!(log.contains("Pinion stopped."), "{log}");
}

#[tokio::test]
async fn the_simulator_listen_address_must_be_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", pinion_testkit::free_port()),
            "--simulator",
            "--simulator-listen",
            "0.0.0.0:0",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
}

/// Creates user `alice` and a credential for the simulated app; returns its id.
async fn create_credential(dir: &Path, served: &Served) -> String {
    let (code, out, err) = run(dir, &["users", "create", "--username", "alice"], &[], None).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(
        dir,
        &[
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            "Boards",
            "--client-id",
            &served.banner.client_id,
            "--client-secret-stdin",
            "--scopes",
            "boards:read,pins:read,user_accounts:read",
            "--json",
        ],
        &[],
        Some(&format!("{}\n", served.banner.client_secret)),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// Starts `pinion credentials authorize ID` and returns the child and the
/// consent URL it printed.
async fn start_authorize(dir: &Path, served: &Served, id: &str) -> (Child, String) {
    let mut command = pinion(dir);
    command.args(["credentials", "authorize", id]);
    for (key, value) in served.env() {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let url = support::authorize_url(&mut child, Duration::from_secs(30)).await;
    (child, url)
}

/// Waits for a child and returns its exit code and stderr.
async fn finish(mut child: Child) -> (i32, String) {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ =
            tokio::time::timeout(Duration::from_secs(30), pipe.read_to_string(&mut stderr)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the command finished within 30 s")
        .unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// Asserts no simulator token (they start with `pina_`, `pinr_`, `pinc_`)
/// appears in `text`.
fn assert_no_token(text: &str) {
    for prefix in ["pina_", "pinr_", "pinc_"] {
        assert!(
            !text.contains(prefix),
            "a token ({prefix}…) leaked:\n{text}"
        );
    }
}

#[tokio::test]
async fn credentials_authorize_check_and_refresh_work_against_serve_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with_simulator(dir.path()).await;
    let id = create_credential(dir.path(), &served).await;
    let mut transcript = String::new();

    // authorize: the CLI prints the consent URL and waits; the simulator's
    // demo user approves headlessly and redirects to the server's callback.
    let (child, url) = start_authorize(dir.path(), &served, &id).await;
    assert!(url.starts_with(&served.banner.oauth_url), "{url}");
    let http = no_redirects();
    let consent = http.get(&url).send().await.unwrap();
    assert_eq!(consent.status(), 302);
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&served.banner.redirect_uri),
        "{callback}"
    );
    let done = http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    transcript.push_str(&stderr);

    // check: GET /v5/user_account with the credential.
    let (code, out, err) = run(
        dir.path(),
        &["credentials", "check", &id, "--json"],
        &served.env(),
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    transcript.push_str(&out);
    transcript.push_str(&err);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["status"], "active");
    assert_eq!(report["account_username"], "demo");
    assert!(
        report["granted_scopes"].as_array().unwrap().len() >= 3,
        "{report}"
    );
    assert_eq!(report["cached"], false, "{report}");

    // A second check by another process within 30 s answers the first one's
    // result from the database, without calling Pinterest again.
    let calls = served
        .control()
        .stats()
        .await
        .unwrap()
        .endpoint("GET /v5/user_account");
    let (code, out, err) = run(
        dir.path(),
        &["credentials", "check", &id, "--json"],
        &served.env(),
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    transcript.push_str(&out);
    transcript.push_str(&err);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["checked_at"], report["checked_at"], "{again}");
    assert_eq!(again["account_username"], "demo");
    let stats = served.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("GET /v5/user_account"), calls, "{stats:?}");

    // refresh: one refresh_token grant at the simulator, still active.
    let (code, out, err) = run(
        dir.path(),
        &["credentials", "refresh", &id, "--json"],
        &served.env(),
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    transcript.push_str(&out);
    transcript.push_str(&err);
    let refreshed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(refreshed["status"], "active");
    let stats = served.control().stats().await.unwrap();
    assert_eq!(
        stats.grant_type_succeeded("authorization_code"),
        1,
        "{stats:?}"
    );
    assert_eq!(stats.grant_type_succeeded("refresh_token"), 1, "{stats:?}");

    // After a revocation, refresh fails clearly and check reports why.
    served
        .control()
        .revoke_grant(&served.banner.username, &served.banner.client_id)
        .await
        .unwrap();
    let (code, out, err) = run(
        dir.path(),
        &["credentials", "refresh", &id],
        &served.env(),
        None,
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("authorized again"), "{err}");
    transcript.push_str(&out);
    transcript.push_str(&err);
    let (code, out, err) = run(
        dir.path(),
        &["credentials", "check", &id, "--json"],
        &served.env(),
        None,
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["status"], "needs_reauthorization");
    assert!(report["error"].as_str().is_some(), "{report}");
    transcript.push_str(&out);
    transcript.push_str(&err);

    transcript.push_str(&served.stop().await);
    // Every command ran at TRACE; no token reached any output or log.
    assert_no_token(&transcript);
}

#[tokio::test]
async fn credentials_authorize_exits_1_with_the_reason_when_access_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with_simulator(dir.path()).await;
    let id = create_credential(dir.path(), &served).await;
    let (child, url) = start_authorize(dir.path(), &served, &id).await;
    // The user clicks "Decline": Pinterest redirects with an error and the state.
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = no_redirects()
        .get(format!("{}/oauth/pinterest/callback", served.public_url))
        .query(&[("error", "access_denied"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("Access was not granted"), "{stderr}");
    let stats = served.control().stats().await.unwrap();
    assert_eq!(stats.endpoint("POST /v5/oauth/token"), 0, "{stats:?}");
    served.stop().await;
}
