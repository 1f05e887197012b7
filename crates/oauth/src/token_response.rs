//! Turning the body of a successful token-endpoint answer into a validated
//! [`TokenResponse`] (SECURITY R13, FACTS §2).
//!
//! Pinterest's answer is JSON with `access_token`, `token_type`, `expires_in`
//! (an integer, though a string is seen too), a space-separated `scope`, and
//! optionally `refresh_token`, `refresh_token_expires_in` and
//! `refresh_token_expires_at`. Fields are read through a permissive scalar type
//! so that a wrong type is reported by field name and never by value: the body
//! holds tokens, so no part of it is ever copied into an error. Every string
//! read from the body is zeroized when dropped.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use pinion_domain::{AccessToken, RefreshToken, ScopeSet};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

/// The longest lifetime accepted for any token: one year. Longer values are
/// clamped to it, so a garbage `expires_in` cannot postpone a refresh forever.
pub const MAX_TOKEN_LIFETIME: TimeDelta = TimeDelta::days(365);

/// The lifetime assumed for an access token whose response has no
/// `expires_in`: short, so the token manager refreshes soon rather than
/// trusting a token of unknown age.
pub const ASSUMED_ACCESS_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// A validated token-endpoint answer, ready to be sealed and stored.
///
/// Expiry times are absolute, computed from `received_at`, the moment the
/// answer arrived (from the injected clock). Secrets are in their domain
/// types, so `Debug` shows `[REDACTED]` for them.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The new access token.
    pub access_token: AccessToken,
    /// When the access token expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// The new refresh token, if Pinterest sent one. `None` means "keep the
    /// stored one", never "erase it" (SECURITY R14).
    pub refresh_token: Option<RefreshToken>,
    /// When the refresh token expires, if Pinterest said.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// The scopes Pinterest reports as granted (possibly more or fewer than
    /// requested); `None` when the answer had no `scope`.
    pub scopes: Option<ScopeSet>,
    /// Scope names in the answer that Pinion does not know; kept out of
    /// `scopes`, reported so a new Pinterest scope does not fail a connection.
    pub unknown_scopes: Vec<String>,
    /// When the answer arrived.
    pub received_at: DateTime<Utc>,
    /// Things the parser assumed or adjusted, worth a log line.
    pub notes: Vec<ResponseNote>,
}

/// Something the parser assumed or adjusted while accepting an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseNote {
    /// `token_type` was absent; bearer was assumed (the spec's default).
    TokenTypeMissing,
    /// `expires_in` was absent; [`ASSUMED_ACCESS_TOKEN_LIFETIME`] was used.
    ExpiresInMissing,
    /// `expires_in` was above [`MAX_TOKEN_LIFETIME`] and was clamped.
    ExpiresInClamped,
    /// `refresh_token` was an empty string and was treated as absent.
    RefreshTokenEmpty,
    /// The refresh token's expiry was above [`MAX_TOKEN_LIFETIME`] and was clamped.
    RefreshTokenExpiryClamped,
    /// `scope` was absent.
    ScopeMissing,
    /// An optional field had an unusable value and was ignored.
    FieldIgnored {
        /// The field's name.
        field: &'static str,
        /// Why it was ignored.
        reason: &'static str,
    },
}

impl fmt::Display for ResponseNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenTypeMissing => f.write_str("token_type missing, bearer assumed"),
            Self::ExpiresInMissing => f.write_str("expires_in missing, one hour assumed"),
            Self::ExpiresInClamped => f.write_str("expires_in above one year, clamped"),
            Self::RefreshTokenEmpty => f.write_str("refresh_token empty, treated as absent"),
            Self::RefreshTokenExpiryClamped => {
                f.write_str("refresh token expiry above one year, clamped")
            }
            Self::ScopeMissing => f.write_str("scope missing"),
            Self::FieldIgnored { field, reason } => write!(f, "{field} ignored: {reason}"),
        }
    }
}

