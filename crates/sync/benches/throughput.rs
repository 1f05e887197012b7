//! Throughput and memory of a sync against the simulator: records per second
//! and peak RSS of `pinion-sync-worker` (a separate process, so the
//! simulator's memory is not counted) for 1 board x 50,000 pins and 200
//! boards x 250 pins, to JSON Lines and SQLite, and 1 board x 1,000,000 pins
//! to JSON Lines to show that memory does not grow with the data.
//!
//! Run with `cargo bench -p pinion-sync --bench throughput` (release). Set
//! `PINION_BENCH_SKIP_MILLION=1` to leave out the largest case.

#[path = "../tests/support/sim.rs"]
mod sim;

use std::time::Instant;

use pinion_simulator::DataShape;

fn shape(boards: u32, pins: u64) -> DataShape {
    DataShape {
        boards,
        sections_per_board: 0,
        pins_per_board: pins,
        pins_per_section: 0,
        ad_accounts: 0,
        secret_share: 0.0,
        protected_share: 0.0,
        video_share: 0.1,
    }
}

#[tokio::main]
async fn main() {
    let sim = sim::start(sim::sim_config(), shape(1, 50_000)).await;
    sim.add_user("bob", shape(200, 250)).await;
    let mut cases = vec![
        ("1 board x 50,000 pins", sim::USER, "jsonl"),
        ("1 board x 50,000 pins", sim::USER, "sqlite"),
        ("200 boards x 250 pins", "bob", "jsonl"),
        ("200 boards x 250 pins", "bob", "sqlite"),
    ];
    if std::env::var("PINION_BENCH_SKIP_MILLION").is_err() {
        sim.add_user("carol", shape(1, 1_000_000)).await;
        cases.push(("1 board x 1,000,000 pins", "carol", "jsonl"));
    }
    println!("| data | destination | records | seconds | records/s | peak RSS (MB) |");
    println!("|---|---|---:|---:|---:|---:|");
    for (label, user, kind) in cases {
        let tokens = sim.tokens_for(user, sim::ALL_SCOPES).await;
        let dir = tempfile::tempdir().unwrap();
        let dest = match kind {
            "jsonl" => format!("jsonl:{}", dir.path().join("out").display()),
            _ => format!("sqlite:{}", dir.path().join("out.db").display()),
        };
        let started = Instant::now();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinion-sync-worker"))
            .env("PINION_CHILD_API", sim.sim.api_url())
            .env("PINION_CHILD_TOKEN", &tokens.access)
            .env("PINION_CHILD_DEST", &dest)
            .env("PINION_CHILD_STATE", dir.path().join("state.db"))
            .env("PINION_CHILD_STREAMS", "board_pins")
            .env("PINION_CHILD_CONCURRENCY", "4")
            .output()
            .await
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let records = result["report"]["streams"][0]["records"].as_u64().unwrap();
        let rss_mb = result["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0;
        println!(
            "| {label} | {kind} | {records} | {seconds:.2} | {:.0} | {rss_mb:.1} |",
            records as f64 / seconds
        );
    }
}
