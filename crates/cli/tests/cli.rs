//! The `pinion` binary end to end: users and credentials on a fresh data
//! directory, exit codes, JSON output, and secrets that never reach the output,
//! the argument list or the database file in plaintext.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const SECRET: &str = "CANARY-cli-client-secret-91c2";

fn pinion<A: AsRef<OsStr>>(data_dir: &Path, args: &[A], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args(args)
        .env("PINION_DATA_DIR", data_dir)
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env("PINION_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // A command refused before it reads its input (a bad argument) may
        // already have exited: its closed pipe is no failure of the test.
        match input.write_all(text.as_bytes()) {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn create_alice(dir: &Path) {
    let output = pinion(dir, &["users", "create", "--username", "alice"], None);
    assert!(output.status.success(), "{}", text(&output));
}

fn create_credential(dir: &Path, name: &str) -> Value {
    let output = pinion(
        dir,
        &[
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            name,
            "--client-id",
            "1484362",
            "--client-secret-stdin",
            "--json",
        ],
        Some(&format!("{SECRET}\n")),
    );
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every byte of every file in the data directory.
fn data_dir_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn users_create_prints_an_api_token_once_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let output = pinion(
        dir.path(),
        &["users", "create", "--username", "Alice", "--json"],
        None,
    );
    assert!(output.status.success(), "{}", text(&output));
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = created["api_token"].as_str().unwrap();
    assert!(token.starts_with("pin_"));
    assert_eq!(created["user"]["username"], "alice");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Generated a new encryption key"));
    assert!(!contains(&data_dir_bytes(dir.path()), token));

    let again = pinion(
        dir.path(),
        &["users", "create", "--username", "alice"],
        None,
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("username"), "{}", text(&again));
}

#[test]
fn a_credential_round_trips_through_create_list_show_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let created = create_credential(dir.path(), "Marketing");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "needs_authorization");
    assert_eq!(created["client_secret_set"], true);

    let list = pinion(dir.path(), &["credentials", "list"], None);
    assert!(list.status.success());
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(
        table.contains("Marketing") && table.contains("Not yet authorized"),
        "{table}"
    );

    let show = pinion(dir.path(), &["credentials", "show", &id], None);
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("client secret:") && shown.contains("set"),
        "{shown}"
    );

    let update = pinion(
        dir.path(),
        &[
            "credentials",
            "update",
            &id,
            "--name",
            "Renamed",
            "--scopes",
            "boards:read ads:read",
            "--json",
        ],
        None,
    );
    assert!(update.status.success(), "{}", text(&update));
    let updated: Value = serde_json::from_slice(&update.stdout).unwrap();
    assert_eq!(updated["name"], "Renamed");
    // The local CLI acts as the operator, never as the credential's owner.
    let actors = activity_actors(dir.path(), &id);
    assert_eq!(actors, ["operator", "operator"], "edited, then created");

    let delete = pinion(dir.path(), &["credentials", "delete", &id], None);
    assert!(delete.status.success(), "{}", text(&delete));
    let gone = pinion(dir.path(), &["credentials", "show", &id], None);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone).contains("not found"), "{}", text(&gone));
}

