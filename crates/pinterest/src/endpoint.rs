//! The operations of Pinterest's v5 API that this client calls, each with its
//! method, path template and rate-limit category.
//!
//! Names follow the spec: `operation_id` is the spec's `operationId`, `path` is
//! the path template under the base URL (`/boards/{board_id}/pins`) and
//! `category` is its `x-ratelimit-category`. Errors name an endpoint by method
//! and path template, never by a full URL. [`Endpoint::new`] builds endpoints
//! for operations read from the spec at run time (the custom endpoint source);
//! path parameters are validated before they are spliced into the path.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The HTTP methods Pinterest's v5 API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// A read; safe to retry.
    Get,
    /// A create; not idempotent, never retried after it may have been sent.
    Post,
    /// An update; treated like a create.
    Patch,
    /// A delete; treated like a create.
    Delete,
}

impl HttpMethod {
    /// The method as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// True for reads, the only calls the client repeats after a failure that
    /// may have reached Pinterest (RFC 9110 §9.2.2; SECURITY.md R28).
    pub fn is_retry_safe(self) -> bool {
        matches!(self, HttpMethod::Get)
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HttpMethod {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(HttpMethod::Get),
            "POST" => Ok(HttpMethod::Post),
            "PATCH" => Ok(HttpMethod::Patch),
            "DELETE" => Ok(HttpMethod::Delete),
            _ => Err(UnknownName {
                kind: "HTTP method",
                name: s.to_owned(),
            }),
        }
    }
}

/// A name this crate does not know (an HTTP method or a rate-limit category).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    /// What was being named.
    pub kind: &'static str,
    /// The unknown name.
    pub name: String,
}

macro_rules! categories {
    ($($variant:ident => $text:literal,)*) => {
        /// A rate-limit category (`x-ratelimit-category` in the spec).
        ///
        /// Operations in one category share one quota per user and app.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RateCategory {
            $(
                #[doc = concat!("`", $text, "`.")]
                $variant,
            )*
        }

        impl RateCategory {
            /// Every category, in a fixed order.
            pub const ALL: &'static [RateCategory] = &[$(RateCategory::$variant),*];

            /// The category as the spec spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RateCategory::$variant => $text,)*
                }
            }
        }

        impl FromStr for RateCategory {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(RateCategory::$variant),)*
                    _ => Err(UnknownName { kind: "rate-limit category", name: s.to_owned() }),
                }
            }
        }
    };
}

categories! {
    OrgRead => "org_read",
    OrgWrite => "org_write",
    OrgAnalytics => "org_analytics",
    AdsRead => "ads_read",
    AdsWrite => "ads_write",
    AdsAnalytics => "ads_analytics",
    AdsConversions => "ads_conversions",
    CatalogsRead => "catalogs_read",
    CatalogsWrite => "catalogs_write",
    TrendsRead => "trends_read",
    AdvancedAuctionRead => "advanced_auction_read",
    AdvancedAuctionWrite => "advanced_auction_write",
    MsotWrite => "msot_write",
}

impl RateCategory {
    pub(crate) fn index(self) -> usize {
        RateCategory::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or(0)
    }
}

impl fmt::Display for RateCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation of the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    operation_id: Cow<'static, str>,
    method: HttpMethod,
    path: Cow<'static, str>,
    category: RateCategory,
    takes_ad_account_id: bool,
}

/// A path template that cannot be used to build a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template `{template}`: {reason}")]
pub struct InvalidEndpoint {
    /// The rejected template, escaped.
    pub template: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

/// A path parameter that is missing or unsafe to put in a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathParamError {
    /// The template names a parameter that was not given.
    #[error("missing path parameter `{0}`")]
    Missing(String),
    /// A value with characters other than ASCII letters, digits, `_` and `-`.
    #[error("path parameter `{name}` must be ASCII letters, digits, `_` or `-`, got {shown}")]
    Unsafe {
        /// The parameter's name.
        name: String,
        /// The rejected value, shortened and escaped.
        shown: String,
    },
}

impl Endpoint {
    const fn fixed(
        operation_id: &'static str,
        method: HttpMethod,
        path: &'static str,
        category: RateCategory,
        takes_ad_account_id: bool,
    ) -> Self {
        Self {
            operation_id: Cow::Borrowed(operation_id),
            method,
            path: Cow::Borrowed(path),
            category,
            takes_ad_account_id,
        }
    }

