//! `pinion credentials`: create, list, show, update and delete Pinterest
//! credentials on the local store.
//!
//! A client secret is never taken as a plain argument, where it would show in
//! `ps` and the shell's history: it comes from stdin (a hidden prompt on a
//! terminal) or from a named environment variable.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Args, Subcommand};
use pinion_domain::record::FlowOutcome;
use pinion_domain::{
    ClientSecret, Credential, CredentialId, CredentialInput, CredentialPatchInput, FieldError,
    Scope, ScopeSet,
};
use pinion_service::{Actor, Pinion, ServiceError, Settings};

use super::{CommandResult, Failure, Utf8Text};
use crate::output;
use crate::settings::StoreArgs;

/// `pinion credentials …`
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Create a credential for a user's Pinterest app.
    Create(CreateArgs),
    /// List credentials.
    List(ListArgs),
    /// Show one credential (never its secrets).
    Show(ShowArgs),
    /// Change a credential's fields.
    Update(UpdateArgs),
    /// Delete a credential and its tokens.
    Delete(DeleteArgs),
    /// List the Pinterest scopes a credential may request.
    Scopes(ScopesArgs),
    /// Start an authorization: print Pinterest's consent URL and wait until a
    /// running `pinion serve` receives the callback.
    Authorize(AuthorizeArgs),
    /// Call Pinterest's `GET /v5/user_account` with the credential and report.
    Check(LifecycleArgs),
    /// Refresh the credential's tokens now.
    Refresh(LifecycleArgs),
}

/// Where Pinterest and the public callback are (the same settings as `pinion serve`).
#[derive(Debug, Args)]
pub struct PinterestArgs {
    /// Pinterest's consent page.
    #[arg(long, env = "PINTEREST_OAUTH_URL", default_value = pinion_service::DEFAULT_PINTEREST_OAUTH_URL)]
    pinterest_oauth_url: String,
    /// Pinterest's API base.
    #[arg(long, env = "PINTEREST_API_URL", default_value = pinion_service::DEFAULT_PINTEREST_API_URL)]
    pub(crate) pinterest_api_url: String,
    /// The URL browsers reach `pinion serve` at; the callback is under it.
    #[arg(
        long,
        env = "PINION_PUBLIC_URL",
        default_value = pinion_service::DEFAULT_PUBLIC_URL
    )]
    public_url: String,
}

impl PinterestArgs {
    /// The settings these flags give, for [`StoreArgs::open`].
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings =
            Settings::new(pinion_server::Settings::parse_public_url(&self.public_url)?);
        settings.pinterest_oauth_url = self.pinterest_oauth_url.clone();
        settings.pinterest_api_url = self.pinterest_api_url.clone();
        Ok(settings)
    }
}

/// `pinion credentials authorize`
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The credential's id (`cred_…`).
    id: String,
    /// Open the URL in the default browser.
    #[arg(long)]
    open: bool,
    /// Print the URL and return without waiting.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    pinterest: PinterestArgs,
}

/// `pinion credentials check` and `refresh`
#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// The credential's id (`cred_…`).
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pinterest: PinterestArgs,
}

/// How the client secret is supplied.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct SecretSource {
    /// Read the client secret from stdin (a hidden prompt on a terminal).
    #[arg(long)]
    client_secret_stdin: bool,
    /// Read the client secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    client_secret_env: Option<String>,
}

impl SecretSource {
    fn read(&self) -> Result<Option<ClientSecret>, Failure> {
        if self.client_secret_stdin {
            return read_secret_from_stdin().map(Some);
        }
        if let Some(var) = &self.client_secret_env {
            return match std::env::var(var) {
                Ok(value) => Ok(Some(ClientSecret::new(value))),
                Err(std::env::VarError::NotPresent) => Err(FieldError::new(
                    "client_secret",
                    format!("environment variable {var} is not set"),
                )
                .into()),
                Err(std::env::VarError::NotUnicode(_)) => Err(FieldError::new(
                    "client_secret",
                    format!("environment variable {var} is not valid UTF-8"),
                )
                .into()),
            };
        }
        Ok(None)
    }
}

