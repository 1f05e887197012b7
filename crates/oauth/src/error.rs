//! What can go wrong at Pinterest's token endpoint, sorted by what the caller
//! must do about it (SECURITY R15, FACTS §2 and §5).
//!
//! Pinterest answers errors with `{"code": N, "message": "…"}` rather than RFC
//! 6749's `{"error": "…"}`; both shapes are understood. No variant ever holds a
//! secret: Pinterest's message is kept only after every secret this crate sent
//! has been cut out of it, and a body that may hold tokens is never quoted.

use std::fmt;
use std::time::Duration;

use crate::token_response::InvalidTokenResponse;

/// Pinterest's error code for an invalid, expired or revoked grant.
pub const CODE_INVALID_GRANT: i64 = 283;
/// Pinterest's error code for failed authentication (here: of the app).
pub const CODE_AUTHENTICATION_FAILED: i64 = 2;
/// Pinterest's error code for invalid parameters.
pub const CODE_INVALID_PARAMETERS: i64 = 1;

/// A token request (code exchange or refresh) that did not produce tokens.
///
/// | Variant | Caller's action |
/// | --- | --- |
/// | `InvalidGrant` | mark the credential as needing re-authorization (for a refresh, re-read the stored token first: another replica may have rotated it) |
/// | `InvalidClient` | alert the operator: the app's client id or secret is wrong; leave user tokens alone |
/// | `RateLimited` | wait `retry_after` (or back off), then retry |
/// | `Transient` | retry with backoff |
/// | `Timeout` | outcome unknown: for a code exchange ask the user to start again (never resend the code); for a refresh retry with the same token |
/// | `BadRequest` / `Rejected` | do not retry; a bug or a configuration problem, show the message |
/// | `BadResponse` | retry with backoff; when [`TokenError::outcome_unknown`] is true Pinterest may have issued (and rotated) tokens |
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Pinterest refused the authorization code or refresh token (401, code
    /// 283): revoked by the user, expired, issued to another app, or the app
    /// secret was reset. For a code exchange, also a used or expired code.
    #[error("Pinterest refused the authorization grant (it was revoked, expired or reset); authorize again{}", suffix(.message))]
    InvalidGrant {
        /// Pinterest's message, secrets removed.
        message: Option<PinterestMessage>,
    },
    /// Pinterest refused the app's own credentials (401, code 2 at the token
    /// endpoint): a wrong client id or client secret. User tokens are not at
    /// fault.
    #[error("Pinterest refused the app's client id or client secret (HTTP {status}); check the app credentials{}", suffix(.message))]
    InvalidClient {
        /// The HTTP status.
        status: u16,
        /// Pinterest's message, secrets removed.
        message: Option<PinterestMessage>,
    },
    /// Too many requests (429). `retry_after` comes from `Retry-After` or
    /// `x-ratelimit-reset`, capped by configuration.
    #[error("Pinterest rate-limited the token request{}", match .retry_after { Some(d) => format!("; retry after {} s", d.as_secs()), None => String::new() })]
    RateLimited {
        /// How long Pinterest asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// Pinterest's error code (8 for the usual rate limit), if any.
        code: Option<i64>,
    },
    /// The endpoint could not be reached or failed on its side.
    #[error("the token endpoint is unavailable: {cause}")]
    Transient {
        /// What failed.
        cause: TransientCause,
        /// The HTTP client's error, when there is one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The request ran out of time after it may have reached Pinterest, so
    /// whether it took effect is unknown.
    #[error("the token request timed out; whether Pinterest processed it is unknown")]
    Timeout {
        /// The HTTP client's error.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// Pinterest refused the request as malformed (400), e.g. an invalid scope
    /// or a `redirect_uri` that does not match.
    #[error("Pinterest refused the token request as invalid (HTTP 400{}){}", code_text(.code), suffix(.message))]
    BadRequest {
        /// Pinterest's error code (1 for invalid parameters), if any.
        code: Option<i64>,
        /// Pinterest's message, secrets removed.
        message: Option<PinterestMessage>,
    },
    /// Another refusal this crate does not recognise (e.g. 403, 404, or 401
    /// with an unknown code). Not retried automatically.
    #[error("Pinterest refused the token request (HTTP {status}{}){}", code_text(.code), suffix(.message))]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Pinterest's error code, if any.
        code: Option<i64>,
        /// Pinterest's message, secrets removed.
        message: Option<PinterestMessage>,
    },
    /// The answer could not be used: not JSON, invalid fields, too large, a
    /// redirect, an unexpected status. The description never quotes the body.
    #[error("unusable answer from the token endpoint (HTTP {status}): {problem}")]
    BadResponse {
        /// The HTTP status of the answer.
        status: u16,
        /// What was wrong with it.
        problem: ResponseProblem,
    },
}

impl TokenError {
    /// True when trying again later may succeed: rate limits, transient
    /// failures, timeouts and unusable answers. For a code exchange this means
    /// "start a new flow", never "resend the code".
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Transient { .. }
                | Self::Timeout { .. }
                | Self::BadResponse { .. }
        )
    }

    /// True when the credential can only be saved by a new authorization.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, Self::InvalidGrant { .. })
    }

    /// True when the app's own configuration (client id or secret) is wrong.
    pub fn is_app_credential_problem(&self) -> bool {
        matches!(self, Self::InvalidClient { .. })
    }

    /// How long Pinterest asked us to wait before the next request.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when Pinterest may have acted on the request even though no
    /// tokens came back: a timeout, a connection lost after sending, a
    /// gateway timeout (504), or a 200 whose body was unusable. After a
    /// refresh, the stored refresh token may then already be spent.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Transient { cause, .. } => match cause {
                TransientCause::Connect => false,
                TransientCause::Connection => true,
                TransientCause::ServerError(status) => *status == 504,
            },
            Self::BadResponse { status, .. } => (200..300).contains(status),
            _ => false,
        }
    }
}

