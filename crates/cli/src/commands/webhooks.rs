//! `pinion webhooks`: webhook endpoints (issue 14), as the operator: add one
//! for a user (`--user`), list, remove, rotate a secret, queue a test event
//! and read the delivery log. A secret is printed once, by `add` and
//! `rotate-secret`. Events are delivered by `pinion serve` (any replica on
//! the same database), not by these commands.

use clap::{Args, Subcommand};
use pinion_domain::WebhookId;
use pinion_domain::webhook::{WebhookDelivery, WebhookEndpoint};
use pinion_service::notifications::{WebhookInput, WebhookPatch};
use pinion_service::{Actor, Pinion};

use super::{CommandResult, Utf8Text};
use crate::output;
use crate::settings::StoreArgs;

/// `pinion webhooks …`
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint for a user and print its signing secret (shown once).
    Add(AddArgs),
    /// List endpoints (every user's, or one user's with `--user`).
    List(ListArgs),
    /// Remove an endpoint and its delivery log.
    Remove(IdArgs),
    /// Enable an endpoint again (after Pinion disabled it), or disable it.
    Enable(IdArgs),
    /// Disable an endpoint: nothing is sent to it until it is enabled.
    Disable(IdArgs),
    /// Replace an endpoint's signing secret and print the new one (shown once).
    RotateSecret(IdArgs),
    /// Queue a `webhook.test` event for an endpoint (`pinion serve` sends it).
    Test(IdArgs),
    /// An endpoint's newest deliveries with every attempt.
    Deliveries(DeliveriesArgs),
}

/// What the operator allows besides public addresses, as `pinion serve`
/// takes it.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// Accept an endpoint on a loopback address (this machine).
    #[arg(long, env = "PINION_WEBHOOK_ALLOW_LOOPBACK")]
    allow_loopback: bool,
    /// Accept an endpoint on a private, link-local, unique-local or CGNAT
    /// address.
    #[arg(long, env = "PINION_WEBHOOK_ALLOW_PRIVATE_NETWORKS")]
    allow_private_networks: bool,
}

