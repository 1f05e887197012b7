//! The token client: one POST to `{api}/oauth/token` per call, for the code
//! exchange and for refresh, on a hardened reqwest client (SECURITY R8, R11,
//! R13, R15, R18).
//!
//! Each call makes exactly one attempt; retries and backoff belong to the
//! caller, which [`crate::TokenError`] tells what to do. The client follows no
//! redirect, has connect and total timeouts, reads at most a configured number
//! of body bytes, authenticates with HTTP Basic (id and secret form-urlencoded
//! first, RFC 6749 §2.3.1) in a header marked sensitive, and never logs a
//! request or response body.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Utc};
use pinion_domain::{
    AuthorizationCode, ClientId, ClientSecret, Clock, OAuthState, PkceVerifier, RefreshToken,
    ScopeSet,
};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, redirect};
use url::{Url, form_urlencoded};
use zeroize::Zeroizing;

use crate::authorization::{self, AuthorizationRequest, AuthorizationUrl};
use crate::config::{ConfigError, OAuthConfig, RedirectUri};
use crate::error::{
    CODE_AUTHENTICATION_FAILED, CODE_INVALID_GRANT, PinterestMessage, ResponseProblem, TokenError,
    TransientCause,
};
use crate::token_response::TokenResponse;

/// Pinterest's OAuth endpoints, configured and ready: builds authorization
/// URLs and calls the token endpoint.
///
/// Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct PinterestOAuth {
    config: Arc<OAuthConfig>,
    token_url: Url,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PinterestOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinterestOAuth")
            .field("authorization_url", &self.config.authorization_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl PinterestOAuth {
    /// Validates `config` and builds the HTTP client. `clock` stamps the time
    /// each answer arrives, from which expiries are computed.
    pub fn new(config: OAuthConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut builder = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .https_only(config.all_https())
            .no_gzip()
            .user_agent(concat!("pinion-oauth/", env!("CARGO_PKG_VERSION")));
        if !config.all_https() {
            // Plain http is only ever loopback (checked above): never send it
            // through a proxy from the environment.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|_| ConfigError {
            setting: "http_client",
            reason: "could not build the HTTP client (TLS setup failed)".into(),
        })?;
        Ok(Self {
            token_url: config.token_url(),
            config: Arc::new(config),
            http,
            clock,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// `{api}/oauth/token`.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The consent-page URL for an explicit state and verifier (see
    /// [`authorization::authorization_url`]).
    pub fn authorization_url(
        &self,
        client_id: &ClientId,
        redirect_uri: &RedirectUri,
        scopes: &ScopeSet,
        state: &OAuthState,
        verifier: &PkceVerifier,
    ) -> AuthorizationUrl {
        authorization::authorization_url(
            &self.config.authorization_url,
            client_id,
            redirect_uri,
            scopes,
            state,
            verifier,
        )
    }

    /// Starts a flow with a fresh state and PKCE verifier (see
    /// [`authorization::start_authorization`]).
    pub fn start_authorization(
        &self,
        client_id: &ClientId,
        redirect_uri: &RedirectUri,
        scopes: &ScopeSet,
    ) -> AuthorizationRequest {
        authorization::start_authorization(
            &self.config.authorization_url,
            client_id,
            redirect_uri,
            scopes,
        )
    }

    /// Exchanges an authorization code for tokens, exactly once.
    ///
    /// Sends `grant_type=authorization_code`, `code`, `redirect_uri` and
    /// `code_verifier` (plus `continuous_refresh=true` when configured). The
    /// code is never resent: on [`TokenError::Timeout`] the outcome is unknown
    /// and the user must start a new flow.
    #[tracing::instrument(skip_all, fields(grant_type = "authorization_code", client_id = %client_id))]
    pub async fn exchange_code(
        &self,
        client_id: &ClientId,
        client_secret: &ClientSecret,
        code: &AuthorizationCode,
        redirect_uri: &RedirectUri,
        verifier: &PkceVerifier,
    ) -> Result<TokenResponse, TokenError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.expose_secret()),
        ];
        if self.config.continuous_refresh {
            form.push(("continuous_refresh", "true"));
        }
        let secrets = [
            client_secret.expose_secret(),
            code.expose_secret(),
            verifier.expose_secret(),
        ];
        self.request_token(&form, client_id, client_secret, &secrets)
            .await
    }

    /// Trades a refresh token for new tokens, in one attempt.
    ///
    /// Sends `grant_type=refresh_token`, `refresh_token`, and `scope`
    /// (comma-separated, a subset of the granted scopes) when `scopes` is
    /// given. A response without `refresh_token` leaves
    /// [`TokenResponse::refresh_token`] as `None`: keep the stored one.
    #[tracing::instrument(skip_all, fields(grant_type = "refresh_token", client_id = %client_id))]
    pub async fn refresh(
        &self,
        client_id: &ClientId,
        client_secret: &ClientSecret,
        refresh_token: &RefreshToken,
        scopes: Option<&ScopeSet>,
    ) -> Result<TokenResponse, TokenError> {
        let scope_text = scopes.map(ScopeSet::to_comma_separated);
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        if let Some(scope_text) = &scope_text {
            form.push(("scope", scope_text));
        }
        let secrets = [client_secret.expose_secret(), refresh_token.expose_secret()];
        self.request_token(&form, client_id, client_secret, &secrets)
            .await
    }

    /// Sends one token request and classifies the answer. `secrets` are cut
    /// out of any message kept from the answer.
    async fn request_token(
        &self,
        form: &[(&str, &str)],
        client_id: &ClientId,
        client_secret: &ClientSecret,
        secrets: &[&str],
    ) -> Result<TokenResponse, TokenError> {
        let body = Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
        let basic = basic_authorization(client_id, client_secret);
        // Invariant: "Basic " followed by base64 is always a valid header value.
        let mut authorization =
            HeaderValue::from_str(&basic).expect("base64 text is always a valid header value");
        authorization.set_sensitive(true);

        // Also cut out the encoded forms a server might echo.
        let encoded: Vec<Zeroizing<String>> = secrets
            .iter()
            .map(|s| Zeroizing::new(form_urlencoded::byte_serialize(s.as_bytes()).collect()))
            .collect();
        let basic_value = basic.trim_start_matches("Basic ");
        let mut scrub: Vec<&str> = secrets.to_vec();
        scrub.extend(encoded.iter().map(|s| s.as_str()));
        scrub.push(basic_value);

        let started = Instant::now();
        let sent = self
            .http
            .post(self.token_url.clone())
            .header(header::AUTHORIZATION, authorization)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body.as_bytes().to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                let err = classify_send_error(err);
                tracing::debug!(error = %err, elapsed_ms = started.elapsed().as_millis() as u64, "Token request failed before an answer.");
                return Err(err);
            }
        };
        let received_at = self.clock.now();
        let status = response.status();
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            request_id = response
                .headers()
                .get("x-pinterest-rid")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            "Token endpoint answered."
        );

        if status == StatusCode::OK {
            self.accept_success(response, received_at).await
        } else {
            Err(self.classify_failure(response, received_at, &scrub).await)
        }
    }

    /// Reads and validates a 200 answer.
    async fn accept_success(
        &self,
        response: reqwest::Response,
        received_at: DateTime<Utc>,
    ) -> Result<TokenResponse, TokenError> {
        let status = response.status().as_u16();
        if let Some(problem) = content_type_problem(response.headers()) {
            return Err(TokenError::BadResponse { status, problem });
        }
        let body = read_capped(response, self.config.max_response_bytes)
            .await
            .map_err(|err| err.into_token_error(status))?;
        let parsed =
            TokenResponse::parse(&body, received_at).map_err(|err| TokenError::BadResponse {
                status,
                problem: ResponseProblem::InvalidTokenResponse(err),
            })?;
        for note in &parsed.notes {
            tracing::info!(note = %note, "Token response needed an adjustment.");
        }
        if !parsed.unknown_scopes.is_empty() {
            tracing::info!(
                unknown_scopes = %parsed.unknown_scopes.join(" "),
                "Token response granted scopes Pinion does not know."
            );
        }
        Ok(parsed)
    }

    /// Turns a non-200 answer into the error that says what to do.
    async fn classify_failure(
        &self,
        response: reqwest::Response,
        received_at: DateTime<Utc>,
        scrub: &[&str],
    ) -> TokenError {
        let status = response.status();
        let code = status.as_u16();
        if status.is_redirection() {
            return TokenError::BadResponse {
                status: code,
                problem: ResponseProblem::Redirect,
            };
        }
        if status.is_server_error() {
            return TokenError::Transient {
                cause: TransientCause::ServerError(code),
                source: None,
            };
        }
        if !status.is_client_error() {
            return TokenError::BadResponse {
                status: code,
                problem: ResponseProblem::UnexpectedStatus,
            };
        }
        let headers = response.headers().clone();
        // The body of an error is only used for its code and message; one
        // that cannot be read changes nothing about the status.
        let body = read_capped(response, self.config.max_response_bytes)
            .await
            .ok();
        let error = body
            .as_deref()
            .map(|body| ErrorBody::parse(body, scrub))
            .unwrap_or_default();

        if status == StatusCode::TOO_MANY_REQUESTS {
            return TokenError::RateLimited {
                retry_after: retry_after(&headers, received_at, self.config.max_retry_after),
                code: error.code,
            };
        }
        let rfc = error.rfc_error.as_deref();
        if error.code == Some(CODE_INVALID_GRANT) || rfc == Some("invalid_grant") {
            return TokenError::InvalidGrant {
                message: error.message,
            };
        }
        if error.code == Some(CODE_AUTHENTICATION_FAILED)
            || matches!(rfc, Some("invalid_client" | "unauthorized_client"))
        {
            return TokenError::InvalidClient {
                status: code,
                message: error.message,
            };
        }
        if status == StatusCode::BAD_REQUEST {
            return TokenError::BadRequest {
                code: error.code,
                message: error.message,
            };
        }
        TokenError::Rejected {
            status: code,
            code: error.code,
            message: error.message,
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 §2.3.1
/// asks, so a secret containing `:` or `%` survives the trip.
pub fn basic_authorization(
    client_id: &ClientId,
    client_secret: &ClientSecret,
) -> Zeroizing<String> {
    let id: String = form_urlencoded::byte_serialize(client_id.as_str().as_bytes()).collect();
    let secret: Zeroizing<String> = Zeroizing::new(
        form_urlencoded::byte_serialize(client_secret.expose_secret().as_bytes()).collect(),
    );
    let pair = Zeroizing::new(format!("{id}:{}", secret.as_str()));
    Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    ))
}

