//! Ad accounts and their analytics.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use pinion_domain::Clock;
use pinion_pinterest::{
    AdAccountId, AnalyticsQuery, ApiError, Granularity, PageRequest, PinterestClient,
};
use serde_json::json;

use crate::fake_pinterest::FakePinterest;
use crate::{TOKEN, TestTokens, drain, test_config};

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

async fn setup_at(now: &str) -> (FakePinterest, PinterestClient) {
    let fake = FakePinterest::start(TOKEN).await;
    let clock = Arc::new(FixedClock(
        DateTime::parse_from_rfc3339(now).unwrap().to_utc(),
    ));
    let client = PinterestClient::builder(test_config(&fake), TestTokens::new(TOKEN))
        .clock(clock)
        .build()
        .unwrap();
    (fake, client)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test]
async fn analytics_sends_the_required_parameters_and_reads_the_array() {
    let (fake, client) = setup_at("2026-03-31T23:59:00Z").await;
    fake.set_object(
        "/v5/ad_accounts/547602124502/analytics",
        json!([
            {"DATE":"2026-03-01","AD_ACCOUNT_ID":"547602124502","SPEND_IN_DOLLAR":30,"TOTAL_CLICKTHROUGH":216},
            {"DATE":"2026-03-02","AD_ACCOUNT_ID":"547602124502","SPEND_IN_DOLLAR":1.5}
        ]),
    );
    let account = AdAccountId::new("547602124502").unwrap();
    let query = AnalyticsQuery::daily(
        date("2026-03-01"),
        date("2026-03-02"),
        vec!["SPEND_IN_DOLLAR".into(), "TOTAL_CLICKTHROUGH".into()],
    );
    let rows = client.ad_account_analytics(&account, &query).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].date(), Some(date("2026-03-01")));
    assert_eq!(rows[1].metric("TOTAL_CLICKTHROUGH"), None);
    let request = &fake.requests()[0];
    assert_eq!(request.param("start_date"), Some("2026-03-01"));
    assert_eq!(request.param("end_date"), Some("2026-03-02"));
    assert_eq!(
        request.param("columns"),
        Some("SPEND_IN_DOLLAR,TOTAL_CLICKTHROUGH")
    );
    assert_eq!(request.param("granularity"), Some("DAY"));
    assert_eq!(request.param("page_size"), None);
}

#[tokio::test]
async fn analytics_windows_pinterest_refuses_are_refused_before_any_request() {
    let (fake, client) = setup_at("2026-03-31T10:00:00Z").await;
    let account = AdAccountId::new("1").unwrap();
    let columns = vec!["SPEND_IN_DOLLAR".to_owned()];
    let too_old = AnalyticsQuery::daily(date("2025-12-30"), date("2026-01-05"), columns.clone());
    let err = client
        .ad_account_analytics(&account, &too_old)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::InvalidRequest { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("GET /ad_accounts/{ad_account_id}/analytics: invalid request"),
        "{text}"
    );
    assert!(text.contains("2025-12-31"), "{text}");

    let mut hourly = AnalyticsQuery::daily(date("2026-03-20"), date("2026-03-21"), columns.clone());
    hourly.granularity = Granularity::Hour;
    assert!(
        client
            .ad_account_analytics(&account, &hourly)
            .await
            .is_err()
    );

    let oldest_allowed = AnalyticsQuery::daily(date("2025-12-31"), date("2026-03-31"), columns);
    fake.set_object("/v5/ad_accounts/1/analytics", json!([]));
    assert!(
        client
            .ad_account_analytics(&account, &oldest_allowed)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn ad_accounts_are_listed_and_read() {
    let (fake, client) = setup_at("2026-03-31T10:00:00Z").await;
    fake.set_list(
        "/v5/ad_accounts",
        vec![json!({"id":"1","name":"A","currency":"USD","permissions":["OWNER"],"owner":{"username":"u"}})],
    );
    let (pages, err) = drain(client.ad_accounts(Some(false), PageRequest::first())).await;
    assert!(err.is_none());
    let account = &pages[0].items[0];
    assert_eq!(account.currency(), Some("USD"));
    assert_eq!(account.permissions(), ["OWNER"]);
    assert_eq!(
        fake.requests()[0].param("include_shared_accounts"),
        Some("false")
    );
}
