//! The delivery loop every `pinion serve` runs: claim due deliveries from
//! the outbox (each with one conditional `UPDATE` that takes a
//! [`DELIVERY_LEASE`], so one attempt runs at a time across replicas),
//! post each signed, record the attempt, and sleep until the next one is
//! due (at most [`POLL`], sooner when this process queues an event).
//!
//! An attempt resolves the endpoint's host, picks an allowed address
//! ([`super::choose_address`]) and pins the connection to it; it uses no
//! proxy, follows no redirect, connects within [`CONNECT_TIMEOUT`], ends
//! within [`ATTEMPT_TIMEOUT`], and reads at most [`MAX_RESPONSE_BYTES`] of
//! the answer. A 2xx answer delivers the message; anything else is a
//! failed attempt, retried on the schedule (`pinion_store::RetrySchedule`).
//! Errors kept in the log never include the URL (it may hold a token of
//! the receiver's).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pinion_domain::Clock;
use pinion_store::{AttemptOutcome, ClaimedDelivery, NotificationStore, Recorded};
use url::{Host, Url};

use super::NotificationSettings;
use super::address::choose_address;
use super::signature::sign;

/// How long a claimed delivery is this process's: longer than an attempt
/// can take (resolving, connecting and [`ATTEMPT_TIMEOUT`]).
pub const DELIVERY_LEASE: Duration = Duration::from_secs(60);
/// The longest wait for a TCP (and TLS) connection to an endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one attempt may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long resolving an endpoint's host may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer's body that is read (the rest is dropped).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The longest pause between two looks at the outbox, so events queued by
/// other replicas are sent within this long.
pub const POLL: Duration = Duration::from_secs(5);
/// How often the loop looks for credential events a stopped process left
/// unannounced (`Events::announce_missed`); it also looks when it starts.
pub const SWEEP: Duration = Duration::from_secs(60);
/// Deliveries claimed per step.
const BATCH: usize = 32;
/// Attempts made at once.
const CONCURRENCY: usize = 8;

/// The delivery loop.
#[derive(Debug, Clone)]
pub struct Deliverer {
    /// Only the outbox; the events it repairs go through `events`.
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    settings: NotificationSettings,
    wake: Arc<tokio::sync::Notify>,
    lease_owner: String,
    events: super::Events,
}

impl Deliverer {
    pub(super) fn new(
        store: Arc<dyn NotificationStore>,
        clock: Arc<dyn Clock>,
        settings: NotificationSettings,
        wake: Arc<tokio::sync::Notify>,
        events: super::Events,
    ) -> Self {
        let lease_owner = format!(
            "deliverer_{}",
            pinion_domain::FlowId::generate()
                .as_str()
                .trim_start_matches("flow_")
        );
        Self {
            store,
            clock,
            settings,
            wake,
            lease_owner,
            events,
        }
    }

