//! Writes: bodies, status codes, and no automatic repeat after a failure
//! that may have reached Pinterest (SECURITY.md R28).

use std::time::Duration;

use pinion_pinterest::{
    ApiError, BoardCreate, BoardId, BoardPrivacy, BoardSectionCreate, BoardUpdate, ErrorAction,
    HttpMethod, MediaSource, PinCreate, PinId, PinUpdate, PinterestClient, RateCategory,
    TransientCause,
};
use serde_json::json;

use crate::fake_pinterest::{FakePinterest, Reply};
use crate::{TOKEN, TestTokens, setup, test_config};

fn new_pin() -> PinCreate {
    let mut body = PinCreate::new(
        BoardId::new("42").unwrap(),
        MediaSource::image_url("https://example.com/a.jpg"),
    );
    body.title = Some("A title".into());
    body.alt_text = Some("alt".into());
    body
}

#[tokio::test]
async fn create_pin_posts_json_and_reads_the_201_answer() {
    let (fake, client) = setup().await;
    let pin = client.create_pin(&new_pin()).await.unwrap();
    assert_eq!(pin.title(), Some("A title"));
    let request = &fake.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v5/pins");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.json_body(),
        json!({"board_id":"42","media_source":{"source_type":"image_url","url":"https://example.com/a.jpg"},"title":"A title","alt_text":"alt"})
    );
}

