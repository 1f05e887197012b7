//! Pinterest's OAuth scopes, rate-limit categories and the table of implemented v5
//! operations with the scopes and category each needs, as the OpenAPI description lists
//! them in `security` and `x-ratelimit-category` (a conformance test checks the table
//! against the spec file).

use std::fmt;

/// One OAuth scope, in the order of the spec's `securitySchemes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Scope {
    /// `ads:read`
    AdsRead,
    /// `ads:write`
    AdsWrite,
    /// `billing:read`
    BillingRead,
    /// `billing:write`
    BillingWrite,
    /// `biz_access:read`
    BizAccessRead,
    /// `biz_access:write`
    BizAccessWrite,
    /// `boards:read`
    BoardsRead,
    /// `boards:read_secret`
    BoardsReadSecret,
    /// `boards:write`
    BoardsWrite,
    /// `boards:write_secret`
    BoardsWriteSecret,
    /// `catalogs:read`
    CatalogsRead,
    /// `catalogs:write`
    CatalogsWrite,
    /// `msot:write`
    MsotWrite,
    /// `pins:read`
    PinsRead,
    /// `pins:read_secret`
    PinsReadSecret,
    /// `pins:write`
    PinsWrite,
    /// `pins:write_secret`
    PinsWriteSecret,
    /// `user_accounts:read`
    UserAccountsRead,
    /// `user_accounts:write`
    UserAccountsWrite,
}

impl Scope {
    /// Every scope Pinterest defines.
    pub const ALL: [Scope; 19] = [
        Self::AdsRead,
        Self::AdsWrite,
        Self::BillingRead,
        Self::BillingWrite,
        Self::BizAccessRead,
        Self::BizAccessWrite,
        Self::BoardsRead,
        Self::BoardsReadSecret,
        Self::BoardsWrite,
        Self::BoardsWriteSecret,
        Self::CatalogsRead,
        Self::CatalogsWrite,
        Self::MsotWrite,
        Self::PinsRead,
        Self::PinsReadSecret,
        Self::PinsWrite,
        Self::PinsWriteSecret,
        Self::UserAccountsRead,
        Self::UserAccountsWrite,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdsRead => "ads:read",
            Self::AdsWrite => "ads:write",
            Self::BillingRead => "billing:read",
            Self::BillingWrite => "billing:write",
            Self::BizAccessRead => "biz_access:read",
            Self::BizAccessWrite => "biz_access:write",
            Self::BoardsRead => "boards:read",
            Self::BoardsReadSecret => "boards:read_secret",
            Self::BoardsWrite => "boards:write",
            Self::BoardsWriteSecret => "boards:write_secret",
            Self::CatalogsRead => "catalogs:read",
            Self::CatalogsWrite => "catalogs:write",
            Self::MsotWrite => "msot:write",
            Self::PinsRead => "pins:read",
            Self::PinsReadSecret => "pins:read_secret",
            Self::PinsWrite => "pins:write",
            Self::PinsWriteSecret => "pins:write_secret",
            Self::UserAccountsRead => "user_accounts:read",
            Self::UserAccountsWrite => "user_accounts:write",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A short description for the consent page.
    pub fn description(self) -> &'static str {
        match self {
            Self::AdsRead => "See your ads, ad accounts and their analytics",
            Self::AdsWrite => "Create and change your ads",
            Self::BillingRead => "See your billing information",
            Self::BillingWrite => "Change your billing information",
            Self::BizAccessRead => "See your business access",
            Self::BizAccessWrite => "Change your business access",
            Self::BoardsRead => "See your public boards",
            Self::BoardsReadSecret => "See your secret boards",
            Self::BoardsWrite => "Create, change and delete your public boards",
            Self::BoardsWriteSecret => "Create, change and delete your secret boards",
            Self::CatalogsRead => "See your catalogs",
            Self::CatalogsWrite => "Change your catalogs",
            Self::MsotWrite => "Send measurement events",
            Self::PinsRead => "See your public Pins",
            Self::PinsReadSecret => "See your secret Pins",
            Self::PinsWrite => "Create, change and delete your public Pins",
            Self::PinsWriteSecret => "Create, change and delete your secret Pins",
            Self::UserAccountsRead => "See your account and followers",
            Self::UserAccountsWrite => "Change your account",
        }
    }
}

/// A set of scopes as a bit mask.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u32);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// A set from a list.
    pub const fn of(scopes: &[Scope]) -> Self {
        let mut bits = 0u32;
        let mut i = 0;
        while i < scopes.len() {
            bits |= 1 << scopes[i] as u8;
            i += 1;
        }
        Self(bits)
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }

    /// Whether every scope of `other` is in this set.
    pub fn contains_all(self, other: ScopeSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub fn union(self, other: ScopeSet) -> Self {
        Self(self.0 | other.0)
    }

    /// Adds one scope.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope as u8;
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in spec order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Space-separated wire form, as the token endpoint returns it.
    pub fn to_space_separated(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Parses a comma- or whitespace-separated list; `Err` names the first unknown scope.
    /// An empty list is an empty set.
    pub fn parse_list(text: &str) -> Result<Self, String> {
        let mut set = Self::EMPTY;
        for name in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            match Scope::parse(name) {
                Some(scope) => set.insert(scope),
                None => return Err(name.to_owned()),
            }
        }
        Ok(set)
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Scope::as_str))
            .finish()
    }
}

