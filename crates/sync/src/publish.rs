//! Publishing from JSON Lines: creating pins (and boards) with a ledger so a
//! rerun creates nothing twice, even after a crash between Pinterest's
//! answer and our write (SECURITY.md R28).
//!
//! Every row is validated before anything is sent (Pinterest's limits:
//! title 100, description 800, alt text 500, link 2,048 characters; digit
//! board and section ids; an `image_url`); rejected rows go to the reject
//! file with their reasons and the rest go through. Each row has a key (its
//! `key` field, or a SHA-256 of the row). Before the create request, the
//! ledger durably records the key as `sent` (its `sent_at` is the first
//! send and is never moved); after Pinterest's answer it records
//! `confirmed` with the new id.
//!
//! When the outcome is unknown (a timeout, a 5xx or a cut answer after the
//! request went out) the row stays `sent` and is set aside: it is never
//! sent again at once. After the other rows, once the settle window
//! ([`PublishOptions::settle`]) has passed since the ambiguous answer (so a
//! listing that lags behind writes has caught up), the publisher
//! reconciles: it lists the board's pins newest first, back to the row's
//! first send (with a margin for clock skew), and looks for one whose
//! content matches the row (title, description, link, alt text, section)
//! and that no other ledger row claims. Only a search that reached back
//! that far and found nothing lets the row be created again; a search that
//! could not (an error, too many pins) leaves the row unfinished for a
//! rerun. A rerun reconciles the rows an earlier run left `sent` (a crash,
//! or answers lost) the same way before it sends anything. The marker is
//! the row's own content, so published pins carry nothing added by Pinion;
//! two rows with the same content on the same board get distinct keys, and
//! one reconciliation pass assigns each found pin to one row only.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::StreamExt;
use pinion_pinterest::{
    ApiError, Board, BoardCreate, BoardId, BoardPrivacy, BoardsQuery, ErrorAction, MediaSource,
    PageRequest, Pin, PinCreate, PinsQuery, PinterestClient, SectionId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::custom_write::{CustomWritePlan, WriteCall};
use crate::error::StateError;
use crate::state::{LedgerEntry, LedgerState, PublishLedger};

/// How long after an ambiguous answer the publisher waits before it looks
/// for the object, by default: Pinterest's lists may lag behind its writes.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// How far before a row's first send an object may have been created and
/// still be that row's (clocks differ between Pinterest and here).
const CLOCK_MARGIN_MINUTES: i64 = 10;

/// At most this many pages (of 250) are read to look for earlier creates;
/// a search that needs more is inconclusive and the rows stay unfinished.
const MAX_SEARCH_PAGES: usize = 400;

/// A publish run that could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The input or reject file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The ledger failed; stop rather than risk creating twice.
    #[error(transparent)]
    Ledger(#[from] StateError),
    /// Pinterest needs the credential authorized again (or a scope).
    #[error("publishing stopped: {0}")]
    Authorization(#[source] ApiError),
}

impl From<pinion_store::StoreError> for PublishError {
    fn from(err: pinion_store::StoreError) -> Self {
        PublishError::Ledger(StateError::Store(err))
    }
}

/// One pin to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRow {
    /// The board (digits); `--board` can supply it for every row.
    #[serde(default)]
    pub board_id: Option<String>,
    /// The section of that board.
    #[serde(default)]
    pub board_section_id: Option<String>,
    /// Title, at most 100 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// Description, at most 800 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Destination link, at most 2,048 characters.
    #[serde(default)]
    pub link: Option<String>,
    /// Alt text, at most 500 characters.
    #[serde(default)]
    pub alt_text: Option<String>,
    /// The image to pin.
    pub image_url: String,
    /// The row's identity in the ledger; a hash of the row when absent.
    #[serde(default)]
    pub key: Option<String>,
}

/// One board to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardRow {
    /// The board's name.
    pub name: String,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// `PUBLIC`, `PROTECTED` or `SECRET`.
    #[serde(default)]
    pub privacy: Option<String>,
    /// The row's identity in the ledger; a hash of the row when absent.
    #[serde(default)]
    pub key: Option<String>,
}

