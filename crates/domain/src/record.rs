//! What Pinion keeps about sources, destinations, runs, API tokens,
//! sharing, the activity log, authorization flows and keys: plain data that
//! the store returns and the service hands to the adapters. A credential's
//! view is [`crate::Credential`] and a user's [`crate::User`].

use chrono::{DateTime, Utc};

use crate::{ApiTokenId, CredentialId, DestinationId, FlowId, RunId, SourceId, UserId, Username};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Stored, not started yet.
    Queued,
    /// Reading from Pinterest.
    Running,
    /// Every stream completed.
    Succeeded,
    /// Stopped by an error (see the run's `error`).
    Failed,
}

impl RunStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
        }
    }

    /// True once the run can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }

    /// The status stored as `text`, if known.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

/// Records of one stream of a run, so far or at the end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStreamCount {
    /// The stream's name (`boards`, `board_pins`, …).
    pub stream: String,
    /// Records committed.
    pub records: u64,
    /// How it ended (`done`, `skipped`, `failed`, `not_started`, …); `None`
    /// while it is read or waiting.
    pub outcome: Option<String>,
    /// Why it failed or was skipped, for people.
    pub error: Option<String>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    /// `run_…`.
    pub id: RunId,
    /// The source it runs.
    pub source_id: SourceId,
    /// The user who owns the source.
    pub owner: UserId,
    /// Where it is.
    pub status: RunStatus,
    /// Per-stream counts, in the source's order.
    pub streams: Vec<RunStreamCount>,
    /// Why it failed (no secret).
    pub error: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it started reading.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// When another process last took it over after the one running it
    /// stopped (it then resumed from its checkpoint); `None` if never.
    pub taken_over_at: Option<DateTime<Utc>>,
}

/// An API token as listed to its owner: never the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiTokenInfo {
    /// `tok_` and 16 hex digits, derived from the stored hash.
    pub id: ApiTokenId,
    /// A name for people; `None` for tokens made before names existed.
    pub name: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What happened to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityEvent {
    /// The credential was stored.
    Created,
    /// Its name, description, app settings or scopes changed.
    Edited,
    /// An authorization stored new tokens (detail: the granted scopes).
    Authorized,
    /// An authorization failed (code exchange refused, other browser…).
    AuthorizationFailed,
    /// The user declined on Pinterest's consent page.
    AuthorizationDeclined,
    /// Tokens were refreshed.
    Refreshed,
    /// A refresh failed (subject: the failure class, detail: why).
    RefreshFailed,
    /// Validity was checked against Pinterest (subject: `ok` or `failed`).
    Checked,
    /// A run of a source or destination used it (subject: its id).
    UsedByRun,
    /// Shared with a collaborator (subject: their username).
    Shared,
    /// A share was withdrawn (subject: the collaborator's username).
    ShareWithdrawn,
    /// The credential was deleted.
    Deleted,
}

impl ActivityEvent {
    /// Every event, for parsing.
    pub const ALL: [ActivityEvent; 12] = [
        Self::Created,
        Self::Edited,
        Self::Authorized,
        Self::AuthorizationFailed,
        Self::AuthorizationDeclined,
        Self::Refreshed,
        Self::RefreshFailed,
        Self::Checked,
        Self::UsedByRun,
        Self::Shared,
        Self::ShareWithdrawn,
        Self::Deleted,
    ];