fn read_secret_from_stdin() -> Result<ClientSecret, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let secret = rpassword::prompt_password("Client secret: ")
            .context("cannot read the client secret from the terminal")?;
        return Ok(ClientSecret::new(secret));
    }
    let mut line = Vec::new();
    stdin
        .lock()
        .read_until(b'\n', &mut line)
        .context("cannot read the client secret from stdin")?;
    let text = String::from_utf8(line)
        .map_err(|_| Failure::from(FieldError::new("client_secret", "must be valid UTF-8")))?;
    Ok(ClientSecret::new(text))
}

/// `pinion credentials create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The Pinion user who owns the credential.
    #[arg(long, value_parser = Utf8Text)]
    owner: String,
    /// Credential Name, unique per owner (1 to 100 characters).
    #[arg(long, value_parser = Utf8Text)]
    name: String,
    /// Credential Description (up to 1,000 characters).
    #[arg(long, value_parser = Utf8Text)]
    description: Option<String>,
    /// The Client ID (App ID) of the user's Pinterest app.
    #[arg(long, value_parser = Utf8Text)]
    client_id: String,
    #[command(flatten)]
    secret: SecretSource,
    /// Access Scope, comma or space separated.
    #[arg(long, default_value = ScopeSet::DEFAULT_TEXT, value_parser = Utf8Text)]
    scopes: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion credentials list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this user's credentials (default: every credential).
    #[arg(long, value_parser = Utf8Text)]
    owner: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion credentials show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The credential's id (`cred_…`).
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion credentials update`
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The credential's id (`cred_…`).
    id: String,
    /// A new name.
    #[arg(long, value_parser = Utf8Text)]
    name: Option<String>,
    /// A new description; an empty value clears it.
    #[arg(long, value_parser = Utf8Text)]
    description: Option<String>,
    /// A new Client ID; the credential then needs authorization again.
    #[arg(long, value_parser = Utf8Text)]
    client_id: Option<String>,
    #[command(flatten)]
    secret: SecretSource,
    /// New requested scopes; they apply at the next authorization.
    #[arg(long, value_parser = Utf8Text)]
    scopes: Option<String>,
    /// How fast Pinion calls Pinterest with this credential: `standard`,
    /// `trial`, a number of requests a minute in every rate-limit category
    /// such as `600/min`, or `unlimited`.
    #[arg(long, value_parser = Utf8Text)]
    rate_limit: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion credentials delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The credential's id (`cred_…`).
    id: String,
}

/// `pinion credentials scopes`
#[derive(Debug, Args)]
pub struct ScopesArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl CredentialsCommand {
    /// Runs the command as the operator.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let settings = match &self {
            CredentialsCommand::Scopes(args) => return print_scopes(args.json),
            CredentialsCommand::Authorize(args) => args.pinterest.settings()?,
            CredentialsCommand::Check(args) | CredentialsCommand::Refresh(args) => {
                args.pinterest.settings()?
            }
            _ => Settings::new(
                url::Url::parse(pinion_service::DEFAULT_PUBLIC_URL).map_err(anyhow::Error::from)?,
            ),
        };
        let pinion = store_args.open(settings).await?;
        let result = self.run_on(&pinion).await;
        pinion.close().await;
        result
    }

    async fn run_on(self, pinion: &Pinion) -> CommandResult {
        let operator = Actor::Operator;
        match self {
            CredentialsCommand::Create(args) => {
                let secret = args.secret.read()?;
                let owner = pinion
                    .users
                    .by_username(Actor::Operator, &args.owner)
                    .await
                    .map_err(owner_error)?;
                let input = CredentialInput {
                    name: args.name,
                    description: args.description,
                    client_id: args.client_id,
                    client_secret: secret,
                    scopes: Some(args.scopes),
                };
                let record = pinion
                    .credentials
                    .create(&operator, &owner.id, &input)
                    .await?;
                print_credential(&record, args.json, "Created")
            }
            CredentialsCommand::List(args) => {
                let records = match &args.owner {
                    Some(owner) => {
                        let owner = pinion
                            .users
                            .by_username(Actor::Operator, owner)
                            .await
                            .map_err(owner_error)?;
                        pinion
                            .credentials
                            .list_owned_by(&operator, &owner.id)
                            .await?
                    }
                    None => pinion.credentials.list_all(&operator).await?,
                };
                if args.json {
                    output::print_json(&records)?;
                } else {
                    print_credentials(&records);
                }
                Ok(())
            }
            CredentialsCommand::Show(args) => {
                let record = local_credential(pinion, "id", &args.id).await?;
                print_credential(&record, args.json, "")
            }
            CredentialsCommand::Update(args) => {
                let secret = args.secret.read()?;
                let id = credential_id("id", &args.id)?;
                let patch = CredentialPatchInput {
                    name: args.name,
                    description: args.description,
                    client_id: args.client_id,
                    client_secret: secret,
                    scopes: args.scopes,
                    rate_tier: args.rate_limit,
                };
                let updated = pinion
                    .credentials
                    .update(&operator, &id, &patch)
                    .await
                    .map_err(|err| not_found(err, &id))?;
                print_credential(&updated, args.json, "Updated")
            }
            CredentialsCommand::Delete(args) => {
                let id = credential_id("id", &args.id)?;
                let record = pinion
                    .credentials
                    .delete(&operator, &id)
                    .await
                    .map_err(|err| not_found(err, &id))?;
                println!(
                    "Deleted credential {} ({}) and its tokens.",
                    record.id, record.name
                );
                Ok(())
            }
            CredentialsCommand::Scopes(args) => print_scopes(args.json),
            CredentialsCommand::Authorize(args) => authorize(pinion, args).await,
            CredentialsCommand::Check(args) => {
                let id = credential_id("id", &args.id)?;
                let report = pinion
                    .lifecycle
                    .check(&operator, &id)
                    .await
                    .map_err(|err| not_found(err, &id))?;
                if args.json {
                    output::print_json(&report)?;
                } else {
                    output::print_fields(&[
                        ("OK", report.ok.to_string()),
                        ("Status", report.status.as_str().to_owned()),
                        (
                            "Account",
                            report
                                .account_username
                                .clone()
                                .unwrap_or_else(|| "-".into()),
                        ),
                        ("Granted scopes", report.granted_scopes.join(" ")),
                        (
                            "Access token expires",
                            output::time(report.access_token_expires_at),
                        ),
                        (
                            "Refresh token expires",
                            output::time(report.refresh_token_expires_at),
                        ),
                        ("Error", report.error.clone().unwrap_or_else(|| "-".into())),
                        (
                            "Checked",
                            if report.cached {
                                format!(
                                    "{} (a recent check, reused: checks within {} s of the last one are not sent to Pinterest again)",
                                    output::time(Some(report.checked_at)),
                                    pinion_service::CHECK_REUSE.as_secs()
                                )
                            } else {
                                output::time(Some(report.checked_at))
                            },
                        ),
                    ]);
                }
                if report.ok {
                    Ok(())
                } else {
                    Err(Failure::Other(anyhow::anyhow!("the check failed")))
                }
            }
            CredentialsCommand::Refresh(args) => {
                let id = credential_id("id", &args.id)?;
                match pinion
                    .lifecycle
                    .refresh(&operator, &id)
                    .await
                    .map_err(|err| not_found(err, &id))?
                {
                    Ok(credential) => print_credential(&credential, args.json, "Refreshed"),
                    Err(err) => Err(Failure::Other(err.into())),
                }
            }
        }
    }
}

/// Starts a flow as the operator, prints the URL, and polls the store until
/// `pinion serve` completes or fails it (or it expires).
async fn authorize(pinion: &Pinion, args: AuthorizeArgs) -> CommandResult {
    let id = credential_id("id", &args.id)?;
    let started = pinion
        .authorizations
        .start(Actor::Operator, &id, None)
        .await
        .map_err(|err| not_found(err, &id))?;
    let record = local_credential(pinion, "id", &args.id).await?;
    println!(
        "Open this URL to authorize {} ({}):",
        record.id, record.name
    );
    println!("{}", started.url.as_str());
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(err) = std::process::Command::new(opener)
            .arg(started.url.as_str())
            .spawn()
        {
            eprintln!("Could not open a browser ({err}); open the URL yourself.");
        }
    }
    if args.no_wait {
        return Ok(());
    }
    eprintln!(
        "Waiting for the authorization (until {})...",
        output::time(Some(started.expires_at))
    );
    loop {
        let flow = pinion.authorizations.flow(&started.flow_id).await?;
        match flow.outcome {
            Some(FlowOutcome::Completed) => {
                println!("{}", flow.message.unwrap_or_else(|| "authorized".into()));
                return Ok(());
            }
            Some(FlowOutcome::Failed) => {
                return Err(Failure::Other(anyhow::anyhow!(
                    "{}",
                    flow.message
                        .unwrap_or_else(|| "the authorization failed".into())
                )));
            }
            None if pinion.settings().clock.now()
                > flow.expires_at + chrono::Duration::seconds(30) =>
            {
                return Err(Failure::Other(anyhow::anyhow!(
                    "the authorization expired without a callback; is `pinion serve` running at {}?",
                    args.pinterest.public_url
                )));
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

/// The credential id given in flag `field`: a malformed one is invalid
/// input naming that flag.
pub(crate) fn credential_id(field: &'static str, id: &str) -> Result<CredentialId, Failure> {
    id.parse().map_err(|_: FieldError| {
        Failure::from(FieldError::new(
            field,
            format!("`{id}` is not a credential id (expected `cred_` and 32 hex digits)"),
        ))
    })
}

/// "credential … not found" for an unknown id, as the CLI has always said.
fn not_found(err: ServiceError, id: &CredentialId) -> Failure {
    match err {
        ServiceError::NotFound { .. } => {
            Failure::Other(anyhow::anyhow!("credential {id} not found"))
        }
        other => other.into(),
    }
}

/// Loads a credential as the operator, who may address any credential by
/// id: a malformed id is invalid input naming flag `field`, an unknown one
/// is "not found".
pub(crate) async fn local_credential(
    pinion: &Pinion,
    field: &'static str,
    id: &str,
) -> Result<Credential, Failure> {
    let id = credential_id(field, id)?;
    pinion
        .credentials
        .get(Actor::Operator, &id)
        .await
        .map_err(|err| not_found(err, &id))
}

fn owner_error(err: ServiceError) -> Failure {
    match err {
        ServiceError::NotFound { .. } => Failure::from(FieldError::new(
            "owner",
            "no such user (create one with `pinion users create --username NAME`)",
        )),
        other => other.into(),
    }
}

fn print_scopes(json: bool) -> CommandResult {
    if json {
        let scopes: Vec<_> = Scope::ALL
            .iter()
            .map(|s| serde_json::json!({"scope": s.as_str(), "description": s.description()}))
            .collect();
        output::print_json(&scopes)?;
    } else {
        let rows: Vec<Vec<String>> = Scope::ALL
            .iter()
            .map(|s| vec![s.as_str().to_owned(), s.description().to_owned()])
            .collect();
        output::print_table(&["SCOPE", "ALLOWS"], &rows);
    }
    Ok(())
}

fn print_credential(record: &Credential, json: bool, verb: &str) -> CommandResult {
    if json {
        output::print_json(record)?;
        return Ok(());
    }
    if !verb.is_empty() {
        println!("{verb} credential {}.", record.id);
    }
    output::print_fields(&[
        ("id", record.id.to_string()),
        ("name", record.name.to_string()),
        (
            "description",
            record
                .description
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_else(|| "-".into()),
        ),
        ("provider", record.provider.clone()),
        ("client id", record.client_id.to_string()),
        (
            "client secret",
            if record.client_secret_set {
                "set"
            } else {
                "not set"
            }
            .into(),
        ),
        ("scopes", record.scopes.to_comma_separated()),
        ("rate limit", record.rate_tier.to_string()),
        (
            "granted scopes",
            record
                .granted_scopes
                .as_ref()
                .map(ScopeSet::to_comma_separated)
                .unwrap_or_else(|| "-".into()),
        ),
        ("status", record.status.label().to_owned()),
        (
            "access expires",
            output::time(record.access_token_expires_at),
        ),
        (
            "refresh expires",
            output::time(record.refresh_token_expires_at),
        ),
        ("last refreshed", output::time(record.last_refreshed_at)),
        ("last checked", output::time(record.last_checked_at)),
        (
            "last error",
            record.last_error.clone().unwrap_or_else(|| "-".into()),
        ),
        ("created", output::time(Some(record.created_at))),
        ("updated", output::time(Some(record.updated_at))),
    ]);
    Ok(())
}

fn print_credentials(records: &[Credential]) {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.name.to_string(),
                r.status.label().to_owned(),
                r.scopes.to_comma_separated(),
                output::time(r.access_token_expires_at),
            ]
        })
        .collect();
    output::print_table(&["ID", "NAME", "STATUS", "SCOPES", "ACCESS EXPIRES"], &rows);
}
