//! Pinion's typed client for Pinterest's v5 REST API.
//!
//! This crate (with `pinion-oauth`) is the only part of Pinion that knows
//! Pinterest's URLs and JSON. It knows nothing about Pinion's database:
//! access tokens come through the [`TokenSource`] trait, which the token
//! manager implements. A [`PinterestClient`] serves one credential; clones
//! share its connection pool, its [`Pacer`] and its [`ClientStats`].
//!
//! - Endpoints: [`endpoint`] lists every operation with its rate-limit
//!   category; typed methods live on [`PinterestClient`] (`user_account`,
//!   `boards`, `board_pins`, `board_sections`, `board_section_pins`, `pins`,
//!   `pin`, `ad_accounts`, `ad_account`, `ad_account_analytics`, and the
//!   writes `create_board`, `update_board`, `delete_board`, `create_pin`,
//!   `update_pin`, `delete_pin`, `create_board_section`), and the generic
//!   `get_json`, `pages`, `write_json` serve operations read from the spec.
//! - Pagination: list methods return a [`PageStream`], one page at a time,
//!   resumable from a saved [`Bookmark`]. Each list has a `_raw` twin
//!   (`board_pins_raw`…) whose items are [`RawRecord`]s: the bytes Pinterest
//!   sent with only the `id` read, for moving records without loss at the
//!   lowest cost; the typed models stay available for everything else.
//! - Errors: [`ApiError`] says what to do ([`ApiError::action`]): retry
//!   later, reauthorize, reconcile a write, or give up.
//! - Pacing: [`RateBudgets`] per rate-limit category, adjusted by Pinterest's
//!   `x-ratelimit-*` headers.
#![warn(missing_docs)]
// `ApiError` carries the endpoint, Pinterest's parsed body and request id so
// that every failure explains itself; it is returned once per failed network
// call, where its size does not matter.
#![allow(clippy::result_large_err)]

mod client;
pub mod config;
pub mod endpoint;
mod endpoints;
pub mod error;
pub mod id;
pub mod models;
pub mod pacing;
pub mod pager;
mod stats;
pub mod token;

#[cfg(test)]
mod testing;

pub use client::{ClientBuilder, PinterestClient};
pub use config::{BaseUrl, ClientConfig, ConfigError, DEFAULT_BASE_URL, RetryPolicy};
pub use endpoint::{Endpoint, HttpMethod, RateCategory};
pub use endpoints::{BoardsQuery, PinFilter, PinGetQuery, PinListQuery, PinsQuery};
pub use error::{ApiError, ErrorAction, ErrorBody, PaginationProblem, RequestId, TransientCause};
pub use id::{AdAccountId, BoardId, Bookmark, InvalidId, PinId, RecordId, SectionId};
pub use models::{
    Account, AdAccount, AnalyticsQuery, AnalyticsRow, Board, BoardCreate, BoardPrivacy,
    BoardPrivacyFilter, BoardSection, BoardSectionCreate, BoardUpdate, ConversionReportTime,
    Granularity, MediaSource, Pin, PinCreate, PinUpdate, RawJson, RawRecord, Record, Scalar,
};
pub use pacing::{
    Budget, BudgetLedger, LEDGER_RETRY, Lane, LedgerError, MemoryLedger, Pacer, RateBudgets,
    RateTier, SharedBudget,
};
pub use pager::{InvalidItem, Page, PageRequest, PageSize, PageStream};
pub use stats::ClientStats;
pub use token::{StaticTokenSource, TokenSource, TokenSourceError};
