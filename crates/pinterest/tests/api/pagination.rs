//! Bookmark pagination: parameters, resume, loops and empty pages.

use futures::StreamExt;
use pinion_pinterest::{
    ApiError, BoardId, BoardPrivacyFilter, BoardsQuery, Bookmark, PageRequest, PageSize,
    PaginationProblem, PinsQuery, SectionId,
};
use serde_json::json;

use crate::fake_pinterest::Reply;
use crate::{TOKEN, boards, drain, pins, setup};

#[tokio::test]
async fn boards_follow_bookmarks_with_page_size_250_until_the_bookmark_is_null() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(600));
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [250, 250, 100]
    );
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|b| b.id().to_string()))
        .collect();
    let expected: Vec<String> = boards(600)
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    assert!(pages[2].is_last());
    assert_eq!(pages[1].bookmark, Bookmark::new("bm~250"));
    assert_eq!(pages[1].next_bookmark, Bookmark::new("bm~500"));

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/v5/boards");
        assert_eq!(request.params("page_size"), ["250"]);
        let expected_bookmark = [None, Some("bm~250"), Some("bm~500")][i];
        assert_eq!(request.param("bookmark"), expected_bookmark);
        assert_eq!(request.param("privacy"), None);
    }
}

#[tokio::test]
async fn every_request_carries_the_bearer_header_and_no_token_in_the_url() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(300));
    let (pages, _) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert_eq!(pages.len(), 2);
    for request in fake.requests() {
        assert_eq!(
            request.authorization(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(
            !request.path.contains("CANARY") && !request.raw_query.contains("CANARY"),
            "{request:?}"
        );
        assert!(request.param("access_token").is_none());
        assert_eq!(request.headers["accept"], "application/json");
        let encodings = request.headers["accept-encoding"].to_str().unwrap();
        assert!(encodings.contains("gzip"), "{encodings}");
    }
}

#[tokio::test]
async fn privacy_filter_and_page_size_are_sent_as_given() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(5));
    let query = BoardsQuery {
        privacy: Some(BoardPrivacyFilter::PublicAndSecret),
    };
    let page = PageRequest {
        page_size: PageSize::new(2).unwrap(),
        start: None,
    };
    let (pages, err) = drain(client.boards(query, page)).await;
    assert!(err.is_none());
    assert_eq!(pages.len(), 3);
    for request in fake.requests() {
        assert_eq!(request.param("privacy"), Some("PUBLIC_AND_SECRET"));
        assert_eq!(request.param("page_size"), Some("2"));
    }
}

#[tokio::test]
async fn a_stream_resumes_from_a_saved_bookmark() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(600));
    let saved = Bookmark::new("bm~500").unwrap();
    let (pages, err) =
        drain(client.boards(BoardsQuery::default(), PageRequest::resume(saved))).await;
    assert!(err.is_none());
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].items.len(), 100);
    assert_eq!(pages[0].items[0].id().as_str(), "100500");
    assert_eq!(fake.requests()[0].param("bookmark"), Some("bm~500"));
}

#[tokio::test]
async fn board_and_section_pins_use_their_paths_and_options() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards/77/pins", pins("77", 3));
    fake.set_list("/v5/boards/77/sections/88/pins", pins("77", 2));
    let board = BoardId::new("77").unwrap();
    let query = PinsQuery {
        creative_types: vec!["REGULAR".into(), "VIDEO".into()],
        pin_metrics: true,
    };
    let (pages, _) = drain(client.board_pins(&board, &query, PageRequest::first())).await;
    assert_eq!(pages[0].items.len(), 3);
    assert_eq!(pages[0].items[0].board_id(), Some(board.clone()));
    let section = SectionId::new("88").unwrap();
    let (pages, _) = drain(client.board_section_pins(&board, &section, PageRequest::first())).await;
    assert_eq!(pages[0].items.len(), 2);
    let requests = fake.requests();
    assert_eq!(requests[0].params("creative_types"), ["REGULAR", "VIDEO"]);
    assert_eq!(requests[0].param("pin_metrics"), Some("true"));
    assert_eq!(requests[1].path, "/v5/boards/77/sections/88/pins");
}