/// A rate-limit category (`x-ratelimit-category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Reads of accounts, boards, sections and pins, and the token endpoint.
    OrgRead,
    /// Writes of boards, sections and pins.
    OrgWrite,
    /// Reads of ads objects and ad accounts.
    AdsRead,
    /// Ads analytics.
    AdsAnalytics,
}

impl Category {
    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgRead => "org_read",
            Self::OrgWrite => "org_write",
            Self::AdsRead => "ads_read",
            Self::AdsAnalytics => "ads_analytics",
        }
    }

    /// Pinterest's Standard-access limit per minute per user per app.
    pub fn per_minute(self) -> u32 {
        match self {
            Self::OrgRead => 1_000,
            Self::OrgWrite => 100,
            Self::AdsRead => 120_000,
            Self::AdsAnalytics => 300,
        }
    }
}

/// One implemented v5 operation.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// HTTP method in upper case.
    pub method: &'static str,
    /// Path template under `/v5`, as in the spec.
    pub path: &'static str,
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// Scopes the `pinterest_oauth2` security requirement lists.
    pub scopes: ScopeSet,
    /// Whether the spec also allows client-credentials tokens.
    pub client_credentials: bool,
    /// Rate-limit category.
    pub category: Category,
}

use Category::{AdsAnalytics, OrgRead, OrgWrite};
use Scope::{BoardsRead, BoardsWrite, PinsRead, PinsWrite, UserAccountsRead};

const BR: ScopeSet = ScopeSet::of(&[BoardsRead]);
const BRW: ScopeSet = ScopeSet::of(&[BoardsRead, BoardsWrite]);
const BRPR: ScopeSet = ScopeSet::of(&[BoardsRead, PinsRead]);
const PIN_WRITE: ScopeSet = ScopeSet::of(&[BoardsRead, BoardsWrite, PinsRead, PinsWrite]);
const ADS: ScopeSet = ScopeSet::of(&[Scope::AdsRead]);

const fn op(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    scopes: ScopeSet,
    client_credentials: bool,
    category: Category,
) -> Operation {
    Operation {
        method,
        path,
        operation_id,
        scopes,
        client_credentials,
        category,
    }
}

/// Every implemented v5 operation (the token endpoint is handled apart).
pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/user_account",
        "user_account/get",
        ScopeSet::of(&[UserAccountsRead]),
        true,
        OrgRead,
    ),
    op("GET", "/boards", "boards/list", BR, true, OrgRead),
    op("POST", "/boards", "boards/create", BRW, true, OrgWrite),
    op("GET", "/boards/{board_id}", "boards/get", BR, true, OrgRead),
    op(
        "PATCH",
        "/boards/{board_id}",
        "boards/update",
        BRW,
        true,
        OrgWrite,
    ),
    op(
        "DELETE",
        "/boards/{board_id}",
        "boards/delete",
        BRW,
        false,
        OrgWrite,
    ),
    op(
        "GET",
        "/boards/{board_id}/pins",
        "boards/list_pins",
        BRPR,
        true,
        OrgRead,
    ),
    op(
        "GET",
        "/boards/{board_id}/sections",
        "board_sections/list",
        BR,
        true,
        OrgRead,
    ),
    op(
        "POST",
        "/boards/{board_id}/sections",
        "board_sections/create",
        BRW,
        false,
        OrgWrite,
    ),
    op(
        "GET",
        "/boards/{board_id}/sections/{section_id}/pins",
        "board_sections/list_pins",
        BRPR,
        true,
        OrgRead,
    ),
    op("GET", "/pins", "pins/list", BRPR, true, OrgRead),
    op("POST", "/pins", "pins/create", PIN_WRITE, true, OrgWrite),
    op("GET", "/pins/{pin_id}", "pins/get", BRPR, true, OrgRead),
    op(
        "PATCH",
        "/pins/{pin_id}",
        "pins/update",
        PIN_WRITE,
        true,
        OrgWrite,
    ),
    op(
        "DELETE",
        "/pins/{pin_id}",
        "pins/delete",
        PIN_WRITE,
        true,
        OrgWrite,
    ),
    op(
        "GET",
        "/ad_accounts",
        "ad_accounts/list",
        ADS,
        true,
        Category::AdsRead,
    ),
    op(
        "GET",
        "/ad_accounts/{ad_account_id}",
        "ad_accounts/get",
        ADS,
        true,
        Category::AdsRead,
    ),
    op(
        "GET",
        "/ad_accounts/{ad_account_id}/analytics",
        "ad_account/analytics",
        ADS,
        true,
        AdsAnalytics,
    ),
];

/// Finds the operation for a method and a `/v5/...` route template.
pub fn find(method: &str, route: &str) -> Option<&'static Operation> {
    let path = route.strip_prefix("/v5")?;
    OPERATIONS
        .iter()
        .find(|op| op.method == method && op.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_with_commas_and_spaces() {
        let set = ScopeSet::parse_list("boards:read,pins:read user_accounts:read").unwrap();
        assert_eq!(
            set.to_space_separated(),
            "boards:read pins:read user_accounts:read"
        );
    }

    #[test]
    fn unknown_scopes_are_named_in_the_error() {
        assert_eq!(
            ScopeSet::parse_list("boards:read,read_public"),
            Err("read_public".to_owned())
        );
    }

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }
}