/// What made the endpoint unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientCause {
    /// No connection could be opened (refused, DNS, TLS handshake, connect
    /// timeout). The request was not sent.
    Connect,
    /// The connection failed after the request was (perhaps) sent.
    Connection,
    /// Pinterest answered with this 5xx status.
    ServerError(u16),
}

impl fmt::Display for TransientCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("could not connect"),
            Self::Connection => f.write_str("the connection failed during the request"),
            Self::ServerError(status) => write!(f, "server error (HTTP {status})"),
        }
    }
}

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseProblem {
    /// A 200 whose body failed validation.
    #[error("{0}")]
    InvalidTokenResponse(#[from] InvalidTokenResponse),
    /// The body was longer than the configured cap.
    #[error("body is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A 200 whose `Content-Type` is not JSON. Holds the type when it is
    /// short and printable.
    #[error("content type is {}", .0.as_deref().map(|t| format!("`{t}`")).unwrap_or_else(|| "missing or unprintable".into()))]
    ContentType(Option<String>),
    /// A 3xx: redirects from the token endpoint are never followed.
    #[error("the token endpoint answered with a redirect, which is not followed")]
    Redirect,
    /// A status the token endpoint is not expected to send.
    #[error("unexpected status")]
    UnexpectedStatus,
}

/// Pinterest's error message, with every secret the request carried replaced
/// by `[REDACTED]`, control characters removed and the length capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinterestMessage(String);

/// The longest message kept, in characters.
const MESSAGE_MAX_CHARS: usize = 200;

impl PinterestMessage {
    /// Cleans `raw`, removing each of `secrets` (values shorter than four
    /// bytes are not treated as secrets).
    pub(crate) fn sanitize(raw: &str, secrets: &[&str]) -> Self {
        let mut text: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            if text.contains(*secret) {
                text = text.replace(*secret, "[REDACTED]");
            }
        }
        let text = text.trim();
        let text = match text.char_indices().nth(MESSAGE_MAX_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        };
        Self(text)
    }

    /// The message text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PinterestMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn suffix(message: &Option<PinterestMessage>) -> String {
    match message {
        Some(message) if !message.0.is_empty() => format!(": {message}"),
        _ => String::new(),
    }
}

fn code_text(code: &Option<i64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_secrets_control_characters_and_caps_length() {
        let message = PinterestMessage::sanitize(
            "bad code CANARY-code-1 for\nclient CANARY-secret-2",
            &["CANARY-code-1", "CANARY-secret-2", "ab"],
        );
        assert_eq!(
            message.as_str(),
            "bad code [REDACTED] for client [REDACTED]"
        );
        let long = PinterestMessage::sanitize(&"é".repeat(500), &[]);
        assert_eq!(long.as_str().chars().count(), MESSAGE_MAX_CHARS + 1);
    }

    #[test]
    fn messages_read_as_what_to_do() {
        let err = TokenError::InvalidGrant {
            message: Some(PinterestMessage::sanitize(
                "The authorization grant is invalid",
                &[],
            )),
        };
        assert_eq!(
            err.to_string(),
            "Pinterest refused the authorization grant (it was revoked, expired or reset); \
             authorize again: The authorization grant is invalid"
        );
        let err = TokenError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            code: Some(8),
        };
        assert_eq!(
            err.to_string(),
            "Pinterest rate-limited the token request; retry after 30 s"
        );
        let err = TokenError::BadRequest {
            code: Some(1),
            message: None,
        };
        assert_eq!(
            err.to_string(),
            "Pinterest refused the token request as invalid (HTTP 400, code 1)"
        );
    }

    #[test]
    fn classification_helpers_agree_with_the_table() {
        let timeout = TokenError::Timeout { source: None };
        assert!(timeout.is_retryable() && timeout.outcome_unknown());
        let connect = TokenError::Transient {
            cause: TransientCause::Connect,
            source: None,
        };
        assert!(connect.is_retryable() && !connect.outcome_unknown());
        let gateway = TokenError::Transient {
            cause: TransientCause::ServerError(504),
            source: None,
        };
        assert!(gateway.outcome_unknown());
        let grant = TokenError::InvalidGrant { message: None };
        assert!(grant.needs_reauthorization() && !grant.is_retryable());
        let client = TokenError::InvalidClient {
            status: 401,
            message: None,
        };
        assert!(client.is_app_credential_problem() && !client.needs_reauthorization());
        let bad_200 = TokenError::BadResponse {
            status: 200,
            problem: ResponseProblem::TooLarge { limit: 10 },
        };
        assert!(bad_200.outcome_unknown());
        let redirect = TokenError::BadResponse {
            status: 302,
            problem: ResponseProblem::Redirect,
        };
        assert!(!redirect.outcome_unknown());
    }
}
