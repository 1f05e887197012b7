//! Crash: a sync in a child process is killed with SIGKILL at random points
//! and resumed until it completes; every record ends in the destination
//! exactly once (JSON Lines and SQLite alternate), over 20 repetitions.

use std::time::Duration;

use pinion_simulator::DataShape;
use pinion_sync::StreamName;
use pinion_sync::destination::JsonlDestination;
use rand::Rng;

use crate::helpers::{assert_exact, jsonl_ids, sql_ids};
use crate::sim::{self, ALL_SCOPES};

const STREAMS: [StreamName; 3] = [StreamName::Boards, StreamName::BoardPins, StreamName::Pins];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_at_random_points_and_resumed_writes_every_record_exactly_once() {
    let shape = DataShape {
        boards: 8,
        sections_per_board: 1,
        pins_per_board: 40,
        pins_per_section: 5,
        ad_accounts: 0,
        secret_share: 0.2,
        protected_share: 0.2,
        video_share: 0.2,
    };
    let sim = sim::start(sim::sim_config(), shape).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let binary = env!("CARGO_BIN_EXE_pinion-sync-worker");
    let mut rng = rand::thread_rng();
    // Kill points are drawn from the length of one uninterrupted run on this
    // machine, measured now, so a loaded CI runner still gets kills that land
    // while records are being written rather than before the first page. It
    // is measured again by every fresh run that ends before its kill: when
    // the machine was busier at the start than later (the other tests of
    // this binary start with this one), the first figure is too long and
    // most kills would come after the run had already finished.
    let mut full_run = {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let status = worker(
            binary,
            &sim.sim.api_url(),
            &tokens.access,
            &format!("jsonl:{}", dir.path().join("out").display()),
            dir.path(),
            false,
        )
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
        assert!(status.success(), "an uninterrupted run failed: {status}");
        started.elapsed().as_millis().max(20) as u64
    };
    let mut kills = 0;
    let mut mid_stream_kills = 0;
    // At least 20 repetitions, and more (up to 60) while too few kills have
    // landed: on a loaded machine a resumed attempt can finish before its
    // kill time, and such a repetition proves nothing about crashes.
    for repetition in 0..60 {
        if repetition >= 20 && kills >= 20 && mid_stream_kills >= 5 {
            break;
        }
        let dir = tempfile::tempdir().unwrap();
        let sqlite = repetition % 2 == 1;
        let db = dir.path().join("out.db");
        let dest = if sqlite {
            format!("sqlite:{}", db.display())
        } else {
            format!("jsonl:{}", dir.path().join("out").display())
        };
        let mut attempt = 0;
        loop {
            let mut command = worker(
                binary,
                &sim.sim.api_url(),
                &tokens.access,
                &dest,
                dir.path(),
                attempt > 0,
            );
            command
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true);
            let spawned = std::time::Instant::now();
            let mut child = command.spawn().unwrap();
            // Kill most attempts at a random moment; let every fifth run on
            // so each repetition ends.
            let kill_after = (attempt % 5 != 4)
                .then(|| Duration::from_millis(rng.gen_range(full_run / 20..full_run)));
            let mut killed = false;
            let status = match kill_after {
                Some(delay) => {
                    tokio::select! {
                        status = child.wait() => {
                            let status = status.unwrap();
                            if attempt == 0 && status.success() {
                                full_run = full_run.min(spawned.elapsed().as_millis().max(20) as u64);
                            }
                            status
                        }
                        () = tokio::time::sleep(delay) => {
                            killed = true;
                            child.start_kill().unwrap();
                            kills += 1;
                            let status = child.wait().await.unwrap();
                            let partial = if sqlite {
                                has_rows(&db).await
                            } else {
                                has_partial_output(&dir.path().join("out"))
                            };
                            if !status.success() && partial {
                                mid_stream_kills += 1;
                            }
                            status
                        }
                    }
                }
                None => child.wait().await.unwrap(),
            };
            attempt += 1;
            if status.success() {
                break;
            }
            let mut report = String::new();
            if let Some(mut out) = child.stdout.take() {
                use tokio::io::AsyncReadExt;
                let _ = out.read_to_string(&mut report).await;
            }
            // A run that was not killed must succeed.
            assert!(
                killed,
                "repetition {repetition}, attempt {attempt} failed on its own: {status} {report}"
            );
            assert!(attempt < 40, "repetition {repetition} never completed");
        }
        for stream in STREAMS {
            let ids = if sqlite {
                sql_ids(&format!("sqlite://{}", db.display()), stream).await
            } else {
                let out = JsonlDestination::create(dir.path().join("out")).unwrap();
                jsonl_ids(&out.final_path(stream))
            };
            assert_exact(&sim, stream, &ids).await;
        }
    }
    eprintln!(
        "full run {full_run} ms; {kills} kills, {mid_stream_kills} while records were being written"
    );
    assert!(kills >= 20, "only {kills} kills landed");
    assert!(
        mid_stream_kills >= 5,
        "only {mid_stream_kills} kills landed while records were being written"
    );
}

/// The sync worker reading the three streams in small pages into `dest`,
/// its state in `dir`.
fn worker(
    binary: &str,
    api: &str,
    token: &str,
    dest: &str,
    dir: &std::path::Path,
    resume: bool,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .env("PINION_CHILD_API", api)
        .env("PINION_CHILD_TOKEN", token)
        .env("PINION_CHILD_DEST", dest)
        .env("PINION_CHILD_STATE", dir.join("state.db"))
        .env("PINION_CHILD_PAGE_SIZE", "7")
        .env("PINION_CHILD_COMMIT_MS", "20")
        .env("PINION_CHILD_STREAMS", "boards,board_pins,pins")
        .env("PINION_CHILD_RESUME", if resume { "1" } else { "0" });
    command
}

/// True when a killed SQLite run had committed some records.
async fn has_rows(db: &std::path::Path) -> bool {
    if !db.exists() {
        return false;
    }
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", db.display());
    let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
        return false;
    };
    let mut any = false;
    for stream in STREAMS {
        // A table that does not exist yet simply has no rows.
        let count: Result<(i64,), _> = sqlx::query_as(&format!("SELECT COUNT(*) FROM {stream}"))
            .fetch_one(&pool)
            .await;
        any |= count.is_ok_and(|(n,)| n > 0);
    }
    pool.close().await;
    any
}

/// True when a JSON Lines stream was killed with committed or pending lines.
fn has_partial_output(dir: &std::path::Path) -> bool {
    // A run's files are staged in `.pinion-partial/` until it completes.
    std::fs::read_dir(dir.join(pinion_sync::destination::STAGING_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            entry.path().extension().is_some_and(|e| e == "partial")
                && entry.metadata().is_ok_and(|m| m.len() > 0)
        })
}