/// How a publish run behaves.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The ledger namespace, normally the credential id.
    pub namespace: String,
    /// Board for rows without one (pins only).
    pub board: Option<String>,
    /// Requests in flight; the `org_write` budget paces them.
    pub concurrency: usize,
    /// Where rejected rows go; `<input>.rejects.jsonl` by default.
    pub reject_file: Option<PathBuf>,
    /// How long after an ambiguous answer (or a crash) to wait before
    /// looking for the object and, if it is not there, creating it again
    /// ([`DEFAULT_SETTLE`]). Longer than the time Pinterest's lists take to
    /// show a new object.
    pub settle: Duration,
    /// Also report each row's outcome ([`PublishReport::row_results`]),
    /// with the created object's id from the ledger: one more ledger read
    /// per row, so for small inputs such as a page's upload.
    pub row_results: bool,
    /// The clock the settle window is measured by; the ledger's times come
    /// from the store's clock, so the two should be the same.
    pub clock: Arc<dyn pinion_domain::Clock>,
}

/// What became of one row of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RowOutcome {
    /// Created by this run.
    Created {
        /// The new object's id.
        id: Option<String>,
    },
    /// The ledger already had it as created (an earlier run, or an earlier
    /// upload of the same row).
    AlreadyPublished {
        /// The object's id.
        id: Option<String>,
    },
    /// An earlier create whose answer was lost was found on Pinterest.
    Reconciled {
        /// The object's id.
        id: Option<String>,
    },
    /// Refused, by validation or by Pinterest.
    Rejected {
        /// Why, each naming the field where one is to blame.
        reasons: Vec<String>,
    },
    /// The same row (key) as an earlier line of the input.
    Duplicate,
    /// Not known to be created, and not refused: send it again later.
    Unfinished {
        /// Why, when known.
        reason: Option<String>,
    },
}

/// One row's outcome, by its line in the input (from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    /// The line.
    pub line: u64,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: RowOutcome,
}

/// What a publish run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// Rows read.
    pub rows: u64,
    /// Objects created by this run.
    pub created: u64,
    /// Rows the ledger already had as created.
    pub already_published: u64,
    /// Rows whose earlier, unconfirmed create was found on Pinterest.
    pub reconciled: u64,
    /// Rows refused (by validation or by Pinterest), in the reject file.
    pub rejected: u64,
    /// Rows whose key repeated an earlier row of the same file.
    pub duplicates: u64,
    /// Rows left unknown or failed for a retryable reason (rerun to finish).
    pub unfinished: u64,
    /// The reject file, when any row was rejected.
    pub reject_file: Option<String>,
    /// Each row's outcome by line, with [`PublishOptions::row_results`].
    #[serde(skip)]
    pub row_results: Vec<RowResult>,
}

impl PublishReport {
    /// True when every valid row is now on Pinterest.
    pub fn complete(&self) -> bool {
        self.unfinished == 0
    }
}

/// An object found on Pinterest that may be an earlier create of a row.
enum Candidate {
    Pin(Pin),
    Board(Board),
}

impl Candidate {
    fn id(&self) -> &str {
        match self {
            Candidate::Pin(pin) => pin.id().as_str(),
            Candidate::Board(board) => board.id().as_str(),
        }
    }

    fn created_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Candidate::Pin(pin) => pin.created_at(),
            Candidate::Board(board) => board.created_at(),
        }
    }
}

/// A validated row.
#[async_trait]
trait Item: Send + Sync {
    fn key(&self) -> &str;
    /// Where the object is created: rows with the same target are
    /// reconciled against one listing.
    fn target(&self) -> String;
    async fn create(&self, client: &PinterestClient) -> Result<String, ApiError>;
    /// False when an earlier create cannot be looked for (custom writes):
    /// a row whose outcome is unknown then stays unfinished and is never
    /// sent again.
    fn can_reconcile(&self) -> bool {
        true
    }
    /// Every object on the target created since `since` (and possibly some
    /// older ones), or `None` when the listing could not reach back that
    /// far.
    async fn candidates(
        &self,
        client: &PinterestClient,
        since: DateTime<Utc>,
    ) -> Result<Option<Vec<Candidate>>, ApiError>;
    /// True when `candidate` has this row's content.
    fn matches(&self, candidate: &Candidate) -> bool;
}

