//! Webhook notifications (issue 14): users register endpoints (URL, events,
//! description) and Pinion posts them events signed per the Standard
//! Webhooks specification.
//!
//! - [`Webhooks`]: the endpoints and their delivery logs behind the access
//!   rule (a user manages their own endpoints, anyone else's is "not
//!   found", admins included; the operator and the system manage all).
//!   A secret (`whsec_` and 32 random bytes in base64) is made by Pinion,
//!   returned once at creation and at rotation, and stored sealed.
//! - `Events`: how the services announce a state change; each event is
//!   emitted where its transition happens (see [`EventType`] for the list):
//!   `credential.needs_reauthorization` and `credential.refresh_failing`
//!   where a refresh failure is recorded (`tokens.rs`), after
//!   [`REFRESH_FAILING_AFTER`] transient failures in a row for the latter;
//!   `credential.recovered` where a credential gets working tokens again
//!   (a refresh, an authorization, a journal replay), only after one of
//!   those alerts and once (the store's credential alert decides);
//!   `run.failed`, `run.succeeded` and `run.taken_over` where a run's
//!   outcome or takeover is stored (`runs.rs`), an outcome once (the run's
//!   `announced_at`, set in the transaction that queues it). An event is queued in the
//!   database (the outbox) for every subscribed, enabled endpoint of the
//!   object's owner; queuing is best effort like the activity log (a
//!   failure is logged, the change stands). A credential's change and its
//!   event are two transactions: a process that stops between them leaves
//!   the event to the [`Deliverer`] of any replica, which looks for
//!   credentials whose alert lags their status, and finished runs never
//!   announced, when it starts and every [`SWEEP`] after
//!   (`Events::announce_missed`), so those events are still sent, once;
//!   the same for a takeover never announced (the run's
//!   `takeovers_announced` lags its `takeovers`).
//! - [`Deliverer`]: the background loop of every `pinion serve` that claims
//!   due deliveries (one attempt at a time across replicas), posts them and
//!   records each attempt; see `delivery.rs`.
//!
//! Payloads are `{"type", "timestamp", "data"}`; `data` holds ids, names,
//! statuses and reasons meant for people, never a secret, a token or an
//! authorization code.

mod address;
mod delivery;
mod signature;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use pinion_domain::webhook::{
    EventFilter, EventType, NewWebhook, WebhookDelivery, WebhookEndpoint,
};
use pinion_domain::{
    Clock, Credential, Description, MessageId, UserId, ValidationErrors, WebhookId, WebhookSecret,
};
use pinion_store::{
    AlertState, CredentialStore, DeliveryPolicy, NewEvent, NotificationStore, RunStore, Store,
    WebStateStore,
};
use serde_json::{Value, json};

use crate::activity::Actor;
use crate::error::ServiceError;

pub use address::{
    AddressClass, AddressPolicy, AddressRefused, check_url, choose_address, classify,
};
pub use delivery::{
    ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, DELIVERY_LEASE, Deliverer, MAX_RESPONSE_BYTES, POLL, SWEEP,
};
pub use signature::{MalformedSecret, SignedHeaders, sign};

/// Transient refresh failures in a row after which
/// `credential.refresh_failing` is announced (once, until the credential
/// recovers).
pub const REFRESH_FAILING_AFTER: i64 = 3;

/// The most endpoints one user may have.
pub const MAX_WEBHOOKS_PER_USER: usize = 20;

/// Deliveries listed by default, and at most.
pub const DELIVERIES_LISTED: u32 = 20;
/// The most deliveries one listing returns.
pub const MAX_DELIVERIES_LISTED: u32 = 100;

/// How notifications are sent: which addresses endpoints may have, and
/// how deliveries are retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotificationSettings {
    /// What the operator allows besides public addresses.
    pub addresses: AddressPolicy,
    /// Retries and disabling (`--webhook-retry-unit` scales it).
    pub delivery: DeliveryPolicy,
}

/// A new endpoint, or a changed one, as typed.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    /// The URL.
    pub url: String,
    /// Event names (`*` for every event but `run.succeeded`).
    pub events: Vec<String>,
    /// Words for people.
    pub description: Option<String>,
}