/// Maps a failure to get any answer at all.
fn classify_send_error(err: reqwest::Error) -> TokenError {
    if err.is_connect() {
        // Includes a connect timeout: nothing was sent.
        TokenError::Transient {
            cause: TransientCause::Connect,
            source: Some(err),
        }
    } else if err.is_timeout() {
        TokenError::Timeout { source: Some(err) }
    } else {
        TokenError::Transient {
            cause: TransientCause::Connection,
            source: Some(err),
        }
    }
}

/// `None` when the answer declares JSON (`application/json` or `…+json`).
fn content_type_problem(headers: &HeaderMap) -> Option<ResponseProblem> {
    let value = headers.get(header::CONTENT_TYPE);
    let text = value.and_then(|v| v.to_str().ok()).map(str::trim);
    let essence = text
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if essence == "application/json" || essence.ends_with("+json") {
        return None;
    }
    let shown = text
        .filter(|t| t.len() <= 60 && t.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .map(str::to_owned);
    Some(ResponseProblem::ContentType(shown))
}

/// Why a body could not be read.
enum BodyError {
    TooLarge(usize),
    Read(reqwest::Error),
}

impl BodyError {
    fn into_token_error(self, status: u16) -> TokenError {
        match self {
            Self::TooLarge(limit) => TokenError::BadResponse {
                status,
                problem: ResponseProblem::TooLarge { limit },
            },
            Self::Read(err) if err.is_timeout() => TokenError::Timeout { source: Some(err) },
            Self::Read(err) => TokenError::Transient {
                cause: TransientCause::Connection,
                source: Some(err),
            },
        }
    }
}

/// Reads at most `limit` bytes of body, chunk by chunk, into a buffer that
/// is allocated once (so no copy is left behind by a reallocation) and
/// zeroized when dropped.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Zeroizing::new(Vec::with_capacity(limit));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The parts of an error body this crate uses.
#[derive(Default)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<PinterestMessage>,
    rfc_error: Option<String>,
}

