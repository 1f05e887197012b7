//! JSON types of the control API under `/_sim/`, shared by the server side and by the typed
//! client in [`crate::control`], and used for fixture files.
//!
//! These are the simulator's own types; nothing here is shared with Pinion's client crates.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A Pinterest account type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountType {
    /// A personal account.
    Pinner,
    /// A business account.
    Business,
}

impl AccountType {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pinner => "PINNER",
            Self::Business => "BUSINESS",
        }
    }
}

/// An OAuth app to register.
#[derive(Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Numeric app id; generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// App secret; generated when absent.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Name shown on the consent page.
    pub name: String,
    /// Redirect URIs, matched character for character.
    pub redirect_uris: Vec<String>,
    /// Username whose account client-credentials tokens act as.
    #[serde(default)]
    pub owner: Option<String>,
}

impl fmt::Debug for AppSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSpec")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("owner", &self.owner)
            .finish()
    }
}

/// A registered app as the control API reports it.
#[derive(Clone, Serialize, Deserialize)]
pub struct AppInfo {
    /// Numeric app id.
    pub client_id: String,
    /// Current app secret.
    pub client_secret: String,
    /// App name.
    pub name: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Owner username for client-credentials tokens.
    pub owner: Option<String>,
}

impl fmt::Debug for AppInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppInfo")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// The shape of a user's generated data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataShape {
    /// Number of boards.
    pub boards: u32,
    /// Sections on each board.
    pub sections_per_board: u32,
    /// Pins on each board outside any section.
    pub pins_per_board: u64,
    /// Pins in each section (they are also listed on the board).
    pub pins_per_section: u64,
    /// Ad accounts owned by the user.
    pub ad_accounts: u32,
    /// Share of boards that are SECRET (0.0 to 1.0).
    pub secret_share: f64,
    /// Share of boards that are PROTECTED (0.0 to 1.0).
    pub protected_share: f64,
    /// Share of pins that are videos (0.0 to 1.0).
    pub video_share: f64,
}

impl Default for DataShape {
    fn default() -> Self {
        Self {
            boards: 5,
            sections_per_board: 2,
            pins_per_board: 20,
            pins_per_section: 5,
            ad_accounts: 2,
            secret_share: 0.2,
            protected_share: 0.2,
            video_share: 0.1,
        }
    }
}

impl DataShape {
    /// A shape with one board holding `pins` pins and nothing else.
    pub fn single_board(pins: u64) -> Self {
        Self {
            boards: 1,
            sections_per_board: 0,
            pins_per_board: pins,
            pins_per_section: 0,
            ad_accounts: 0,
            secret_share: 0.0,
            protected_share: 0.0,
            video_share: 0.1,
        }
    }

    /// An empty account.
    pub fn empty() -> Self {
        Self {
            boards: 0,
            sections_per_board: 0,
            pins_per_board: 0,
            pins_per_section: 0,
            ad_accounts: 0,
            secret_share: 0.0,
            protected_share: 0.0,
            video_share: 0.0,
        }
    }
}

/// A Pinterest account to register.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Username used on the sign-in page.
    pub username: String,
    /// Password used on the sign-in page.
    pub password: String,
    /// Account type.
    #[serde(default = "default_account_type")]
    pub account_type: AccountType,
    /// Whether authorize requests for this user are approved without pages.
    #[serde(default)]
    pub auto_approve: bool,
    /// Shape of the generated data.
    #[serde(default)]
    pub data: DataShape,
}

fn default_account_type() -> AccountType {
    AccountType::Pinner
}

impl fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSpec")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("account_type", &self.account_type)
            .field("auto_approve", &self.auto_approve)
            .field("data", &self.data)
            .finish()
    }
}

/// A registered user as the control API reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserInfo {
    /// The account id (`GET /v5/user_account` `id`).
    pub id: String,
    /// Username.
    pub username: String,
    /// Account type.
    pub account_type: AccountType,
    /// Whether consent is given automatically.
    pub auto_approve: bool,
    /// Shape of the generated data.
    pub data: DataShape,
}

/// A change to a registered user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New auto-approve switch.
    #[serde(default)]
    pub auto_approve: Option<bool>,
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Delays the request, then serves it normally.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Answers with this status and a JSON error body.
    Status {
        /// HTTP status, normally 5xx.
        status: u16,
    },
    /// Answers 429 with Pinterest's code 8 body and rate-limit headers.
    RateLimit,
    /// Answers 200 with a body that is not valid JSON.
    MalformedJson,
    /// Answers 200 and closes the connection part-way through the body.
    TruncatedBody,
    /// Closes the connection without an answer.
    DropConnection,
    /// Serves the request (a write is applied), then closes the connection
    /// instead of sending the answer. Only for POST, PATCH and DELETE faults;
    /// an answer that is not a success is sent as it is.
    AppliedThenDrop,
    /// Serves the request (a write is applied), then answers this 5xx status
    /// instead. Only for POST, PATCH and DELETE faults, and only 500 to 599;
    /// an answer that is not a success is sent as it is.
    AppliedThenStatus {
        /// HTTP status, 500 to 599.
        status: u16,
    },
    /// Serves lists as a lagging replica would: pins written less than `ms`
    /// milliseconds ago are left out of board, section and user pin lists
    /// (the pins themselves exist and can be read by id). Only for GET
    /// faults.
    StaleListing {
        /// How long a written pin stays out of lists.
        ms: u64,
    },
}