/// A change to an endpoint; fields left `None` stay.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    /// A new URL.
    pub url: Option<String>,
    /// New event names.
    pub events: Option<Vec<String>>,
    /// A new description (blank clears it).
    pub description: Option<String>,
    /// Enable (clearing why it was disabled) or disable it.
    pub enabled: Option<bool>,
}

/// Announces state changes as webhook events. Cheap to clone; a handle
/// without a store (the default) announces nothing.
#[derive(Debug, Clone, Default)]
pub struct Events {
    sink: Option<Arc<Sink>>,
}

#[derive(Debug)]
struct Sink {
    /// The outbox, the alerts and the announcement markers.
    notifications: Arc<dyn NotificationStore>,
    /// The credentials an alert is about.
    credentials: Arc<dyn CredentialStore>,
    /// The runs an outcome or takeover is about.
    runs: Arc<dyn RunStore>,
    /// The sources those runs belong to.
    sources: Arc<dyn WebStateStore>,
    clock: Arc<dyn Clock>,
    wake: Arc<tokio::sync::Notify>,
}

/// The body of an event: `{"type", "timestamp", "data"}`.
fn body(event_type: EventType, at: DateTime<Utc>, data: Value) -> String {
    json!({
        "type": event_type.as_str(),
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

/// The `data` of a credential event.
fn credential_data(credential: &Credential, reason: Option<&str>) -> Value {
    json!({
        "credential_id": credential.id.as_str(),
        "credential_name": credential.name.as_str(),
        "status": credential.status.as_str(),
        "reason": reason,
    })
}

impl Events {
    fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, wake: Arc<tokio::sync::Notify>) -> Self {
        Self {
            sink: Some(Arc::new(Sink {
                notifications: store.clone(),
                credentials: store.clone(),
                runs: store.clone(),
                sources: store,
                clock,
                wake,
            })),
        }
    }

    fn event(&self, sink: &Sink, event_type: EventType, data: Value) -> NewEvent {
        let at = sink.clock.now();
        NewEvent {
            event_type,
            at,
            body: body(event_type, at, data),
        }
    }

    fn queued(
        &self,
        sink: &Sink,
        event_type: EventType,
        result: Result<bool, impl std::fmt::Display>,
    ) {
        match result {
            Ok(true) => {
                tracing::info!(event = event_type.as_str(), "Queued a webhook event.");
                sink.wake.notify_one();
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(
                event = event_type.as_str(),
                error = %err,
                "Could not queue a webhook event."
            ),
        }
    }

    /// A refresh of `record` (as it was before the attempt) failed with
    /// `failure`: announces `credential.needs_reauthorization`, or
    /// `credential.refresh_failing` once the transient failures in a row
    /// reach [`REFRESH_FAILING_AFTER`].
    pub(crate) async fn refresh_failed(
        &self,
        record: &Credential,
        failures_before: i64,
        failure: &crate::RefreshError,
    ) {
        let Some(sink) = &self.sink else { return };
        let (state, event_type, data) = match failure {
            crate::RefreshError::NeedsReauthorization { reason } => {
                let mut credential = record.clone();
                credential.status = pinion_domain::CredentialStatus::NeedsReauthorization;
                (
                    AlertState::NeedsReauthorization,
                    EventType::CredentialNeedsReauthorization,
                    credential_data(&credential, Some(reason)),
                )
            }
            crate::RefreshError::Unavailable { reason, retry_at }
                if failures_before + 1 >= REFRESH_FAILING_AFTER =>
            {
                let mut data = credential_data(record, Some(reason));
                data["consecutive_failures"] = json!(failures_before + 1);
                data["next_attempt_at"] = json!(retry_at.map(|at| at.to_rfc3339()));
                (
                    AlertState::RefreshFailing,
                    EventType::CredentialRefreshFailing,
                    data,
                )
            }
            _ => return,
        };
        self.raise_alert(sink, record, state, event_type, data)
            .await;
    }

    /// `credential` has working tokens again: announces
    /// `credential.recovered` if an alert was announced about it.
    pub(crate) async fn credential_working(&self, credential: &Credential) {
        let Some(sink) = &self.sink else { return };
        self.clear_alert(sink, credential).await;
    }

    /// Raises alert `state` on `credential` and queues its event with
    /// `data`, unless that alert is raised already; whether it queued.
    async fn raise_alert(
        &self,
        sink: &Sink,
        credential: &Credential,
        state: AlertState,
        event_type: EventType,
        data: Value,
    ) -> bool {
        let event = self.event(sink, event_type, data);
        let result = sink
            .notifications
            .raise_credential_alert(&credential.id, state, &credential.owner, &event)
            .await;
        let queued = matches!(result, Ok(true));
        self.queued(sink, event_type, result);
        queued
    }

    /// Clears `credential`'s alert and queues `credential.recovered`, if an
    /// alert was raised; whether it queued.
    async fn clear_alert(&self, sink: &Sink, credential: &Credential) -> bool {
        let event = self.event(
            sink,
            EventType::CredentialRecovered,
            credential_data(credential, None),
        );
        let result = sink
            .notifications
            .clear_credential_alert(&credential.id, &credential.owner, &event)
            .await;
        let queued = matches!(result, Ok(true));
        self.queued(sink, EventType::CredentialRecovered, result);
        queued
    }

    /// Announces what a stopped process stored and never announced: a
    /// credential that needs reauthorization with no such alert, a
    /// credential working again still under an alert, a run's takeover and
    /// a run's outcome (the store's conditional alert row, the run's
    /// `takeovers_announced` and `announced_at` keep each event to once,
    /// whichever process gets there first). Returns how
    /// many changes were announced.
    pub(crate) async fn announce_missed(&self) -> Result<usize, pinion_store::StoreError> {
        let Some(sink) = &self.sink else {
            return Ok(0);
        };
        let mut queued = 0;
        for id in sink
            .notifications
            .unannounced_credential_changes(100)
            .await?
        {
            let credential: Credential = match sink.credentials.get_credential(&id).await {
                Ok(record) => record.into(),
                // Deleted since.
                Err(pinion_store::StoreError::NotFound { .. }) => continue,
                Err(err) => return Err(err),
            };
            let (event_type, announced) = match credential.status {
                pinion_domain::CredentialStatus::NeedsReauthorization => {
                    let data = credential_data(&credential, credential.last_error.as_deref());
                    let event_type = EventType::CredentialNeedsReauthorization;
                    let raised = self
                        .raise_alert(
                            sink,
                            &credential,
                            AlertState::NeedsReauthorization,
                            event_type,
                            data,
                        )
                        .await;
                    (event_type, raised)
                }
                pinion_domain::CredentialStatus::Active => (
                    EventType::CredentialRecovered,
                    self.clear_alert(sink, &credential).await,
                ),
                // Changed again since the query.
                _ => continue,
            };
            if announced {
                queued += 1;
                tracing::info!(
                    credential_id = %credential.id,
                    event = event_type.as_str(),
                    "Queued an event a stopped process left unannounced."
                );
            }
        }
        for (run_id, takeovers) in sink.notifications.unannounced_takeovers(100).await? {
            let reason = "the process running it stopped";
            match self
                .announce_takeover(sink, &run_id, takeovers, reason)
                .await
            {
                Ok(true) => {
                    queued += 1;
                    tracing::info!(
                        %run_id,
                        "Announced a takeover a stopped process left unannounced."
                    );
                }
                Ok(false) | Err(pinion_store::StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        for run_id in sink.notifications.unannounced_runs(100).await? {
            match self.announce_run(sink, &run_id).await {
                Ok(true) => {
                    queued += 1;
                    tracing::info!(
                        %run_id,
                        "Announced a run's outcome a stopped process left unannounced."
                    );
                }
                Ok(false) => {}
                // Deleted since.
                Err(pinion_store::StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(queued)
    }

    /// Run `run_id`'s outcome was stored: announces `run.succeeded` or
    /// `run.failed`, unless another process already did.
    pub(crate) async fn run_finished(&self, run_id: &pinion_domain::RunId) {
        let Some(sink) = &self.sink else { return };
        if let Err(err) = self.announce_run(sink, run_id).await {
            tracing::warn!(%run_id, error = %err, "Could not announce a finished run.");
        }
    }

    /// Announces run `run_id`'s outcome once; returns whether this call
    /// did (false when it was announced already, or has no outcome yet).
    async fn announce_run(
        &self,
        sink: &Sink,
        run_id: &pinion_domain::RunId,
    ) -> Result<bool, pinion_store::StoreError> {
        let run = sink.runs.get_run(run_id).await?;
        let event_type = match run.status {
            pinion_domain::record::RunStatus::Succeeded => EventType::RunSucceeded,
            pinion_domain::record::RunStatus::Failed => EventType::RunFailed,
            _ => return Ok(false),
        };
        let source = sink.sources.get_source(&run.source_id).await.ok();
        let records: serde_json::Map<String, Value> = run
            .streams
            .iter()
            .map(|stream| (stream.stream.clone(), json!(stream.records)))
            .collect();
        let data = json!({
            "run_id": run.id.as_str(),
            "source_id": run.source_id.as_str(),
            "source_name": source.as_ref().map(|s| s.name.clone()),
            "credential_id": source.as_ref().map(|s| s.credential_id.as_str().to_owned()),
            "status": run.status.as_str(),
            "error": run.error,
            "started_at": run.started_at.map(|at| at.to_rfc3339()),
            "finished_at": run.finished_at.map(|at| at.to_rfc3339()),
            "records": records,
        });
        let event = self.event(sink, event_type, data);
        let Some(queued) = sink
            .notifications
            .announce_run(&run.id, &run.owner, &event)
            .await?
        else {
            return Ok(false);
        };
        self.queued(
            sink,
            event_type,
            Ok::<_, pinion_store::StoreError>(queued > 0),
        );
        Ok(true)
    }

    /// Run `run_id` was taken over, for the `takeovers`-th time, from a
    /// process that stopped (`reason`): announces `run.taken_over` unless
    /// another process already did.
    pub(crate) async fn run_taken_over(
        &self,
        run_id: &pinion_domain::RunId,
        takeovers: i64,
        reason: &str,
    ) {
        let Some(sink) = &self.sink else { return };
        if let Err(err) = self
            .announce_takeover(sink, run_id, takeovers, reason)
            .await
        {
            tracing::warn!(%run_id, error = %err, "Could not announce a run taken over.");
        }
    }

    /// Announces run `run_id`'s `takeovers`-th takeover once; returns
    /// whether this call did.
    async fn announce_takeover(
        &self,
        sink: &Sink,
        run_id: &pinion_domain::RunId,
        takeovers: i64,
        reason: &str,
    ) -> Result<bool, pinion_store::StoreError> {
        let run = sink.runs.get_run(run_id).await?;
        let source = sink.sources.get_source(&run.source_id).await.ok();
        let data = json!({
            "run_id": run.id.as_str(),
            "source_id": run.source_id.as_str(),
            "source_name": source.as_ref().map(|s| s.name.clone()),
            "reason": reason,
        });
        let event = self.event(sink, EventType::RunTakenOver, data);
        let Some(queued) = sink
            .notifications
            .announce_takeover(&run.id, takeovers, &run.owner, &event)
            .await?
        else {
            return Ok(false);
        };
        self.queued(
            sink,
            EventType::RunTakenOver,
            Ok::<_, pinion_store::StoreError>(queued > 0),
        );
        Ok(true)
    }
}

/// Webhook endpoints and their delivery logs, behind the access rule.
#[derive(Debug, Clone)]
pub struct Webhooks {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    settings: NotificationSettings,
    events: Events,
    wake: Arc<tokio::sync::Notify>,
}

impl Webhooks {
    /// Endpoints in `store`, checked against `settings`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: NotificationSettings,
    ) -> Self {
        let wake = Arc::new(tokio::sync::Notify::new());
        let events = Events::new(store.clone(), clock.clone(), wake.clone());
        Self {
            store,
            clock,
            settings,
            events,
            wake,
        }
    }

    /// The handle the other services announce events through.
    pub(crate) fn events(&self) -> Events {
        self.events.clone()
    }

    /// The settings in use.
    pub fn settings(&self) -> &NotificationSettings {
        &self.settings
    }

    /// The background loop that delivers queued events.
    pub fn deliverer(&self) -> Deliverer {
        Deliverer::new(
            self.store.clone(),
            self.clock.clone(),
            self.settings,
            self.wake.clone(),
            self.events.clone(),
        )
    }

    fn validate(&self, input: &WebhookInput) -> Result<NewWebhook, ServiceError> {
        let mut errors = ValidationErrors::default();
        let url = errors.check(check_url(&input.url, &self.settings.addresses));
        let events = errors.check(EventFilter::parse(&input.events));
        let description = errors.check(Description::parse(
            input.description.as_deref().unwrap_or_default(),
        ));
        match (url, events, description) {
            (Some(url), Some(events), Some(description)) if errors.is_empty() => Ok(NewWebhook {
                url: url.to_string(),
                events,
                description,
            }),
            _ => Err(ServiceError::Validation(errors)),
        }
    }

    /// Endpoint `id` if `actor` may see it; otherwise "not found".
    async fn visible(
        &self,
        actor: &Actor,
        id: &WebhookId,
    ) -> Result<WebhookEndpoint, ServiceError> {
        let endpoint = self.store.get_webhook(id).await?;
        let allowed = match actor {
            Actor::User(user) => user.id == endpoint.owner,
            Actor::Operator | Actor::System => true,
        };
        if allowed {
            Ok(endpoint)
        } else {
            Err(ServiceError::NotFound { what: "webhook" })
        }
    }

    /// Creates an endpoint. A user creates their own (`owner` is theirs or
    /// `None`); the operator names the owner. Returns the endpoint and its
    /// secret, which is never shown again.
    pub async fn create(
        &self,
        actor: impl Into<Actor>,
        owner: Option<&UserId>,
        input: &WebhookInput,
    ) -> Result<(WebhookEndpoint, WebhookSecret), ServiceError> {
        let actor = actor.into();
        let owner = match (&actor, owner) {
            (Actor::User(user), None) => user.id.clone(),
            (Actor::User(user), Some(owner)) if &user.id == owner => owner.clone(),
            (Actor::User(_), Some(_)) => {
                return Err(ServiceError::Forbidden(
                    "a user creates webhooks for themselves",
                ));
            }
            (_, Some(owner)) => owner.clone(),
            (_, None) => {
                return Err(pinion_domain::FieldError::new(
                    "user",
                    "name the user whose events the endpoint receives",
                )
                .into());
            }
        };
        let new = self.validate(input)?;
        if self.store.list_webhooks(Some(&owner)).await?.len() >= MAX_WEBHOOKS_PER_USER {
            return Err(ServiceError::Conflict {
                field: "url",
                message: format!(
                    "a user may have at most {MAX_WEBHOOKS_PER_USER} webhook endpoints; remove one first"
                ),
            });
        }
        let secret = WebhookSecret::random();
        let endpoint = self.store.create_webhook(&owner, &new, &secret).await?;
        tracing::info!(webhook_id = %endpoint.id, "Created a webhook endpoint.");
        Ok((endpoint, secret))
    }

    /// The endpoints `actor` may see: a user's own; every endpoint (or
    /// `owner`'s) for the operator.
    pub async fn list(
        &self,
        actor: impl Into<Actor>,
        owner: Option<&UserId>,
    ) -> Result<Vec<WebhookEndpoint>, ServiceError> {
        let actor = actor.into();
        let owner = match &actor {
            Actor::User(user) => Some(&user.id),
            Actor::Operator | Actor::System => owner,
        };
        Ok(self.store.list_webhooks(owner).await?)
    }

    /// Endpoint `id`.
    pub async fn get(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
    ) -> Result<WebhookEndpoint, ServiceError> {
        self.visible(&actor.into(), id).await
    }

    /// Changes endpoint `id`: its URL, events and description (checked as
    /// at creation), and whether it is enabled; nothing is written when a
    /// field is invalid.
    pub async fn update(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
        patch: &WebhookPatch,
    ) -> Result<WebhookEndpoint, ServiceError> {
        let actor = actor.into();
        let current = self.visible(&actor, id).await?;
        let changes_settings =
            patch.url.is_some() || patch.events.is_some() || patch.description.is_some();
        let new = if changes_settings {
            let input = WebhookInput {
                url: patch.url.clone().unwrap_or_else(|| current.url.clone()),
                events: patch
                    .events
                    .clone()
                    .unwrap_or_else(|| current.events.clone()),
                description: patch
                    .description
                    .clone()
                    .or_else(|| current.description.clone()),
            };
            Some(self.validate(&input)?)
        } else {
            None
        };
        let mut endpoint = current;
        if let Some(new) = &new {
            endpoint = self.store.update_webhook(id, new).await?;
        }
        if let Some(enabled) = patch.enabled
            && enabled != endpoint.enabled
        {
            let reason = format!("disabled by {}", actor.name());
            endpoint = self
                .store
                .set_webhook_enabled(id, enabled, (!enabled).then_some(reason.as_str()))
                .await?;
        } else if patch.enabled == Some(true) && endpoint.failing_since.is_some() {
            endpoint = self.store.set_webhook_enabled(id, true, None).await?;
        }
        Ok(endpoint)
    }

    /// Replaces endpoint `id`'s signing secret; returns the new one, shown
    /// this once.
    pub async fn rotate_secret(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
    ) -> Result<(WebhookEndpoint, WebhookSecret), ServiceError> {
        self.visible(&actor.into(), id).await?;
        let secret = WebhookSecret::random();
        let endpoint = self.store.rotate_webhook_secret(id, &secret).await?;
        tracing::info!(webhook_id = %id, "Rotated a webhook signing secret.");
        Ok((endpoint, secret))
    }

    /// Deletes endpoint `id` with its delivery log.
    pub async fn delete(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
    ) -> Result<(), ServiceError> {
        self.visible(&actor.into(), id).await?;
        Ok(self.store.delete_webhook(id).await?)
    }

    /// Queues the test event for endpoint `id` (whatever it subscribes to);
    /// returns its message id. A disabled endpoint is a conflict.
    pub async fn send_test(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
    ) -> Result<MessageId, ServiceError> {
        let actor = actor.into();
        let endpoint = self.visible(&actor, id).await?;
        let at = self.clock.now();
        let data = json!({
            "webhook_id": endpoint.id.as_str(),
            "message": "A test event from Pinion: this endpoint receives its webhooks.",
            "requested_by": actor.name(),
        });
        let event = NewEvent {
            event_type: EventType::Test,
            at,
            body: body(EventType::Test, at, data),
        };
        let message = self.store.enqueue_to(id, &event).await?;
        self.wake.notify_one();
        Ok(message)
    }

    /// Endpoint `id`'s newest deliveries (at most `limit`, up to
    /// [`MAX_DELIVERIES_LISTED`]), each with its attempts.
    pub async fn deliveries(
        &self,
        actor: impl Into<Actor>,
        id: &WebhookId,
        limit: Option<u32>,
    ) -> Result<Vec<WebhookDelivery>, ServiceError> {
        self.visible(&actor.into(), id).await?;
        let limit = limit
            .unwrap_or(DELIVERIES_LISTED)
            .clamp(1, MAX_DELIVERIES_LISTED);
        Ok(self.store.list_deliveries(id, limit).await?)
    }
}

/// The delivery policy whose schedule runs on `unit` (what one second of
/// it lasts: `--webhook-retry-unit`); refused when zero.
pub fn delivery_policy(unit: Duration) -> Result<DeliveryPolicy, pinion_domain::FieldError> {
    if unit.is_zero() {
        return Err(pinion_domain::FieldError::new(
            "webhook-retry-unit",
            "must be more than zero (1s is the real schedule)",
        ));
    }
    Ok(DeliveryPolicy::with_unit(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_standard_shape() {
        let at = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        let text = body(EventType::RunFailed, at, json!({"run_id": "run_1"}));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], "run.failed");
        assert_eq!(value["timestamp"], "2023-11-14T22:13:20.000005Z");
        assert_eq!(value["data"]["run_id"], "run_1");
        assert_eq!(value.as_object().unwrap().len(), 3);
    }
}