/// Why a successful-looking answer was refused. The text names fields and
/// problems, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTokenResponse {
    /// The body is empty.
    #[error("body is empty")]
    Empty,
    /// The body is not JSON at all (an HTML page, a truncated document).
    #[error("body is not valid JSON ({0})")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error("body is JSON but not an object")]
    NotAnObject,
    /// The object could not be read, e.g. a field appears twice.
    #[error("JSON object is malformed (e.g. a duplicate field)")]
    MalformedObject,
    /// `access_token` is absent or null.
    #[error("`access_token` is missing")]
    MissingAccessToken,
    /// `access_token` is an empty string.
    #[error("`access_token` is empty")]
    EmptyAccessToken,
    /// `access_token` has characters that cannot go in a bearer header.
    #[error("`access_token` contains characters not allowed in an HTTP header")]
    AccessTokenCharacters,
    /// A field that must be a string is something else.
    #[error("`{0}` is not a string")]
    NotAString(&'static str),
    /// `token_type` is not bearer (e.g. `mac`). Holds the type when it is a
    /// short identifier, else `None`.
    #[error("`token_type` is not bearer{}", .0.as_ref().map(|t| format!(" (`{t}`)")).unwrap_or_default())]
    UnsupportedTokenType(Option<String>),
    /// `expires_in` is present but not a positive whole number of seconds.
    #[error("`expires_in` {0}")]
    BadExpiresIn(&'static str),
}

impl TokenResponse {
    /// Parses and validates the body of a 200 answer that arrived at
    /// `received_at`. Never panics, whatever the bytes.
    pub fn parse(body: &[u8], received_at: DateTime<Utc>) -> Result<Self, InvalidTokenResponse> {
        let raw = RawTokenResponse::from_slice(body)?;
        let mut notes = Vec::new();

        let access_token = match raw.access_token {
            None => return Err(InvalidTokenResponse::MissingAccessToken),
            Some(Scalar::Str(value)) => {
                if value.is_empty() {
                    return Err(InvalidTokenResponse::EmptyAccessToken);
                }
                if !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(InvalidTokenResponse::AccessTokenCharacters);
                }
                AccessToken::new(value.as_str())
            }
            Some(_) => return Err(InvalidTokenResponse::NotAString("access_token")),
        };

        match raw.token_type {
            None => notes.push(ResponseNote::TokenTypeMissing),
            Some(Scalar::Str(value)) if value.trim().eq_ignore_ascii_case("bearer") => {}
            Some(Scalar::Str(value)) => {
                let shown = (value.len() <= 20 && value.bytes().all(|b| b.is_ascii_alphanumeric()))
                    .then(|| value.to_string());
                return Err(InvalidTokenResponse::UnsupportedTokenType(shown));
            }
            Some(_) => return Err(InvalidTokenResponse::NotAString("token_type")),
        }

        let access_lifetime = match raw.expires_in {
            None => {
                notes.push(ResponseNote::ExpiresInMissing);
                ASSUMED_ACCESS_TOKEN_LIFETIME
            }
            Some(value) => {
                let seconds = value
                    .seconds()
                    .map_err(InvalidTokenResponse::BadExpiresIn)?;
                if seconds <= 0 {
                    return Err(InvalidTokenResponse::BadExpiresIn("is not positive"));
                }
                clamp_lifetime(seconds, &mut notes, ResponseNote::ExpiresInClamped)
            }
        };

        let refresh_token = match raw.refresh_token {
            None => None,
            Some(Scalar::Str(value)) if value.is_empty() => {
                notes.push(ResponseNote::RefreshTokenEmpty);
                None
            }
            Some(Scalar::Str(value)) => Some(RefreshToken::new(value.as_str())),
            Some(_) => return Err(InvalidTokenResponse::NotAString("refresh_token")),
        };

        let refresh_token_expires_at = refresh_expiry(
            raw.refresh_token_expires_in,
            raw.refresh_token_expires_at,
            received_at,
            &mut notes,
        );

        let (scopes, unknown_scopes) = match raw.scope {
            None => {
                notes.push(ResponseNote::ScopeMissing);
                (None, Vec::new())
            }
            Some(Scalar::Str(value)) => {
                let (set, unknown) = ScopeSet::parse_lenient(&value);
                (Some(set), unknown)
            }
            Some(_) => {
                notes.push(ResponseNote::FieldIgnored {
                    field: "scope",
                    reason: "not a string",
                });
                (None, Vec::new())
            }
        };

        Ok(Self {
            access_token,
            access_token_expires_at: received_at + access_lifetime,
            refresh_token,
            refresh_token_expires_at,
            scopes,
            unknown_scopes,
            received_at,
            notes,
        })
    }
}

/// Seconds to a lifetime of at most [`MAX_TOKEN_LIFETIME`], noting a clamp.
fn clamp_lifetime(seconds: i128, notes: &mut Vec<ResponseNote>, note: ResponseNote) -> TimeDelta {
    let max = MAX_TOKEN_LIFETIME.num_seconds();
    if seconds > i128::from(max) {
        notes.push(note);
        MAX_TOKEN_LIFETIME
    } else {
        // In range of i64 after the check above.
        TimeDelta::seconds(seconds as i64)
    }
}

