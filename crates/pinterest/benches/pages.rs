//! Throughput of the client's read path over loopback: pages of 250 pins
//! served by a minimal in-process server, fetched, parsed into `Pin`
//! records (or kept as bytes with only the id read: `board_pins_raw`) and
//! dropped. Measures records per second of the client alone
//! (HTTP, body read, JSON parse, record checks), with pacing off.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::response::IntoResponse;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use pinion_domain::AccessToken;
use pinion_pinterest::{
    BaseUrl, BoardId, ClientConfig, PageRequest, PinsQuery, PinterestClient, RateBudgets,
    StaticTokenSource,
};
use serde_json::json;

const PAGES: usize = 40;
const PAGE_SIZE: usize = 250;

/// One page body per offset, built once: pins of a realistic size (~1 KB).
fn page_bodies() -> Arc<Vec<bytes::Bytes>> {
    let pages = (0..PAGES)
        .map(|p| {
            let items: Vec<_> = (0..PAGE_SIZE)
                .map(|i| {
                    let n = p * PAGE_SIZE + i;
                    json!({
                        "id": format!("{}", 813_744_226_420_000_000u64 + n as u64),
                        "created_at": "2024-01-02T03:04:05",
                        "link": format!("https://example.com/articles/{n}"),
                        "title": format!("Pin number {n}"),
                        "description": "A description of moderate length, as pins usually have one.",
                        "dominant_color": "#6E7874",
                        "alt_text": null,
                        "creative_type": "REGULAR",
                        "board_id": "549755885175",
                        "board_section_id": null,
                        "board_owner": {"username": "someone"},
                        "is_owner": true,
                        "is_standard": true,
                        "has_been_promoted": false,
                        "parent_pin_id": null,
                        "pin_metrics": null,
                        "media": {"media_type": "image", "images": {
                            "150x150": {"width": 150, "height": 150, "url": format!("https://i.example.com/150x150/{n}.jpg")},
                            "400x300": {"width": 400, "height": 300, "url": format!("https://i.example.com/400x300/{n}.jpg")},
                            "600x": {"width": 600, "height": 600, "url": format!("https://i.example.com/600x/{n}.jpg")},
                            "1200x": {"width": 1200, "height": 1200, "url": format!("https://i.example.com/1200x/{n}.jpg")}
                        }}
                    })
                })
                .collect();
            let bookmark = if p + 1 < PAGES { json!(format!("{}", p + 1)) } else { json!(null) };
            bytes::Bytes::from(serde_json::to_vec(&json!({"items": items, "bookmark": bookmark})).unwrap())
        })
        .collect();
    Arc::new(pages)
}

fn bench_pages(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bodies = page_bodies();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/v5/boards/{board_id}/pins",
            axum::routing::get(
                move |Query(q): Query<std::collections::HashMap<String, String>>| {
                    let bodies = Arc::clone(&bodies);
                    async move {
                        let page: usize =
                            q.get("bookmark").and_then(|b| b.parse().ok()).unwrap_or(0);
                        ([("content-type", "application/json")], bodies[page].clone())
                            .into_response()
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let config = ClientConfig {
        base_url: BaseUrl::parse(&format!("http://{addr}/v5")).unwrap(),
        budgets: RateBudgets::unlimited(),
        request_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    };
    let client = PinterestClient::new(
        config,
        Arc::new(StaticTokenSource::new(AccessToken::new("bench-token"))),
    )
    .unwrap();
    let board = BoardId::new("549755885175").unwrap();

    let mut group = c.benchmark_group("board_pins");
    group.throughput(Throughput::Elements((PAGES * PAGE_SIZE) as u64));
    group.sample_size(10);
    group.bench_function("10000_pins_in_pages_of_250", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut stream = client.board_pins(&board, &PinsQuery::default(), PageRequest::first());
            let mut n = 0;
            while let Some(page) = stream.next().await {
                n += page.unwrap().items.len();
            }
            assert_eq!(n, PAGES * PAGE_SIZE);
        })
    });
    group.bench_function("10000_raw_pins_in_pages_of_250", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut stream =
                client.board_pins_raw(&board, &PinsQuery::default(), PageRequest::first());
            let mut n = 0;
            while let Some(page) = stream.next().await {
                n += page.unwrap().items.len();
            }
            assert_eq!(n, PAGES * PAGE_SIZE);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_pages);
criterion_main!(benches);
