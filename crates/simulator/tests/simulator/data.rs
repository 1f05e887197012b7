//! Data behaviour: full pagination equals the expected ids, writes are visible to later
//! reads, filters, huge boards served by id, and the analytics report's rules.

use pinion_simulator::{DataShape, Stream};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ALL, ALL_READ, TestSim, assert_error, start, start_with, test_config};

/// Walks a list to the end with the given page size and returns the ids.
async fn walk(t: &TestSim, token: &str, path: &str, page_size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut bookmark: Option<String> = None;
    loop {
        let mut req = t
            .http
            .get(format!("{}{path}", t.sim.api_url()))
            .bearer_auth(token)
            .query(&[("page_size", page_size.to_string())]);
        if let Some(b) = &bookmark {
            req = req.query(&[("bookmark", b)]);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "listing {path}");
        let page: Value = res.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= page_size);
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["bookmark"].as_str() {
            Some(b) => {
                assert!(!items.is_empty(), "a page with a bookmark has items");
                bookmark = Some(b.to_owned());
            }
            None => {
                assert!(
                    page["bookmark"].is_null(),
                    "the last page has bookmark null"
                );
                return ids;
            }
        }
    }
}

#[tokio::test]
async fn paginating_every_stream_yields_exactly_the_expected_ids() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let control = t.sim.control();
    let boards = walk(&t, &token, "/boards", 2).await;
    assert_eq!(
        boards,
        control.expected_ids("alice", Stream::Boards).await.unwrap()
    );
    let mut board_pins = Vec::new();
    let mut sections = Vec::new();
    let mut section_pins = Vec::new();
    for board in &boards {
        board_pins.extend(walk(&t, &token, &format!("/boards/{board}/pins"), 4).await);
        let ids = walk(&t, &token, &format!("/boards/{board}/sections"), 1).await;
        for section in &ids {
            section_pins.extend(
                walk(
                    &t,
                    &token,
                    &format!("/boards/{board}/sections/{section}/pins"),
                    2,
                )
                .await,
            );
        }
        sections.extend(ids);
    }
    assert_eq!(
        board_pins,
        control
            .expected_ids("alice", Stream::BoardPins)
            .await
            .unwrap()
    );
    assert_eq!(
        sections,
        control
            .expected_ids("alice", Stream::BoardSections)
            .await
            .unwrap()
    );
    assert_eq!(
        section_pins,
        control
            .expected_ids("alice", Stream::BoardSectionPins)
            .await
            .unwrap()
    );
    assert_eq!(board_pins.len(), 5 * (12 + 2 * 3));
    let pins = walk(&t, &token, "/pins?include_protected_pins=true", 7).await;
    assert_eq!(
        pins,
        control.expected_ids("alice", Stream::Pins).await.unwrap()
    );
    let ads = walk(&t, &token, "/ad_accounts", 2).await;
    assert_eq!(
        ads,
        control
            .expected_ids("alice", Stream::AdAccounts)
            .await
            .unwrap()
    );
    let me: Value = t.get(&token, "/user_account").await.json().await.unwrap();
    assert_eq!(
        vec![me["id"].as_str().unwrap().to_owned()],
        control
            .expected_ids("alice", Stream::UserAccount)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn pins_list_hides_protected_pins_unless_asked() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let default = walk(&t, &token, "/pins", 250).await;
    let all = walk(&t, &token, "/pins?include_protected_pins=true", 250).await;
    assert!(default.len() < all.len());
}

