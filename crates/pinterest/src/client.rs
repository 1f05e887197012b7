//! [`PinterestClient`]: one credential's connection to Pinterest's v5 API,
//! and the attempt loop every call goes through.
//!
//! A call is paced (per rate-limit category), sent with the token source's
//! current token as a sensitive `Authorization: Bearer` header, and its answer
//! read under a size cap. Then:
//! - 2xx: parsed; a body that does not parse is retried on a read and is
//!   ambiguous on a write;
//! - 401 code 2 (or no code): the token source refreshes once and the request
//!   is repeated once; a second 401 gives `NeedsReauthorization`;
//! - 401 code 3: `MissingScope`, not repeated;
//! - 429: wait for `x-ratelimit-reset`/`Retry-After` (capped), pause the
//!   category for every clone, repeat the same request (also for writes: a
//!   429 was not applied);
//! - 5xx, timeouts, dropped connections, cut bodies: reads back off (jittered
//!   exponential, via `backon`) and repeat; writes return `Ambiguous`;
//! - anything else: mapped once to the error that says what to do.
//!
//! Clones share the HTTP connection pool, the pacer and the counters.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::{Bytes, BytesMut};
use pinion_domain::{AccessToken, Clock, SystemClock};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER,
};
use zeroize::Zeroizing;

use crate::config::{ClientConfig, ConfigError};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, ErrorBody, RequestId, TransientCause, snippet};
use crate::id::AdAccountId;
use crate::pacing::Pacer;
use crate::stats::{ClientStats, Counters};
use crate::token::{TokenSource, TokenSourceError};

