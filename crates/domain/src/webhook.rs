//! Webhook notifications (issue 14): the events Pinion announces, the list
//! of events an endpoint subscribes to, and the records the API, the CLI and
//! the web UI show (endpoints, deliveries and their attempts). No record
//! here holds an endpoint's signing secret: that is a
//! [`crate::WebhookSecret`], shown once and stored sealed.

use chrono::{DateTime, Utc};

use crate::validation::FieldError;
use crate::{Description, MessageId, UserId, WebhookId};

/// Something Pinion tells an endpoint about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EventType {
    /// Pinterest refused the credential's grant: its owner must authorize it again.
    #[serde(rename = "credential.needs_reauthorization")]
    CredentialNeedsReauthorization,
    /// A credential that needed re-authorization, or whose refreshes were
    /// failing, works again.
    #[serde(rename = "credential.recovered")]
    CredentialRecovered,
    /// Token refreshes failed transiently several times in a row.
    #[serde(rename = "credential.refresh_failing")]
    CredentialRefreshFailing,
    /// A source run failed.
    #[serde(rename = "run.failed")]
    RunFailed,
    /// A source run succeeded (sent only to endpoints that list it).
    #[serde(rename = "run.succeeded")]
    RunSucceeded,
    /// A source run was taken over from a process that stopped.
    #[serde(rename = "run.taken_over")]
    RunTakenOver,
    /// A test event, sent on request to one endpoint whatever it lists.
    #[serde(rename = "webhook.test")]
    Test,
}

impl EventType {
    /// Every event an endpoint can subscribe to (the test event is sent on
    /// request only).
    pub const SUBSCRIBABLE: [EventType; 6] = [
        Self::CredentialNeedsReauthorization,
        Self::CredentialRecovered,
        Self::CredentialRefreshFailing,
        Self::RunFailed,
        Self::RunSucceeded,
        Self::RunTakenOver,
    ];

    /// The wire name, e.g. `credential.recovered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialNeedsReauthorization => "credential.needs_reauthorization",
            Self::CredentialRecovered => "credential.recovered",
            Self::CredentialRefreshFailing => "credential.refresh_failing",
            Self::RunFailed => "run.failed",
            Self::RunSucceeded => "run.succeeded",
            Self::RunTakenOver => "run.taken_over",
            Self::Test => "webhook.test",
        }
    }

    /// True for events an endpoint receives only when it lists them by
    /// name (`*` does not include them): `run.succeeded`, which comes with
    /// every run.
    pub fn opt_in(self) -> bool {
        matches!(self, Self::RunSucceeded)
    }
}

impl std::str::FromStr for EventType {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([Self::Test])
            .find(|event| event.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "events",
                    format!(
                        "`{s}` is not an event (use `*` or any of {})",
                        Self::SUBSCRIBABLE.map(Self::as_str).join(", ")
                    ),
                )
            })
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The events an endpoint subscribes to: `*` (every event but the opt-in
/// ones) and named events. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    all: bool,
    named: Vec<EventType>,
}

/// The word for "every event but the opt-in ones".
pub const ALL_EVENTS: &str = "*";

