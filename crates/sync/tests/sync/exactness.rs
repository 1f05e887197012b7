//! Exactness: every stream written equals the simulator's data, once each,
//! for JSON Lines, SQLite and PostgreSQL; raw records are lossless.

use pinion_sync::StreamName;
use pinion_sync::destination::JsonlDestination;
use pinion_sync::run::StreamOutcome;

use crate::helpers::{assert_exact, jsonl_ids, options, sync};
use crate::sim::{self, ALL_SCOPES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_holds_every_record_of_every_stream_exactly_once() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path().join("out")).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();

    let report = sync(&client, ALL_SCOPES, &dest, &*state, &options()).await;
    assert!(report.succeeded(), "{:?}", report.failure);
    for stream in StreamName::ALL {
        let entry = report.streams.iter().find(|s| s.stream == stream).unwrap();
        assert_eq!(entry.outcome, StreamOutcome::Done, "{stream}: {entry:?}");
        assert!(!dest.partial_path(stream).exists());
        if stream == StreamName::AdAccountAnalytics {
            let text = std::fs::read_to_string(dest.final_path(stream)).unwrap();
            let keys: std::collections::HashSet<String> = text
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{}:{}", v["AD_ACCOUNT_ID"], v["DATE"])
                })
                .collect();
            assert_eq!(keys.len(), text.lines().count(), "analytics rows unique");
            assert_eq!(keys.len(), 3 * 90, "3 accounts x 90 days");
            continue;
        }
        let ids = jsonl_ids(&dest.final_path(stream));
        assert_eq!(ids.len() as u64, entry.records, "{stream}");
        assert_exact(&sim, stream, &ids).await;
    }
}

async fn sql_exactness(dest_spec: &str, read_url: &str, state_location: &str) {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let dest = crate::helpers::open(dest_spec).await;
    let state = pinion_sync::state::open(state_location).await.unwrap();
    let report = sync(&client, ALL_SCOPES, dest.as_ref(), &*state, &options()).await;
    assert!(report.succeeded(), "{:?}", report.failure);
    for stream in StreamName::ALL {
        let ids = crate::helpers::sql_ids(read_url, stream).await;
        if stream == StreamName::AdAccountAnalytics {
            assert_eq!(ids.len(), 3 * 90);
            continue;
        }
        assert_exact(&sim, stream, &ids).await;
    }
    // A second full run upserts: still one row per record.
    let report = sync(&client, ALL_SCOPES, dest.as_ref(), &*state, &options()).await;
    assert!(report.succeeded(), "{:?}", report.failure);
    let ids = crate::helpers::sql_ids(read_url, StreamName::BoardPins).await;
    assert_exact(&sim, StreamName::BoardPins, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_holds_every_record_of_every_stream_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.db");
    let path = path.to_str().unwrap();
    sql_exactness(
        &format!("sqlite:{path}"),
        &format!("sqlite://{path}"),
        dir.path().join("state.db").to_str().unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_holds_every_record_of_every_stream_exactly_once() {
    let Some(database) = pinion_testkit::TestDatabase::create("exactness") else {
        return;
    };
    let url = &database.url;
    // The run state lives in the same database, as it would in production.
    sql_exactness(url, url, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_keep_every_field_exactly_as_pinterest_sent_it() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let dir = tempfile::tempdir().unwrap();
    let dest = JsonlDestination::create(dir.path()).unwrap();
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let mut opts = options();
    opts.streams = Some(vec![StreamName::Boards, StreamName::Pins]);
    let report = sync(&client, ALL_SCOPES, &dest, &*state, &opts).await;
    assert!(report.succeeded(), "{:?}", report.failure);

    let http = reqwest::Client::new();
    for (stream, path) in [
        (StreamName::Boards, "/boards?privacy=ALL&page_size=250"),
        (
            StreamName::Pins,
            "/pins?include_protected_pins=true&page_size=250",
        ),
    ] {
        let body: serde_json::Value = http
            .get(format!("{}{path}", sim.sim.api_url()))
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let direct: std::collections::HashMap<String, String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| (item["id"].as_str().unwrap().to_owned(), item.to_string()))
            .collect();
        let text = std::fs::read_to_string(dest.final_path(stream)).unwrap();
        assert_eq!(text.lines().count(), direct.len());
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = value["id"].as_str().unwrap();
            assert_eq!(
                line, direct[id],
                "{stream} {id} differs from the API's JSON"
            );
        }
    }
}