#[tokio::test]
async fn a_5xx_on_create_pin_is_ambiguous_and_sent_once() {
    for reply in [
        Reply::error(500, 0, "Internal"),
        Reply::error(503, 0, "Unavailable"),
        Reply::Drop,
        Reply::Truncated {
            prefix: r#"{"id":"#,
        },
        Reply::Raw {
            status: 201,
            body: "<html>",
        },
    ] {
        let (fake, client) = setup().await;
        fake.script([reply.clone()]);
        let err = client.create_pin(&new_pin()).await.unwrap_err();
        assert!(
            matches!(err, ApiError::Ambiguous { .. }),
            "{reply:?}: {err}"
        );
        assert_eq!(err.action(), ErrorAction::Reconcile);
        assert!(
            err.to_string().starts_with("POST /pins: outcome unknown"),
            "{err}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(fake.request_count(), 1, "{reply:?} was sent again");
    }
}

#[tokio::test]
async fn a_write_that_times_out_is_ambiguous() {
    let fake = FakePinterest::start(TOKEN).await;
    let mut config = test_config(&fake);
    config.request_timeout = Duration::from_millis(200);
    let client = PinterestClient::new(config, TestTokens::new(TOKEN)).unwrap();
    fake.script([Reply::Delay(Duration::from_secs(1))]);
    let err = client.create_pin(&new_pin()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Ambiguous {
                cause: TransientCause::Timeout,
                ..
            }
        ),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_write_answered_429_was_not_applied_and_is_sent_again() {
    let (fake, client) = setup().await;
    fake.script([Reply::rate_limited("0.2")]);
    let pin = client.create_pin(&new_pin()).await.unwrap();
    assert_eq!(pin.title(), Some("A title"));
    assert_eq!(fake.request_count(), 2);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_pin_over_pinterest_limits_is_refused_before_sending() {
    let (fake, client) = setup().await;
    let mut body = new_pin();
    body.title = Some("t".repeat(101));
    let err = client.create_pin(&body).await.unwrap_err();
    assert!(matches!(err, ApiError::InvalidRequest { .. }), "{err}");
    assert!(err.to_string().contains("title"), "{err}");
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn a_400_on_create_pin_is_a_clean_rejection() {
    let (fake, client) = setup().await;
    fake.script([Reply::error(400, 1, "Invalid parameters.")]);
    let err = client.create_pin(&new_pin()).await.unwrap_err();
    assert!(matches!(err, ApiError::BadRequest { .. }), "{err}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn boards_and_sections_are_created_updated_and_deleted() {
    let (fake, client) = setup().await;
    let mut create = BoardCreate::named("Summer recipes");
    create.privacy = Some(BoardPrivacy::Secret);
    let board = client.create_board(&create).await.unwrap();
    assert_eq!(board.name(), Some("Summer recipes"));
    assert_eq!(
        fake.requests()[0].json_body(),
        json!({"name":"Summer recipes","privacy":"SECRET"})
    );

    fake.set_object("/v5/boards/7", json!({"id":"7","name":"Old"}));
    let update = BoardUpdate {
        name: Some("New".into()),
        ..BoardUpdate::default()
    };
    let updated = client
        .update_board(&BoardId::new("7").unwrap(), &update)
        .await
        .unwrap();
    assert_eq!(updated.name(), Some("New"));
    assert_eq!(fake.requests()[1].method, "PATCH");

    client
        .delete_board(&BoardId::new("7").unwrap())
        .await
        .unwrap();
    let request = &fake.requests()[2];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", "/v5/boards/7")
    );

    let section = client
        .create_board_section(
            &BoardId::new("7").unwrap(),
            &BoardSectionCreate {
                name: "Salads".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(section.name(), Some("Salads"));
    assert_eq!(fake.requests()[3].path, "/v5/boards/7/sections");
}

#[tokio::test]
async fn pins_are_updated_and_deleted() {
    let (fake, client) = setup().await;
    fake.set_object("/v5/pins/5", json!({"id":"5","title":"old","extra":1}));
    let update = PinUpdate {
        title: Some("new".into()),
        ..PinUpdate::default()
    };
    let pin = client
        .update_pin(&PinId::new("5").unwrap(), &update)
        .await
        .unwrap();
    assert_eq!(pin.title(), Some("new"));
    assert_eq!(pin.as_json()["extra"], 1);
    client.delete_pin(&PinId::new("5").unwrap()).await.unwrap();
    let err = client
        .delete_pin(&PinId::new("5").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn acting_for_an_ad_account_adds_it_where_the_operation_takes_it() {
    let (fake, client) = setup().await;
    let business = client.acting_for("123456".parse().unwrap());
    fake.set_object("/v5/user_account", json!({"id":"1"}));
    fake.set_object("/v5/ad_accounts/999", json!({"id":"999"}));
    business.user_account().await.unwrap();
    business.ad_account(&"999".parse().unwrap()).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].param("ad_account_id"), Some("123456"));
    assert_eq!(requests[1].param("ad_account_id"), None);
}

#[tokio::test]
async fn custom_operations_go_through_the_same_machinery() {
    let (fake, client) = setup().await;
    let endpoint = pinion_pinterest::Endpoint::new(
        "catalogs/list",
        HttpMethod::Get,
        "/catalogs/{catalog_id}",
        RateCategory::CatalogsRead,
    )
    .unwrap();
    fake.set_object("/v5/catalogs/abc_1", json!({"id":"abc_1"}));
    fake.script([Reply::error(502, 0, "bad gateway")]);
    let value = client
        .get_json(&endpoint, &[("catalog_id", "abc_1")], &[("x", "y z")])
        .await
        .unwrap();
    assert_eq!(value["id"], "abc_1");
    assert_eq!(fake.requests()[1].param("x"), Some("y z"));
    let err = client
        .get_json(&endpoint, &[("catalog_id", "../boards")], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::InvalidRequest { .. }), "{err}");
    assert_eq!(fake.request_count(), 2);

    let write = pinion_pinterest::Endpoint::new(
        "pins/save",
        HttpMethod::Post,
        "/pins/{pin_id}/save",
        RateCategory::OrgWrite,
    )
    .unwrap();
    fake.script([Reply::error(500, 0, "boom")]);
    let err = client
        .write_json(
            &write,
            &[("pin_id", "1")],
            &[],
            Some(&json!({"board_id":"2"})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Ambiguous { .. }), "{err}");
    assert_eq!(fake.request_count(), 3);
}
