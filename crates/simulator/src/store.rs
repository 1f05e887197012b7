//! The simulator's data: registered apps and users, their boards, sections, ad accounts,
//! and the pins that writes created or changed.
//!
//! Generated pins are never stored. Each generated board owns a contiguous range of pin
//! ids; pin `i` of the board is computed from the seed, the user, the board and `i`. Only
//! pins that were created, moved, edited or deleted through the API are remembered, so a
//! board of a million pins costs a few hundred bytes until someone writes to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use thiserror::Error;

use crate::generate as gen_;
use crate::model::{AccountType, AppInfo, AppSpec, DataShape, UserInfo, UserSpec};
use crate::ops::{Scope, ScopeSet};
use crate::wire::{self, Owner, Pin};

/// Why a registration or lookup in the store failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// An app with this client id exists already.
    #[error("an app with client id {0} is already registered")]
    DuplicateApp(String),
    /// A user with this username exists already.
    #[error("a user named {0} is already registered")]
    DuplicateUser(String),
    /// No such app.
    #[error("no app with client id {0}")]
    UnknownApp(String),
    /// No such user.
    #[error("no user named {0}")]
    UnknownUser(String),
    /// The registration data is not acceptable.
    #[error("invalid registration: {0}")]
    Invalid(String),
}

/// A board's privacy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privacy {
    /// Visible to everyone.
    Public,
    /// Visible to the owner and business collaborators.
    Protected,
    /// Visible to the owner only; needs the `_secret` scopes.
    Secret,
}

impl Privacy {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::Protected => "PROTECTED",
            Self::Secret => "SECRET",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PUBLIC" => Some(Self::Public),
            "PROTECTED" => Some(Self::Protected),
            "SECRET" => Some(Self::Secret),
            _ => None,
        }
    }
}

/// A registered OAuth app.
#[derive(Clone)]
pub struct App {
    pub client_id: String,
    pub secret: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub owner: Option<String>,
}

impl App {
    /// The control API's view.
    pub fn info(&self) -> AppInfo {
        AppInfo {
            client_id: self.client_id.clone(),
            client_secret: self.secret.clone(),
            name: self.name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            owner: self.owner.clone(),
        }
    }
}

/// A registered Pinterest account.
pub struct User {
    pub id: u64,
    pub key: u64,
    pub username: String,
    pub password: String,
    pub account_type: AccountType,
    pub auto_approve: bool,
    pub data: DataShape,
    /// Boards by creation sequence; listed newest first.
    pub boards: BTreeMap<u64, u64>,
    pub ad_accounts: Vec<u64>,
}

impl User {
    /// The control API's view.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            id: self.id.to_string(),
            username: self.username.clone(),
            account_type: self.account_type,
            auto_approve: self.auto_approve,
            data: self.data.clone(),
        }
    }
}

/// The generated pins of a board: a contiguous id range.
#[derive(Clone, Copy, Debug)]
pub struct GenPins {
    /// Id of pin 0.
    pub start: u64,
    /// Pins `0..sectioned` live in the generated sections, `per_section` each.
    pub sectioned: u64,
    /// Pins per generated section.
    pub per_section: u64,
    /// All generated pins.
    pub total: u64,
    /// Id of generated section 0; section `k` has id `section_start + k`.
    pub section_start: u64,
}

/// A board.
pub struct BoardRec {
    pub id: u64,
    pub owner: usize,
    pub key: u64,
    pub seq: u64,
    pub name: String,
    pub description: Option<String>,
    pub privacy: Privacy,
    pub is_ads_only: bool,
    pub created_at: i64,
    pub pins_modified_at: i64,
    /// Creation time of generated pin 0 (the newest); pin `i` is `7 * i` seconds older.
    pub newest_gen_pin_at: i64,
    pub generated: Option<GenPins>,
    /// Sections by creation sequence.
    pub sections: BTreeMap<u64, u64>,
    /// Pins on this board that were not generated here, by sequence.
    pub extra: BTreeMap<u64, u64>,
    pub pin_count: u64,
    pub follower_count: u64,
}

/// A board section.
pub struct SectionRec {
    pub id: u64,
    pub board: u64,
    pub name: String,
    /// Pins in this section that were not generated here, by sequence.
    pub extra: BTreeMap<u64, u64>,
}

/// A pin that was created or changed through the API.
pub struct PinRec {
    pub pin: Pin,
    pub board: u64,
    pub section: Option<u64>,
    pub seq: u64,
    /// When it was created through the API (for `stale_listing` faults).
    pub created: Option<std::time::Instant>,
}