#[test]
fn invalid_input_exits_2_naming_the_field_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    create_credential(dir.path(), "Taken");
    let long_name = "n".repeat(101);
    let long_description = "d".repeat(1001);
    // Each case: the flags, the field and a phrase of the rule it broke.
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["--name", ""], "name", "must not be blank"),
        (vec!["--name", &long_name], "name", "at most 100 characters"),
        (
            vec!["--name", "Taken"],
            "name",
            "already has a credential named",
        ),
        (
            vec!["--name", "ok", "--scopes", "boards:fly"],
            "scopes",
            "unknown scope `boards:fly`",
        ),
        (
            vec!["--name", "ok", "--client-id", ""],
            "client_id",
            "is required",
        ),
        (
            vec!["--name", "ok", "--description", &long_description],
            "description",
            "at most 1000 characters",
        ),
        (
            vec!["--name", "tab\u{1b}name"],
            "name",
            "must not contain control characters",
        ),
        (
            vec!["--name", "ok", "--description", "bell\u{7}here"],
            "description",
            "must not contain control characters",
        ),
    ];
    for (extra, field, rule) in cases {
        let mut args = vec![
            "credentials",
            "create",
            "--owner",
            "alice",
            "--client-secret-stdin",
        ];
        if !extra.contains(&"--client-id") {
            args.extend(["--client-id", "1484362"]);
        }
        args.extend(extra.iter().copied());
        let output = pinion(dir.path(), &args, Some("secret\n"));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("error: {field}:")) && stderr.contains(rule),
            "{args:?}: {stderr}"
        );
    }
    let empty_secret = pinion(
        dir.path(),
        &[
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            "x",
            "--client-id",
            "1",
            "--client-secret-stdin",
        ],
        Some("\n"),
    );
    assert_eq!(empty_secret.status.code(), Some(2));
    assert!(text(&empty_secret).contains("client_secret: is required"));
    let unknown_owner = pinion(
        dir.path(),
        &[
            "credentials",
            "create",
            "--owner",
            "nobody",
            "--name",
            "x",
            "--client-id",
            "1",
            "--client-secret-stdin",
        ],
        Some("s\n"),
    );
    assert_eq!(unknown_owner.status.code(), Some(2));
    assert!(text(&unknown_owner).contains("owner"));

    let list = pinion(dir.path(), &["credentials", "list", "--json"], None);
    let records: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_argument_exits_2_naming_the_field_and_stores_nothing() {
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let kept = create_credential(dir.path(), "Kept");
    let id = kept["id"].as_str().unwrap();
    let bad = || OsString::from_vec(b"ab\xffc".to_vec());
    let base = [
        ("--owner", "alice"),
        ("--name", "fresh"),
        ("--client-id", "1484362"),
        ("--description", "d"),
        ("--scopes", "boards:read"),
    ];
    for (flag, field) in [
        ("--owner", "owner"),
        ("--name", "name"),
        ("--client-id", "client_id"),
        ("--description", "description"),
        ("--scopes", "scopes"),
    ] {
        let mut args: Vec<OsString> = vec!["credentials".into(), "create".into()];
        for (other, value) in base {
            args.push(other.into());
            args.push(if other == flag { bad() } else { value.into() });
        }
        args.push("--client-secret-stdin".into());
        let output = pinion(dir.path(), &args, Some("secret\n"));
        assert_eq!(output.status.code(), Some(2), "{flag}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("error: {field}: must be valid UTF-8")),
            "{flag}: {stderr}"
        );

        if flag != "--owner" {
            let args = [
                "credentials".into(),
                "update".into(),
                id.into(),
                flag.into(),
                bad(),
            ];
            let output = pinion(dir.path(), &args, None);
            assert_eq!(output.status.code(), Some(2), "{flag}: {}", text(&output));
            assert!(
                text(&output).contains(&format!("error: {field}: must be valid UTF-8")),
                "{flag}: {}",
                text(&output)
            );
        }
    }
    let output = pinion(
        dir.path(),
        &[
            OsString::from("users"),
            "create".into(),
            "--username".into(),
            bad(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("error: username: must be valid UTF-8"));

    let list = pinion(dir.path(), &["credentials", "list", "--json"], None);
    let records: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
    assert_eq!(records[0], kept, "the failed updates changed nothing");
    let users = pinion(dir.path(), &["users", "list", "--json"], None);
    let users: Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
}

#[test]
fn only_commands_that_open_the_store_offer_the_store_flags() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["simulator", "demo"] {
        let output = pinion(dir.path(), &[command, "--help"], None);
        assert!(output.status.success(), "{}", text(&output));
        let help = text(&output);
        assert!(!help.contains("--data-dir"), "{command}: {help}");
        assert!(!help.contains("--database-url"), "{command}: {help}");
        let output = pinion(dir.path(), &[command, "--data-dir", "x"], None);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    }
    for command in [
        &["serve", "--help"][..],
        &["users", "create", "--help"],
        &["credentials", "list", "--help"],
        &["sources", "list", "--help"],
        &["keys", "--help"],
        &["sync", "--help"],
        &["publish", "--help"],
    ] {
        let output = pinion(dir.path(), command, None);
        let help = text(&output);
        assert!(help.contains("--data-dir"), "{command:?}: {help}");
        assert!(help.contains("--database-url"), "{command:?}: {help}");
    }
    // The flag works before and after the subcommand, over the environment.
    let other = tempfile::tempdir().unwrap();
    let flag = other.path().to_str().unwrap();
    let before = pinion(
        dir.path(),
        &["users", "--data-dir", flag, "create", "--username", "alice"],
        None,
    );
    assert!(before.status.success(), "{}", text(&before));
    let after = pinion(
        dir.path(),
        &["users", "list", "--json", "--data-dir", flag],
        None,
    );
    let users: Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert!(other.path().join("pinion.db").exists());
    assert!(!dir.path().join("pinion.db").exists());
}

#[test]
fn a_client_secret_is_never_accepted_as_a_plain_argument() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let output = pinion(
        dir.path(),
        &[
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            "x",
            "--client-id",
            "1",
            "--client-secret",
            SECRET,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let list = pinion(dir.path(), &["credentials", "list", "--json"], None);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}

#[test]
fn the_secret_from_an_environment_variable_never_reaches_output_logs_or_disk() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args([
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            "From env",
            "--client-id",
            "1484362",
            "--client-secret-env",
            "APP_SECRET",
            "--json",
        ])
        .env("PINION_DATA_DIR", dir.path())
        .env("PINION_LOG", "trace")
        .env("APP_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(SECRET), "{}", text(&output));
    create_credential(dir.path(), "From stdin");
    let list = pinion(dir.path(), &["credentials", "list", "--json"], None);
    assert!(!text(&list).contains(SECRET));
    assert!(!contains(&data_dir_bytes(dir.path()), SECRET));

    let missing = pinion(
        dir.path(),
        &[
            "credentials",
            "create",
            "--owner",
            "alice",
            "--name",
            "y",
            "--client-id",
            "1",
            "--client-secret-env",
            "NOT_SET_ANYWHERE",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("NOT_SET_ANYWHERE"));
}

#[test]
fn keys_rotate_re_encrypts_every_credential_and_the_old_key_can_be_retired() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    for name in ["one", "two", "three"] {
        create_credential(dir.path(), name);
    }
    let rotate = pinion(dir.path(), &["keys", "rotate", "--batch-size", "2"], None);
    assert!(rotate.status.success(), "{}", text(&rotate));
    let status = pinion(dir.path(), &["keys", "status", "--json"], None);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["active"], 2, "{status}");
    let retire = pinion(dir.path(), &["keys", "retire", "--version", "1"], None);
    assert!(retire.status.success(), "{}", text(&retire));
    let list = pinion(dir.path(), &["credentials", "list", "--json"], None);
    assert!(list.status.success(), "{}", text(&list));
    let retire_active = pinion(dir.path(), &["keys", "retire", "--version", "2"], None);
    assert!(!retire_active.status.success());
}

#[test]
fn a_wrong_key_refuses_to_start_and_leaves_the_database_untouched() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    create_credential(dir.path(), "Sealed");
    let db = dir.path().join("pinion.db");
    // Each command closes the store, which folds the WAL into the main file,
    // so the main file holds every byte.
    let before = std::fs::read(&db).unwrap();
    let wrong_key = "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let output = Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args(["credentials", "list"])
        .env("PINION_DATA_DIR", dir.path())
        .env("PINION_MASTER_KEY", wrong_key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("does not match"),
        "{}",
        text(&output)
    );
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the refused start changed the database file"
    );

    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let output = pinion(dir.path(), &["credentials", "list"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).to_lowercase().contains("key"),
        "{}",
        text(&output)
    );
    assert!(
        !dir.path().join("master.key").exists(),
        "a key must not be generated for an existing database"
    );
}