impl ErrorBody {
    /// Reads Pinterest's `{code, message}` or RFC 6749's `{error,
    /// error_description}`; anything else gives an empty value.
    fn parse(body: &[u8], scrub: &[&str]) -> Self {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body) else {
            return Self::default();
        };
        let code = match object.get("code") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let message = object
            .get("message")
            .or_else(|| object.get("error_description"))
            .and_then(serde_json::Value::as_str)
            .map(|m| PinterestMessage::sanitize(m, scrub));
        let rfc_error = object
            .get("error")
            .and_then(serde_json::Value::as_str)
            .filter(|e| e.len() <= 40 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(str::to_owned);
        Self {
            code,
            message,
            rfc_error,
        }
    }
}

/// The wait a 429 asks for: `Retry-After` (seconds or an HTTP date), else
/// `x-ratelimit-reset` (seconds until the window resets), capped at `cap`.
fn retry_after(
    headers: &HeaderMap,
    now: DateTime<Utc>,
    cap: std::time::Duration,
) -> Option<std::time::Duration> {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let from_retry_after = header_text("retry-after").and_then(|value| {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(std::time::Duration::from_secs(seconds));
        }
        let date = DateTime::parse_from_rfc2822(value).ok()?;
        Some(
            (date.with_timezone(&Utc) - now)
                .to_std()
                .unwrap_or(std::time::Duration::ZERO),
        )
    });
    let from_reset = || {
        header_text("x-ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_secs)
    };
    from_retry_after
        .or_else(from_reset)
        .map(|wait| wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    #[test]
    fn basic_authorization_matches_pinterests_worked_example() {
        let header =
            basic_authorization(&ClientId::parse("123").unwrap(), &ClientSecret::new("456"));
        assert_eq!(header.as_str(), "Basic MTIzOjQ1Ng==");
    }

    #[test]
    fn basic_authorization_form_encodes_id_and_secret_before_base64() {
        let header = basic_authorization(
            &ClientId::parse("1234").unwrap(),
            &ClientSecret::new("a:b%c d+e/f"),
        );
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"1234:a%3Ab%25c+d%2Be%2Ff");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_rate_limit_reset_and_is_capped() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let cap = Duration::from_secs(600);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30")]), now, cap),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Thu, 01 Jan 2026 00:02:00 GMT")]),
                now,
                cap
            ),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Wed, 31 Dec 2025 00:00:00 GMT")]),
                now,
                cap
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1000000000")]), now, cap),
            Some(cap)
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "45")]), now, cap),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "5"), ("x-ratelimit-reset", "45")]),
                now,
                cap
            ),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon")]), now, cap),
            None
        );
        assert_eq!(retry_after(&HeaderMap::new(), now, cap), None);
    }

    #[test]
    fn content_type_must_be_json() {
        assert!(content_type_problem(&headers(&[("content-type", "application/json")])).is_none());
        assert!(
            content_type_problem(&headers(&[(
                "content-type",
                "Application/JSON; charset=utf-8"
            )]))
            .is_none()
        );
        assert!(
            content_type_problem(&headers(&[("content-type", "application/problem+json")]))
                .is_none()
        );
        assert_eq!(
            content_type_problem(&headers(&[("content-type", "text/html")])),
            Some(ResponseProblem::ContentType(Some("text/html".into())))
        );
        assert_eq!(
            content_type_problem(&HeaderMap::new()),
            Some(ResponseProblem::ContentType(None))
        );
    }

    #[test]
    fn error_bodies_of_both_shapes_are_read() {
        let pinterest = ErrorBody::parse(
            br#"{"code":283,"message":"The authorization grant is invalid","status":"failure"}"#,
            &[],
        );
        assert_eq!(pinterest.code, Some(283));
        assert_eq!(
            pinterest.message.unwrap().as_str(),
            "The authorization grant is invalid"
        );
        let rfc = ErrorBody::parse(
            br#"{"error":"invalid_grant","error_description":"expired"}"#,
            &[],
        );
        assert_eq!(rfc.rfc_error.as_deref(), Some("invalid_grant"));
        let html = ErrorBody::parse(b"<html>nope</html>", &[]);
        assert!(html.code.is_none() && html.message.is_none());
    }
}