/// An ad account.
pub struct AdAccountRec {
    pub id: u64,
    pub owner: usize,
    pub name: String,
    pub created_time: i64,
    pub country: &'static str,
    pub currency: &'static str,
}

/// Who is looking: the operation user and the token's scopes.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    pub user: usize,
    pub scopes: ScopeSet,
}

impl Viewer {
    /// Whether the viewer may see a board of this owner and privacy at all.
    pub fn sees_board(&self, owner: usize, privacy: Privacy) -> bool {
        match privacy {
            Privacy::Public => true,
            Privacy::Protected => owner == self.user,
            Privacy::Secret => owner == self.user && self.scopes.contains(Scope::BoardsReadSecret),
        }
    }

    /// Whether the viewer may see a pin on a board of this owner and privacy.
    pub fn sees_pin(&self, owner: usize, privacy: Privacy) -> bool {
        match privacy {
            Privacy::Public => true,
            Privacy::Protected => owner == self.user,
            Privacy::Secret => owner == self.user && self.scopes.contains(Scope::PinsReadSecret),
        }
    }
}

/// Where a pin list continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinCursor {
    /// Among pins added to the container, those with a sequence below this value.
    Extra(u64),
    /// Among generated pins, from this index on.
    Gen(u64),
}

impl PinCursor {
    /// The start of a list.
    pub const START: PinCursor = PinCursor::Extra(u64::MAX);

    /// Packs into two numbers for a bookmark.
    pub fn pack(self) -> (u64, u64) {
        match self {
            Self::Extra(s) => (0, s),
            Self::Gen(i) => (1, i),
        }
    }

    /// Unpacks from a bookmark.
    pub fn unpack(tag: u64, value: u64) -> Option<Self> {
        match tag {
            0 => Some(Self::Extra(value)),
            1 => Some(Self::Gen(value)),
            _ => None,
        }
    }
}