    /// An operation described at run time, e.g. read from the spec.
    ///
    /// The template must start with `/`, contain only URL-safe path
    /// characters and well-formed `{name}` placeholders. Such endpoints never
    /// get the client's `ad_account_id` added; pass it as a query parameter
    /// where the operation takes one.
    pub fn new(
        operation_id: impl Into<String>,
        method: HttpMethod,
        path: impl Into<String>,
        category: RateCategory,
    ) -> Result<Self, InvalidEndpoint> {
        let path = path.into();
        let invalid = |reason| InvalidEndpoint {
            template: path.escape_debug().to_string(),
            reason,
        };
        if !path.starts_with('/') {
            return Err(invalid("must start with `/`"));
        }
        if path.contains("..") || path.contains("//") {
            return Err(invalid("must not contain `..` or `//`"));
        }
        let mut depth = 0;
        for c in path.chars() {
            match c {
                '{' if depth == 0 => depth = 1,
                '}' if depth == 1 => depth = 0,
                '{' | '}' => return Err(invalid("unbalanced `{` or `}`")),
                c if c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.') => {}
                _ => {
                    return Err(invalid(
                        "has characters other than letters, digits, `/_-.` and placeholders",
                    ));
                }
            }
        }
        if depth != 0 {
            return Err(invalid("unbalanced `{` or `}`"));
        }
        Ok(Self {
            operation_id: Cow::Owned(operation_id.into()),
            method,
            path: Cow::Owned(path),
            category,
            takes_ad_account_id: false,
        })
    }

    /// The spec's `operationId`, e.g. `boards/list_pins`.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The HTTP method.
    pub fn method(&self) -> HttpMethod {
        self.method
    }

    /// The path template under the base URL, e.g. `/boards/{board_id}/pins`.
    pub fn path_template(&self) -> &str {
        &self.path
    }

    /// The rate-limit category whose budget this operation spends.
    pub fn category(&self) -> RateCategory {
        self.category
    }

    /// True when the operation takes the optional `ad_account_id` query
    /// parameter (acting on behalf of a business account).
    pub fn takes_ad_account_id(&self) -> bool {
        self.takes_ad_account_id
    }

    /// The names of the template's `{placeholders}`, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }

    /// Fills the template's placeholders.
    ///
    /// Each value must be non-empty ASCII letters, digits, `_` or `-`, so no
    /// value can add a path segment, a query or a fragment.
    pub fn expand(&self, params: &[(&str, &str)]) -> Result<String, PathParamError> {
        let mut out = String::with_capacity(self.path.len() + 32);
        for (i, segment) in self.path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let value = params
                        .iter()
                        .find(|(key, _)| *key == name)
                        .map(|(_, value)| *value)
                        .ok_or_else(|| PathParamError::Missing(name.to_owned()))?;
                    let safe = !value.is_empty()
                        && value.len() <= 256
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if !safe {
                        let shown: String = value.chars().take(40).collect();
                        return Err(PathParamError::Unsafe {
                            name: name.to_owned(),
                            shown: format!("\"{}\"", shown.escape_debug()),
                        });
                    }
                    out.push_str(value);
                }
                None => out.push_str(segment),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

use HttpMethod::{Delete, Get, Patch, Post};
use RateCategory::{AdsAnalytics, AdsRead, OrgRead, OrgWrite};

/// `GET /user_account` (`user_account/get`).
pub static USER_ACCOUNT_GET: Endpoint =
    Endpoint::fixed("user_account/get", Get, "/user_account", OrgRead, true);
/// `GET /boards` (`boards/list`).
pub static BOARDS_LIST: Endpoint = Endpoint::fixed("boards/list", Get, "/boards", OrgRead, true);
/// `POST /boards` (`boards/create`).
pub static BOARDS_CREATE: Endpoint =
    Endpoint::fixed("boards/create", Post, "/boards", OrgWrite, true);
/// `GET /boards/{board_id}` (`boards/get`).
pub static BOARDS_GET: Endpoint =
    Endpoint::fixed("boards/get", Get, "/boards/{board_id}", OrgRead, true);
/// `PATCH /boards/{board_id}` (`boards/update`).
pub static BOARDS_UPDATE: Endpoint =
    Endpoint::fixed("boards/update", Patch, "/boards/{board_id}", OrgWrite, true);
/// `DELETE /boards/{board_id}` (`boards/delete`).
pub static BOARDS_DELETE: Endpoint = Endpoint::fixed(
    "boards/delete",
    Delete,
    "/boards/{board_id}",
    OrgWrite,
    true,
);
/// `GET /boards/{board_id}/pins` (`boards/list_pins`).
pub static BOARDS_LIST_PINS: Endpoint = Endpoint::fixed(
    "boards/list_pins",
    Get,
    "/boards/{board_id}/pins",
    OrgRead,
    true,
);
/// `GET /boards/{board_id}/sections` (`board_sections/list`).
pub static BOARD_SECTIONS_LIST: Endpoint = Endpoint::fixed(
    "board_sections/list",
    Get,
    "/boards/{board_id}/sections",
    OrgRead,
    true,
);
/// `POST /boards/{board_id}/sections` (`board_sections/create`).
pub static BOARD_SECTIONS_CREATE: Endpoint = Endpoint::fixed(
    "board_sections/create",
    Post,
    "/boards/{board_id}/sections",
    OrgWrite,
    true,
);
/// `GET /boards/{board_id}/sections/{section_id}/pins` (`board_sections/list_pins`).
pub static BOARD_SECTIONS_LIST_PINS: Endpoint = Endpoint::fixed(
    "board_sections/list_pins",
    Get,
    "/boards/{board_id}/sections/{section_id}/pins",
    OrgRead,
    true,
);
/// `GET /pins` (`pins/list`).
pub static PINS_LIST: Endpoint = Endpoint::fixed("pins/list", Get, "/pins", OrgRead, true);
/// `POST /pins` (`pins/create`).
pub static PINS_CREATE: Endpoint = Endpoint::fixed("pins/create", Post, "/pins", OrgWrite, true);
/// `GET /pins/{pin_id}` (`pins/get`).
pub static PINS_GET: Endpoint = Endpoint::fixed("pins/get", Get, "/pins/{pin_id}", OrgRead, true);
/// `PATCH /pins/{pin_id}` (`pins/update`).
pub static PINS_UPDATE: Endpoint =
    Endpoint::fixed("pins/update", Patch, "/pins/{pin_id}", OrgWrite, true);
/// `DELETE /pins/{pin_id}` (`pins/delete`).
pub static PINS_DELETE: Endpoint =
    Endpoint::fixed("pins/delete", Delete, "/pins/{pin_id}", OrgWrite, true);
/// `GET /ad_accounts` (`ad_accounts/list`).
pub static AD_ACCOUNTS_LIST: Endpoint =
    Endpoint::fixed("ad_accounts/list", Get, "/ad_accounts", AdsRead, false);
/// `GET /ad_accounts/{ad_account_id}` (`ad_accounts/get`).
pub static AD_ACCOUNTS_GET: Endpoint = Endpoint::fixed(
    "ad_accounts/get",
    Get,
    "/ad_accounts/{ad_account_id}",
    AdsRead,
    false,
);
/// `GET /ad_accounts/{ad_account_id}/analytics` (`ad_account/analytics`).
pub static AD_ACCOUNT_ANALYTICS: Endpoint = Endpoint::fixed(
    "ad_account/analytics",
    Get,
    "/ad_accounts/{ad_account_id}/analytics",
    AdsAnalytics,
    false,
);

/// Every endpoint this crate calls with a typed method.
pub static ALL: &[&Endpoint] = &[
    &USER_ACCOUNT_GET,
    &BOARDS_LIST,
    &BOARDS_CREATE,
    &BOARDS_GET,
    &BOARDS_UPDATE,
    &BOARDS_DELETE,
    &BOARDS_LIST_PINS,
    &BOARD_SECTIONS_LIST,
    &BOARD_SECTIONS_CREATE,
    &BOARD_SECTIONS_LIST_PINS,
    &PINS_LIST,
    &PINS_CREATE,
    &PINS_GET,
    &PINS_UPDATE,
    &PINS_DELETE,
    &AD_ACCOUNTS_LIST,
    &AD_ACCOUNTS_GET,
    &AD_ACCOUNT_ANALYTICS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_fills_placeholders_in_order() {
        let path = BOARD_SECTIONS_LIST_PINS
            .expand(&[("section_id", "22"), ("board_id", "11")])
            .unwrap();
        assert_eq!(path, "/boards/11/sections/22/pins");
    }

    #[test]
    fn expand_refuses_values_that_would_change_the_path() {
        for bad in ["../x", "1/2", "1?a=b", "1#f", "", "a b", "%2F"] {
            let err = BOARDS_GET.expand(&[("board_id", bad)]).unwrap_err();
            assert!(
                matches!(err, PathParamError::Unsafe { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            BOARDS_GET.expand(&[]).unwrap_err(),
            PathParamError::Missing("board_id".into())
        );
    }

    #[test]
    fn runtime_endpoints_reject_unsafe_templates() {
        assert!(Endpoint::new("x", Get, "/catalogs/{id}", RateCategory::CatalogsRead).is_ok());
        for bad in [
            "boards", "/a/../b", "/a//b", "/a/{b", "/a/b}", "/a?x=1", "/a/{{b}}",
        ] {
            assert!(
                Endpoint::new("x", Get, bad, OrgRead).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn display_names_method_and_template_only() {
        assert_eq!(BOARDS_LIST_PINS.to_string(), "GET /boards/{board_id}/pins");
        assert_eq!(
            BOARDS_LIST_PINS.path_params().collect::<Vec<_>>(),
            ["board_id"]
        );
    }

    #[test]
    fn categories_parse_from_spec_names() {
        for category in RateCategory::ALL {
            assert_eq!(
                category.as_str().parse::<RateCategory>().unwrap(),
                *category
            );
        }
        assert!("nope".parse::<RateCategory>().is_err());
    }

    #[test]
    fn typed_endpoints_match_the_spec() {
        let spec = crate::testing::spec();
        for endpoint in ALL {
            let op = &spec["paths"][endpoint.path_template()]
                [endpoint.method().as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], endpoint.operation_id(), "{endpoint}");
            assert_eq!(
                op["x-ratelimit-category"],
                endpoint.category().as_str(),
                "{endpoint}"
            );
            let mut takes = false;
            for param in op["parameters"].as_array().into_iter().flatten() {
                let param = crate::testing::resolve(spec, param);
                if param["name"] == "ad_account_id" && param["in"] == "query" {
                    takes = true;
                }
            }
            assert_eq!(takes, endpoint.takes_ad_account_id(), "{endpoint}");
        }
    }
}