struct PinItem {
    key: String,
    body: PinCreate,
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    a.map(str::trim).filter(|s| !s.is_empty()) == b.map(str::trim).filter(|s| !s.is_empty())
}

#[async_trait]
impl Item for PinItem {
    fn key(&self) -> &str {
        &self.key
    }

    fn target(&self) -> String {
        self.body.board_id.as_str().to_owned()
    }

    async fn create(&self, client: &PinterestClient) -> Result<String, ApiError> {
        Ok(client
            .create_pin(&self.body)
            .await?
            .id()
            .as_str()
            .to_owned())
    }

    async fn candidates(
        &self,
        client: &PinterestClient,
        since: DateTime<Utc>,
    ) -> Result<Option<Vec<Candidate>>, ApiError> {
        // Pins are listed newest first: the search is complete at the first
        // pin older than `since` or at the end of the list.
        let mut pages = client.board_pins(
            &self.body.board_id,
            &PinsQuery::default(),
            PageRequest::first(),
        );
        let mut found = Vec::new();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            for pin in page?.items {
                if pin.created_at().is_some_and(|at| at < since) {
                    return Ok(Some(found));
                }
                found.push(Candidate::Pin(pin));
            }
            read += 1;
            if read >= MAX_SEARCH_PAGES {
                return Ok(None);
            }
        }
        Ok(Some(found))
    }

    fn matches(&self, candidate: &Candidate) -> bool {
        let Candidate::Pin(pin) = candidate else {
            return false;
        };
        same(pin.title(), self.body.title.as_deref())
            && same(pin.description(), self.body.description.as_deref())
            && same(pin.link(), self.body.link.as_deref())
            && same(pin.alt_text(), self.body.alt_text.as_deref())
            && pin.board_section_id().as_ref().map(SectionId::as_str)
                == self.body.board_section_id.as_ref().map(SectionId::as_str)
    }
}

struct BoardItem {
    key: String,
    body: BoardCreate,
}

#[async_trait]
impl Item for BoardItem {
    fn key(&self) -> &str {
        &self.key
    }

    fn target(&self) -> String {
        String::new()
    }

    async fn create(&self, client: &PinterestClient) -> Result<String, ApiError> {
        Ok(client
            .create_board(&self.body)
            .await?
            .id()
            .as_str()
            .to_owned())
    }

    async fn candidates(
        &self,
        client: &PinterestClient,
        _since: DateTime<Utc>,
    ) -> Result<Option<Vec<Candidate>>, ApiError> {
        // Board names are unique per user (case-insensitively); the whole
        // list is read.
        let mut pages = client.boards(BoardsQuery::default(), PageRequest::first());
        let mut found = Vec::new();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            found.extend(page?.items.into_iter().map(Candidate::Board));
            read += 1;
            if read >= MAX_SEARCH_PAGES {
                return Ok(None);
            }
        }
        Ok(Some(found))
    }

    fn matches(&self, candidate: &Candidate) -> bool {
        let Candidate::Board(board) = candidate else {
            return false;
        };
        board
            .name()
            .is_some_and(|n| n.eq_ignore_ascii_case(&self.body.name))
    }
}

struct CustomItem {
    key: String,
    plan: Arc<CustomWritePlan>,
    call: WriteCall,
}

#[async_trait]
impl Item for CustomItem {
    fn key(&self) -> &str {
        &self.key
    }

    fn target(&self) -> String {
        let path: Vec<(&str, &str)> = self
            .call
            .path
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        format!(
            "{} {}",
            self.plan.endpoint().method(),
            self.plan.endpoint().expand(&path).unwrap_or_default()
        )
    }

    async fn create(&self, client: &PinterestClient) -> Result<String, ApiError> {
        let path: Vec<(&str, &str)> = self
            .call
            .path
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = client
            .write_json(self.plan.endpoint(), &path, &[], Some(&self.call.body))
            .await?;
        Ok(match answer.as_ref().and_then(|a| a.get("id")) {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => String::new(),
        })
    }

