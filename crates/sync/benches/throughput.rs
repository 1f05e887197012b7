//! Throughput and memory of a sync against the simulator: records per second
//! and peak RSS of `pinion-sync-worker` (a separate process, so the
//! simulator's memory is not counted) for 1 board x 50,000 pins and 200
//! boards x 250 pins, to JSON Lines and SQLite, and 1 board x 1,000,000 pins
//! to JSON Lines to show that memory does not grow with the data.
//!
//! Run with `cargo bench -p pinion-sync --bench throughput` (release). Set
//! `PINION_BENCH_SKIP_MILLION=1` to leave out the largest case,
//! `PINION_BENCH_ONLY=TEXT` to run only the cases whose label or destination
//! contains `TEXT`, and `PINION_BENCH_WRAPPER="heaptrack"` (any command
//! prefix, split on spaces) to run the worker under a profiler.

#[path = "../tests/support/sim.rs"]
mod sim;

use std::time::Instant;

use pinion_simulator::DataShape;

/// User plus system CPU time of this process (the simulator's), from
/// `/proc/self/stat` in clock ticks of 1/100 s.
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<f64>() / 100.0
}

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
    println!(
        "| data | destination | records | seconds | records/s | peak RSS (MB) | worker CPU µs/record | simulator CPU µs/record |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let only = std::env::var("PINION_BENCH_ONLY").ok();
    let wrapper: Vec<String> = std::env::var("PINION_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    for (label, user, kind) in cases {
        if only
            .as_deref()
            .is_some_and(|only| !label.contains(only) && kind != only)
        {
            continue;
        }
        let tokens = sim.tokens_for(user, sim::ALL_SCOPES).await;
        let dir = tempfile::tempdir().unwrap();
        let dest = match kind {
            "jsonl" => format!("jsonl:{}", dir.path().join("out").display()),
            _ => format!("sqlite:{}", dir.path().join("out.db").display()),
        };
        let sim_cpu_before = own_cpu_seconds();
        let started = Instant::now();
        let worker = env!("CARGO_BIN_EXE_pinion-sync-worker");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).arg(worker);
                command
            }
            None => tokio::process::Command::new(worker),
        };
        let output = command
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
        let sim_cpu = own_cpu_seconds() - sim_cpu_before;
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let records = result["report"]["streams"][0]["records"].as_u64().unwrap();
        let rss_mb = result["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0;
        let worker_cpu = result["cpu_seconds"].as_f64().unwrap_or(0.0);
        let per_record = |cpu: f64| cpu * 1e6 / records as f64;
        println!(
            "| {label} | {kind} | {records} | {seconds:.2} | {:.0} | {rss_mb:.1} | {:.1} | {:.1} |",
            records as f64 / seconds,
            per_record(worker_cpu),
            per_record(sim_cpu),
        );
    }
}