/// `pinion webhooks add`
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user whose events the endpoint receives.
    #[arg(long, value_parser = Utf8Text)]
    user: String,
    /// The endpoint: `https://…` (or `http://` on loopback).
    #[arg(long, value_parser = Utf8Text)]
    url: String,
    /// Events, comma-separated: `*` (all but run.succeeded),
    /// credential.needs_reauthorization, credential.recovered,
    /// credential.refresh_failing, run.failed, run.succeeded, run.taken_over.
    #[arg(long, value_parser = Utf8Text, default_value = "*")]
    events: String,
    /// Words for people.
    #[arg(long, value_parser = Utf8Text)]
    description: Option<String>,
    #[command(flatten)]
    addresses: AddressArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion webhooks list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this user's endpoints.
    #[arg(long, value_parser = Utf8Text)]
    user: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// An endpoint named by id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The endpoint's id, `whk_…`.
    #[arg(value_parser = Utf8Text)]
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion webhooks deliveries`
#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// The endpoint's id, `whk_…`.
    #[arg(value_parser = Utf8Text)]
    id: String,
    /// How many of the newest deliveries (1 to 100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_id(text: &str) -> Result<WebhookId, pinion_domain::FieldError> {
    text.parse()
}

impl WebhooksCommand {
    /// Runs the command.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let mut settings = pinion_service::Settings::new(
            url::Url::parse(pinion_service::DEFAULT_PUBLIC_URL).map_err(anyhow::Error::from)?,
        );
        if let WebhooksCommand::Add(args) = &self {
            settings.notifications.addresses = pinion_service::AddressPolicy {
                allow_loopback: args.addresses.allow_loopback,
                allow_private: args.addresses.allow_private_networks,
            };
        }
        let pinion = store_args.open(settings).await?;
        let result = self.run_on(&pinion).await;
        pinion.close().await;
        result
    }

    async fn run_on(self, pinion: &Pinion) -> CommandResult {
        let webhooks = &pinion.webhooks;
        match self {
            WebhooksCommand::Add(args) => {
                let user = pinion
                    .users
                    .by_username(Actor::Operator, &args.user)
                    .await?;
                let input = WebhookInput {
                    url: args.url,
                    events: args
                        .events
                        .split(',')
                        .map(|e| e.trim().to_owned())
                        .collect(),
                    description: args.description,
                };
                let (endpoint, secret) = webhooks
                    .create(Actor::Operator, Some(&user.id), &input)
                    .await?;
                if args.json {
                    output::print_json(&serde_json::json!({
                        "webhook": endpoint,
                        "secret": secret.expose_secret(),
                    }))?;
                } else {
                    println!("Added webhook {} for {}.", endpoint.id, user.username);
                    println!("Signing secret (shown once; give it to the receiver now):");
                    println!("{}", secret.expose_secret());
                }
            }
            WebhooksCommand::List(args) => {
                let owner = match &args.user {
                    Some(name) => Some(pinion.users.by_username(Actor::Operator, name).await?.id),
                    None => None,
                };
                let endpoints = webhooks.list(Actor::Operator, owner.as_ref()).await?;
                if args.json {
                    output::print_json(&endpoints)?;
                } else {
                    print_endpoints(&endpoints);
                }
            }
            WebhooksCommand::Remove(args) => {
                let id = parse_id(&args.id)?;
                webhooks.delete(Actor::Operator, &id).await?;
                println!("Removed webhook {id}.");
            }
            WebhooksCommand::Enable(args) => {
                let id = parse_id(&args.id)?;
                let patch = WebhookPatch {
                    enabled: Some(true),
                    ..WebhookPatch::default()
                };
                let endpoint = webhooks.update(Actor::Operator, &id, &patch).await?;
                show_endpoint(&endpoint, args.json)?;
            }
            WebhooksCommand::Disable(args) => {
                let id = parse_id(&args.id)?;
                let patch = WebhookPatch {
                    enabled: Some(false),
                    ..WebhookPatch::default()
                };
                let endpoint = webhooks.update(Actor::Operator, &id, &patch).await?;
                show_endpoint(&endpoint, args.json)?;
            }
            WebhooksCommand::RotateSecret(args) => {
                let id = parse_id(&args.id)?;
                let (endpoint, secret) = webhooks.rotate_secret(Actor::Operator, &id).await?;
                if args.json {
                    output::print_json(&serde_json::json!({
                        "webhook": endpoint,
                        "secret": secret.expose_secret(),
                    }))?;
                } else {
                    println!(
                        "New signing secret of {id} (shown once; the old one no longer signs):"
                    );
                    println!("{}", secret.expose_secret());
                }
            }
            WebhooksCommand::Test(args) => {
                let id = parse_id(&args.id)?;
                let message = webhooks.send_test(Actor::Operator, &id).await?;
                if args.json {
                    output::print_json(&serde_json::json!({ "message_id": message }))?;
                } else {
                    println!(
                        "Queued test event {message}; `pinion serve` delivers it \
                         (see `pinion webhooks deliveries {id}`)."
                    );
                }
            }
            WebhooksCommand::Deliveries(args) => {
                let id = parse_id(&args.id)?;
                let deliveries = webhooks
                    .deliveries(Actor::Operator, &id, Some(args.limit))
                    .await?;
                if args.json {
                    output::print_json(&deliveries)?;
                } else {
                    print_deliveries(&deliveries);
                }
            }
        }
        Ok(())
    }
}

fn show_endpoint(endpoint: &WebhookEndpoint, json: bool) -> anyhow::Result<()> {
    if json {
        return output::print_json(endpoint);
    }
    output::print_fields(&[
        ("id", endpoint.id.to_string()),
        ("url", endpoint.url.clone()),
        ("events", endpoint.events.join(", ")),
        ("enabled", endpoint.enabled.to_string()),
        (
            "disabled because",
            endpoint.disabled_reason.clone().unwrap_or_default(),
        ),
    ]);
    Ok(())
}

fn print_endpoints(endpoints: &[WebhookEndpoint]) {
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.owner.to_string(),
                e.url.clone(),
                e.events.join(","),
                if e.enabled { "enabled" } else { "disabled" }.to_owned(),
                e.disabled_reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::print_table(&["ID", "OWNER", "URL", "EVENTS", "STATE", "WHY"], &rows);
}

fn print_deliveries(deliveries: &[WebhookDelivery]) {
    let mut rows = Vec::new();
    for delivery in deliveries {
        rows.push(vec![
            delivery.id.to_string(),
            delivery.event_type.clone(),
            delivery.state.as_str().to_owned(),
            output::time(Some(delivery.created_at)),
            String::new(),
        ]);
        for attempt in &delivery.attempts {
            let answer = match (attempt.status_code, &attempt.error) {
                (Some(code), _) => format!("HTTP {code}"),
                (None, Some(error)) => error.clone(),
                (None, None) => String::new(),
            };
            rows.push(vec![
                String::new(),
                format!("  attempt {}", attempt.attempt),
                answer,
                output::time(Some(attempt.at)),
                format!("{} ms", attempt.duration_ms),
            ]);
        }
    }
    output::print_table(&["MESSAGE", "EVENT", "STATE", "AT", "TOOK"], &rows);
}