#[tokio::test]
async fn a_repeated_bookmark_ends_the_stream_with_a_loop_error() {
    let (fake, client) = setup().await;
    let page = |bookmark: &str| Reply::Json {
        status: 200,
        body: json!({"items": boards(2), "bookmark": bookmark}),
        headers: vec![],
    };
    fake.script([page("a"), page("b"), page("a")]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert_eq!(pages.len(), 2);
    let err = err.expect("a loop error");
    assert!(
        matches!(
            err,
            ApiError::Pagination {
                problem: PaginationProblem::BookmarkRepeated { pages: 3 },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("GET /boards: "), "{err}");
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn a_bookmark_equal_to_the_resume_point_is_a_loop() {
    let (fake, client) = setup().await;
    fake.script([Reply::Json {
        status: 200,
        body: json!({"items": [], "bookmark": "same"}),
        headers: vec![],
    }]);
    let start = PageRequest::resume(Bookmark::new("same").unwrap());
    let (pages, err) = drain(client.boards(BoardsQuery::default(), start)).await;
    assert!(pages.is_empty());
    assert!(matches!(err, Some(ApiError::Pagination { .. })));
}

#[tokio::test]
async fn empty_pages_that_keep_a_bookmark_are_bounded() {
    let (fake, client) = setup().await;
    fake.script((0..10).map(|i| Reply::Json {
        status: 200,
        body: json!({"items": [], "bookmark": format!("e{i}")}),
        headers: vec![],
    }));
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert_eq!(
        pages.len(),
        5,
        "five empty pages are passed on, the sixth fails"
    );
    assert!(
        matches!(
            err,
            Some(ApiError::Pagination {
                problem: PaginationProblem::EmptyPagesWithBookmark { pages: 6 },
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn one_empty_page_with_a_bookmark_then_items_is_fine() {
    let (fake, client) = setup().await;
    fake.script([
        Reply::Json {
            status: 200,
            body: json!({"items": [], "bookmark": "x"}),
            headers: vec![],
        },
        Reply::Json {
            status: 200,
            body: json!({"items": boards(1)}),
            headers: vec![],
        },
    ]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none());
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 1);
}

#[tokio::test]
async fn invalid_items_are_reported_and_the_rest_of_the_page_is_kept() {
    let (fake, client) = setup().await;
    fake.script([Reply::Json {
        status: 200,
        body: json!({"items": [{"id": "1", "name": "ok"}, {"id": "../2"}, "not an object"], "bookmark": null}),
        headers: vec![],
    }]);
    let (pages, err) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    assert!(err.is_none());
    assert_eq!(pages[0].items.len(), 1);
    assert_eq!(pages[0].invalid.len(), 2);
    assert_eq!(pages[0].invalid[0].raw["id"], "../2");
}

#[tokio::test]
async fn pages_are_fetched_only_as_the_caller_reads_them() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/boards", boards(1000));
    let mut stream = client.boards(BoardsQuery::default(), PageRequest::first());
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.items.len(), 250);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(fake.request_count(), 1, "the pager ran ahead of the caller");
    drop(stream);
}

#[tokio::test]
async fn unknown_fields_survive_a_round_trip_through_the_models() {
    let (fake, client) = setup().await;
    let original = json!({"id": "5", "name": "B", "description": null, "brand_new": {"nested": [1, {"k": null}]}});
    fake.set_list("/v5/boards", vec![original.clone()]);
    let (pages, _) = drain(client.boards(BoardsQuery::default(), PageRequest::first())).await;
    let written = serde_json::to_value(&pages[0].items[0]).unwrap();
    assert_eq!(written, original);
    assert_eq!(
        serde_json::to_string(&pages[0].items[0]).unwrap(),
        r#"{"id":"5","name":"B","description":null,"brand_new":{"nested":[1,{"k":null}]}}"#
    );
}

#[tokio::test]
async fn pin_list_options_are_sent() {
    let (fake, client) = setup().await;
    fake.set_list("/v5/pins", pins("9", 3));
    let query = pinion_pinterest::PinListQuery {
        pin_filter: Some(pinion_pinterest::PinFilter::ExcludeRepins),
        include_protected_pins: true,
        private_only: false,
        pins: PinsQuery::default(),
    };
    let (pages, _) = drain(client.pins(&query, PageRequest::first())).await;
    assert_eq!(pages[0].items.len(), 3);
    let request = &fake.requests()[0];
    assert_eq!(request.param("pin_filter"), Some("exclude_repins"));
    assert_eq!(request.param("include_protected_pins"), Some("true"));
    assert_eq!(request.param("pin_type"), None);
    assert_eq!(request.param("page_size"), Some("250"));
}