    fn can_reconcile(&self) -> bool {
        false
    }

    async fn candidates(
        &self,
        _client: &PinterestClient,
        _since: DateTime<Utc>,
    ) -> Result<Option<Vec<Candidate>>, ApiError> {
        Ok(None)
    }

    fn matches(&self, _candidate: &Candidate) -> bool {
        false
    }
}

fn custom_item(line: &str, plan: &Arc<CustomWritePlan>) -> Result<CustomItem, Vec<String>> {
    let row: Value = serde_json::from_str(line).map_err(|e| vec![format!("not JSON: {e}")])?;
    let Value::Object(row) = row else {
        return Err(vec!["not a JSON object".into()]);
    };
    let call = plan.call_for(&row)?;
    let explicit = row.get("key").and_then(Value::as_str).map(str::to_owned);
    let canonical = serde_json::json!({
        "operation": plan.endpoint().operation_id(),
        "path": call.path,
        "body": call.body,
    });
    Ok(CustomItem {
        key: row_key(explicit.as_deref(), &canonical),
        plan: Arc::clone(plan),
        call,
    })
}

fn row_key(explicit: Option<&str>, canonical: &impl Serialize) -> String {
    match explicit {
        Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => {
            let bytes = serde_json::to_vec(canonical).unwrap_or_default();
            format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
        }
    }
}

fn pin_item(line: &str, options: &PublishOptions) -> Result<PinItem, Vec<String>> {
    let mut row: PinRow =
        serde_json::from_str(line).map_err(|e| vec![format!("not a pin row: {e}")])?;
    if row.board_id.is_none() {
        row.board_id.clone_from(&options.board);
    }
    let mut reasons = Vec::new();
    let board = match row.board_id.as_deref().map(BoardId::new) {
        Some(Ok(board)) => Some(board),
        Some(Err(e)) => {
            reasons.push(format!("board_id: {e}"));
            None
        }
        None => {
            reasons.push("board_id: missing (give it in the row or with --board)".to_owned());
            None
        }
    };
    let section = match row.board_section_id.as_deref().map(SectionId::new) {
        Some(Ok(section)) => Some(section),
        Some(Err(e)) => {
            reasons.push(format!("board_section_id: {e}"));
            None
        }
        None => None,
    };
    if !(row.image_url.starts_with("https://") || row.image_url.starts_with("http://")) {
        reasons.push("image_url: must be an http(s) URL".to_owned());
    }
    if let Some(link) = row
        .link
        .as_ref()
        .filter(|l| !(l.starts_with("https://") || l.starts_with("http://")))
    {
        let shown: String = link.chars().take(40).collect();
        reasons.push(format!("link: must be an http(s) URL, got {shown:?}"));
    }
    let Some(board) = board else {
        return Err(reasons);
    };
    let mut body = PinCreate::new(board, MediaSource::image_url(row.image_url.clone()));
    body.board_section_id = section;
    body.title.clone_from(&row.title);
    body.description.clone_from(&row.description);
    body.link.clone_from(&row.link);
    body.alt_text.clone_from(&row.alt_text);
    if let Err(errors) = body.validate() {
        reasons.extend(
            errors
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message)),
        );
    }
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let explicit = row.key.take();
    Ok(PinItem {
        key: row_key(explicit.as_deref(), &row),
        body,
    })
}

fn board_item(line: &str) -> Result<BoardItem, Vec<String>> {
    let mut row: BoardRow =
        serde_json::from_str(line).map_err(|e| vec![format!("not a board row: {e}")])?;
    let privacy = match row
        .privacy
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None => None,
        Some("PUBLIC") => Some(BoardPrivacy::Public),
        Some("PROTECTED") => Some(BoardPrivacy::Protected),
        Some("SECRET") => Some(BoardPrivacy::Secret),
        Some(other) => {
            return Err(vec![format!(
                "privacy: `{other}` is not PUBLIC, PROTECTED or SECRET"
            )]);
        }
    };
    let mut body = BoardCreate::named(row.name.clone());
    body.description.clone_from(&row.description);
    body.privacy = privacy;
    if let Err(errors) = body.validate() {
        return Err(errors
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect());
    }
    let explicit = row.key.take();
    Ok(BoardItem {
        key: row_key(explicit.as_deref(), &row),
        body,
    })
}

