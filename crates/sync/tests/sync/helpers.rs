//! Shared steps: run a sync into a destination and read what it wrote.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use pinion_domain::ScopeSet;
use pinion_pinterest::{PageSize, PinterestClient};
use pinion_simulator::Stream;
use pinion_sync::destination::{self, Destination};
use pinion_sync::{RunStateStore, StreamName, SyncJob, SyncOptions, SyncReport};

use crate::sim::{TestSim, USER};

/// Options for tests: small pages so every list has several pages.
pub fn options() -> SyncOptions {
    SyncOptions {
        page_size: PageSize::new(4).unwrap(),
        commit_interval: std::time::Duration::from_millis(0),
        ..SyncOptions::default()
    }
}

/// Runs one sync.
pub async fn sync(
    client: &PinterestClient,
    scopes: &str,
    dest: &dyn Destination,
    state: &dyn RunStateStore,
    options: &SyncOptions,
) -> SyncReport {
    let job = SyncJob {
        client: client.clone(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        job_key: "test-job".into(),
        destination: dest,
        state,
        observer: None,
    };
    pinion_sync::run::run(&job, options)
        .await
        .expect("run starts")
}

/// A reporter for the command runners that shows nothing.
pub struct Quiet;

impl pinion_sync::command::CommandReporter for Quiet {
    fn note(&self, _text: &str) {}

    fn progress(&self) -> Option<&dyn pinion_sync::ProgressObserver> {
        None
    }
}

/// Opens a destination from its string.
pub async fn open(spec: &str) -> Box<dyn Destination> {
    destination::open(spec).await.expect("destination opens")
}

/// The ids in a JSON Lines file, in order.
pub fn jsonl_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display()));
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad line in {}: {e}: {line}", path.display()));
            value["id"].as_str().expect("id").to_owned()
        })
        .collect()
}

/// The simulator's stream for ours, where it has one.
pub fn sim_stream(stream: StreamName) -> Option<Stream> {
    Stream::parse(stream.as_str())
}

/// Asserts that `got` holds exactly the expected ids of `stream`, once each.
pub async fn assert_exact(sim: &TestSim, stream: StreamName, got: &[String]) {
    let Some(sim_stream) = sim_stream(stream) else {
        return;
    };
    let mut expected = sim
        .sim
        .control()
        .expected_ids(USER, sim_stream)
        .await
        .unwrap();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for id in got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let duplicates: BTreeMap<&str, u32> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, v)| (*k, *v))
        .collect();
    assert!(duplicates.is_empty(), "{stream}: duplicates {duplicates:?}");
    let mut got = got.to_vec();
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len(), "{stream}: count differs");
    assert_eq!(got, expected, "{stream}: ids differ");
}

/// The ids of one table of a SQL destination.
pub async fn sql_ids(url: &str, stream: StreamName) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT id FROM {stream}"))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter().map(|(id,)| id).collect()
}