impl FaultKind {
    /// Why this fault cannot be injected with `method`, if it cannot.
    pub fn refusal(&self, method: Option<&str>) -> Option<String> {
        let is = |m: &str| method.is_some_and(|x| x.eq_ignore_ascii_case(m));
        match self {
            FaultKind::AppliedThenDrop | FaultKind::AppliedThenStatus { .. }
                if !(is("POST") || is("PATCH") || is("DELETE")) =>
            {
                Some("applied_then_* faults need method POST, PATCH or DELETE".into())
            }
            FaultKind::AppliedThenStatus { status } if !(500..=599).contains(status) => {
                Some("applied_then_status needs a status from 500 to 599".into())
            }
            FaultKind::StaleListing { .. } if !is("GET") => {
                Some("stale_listing faults need method GET".into())
            }
            _ => None,
        }
    }
}

/// A fault to inject on requests whose path starts with `path_prefix`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Path prefix, for example `/v5/boards` or `/v5/oauth/token`.
    pub path_prefix: String,
    /// Only this HTTP method, when given.
    #[serde(default)]
    pub method: Option<String>,
    /// What to do.
    pub kind: FaultKind,
    /// Applies to this many requests, then disappears.
    #[serde(default)]
    pub count: Option<u64>,
    /// Applies for this long, then disappears.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// A fault as the control API reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    /// Id used to delete it.
    pub id: u64,
    /// The fault.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many requests it has hit so far.
    pub applied: u64,
}

/// Call statistics of the Pinterest surface (everything outside `/_sim/`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls per `METHOD /route/template`, for example `GET /v5/boards/{board_id}/pins`.
    pub endpoints: BTreeMap<String, u64>,
    /// Token-endpoint calls per `grant_type` (including failed ones).
    pub grant_types: BTreeMap<String, u64>,
    /// Successful token-endpoint calls per `grant_type`.
    pub grant_types_succeeded: BTreeMap<String, u64>,
    /// API calls answered 429 for a rate limit (their category's or the
    /// universal per-second one), per category of the call (`org_read`).
    #[serde(default)]
    pub rate_limited: BTreeMap<String, u64>,
}

impl Stats {
    /// Calls to one endpoint, zero when never called.
    pub fn endpoint(&self, key: &str) -> u64 {
        self.endpoints.get(key).copied().unwrap_or(0)
    }

    /// API calls answered 429, in every category.
    pub fn rate_limited_total(&self) -> u64 {
        self.rate_limited.values().sum()
    }

    /// Token requests of one grant type, zero when none.
    pub fn grant_type(&self, grant_type: &str) -> u64 {
        self.grant_types.get(grant_type).copied().unwrap_or(0)
    }

    /// Successful token requests of one grant type, zero when none.
    pub fn grant_type_succeeded(&self, grant_type: &str) -> u64 {
        self.grant_types_succeeded
            .get(grant_type)
            .copied()
            .unwrap_or(0)
    }
}

/// A data stream whose expected ids the control API can list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The account itself (one id).
    UserAccount,
    /// All boards, of every privacy.
    Boards,
    /// All sections of all boards.
    BoardSections,
    /// The pins of every board (as `boards/{id}/pins` lists them).
    BoardPins,
    /// The pins of every section.
    BoardSectionPins,
    /// The pins `GET /v5/pins` lists with every visibility option on.
    Pins,
    /// Ad accounts.
    AdAccounts,
}

impl Stream {
    /// Every stream.
    pub const ALL: [Stream; 7] = [
        Self::UserAccount,
        Self::Boards,
        Self::BoardSections,
        Self::BoardPins,
        Self::BoardSectionPins,
        Self::Pins,
        Self::AdAccounts,
    ];

    /// The name used in the control API path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserAccount => "user_account",
            Self::Boards => "boards",
            Self::BoardSections => "board_sections",
            Self::BoardPins => "board_pins",
            Self::BoardSectionPins => "board_section_pins",
            Self::Pins => "pins",
            Self::AdAccounts => "ad_accounts",
        }
    }

    /// Parses the name used in the control API path.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}
