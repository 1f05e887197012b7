//! `pinion sources`: list a user's data sources and schedule them (issue
//! 14): every interval or on a cron expression in a time zone, paused and
//! resumed. The CLI acts as the operator. A running `pinion serve` (any
//! replica on the same database) starts the scheduled runs.

use clap::{Args, Subcommand};
use pinion_domain::SourceId;
use pinion_service::{Actor, Pinion, Schedule, ScheduleInput, ServiceError};

use super::{CommandResult, Failure, Utf8Text};
use crate::output;
use crate::settings::StoreArgs;

/// `pinion sources …`
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// List a user's sources with their schedules.
    List(ListArgs),
    /// Run a source by itself: every interval, or on a cron expression.
    Schedule(ScheduleArgs),
    /// Stop running a source by itself (it still runs on demand).
    Unschedule(SourceArgs),
    /// Pause a source's schedule; nothing runs until it is resumed.
    Pause(SourceArgs),
    /// Resume a paused schedule from its next slot after now.
    Resume(SourceArgs),
}

/// `pinion sources list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The Pinion user whose sources to list.
    #[arg(long, value_parser = Utf8Text)]
    owner: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion sources schedule`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("cadence").required(true).args(["every", "cron"])))]
pub struct ScheduleArgs {
    /// The source, `src_…`.
    #[arg(value_parser = Utf8Text)]
    source: String,
    /// An interval: `15m`, `2h`, `1d`, `1h30m`.
    #[arg(long, value_parser = Utf8Text)]
    every: Option<String>,
    /// A five-field cron expression, e.g. `0 6 * * 1-5`.
    #[arg(long, value_parser = Utf8Text)]
    cron: Option<String>,
    /// The IANA time zone the cron expression is read in (default UTC).
    #[arg(long, requires = "cron", value_parser = Utf8Text)]
    time_zone: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A command on one source.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The source, `src_…`.
    #[arg(value_parser = Utf8Text)]
    source: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl SourcesCommand {
    /// Runs the command.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let pinion = store_args.open_local().await?;
        let result = self.run_on(&pinion).await;
        pinion.close().await;
        result
    }

    async fn run_on(self, pinion: &Pinion) -> CommandResult {
        match self {
            SourcesCommand::List(args) => {
                let owner = pinion
                    .users
                    .by_username(Actor::Operator, &args.owner)
                    .await
                    .map_err(|err| match err {
                        ServiceError::NotFound { .. } => {
                            Failure::from(pinion_domain::FieldError::new("owner", "no such user"))
                        }
                        other => other.into(),
                    })?;
                let sources = pinion
                    .sources
                    .list_owned_by(Actor::Operator, &owner.id)
                    .await?;
                // One read for every schedule of the owner, not one per source.
                let mut schedules: std::collections::HashMap<_, _> = pinion
                    .schedules
                    .list(&owner)
                    .await?
                    .into_iter()
                    .map(|schedule| (schedule.source_id.clone(), schedule))
                    .collect();
                let mut rows = Vec::new();
                let mut listed = Vec::new();
                for source in sources {
                    let schedule = schedules.remove(&source.id);
                    rows.push(vec![
                        source.id.as_str().to_owned(),
                        source.name.clone(),
                        source.streams.join(","),
                        schedule
                            .as_ref()
                            .map(describe)
                            .unwrap_or_else(|| "on demand".into()),
                        output::time(schedule.as_ref().and_then(|s| s.next_run_at)),
                    ]);
                    listed.push(serde_json::json!({ "source": source, "schedule": schedule }));
                }
                if args.json {
                    output::print_json(&listed)?;
                } else {
                    output::print_table(&["ID", "NAME", "STREAMS", "SCHEDULE", "NEXT RUN"], &rows);
                }
                Ok(())
            }
            SourcesCommand::Schedule(args) => {
                let id = source_id(&args.source)?;
                let input = ScheduleInput {
                    every: args.every,
                    cron: args.cron,
                    time_zone: args.time_zone,
                };
                let schedule = pinion
                    .schedules
                    .set(Actor::Operator, &id, &input)
                    .await
                    .map_err(|err| not_found(err, &args.source))?;
                print(&schedule, args.json)
            }
            SourcesCommand::Unschedule(args) => {
                let id = source_id(&args.source)?;
                pinion
                    .schedules
                    .remove(Actor::Operator, &id)
                    .await
                    .map_err(|err| not_found(err, &args.source))?;
                if args.json {
                    output::print_json(&serde_json::json!({ "source_id": id, "schedule": null }))?;
                } else {
                    println!("Source {id} now runs only on demand.");
                }
                Ok(())
            }
            SourcesCommand::Pause(args) => {
                let id = source_id(&args.source)?;
                let schedule = pinion
                    .schedules
                    .pause(Actor::Operator, &id)
                    .await
                    .map_err(|err| not_found(err, &args.source))?;
                print(&schedule, args.json)
            }
            SourcesCommand::Resume(args) => {
                let id = source_id(&args.source)?;
                let schedule = pinion
                    .schedules
                    .resume(Actor::Operator, &id)
                    .await
                    .map_err(|err| not_found(err, &args.source))?;
                print(&schedule, args.json)
            }
        }
    }
}

fn source_id(text: &str) -> Result<SourceId, Failure> {
    text.trim().parse().map_err(|_| {
        Failure::Other(anyhow::anyhow!(
            "no source `{text}` (list them with `pinion sources list --owner NAME`)"
        ))
    })
}

fn not_found(err: ServiceError, text: &str) -> Failure {
    match err {
        ServiceError::NotFound { what: "schedule" }
        | ServiceError::Conflict {
            field: "schedule", ..
        } => Failure::Other(anyhow::anyhow!(
            "source `{text}` has no schedule (set one with `pinion sources schedule {text} --every 1h`)"
        )),
        ServiceError::NotFound { .. } => Failure::Other(anyhow::anyhow!(
            "no source `{text}` (list them with `pinion sources list --owner NAME`)"
        )),
        other => other.into(),
    }
}

fn describe(schedule: &Schedule) -> String {
    if schedule.paused {
        format!("{} (paused)", schedule.description)
    } else {
        schedule.description.clone()
    }
}

fn print(schedule: &Schedule, json: bool) -> CommandResult {
    if json {
        output::print_json(schedule)?;
    } else {
        output::print_fields(&[
            ("Source", schedule.source_id.as_str().to_owned()),
            ("Schedule", describe(schedule)),
            ("Next run", output::time(schedule.next_run_at)),
            ("Last slot", output::time(schedule.last_fired_at)),
        ]);
    }
    Ok(())
}
