//! Files at rest are private whatever the umask (SECURITY.md R32): every
//! `pinion` process here runs under `umask 000` (through `bash -c 'umask
//! 000; exec …'`), which would leave what it creates readable and writable
//! by every local user, and every folder and file it created in the data
//! directory must still be 0700 / 0600: the data directory, the SQLite
//! database with its `-wal` and `-shm`, `master.key`, `instances/` and its
//! lock file, and the outputs of syncs the server ran (JSON Lines folders
//! and files, SQLite files).
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pinion_testkit::ServerOutput;
use serde_json::{Value, json};
use support::SimulatorBanner;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// `pinion args…` on `data_dir` under `umask`, with no ambient settings.
fn pinion(data_dir: &Path, umask: &str, args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_pinion"))
        .args(args);
    support::isolated(&mut command, data_dir);
    command
}

/// Runs a command to completion; its exit code, stdout, and stdout + stderr.
async fn run(mut command: Command, stdin: Option<&str>) -> (i32, String, String) {
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        let mut input = child.stdin.take().unwrap();
        input.write_all(text.as_bytes()).await.unwrap();
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the command finished within two minutes")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Starts `pinion serve --simulator` and waits for its banner and `/readyz`.
async fn serve(data_dir: &Path, umask: &str) -> (Child, String, SimulatorBanner, ServerOutput) {
    let port = pinion_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = pinion(
        data_dir,
        umask,
        &["serve", "--listen", &listen, "--simulator"],
    )
    .spawn()
    .unwrap();
    let (output, mut lines) = ServerOutput::collect(child.stderr.take().unwrap());
    let banner = SimulatorBanner::read(&mut lines).await;
    let public_url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = reqwest::get(format!("{public_url}/readyz")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, public_url, banner, output)
}

/// Every folder and file under `root`, `root` included.
fn walk(root: &Path) -> Vec<(PathBuf, bool)> {
    let mut found = vec![(root.to_owned(), true)];
    let mut index = 0;
    while index < found.len() {
        let (path, is_dir) = found[index].clone();
        if is_dir {
            for entry in std::fs::read_dir(&path).unwrap() {
                let entry = entry.unwrap();
                let kind = entry.file_type().unwrap();
                found.push((entry.path(), kind.is_dir()));
            }
        }
        index += 1;
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts every folder under `root` is 0700 and every file 0600, and that
/// each of `expected` (relative to `root`) is among them.
fn assert_private(root: &Path, expected: &[&str]) {
    let found = walk(root);
    let wrong: Vec<String> = found
        .iter()
        .filter(|(path, is_dir)| mode(path) != if *is_dir { 0o700 } else { 0o600 })
        .map(|(path, _)| format!("{:o} {}", mode(path), path.display()))
        .collect();
    assert!(
        wrong.is_empty(),
        "not private under {}:\n{}",
        root.display(),
        wrong.join("\n")
    );
    let names: Vec<String> = found
        .iter()
        .filter_map(|(path, _)| path.strip_prefix(root).ok())
        .map(|path| path.display().to_string())
        .collect();
    for name in expected {
        let pattern = name.trim_end_matches('*');
        assert!(
            names.iter().any(|found| if name.ends_with('*') {
                found.starts_with(pattern)
            } else {
                found == name
            }),
            "{name} was not created; found {names:?}"
        );
    }
}

async fn permissions_hold_under(umask: &str) {
    let dir = tempfile::tempdir().unwrap();
    // Missing, so the server creates it.
    let data_dir = dir.path().join("var/pinion");
    let (mut server, public_url, banner, output) = serve(&data_dir, umask).await;
    // An empty install: the first account's key is in the data directory,
    // and the log says where, never what.
    let key_file = data_dir.join(pinion_service::SETUP_KEY_FILE);
    let key = std::fs::read_to_string(&key_file).unwrap();
    let log = output.text();
    assert!(log.contains(&key_file.display().to_string()), "{log}");
    assert!(!log.contains(key.trim()), "{log}");
    let env = [
        ("PINTEREST_OAUTH_URL", banner.oauth_url.as_str()),
        ("PINTEREST_API_URL", banner.api_url.as_str()),
        ("PINION_PUBLIC_URL", public_url.as_str()),
    ];

    let (code, out, all) = run(
        pinion(
            &data_dir,
            umask,
            &["users", "create", "--username", "alice", "--json"],
        ),
        None,
    )
    .await;
    assert_eq!(code, 0, "{all}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let api_token = created["api_token"].as_str().unwrap().to_owned();
    let user_id = created["user"]["id"].as_str().unwrap().to_owned();
    let (code, out, all) = run(
        pinion(
            &data_dir,
            umask,
            &[
                "credentials",
                "create",
                "--owner",
                "alice",
                "--name",
                "Boards",
                "--client-id",
                &banner.client_id,
                "--client-secret-stdin",
                "--scopes",
                "boards:read,pins:read,user_accounts:read",
                "--json",
            ],
        ),
        Some(&format!("{}\n", banner.client_secret)),
    )
    .await;
    assert_eq!(code, 0, "{all}");
    let credential: Value = serde_json::from_str(&out).unwrap();
    let credential = credential["id"].as_str().unwrap().to_owned();

    // Authorize: the simulator's demo user approves without pages.
    let mut authorize = pinion(&data_dir, umask, &["credentials", "authorize", &credential]);
    authorize.envs(env);
    let mut authorize = authorize.spawn().unwrap();
    let url = support::authorize_url(&mut authorize, Duration::from_secs(60)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = http.get(&url).send().await.unwrap();
    assert_eq!(consent.status(), 302);
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(http.get(&callback).send().await.unwrap().status(), 303);
    let status = tokio::time::timeout(Duration::from_secs(60), authorize.wait())
        .await
        .expect("authorize ended within a minute")
        .unwrap();
    assert!(status.success(), "authorize exited with {status}");

    // The server syncs into its outputs folder: JSON Lines and SQLite.
    for (name, kind, path) in [
        ("Boards files", "jsonl", "exports/boards"),
        ("Boards database", "sqlite", "exports/boards.db"),
    ] {
        let source: Value = http
            .post(format!("{public_url}/api/v1/sources"))
            .bearer_auth(&api_token)
            .json(&json!({
                "name": name,
                "credential_id": credential,
                "streams": ["boards"],
                "output": {"kind": kind, "path": path},
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let source = source["id"].as_str().expect("a source id").to_owned();
        let started = http
            .post(format!("{public_url}/api/v1/sources/{source}/runs"))
            .bearer_auth(&api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let run: Value = started.json().await.unwrap();
        let run_path = format!(
            "{public_url}/api/v1/sources/{source}/runs/{}",
            run["id"].as_str().unwrap()
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run: Value = http
                .get(&run_path)
                .bearer_auth(&api_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if run["status"] == "succeeded" {
                break;
            }
            assert_ne!(run["status"], "failed", "{run}");
            assert!(Instant::now() < deadline, "the run never ended: {run}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // While the server runs: its lock file and the WAL are there.
    assert_private(
        &data_dir,
        &[
            "",
            "pinion.db",
            "pinion.db-wal",
            "pinion.db-shm",
            "master.key",
            "setup-key",
            "instances",
            "instances/inst_*",
            "outputs",
            &format!("outputs/{user_id}/exports/boards"),
            &format!("outputs/{user_id}/exports/boards/boards.jsonl"),
            &format!("outputs/{user_id}/exports/boards.db"),
        ],
    );
    // The folder the data directory was created in came from the same
    // `mkdir -p`.
    assert_eq!(mode(&dir.path().join("var")), 0o700);
    server.kill().await.unwrap();
}

#[tokio::test]
async fn everything_created_in_the_data_dir_is_private_under_umask_000() {
    permissions_hold_under("000").await;
}

#[tokio::test]
async fn everything_created_in_the_data_dir_is_private_under_umask_022() {
    permissions_hold_under("022").await;
}