    /// The stored name, e.g. `refresh_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Edited => "edited",
            Self::Authorized => "authorized",
            Self::AuthorizationFailed => "authorization_failed",
            Self::AuthorizationDeclined => "authorization_declined",
            Self::Refreshed => "refreshed",
            Self::RefreshFailed => "refresh_failed",
            Self::Checked => "checked",
            Self::UsedByRun => "used_by_run",
            Self::Shared => "shared",
            Self::ShareWithdrawn => "share_withdrawn",
            Self::Deleted => "deleted",
        }
    }

    /// A label for people, e.g. "Refresh failed".
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Edited => "Edited",
            Self::Authorized => "Authorized",
            Self::AuthorizationFailed => "Authorization failed",
            Self::AuthorizationDeclined => "Authorization declined",
            Self::Refreshed => "Refreshed",
            Self::RefreshFailed => "Refresh failed",
            Self::Checked => "Checked",
            Self::UsedByRun => "Used by a run",
            Self::Shared => "Shared",
            Self::ShareWithdrawn => "Share withdrawn",
            Self::Deleted => "Deleted",
        }
    }

    /// The event stored as `name`, if known.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// A stored log row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActivityRecord {
    /// Increasing with time; pass the smallest seen as `before` for the next page.
    pub id: i64,
    /// The credential.
    pub credential_id: CredentialId,
    /// Its name when it happened.
    pub credential_name: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The acting user's id; `None` for the system and the operator.
    pub actor_id: Option<UserId>,
    /// The acting user's username, or `system`.
    pub actor: String,
    /// The event's stored name (see [`ActivityEvent`]).
    pub event: String,
    /// What it is about.
    pub subject: Option<String>,
    /// More words for people.
    pub detail: Option<String>,
}

/// An active share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShareRecord {
    /// The shared credential.
    pub credential_id: CredentialId,
    /// The collaborator.
    pub user_id: UserId,
    /// The collaborator's username.
    pub username: Username,
    /// Who shared it.
    pub shared_by: UserId,
    /// When it was (last) shared.
    pub created_at: DateTime<Utc>,
}

/// Where a user stands with a credential they do not own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    /// Never shared with them.
    None,
    /// Shared now.
    Active,
    /// Shared once, withdrawn since.
    Withdrawn,
}

/// How a source's runs read Pinterest.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Every run reads everything the streams cover.
    #[default]
    FullRefresh,
    /// A run skips boards whose pins did not change since the last
    /// successful run (Pinterest's `board_pins_modified_at`): JSON Lines
    /// files then hold only what was read, a SQLite output keeps the rows
    /// of earlier runs.
    Incremental,
}

impl SyncMode {
    /// Every mode, in the order forms list them.
    pub const ALL: [SyncMode; 2] = [SyncMode::FullRefresh, SyncMode::Incremental];

    /// The stored and wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::FullRefresh => "full_refresh",
            SyncMode::Incremental => "incremental",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            SyncMode::FullRefresh => "Full refresh",
            SyncMode::Incremental => "Incremental",
        }
    }

    /// What the mode does, in a sentence for a form.
    pub fn description(self) -> &'static str {
        match self {
            SyncMode::FullRefresh => "Every run reads everything again.",
            SyncMode::Incremental => {
                "Runs skip boards whose pins did not change since the last successful run; \
                 JSON Lines files then hold only what was read, a SQLite file keeps earlier rows."
            }
        }
    }

    /// The mode named `text`, as [`SyncMode::as_str`] spells it.
    pub fn parse(text: &str) -> Option<SyncMode> {
        SyncMode::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// A data source as stored: which streams to read with which credential,
/// and where to write them. Validation happens in the service layer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceRecord {
    /// `src_…`.
    pub id: SourceId,
    /// The owning user.
    pub owner: UserId,
    /// The credential it reads with (it may have been deleted since).
    pub credential_id: CredentialId,
    /// A name for people.
    pub name: String,
    /// Stream names, in the order chosen.
    pub streams: Vec<String>,
    /// `jsonl` or `sqlite`.
    pub output_kind: String,
    /// Where the output goes on the server.
    pub output_path: String,
    /// Full refresh or incremental.
    pub sync_mode: SyncMode,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A source's schedule as stored (issue 14): an interval or a cron
/// expression in a time zone, whether it is paused, and when it next runs.
/// [`crate::schedule::Cadence`] computes the times.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleRecord {
    /// The scheduled source.
    pub source_id: SourceId,
    /// The source's owner; scheduled runs run as them.
    pub owner: UserId,
    /// The interval in seconds, for an interval schedule.
    pub every_seconds: Option<i64>,
    /// The five-field cron expression, for a cron schedule.
    pub cron: Option<String>,
    /// The IANA zone the cron expression is read in (`UTC` for intervals).
    pub time_zone: String,
    /// A paused schedule starts nothing until resumed.
    pub paused: bool,
    /// When the next run is due; `None` while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When a replica last took a due slot.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The run that slot started, if one started.
    pub last_run_id: Option<RunId>,
    /// What happened at the last slot when no run started, for people
    /// (e.g. the previous run was still going).
    pub last_note: Option<String>,
    /// When the schedule was last set, paused or resumed.
    pub updated_at: DateTime<Utc>,
}

