//! Bookmark pagination as a `Stream` of pages.
//!
//! A list endpoint answers `{"items": [...], "bookmark": "..." | null}`. The
//! stream asks for the first page (or the page of a saved bookmark, to
//! resume), yields it with the bookmark of the next one, and stops after a
//! page whose bookmark is null or absent. It never holds more than one page.
//! The caller checkpoints `page.next_bookmark` only after its destination has
//! committed the page's items. A bookmark seen twice (a loop) or too many
//! empty pages that still carry a bookmark end the stream with
//! [`ApiError::Pagination`] instead of looping or stopping silently. Any
//! other error also ends the stream after it is yielded.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::{PinterestClient, Request};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, PaginationProblem, RequestId};
use crate::id::Bookmark;
use crate::models::{RawJson, Record};

/// Largest page Pinterest serves.
pub const MAX_PAGE_SIZE: u8 = 250;

/// Empty pages with a bookmark tolerated in a row before the stream fails.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 5;

/// Items per page, 1 to 250.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u8);

impl PageSize {
    /// The largest page, 250 (Pinterest's default is 25).
    pub const MAX: PageSize = PageSize(MAX_PAGE_SIZE);

    /// Checks that `size` is within 1..=250.
    pub fn new(size: u32) -> Result<Self, InvalidPageSize> {
        match u8::try_from(size) {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(Self(size)),
            _ => Err(InvalidPageSize(size)),
        }
    }

    /// The size.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::MAX
    }
}

/// A page size outside 1..=250.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("page size must be between 1 and 250, got {0}")]
pub struct InvalidPageSize(pub u32);

/// Where a paginated read starts and how big its pages are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page.
    pub page_size: PageSize,
    /// A saved bookmark to resume from; `None` starts at the first page.
    pub start: Option<Bookmark>,
}

impl PageRequest {
    /// From the first page, 250 items per page.
    pub fn first() -> Self {
        Self::default()
    }

    /// From a saved bookmark, 250 items per page.
    pub fn resume(bookmark: Bookmark) -> Self {
        Self {
            start: Some(bookmark),
            ..Self::default()
        }
    }
}

/// An item of a page that is not a valid record (e.g. no digit `id`). It is
/// reported, not dropped silently, and does not stop the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidItem {
    /// The item as Pinterest sent it.
    pub raw: Value,
    /// Why it was refused.
    pub reason: String,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The records, in Pinterest's order.
    pub items: Vec<T>,
    /// Items that are not valid records.
    pub invalid: Vec<InvalidItem>,
    /// The bookmark this page was fetched with (`None` for the first page).
    pub bookmark: Option<Bookmark>,
    /// The bookmark of the next page; `None` on the last page. Save it once
    /// the items are committed, to resume after them.
    pub next_bookmark: Option<Bookmark>,
    /// Pinterest's request id for this page.
    pub request_id: Option<RequestId>,
}

impl<T> Page<T> {
    /// True when no page follows.
    pub fn is_last(&self) -> bool {
        self.next_bookmark.is_none()
    }
}

/// A stream of pages; it ends after the last page or after the first error.
pub type PageStream<T> = BoxStream<'static, Result<Page<T>, ApiError>>;

#[derive(Deserialize)]
struct Envelope {
    items: Vec<Value>,
    #[serde(default)]
    bookmark: Option<String>,
}

/// The envelope with its items left as text, for records that keep bytes.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    bookmark: Option<String>,
}

/// Parses a list answer: the envelope must be well formed, each item is
/// checked on its own. Records that keep bytes get spans of one shared copy
/// of the body; the others are built from parsed values.
pub(crate) fn parse_page<T: Record>(body: &[u8]) -> Result<ParsedPage<T>, String> {
    let mut items = Vec::new();
    let mut invalid = Vec::new();
    let bookmark = if T::KEEPS_BYTES {
        let shared = Bytes::copy_from_slice(body);
        let envelope: RawEnvelope<'_> =
            serde_json::from_slice(&shared).map_err(|e| e.to_string())?;
        items.reserve(envelope.items.len());
        for item in envelope.items {
            let raw = RawJson::trusted(shared.slice_ref(item.get().as_bytes()));
            match T::from_raw(raw) {
                Ok(record) => items.push(record),
                Err((raw, reason)) => invalid.push(InvalidItem {
                    raw: raw.to_value().unwrap_or(Value::Null),
                    reason,
                }),
            }
        }
        envelope.bookmark
    } else {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        items.reserve(envelope.items.len());
        for item in envelope.items {
            match T::from_json(item) {
                Ok(record) => items.push(record),
                Err((raw, reason)) => invalid.push(InvalidItem { raw, reason }),
            }
        }
        envelope.bookmark
    };
    Ok(ParsedPage {
        items,
        invalid,
        next_bookmark: bookmark.and_then(Bookmark::new),
    })
}

/// A list answer, parsed.
pub(crate) struct ParsedPage<T> {
    pub(crate) items: Vec<T>,
    pub(crate) invalid: Vec<InvalidItem>,
    pub(crate) next_bookmark: Option<Bookmark>,
}

struct PagerState {
    client: PinterestClient,
    endpoint: Endpoint,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    page_size: PageSize,
    next: Option<Bookmark>,
    seen: HashSet<u64>,
    hasher: RandomState,
    empty_in_a_row: u32,
    pages: u64,
    done: bool,
}

