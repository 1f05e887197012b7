//! Publishing: 1,000 pins with injected 429 and 5xx answers create exactly
//! 1,000 pins; a rerun creates none; invalid rows are rejected with reasons;
//! a create whose answer was lost (applied, then a 5xx or a dropped
//! connection, while lists lag behind writes; or a crash before the ledger
//! write) is found by reconciliation after the settle window, not repeated.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use pinion_simulator::{FaultKind, FaultSpec, Stream};
use pinion_sync::publish::{PublishOptions, RowOutcome, publish_boards, publish_pins};
use pinion_sync::state::LedgerState;

use crate::sim::{self, ALL_SCOPES, TestSim, USER};

async fn board_pin_count(sim: &TestSim, board: &str, token: &str) -> usize {
    // Count through the API so only this board's pins are counted.
    let mut count = 0;
    let mut bookmark: Option<String> = None;
    let http = reqwest::Client::new();
    loop {
        let mut query = vec![("page_size".to_owned(), "250".to_owned())];
        if let Some(b) = &bookmark {
            query.push(("bookmark".into(), b.clone()));
        }
        let page: serde_json::Value = http
            .get(format!("{}/boards/{board}/pins", sim.sim.api_url()))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        count += page["items"].as_array().unwrap().len();
        match page["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_owned()),
            None => return count,
        }
    }
}

async fn first_public_board(sim: &TestSim, token: &str) -> String {
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/boards?privacy=PUBLIC", sim.sim.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"][0]["id"].as_str().unwrap().to_owned()
}

fn options() -> PublishOptions {
    PublishOptions {
        namespace: "credential-1".into(),
        board: None,
        concurrency: 8,
        reject_file: None,
        settle: Duration::from_millis(200),
        row_results: false,
        clock: std::sync::Arc::new(pinion_domain::SystemClock),
    }
}

/// How many pins of `board` carry each title (lists read without faults).
async fn titles_on_board(sim: &TestSim, board: &str, token: &str) -> HashMap<String, usize> {
    let http = reqwest::Client::new();
    let mut counts = HashMap::new();
    let mut bookmark: Option<String> = None;
    loop {
        let mut query = vec![("page_size".to_owned(), "250".to_owned())];
        if let Some(b) = &bookmark {
            query.push(("bookmark".into(), b.clone()));
        }
        let page: serde_json::Value = http
            .get(format!("{}/boards/{board}/pins", sim.sim.api_url()))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for pin in page["items"].as_array().unwrap() {
            if let Some(title) = pin["title"].as_str() {
                *counts.entry(title.to_owned()).or_default() += 1;
            }
        }
        match page["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_owned()),
            None => return counts,
        }
    }
}