/// A typed client for one credential.
#[derive(Clone)]
pub struct PinterestClient {
    inner: Arc<Inner>,
    ad_account_id: Option<AdAccountId>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: Arc<dyn TokenSource>,
    pacer: Arc<Pacer>,
    counters: Counters,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PinterestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinterestClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("ad_account_id", &self.ad_account_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PinterestClient`] with optional shared parts.
pub struct ClientBuilder {
    config: ClientConfig,
    tokens: Arc<dyn TokenSource>,
    pacer: Option<Arc<Pacer>>,
    clock: Arc<dyn Clock>,
}

impl ClientBuilder {
    /// Uses an existing pacer, e.g. one shared by every client of the same
    /// credential. By default the client makes its own from
    /// `config.budgets`.
    pub fn pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// The clock that says what "today" is for analytics windows.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the HTTP client.
    pub fn build(self) -> Result<PinterestClient, ConfigError> {
        self.config.validate()?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(self.config.base_url.is_https())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.config.connect_timeout)
            .timeout(self.config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(Duration::from_secs(30))
            .gzip(true)
            .user_agent(self.config.user_agent.clone())
            .build()
            .map_err(ConfigError::Http)?;
        let pacer = self.pacer.unwrap_or_else(|| {
            Arc::new(Pacer::with_shared(
                &self.config.budgets,
                self.config.shared_budget.clone(),
            ))
        });
        Ok(PinterestClient {
            inner: Arc::new(Inner {
                http,
                config: self.config,
                tokens: self.tokens,
                pacer,
                counters: Counters::default(),
                clock: self.clock,
            }),
            ad_account_id: None,
        })
    }
}

/// One request, ready to send (apart from the token).
pub(crate) struct Request<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Bytes>,
}

impl<'a> Request<'a> {
    /// A request for `endpoint` with its path parameters filled in.
    pub(crate) fn new(endpoint: &'a Endpoint, params: &[(&str, &str)]) -> Result<Self, ApiError> {
        let path = endpoint
            .expand(params)
            .map_err(|e| ApiError::InvalidRequest {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            endpoint,
            path,
            query: Vec::new(),
            body: None,
        })
    }

    pub(crate) fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    pub(crate) fn json_body<B: serde::Serialize + ?Sized>(
        mut self,
        body: &B,
    ) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::InvalidRequest {
            endpoint: self.endpoint.clone(),
            reason: format!("request body cannot be encoded: {e}"),
        })?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }
}

/// A parsed success, with Pinterest's request id.
pub(crate) struct Success<T> {
    pub(crate) value: T,
    pub(crate) request_id: Option<RequestId>,
}

/// An answer read in full.
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<RequestId>,
}

/// Why an attempt produced no readable answer.
enum SendFailure {
    /// Could not connect: the request was never sent, so any method may be
    /// repeated.
    NotSent(String),
    /// Failed after the request may have been sent.
    MaybeSent(TransientCause, Option<RequestId>),
    /// The body exceeded the cap.
    TooLarge(Option<RequestId>),
}

/// What the loop does after one attempt.
enum Verdict<T> {
    Done(Success<T>),
    Transient {
        cause: TransientCause,
        request_sent: bool,
        request_id: Option<RequestId>,
    },
    RateLimited {
        wait: Option<Duration>,
        body: ErrorBody,
        request_id: Option<RequestId>,
    },
    Unauthorized {
        body: ErrorBody,
        request_id: Option<RequestId>,
    },
    Fail(ApiError),
}

fn describe(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn header_seconds(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let value: f64 = header_str(headers, name)?.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(1e9)))
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(1_000_000_000)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    Some(
        (date.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn bearer(token: &AccessToken) -> Option<HeaderValue> {
    let mut text = Zeroizing::new(String::with_capacity(7 + token.expose_secret().len()));
    text.push_str("Bearer ");
    text.push_str(token.expose_secret());
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl PinterestClient {
    /// A client with `config`, getting tokens from `tokens`.
    pub fn new(config: ClientConfig, tokens: Arc<dyn TokenSource>) -> Result<Self, ConfigError> {
        Self::builder(config, tokens).build()
    }

    /// A builder, to share a pacer or set a clock.
    pub fn builder(config: ClientConfig, tokens: Arc<dyn TokenSource>) -> ClientBuilder {
        ClientBuilder {
            config,
            tokens,
            pacer: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A clone that acts on behalf of a business account: every call whose
    /// operation takes `ad_account_id` as a query parameter gets it.
    pub fn acting_for(&self, ad_account_id: AdAccountId) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            ad_account_id: Some(ad_account_id),
        }
    }

    /// The counters so far (shared by all clones).
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// The pacer, e.g. to ask whether a category is paused.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.inner.pacer
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(crate) fn today(&self) -> chrono::NaiveDate {
        self.inner.clock.now().date_naive()
    }

    fn token_error(endpoint: &Endpoint, err: TokenSourceError) -> ApiError {
        match err {
            TokenSourceError::NeedsReauthorization { reason } => ApiError::NeedsReauthorization {
                endpoint: endpoint.clone(),
                reason,
                request_id: None,
            },
            other => ApiError::TokenUnavailable {
                endpoint: endpoint.clone(),
                source: other,
            },
        }
    }

    /// Sends `request`, repeating it as the module documentation describes,
    /// and parses a 2xx body with `parse`.
    #[tracing::instrument(skip_all, fields(operation = %request.endpoint.operation_id()))]
    pub(crate) async fn execute<T>(
        &self,
        request: Request<'_>,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Success<T>, ApiError> {
        let endpoint = request.endpoint;
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        let mut request = request;
        if let (true, Some(id)) = (endpoint.takes_ad_account_id(), &self.ad_account_id) {
            request
                .query
                .push(("ad_account_id".to_owned(), id.as_str().to_owned()));
        }
        let url = inner
            .config
            .base_url
            .join(&request.path)
            .map(|mut url| {
                if !request.query.is_empty() {
                    url.query_pairs_mut().extend_pairs(request.query.iter());
                }
                url
            })
            .map_err(|e| ApiError::InvalidRequest {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            })?;

        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(policy.initial_backoff)
            .with_max_delay(policy.max_backoff)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build();
        let mut rate_limit_backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(policy.max_rate_limit_wait)
            .with_jitter()
            .without_max_times()
            .build();
        let mut token = inner
            .tokens
            .access_token()
            .await
            .map_err(|e| Self::token_error(endpoint, e))?;
        let mut refreshed = false;
        let mut attempts: u32 = 0;
        let mut rate_limited: u32 = 0;

        loop {
            let waited = inner.pacer.acquire(endpoint.category()).await;
            inner.counters.pacing_wait(waited);
            attempts += 1;
            inner.counters.request();
            let verdict = match self.send_once(endpoint, &url, &request, &token).await {
                Ok(raw) => self.judge(endpoint, raw, &parse),
                Err(SendFailure::NotSent(message)) => Verdict::Transient {
                    cause: TransientCause::Connect(message),
                    request_sent: false,
                    request_id: None,
                },
                Err(SendFailure::MaybeSent(cause, request_id)) => Verdict::Transient {
                    cause,
                    request_sent: true,
                    request_id,
                },
                Err(SendFailure::TooLarge(request_id)) => {
                    Verdict::Fail(ApiError::ResponseTooLarge {
                        endpoint: endpoint.clone(),
                        limit_bytes: inner.config.max_response_bytes,
                        request_id,
                    })
                }
            };
            match verdict {
                Verdict::Done(success) => return Ok(success),
                Verdict::Fail(err) => return Err(err),
                Verdict::Transient {
                    cause,
                    request_sent,
                    request_id,
                } => {
                    if request_sent && !endpoint.method().is_retry_safe() {
                        tracing::warn!(endpoint = %endpoint, cause = %cause, "Write failed after it may have been applied; not repeating it.");
                        return Err(ApiError::Ambiguous {
                            endpoint: endpoint.clone(),
                            cause,
                            request_id,
                        });
                    }
                    let Some(delay) = backoff.next() else {
                        tracing::warn!(endpoint = %endpoint, attempts, cause = %cause, "Giving up after transient failures.");
                        return Err(ApiError::Transient {
                            endpoint: endpoint.clone(),
                            attempts,
                            cause,
                            request_id,
                        });
                    };
                    tracing::info!(endpoint = %endpoint, attempt = attempts, cause = %cause, delay_ms = delay.as_millis() as u64, request_id = request_id.as_ref().map(|r| r.0.as_str()), "Transient failure; retrying.");
                    inner.counters.retry();
                    inner.counters.retry_wait(delay);
                    tokio::time::sleep(delay).await;
                }
                Verdict::RateLimited {
                    wait,
                    body,
                    request_id,
                } => {
                    inner.counters.rate_limited();
                    rate_limited += 1;
                    let wait = wait
                        .or_else(|| rate_limit_backoff.next())
                        .unwrap_or(policy.max_rate_limit_wait)
                        .min(policy.max_rate_limit_wait);
                    inner.pacer.pause(endpoint.category(), wait);
                    if rate_limited > policy.max_rate_limited {
                        tracing::warn!(endpoint = %endpoint, rate_limited, "Giving up after repeated 429 answers.");
                        return Err(ApiError::RateLimited {
                            endpoint: endpoint.clone(),
                            retry_after: wait,
                            attempts: rate_limited,
                            body,
                            request_id,
                        });
                    }
                    tracing::info!(endpoint = %endpoint, wait_ms = wait.as_millis() as u64, request_id = request_id.as_ref().map(|r| r.0.as_str()), "Rate limited by Pinterest; waiting and repeating the same request.");
                    inner.counters.retry();
                    inner.counters.retry_wait(wait);
                    tokio::time::sleep(wait).await;
                }
                Verdict::Unauthorized { body, request_id } => {
                    if refreshed {
                        return Err(ApiError::NeedsReauthorization {
                            endpoint: endpoint.clone(),
                            reason: format!(
                                "Pinterest rejected the token again after a refresh ({body})"
                            ),
                            request_id,
                        });
                    }
                    refreshed = true;
                    inner.counters.refresh();
                    tracing::info!(endpoint = %endpoint, request_id = request_id.as_ref().map(|r| r.0.as_str()), "Access token rejected; asking the token source for a fresh one.");
                    token = inner
                        .tokens
                        .refreshed_after_unauthorized(&token)
                        .await
                        .map_err(|e| Self::token_error(endpoint, e))?;
                }
            }
        }
    }

    async fn send_once(
        &self,
        endpoint: &Endpoint,
        url: &url::Url,
        request: &Request<'_>,
        token: &AccessToken,
    ) -> Result<RawResponse, SendFailure> {
        let inner = &*self.inner;
        let Some(auth) = bearer(token) else {
            return Err(SendFailure::NotSent(
                "the access token has characters not allowed in an HTTP header".into(),
            ));
        };
        let mut builder = inner
            .http
            .request(endpoint.method().to_reqwest(), url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json");
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(err) => {
                let err = err.without_url();
                return Err(if err.is_connect() {
                    SendFailure::NotSent(describe(&err))
                } else if err.is_timeout() {
                    SendFailure::MaybeSent(TransientCause::Timeout, None)
                } else {
                    SendFailure::MaybeSent(TransientCause::Connection(describe(&err)), None)
                });
            }
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let request_id =
            header_str(&headers, "x-pinterest-rid").map(|rid| RequestId(rid.to_owned()));
        let limit = inner.config.max_response_bytes;
        let declared =
            header_str(&headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64)
            && !headers.contains_key("content-encoding")
        {
            return Err(SendFailure::TooLarge(request_id));
        }
        // Reserve what the server declared (bounded by the cap) to avoid
        // regrowing the buffer for large pages.
        let mut body = BytesMut::with_capacity(
            declared.map_or(8 * 1024, |len| len.min(limit as u64) as usize),
        );
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(SendFailure::TooLarge(request_id));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => {
                    let err = err.without_url();
                    let cause = if err.is_timeout() {
                        TransientCause::Timeout
                    } else {
                        TransientCause::TruncatedBody(describe(&err))
                    };
                    return Err(SendFailure::MaybeSent(cause, request_id));
                }
            }
        }
        inner.counters.bytes(body.len());
        tracing::debug!(
            status = status.as_u16(),
            bytes = body.len(),
            request_id = request_id.as_ref().map(|r| r.0.as_str()),
            "Response received."
        );
        Ok(RawResponse {
            status,
            headers,
            body: body.freeze(),
            request_id,
        })
    }

    fn judge<T>(
        &self,
        endpoint: &Endpoint,
        raw: RawResponse,
        parse: &impl Fn(&[u8]) -> Result<T, String>,
    ) -> Verdict<T> {
        let inner = &*self.inner;
        let RawResponse {
            status,
            headers,
            body,
            request_id,
        } = raw;
        // A header pause is capped like a 429 wait, so one odd header cannot
        // stall the category for longer than a 429 could.
        inner.pacer.observe(
            endpoint.category(),
            header_str(&headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok()),
            header_seconds(&headers, "x-ratelimit-reset")
                .map(|reset| reset.min(inner.config.retry.max_rate_limit_wait)),
        );
        if status.is_success() {
            return match parse(&body) {
                Ok(value) => Verdict::Done(Success { value, request_id }),
                Err(error) => Verdict::Transient {
                    cause: TransientCause::MalformedBody {
                        error,
                        snippet: snippet(&body),
                    },
                    request_sent: true,
                    request_id,
                },
            };
        }
        let error_body = ErrorBody::parse(&body);
        let endpoint = endpoint.clone();
        match status.as_u16() {
            401 => match error_body.code {
                Some(3) => Verdict::Fail(ApiError::MissingScope {
                    endpoint,
                    body: error_body,
                    request_id,
                }),
                Some(7) | Some(29) => Verdict::Fail(ApiError::Forbidden {
                    endpoint,
                    status: 401,
                    body: error_body,
                    request_id,
                }),
                _ => Verdict::Unauthorized {
                    body: error_body,
                    request_id,
                },
            },
            429 => {
                let header_wait = header_seconds(&headers, "x-ratelimit-reset");
                let date_wait = retry_after(&headers, inner.clock.now());
                let wait = match (header_wait, date_wait) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                // A zero wait would hot-loop; wait at least a quarter second.
                let wait = wait.map(|w| w.max(Duration::from_millis(250)));
                Verdict::RateLimited {
                    wait,
                    body: error_body,
                    request_id,
                }
            }
            408 | 500..=599 => Verdict::Transient {
                cause: TransientCause::ServerError {
                    status: status.as_u16(),
                    body: error_body,
                },
                request_sent: true,
                request_id,
            },
            400 => Verdict::Fail(ApiError::BadRequest {
                endpoint,
                body: error_body,
                request_id,
            }),
            403 => Verdict::Fail(ApiError::Forbidden {
                endpoint,
                status: 403,
                body: error_body,
                request_id,
            }),
            404 => Verdict::Fail(ApiError::NotFound {
                endpoint,
                body: error_body,
                request_id,
            }),
            other => Verdict::Fail(ApiError::UnexpectedStatus {
                endpoint,
                status: other,
                body: error_body,
                request_id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_marked_sensitive_and_redacted_in_debug() {
        let value = bearer(&AccessToken::new("CANARY-bearer")).unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("CANARY"));
        assert!(bearer(&AccessToken::new("bad\ntoken")).is_none());
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn rate_limit_reset_header_accepts_fractions_and_rejects_garbage() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1.5"));
        assert_eq!(
            header_seconds(&headers, "x-ratelimit-reset"),
            Some(Duration::from_millis(1500))
        );
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("-3"));
        assert_eq!(header_seconds(&headers, "x-ratelimit-reset"), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1e300"));
        assert!(header_seconds(&headers, "x-ratelimit-reset").is_some());
    }

    #[test]
    fn client_debug_shows_no_token() {
        let client = PinterestClient::new(
            ClientConfig::default(),
            Arc::new(crate::token::StaticTokenSource::new(AccessToken::new(
                "CANARY-debug",
            ))),
        )
        .unwrap();
        let text = format!("{client:?}");
        assert!(
            text.contains("api.pinterest.com") && !text.contains("CANARY"),
            "{text}"
        );
    }
}