/// Rejected rows, written as `{"line": n, "row": <row>, "reasons": [...]}`.
struct Rejects {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
}

impl Rejects {
    fn write(&self, line_no: u64, line: &str, reasons: &[String]) -> Result<(), PublishError> {
        let row =
            serde_json::from_str::<Value>(line).unwrap_or_else(|_| Value::String(line.to_owned()));
        let entry = serde_json::json!({"line": line_no, "row": row, "reasons": reasons});
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let file = pinion_store::private_fs::create_file(&self.path).map_err(|source| {
                PublishError::Io {
                    action: "create",
                    path: self.path.display().to_string(),
                    source,
                }
            })?;
            *guard = Some(BufWriter::new(file));
        }
        if let Some(out) = guard.as_mut() {
            writeln!(out, "{entry}").map_err(|source| PublishError::Io {
                action: "write",
                path: self.path.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    fn close(&self) -> Result<bool, PublishError> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        match guard.take() {
            Some(mut out) => {
                out.flush().map_err(|source| PublishError::Io {
                    action: "write",
                    path: self.path.display().to_string(),
                    source,
                })?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// What reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looked {
    /// The object exists; the ledger now has it as confirmed.
    Found,
    /// A complete search after the settle window found nothing: the row
    /// may be created again.
    NotFound,
    /// The search could not be made or completed; the row stays `sent`.
    CouldNotLook,
}

enum Outcome {
    Created,
    Rejected,
    Unfinished,
}

/// What one create request came to.
enum Sent {
    Done(Outcome),
    /// The answer was lost: the object may exist. The row stays `sent`.
    Ambiguous,
}

struct Shared<'a> {
    client: &'a PinterestClient,
    ledger: &'a dyn PublishLedger,
    namespace: &'a str,
    rejects: &'a Rejects,
    clock: &'a dyn pinion_domain::Clock,
}

/// When the settle window of a `sent` row ends: measured from the row's
/// last ledger write, which is the ambiguous answer (or, after a crash,
/// the send).
fn settled_at(entry: &LedgerEntry, settle: Duration) -> DateTime<Utc> {
    entry.updated_at + ChronoDuration::from_std(settle).unwrap_or(ChronoDuration::MAX)
}

impl Shared<'_> {
    /// Looks for the objects of rows left `sent`, once their settle window
    /// has passed: one listing per target, each found object given to one
    /// row only (never to one another ledger row has confirmed).
    async fn reconcile_all(
        &self,
        items: &[&dyn Item],
        settle: Duration,
    ) -> Result<Vec<Looked>, PublishError> {
        let mut looked = vec![Looked::CouldNotLook; items.len()];
        let mut entries = Vec::with_capacity(items.len());
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut wait_until: Option<DateTime<Utc>> = None;
        for (i, item) in items.iter().enumerate() {
            let entry = self.ledger.ledger_entry(self.namespace, item.key()).await?;
            match &entry {
                None => looked[i] = Looked::NotFound,
                Some(_) if !item.can_reconcile() => {
                    tracing::warn!(
                        key = item.key(),
                        "The outcome of an earlier request is unknown and this operation's result cannot be looked up; the row is left unfinished and not sent again."
                    );
                }
                Some(entry) => {
                    let at = settled_at(entry, settle);
                    wait_until = Some(wait_until.map_or(at, |w| w.max(at)));
                    groups.entry(item.target()).or_default().push(i);
                }
            }
            entries.push(entry);
        }
        if let Some(at) = wait_until
            && let Ok(wait) = (at - self.clock.now()).to_std()
        {
            tracing::info!(
                rows = groups.values().map(Vec::len).sum::<usize>(),
                wait_ms = wait.as_millis() as u64,
                "Waiting for Pinterest's lists to settle before looking for creates whose answers were lost."
            );
            tokio::time::sleep(wait).await;
        }
        let margin = ChronoDuration::minutes(CLOCK_MARGIN_MINUTES);
        let first_sent = |i: usize| {
            entries[i]
                .as_ref()
                .map(|e| e.sent_at.unwrap_or(e.updated_at))
                .unwrap_or_else(|| self.clock.now())
        };
        for (target, mut rows) in groups {
            rows.sort_by_key(|&i| first_sent(i));
            let since = first_sent(rows[0]) - margin;
            let found = match items[rows[0]].candidates(self.client, since).await {
                Ok(Some(found)) => found,
                Ok(None) => {
                    tracing::warn!(
                        rows = rows.len(),
                        "Too many objects were created since these rows were sent to look for them; the rows stay unfinished."
                    );
                    continue;
                }
                Err(err) if err.action() == ErrorAction::Reauthorize => {
                    return Err(PublishError::Authorization(err));
                }
                Err(err) => {
                    tracing::warn!(rows = rows.len(), error = %err, "Could not look for earlier creates; the rows stay unfinished.");
                    continue;
                }
            };
            let mut claimed: HashSet<String> = self
                .ledger
                .ledger_confirmed_ids(self.namespace, &target)
                .await?
                .into_iter()
                .collect();
            for i in rows {
                let floor = first_sent(i) - margin;
                let hit = found.iter().find(|c| {
                    !claimed.contains(c.id())
                        && c.created_at().is_none_or(|at| at >= floor)
                        && items[i].matches(c)
                });
                match hit {
                    Some(candidate) => {
                        self.ledger
                            .ledger_record_confirmed(self.namespace, items[i].key(), candidate.id())
                            .await?;
                        claimed.insert(candidate.id().to_owned());
                        looked[i] = Looked::Found;
                    }
                    None => looked[i] = Looked::NotFound,
                }
            }
        }
        Ok(looked)
    }

    /// Sends one create request, with the ledger written before and after.
    async fn send(&self, line_no: u64, line: &str, item: &dyn Item) -> Result<Sent, PublishError> {
        let key = item.key();
        self.ledger
            .ledger_record_sent(self.namespace, key, &item.target())
            .await?;
        let err = match item.create(self.client).await {
            Ok(id) => {
                self.ledger
                    .ledger_record_confirmed(self.namespace, key, &id)
                    .await?;
                return Ok(Sent::Done(Outcome::Created));
            }
            Err(err) => err,
        };
        // An ambiguous answer leaves the row `sent`; the write also restarts
        // its settle window. Anything else means nothing was created.
        let state = if err.action() == ErrorAction::Reconcile {
            LedgerState::Sent
        } else {
            LedgerState::Failed
        };
        self.ledger
            .ledger_record_outcome(self.namespace, key, state, &err.to_string())
            .await?;
        match err.action() {
            ErrorAction::Reconcile => Ok(Sent::Ambiguous),
            ErrorAction::Reauthorize => Err(PublishError::Authorization(err)),
            ErrorAction::RetryLater(_) => Ok(Sent::Done(Outcome::Unfinished)),
            ErrorAction::GiveUp => {
                self.rejects
                    .write(line_no, line, &[format!("Pinterest refused it: {err}")])?;
                Ok(Sent::Done(Outcome::Rejected))
            }
        }
    }
}

/// Creates the pins of a JSON Lines file.
pub async fn publish_pins(
    client: &PinterestClient,
    ledger: &dyn PublishLedger,
    input: &Path,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    publish(client, ledger, input, options, |line| {
        pin_item(line, options).map(|item| Box::new(item) as Box<dyn Item>)
    })
    .await
}

/// Creates the boards of a JSON Lines file (`name`, `description`,
/// `privacy`, `key`), with the same ledger and reconciliation (by name).
pub async fn publish_boards(
    client: &PinterestClient,
    ledger: &dyn PublishLedger,
    input: &Path,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    publish(client, ledger, input, options, |line| {
        board_item(line).map(|item| Box::new(item) as Box<dyn Item>)
    })
    .await
}

/// Sends each row of a JSON Lines file to a POST or PATCH operation of the
/// spec through `plan` (see [`crate::custom_write`]), with the same
/// validation, reject file and ledger as pins; rows whose outcome is
/// unknown are left unfinished rather than sent twice.
pub async fn publish_custom(
    client: &PinterestClient,
    ledger: &dyn PublishLedger,
    input: &Path,
    plan: Arc<CustomWritePlan>,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    publish(client, ledger, input, options, |line| {
        custom_item(line, &plan).map(|item| Box::new(item) as Box<dyn Item>)
    })
    .await
}

async fn publish(
    client: &PinterestClient,
    ledger: &dyn PublishLedger,
    input: &Path,
    options: &PublishOptions,
    parse: impl Fn(&str) -> Result<Box<dyn Item>, Vec<String>>,
) -> Result<PublishReport, PublishError> {
    let file = File::open(input).map_err(|source| PublishError::Io {
        action: "open",
        path: input.display().to_string(),
        source,
    })?;
    let reject_path = options.reject_file.clone().unwrap_or_else(|| {
        let mut name = input.as_os_str().to_owned();
        name.push(".rejects.jsonl");
        PathBuf::from(name)
    });
    let rejects = Rejects {
        path: reject_path,
        file: Mutex::new(None),
    };
    let shared = Shared {
        client,
        ledger,
        namespace: &options.namespace,
        rejects: &rejects,
        clock: &*options.clock,
    };
    let report = Arc::new(Mutex::new(PublishReport::default()));
    // Each row's outcome by line, when asked for; ids and Pinterest's
    // reasons are read from the ledger at the end.
    let mut outcomes: std::collections::BTreeMap<u64, RowOutcome> = Default::default();
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    // Rows are validated up front so a file with mistakes is reported whole
    // before anything is created from it.
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| PublishError::Io {
            action: "read",
            path: input.display().to_string(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let line_no = index as u64 + 1;
        let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
        r.rows += 1;
        match parse(&line) {
            Ok(item) => {
                if seen.insert(item.key().to_owned()) {
                    valid.push((line_no, line, item));
                } else {
                    r.duplicates += 1;
                    outcomes.insert(line_no, RowOutcome::Duplicate);
                }
            }
            Err(reasons) => {
                r.rejected += 1;
                rejects.write(line_no, &line, &reasons)?;
                outcomes.insert(line_no, RowOutcome::Rejected { reasons });
            }
        }
    }
    drop(seen);

    // Rows an earlier run left `sent` are reconciled before anything is
    // sent; rows the ledger has as created are done.
    let mut pending = Vec::new();
    let mut to_send = Vec::new();
    for (i, (line_no, _, item)) in valid.iter().enumerate() {
        match ledger.ledger_entry(&options.namespace, item.key()).await? {
            Some(entry) if entry.state == LedgerState::Confirmed => {
                report
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .already_published += 1;
                outcomes.insert(
                    *line_no,
                    RowOutcome::AlreadyPublished {
                        id: entry.object_id,
                    },
                );
            }
            Some(entry) if matches!(entry.state, LedgerState::Sent | LedgerState::Unknown) => {
                pending.push(i);
            }
            _ => to_send.push(i),
        }
    }
    let max_sends = client.config().retry.max_attempts.max(3);
    let mut sends = vec![0u32; valid.len()];
    loop {
        if !pending.is_empty() {
            let items: Vec<&dyn Item> = pending.iter().map(|&i| valid[i].2.as_ref()).collect();
            let looked = shared.reconcile_all(&items, options.settle).await?;
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            for (&i, looked) in pending.iter().zip(looked) {
                let line_no = valid[i].0;
                match looked {
                    Looked::Found => {
                        r.reconciled += 1;
                        outcomes.insert(line_no, RowOutcome::Reconciled { id: None });
                    }
                    Looked::NotFound if sends[i] < max_sends => to_send.push(i),
                    Looked::NotFound | Looked::CouldNotLook => {
                        r.unfinished += 1;
                        outcomes.insert(line_no, RowOutcome::Unfinished { reason: None });
                    }
                }
            }
            pending.clear();
        }
        if to_send.is_empty() {
            break;
        }
        let batch = std::mem::take(&mut to_send);
        let results = futures::stream::iter(batch.into_iter().map(|i| {
            let shared = &shared;
            let (line_no, line, item) = &valid[i];
            async move { (i, shared.send(*line_no, line, item.as_ref()).await) }
        }))
        .buffer_unordered(options.concurrency.max(1));
        futures::pin_mut!(results);
        while let Some((i, sent)) = results.next().await {
            sends[i] += 1;
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            let line_no = valid[i].0;
            match sent? {
                Sent::Done(Outcome::Created) => {
                    r.created += 1;
                    outcomes.insert(line_no, RowOutcome::Created { id: None });
                }
                Sent::Done(Outcome::Rejected) => {
                    r.rejected += 1;
                    outcomes.insert(line_no, RowOutcome::Rejected { reasons: vec![] });
                }
                Sent::Done(Outcome::Unfinished) => {
                    r.unfinished += 1;
                    outcomes.insert(line_no, RowOutcome::Unfinished { reason: None });
                }
                Sent::Ambiguous => pending.push(i),
            }
        }
    }
    let mut r = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if rejects.close()? {
        r.reject_file = Some(rejects.path.display().to_string());
    }
    if options.row_results {
        // Ids of what was created or found, and Pinterest's reasons.
        for (line_no, _, item) in &valid {
            let Some(outcome) = outcomes.get_mut(line_no) else {
                continue;
            };
            let needs_ledger = matches!(
                outcome,
                RowOutcome::Created { id: None }
                    | RowOutcome::Reconciled { id: None }
                    | RowOutcome::Unfinished { reason: None }
            ) || matches!(outcome, RowOutcome::Rejected { reasons } if reasons.is_empty());
            if !needs_ledger {
                continue;
            }
            let entry = ledger.ledger_entry(&options.namespace, item.key()).await?;
            let (object_id, message) = entry
                .map(|entry| (entry.object_id, entry.message))
                .unwrap_or_default();
            match outcome {
                RowOutcome::Created { id } | RowOutcome::Reconciled { id } => *id = object_id,
                RowOutcome::Unfinished { reason } => *reason = message,
                RowOutcome::Rejected { reasons } => {
                    reasons.push(message.unwrap_or_else(|| "Pinterest refused it".to_owned()));
                }
                _ => {}
            }
        }
        r.row_results = outcomes
            .into_iter()
            .map(|(line, outcome)| RowResult { line, outcome })
            .collect();
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PublishOptions {
        PublishOptions {
            namespace: "n".into(),
            board: None,
            concurrency: 1,
            reject_file: None,
            settle: DEFAULT_SETTLE,
            row_results: false,
            clock: Arc::new(pinion_domain::SystemClock),
        }
    }

    #[test]
    fn rows_breaking_pinterest_limits_are_refused_with_every_reason() {
        let line = serde_json::json!({
            "board_id": "12a", "title": "t".repeat(101), "description": "d".repeat(801),
            "alt_text": "a".repeat(501), "link": format!("https://x/{}", "l".repeat(2048)),
            "image_url": "https://i.example/1.jpg"
        })
        .to_string();
        let reasons = pin_item(&line, &options()).err().unwrap();
        assert!(reasons[0].contains("board_id"), "{reasons:?}");
        let mut opts = options();
        opts.board = Some("123".into());
        let line = line.replace("\"12a\"", "null");
        let reasons = pin_item(&line, &opts).err().unwrap();
        let text = reasons.join("; ");
        for field in ["title", "description", "alt_text", "link"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn the_key_is_the_given_one_or_a_stable_hash_of_the_row() {
        let line = r#"{"board_id":"1","title":"a","image_url":"https://i/1.jpg"}"#;
        let a = pin_item(line, &options()).ok().unwrap();
        let b = pin_item(line, &options()).ok().unwrap();
        assert_eq!(a.key, b.key);
        assert!(a.key.starts_with("sha256:"));
        let keyed = r#"{"board_id":"1","title":"a","image_url":"https://i/1.jpg","key":"row-1"}"#;
        assert_eq!(pin_item(keyed, &options()).ok().unwrap().key, "row-1");
        assert!(pin_item(r#"{"image_url":"x","colour":"red"}"#, &options()).is_err());
    }
}