fn fault(method: &str, prefix: &str, kind: FaultKind, count: Option<u64>) -> FaultSpec {
    FaultSpec {
        path_prefix: prefix.into(),
        method: Some(method.into()),
        kind,
        count,
        duration_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pins_through_429s_and_5xx_are_created_exactly_once_and_a_rerun_creates_none() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let board = first_public_board(&sim, &tokens.access).await;
    let before = board_pin_count(&sim, &board, &tokens.access).await;

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pins.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    for i in 0..1000 {
        let row = serde_json::json!({
            "board_id": board, "title": format!("Pin {i}"), "description": "Made by the test",
            "link": format!("https://example.com/{i}"), "alt_text": "a test image",
            "image_url": format!("https://images.example.com/{i}.jpg"),
        });
        writeln!(file, "{row}").unwrap();
    }
    // Invalid rows: each is refused with its reason, the rest go through.
    writeln!(file, "{}", serde_json::json!({"board_id": board, "title": "t".repeat(101), "image_url": "https://i.example/x.jpg"})).unwrap();
    writeln!(
        file,
        "{}",
        serde_json::json!({"board_id": "12ab", "image_url": "https://i.example/y.jpg"})
    )
    .unwrap();
    writeln!(file, "{}", serde_json::json!({"board_id": board, "image_url": "https://i.example/z.jpg", "colour": "red"})).unwrap();
    writeln!(file, "not json").unwrap();
    drop(file);

    for (kind, count) in [
        (FaultKind::RateLimit, 25),
        (FaultKind::Status { status: 503 }, 15),
        (FaultKind::Status { status: 500 }, 10),
    ] {
        sim.sim
            .control()
            .inject_fault(&FaultSpec {
                path_prefix: "/v5/pins".into(),
                method: Some("POST".into()),
                kind,
                count: Some(count),
                duration_ms: None,
            })
            .await
            .unwrap();
    }
    let ledger = pinion_sync::state::open(dir.path().join("ledger.db").to_str().unwrap())
        .await
        .unwrap();
    let report = publish_pins(&client, &*ledger, &input, &options())
        .await
        .unwrap();
    assert_eq!(report.rows, 1004);
    assert_eq!(report.rejected, 4, "{report:?}");
    assert_eq!(report.created + report.reconciled, 1000, "{report:?}");
    assert!(report.complete(), "{report:?}");
    assert!(
        sim.sim.control().faults().await.unwrap().is_empty(),
        "every fault was hit"
    );
    assert_eq!(
        board_pin_count(&sim, &board, &tokens.access).await,
        before + 1000
    );

    let rejects = std::fs::read_to_string(report.reject_file.as_ref().unwrap()).unwrap();
    assert_eq!(rejects.lines().count(), 4);
    assert!(
        rejects.contains("title") && rejects.contains("board_id") && rejects.contains("colour")
    );

    let again = publish_pins(&client, &*ledger, &input, &options())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.already_published),
        (0, 1000),
        "{again:?}"
    );
    assert_eq!(
        board_pin_count(&sim, &board, &tokens.access).await,
        before + 1000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_reconciled_instead_of_repeated() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let board = first_public_board(&sim, &tokens.access).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = pinion_sync::state::open(dir.path().join("ledger.db").to_str().unwrap())
        .await
        .unwrap();
    let rows = [
        serde_json::json!({"board_id": board, "title": "Lost answer", "link": "https://example.com/lost",
            "image_url": "https://images.example.com/lost.jpg", "key": "row-lost"}),
        serde_json::json!({"board_id": board, "title": "Fresh", "image_url": "https://images.example.com/f.jpg", "key": "row-fresh"}),
        serde_json::json!({"board_id": board, "title": "Never arrived", "image_url": "https://images.example.com/n.jpg", "key": "row-never"}),
    ];
    let input = dir.path().join("pins.jsonl");
    std::fs::write(&input, format!("{}\n{}\n{}\n", rows[0], rows[1], rows[2])).unwrap();

    // A crash before the request left Pinterest: the ledger says "sent",
    // Pinterest has nothing.
    ledger
        .ledger_record_sent("credential-1", "row-never", &board)
        .await
        .unwrap();

    // The crash: the ledger said "sent", Pinterest created the pin, and the
    // process died before recording the answer.
    ledger
        .ledger_record_sent("credential-1", "row-lost", &board)
        .await
        .unwrap();
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/pins", sim.sim.api_url()))
        .bearer_auth(&tokens.access)
        .json(&serde_json::json!({"board_id": board, "title": "Lost answer", "link": "https://example.com/lost",
            "media_source": {"source_type": "image_url", "url": "https://images.example.com/lost.jpg"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = board_pin_count(&sim, &board, &tokens.access).await;

    let first_sent = ledger
        .ledger_entry("credential-1", "row-never")
        .await
        .unwrap()
        .unwrap()
        .sent_at;

    let with_rows = PublishOptions {
        row_results: true,
        ..options()
    };
    let report = publish_pins(&client, &*ledger, &input, &with_rows)
        .await
        .unwrap();
    assert_eq!((report.reconciled, report.created), (1, 2), "{report:?}");
    // Each row's outcome, with the pin's id from the ledger.
    let ids: Vec<(u64, &str, Option<&str>)> = report
        .row_results
        .iter()
        .map(|row| match &row.outcome {
            RowOutcome::Reconciled { id } => (row.line, "reconciled", id.as_deref()),
            RowOutcome::Created { id } => (row.line, "created", id.as_deref()),
            other => panic!("line {}: {other:?}", row.line),
        })
        .collect();
    assert_eq!(ids[0], (1, "reconciled", created["id"].as_str()));
    assert_eq!((ids[1].0, ids[1].1), (2, "created"));
    assert_eq!((ids[2].0, ids[2].1), (3, "created"));
    assert!(ids[1].2.is_some() && ids[2].2.is_some(), "{ids:?}");
    assert_eq!(
        board_pin_count(&sim, &board, &tokens.access).await,
        before + 2
    );
    let entry = ledger
        .ledger_entry("credential-1", "row-lost")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.object_id.as_deref(), created["id"].as_str());
    let never = ledger
        .ledger_entry("credential-1", "row-never")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(never.state, LedgerState::Confirmed);
    assert_eq!(never.sent_at, first_sent, "a later send keeps sent_at");
    let titles = titles_on_board(&sim, &board, &tokens.access).await;
    for title in ["Lost answer", "Fresh", "Never arrived"] {
        assert_eq!(titles.get(title), Some(&1), "{title}: {titles:?}");
    }
    let again = publish_pins(&client, &*ledger, &input, &with_rows)
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.already_published),
        (0, 3),
        "{again:?}"
    );
    assert_eq!(again.row_results.len(), 3);
    for (row, (_, _, id)) in again.row_results.iter().zip(&ids) {
        assert_eq!(
            row.outcome,
            RowOutcome::AlreadyPublished {
                id: id.map(str::to_owned)
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_applied_then_answered_with_a_5xx_or_a_dropped_connection_while_lists_lag_make_one_pin_per_row()
 {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let board = first_public_board(&sim, &tokens.access).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pins.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    for i in 0..30 {
        let row = serde_json::json!({
            "board_id": board, "title": format!("Lagging {i}"), "key": format!("lag-{i}"),
            "image_url": format!("https://images.example.com/lag-{i}.jpg"),
        });
        writeln!(file, "{row}").unwrap();
    }
    drop(file);

    // The first creates are applied and then answered with a 503 or cut off;
    // meanwhile every pin list leaves out pins written in the last 1.5 s.
    // Lost answers are looked for only 3 s after they arrived, so the
    // lagging list has caught up by then, however slow the machine.
    let control = sim.sim.control();
    for (kind, count) in [
        (FaultKind::AppliedThenStatus { status: 503 }, 4),
        (FaultKind::AppliedThenDrop, 4),
        (FaultKind::AppliedThenStatus { status: 500 }, 2),
    ] {
        control
            .inject_fault(&fault("POST", "/v5/pins", kind, Some(count)))
            .await
            .unwrap();
    }
    control
        .inject_fault(&fault(
            "GET",
            "/v5/boards/",
            FaultKind::StaleListing { ms: 1_500 },
            None,
        ))
        .await
        .unwrap();
    let ledger = pinion_sync::state::open(dir.path().join("ledger.db").to_str().unwrap())
        .await
        .unwrap();
    let mut opts = options();
    opts.settle = Duration::from_secs(3);
    opts.concurrency = 4;
    let report = publish_pins(&client, &*ledger, &input, &opts)
        .await
        .unwrap();
    assert!(report.complete(), "{report:?}");
    assert_eq!((report.created, report.reconciled), (20, 10), "{report:?}");
    let faults = control.faults().await.unwrap();
    assert_eq!(faults.len(), 1, "every write fault was hit: {faults:?}");
    control.clear_faults().await.unwrap();
    let titles = titles_on_board(&sim, &board, &tokens.access).await;
    for i in 0..30 {
        let title = format!("Lagging {i}");
        assert_eq!(titles.get(&title), Some(&1), "{title}");
    }
    let again = publish_pins(&client, &*ledger, &input, &opts)
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.already_published),
        (0, 30),
        "{again:?}"
    );

    // The settle window is what prevents the duplicate: looking before a
    // lagging list shows the pin finds nothing, and the row is sent again.
    let rushed = dir.path().join("rushed.jsonl");
    let row = serde_json::json!({"board_id": board, "title": "Rushed", "key": "rushed",
        "image_url": "https://images.example.com/rushed.jpg"});
    std::fs::write(&rushed, format!("{row}\n")).unwrap();
    control
        .inject_fault(&fault(
            "POST",
            "/v5/pins",
            FaultKind::AppliedThenDrop,
            Some(1),
        ))
        .await
        .unwrap();
    control
        .inject_fault(&fault(
            "GET",
            "/v5/boards/",
            FaultKind::StaleListing { ms: 3_600_000 },
            None,
        ))
        .await
        .unwrap();
    opts.settle = Duration::ZERO;
    let report = publish_pins(&client, &*ledger, &rushed, &opts)
        .await
        .unwrap();
    assert_eq!(report.created, 1, "{report:?}");
    control.clear_faults().await.unwrap();
    let titles = titles_on_board(&sim, &board, &tokens.access).await;
    assert_eq!(titles.get("Rushed"), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_from_a_file_are_created_once() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("boards.jsonl");
    std::fs::write(
        &input,
        "{\"name\":\"Recipes 2026\",\"privacy\":\"SECRET\"}\n{\"name\":\"Trips\"}\n{\"name\":\"Bad\",\"privacy\":\"HIDDEN\"}\n",
    )
    .unwrap();
    let ledger = pinion_sync::state::open(dir.path().join("ledger.db").to_str().unwrap())
        .await
        .unwrap();
    let before = sim
        .sim
        .control()
        .expected_ids(USER, Stream::Boards)
        .await
        .unwrap()
        .len();
    let report = publish_boards(&client, &*ledger, &input, &options())
        .await
        .unwrap();
    assert_eq!((report.created, report.rejected), (2, 1), "{report:?}");
    let again = publish_boards(&client, &*ledger, &input, &options())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.already_published),
        (0, 2),
        "{again:?}"
    );
    let after = sim
        .sim
        .control()
        .expected_ids(USER, Stream::Boards)
        .await
        .unwrap()
        .len();
    assert_eq!(after, before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_write_sends_mapped_rows_once_and_rejects_rows_the_request_schema_refuses() {
    let sim = sim::start(sim::sim_config(), sim::small_shape()).await;
    let tokens = sim.tokens(ALL_SCOPES).await;
    let client = sim.client(sim.token_source(&tokens));
    let board = first_public_board(&sim, &tokens.access).await;
    let before = board_pin_count(&sim, &board, &tokens.access).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rows.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    for i in 0..5 {
        let row = serde_json::json!({
            "board": board, "name": format!("Custom {i}"),
            "picture": format!("https://example.com/{i}.jpg"),
        });
        writeln!(file, "{row}").unwrap();
    }
    let too_long = serde_json::json!({
        "board": board, "name": "t".repeat(101), "picture": "https://example.com/x.jpg",
    });
    writeln!(file, "{too_long}").unwrap();
    drop(file);
    let plan = std::sync::Arc::new(
        pinion_sync::custom_write::CustomWritePlan::resolve(
            &pinion_sync::custom_write::CustomWriteRequest {
                operation: "pins/create".into(),
                mapping: [
                    ("board_id", "board"),
                    ("title", "name"),
                    ("media_source.url", "picture"),
                    ("media_source.source_type", "kind"),
                ]
                .iter()
                .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
                .collect(),
            },
        )
        .unwrap(),
    );
    // `kind` is absent from the rows, so the schema's required
    // `source_type` is missing: every row is refused before sending.
    let state = pinion_sync::state::open(dir.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let report = pinion_sync::publish::publish_custom(
        &client,
        &*state,
        &input,
        std::sync::Arc::clone(&plan),
        &options(),
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.rejected), (0, 6), "{report:?}");
    assert_eq!(board_pin_count(&sim, &board, &tokens.access).await, before);
    let rejects = std::fs::read_to_string(report.reject_file.unwrap()).unwrap();
    assert!(rejects.contains("/media_source"), "{rejects}");

    // With the source type mapped from a constant-looking column, five
    // rows go through and the over-long title is refused.
    let fixed = dir.path().join("fixed.jsonl");
    let text = std::fs::read_to_string(&input).unwrap();
    let mut out = std::fs::File::create(&fixed).unwrap();
    for line in text.lines() {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        row["kind"] = "image_url".into();
        writeln!(out, "{row}").unwrap();
    }
    drop(out);
    let report =
        pinion_sync::publish::publish_custom(&client, &*state, &fixed, plan.clone(), &options())
            .await
            .unwrap();
    assert_eq!((report.created, report.rejected), (5, 1), "{report:?}");
    let rejects = std::fs::read_to_string(report.reject_file.unwrap()).unwrap();
    assert!(rejects.contains("/title"), "{rejects}");
    assert_eq!(
        board_pin_count(&sim, &board, &tokens.access).await,
        before + 5
    );
    let again = pinion_sync::publish::publish_custom(&client, &*state, &fixed, plan, &options())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.already_published),
        (0, 5),
        "{again:?}"
    );
    assert_eq!(
        board_pin_count(&sim, &board, &tokens.access).await,
        before + 5
    );
}