#[tokio::test]
async fn the_same_seed_gives_the_same_data() {
    let a = start().await;
    let b = start().await;
    let ids_a = a
        .sim
        .control()
        .expected_ids("alice", Stream::BoardPins)
        .await
        .unwrap();
    let ids_b = b
        .sim
        .control()
        .expected_ids("alice", Stream::BoardPins)
        .await
        .unwrap();
    assert_eq!(ids_a, ids_b);
    let ta = a.access_token(ALL_READ).await;
    let tb = b.access_token(ALL_READ).await;
    let pa: Value = a
        .get(&ta, &format!("/pins/{}", ids_a[3]))
        .await
        .json()
        .await
        .unwrap();
    let pb: Value = b
        .get(&tb, &format!("/pins/{}", ids_a[3]))
        .await
        .json()
        .await
        .unwrap();
    // The same, but for the media URLs each simulator serves itself.
    let local = |pin: &Value, sim: &str| pin.to_string().replace(sim, "SIMULATOR");
    assert_eq!(local(&pa, &a.sim.base_url()), local(&pb, &b.sim.base_url()));
}

#[tokio::test]
async fn pins_have_realistic_media_and_some_are_videos() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let page: Value = t
        .get(&token, "/pins?page_size=100")
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    // Served by the simulator itself (`SimConfig::serve_media`), each URL
    // an image of the rendition's size.
    let media = format!("{}/media/", t.sim.base_url());
    for pin in items {
        let images = pin["media"]["images"].as_object().unwrap();
        for size in ["150x150", "400x300", "600x", "1200x"] {
            let url = images[size]["url"].as_str().unwrap();
            assert!(url.starts_with(&format!("{media}{size}/")), "{url}");
            assert!(images[size]["width"].is_u64());
        }
    }
    let first = items[0]["media"]["images"]["150x150"]["url"]
        .as_str()
        .unwrap();
    let image = reqwest::get(first).await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(
        image
            .text()
            .await
            .unwrap()
            .contains("width=\"150\" height=\"150\"")
    );
    assert!(items.iter().any(|p| p["media"]["media_type"] == "video"));
    assert!(items.iter().any(|p| p["media"]["media_type"] == "image"));
    let boards: Value = t.get(&token, "/boards").await.json().await.unwrap();
    assert!(boards["items"][0]["board_pins_modified_at"].is_string());
}

#[tokio::test]
async fn creative_type_filters_and_pin_metrics_apply() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let boards: Value = t.get(&token, "/boards").await.json().await.unwrap();
    let board = boards["items"][0]["id"].as_str().unwrap();
    let page: Value = t
        .get(
            &token,
            &format!("/boards/{board}/pins?creative_types=VIDEO&pin_metrics=true&page_size=250"),
        )
        .await
        .json()
        .await
        .unwrap();
    for pin in page["items"].as_array().unwrap() {
        assert_eq!(pin["creative_type"], "VIDEO");
        assert!(pin["pin_metrics"].is_object());
    }
    let res = t
        .get(&token, &format!("/boards/{board}/pins?creative_types=GIF"))
        .await;
    assert_error(res, 400, 1).await;
}