    /// Claims the due deliveries and makes one attempt of each; returns
    /// how many were attempted.
    pub async fn run_once(&self) -> Result<usize, pinion_store::StoreError> {
        let now = self.clock.now();
        let lease_until = now + chrono::Duration::from_std(DELIVERY_LEASE).unwrap_or_default();
        let claimed = self
            .store
            .claim_deliveries(now, &self.lease_owner, lease_until, BATCH)
            .await?;
        let count = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |delivery| async move {
                self.deliver(delivery).await;
            })
            .await;
        Ok(count)
    }

    /// Queues the credential events a stopped process stored the change of
    /// but never queued (see `Events::announce_missed`); the loop does this
    /// when it starts and every [`SWEEP`]. Returns how many were queued.
    pub async fn announce_missed(&self) -> Result<usize, pinion_store::StoreError> {
        self.events.announce_missed().await
    }

    /// Runs steps until `shutdown` completes.
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next_sweep = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                if let Err(err) = self.announce_missed().await {
                    tracing::warn!(error = %err, "Looking for unannounced credential events failed.");
                }
                next_sweep = tokio::time::Instant::now() + SWEEP;
            }
            let pause = match self.run_once().await {
                Ok(count) if count >= BATCH => Duration::ZERO,
                Ok(_) => self.until_next_due().await,
                Err(err) => {
                    tracing::warn!(error = %err, "The webhook delivery step failed.");
                    POLL
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("The webhook deliverer stopped.");
    }

    /// How long until the next delivery is due, at most [`POLL`].
    async fn until_next_due(&self) -> Duration {
        let now = self.clock.now();
        match self.store.next_delivery_due(now).await {
            Ok(Some(at)) => (at - now).to_std().unwrap_or(Duration::ZERO).min(POLL),
            Ok(None) => POLL,
            Err(err) => {
                tracing::warn!(error = %err, "Could not look for due webhook deliveries.");
                POLL
            }
        }
    }

    #[tracing::instrument(skip_all, fields(message_id = %delivery.id, webhook_id = %delivery.endpoint_id, attempt = delivery.attempt))]
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let at = self.clock.now();
        let started = Instant::now();
        let (status_code, error) = match self.attempt(&delivery, at.timestamp()).await {
            Ok(status) => (
                Some(i64::from(status)),
                (!(200..300).contains(&status))
                    .then(|| format!("the endpoint answered HTTP {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let outcome = AttemptOutcome {
            at,
            status_code,
            delivered: error.is_none(),
            error,
            duration: started.elapsed(),
        };
        match self
            .store
            .record_attempt(
                &delivery.id,
                &self.lease_owner,
                &outcome,
                &self.settings.delivery,
            )
            .await
        {
            Ok(Recorded::Delivered) => tracing::info!("Delivered a webhook."),
            Ok(Recorded::RetryAt(next)) => {
                tracing::warn!(next_attempt_at = %next, error = outcome.error.as_deref().unwrap_or(""), "A webhook delivery failed; it will be retried.")
            }
            Ok(Recorded::GaveUp) => {
                tracing::warn!("A webhook delivery failed for the last time.")
            }
            Ok(Recorded::EndpointDisabled) => {
                tracing::warn!("A webhook endpoint kept failing and was disabled.")
            }
            Ok(Recorded::LeaseLost) => {
                tracing::warn!(
                    "A webhook delivery's lease ran out during its attempt; not recorded."
                )
            }
            Err(err) => tracing::warn!(error = %err, "Could not record a webhook attempt."),
        }
    }

    /// One POST of `delivery` signed at `timestamp`: the status, or why
    /// there was none.
    async fn attempt(&self, delivery: &ClaimedDelivery, timestamp: i64) -> Result<u16, String> {
        let url =
            Url::parse(&delivery.url).map_err(|_| "the endpoint URL is invalid".to_owned())?;
        let http = url.scheme() == "http";
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the endpoint URL has no port".to_owned())?;
        let (name, resolved) = match url.host() {
            Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(Host::Domain(name)) => {
                let lookup =
                    tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                        .await
                        .map_err(|_| format!("resolving {name} timed out"))?
                        .map_err(|err| format!("could not resolve {name}: {err}"))?;
                (Some(name.to_owned()), lookup.collect())
            }
            None => return Err("the endpoint URL has no host".to_owned()),
        };
        let address = choose_address(&resolved, http, &self.settings.addresses)
            .map_err(|refused| refused.0)?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("Pinion-Webhooks/", env!("CARGO_PKG_VERSION")));
        if let Some(name) = &name {
            // Pinned: the request goes to the address checked above.
            builder = builder.resolve(name, address);
        }
        let client = builder
            .build()
            .map_err(|err| format!("could not set up the request: {}", describe(&err)))?;
        let signed = sign(
            &delivery.secret,
            delivery.id.as_str(),
            timestamp,
            &delivery.body,
        )
        .map_err(|err| err.to_string())?;
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", &signed.signature)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|err| describe(&err))?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer, so the connection ends cleanly.
        let mut stream = response.bytes_stream();
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read >= MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok(status)
    }
}

/// A request error in words, without the URL.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "redirects are not followed"
    } else {
        "the request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}
