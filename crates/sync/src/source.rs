//! Reading Pinterest: each stream is split into partitions (the whole list,
//! one board, one board section, one ad account) and each partition is read
//! page by page, every page sent to the stream's writer with the progress
//! the checkpoint will record once the page is committed.
//!
//! Nothing is collected: a partition holds one page at a time, and the only
//! lists kept are the ids that drive fan-out (the boards of the account and
//! the sections of the board being read).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use futures::StreamExt;
use pinion_domain::Scope;
use pinion_domain::ScopeSet;
use pinion_pinterest::{
    AdAccountId, AnalyticsQuery, ApiError, BoardId, BoardPrivacyFilter, BoardsQuery, Bookmark,
    Granularity, Page, PageRequest, PageSize, PageStream, PinListQuery, PinsQuery, PinterestClient,
    RawRecord, RecordId, SectionId,
};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::error::SyncError;
use crate::state::PartitionProgress;
use crate::stream::{StreamName, SyncRecord};

/// The analytics columns read when none are configured.
pub const DEFAULT_ANALYTICS_COLUMNS: &[&str] = &[
    "SPEND_IN_DOLLAR",
    "PAID_IMPRESSION",
    "TOTAL_CLICKTHROUGH",
    "TOTAL_IMPRESSION",
    "TOTAL_ENGAGEMENT",
    "CTR",
];

/// Which days of ad-account analytics a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsWindow {
    /// Days back from today (UTC) on a first run, at most 90 (Pinterest's
    /// limit).
    pub days: u32,
    /// Days re-read before the last date already read, because Pinterest
    /// revises recent days.
    pub lookback_days: u32,
    /// Metric columns.
    pub columns: Vec<String>,
}

impl Default for AnalyticsWindow {
    fn default() -> Self {
        Self {
            days: 90,
            lookback_days: 7,
            columns: DEFAULT_ANALYTICS_COLUMNS
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
        }
    }
}

/// One committed-page-to-be.
pub(crate) struct PageMsg {
    pub(crate) partition: String,
    pub(crate) records: Vec<SyncRecord>,
    pub(crate) invalid: u64,
    pub(crate) progress: PartitionProgress,
}

/// What a board-driven stream needs to know about a board.
#[derive(Debug, Clone)]
pub(crate) struct BoardInfo {
    pub(crate) id: BoardId,
    pub(crate) secret: bool,
    pub(crate) pins_modified_at: Option<String>,
}

/// Everything partition readers share.
pub(crate) struct SourceContext {
    pub(crate) client: PinterestClient,
    pub(crate) scopes: ScopeSet,
    pub(crate) page_size: PageSize,
    pub(crate) analytics: AnalyticsWindow,
    pub(crate) clock: Arc<dyn pinion_domain::Clock>,
}

impl SourceContext {
    fn page(&self, bookmark: Option<&str>) -> PageRequest {
        PageRequest {
            page_size: self.page_size,
            start: bookmark.and_then(Bookmark::new),
        }
    }

    /// The privacy filter for listing boards: every board the scopes allow.
    pub(crate) fn boards_query(&self) -> BoardsQuery {
        BoardsQuery {
            privacy: self
                .scopes
                .contains(Scope::BoardsReadSecret)
                .then_some(BoardPrivacyFilter::All),
        }
    }
}

pub(crate) fn source_error(
    stream: StreamName,
    partition: Option<String>,
) -> impl FnOnce(ApiError) -> SyncError {
    move |source| SyncError::Source {
        stream,
        partition,
        source,
    }
}

/// Lists the account's boards (ids, privacy and change marker only).
pub(crate) async fn list_boards(
    ctx: &SourceContext,
    stream: StreamName,
) -> Result<Vec<BoardInfo>, SyncError> {
    let mut boards = Vec::new();
    let mut pages = ctx.client.boards(ctx.boards_query(), ctx.page(None));
    while let Some(page) = pages.next().await {
        let page = page.map_err(source_error(stream, Some("listing boards".into())))?;
        for board in page.items {
            boards.push(BoardInfo {
                id: board.id().clone(),
                secret: board.privacy() == Some("SECRET"),
                pins_modified_at: board.board_pins_modified_at_raw().map(str::to_owned),
            });
        }
    }
    Ok(boards)
}

