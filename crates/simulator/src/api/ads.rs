//! The operation user's account, ad accounts, and the simple ad-account analytics report
//! with its required parameters and 90-day limits.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::columns::COLUMNS;
use super::{page_size, query, sign};
use crate::bookmark::ListKind;
use crate::error::{ApiError, json_response};
use crate::generate as gen_;
use crate::params::Params;
use crate::state::Shared;
use crate::store::{AdAccountRec, Store};
use crate::wire::Page;

/// `GET /v5/user_account`.
pub async fn user_account(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let store = state.store();
    Ok(json_response(StatusCode::OK, &store.account(caller.user)))
}

/// `GET /v5/ad_accounts`.
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    let n = page_size(&params)?;
    let shared = params
        .bool("include_shared_accounts", true)
        .map_err(|e| ApiError::invalid(e.0))?;
    let context = u64::from(shared);
    let pos = super::bookmark(
        &state,
        &params,
        ListKind::AdAccounts,
        caller.user_id,
        context,
    )?;
    let from = pos.map_or(0, |p| p[0]) as usize;
    let store = state.store();
    let ids = &store.users[caller.user].ad_accounts;
    let end = (from + n).min(ids.len());
    let items = ids
        .get(from..end)
        .unwrap_or(&[])
        .iter()
        .filter_map(|id| store.ad_accounts.get(id))
        .map(|ad| store.ad_account_json(ad))
        .collect();
    let bookmark = (end < ids.len()).then(|| {
        sign(
            &state,
            ListKind::AdAccounts,
            caller.user_id,
            context,
            [end as u64, 0, 0],
        )
    });
    Ok(json_response(StatusCode::OK, &Page { items, bookmark }))
}

fn own_ad_account<'a>(
    store: &'a Store,
    caller: &Caller,
    text: &str,
) -> Result<&'a AdAccountRec, ApiError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "Parameter 'ad_account_id' must be at most 18 digits (was {text})"
        )));
    }
    let id: u64 = text
        .parse()
        .map_err(|_| ApiError::invalid("Parameter 'ad_account_id' is out of range"))?;
    match store.ad_accounts.get(&id) {
        Some(ad) if ad.owner == caller.user => Ok(ad),
        _ => Err(ApiError::forbidden()),
    }
}

/// `GET /v5/ad_accounts/{ad_account_id}`.
pub async fn get_one(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ad_account_id): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store();
    let ad = own_ad_account(&store, &caller, &ad_account_id)?;
    Ok(json_response(StatusCode::OK, &store.ad_account_json(ad)))
}

fn analytics_error(detail: impl Into<String>) -> ApiError {
    ApiError::invalid(format!(
        "Invalid ad account analytics parameters. {}",
        detail.into()
    ))
}

fn date_param(params: &Params, name: &str) -> Result<NaiveDate, ApiError> {
    let text = params.required(name).map_err(|e| analytics_error(e.0))?;
    if text.len() != 10 {
        return Err(analytics_error(format!("{name} must be YYYY-MM-DD.")));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| analytics_error(format!("{name} must be YYYY-MM-DD.")))
}

fn window_param(params: &Params, name: &str) -> Result<(), ApiError> {
    match params.get(name).map_err(|e| analytics_error(e.0))? {
        None => Ok(()),
        Some("0" | "1" | "7" | "14" | "30" | "60") => Ok(()),
        Some(other) => Err(analytics_error(format!(
            "{name} must be one of 0, 1, 7, 14, 30, 60 (was {other})."
        ))),
    }
}

/// The value of one metric, or `None` for descriptive columns the report leaves out.
fn metric(column: &str, h: u64) -> Option<Value> {
    let descriptive = [
        "_NAME",
        "_ID",
        "STATUS",
        "_TYPE",
        "LABEL",
        "_TAG",
        "OPTIMIZATION",
    ];
    if descriptive.iter().any(|d| column.ends_with(d))
        || column.starts_with("IS_")
        || column.contains("SPEND_CAP")
        || column.contains("BUDGET")
        || column.contains("BID_")
    {
        return None;
    }
    if column.contains("MICRO_DOLLAR") {
        return Some(Value::from(h % 50_000_000));
    }
    if column.contains("DOLLAR") {
        return Some(Value::from(((h % 500_000) as f64) / 100.0));
    }
    if ["RATE", "CTR", "ROAS", "FREQUENCY", "COST_PER"]
        .iter()
        .any(|k| column.contains(k))
    {
        return Some(Value::from(((h % 10_000) as f64) / 10_000.0));
    }
    Some(Value::from(h % 5_000))
}

