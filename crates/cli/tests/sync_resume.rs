//! `pinion sync` as an operator runs it (issue 12): `--json` names every
//! stream failure; `--resume` finds the unfinished run whatever the
//! destination's spelling (a relative path is the same folder); the output
//! folder holds the files of one complete run, never a failed run's files
//! mixed with the run before it.

mod support;

use std::path::Path;
use std::sync::Arc;

use pinion_simulator::{DataShape, FaultKind, FaultSpec, RunningSimulator, Stream};
use pinion_store::Store;
use serde_json::Value;

use support::{assert_exact, jsonl_ids, seed};

const SCOPES: &str = "boards:read,pins:read,user_accounts:read";

struct Setup {
    sim: RunningSimulator,
    data: tempfile::TempDir,
    /// The working directory of the `pinion sync` processes.
    work: tempfile::TempDir,
    credential: String,
}

async fn setup() -> Setup {
    let (sim, app) = support::simulator(
        "Runs",
        DataShape {
            boards: 6,
            sections_per_board: 0,
            pins_per_board: 30,
            pins_per_section: 0,
            ad_accounts: 0,
            secret_share: 0.0,
            protected_share: 0.0,
            video_share: 0.0,
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = pinion_testkit::open_data_dir(data.path()).await;
    let (_, credential) = seed(&store, &sim, &app, SCOPES).await;
    store.close().await;
    Setup {
        sim,
        data,
        work: tempfile::tempdir().unwrap(),
        credential,
    }
}

/// Runs `pinion sync --credential … --streams boards,pins --json ARGS` in
/// the work directory; returns the exit code, the JSON summary and stderr.
async fn sync(setup: &Setup, args: &[&str]) -> (i32, Value, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args(["sync", "--credential", &setup.credential])
        .args(["--streams", "boards,pins", "--json"])
        .args(args)
        .current_dir(setup.work.path())
        .env("PINION_DATA_DIR", setup.data.path())
        .env("PINTEREST_OAUTH_URL", setup.sim.oauth_url())
        .env("PINTEREST_API_URL", setup.sim.api_url())
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .env_remove("PINION_TEST_PAUSE_AT")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("no JSON summary ({err}): {stdout}\n{stderr}"));
    (output.status.code().unwrap_or(-1), summary, stderr)
}

/// Makes every `GET /v5/pins` fail with 400 until the faults are cleared.
async fn fail_pins(sim: &RunningSimulator) {
    sim.control()
        .inject_fault(&FaultSpec {
            path_prefix: "/v5/pins".into(),
            method: Some("GET".into()),
            kind: FaultKind::Status { status: 400 },
            count: None,
            duration_ms: None,
        })
        .await
        .unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_names_the_failed_stream_and_why() {
    let setup = setup().await;
    fail_pins(&setup.sim).await;
    let (code, summary, stderr) = sync(&setup, &["--dest", "jsonl:out"]).await;
    assert_eq!(code, 1, "{summary}\n{stderr}");
    let failure = summary["failure"].as_str().unwrap_or_else(|| {
        panic!("a failed run's summary has its failure: {summary}");
    });
    assert!(
        failure.contains("pins") && failure.contains("400"),
        "{failure}"
    );
    let pins = summary["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "pins")
        .unwrap();
    assert_eq!(pins["outcome"], "failed", "{summary}");
    assert!(
        pins["error"].as_str().is_some_and(|e| e.contains("400")),
        "{summary}"
    );

    setup.sim.control().clear_faults().await.unwrap();
    let (code, summary, stderr) = sync(&setup, &["--dest", "jsonl:out"]).await;
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert!(summary["failure"].is_null(), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finds_the_run_whatever_the_spelling_of_its_folder() {
    let setup = setup().await;
    let absolute = setup.work.path().join("out");
    fail_pins(&setup.sim).await;
    let (code, _, _) = sync(
        &setup,
        &["--dest", &format!("jsonl:{}", absolute.display())],
    )
    .await;
    assert_eq!(code, 1);

    // The same folder, spelled relative to the working directory.
    setup.sim.control().clear_faults().await.unwrap();
    setup.sim.control().reset_stats().await.unwrap();
    let (code, summary, stderr) = sync(&setup, &["--dest", "jsonl:./out/../out", "--resume"]).await;
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert_eq!(summary["resumed"], true, "{summary}\n{stderr}");
    let boards = summary["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "boards")
        .unwrap();
    assert_eq!(boards["outcome"], "already_done", "{summary}");
    let stats = setup.sim.control().stats().await.unwrap();
    assert_eq!(
        stats.endpoint("GET /v5/boards"),
        0,
        "boards were not read again: {stats:?}"
    );
    assert_exact(
        &setup.sim,
        Stream::Boards,
        jsonl_ids(&absolute.join("boards.jsonl")),
    )
    .await;
    assert_exact(
        &setup.sim,
        Stream::Pins,
        jsonl_ids(&absolute.join("pins.jsonl")),
    )
    .await;
    assert_eq!(names(&absolute), ["boards.jsonl", "pins.jsonl"]);

    // Nothing to resume is said, not silently ignored.
    let (code, summary, stderr) = sync(&setup, &["--dest", "jsonl:out", "--resume"]).await;
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert_eq!(summary["resumed"], false);
    assert!(stderr.contains("no unfinished run"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_folder_keeps_the_last_complete_run_when_a_later_run_fails() {
    let setup = setup().await;
    let out = setup.work.path().join("out");
    let (code, _, stderr) = sync(&setup, &["--dest", "jsonl:out"]).await;
    assert_eq!(code, 0, "{stderr}");
    let boards_before = std::fs::read(out.join("boards.jsonl")).unwrap();
    let modified_before = std::fs::metadata(out.join("boards.jsonl"))
        .unwrap()
        .modified()
        .unwrap();

    // A second run completes boards, then fails in pins.
    fail_pins(&setup.sim).await;
    let (code, summary, _) = sync(&setup, &["--dest", "jsonl:out"]).await;
    assert_eq!(code, 1, "{summary}");
    assert_eq!(
        names(&out),
        [".pinion-partial", "boards.jsonl", "pins.jsonl"],
        "the folder holds the first run's files, the failed run's are staged apart"
    );
    assert_eq!(
        std::fs::read(out.join("boards.jsonl")).unwrap(),
        boards_before
    );
    assert_eq!(
        std::fs::metadata(out.join("boards.jsonl"))
            .unwrap()
            .modified()
            .unwrap(),
        modified_before,
        "the first run's boards file was not replaced by the failed run's"
    );
    assert_exact(&setup.sim, Stream::Pins, jsonl_ids(&out.join("pins.jsonl"))).await;
}