/// Sends the pages of `pages` to the writer. Returns `Ok(false)` when the
/// writer has stopped (its own error then explains the failure).
pub(crate) async fn forward<T>(
    stream: StreamName,
    partition: &str,
    label: &str,
    mut pages: PageStream<T>,
    tx: &mpsc::Sender<PageMsg>,
    watermark: Option<&str>,
    to_record: impl Fn(T) -> SyncRecord,
) -> Result<bool, SyncError> {
    while let Some(page) = pages.next().await {
        let page: Page<T> = page.map_err(source_error(stream, Some(label.to_owned())))?;
        for item in &page.invalid {
            tracing::warn!(stream = %stream, partition = label, reason = %item.reason, "Pinterest sent an item that is not a valid record; it is counted and left out.");
        }
        let done = page.next_bookmark.is_none();
        let msg = PageMsg {
            partition: partition.to_owned(),
            invalid: page.invalid.len() as u64,
            records: page.items.into_iter().map(&to_record).collect(),
            progress: PartitionProgress {
                bookmark: page.next_bookmark.map(|b| b.as_str().to_owned()),
                done,
                watermark: if done {
                    watermark.map(str::to_owned)
                } else {
                    None
                },
            },
        };
        if tx.send(msg).await.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn keyed(key: &str, raw: Map<String, Value>) -> SyncRecord {
    SyncRecord::from_object(key, raw)
}

/// A record kept as Pinterest's bytes, keyed by its id.
fn raw<I: RecordId>(record: RawRecord<I>) -> SyncRecord {
    let (id, raw) = record.into_parts();
    SyncRecord {
        key: id.as_str().to_owned(),
        raw,
    }
}

/// Reads a stream that is one list (or one object): `user_account`,
/// `boards`, `pins`, `ad_accounts`.
pub(crate) async fn read_single(
    ctx: Arc<SourceContext>,
    stream: StreamName,
    progress: Option<PartitionProgress>,
    tx: mpsc::Sender<PageMsg>,
) -> Result<(), SyncError> {
    let progress = progress.unwrap_or_default();
    if progress.done {
        return Ok(());
    }
    let start = ctx.page(progress.bookmark.as_deref());
    let label = stream.as_str();
    match stream {
        StreamName::UserAccount => {
            let account = ctx
                .client
                .user_account()
                .await
                .map_err(source_error(stream, None))?;
            let key = account
                .id()
                .or(account.username())
                .unwrap_or_default()
                .to_owned();
            let msg = PageMsg {
                partition: String::new(),
                records: vec![keyed(&key, account.into_json())],
                invalid: 0,
                progress: PartitionProgress {
                    bookmark: None,
                    done: true,
                    watermark: None,
                },
            };
            let _ = tx.send(msg).await;
        }
        StreamName::Boards => {
            let pages = ctx.client.boards_raw(ctx.boards_query(), start);
            forward(stream, "", label, pages, &tx, None, raw).await?;
        }
        StreamName::Pins => {
            let query = PinListQuery {
                include_protected_pins: true,
                ..PinListQuery::default()
            };
            let pages = ctx.client.pins_raw(&query, start);
            forward(stream, "", label, pages, &tx, None, raw).await?;
        }
        StreamName::AdAccounts => {
            let pages = ctx.client.ad_accounts_raw(None, start);
            forward(stream, "", label, pages, &tx, None, raw).await?;
        }
        _ => unreachable!("read_single is only called for single-list streams"),
    }
    Ok(())
}

/// Reads one board of a per-board stream, resuming from `done` partitions
/// and bookmarks in `saved`.
pub(crate) async fn read_board(
    ctx: Arc<SourceContext>,
    stream: StreamName,
    board: BoardInfo,
    saved: Arc<HashMap<String, PartitionProgress>>,
    tx: mpsc::Sender<PageMsg>,
) -> Result<(), SyncError> {
    let board_key = board.id.as_str().to_owned();
    let own = saved.get(&board_key).cloned().unwrap_or_default();
    if own.done {
        return Ok(());
    }
    let label = format!("board {board_key}");
    match stream {
        StreamName::BoardSections => {
            let pages = ctx
                .client
                .board_sections(&board.id, ctx.page(own.bookmark.as_deref()));
            let board_id = board_key.clone();
            forward(stream, &board_key, &label, pages, &tx, None, move |s| {
                let key = s.id().as_str().to_owned();
                let mut raw = s.into_json();
                if !raw.contains_key("board_id") {
                    raw.insert("board_id".into(), Value::String(board_id.clone()));
                }
                keyed(&key, raw)
            })
            .await?;
        }
        StreamName::BoardPins => {
            let pages = ctx.client.board_pins_raw(
                &board.id,
                &PinsQuery::default(),
                ctx.page(own.bookmark.as_deref()),
            );
            forward(
                stream,
                &board_key,
                &label,
                pages,
                &tx,
                board.pins_modified_at.as_deref(),
                raw,
            )
            .await?;
        }
        StreamName::BoardSectionPins => {
            // The board's section ids drive the fan-out; they are listed
            // again on resume (they are not records of this stream).
            let mut sections: Vec<SectionId> = Vec::new();
            let mut pages = ctx.client.board_sections(&board.id, ctx.page(None));
            while let Some(page) = pages.next().await {
                let page = page.map_err(source_error(stream, Some(label.clone())))?;
                sections.extend(page.items.into_iter().map(|s| s.id().clone()));
            }
            for section in sections {
                let part = format!("{board_key}/{}", section.as_str());
                let saved_section = saved.get(&part).cloned().unwrap_or_default();
                if saved_section.done {
                    continue;
                }
                let pages = ctx.client.board_section_pins_raw(
                    &board.id,
                    &section,
                    ctx.page(saved_section.bookmark.as_deref()),
                );
                let section_label = format!("board {board_key} section {}", section.as_str());
                let open = forward(stream, &part, &section_label, pages, &tx, None, raw).await?;
                if !open {
                    return Ok(());
                }
            }
            let msg = PageMsg {
                partition: board_key,
                records: Vec::new(),
                invalid: 0,
                progress: PartitionProgress {
                    bookmark: None,
                    done: true,
                    watermark: board.pins_modified_at.clone(),
                },
            };
            let _ = tx.send(msg).await;
        }
        _ => unreachable!("read_board is only called for per-board streams"),
    }
    Ok(())
}

/// The first day to read for an ad account: the window's start, or, when a
/// previous run read up to `last_read`, that day minus the lookback.
pub(crate) fn analytics_start(
    today: NaiveDate,
    window: &AnalyticsWindow,
    last_read: Option<NaiveDate>,
) -> NaiveDate {
    let earliest = AnalyticsQuery::earliest_start(today, Granularity::Day);
    let days = u64::from(window.days.clamp(1, 90));
    let mut start = today
        .checked_sub_days(Days::new(days - 1))
        .unwrap_or(earliest)
        .max(earliest);
    if let Some(last) = last_read {
        let again = last
            .checked_sub_days(Days::new(u64::from(window.lookback_days)))
            .unwrap_or(last);
        start = start.max(again);
    }
    start.min(today)
}

/// Reads one ad account's daily analytics.
pub(crate) async fn read_analytics(
    ctx: Arc<SourceContext>,
    account: AdAccountId,
    saved: Option<PartitionProgress>,
    last_read: Option<NaiveDate>,
    tx: mpsc::Sender<PageMsg>,
) -> Result<(), SyncError> {
    let stream = StreamName::AdAccountAnalytics;
    if saved.is_some_and(|p| p.done) {
        return Ok(());
    }
    let today = ctx.clock.now().date_naive();
    let start = analytics_start(today, &ctx.analytics, last_read);
    let query = AnalyticsQuery::daily(start, today, ctx.analytics.columns.clone());
    let rows = ctx
        .client
        .ad_account_analytics(&account, &query)
        .await
        .map_err(source_error(
            stream,
            Some(format!("ad account {}", account.as_str())),
        ))?;
    let mut newest: Option<String> = last_read.map(|d| d.to_string());
    let records = rows
        .into_iter()
        .map(|row| {
            let date = row.date_raw().unwrap_or_default().to_owned();
            if newest.as_deref().is_none_or(|n| n < date.as_str()) {
                newest = Some(date.clone());
            }
            let mut key = format!("{}:{date}", row.ad_account_id().as_str());
            if let Some(hour) = row.as_json().get("HOUR") {
                key.push(':');
                key.push_str(&hour.to_string());
            }
            keyed(&key, row.into_json())
        })
        .collect();
    let msg = PageMsg {
        partition: account.as_str().to_owned(),
        records,
        invalid: 0,
        progress: PartitionProgress {
            bookmark: None,
            done: true,
            watermark: newest,
        },
    };
    let _ = tx.send(msg).await;
    Ok(())
}

/// Lists the ids of the user's ad accounts.
pub(crate) async fn list_ad_accounts(ctx: &SourceContext) -> Result<Vec<AdAccountId>, SyncError> {
    let stream = StreamName::AdAccountAnalytics;
    let mut ids = Vec::new();
    let mut pages = ctx.client.ad_accounts(None, ctx.page(None));
    while let Some(page) = pages.next().await {
        let page = page.map_err(source_error(stream, Some("listing ad accounts".into())))?;
        ids.extend(page.items.into_iter().map(|a| a.id().clone()));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn analytics_start_reads_the_window_then_only_the_lookback() {
        let today = day("2026-05-01");
        let window = AnalyticsWindow::default();
        assert_eq!(analytics_start(today, &window, None), day("2026-02-01"));
        assert_eq!(
            analytics_start(today, &window, Some(day("2026-04-30"))),
            day("2026-04-23")
        );
        let wide = AnalyticsWindow {
            days: 400,
            ..AnalyticsWindow::default()
        };
        assert_eq!(analytics_start(today, &wide, None), day("2026-02-01"));
    }
}
