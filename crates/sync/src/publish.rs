//! Publishing from JSON Lines: creating pins (and boards) with a ledger so a
//! rerun creates nothing twice, even after a crash between Pinterest's
//! answer and our write (SECURITY.md R28).
//!
//! Every row is validated before anything is sent (Pinterest's limits:
//! title 100, description 800, alt text 500, link 2,048 characters; digit
//! board and section ids; an `image_url`); rejected rows go to the reject
//! file with their reasons and the rest go through. Each row has a key (its
//! `key` field, or a SHA-256 of the row). Before the create request, the
//! ledger durably records the key as `sent`; after Pinterest's answer it
//! records `confirmed` with the new id. When the outcome is unknown (a
//! timeout, a 5xx or a cut answer after the request went out), or when a
//! rerun finds a key still `sent` or `unknown`, the publisher reconciles: it
//! lists the board's newest pins and looks for one whose content matches
//! the row (title, description, link, alt text, section) created since the
//! request was sent, and not already claimed by another ledger row. Only
//! when none matches is the pin created again. The marker is the row's own
//! content, so published pins carry nothing added by Pinion; two rows with
//! the same content on the same board get distinct keys, and reconciliation
//! is serialized so they never claim the same pin.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::StreamExt;
use pinion_pinterest::{
    ApiError, BoardCreate, BoardId, BoardPrivacy, BoardsQuery, ErrorAction, MediaSource,
    PageRequest, PinCreate, PinsQuery, PinterestClient, SectionId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::custom_write::{CustomWritePlan, WriteCall};
use crate::error::StateError;
use crate::state::{LedgerState, PublishLedger};

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
}

impl PublishReport {
    /// True when every valid row is now on Pinterest.
    pub fn complete(&self) -> bool {
        self.unfinished == 0
    }
}

/// A validated row.
#[async_trait]
trait Item: Send + Sync {
    fn key(&self) -> &str;
    fn target(&self) -> String;
    async fn create(&self, client: &PinterestClient) -> Result<String, ApiError>;
    /// False when an earlier create cannot be looked for (custom writes):
    /// a row whose outcome is unknown then stays unfinished and is never
    /// sent again.
    fn can_reconcile(&self) -> bool {
        true
    }
    /// An existing object that this row created, if any.
    async fn find(
        &self,
        client: &PinterestClient,
        since: DateTime<Utc>,
        claimed: &HashSet<String>,
    ) -> Result<Option<String>, ApiError>;
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

    async fn find(
        &self,
        client: &PinterestClient,
        since: DateTime<Utc>,
        claimed: &HashSet<String>,
    ) -> Result<Option<String>, ApiError> {
        // Pins are listed newest first: stop at the first older than the
        // request (with a margin for clock skew), or after a few pages.
        let cutoff = since - ChronoDuration::minutes(10);
        let mut pages = client.board_pins(
            &self.body.board_id,
            &PinsQuery::default(),
            PageRequest::first(),
        );
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page?;
            for pin in &page.items {
                if pin.created_at().is_some_and(|at| at < cutoff) {
                    return Ok(None);
                }
                let matches = !claimed.contains(pin.id().as_str())
                    && same(pin.title(), self.body.title.as_deref())
                    && same(pin.description(), self.body.description.as_deref())
                    && same(pin.link(), self.body.link.as_deref())
                    && same(pin.alt_text(), self.body.alt_text.as_deref())
                    && pin.board_section_id().as_ref().map(SectionId::as_str)
                        == self.body.board_section_id.as_ref().map(SectionId::as_str);
                if matches {
                    return Ok(Some(pin.id().as_str().to_owned()));
                }
            }
            read += 1;
            if read >= 8 {
                break;
            }
        }
        Ok(None)
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