/// `GET /v5/ad_accounts/{ad_account_id}/analytics`.
pub async fn analytics(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(ad_account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    let ad_id = {
        let store = state.store();
        own_ad_account(&store, &caller, &ad_account_id)?.id
    };
    let start = date_param(&params, "start_date")?;
    let end = date_param(&params, "end_date")?;
    let columns_text = params
        .required("columns")
        .map_err(|e| analytics_error(e.0))?;
    let granularity = params
        .required("granularity")
        .map_err(|e| analytics_error(e.0))?;
    if !["TOTAL", "DAY", "HOUR", "WEEK", "MONTH"].contains(&granularity) {
        return Err(analytics_error(format!(
            "granularity must be TOTAL, DAY, HOUR, WEEK or MONTH (was {granularity})."
        )));
    }
    let mut columns = Vec::new();
    for c in columns_text.split(',') {
        if !COLUMNS.contains(&c) {
            return Err(analytics_error(format!("Unknown column '{c}'.")));
        }
        columns.push(c);
    }
    for name in [
        "click_window_days",
        "engagement_window_days",
        "view_window_days",
    ] {
        window_param(&params, name)?;
    }
    match params
        .get("conversion_report_time")
        .map_err(|e| analytics_error(e.0))?
    {
        None | Some("TIME_OF_AD_ACTION") | Some("TIME_OF_CONVERSION") => {}
        Some(other) => {
            return Err(analytics_error(format!(
                "conversion_report_time has an invalid value (was {other})."
            )));
        }
    }
    let today = Utc::now().date_naive();
    if end < start {
        return Err(analytics_error("end_date is before start_date."));
    }
    if start < today - Days::days(90) {
        return Err(analytics_error(
            "start_date cannot be more than 90 days back from today.",
        ));
    }
    if end - start > Days::days(90) {
        return Err(analytics_error(
            "end_date cannot be more than 90 days past start_date.",
        ));
    }
    if granularity == "HOUR" && start < today - Days::days(8) {
        return Err(analytics_error(
            "With granularity HOUR, start_date cannot be more than 8 days back.",
        ));
    }

    let ad_text = ad_id.to_string();
    let row = |bucket: u64, date: Option<NaiveDate>, hour: Option<u32>| {
        let mut obj = Map::new();
        obj.insert("AD_ACCOUNT_ID".into(), Value::from(ad_text.clone()));
        if let Some(d) = date {
            obj.insert("DATE".into(), Value::from(d.format("%Y-%m-%d").to_string()));
        }
        if let Some(h) = hour {
            obj.insert("HOUR".into(), Value::from(h));
        }
        for c in &columns {
            if let Some(v) = metric(c, gen_::hash(&[ad_id, bucket, gen_::hash_str(c)])) {
                obj.insert((*c).to_owned(), v);
            }
        }
        Value::Object(obj)
    };
    let day_no = |d: NaiveDate| d.num_days_from_ce() as u64;
    let mut rows = Vec::new();
    match granularity {
        "TOTAL" => rows.push(row(day_no(start) << 20 | day_no(end), None, None)),
        "DAY" | "HOUR" => {
            let mut d = start;
            while d <= end {
                if granularity == "DAY" {
                    rows.push(row(day_no(d), Some(d), None));
                } else {
                    for h in 0..24 {
                        rows.push(row(day_no(d) * 24 + u64::from(h), Some(d), Some(h)));
                    }
                }
                d += Days::days(1);
            }
        }
        _ => {
            let mut d = start;
            while d <= end {
                rows.push(row(day_no(d), Some(d), None));
                let next = if granularity == "WEEK" {
                    d + Days::days(7 - i64::from(d.weekday().num_days_from_monday()))
                } else {
                    let (y, m) = if d.month() == 12 {
                        (d.year() + 1, 1)
                    } else {
                        (d.year(), d.month() + 1)
                    };
                    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(end + Days::days(1))
                };
                d = next;
            }
        }
    }
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}