#[test]
fn users_create_sets_a_web_password_from_stdin_and_refuses_a_short_one_first() {
    let dir = tempfile::tempdir().unwrap();
    let password = "CANARY-web-password-5d1e";
    let short = pinion(
        dir.path(),
        &["users", "create", "--username", "bob", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!short.status.success(), "{}", text(&short));
    assert!(text(&short).contains("12 characters"), "{}", text(&short));

    let output = pinion(
        dir.path(),
        &["users", "create", "--username", "alice", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(password));
    let listed = pinion(dir.path(), &["users", "list", "--json"], None);
    let users: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 1, "the refused user must not exist: {users:?}");
    assert_eq!(users[0]["has_password"], true);
    assert!(!contains(&data_dir_bytes(dir.path()), password));

    let changed = pinion(
        dir.path(),
        &[
            "users",
            "password",
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some("another long password\n"),
    );
    assert!(changed.status.success(), "{}", text(&changed));
}

/// Who the credential's activity log names, newest first.
fn activity_actors(data_dir: &Path, id: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = pinion_store::connect(
            data_dir.join("pinion.db").to_str().unwrap(),
            pinion_store::KeySource::DataDirFile(data_dir.join("master.key")),
        )
        .await
        .unwrap()
        .store;
        let entries = store
            .list_activity(&id.parse().unwrap(), None, 10)
            .await
            .unwrap();
        store.close().await;
        entries.into_iter().map(|entry| entry.actor).collect()
    })
}