/// A destination as stored: the board pins are published to, and the
/// credential that writes there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DestinationRecord {
    /// `dst_…`.
    pub id: DestinationId,
    /// The owning user.
    pub owner: UserId,
    /// The credential it writes with (it may have been deleted since).
    pub credential_id: CredentialId,
    /// A name for people.
    pub name: String,
    /// The Pinterest board's id.
    pub board_id: String,
    /// The board's name when it was picked.
    pub board_name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One publish from a destination's page: its counts and each row's
/// outcome (`results`, a JSON array kept as text: line, outcome, the pin's
/// id or the reasons it was refused). The rows' content is not kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishRecord {
    /// `pub_…`.
    pub id: crate::PublishId,
    /// The destination published to.
    pub destination_id: DestinationId,
    /// Who published.
    pub owner: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Rows sent.
    pub rows: u64,
    /// Pins created.
    pub created: u64,
    /// Rows already published earlier.
    pub already_published: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Rows not known to be created: send them again.
    pub unfinished: u64,
    /// Each row's outcome, as JSON text.
    pub results: String,
}

/// How a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowOutcome {
    /// Tokens were stored.
    Completed,
    /// The flow failed; the message says why.
    Failed,
}

impl FlowOutcome {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The outcome stored as `text`, if known.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A flow's metadata (no secret values).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlowRecord {
    /// The flow's id.
    pub id: FlowId,
    /// The credential being authorized.
    pub credential_id: CredentialId,
    /// The credential's owner, whose Pinterest account the consent is for.
    pub user_id: UserId,
    /// True when the operator (the local CLI) started it rather than the
    /// owner: its outcome is logged as the operator's.
    pub started_by_operator: bool,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// SHA-256 hex of the browser-binding cookie, when started by a browser.
    pub browser_binding_hash: Option<String>,
    /// When the flow started.
    pub created_at: DateTime<Utc>,
    /// After this the callback is refused.
    pub expires_at: DateTime<Utc>,
    /// When a callback consumed the state.
    pub consumed_at: Option<DateTime<Utc>>,
    /// How the flow ended, once it has.
    pub outcome: Option<FlowOutcome>,
    /// The user-facing message of the ending.
    pub message: Option<String>,
}

/// How many sealed values use one key version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyVersionStatus {
    /// The key version.
    pub version: u32,
    /// True when this process has the key loaded.
    pub loaded: bool,
    /// True when the database holds this version's key-check value.
    pub registered: bool,
    /// Sealed values stored under this version.
    pub sealed_values: u64,
}

/// Key versions and how many sealed values each still protects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyringStatus {
    /// The version new values are sealed with.
    pub active: u32,
    /// Every version loaded, registered, or found in use, lowest first.
    pub versions: Vec<KeyVersionStatus>,
}

impl KeyringStatus {
    /// Sealed values not yet under the active key; zero when rotation is done.
    pub fn pending_reencryption(&self) -> u64 {
        self.versions
            .iter()
            .filter(|v| v.version != self.active)
            .map(|v| v.sealed_values)
            .sum()
    }
}