impl PinterestClient {
    /// Pages of `endpoint`, a list operation answering `{items, bookmark}`.
    ///
    /// `params` fill the path template; `query` holds the operation's own
    /// query parameters (not `page_size` or `bookmark`, which the pager
    /// sets). Invalid path parameters fail the first item of the stream,
    /// before any request.
    pub fn pages<T: Record>(
        &self,
        endpoint: &Endpoint,
        params: &[(&str, &str)],
        query: &[(&str, &str)],
        page: PageRequest,
    ) -> PageStream<T> {
        let owned = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let hasher = RandomState::new();
        let mut seen = HashSet::new();
        if let Some(start) = &page.start {
            seen.insert(hasher.hash_one(start.as_str()));
        }
        let state = PagerState {
            client: self.clone(),
            endpoint: endpoint.clone(),
            params: owned(params),
            query: owned(query),
            page_size: page.page_size,
            next: page.start,
            seen,
            hasher,
            empty_in_a_row: 0,
            pages: 0,
            done: false,
        };
        stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            let result = state.fetch::<T>().await;
            match &result {
                Ok(page) if page.next_bookmark.is_some() => {}
                _ => state.done = true,
            }
            Some((result, state))
        })
        .boxed()
    }
}

impl PagerState {
    async fn fetch<T: Record>(&mut self) -> Result<Page<T>, ApiError> {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut request = Request::new(&self.endpoint, &params)?;
        for (key, value) in &self.query {
            request = request.query(key, value.clone());
        }
        request = request.query("page_size", self.page_size.get().to_string());
        let bookmark = self.next.take();
        if let Some(bookmark) = &bookmark {
            request = request.query("bookmark", bookmark.as_str());
        }
        let success = self.client.execute(request, parse_page::<T>).await;
        let success = match success {
            Ok(success) => success,
            Err(err) => {
                self.next = bookmark;
                return Err(err);
            }
        };
        let ParsedPage {
            items,
            invalid,
            next_bookmark,
        } = success.value;
        self.pages += 1;
        if let Some(next) = &next_bookmark {
            if !self.seen.insert(self.hasher.hash_one(next.as_str())) {
                return Err(ApiError::Pagination {
                    endpoint: self.endpoint.clone(),
                    problem: PaginationProblem::BookmarkRepeated { pages: self.pages },
                });
            }
            if items.is_empty() && invalid.is_empty() {
                self.empty_in_a_row += 1;
                if self.empty_in_a_row > MAX_EMPTY_PAGES_IN_A_ROW {
                    return Err(ApiError::Pagination {
                        endpoint: self.endpoint.clone(),
                        problem: PaginationProblem::EmptyPagesWithBookmark {
                            pages: self.empty_in_a_row,
                        },
                    });
                }
            } else {
                self.empty_in_a_row = 0;
            }
        }
        self.next = next_bookmark.clone();
        Ok(Page {
            items,
            invalid,
            bookmark,
            next_bookmark,
            request_id: success.request_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_1_to_250() {
        assert_eq!(PageSize::default().get(), 250);
        assert!(PageSize::new(1).is_ok());
        assert!(PageSize::new(0).is_err());
        assert!(PageSize::new(251).is_err());
        assert!(PageSize::new(100_000).is_err());
    }

    #[test]
    fn parse_page_reports_invalid_items_and_keeps_the_rest() {
        let body = br#"{"items":[{"id":"1","x":1},{"id":"a/b"},{"name":"no id"}],"bookmark":"b2"}"#;
        let page = parse_page::<Value>(body).unwrap();
        assert_eq!(page.items.len(), 3);
        assert!(page.invalid.is_empty());
        assert_eq!(page.next_bookmark, Bookmark::new("b2"));
        let page = parse_page::<crate::models::Pin>(body).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.invalid.len(), 2);
        assert!(
            page.invalid[0].reason.contains("pin id"),
            "{}",
            page.invalid[0].reason
        );
        assert_eq!(page.invalid[1].raw["name"], "no id");
    }

    #[test]
    fn raw_pages_keep_each_item_as_sent_and_report_invalid_ones() {
        use crate::id::PinId;
        use crate::models::RawRecord;
        let body = b"{\"items\":[{\"id\":\"1\", \"x\":{\"y\":[1.50,\"\\u00e9\"]}},\n  {\"id\":\"a/b\"},{\n\"id\":\"2\"\n}],\"bookmark\":\"b2\"}";
        let page = parse_page::<RawRecord<PinId>>(body).unwrap();
        let texts: Vec<&str> = page.items.iter().map(|r| r.json().as_str()).collect();
        assert_eq!(
            texts,
            [r#"{"id":"1", "x":{"y":[1.50,"\u00e9"]}}"#, r#"{"id":"2"}"#]
        );
        assert_eq!(page.items[1].id().as_str(), "2");
        assert_eq!(page.invalid.len(), 1);
        assert_eq!(page.invalid[0].raw["id"], "a/b");
        assert!(
            page.invalid[0].reason.contains("pin id"),
            "{}",
            page.invalid[0].reason
        );
        assert_eq!(page.next_bookmark, Bookmark::new("b2"));
        assert!(parse_page::<RawRecord<PinId>>(br#"{"items":[1,2"#).is_err());
    }

    #[test]
    fn parse_page_treats_null_absent_and_empty_bookmarks_as_the_end() {
        for body in [
            &br#"{"items":[],"bookmark":null}"#[..],
            br#"{"items":[]}"#,
            br#"{"items":[],"bookmark":""}"#,
        ] {
            assert_eq!(parse_page::<Value>(body).unwrap().next_bookmark, None);
        }
        assert!(parse_page::<Value>(br#"{"bookmark":"x"}"#).is_err());
        assert!(parse_page::<Value>(br#"{"items":[1,2"#).is_err());
    }
}