#[tokio::test]
async fn created_boards_and_pins_are_visible_to_later_reads_and_deletes_remove_them() {
    let t = start().await;
    let token = t.access_token(ALL).await;
    let res = t
        .send_json(
            Method::POST,
            &token,
            "/boards",
            &json!({"name": "Fresh", "privacy": "SECRET"}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 201);
    let board: Value = res.json().await.unwrap();
    let board_id = board["id"].as_str().unwrap().to_owned();
    assert_eq!(board["privacy"], "SECRET");
    let dup = t
        .send_json(Method::POST, &token, "/boards", &json!({"name": "fresh"}))
        .await;
    assert_error(dup, 400, 1).await;
    let res = t
        .send_json(
            Method::POST,
            &token,
            &format!("/boards/{board_id}/sections"),
            &json!({"name": "Part one"}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 201);
    let section: Value = res.json().await.unwrap();
    let res = t
        .send_json(
            Method::POST,
            &token,
            "/pins",
            &json!({
                "board_id": board_id,
                "board_section_id": section["id"],
                "title": "Hello",
                "media_source": {"source_type": "image_url", "url": "https://example.com/x.png"}
            }),
        )
        .await;
    assert_eq!(res.status().as_u16(), 201);
    let pin: Value = res.json().await.unwrap();
    let pin_id = pin["id"].as_str().unwrap().to_owned();
    let listed = walk(&t, &token, &format!("/boards/{board_id}/pins"), 10).await;
    assert_eq!(listed, vec![pin_id.clone()]);
    let in_section = walk(
        &t,
        &token,
        &format!(
            "/boards/{board_id}/sections/{}/pins",
            section["id"].as_str().unwrap()
        ),
        10,
    )
    .await;
    assert_eq!(in_section, vec![pin_id.clone()]);
    let got: Value = t
        .get(&token, &format!("/boards/{board_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["pin_count"], 1);

    let res = t
        .send_json(
            Method::PATCH,
            &token,
            &format!("/pins/{pin_id}"),
            &json!({"title": "Changed"}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let got: Value = t
        .get(&token, &format!("/pins/{pin_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["title"], "Changed");

    let res = t
        .send_json(
            Method::PATCH,
            &token,
            &format!("/boards/{board_id}"),
            &json!({"name": "Renamed", "privacy": "PUBLIC"}),
        )
        .await;
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(renamed["privacy"], "PUBLIC");

    let res = t
        .http
        .delete(format!("{}/pins/{pin_id}", t.sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    assert_error(t.get(&token, &format!("/pins/{pin_id}")).await, 404, 50).await;
    let res = t
        .http
        .delete(format!("{}/boards/{board_id}", t.sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_error(t.get(&token, &format!("/boards/{board_id}")).await, 404, 40).await;
}

#[tokio::test]
async fn moving_a_generated_pin_updates_both_boards() {
    let t = start().await;
    let token = t.access_token(ALL).await;
    let boards = walk(&t, &token, "/boards?privacy=PUBLIC", 250).await;
    let (a, b) = (&boards[0], &boards[1]);
    let before_a = walk(&t, &token, &format!("/boards/{a}/pins"), 250).await;
    let pin = &before_a[before_a.len() - 1];
    let res = t
        .send_json(
            Method::PATCH,
            &token,
            &format!("/pins/{pin}"),
            &json!({"board_id": b}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let moved: Value = res.json().await.unwrap();
    assert_eq!(moved["board_id"], b.as_str());
    let after_a = walk(&t, &token, &format!("/boards/{a}/pins"), 250).await;
    let after_b = walk(&t, &token, &format!("/boards/{b}/pins"), 250).await;
    assert_eq!(after_a.len(), before_a.len() - 1);
    assert_eq!(&after_b[0], pin);
}

#[tokio::test]
async fn a_million_pin_board_serves_any_pin_by_id_and_its_last_page() {
    let t = start_with(test_config(), DataShape::single_board(1_000_000)).await;
    let token = t.access_token(ALL_READ).await;
    let boards: Value = t.get(&token, "/boards").await.json().await.unwrap();
    let board = &boards["items"][0];
    assert_eq!(board["pin_count"], 1_000_000);
    let first: Value = t
        .get(
            &token,
            &format!("/boards/{}/pins?page_size=1", board["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    let first_id: u64 = first["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let last = first_id + 999_999;
    let pin: Value = t
        .get(&token, &format!("/pins/{last}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pin["id"], last.to_string());
    assert_error(t.get(&token, &format!("/pins/{}", last + 1)).await, 404, 50).await;
}

#[tokio::test]
async fn analytics_enforce_required_parameters_and_90_day_limits() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let ads: Value = t.get(&token, "/ad_accounts").await.json().await.unwrap();
    let ad = ads["items"][0]["id"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| {
        (today - chrono::Duration::days(n))
            .format("%Y-%m-%d")
            .to_string()
    };
    let path = |q: String| format!("/ad_accounts/{ad}/analytics?{q}");
    let good = format!(
        "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR,TOTAL_CLICKTHROUGH&granularity=DAY",
        day(29),
        day(0)
    );
    let res = t.get(&token, &path(good)).await;
    assert_eq!(res.status().as_u16(), 200);
    let rows: Value = res.json().await.unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 30);
    assert_eq!(rows[0]["AD_ACCOUNT_ID"], ad.as_str());
    assert!(rows[0]["SPEND_IN_DOLLAR"].is_number());
    assert!(rows[0]["DATE"].is_string());
    let bad = [
        format!(
            "end_date={}&columns=SPEND_IN_DOLLAR&granularity=DAY",
            day(0)
        ),
        format!("start_date={}&end_date={}&granularity=DAY", day(5), day(0)),
        format!(
            "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR",
            day(5),
            day(0)
        ),
        format!(
            "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR&granularity=DAY",
            day(91),
            day(0)
        ),
        format!(
            "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR&granularity=DAY",
            day(0),
            day(5)
        ),
        format!(
            "start_date={}&end_date={}&columns=NOT_A_COLUMN&granularity=DAY",
            day(5),
            day(0)
        ),
        format!(
            "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR&granularity=HOUR",
            day(9),
            day(0)
        ),
        format!(
            "start_date={}&end_date={}&columns=SPEND_IN_DOLLAR&granularity=YEAR",
            day(5),
            day(0)
        ),
        format!(
            "start_date=2024-1-1&end_date={}&columns=SPEND_IN_DOLLAR&granularity=DAY",
            day(0)
        ),
    ];
    for q in bad {
        assert_error(t.get(&token, &path(q)).await, 400, 1).await;
    }
    let total: Value = t
        .get(
            &token,
            &path(format!(
                "start_date={}&end_date={}&columns=TOTAL_IMPRESSION&granularity=TOTAL",
                day(10),
                day(0)
            )),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(total.as_array().unwrap().len(), 1);
    assert!(total[0].get("DATE").is_none());
}

#[tokio::test]
async fn another_users_ad_account_is_refused() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    assert_error(t.get(&token, "/ad_accounts/123").await, 403, 29).await;
}

#[tokio::test]
async fn the_privacy_filter_lists_only_boards_of_that_privacy() {
    let t = start().await;
    let token = t.access_token(ALL_READ).await;
    let all: Value = t
        .get(&token, "/boards?page_size=250")
        .await
        .json()
        .await
        .unwrap();
    let of = |privacy: &str| -> Vec<String> {
        let mut ids: Vec<String> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["privacy"] == privacy)
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    // Page by page (two a page), so the filter also holds across bookmarks.
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    for privacy in ["PUBLIC", "PROTECTED", "SECRET"] {
        let expected = of(privacy);
        assert!(!expected.is_empty(), "the test data has a {privacy} board");
        let listed = walk(&t, &token, &format!("/boards?privacy={privacy}"), 2).await;
        assert_eq!(sorted(listed), expected, "privacy={privacy}");
    }
    let listed = walk(&t, &token, "/boards?privacy=PUBLIC_AND_SECRET", 2).await;
    assert_eq!(
        sorted(listed),
        sorted([of("PUBLIC"), of("SECRET")].concat()),
        "privacy=PUBLIC_AND_SECRET"
    );
    let listed = walk(&t, &token, "/boards?privacy=ALL", 2).await;
    assert_eq!(listed.len(), all["items"].as_array().unwrap().len());
    assert_error(t.get(&token, "/boards?privacy=HIDDEN").await, 400, 1).await;
    assert_error(t.get(&token, "/boards?privacy=public").await, 400, 1).await;

    // Without boards:read_secret (a simulator of its own, since a token covers
    // every scope approved before): secret boards are never listed, and asking
    // for them is a missing scope.
    let t = start().await;
    let token = t.access_token("boards:read").await;
    for privacy in ["PUBLIC", "PROTECTED"] {
        let listed = walk(&t, &token, &format!("/boards?privacy={privacy}"), 2).await;
        assert_eq!(sorted(listed), of(privacy), "privacy={privacy}");
    }
    assert_error(t.get(&token, "/boards?privacy=SECRET").await, 401, 3).await;
    assert_error(
        t.get(&token, "/boards?privacy=PUBLIC_AND_SECRET").await,
        401,
        3,
    )
    .await;
}