impl EventFilter {
    /// Validates a list of event names (`*` or names from
    /// [`EventType::SUBSCRIBABLE`]); duplicates are dropped, order kept.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, FieldError> {
        let mut all = false;
        let mut named = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            if name == ALL_EVENTS {
                all = true;
                continue;
            }
            let event: EventType = name.parse()?;
            if event == EventType::Test {
                return Err(FieldError::new(
                    "events",
                    "`webhook.test` is sent on request only; it cannot be subscribed to",
                ));
            }
            if !named.contains(&event) {
                named.push(event);
            }
        }
        if !all && named.is_empty() {
            return Err(FieldError::new(
                "events",
                "name at least one event, or `*` for every event but run.succeeded",
            ));
        }
        Ok(Self { all, named })
    }

    /// Splits stored or typed text on commas and whitespace, then [`Self::parse`].
    pub fn parse_text(text: &str) -> Result<Self, FieldError> {
        let names: Vec<&str> = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .collect();
        Self::parse(&names)
    }

    /// True when an endpoint with this filter receives `event`.
    pub fn includes(&self, event: EventType) -> bool {
        match event {
            EventType::Test => true,
            event if self.named.contains(&event) => true,
            event => self.all && !event.opt_in(),
        }
    }

    /// The names, `*` first: what the store keeps and the API shows.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.named.len() + 1);
        if self.all {
            names.push(ALL_EVENTS.to_owned());
        }
        names.extend(self.named.iter().map(|e| e.as_str().to_owned()));
        names
    }

    /// The names separated by spaces, as the store keeps them.
    pub fn to_text(&self) -> String {
        self.names().join(" ")
    }
}

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// What a new endpoint, or a change to one, says (validated by the service,
/// which also applies the address rule).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Where events are posted.
    pub url: String,
    /// What it receives.
    pub events: EventFilter,
    /// Words for people.
    pub description: Option<Description>,
}

/// A webhook endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookEndpoint {
    /// `whk_…`.
    pub id: WebhookId,
    /// The user whose events it receives.
    pub owner: UserId,
    /// Where events are posted.
    pub url: String,
    /// Words for people.
    pub description: Option<String>,
    /// The events it receives (`*` and names).
    pub events: Vec<String>,
    /// False once disabled (by its owner, or by Pinion after failing for
    /// days); nothing is sent to it then.
    pub enabled: bool,
    /// Why it is disabled, for its owner.
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Since when every attempt to it has failed (`None` after a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its settings or secret last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// The endpoint's subscription.
    pub fn filter(&self) -> EventFilter {
        EventFilter::parse(&self.events).unwrap_or(EventFilter {
            all: false,
            named: Vec::new(),
        })
    }
}

/// Where one message to one endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt was answered with 2xx.
    Delivered,
    /// Every attempt failed, or the endpoint was disabled or changed its
    /// subscription; no more attempts.
    Failed,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    /// When it started.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status_code: Option<i64>,
    /// Why it failed without an answer (or what the answer meant), for people.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

/// One message to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookDelivery {
    /// The message id (`webhook-id`).
    pub id: MessageId,
    /// The endpoint.
    pub endpoint_id: WebhookId,
    /// The event's wire name.
    pub event_type: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_star_and_names_and_keeps_run_succeeded_opt_in() {
        let star = EventFilter::parse(&["*"]).unwrap();
        assert!(star.includes(EventType::RunFailed));
        assert!(star.includes(EventType::CredentialRecovered));
        assert!(!star.includes(EventType::RunSucceeded));
        assert!(star.includes(EventType::Test));
        let both = EventFilter::parse_text("*, run.succeeded").unwrap();
        assert!(both.includes(EventType::RunSucceeded));
        assert_eq!(both.names(), vec!["*", "run.succeeded"]);
        let one = EventFilter::parse(&["run.failed", "run.failed"]).unwrap();
        assert_eq!(one.to_text(), "run.failed");
        assert!(!one.includes(EventType::RunTakenOver));
        assert_eq!(EventFilter::parse_text(&one.to_text()).unwrap(), one);
    }

    #[test]
    fn the_filter_refuses_unknown_empty_and_test_events_naming_the_field() {
        for bad in [
            &[][..],
            &["  "][..],
            &["run.exploded"][..],
            &["webhook.test"][..],
        ] {
            let err = EventFilter::parse(bad).unwrap_err();
            assert_eq!(err.field, "events", "{bad:?}");
        }
    }

    #[test]
    fn every_event_parses_back_from_its_name() {
        for event in EventType::SUBSCRIBABLE.into_iter().chain([EventType::Test]) {
            assert_eq!(event.as_str().parse::<EventType>().unwrap(), event);
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::json!(event.as_str())
            );
        }
    }
}