/// A pin as located by id.
pub enum PinLoc<'a> {
    /// Created or changed through the API.
    Stored(&'a PinRec),
    /// Generated pin `index` of `board`.
    Generated { board: &'a BoardRec, index: u64 },
}

/// Options of a pin list.
#[derive(Clone, Copy, Debug, Default)]
pub struct PinFilter {
    /// Only these creative types (bit 0 REGULAR, bit 1 VIDEO, other types never match);
    /// `None` keeps all.
    pub creative_types: Option<u32>,
    /// Fill `pin_metrics`.
    pub metrics: bool,
    /// Leave out pins created through the API after this instant (a
    /// `stale_listing` fault).
    pub written_after: Option<std::time::Instant>,
}

const FIRST_BOARD_ID: u64 = 549_755_800_000;
const FIRST_SECTION_ID: u64 = 5_066_549_000_000;
const FIRST_GENERATED_PIN_ID: u64 = 100_000_000_000_000_000;
const FIRST_CREATED_PIN_ID: u64 = 900_000_000_000_000_000;
const FIRST_AD_ACCOUNT_ID: u64 = 549_764_000_000;
const CREATED_SEQ_START: u64 = 1 << 40;

/// The whole data set of one simulator.
pub struct Store {
    pub seed: u64,
    pub media_base: String,
    pub apps: HashMap<String, App>,
    pub users: Vec<User>,
    by_name: HashMap<String, usize>,
    user_ids: HashSet<u64>,
    pub boards: HashMap<u64, BoardRec>,
    pub sections: HashMap<u64, SectionRec>,
    /// Start of each generated pin range, mapped to its board.
    ranges: BTreeMap<u64, u64>,
    pub pins: HashMap<u64, PinRec>,
    /// Generated pins that were deleted.
    removed: HashSet<u64>,
    pub ad_accounts: HashMap<u64, AdAccountRec>,
    next_board: u64,
    next_section: u64,
    next_pin_block: u64,
    next_created_pin: u64,
    next_ad_account: u64,
    next_seq: u64,
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// An empty store.
    pub fn new(seed: u64, media_base: String) -> Self {
        Self {
            seed,
            media_base,
            apps: HashMap::new(),
            users: Vec::new(),
            by_name: HashMap::new(),
            user_ids: HashSet::new(),
            boards: HashMap::new(),
            sections: HashMap::new(),
            ranges: BTreeMap::new(),
            pins: HashMap::new(),
            removed: HashSet::new(),
            ad_accounts: HashMap::new(),
            next_board: FIRST_BOARD_ID,
            next_section: FIRST_SECTION_ID,
            next_pin_block: FIRST_GENERATED_PIN_ID,
            next_created_pin: FIRST_CREATED_PIN_ID,
            next_ad_account: FIRST_AD_ACCOUNT_ID,
            next_seq: CREATED_SEQ_START,
        }
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Registers an app; generates a numeric client id and a secret when absent.
    pub fn add_app(&mut self, spec: AppSpec) -> Result<AppInfo, StoreError> {
        let client_id = match spec.client_id {
            Some(id) => {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(StoreError::Invalid(
                        "client_id must be a numeric string".into(),
                    ));
                }
                id
            }
            None => loop {
                let candidate = rand::thread_rng()
                    .gen_range(1_000_000u64..10_000_000)
                    .to_string();
                if !self.apps.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        if self.apps.contains_key(&client_id) {
            return Err(StoreError::DuplicateApp(client_id));
        }
        if spec.redirect_uris.is_empty() {
            return Err(StoreError::Invalid(
                "at least one redirect URI is required".into(),
            ));
        }
        for uri in &spec.redirect_uris {
            if url::Url::parse(uri).is_err() {
                return Err(StoreError::Invalid(format!(
                    "redirect URI is not an absolute URL: {uri}"
                )));
            }
        }
        let secret = match spec.client_secret {
            Some(s) if !s.is_empty() => s,
            Some(_) => return Err(StoreError::Invalid("client_secret is empty".into())),
            None => random_secret(),
        };
        let app = App {
            client_id: client_id.clone(),
            secret,
            name: spec.name,
            redirect_uris: spec.redirect_uris,
            owner: spec.owner,
        };
        let info = app.info();
        self.apps.insert(client_id, app);
        Ok(info)
    }

    /// Gives an app a new random secret and returns it.
    pub fn reset_secret(&mut self, client_id: &str) -> Result<String, StoreError> {
        let app = self
            .apps
            .get_mut(client_id)
            .ok_or_else(|| StoreError::UnknownApp(client_id.to_owned()))?;
        app.secret = random_secret();
        Ok(app.secret.clone())
    }

    /// Index of a user by username.
    pub fn user_index(&self, username: &str) -> Option<usize> {
        self.by_name.get(username).copied()
    }

    /// Registers a user and lays out their generated data.
    pub fn add_user(&mut self, spec: UserSpec) -> Result<UserInfo, StoreError> {
        if spec.username.is_empty()
            || !spec
                .username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(StoreError::Invalid(
                "username must be non-empty ASCII letters, digits, '_', '-' or '.'".into(),
            ));
        }
        if self.by_name.contains_key(&spec.username) {
            return Err(StoreError::DuplicateUser(spec.username));
        }
        let shape = spec.data.clone();
        for share in [shape.secret_share, shape.protected_share, shape.video_share] {
            if !(0.0..=1.0).contains(&share) {
                return Err(StoreError::Invalid("shares must be between 0 and 1".into()));
            }
        }
        if shape.secret_share + shape.protected_share > 1.0 {
            return Err(StoreError::Invalid(
                "secret_share + protected_share must not exceed 1".into(),
            ));
        }
        let key = gen_::hash(&[self.seed, gen_::hash_str(&spec.username)]);
        let mut id = 1_000_000_000_000_000_000 + key % 8_000_000_000_000_000_000;
        while self.user_ids.contains(&id) {
            id += 1;
        }
        self.user_ids.insert(id);
        let idx = self.users.len();
        let created_at = gen_::EPOCH - 86_400 * 400 + (key % 86_400) as i64;
        let mut user = User {
            id,
            key,
            username: spec.username.clone(),
            password: spec.password,
            account_type: spec.account_type,
            auto_approve: spec.auto_approve,
            data: shape.clone(),
            boards: BTreeMap::new(),
            ad_accounts: Vec::new(),
        };

        // Privacy: a keyed shuffle picks which ordinals are secret and protected.
        let n = u64::from(shape.boards);
        let mut order: Vec<u64> = (0..n).collect();
        order.sort_by_key(|k| gen_::hash(&[key, *k, 3]));
        let secret = (n as f64 * shape.secret_share).round() as usize;
        let protected = (n as f64 * shape.protected_share).round() as usize;
        let mut privacy = vec![Privacy::Public; n as usize];
        for (pos, k) in order.iter().enumerate() {
            if pos < secret {
                privacy[*k as usize] = Privacy::Secret;
            } else if pos < secret + protected {
                privacy[*k as usize] = Privacy::Protected;
            }
        }

        for k in 0..n {
            let board_id = self.next_board;
            self.next_board += 1 + gen_::hash(&[key, k, 4]) % 97;
            let board_key = gen_::hash(&[key, k, 5]);
            let sections = u64::from(shape.sections_per_board);
            let section_start = self.next_section;
            self.next_section += sections + 1 + board_key % 13;
            let sectioned = sections * shape.pins_per_section;
            let total = sectioned + shape.pins_per_board;
            let start = self.next_pin_block;
            self.next_pin_block += total + 1_000 + board_key % 1_000;
            if total > 0 {
                self.ranges.insert(start, board_id);
            }
            let created = created_at + 3_600 * (k as i64 + 1);
            let newest = created + 86_400 * 200 + (board_key % 86_400) as i64;
            let mut board = BoardRec {
                id: board_id,
                owner: idx,
                key: board_key,
                seq: k,
                name: gen_::board_name(key, k),
                description: Some(format!("Ideas collected on board {}", k + 1)),
                privacy: privacy[k as usize],
                is_ads_only: false,
                created_at: created,
                pins_modified_at: if total > 0 { newest } else { created },
                newest_gen_pin_at: newest,
                generated: Some(GenPins {
                    start,
                    sectioned,
                    per_section: shape.pins_per_section,
                    total,
                    section_start,
                }),
                sections: BTreeMap::new(),
                extra: BTreeMap::new(),
                pin_count: total,
                follower_count: board_key % 5_000,
            };
            for s in 0..sections {
                let section_id = section_start + s;
                board.sections.insert(s, section_id);
                self.sections.insert(
                    section_id,
                    SectionRec {
                        id: section_id,
                        board: board_id,
                        name: gen_::section_name(board_key, s),
                        extra: BTreeMap::new(),
                    },
                );
            }
            user.boards.insert(k, board_id);
            self.boards.insert(board_id, board);
        }

        for a in 0..u64::from(shape.ad_accounts) {
            let ad_id = self.next_ad_account;
            self.next_ad_account += 1 + gen_::hash(&[key, a, 6]) % 1_000;
            self.ad_accounts.insert(
                ad_id,
                AdAccountRec {
                    id: ad_id,
                    owner: idx,
                    name: format!("{} ads {}", spec.username, a + 1),
                    created_time: created_at + 86_400 * (a as i64 + 1),
                    country: "US",
                    currency: "USD",
                },
            );
            user.ad_accounts.push(ad_id);
        }

        let info = user.info();
        self.by_name.insert(spec.username, idx);
        self.users.push(user);
        Ok(info)
    }

    /// The `Account` of a user.
    pub fn account(&self, user: usize) -> wire::Account {
        let u = &self.users[user];
        let pin_count = u
            .boards
            .values()
            .filter_map(|b| self.boards.get(b))
            .map(|b| b.pin_count)
            .sum();
        wire::Account {
            account_type: u.account_type.as_str(),
            id: u.id.to_string(),
            username: u.username.clone(),
            profile_image: format!("{}/75x75_RS/{:016x}.jpg", self.media_base, u.key),
            website_url: format!("https://example.com/{}", u.username),
            about: format!("Pins and boards of {}.", u.username),
            business_name: match u.account_type {
                AccountType::Business => Some(format!("{} studio", u.username)),
                AccountType::Pinner => None,
            },
            board_count: Some(u.boards.len() as u64),
            pin_count: Some(pin_count),
            follower_count: Some(u.key % 10_000),
            following_count: Some((u.key >> 16) % 1_000),
            monthly_views: Some((u.key >> 32) % 100_000),
        }
    }

    /// The `Board` JSON of a board.
    pub fn board_json(&self, board: &BoardRec) -> wire::Board {
        let mut thumbs = Vec::new();
        if let Some(g) = board.generated {
            for i in 0..g.total.min(4) {
                let h = gen_::hash(&[board.key, i]);
                thumbs.push(format!(
                    "{}/150x150/{:016x}{:016x}.jpg",
                    self.media_base,
                    h,
                    gen_::mix(h)
                ));
            }
        }
        wire::Board {
            id: board.id.to_string(),
            name: board.name.clone(),
            description: board.description.clone(),
            owner: Owner {
                username: self.users[board.owner].username.clone(),
            },
            privacy: board.privacy.as_str(),
            created_at: gen_::datetime(board.created_at),
            board_pins_modified_at: gen_::datetime(board.pins_modified_at),
            pin_count: board.pin_count,
            follower_count: board.follower_count,
            collaborator_count: 0,
            is_ads_only: board.is_ads_only,
            media: wire::BoardMedia {
                image_cover_url: thumbs.first().map(|t| t.replace("/150x150/", "/400x300/")),
                pin_thumbnail_urls: thumbs,
            },
        }
    }

    /// The `AdAccount` JSON.
    pub fn ad_account_json(&self, ad: &AdAccountRec) -> wire::AdAccount {
        let owner = &self.users[ad.owner];
        wire::AdAccount {
            id: ad.id.to_string(),
            name: ad.name.clone(),
            owner: wire::AdAccountOwner {
                id: owner.id.to_string(),
                username: owner.username.clone(),
            },
            country: ad.country,
            currency: ad.currency,
            permissions: vec!["OWNER"],
            created_time: Some(ad.created_time),
            updated_time: Some(ad.created_time + 86_400),
        }
    }

    /// Computes generated pin `index` of `board`.
    pub fn gen_pin(&self, board: &BoardRec, index: u64, viewer: usize, metrics: bool) -> Pin {
        let g = board.generated.unwrap_or(GenPins {
            start: 0,
            sectioned: 0,
            per_section: 1,
            total: 0,
            section_start: 0,
        });
        let h = gen_::hash(&[board.key, index]);
        let text = gen_::pin_text(h, index);
        let video = gen_::is_video(h, self.users[board.owner].data.video_share);
        let section = if index < g.sectioned && g.per_section > 0 {
            Some((g.section_start + index / g.per_section).to_string())
        } else {
            None
        };
        Pin {
            id: (g.start + index).to_string(),
            created_at: gen_::datetime(board.newest_gen_pin_at - 7 * index as i64),
            link: Some(text.link),
            title: Some(text.title),
            description: Some(text.description),
            dominant_color: Some(text.dominant_color),
            alt_text: text.alt_text,
            creative_type: Some(if video { "VIDEO" } else { "REGULAR" }),
            board_id: board.id.to_string(),
            board_section_id: section,
            board_owner: Owner {
                username: self.users[board.owner].username.clone(),
            },
            is_owner: board.owner == viewer,
            is_standard: true,
            has_been_promoted: false,
            parent_pin_id: None,
            pin_metrics: metrics.then(|| pin_metrics(h)),
            media: gen_::pin_media(&self.media_base, h, video),
        }
    }

    /// A stored pin as the viewer sees it.
    pub fn stored_pin(&self, rec: &PinRec, viewer: usize, metrics: bool) -> Pin {
        let mut pin = rec.pin.clone();
        let owner = self.boards.get(&rec.board).map(|b| b.owner);
        pin.is_owner = owner == Some(viewer);
        pin.pin_metrics = metrics.then(|| pin_metrics(gen_::hash_str(&pin.id)));
        pin
    }

    /// Finds a pin by id.
    pub fn locate_pin(&self, id: u64) -> Option<PinLoc<'_>> {
        if let Some(rec) = self.pins.get(&id) {
            return Some(PinLoc::Stored(rec));
        }
        if self.removed.contains(&id) {
            return None;
        }
        let (&start, &board_id) = self.ranges.range(..=id).next_back()?;
        let board = self.boards.get(&board_id)?;
        let g = board.generated?;
        if start != g.start || id >= g.start + g.total {
            return None;
        }
        Some(PinLoc::Generated {
            board,
            index: id - g.start,
        })
    }

    /// Board id and owner of a located pin.
    pub fn pin_board<'a>(&'a self, loc: &PinLoc<'a>) -> Option<&'a BoardRec> {
        match loc {
            PinLoc::Stored(rec) => self.boards.get(&rec.board),
            PinLoc::Generated { board, .. } => Some(board),
        }
    }

    /// Renders a located pin.
    pub fn render(&self, loc: &PinLoc<'_>, viewer: usize, metrics: bool) -> Pin {
        match loc {
            PinLoc::Stored(rec) => self.stored_pin(rec, viewer, metrics),
            PinLoc::Generated { board, index } => self.gen_pin(board, *index, viewer, metrics),
        }
    }

    /// Lists up to `n` pins of a board (or of one of its sections) from `cursor`, returning
    /// them with the cursor of the next page when there is one.
    pub fn list_pins(
        &self,
        board: &BoardRec,
        section: Option<&SectionRec>,
        cursor: PinCursor,
        n: usize,
        filter: PinFilter,
        viewer: usize,
    ) -> (Vec<Pin>, Option<PinCursor>) {
        let mut out = Vec::with_capacity(n.min(256));
        let mut cursor = cursor;
        let keep = |pin: &Pin| match filter.creative_types {
            None => true,
            Some(mask) => match pin.creative_type {
                Some("REGULAR") => mask & 1 != 0,
                Some("VIDEO") => mask & 2 != 0,
                _ => false,
            },
        };
        if let PinCursor::Extra(below) = cursor {
            let extra = section.map_or(&board.extra, |s| &s.extra);
            for (&seq, id) in extra.range(..below).rev() {
                let Some(rec) = self.pins.get(id) else {
                    continue;
                };
                if filter
                    .written_after
                    .is_some_and(|cutoff| rec.created.is_some_and(|at| at > cutoff))
                {
                    continue;
                }
                let pin = self.stored_pin(rec, viewer, filter.metrics);
                if !keep(&pin) {
                    continue;
                }
                if out.len() == n {
                    return (out, Some(cursor));
                }
                out.push(pin);
                cursor = PinCursor::Extra(seq);
            }
            cursor = PinCursor::Gen(0);
        }
        let PinCursor::Gen(from) = cursor else {
            return (out, None);
        };
        let Some(g) = board.generated else {
            return (out, None);
        };
        let (lo, hi) = match section {
            None => (0, g.total),
            Some(s) => {
                if s.id < g.section_start || g.per_section == 0 {
                    (0, 0)
                } else {
                    let k = s.id - g.section_start;
                    let lo = k * g.per_section;
                    if lo >= g.sectioned {
                        (0, 0)
                    } else {
                        (lo, lo + g.per_section)
                    }
                }
            }
        };
        let check_overrides = !self.pins.is_empty() || !self.removed.is_empty();
        let mut i = from.max(lo);
        while i < hi {
            let id = g.start + i;
            let pin = if check_overrides {
                if self.removed.contains(&id) {
                    i += 1;
                    continue;
                }
                match self.pins.get(&id) {
                    Some(rec) => {
                        let here = rec.board == board.id
                            && section.is_none_or(|s| rec.section == Some(s.id));
                        if !here {
                            i += 1;
                            continue;
                        }
                        self.stored_pin(rec, viewer, filter.metrics)
                    }
                    None => self.gen_pin(board, i, viewer, filter.metrics),
                }
            } else {
                self.gen_pin(board, i, viewer, filter.metrics)
            };
            if keep(&pin) {
                if out.len() == n {
                    return (out, Some(PinCursor::Gen(i)));
                }
                out.push(pin);
            }
            i += 1;
        }
        (out, None)
    }

    /// Boards of a user the viewer may see, newest first, from sequence `below`.
    pub fn list_boards(
        &self,
        user: usize,
        below: u64,
        n: usize,
        keep: impl Fn(&BoardRec) -> bool,
    ) -> (Vec<&BoardRec>, Option<u64>) {
        let mut out = Vec::new();
        for (&seq, id) in self.users[user].boards.range(..below).rev() {
            let Some(board) = self.boards.get(id) else {
                continue;
            };
            if !keep(board) {
                continue;
            }
            if out.len() == n {
                return (out, Some(seq + 1));
            }
            out.push(board);
        }
        (out, None)
    }

    /// Sections of a board in creation order, from sequence `from`.
    pub fn list_sections(
        &self,
        board: &BoardRec,
        from: u64,
        n: usize,
    ) -> (Vec<&SectionRec>, Option<u64>) {
        let mut out = Vec::new();
        for (&seq, id) in board.sections.range(from..) {
            let Some(section) = self.sections.get(id) else {
                continue;
            };
            if out.len() == n {
                return (out, Some(seq));
            }
            out.push(section);
        }
        (out, None)
    }

    /// The sequence of the next board (in listing order) after `seq`, if any.
    pub fn next_board_seq(&self, user: usize, below: u64) -> Option<(u64, u64)> {
        self.users[user]
            .boards
            .range((Bound::Unbounded, Bound::Excluded(below)))
            .next_back()
            .map(|(s, b)| (*s, *b))
    }

    /// Creates a board.
    pub fn create_board(
        &mut self,
        owner: usize,
        name: String,
        description: Option<String>,
        privacy: Privacy,
        is_ads_only: bool,
    ) -> u64 {
        let id = self.next_board;
        self.next_board += 1 + gen_::mix(id) % 97;
        let seq = self.seq();
        let now = now_unix();
        let board = BoardRec {
            id,
            owner,
            key: gen_::hash(&[self.seed, id]),
            seq,
            name,
            description,
            privacy,
            is_ads_only,
            created_at: now,
            pins_modified_at: now,
            newest_gen_pin_at: now,
            generated: None,
            sections: BTreeMap::new(),
            extra: BTreeMap::new(),
            pin_count: 0,
            follower_count: 0,
        };
        self.users[owner].boards.insert(seq, id);
        self.boards.insert(id, board);
        id
    }

    /// Deletes a board with its sections and pins.
    pub fn delete_board(&mut self, id: u64) {
        let Some(board) = self.boards.remove(&id) else {
            return;
        };
        self.users[board.owner].boards.remove(&board.seq);
        for section in board.sections.values() {
            self.sections.remove(section);
        }
        let gone: Vec<u64> = self
            .pins
            .iter()
            .filter(|(_, p)| p.board == id)
            .map(|(k, _)| *k)
            .collect();
        for pin in gone {
            self.pins.remove(&pin);
            self.removed.insert(pin);
        }
        if let Some(g) = board.generated {
            self.ranges.remove(&g.start);
        }
    }

    /// Creates a section.
    pub fn create_section(&mut self, board: u64, name: String) -> u64 {
        let id = self.next_section;
        self.next_section += 1 + gen_::mix(id) % 13;
        let seq = self.seq();
        self.sections.insert(
            id,
            SectionRec {
                id,
                board,
                name,
                extra: BTreeMap::new(),
            },
        );
        if let Some(b) = self.boards.get_mut(&board) {
            b.sections.insert(seq, id);
        }
        id
    }

    /// Where a generated pin lives natively, as (board, section).
    fn native_place(&self, id: u64) -> Option<(u64, Option<u64>)> {
        let (&start, &board_id) = self.ranges.range(..=id).next_back()?;
        let g = self.boards.get(&board_id)?.generated?;
        if start != g.start || id >= g.start + g.total {
            return None;
        }
        let i = id - g.start;
        let section =
            (i < g.sectioned && g.per_section > 0).then(|| g.section_start + i / g.per_section);
        Some((board_id, section))
    }

    /// Stores a new pin on a board.
    pub fn create_pin(&mut self, mut pin: Pin, board: u64, section: Option<u64>) -> Pin {
        let id = self.next_created_pin;
        self.next_created_pin += 1 + gen_::mix(id) % 89;
        pin.id = id.to_string();
        let seq = self.seq();
        let now = now_unix();
        self.pins.insert(
            id,
            PinRec {
                pin: pin.clone(),
                board,
                section,
                seq,
                created: Some(std::time::Instant::now()),
            },
        );
        if let Some(b) = self.boards.get_mut(&board) {
            b.extra.insert(seq, id);
            b.pin_count += 1;
            b.pins_modified_at = now;
        }
        if let Some(s) = section.and_then(|s| self.sections.get_mut(&s)) {
            s.extra.insert(seq, id);
        }
        pin
    }

    /// Replaces a pin's data and moves it to `board`/`section` if they changed.
    pub fn put_pin(&mut self, id: u64, mut pin: Pin, board: u64, section: Option<u64>) {
        pin.board_id = board.to_string();
        pin.board_section_id = section.map(|s| s.to_string());
        let (old_board, old_section, old_seq, created) = match self.pins.get(&id) {
            Some(rec) => (rec.board, rec.section, Some(rec.seq), rec.created),
            None => match self.native_place(id) {
                Some((b, s)) => (b, s, None, None),
                None => return,
            },
        };
        let seq = old_seq.unwrap_or_else(|| self.seq());
        let native = self.native_place(id);
        let now = now_unix();
        if old_board != board || old_section != section {
            if let Some(b) = self.boards.get_mut(&old_board) {
                b.extra.remove(&seq);
                if old_board != board {
                    b.pin_count = b.pin_count.saturating_sub(1);
                    b.pins_modified_at = now;
                }
            }
            if let Some(s) = old_section.and_then(|s| self.sections.get_mut(&s)) {
                s.extra.remove(&seq);
            }
            let native_board = native.map(|n| n.0);
            let native_section = native.and_then(|n| n.1);
            if let Some(b) = self.boards.get_mut(&board) {
                if native_board != Some(board) {
                    b.extra.insert(seq, id);
                }
                if old_board != board {
                    b.pin_count += 1;
                }
                b.pins_modified_at = now;
            }
            if let Some(s) = section
                && (native_section != Some(s) || native.map(|n| n.0) != Some(board))
                && let Some(sec) = self.sections.get_mut(&s)
            {
                sec.extra.insert(seq, id);
            }
        }
        self.pins.insert(
            id,
            PinRec {
                pin,
                board,
                section,
                seq,
                created,
            },
        );
    }

    /// Deletes a pin.
    pub fn delete_pin(&mut self, id: u64) {
        let place = match self.pins.remove(&id) {
            Some(rec) => Some((rec.board, rec.section, Some(rec.seq))),
            None => self.native_place(id).map(|(b, s)| (b, s, None)),
        };
        let Some((board, section, seq)) = place else {
            return;
        };
        if let Some(b) = self.boards.get_mut(&board) {
            if let Some(seq) = seq {
                b.extra.remove(&seq);
            }
            b.pin_count = b.pin_count.saturating_sub(1);
            b.pins_modified_at = now_unix();
        }
        if let (Some(s), Some(seq)) = (section.and_then(|s| self.sections.get_mut(&s)), seq) {
            s.extra.remove(&seq);
        }
        if self.native_place(id).is_some() {
            self.removed.insert(id);
        }
    }
}

fn pin_metrics(h: u64) -> serde_json::Value {
    let impressions = h % 10_000;
    serde_json::json!({
        "90d": {
            "pin_click": (h >> 8) % 100,
            "impression": impressions,
            "clickthrough": (h >> 16) % 50,
        },
        "lifetime_metrics": {
            "pin_click": (h >> 8) % 1_000,
            "impression": impressions * 3,
            "clickthrough": (h >> 16) % 500,
            "reaction": (h >> 24) % 300,
            "comment": (h >> 32) % 40,
        }
    })
}

/// A random 40-character hexadecimal secret.
pub fn random_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(shape: DataShape) -> (Store, usize) {
        let mut store = Store::new(7, "https://i.example".into());
        store
            .add_user(UserSpec {
                username: "ana".into(),
                password: "pw".into(),
                account_type: AccountType::Pinner,
                auto_approve: false,
                data: shape,
            })
            .unwrap();
        (store, 0)
    }

    fn all_pins(store: &Store, board: u64, section: Option<u64>) -> Vec<String> {
        let b = &store.boards[&board];
        let s = section.map(|s| &store.sections[&s]);
        let mut cursor = PinCursor::START;
        let mut ids = Vec::new();
        loop {
            let (page, next) = store.list_pins(b, s, cursor, 7, PinFilter::default(), 0);
            ids.extend(page.into_iter().map(|p| p.id));
            match next {
                Some(c) => cursor = c,
                None => return ids,
            }
        }
    }

    #[test]
    fn board_lists_hold_section_pins_and_loose_pins() {
        let (store, user) = store_with(DataShape::default());
        let board = *store.users[user].boards.values().next().unwrap();
        let ids = all_pins(&store, board, None);
        assert_eq!(ids.len(), 2 * 5 + 20);
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn created_pins_come_first_and_deleted_pins_disappear() {
        let (mut store, user) = store_with(DataShape::default());
        let board = *store.users[user].boards.values().next().unwrap();
        let template = store.gen_pin(&store.boards[&board], 0, 0, false);
        let created = store.create_pin(template, board, None);
        let first_generated = all_pins(&store, board, None)[1].clone();
        store.delete_pin(first_generated.parse().unwrap());
        let ids = all_pins(&store, board, None);
        assert_eq!(ids[0], created.id);
        assert!(!ids.contains(&first_generated));
        assert_eq!(store.boards[&board].pin_count, 30);
    }

    #[test]
    fn moved_pins_leave_their_board_and_join_the_new_section() {
        let (mut store, user) = store_with(DataShape::default());
        let mut boards = store.users[user].boards.values().copied();
        let (a, b) = (boards.next().unwrap(), boards.next().unwrap());
        let section = *store.boards[&b].sections.values().next().unwrap();
        let pin_id: u64 = all_pins(&store, a, None)[25].parse().unwrap();
        let pin = store.gen_pin(&store.boards[&a], 25, 0, false);
        store.put_pin(pin_id, pin, b, Some(section));
        assert!(!all_pins(&store, a, None).contains(&pin_id.to_string()));
        assert!(all_pins(&store, b, None).contains(&pin_id.to_string()));
        assert!(all_pins(&store, b, Some(section)).contains(&pin_id.to_string()));
        assert_eq!(all_pins(&store, b, Some(section)).len(), 6);
    }

    #[test]
    fn generated_pins_are_found_by_id() {
        let (store, user) = store_with(DataShape::default());
        let board = *store.users[user].boards.values().last().unwrap();
        let ids = all_pins(&store, board, None);
        for id in ids {
            let loc = store.locate_pin(id.parse().unwrap()).expect("pin exists");
            assert_eq!(store.render(&loc, 0, false).id, id);
        }
        assert!(store.locate_pin(42).is_none());
    }
}