    async fn find(
        &self,
        client: &PinterestClient,
        _since: DateTime<Utc>,
        claimed: &HashSet<String>,
    ) -> Result<Option<String>, ApiError> {
        // Board names are unique per user (case-insensitively).
        let mut pages = client.boards(BoardsQuery::default(), PageRequest::first());
        while let Some(page) = pages.next().await {
            for board in page?.items {
                if !claimed.contains(board.id().as_str())
                    && board
                        .name()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&self.body.name))
                {
                    return Ok(Some(board.id().as_str().to_owned()));
                }
            }
        }
        Ok(None)
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

    async fn find(
        &self,
        _client: &PinterestClient,
        _since: DateTime<Utc>,
        _claimed: &HashSet<String>,
    ) -> Result<Option<String>, ApiError> {
        Ok(None)
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
            let file = File::create(&self.path).map_err(|source| PublishError::Io {
                action: "create",
                path: self.path.display().to_string(),
                source,
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
enum Looked {
    Found,
    NotFound,
    CouldNotLook,
}

enum Outcome {
    Created,
    Already,
    Reconciled,
    Rejected,
    Unfinished,
}

/// Reconciliation is serialized so two rows never claim one object.
struct Shared<'a> {
    client: &'a PinterestClient,
    ledger: &'a dyn PublishLedger,
    namespace: &'a str,
    rejects: &'a Rejects,
    reconcile: tokio::sync::Mutex<()>,
}

impl Shared<'_> {
    async fn reconcile(
        &self,
        item: &dyn Item,
        since: DateTime<Utc>,
    ) -> Result<Looked, PublishError> {
        if !item.can_reconcile() {
            tracing::warn!(
                key = item.key(),
                "The outcome of an earlier request is unknown and this operation's result cannot be looked up; the row is left unfinished and not sent again."
            );
            return Ok(Looked::CouldNotLook);
        }
        let _one_at_a_time = self.reconcile.lock().await;
        let claimed: HashSet<String> = self
            .ledger
            .confirmed_ids(self.namespace, &item.target())
            .await?
            .into_iter()
            .collect();
        match item.find(self.client, since, &claimed).await {
            Ok(Some(id)) => {
                self.ledger
                    .record_confirmed(self.namespace, item.key(), &id)
                    .await?;
                Ok(Looked::Found)
            }
            Ok(None) => Ok(Looked::NotFound),
            Err(err) if err.action() == ErrorAction::Reauthorize => {
                Err(PublishError::Authorization(err))
            }
            Err(err) => {
                tracing::warn!(key = item.key(), error = %err, "Could not look for an earlier create; the row stays unknown.");
                Ok(Looked::CouldNotLook)
            }
        }
    }

    async fn process(
        &self,
        line_no: u64,
        line: &str,
        item: &dyn Item,
    ) -> Result<Outcome, PublishError> {
        let key = item.key();
        if let Some(entry) = self.ledger.entry(self.namespace, key).await? {
            match entry.state {
                LedgerState::Confirmed => return Ok(Outcome::Already),
                LedgerState::Sent | LedgerState::Unknown => {
                    let since = entry
                        .sent_at
                        .as_deref()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
                    match self.reconcile(item, since).await? {
                        Looked::Found => return Ok(Outcome::Reconciled),
                        Looked::NotFound => {}
                        Looked::CouldNotLook => return Ok(Outcome::Unfinished),
                    }
                }
                LedgerState::Failed => {}
            }
        }
        // A create whose outcome was unknown is repeated (after looking for
        // it) as often as the client repeats a read, with the same backoff.
        let policy = &self.client.config().retry;
        let attempts = policy.max_attempts.max(3);
        for attempt in 0..attempts {
            if attempt > 0 {
                let factor = 1u32 << attempt.min(10);
                tokio::time::sleep((policy.initial_backoff * factor).min(policy.max_backoff)).await;
            }
            self.ledger
                .record_sent(self.namespace, key, &item.target())
                .await?;
            let sent_at = Utc::now();
            match item.create(self.client).await {
                Ok(id) => {
                    self.ledger
                        .record_confirmed(self.namespace, key, &id)
                        .await?;
                    return Ok(Outcome::Created);
                }
                Err(err) => match err.action() {
                    ErrorAction::Reconcile => {
                        self.ledger
                            .record_outcome(
                                self.namespace,
                                key,
                                LedgerState::Unknown,
                                &err.to_string(),
                            )
                            .await?;
                        match self.reconcile(item, sent_at).await? {
                            Looked::Found => return Ok(Outcome::Reconciled),
                            Looked::NotFound => continue,
                            Looked::CouldNotLook => return Ok(Outcome::Unfinished),
                        }
                    }
                    ErrorAction::Reauthorize => {
                        self.ledger
                            .record_outcome(
                                self.namespace,
                                key,
                                LedgerState::Failed,
                                &err.to_string(),
                            )
                            .await?;
                        return Err(PublishError::Authorization(err));
                    }
                    ErrorAction::RetryLater(_) => {
                        self.ledger
                            .record_outcome(
                                self.namespace,
                                key,
                                LedgerState::Failed,
                                &err.to_string(),
                            )
                            .await?;
                        return Ok(Outcome::Unfinished);
                    }
                    ErrorAction::GiveUp => {
                        self.ledger
                            .record_outcome(
                                self.namespace,
                                key,
                                LedgerState::Failed,
                                &err.to_string(),
                            )
                            .await?;
                        self.rejects.write(
                            line_no,
                            line,
                            &[format!("Pinterest refused it: {err}")],
                        )?;
                        return Ok(Outcome::Rejected);
                    }
                },
            }
        }
        Ok(Outcome::Unfinished)
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
        reconcile: tokio::sync::Mutex::new(()),
    };
    let report = Arc::new(Mutex::new(PublishReport::default()));
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
                }
            }
            Err(reasons) => {
                r.rejected += 1;
                rejects.write(line_no, &line, &reasons)?;
            }
        }
    }
    drop(seen);
    let results = futures::stream::iter(valid.iter().map(|(line_no, line, item)| {
        let shared = &shared;
        async move { shared.process(*line_no, line, item.as_ref()).await }
    }))
    .buffer_unordered(options.concurrency.max(1));
    futures::pin_mut!(results);
    while let Some(outcome) = results.next().await {
        let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
        match outcome? {
            Outcome::Created => r.created += 1,
            Outcome::Already => r.already_published += 1,
            Outcome::Reconciled => r.reconciled += 1,
            Outcome::Rejected => r.rejected += 1,
            Outcome::Unfinished => r.unfinished += 1,
        }
    }
    let mut r = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if rejects.close()? {
        r.reject_file = Some(rejects.path.display().to_string());
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