/// The refresh token's expiry. The relative `refresh_token_expires_in` is
/// preferred, as it does not depend on the two clocks agreeing; when both are
/// given the earlier one wins. Unusable values are ignored with a note: they
/// are metadata, and refusing the whole answer would lose a rotated token.
fn refresh_expiry(
    expires_in: Option<Scalar>,
    expires_at: Option<Scalar>,
    received_at: DateTime<Utc>,
    notes: &mut Vec<ResponseNote>,
) -> Option<DateTime<Utc>> {
    let from_in = expires_in.and_then(|value| match value.seconds() {
        Ok(seconds) if seconds > 0 => Some(
            received_at + clamp_lifetime(seconds, notes, ResponseNote::RefreshTokenExpiryClamped),
        ),
        Ok(_) => {
            notes.push(ResponseNote::FieldIgnored {
                field: "refresh_token_expires_in",
                reason: "not positive",
            });
            None
        }
        Err(reason) => {
            notes.push(ResponseNote::FieldIgnored {
                field: "refresh_token_expires_in",
                reason,
            });
            None
        }
    });
    let latest = received_at + MAX_TOKEN_LIFETIME;
    let from_at = expires_at.and_then(|value| {
        let seconds = match value.seconds() {
            Ok(seconds) => seconds,
            Err(reason) => {
                notes.push(ResponseNote::FieldIgnored {
                    field: "refresh_token_expires_at",
                    reason,
                });
                return None;
            }
        };
        if seconds <= i128::from(received_at.timestamp()) {
            notes.push(ResponseNote::FieldIgnored {
                field: "refresh_token_expires_at",
                reason: "not in the future",
            });
            return None;
        }
        if seconds > i128::from(latest.timestamp()) {
            if from_in.is_none() {
                notes.push(ResponseNote::RefreshTokenExpiryClamped);
            }
            return Some(latest);
        }
        DateTime::from_timestamp(seconds as i64, 0)
    });
    match (from_in, from_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The answer's fields as read, before validation. Unknown fields (such as
/// `response_type`) are ignored.
#[derive(Deserialize)]
struct RawTokenResponse {
    #[serde(default)]
    access_token: Option<Scalar>,
    #[serde(default)]
    token_type: Option<Scalar>,
    #[serde(default)]
    expires_in: Option<Scalar>,
    #[serde(default)]
    refresh_token: Option<Scalar>,
    #[serde(default)]
    refresh_token_expires_in: Option<Scalar>,
    #[serde(default)]
    refresh_token_expires_at: Option<Scalar>,
    #[serde(default)]
    scope: Option<Scalar>,
}

impl RawTokenResponse {
    fn from_slice(body: &[u8]) -> Result<Self, InvalidTokenResponse> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            None => return Err(InvalidTokenResponse::Empty),
            // A derived struct would also accept a JSON array, field by
            // position; only an object is an answer.
            Some(b'{') => {}
            Some(_) => {
                return Err(match serde_json::from_slice::<IgnoredAny>(body) {
                    Ok(_) => InvalidTokenResponse::NotAnObject,
                    Err(err) => InvalidTokenResponse::NotJson(describe_json_error(&err)),
                });
            }
        }
        serde_json::from_slice::<Self>(body).map_err(|err| match err.classify() {
            serde_json::error::Category::Data => InvalidTokenResponse::MalformedObject,
            _ => InvalidTokenResponse::NotJson(describe_json_error(&err)),
        })
    }
}

/// Where a JSON error happened, without serde_json's message, which may quote
/// part of the body.
fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Eof => "ends early",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected structure",
        Category::Io => "read error",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// One JSON value as far as the parser cares: a string (zeroized on drop), an
/// integer, or something else.
enum Scalar {
    Str(Zeroizing<String>),
    Int(i128),
    Other,
}

impl Scalar {
    /// Reads a whole number of seconds from an integer or a numeric string.
    fn seconds(&self) -> Result<i128, &'static str> {
        match self {
            Self::Int(n) => Ok(*n),
            Self::Str(s) => {
                let s = s.trim();
                let digits = s.strip_prefix('-').unwrap_or(s);
                if digits.is_empty()
                    || digits.len() > 30
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err("is not a whole number");
                }
                s.parse::<i128>().map_err(|_| "is not a whole number")
            }
            Self::Other => Err("is not a whole number"),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(Zeroizing::new(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(Zeroizing::new(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests;