/// A source of alice's reading with credential `credential`, stored through
/// the service (the CLI does not create sources); returns its id.
fn create_source(data_dir: &Path, credential: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = pinion_testkit::open_data_dir(data_dir).await;
        let alice = store
            .get_user_by_username(&pinion_domain::Username::parse("alice").unwrap())
            .await
            .unwrap();
        let sources = pinion_service::Sources::new(
            store.clone(),
            std::sync::Arc::new(pinion_domain::SystemClock),
        );
        let source = sources
            .create(
                &alice,
                &pinion_service::SourceInput {
                    name: "Nightly boards".into(),
                    credential_id: credential.to_owned(),
                    streams: vec!["boards".into()],
                    output_kind: "jsonl".into(),
                    output_path: "nightly".into(),
                    sync_mode: String::new(),
                },
            )
            .await
            .unwrap();
        store.close().await;
        source.id.as_str().to_owned()
    })
}

#[test]
fn sources_are_scheduled_paused_resumed_and_unscheduled_by_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let credential = create_credential(dir.path(), "Boards");
    let source = create_source(dir.path(), credential["id"].as_str().unwrap());
    let run = |args: &[&str]| pinion(dir.path(), args, None);

    let listed = run(&["sources", "list", "--owner", "alice"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(text(&listed).contains("on demand"), "{}", text(&listed));

    // Bad input: exit 2, the field named, nothing stored.
    let short = run(&["sources", "schedule", &source, "--every", "5s"]);
    assert_eq!(short.status.code(), Some(2), "{}", text(&short));
    assert!(
        text(&short).contains("every: runs more often than this server allows"),
        "{}",
        text(&short)
    );
    let zone = run(&[
        "sources",
        "schedule",
        &source,
        "--cron",
        "0 6 * * *",
        "--time-zone",
        "Moon/Base",
    ]);
    assert_eq!(zone.status.code(), Some(2), "{}", text(&zone));
    assert!(text(&zone).contains("time_zone:"), "{}", text(&zone));
    let neither = run(&["sources", "schedule", &source]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));
    let unknown = run(&["sources", "schedule", "src_0000", "--every", "1h"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("no source `src_0000`"),
        "{}",
        text(&unknown)
    );

    let set = run(&[
        "sources",
        "schedule",
        &source,
        "--cron",
        "0 6 * * 1-5",
        "--time-zone",
        "Europe/Paris",
        "--json",
    ]);
    assert!(set.status.success(), "{}", text(&set));
    let schedule: Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(schedule["description"], "0 6 * * 1-5 (Europe/Paris)");
    assert!(schedule["next_run_at"].is_string());

    let paused = run(&["sources", "pause", &source, "--json"]);
    let paused: Value = serde_json::from_slice(&paused.stdout).unwrap();
    assert_eq!(paused["paused"], true);
    let listed = text(&run(&["sources", "list", "--owner", "alice"]));
    assert!(
        listed.contains("0 6 * * 1-5 (Europe/Paris) (paused)"),
        "{listed}"
    );
    let resumed = run(&["sources", "resume", &source, "--json"]);
    let resumed: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(resumed["paused"], false);

    let removed = run(&["sources", "unschedule", &source]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(text(&removed).contains("now runs only on demand"));
    let again = run(&["sources", "pause", &source]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("has no schedule"), "{}", text(&again));
}

#[test]
fn a_credentials_rate_limit_is_set_with_update_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    create_alice(dir.path());
    let credential = create_credential(dir.path(), "Boards");
    assert_eq!(credential["rate_tier"], "standard");
    let id = credential["id"].as_str().unwrap();
    let updated = pinion(
        dir.path(),
        &["credentials", "update", id, "--rate-limit", "600/min"],
        None,
    );
    assert!(updated.status.success(), "{}", text(&updated));
    assert!(text(&updated).contains("rate limit:"), "{}", text(&updated));
    assert!(text(&updated).contains("600/min"), "{}", text(&updated));
    let refused = pinion(
        dir.path(),
        &["credentials", "update", id, "--rate-limit", "fast"],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("rate_tier: `fast` is not a rate limit"),
        "{}",
        text(&refused)
    );
}
