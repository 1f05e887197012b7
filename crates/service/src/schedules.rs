//! Schedules (issue 14): a source runs by itself every N minutes or hours,
//! or on a cron expression in a time zone, and is set, changed, paused and
//! resumed here by its owner or the operator.
//!
//! **One run per slot, across replicas.** Every `pinion serve` runs
//! [`Schedules::run_until_stopped`], which every [`SCHEDULER_TICK`] lists
//! the due schedules and takes each slot with one conditional `UPDATE`
//! (`ScheduleStore::take_schedule_slot`): the replica whose update moved
//! `next_run_at` on starts the run, the others see it moved and do nothing.
//!
//! **Missed slots run once.** The slot after a taken one is the first slot
//! strictly after *now* ([`Cadence::following`]), so a schedule that missed
//! many slots while every replica was down runs once when one is back.
//!
//! **No overlap.** A slot whose source still has a run queued or running
//! starts nothing and says so in the schedule's note; the database refuses
//! a second unfinished run of one source whichever process starts it
//! (`runs_one_unfinished_per_source`).
//!
//! Scheduled runs run as the source's owner, exactly as if they had pressed
//! Run.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinion_domain::record::{ScheduleRecord, SourceRecord};
use pinion_domain::schedule::{Cadence, format_interval};
use pinion_domain::{Clock, FieldError, RunId, SourceId, ValidationErrors};
use pinion_store::Store;
use serde::Serialize;

use crate::activity::Actor;
use crate::{Runs, ServiceError};

/// How often each replica looks for due schedules. A slot starts within
/// about this long (plus up to [`TICK_JITTER`]) of its time.
pub const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// The most each tick waits on top of [`SCHEDULER_TICK`], so replicas
/// started together do not query in step.
const TICK_JITTER: Duration = Duration::from_millis(250);

/// The most due schedules one tick takes; the rest wait for the next tick.
const DUE_BATCH: u32 = 200;

/// The shortest interval a schedule may have unless the operator allows
/// less (`pinion serve --min-schedule-interval`).
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// A schedule as typed in a form or sent to the API: either `every` (an
/// interval such as `15m`) or `cron` with an optional `time_zone`.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// `90s`, `15m`, `2h`, `1d`, `1h30m`.
    pub every: Option<String>,
    /// A five-field cron expression.
    pub cron: Option<String>,
    /// The IANA zone the cron expression is read in; UTC when absent.
    pub time_zone: Option<String>,
}

/// A source's schedule as the adapters show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The scheduled source.
    pub source_id: SourceId,
    /// The interval (`15m`), for an interval schedule.
    pub every: Option<String>,
    /// The cron expression, for a cron schedule.
    pub cron: Option<String>,
    /// The zone the cron expression is read in (`UTC` for intervals).
    pub time_zone: String,
    /// The cadence for people: `every 15m`, `0 6 * * * (Europe/Paris)`.
    pub description: String,
    /// True while paused.
    pub paused: bool,
    /// When the next run is due; `None` while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When a slot was last taken.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The run the last slot started.
    pub last_run_id: Option<String>,
    /// Why the last slot started no run, when it did not.
    pub last_note: Option<String>,
}

impl Schedule {
    fn from_record(record: ScheduleRecord) -> Self {
        let cadence = Cadence::from_stored(
            record.every_seconds,
            record.cron.as_deref(),
            &record.time_zone,
        );
        let description = match &cadence {
            Ok(cadence) => cadence.describe(),
            Err(err) => format!("unreadable schedule: {err}"),
        };
        Self {
            source_id: record.source_id,
            every: record
                .every_seconds
                .map(|seconds| format_interval(Duration::from_secs(seconds.max(0) as u64))),
            cron: record.cron,
            time_zone: record.time_zone,
            description,
            paused: record.paused,
            next_run_at: record.next_run_at,
            last_fired_at: record.last_fired_at,
            last_run_id: record.last_run_id.map(|id| id.as_str().to_owned()),
            last_note: record.last_note,
        }
    }
}

/// Schedules and the scheduler.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The schedules and their slots.
    store: Arc<dyn pinion_store::ScheduleStore>,
    /// Sources, read to check who manages one.
    sources: Arc<dyn pinion_store::WebStateStore>,
    /// Users, read to run a due slot as its source's owner.
    users: Arc<dyn pinion_store::UserStore>,
    runs: Runs,
    clock: Arc<dyn Clock>,
    min_interval: Duration,
}

impl Schedules {
    /// Schedules on `store` that start runs through `runs`, refusing
    /// intervals shorter than `min_interval`.
    pub fn new(
        store: Arc<dyn Store>,
        runs: Runs,
        clock: Arc<dyn Clock>,
        min_interval: Duration,
    ) -> Self {
        Self {
            sources: store.clone(),
            users: store.clone(),
            store,
            runs,
            clock,
            min_interval,
        }
    }

    /// The source `id` if `actor` manages it (its owner, the operator);
    /// otherwise `NotFound`, as for an unknown id.
    async fn managed_source(
        &self,
        actor: &Actor,
        id: &SourceId,
    ) -> Result<SourceRecord, ServiceError> {
        match self.sources.get_source(id).await {
            Ok(source) if actor.manages(&source.owner) => Ok(source),
            Ok(_) | Err(pinion_store::StoreError::NotFound { .. }) => {
                Err(ServiceError::NotFound { what: "source" })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Parses and checks `input` against the shortest interval allowed.
    fn cadence(&self, input: &ScheduleInput) -> Result<Cadence, ServiceError> {
        let blank = |text: &Option<String>| text.as_deref().is_none_or(|t| t.trim().is_empty());
        let cadence = match (blank(&input.every), blank(&input.cron)) {
            (false, false) => {
                return Err(FieldError::new(
                    "every",
                    "give either an interval (`every`) or a cron expression (`cron`), not both",
                )
                .into());
            }
            (true, true) => {
                return Err(FieldError::new(
                    "every",
                    "give an interval such as `15m` (`every`) or a cron expression (`cron`)",
                )
                .into());
            }
            (false, true) => {
                if !blank(&input.time_zone) {
                    return Err(FieldError::new(
                        "time_zone",
                        "only a cron schedule has a time zone; an interval counts from when it is set",
                    )
                    .into());
                }
                Cadence::every(input.every.as_deref().unwrap_or_default())?
            }
            (true, false) => Cadence::cron(
                input.cron.as_deref().unwrap_or_default(),
                input.time_zone.as_deref().unwrap_or_default(),
            )
            .map_err(ValidationErrors)?,
        };
        let field = if cadence.every_seconds().is_some() {
            "every"
        } else {
            "cron"
        };
        if let Some(gap) = cadence.shortest_gap(self.clock.now())
            && gap < self.min_interval
        {
            return Err(FieldError::new(
                field,
                format!(
                    "runs more often than this server allows: at most once every {}",
                    format_interval(self.min_interval)
                ),
            )
            .into());
        }
        Ok(cadence)
    }

    /// Sets or changes the schedule of source `id`. The first run is one
    /// interval from now, or the cron expression's next match. A paused
    /// schedule stays paused.
    #[tracing::instrument(skip_all, fields(source_id = %id))]
    pub async fn set(
        &self,
        actor: impl Into<Actor>,
        id: &SourceId,
        input: &ScheduleInput,
    ) -> Result<Schedule, ServiceError> {
        let actor = actor.into();
        let source = self.managed_source(&actor, id).await?;
        let cadence = self.cadence(input)?;
        let now = self.clock.now();
        let paused = self
            .store
            .get_schedule(&source.id)
            .await?
            .is_some_and(|existing| existing.paused);
        let next_run_at = if paused {
            None
        } else {
            Some(first_slot(&cadence, now)?)
        };
        let record = ScheduleRecord {
            source_id: source.id.clone(),
            owner: source.owner.clone(),
            every_seconds: cadence.every_seconds(),
            cron: cadence.cron_expression().map(str::to_owned),
            time_zone: cadence.time_zone().name().to_owned(),
            paused,
            next_run_at,
            last_fired_at: None,
            last_run_id: None,
            last_note: None,
            updated_at: now,
        };
        let stored = self.store.put_schedule(&record).await?;
        tracing::info!(actor = actor.name(), schedule = %cadence.describe(), "Set a schedule.");
        Ok(Schedule::from_record(stored))
    }

    /// The schedule of source `id`, `None` when it runs only on demand.
    pub async fn get(
        &self,
        actor: impl Into<Actor>,
        id: &SourceId,
    ) -> Result<Option<Schedule>, ServiceError> {
        let source = self.managed_source(&actor.into(), id).await?;
        Ok(self
            .store
            .get_schedule(&source.id)
            .await?
            .map(Schedule::from_record))
    }

    /// The schedules of `actor`'s sources.
    pub async fn list(&self, actor: &pinion_domain::User) -> Result<Vec<Schedule>, ServiceError> {
        Ok(self
            .store
            .schedules_of(&actor.id)
            .await?
            .into_iter()
            .map(Schedule::from_record)
            .collect())
    }

    /// Removes the schedule of source `id`: it runs only on demand again.
    /// `NotFound` on `schedule` when it had none.
    #[tracing::instrument(skip_all, fields(source_id = %id))]
    pub async fn remove(&self, actor: impl Into<Actor>, id: &SourceId) -> Result<(), ServiceError> {
        let source = self.managed_source(&actor.into(), id).await?;
        if !self.store.delete_schedule(&source.id).await? {
            return Err(ServiceError::NotFound { what: "schedule" });
        }
        tracing::info!("Removed a schedule.");
        Ok(())
    }

    /// Pauses the schedule of source `id`: no slot runs until it is resumed.
    /// A source with no schedule is a `Conflict` on `schedule`.
    #[tracing::instrument(skip_all, fields(source_id = %id))]
    pub async fn pause(
        &self,
        actor: impl Into<Actor>,
        id: &SourceId,
    ) -> Result<Schedule, ServiceError> {
        self.set_paused(actor.into(), id, true).await
    }

    /// Resumes the schedule of source `id`. Slots missed while paused do not
    /// run: the next run is the first slot after now.
    #[tracing::instrument(skip_all, fields(source_id = %id))]
    pub async fn resume(
        &self,
        actor: impl Into<Actor>,
        id: &SourceId,
    ) -> Result<Schedule, ServiceError> {
        self.set_paused(actor.into(), id, false).await
    }

    async fn set_paused(
        &self,
        actor: Actor,
        id: &SourceId,
        paused: bool,
    ) -> Result<Schedule, ServiceError> {
        let source = self.managed_source(&actor, id).await?;
        // The source is there; what it lacks is a schedule to act on.
        let Some(existing) = self.store.get_schedule(&source.id).await? else {
            return Err(ServiceError::Conflict {
                field: "schedule",
                message: format!(
                    "this source has no schedule to {}; set one first",
                    if paused { "pause" } else { "resume" }
                ),
            });
        };
        let next_run_at = if paused {
            None
        } else if !existing.paused {
            // Already running on its schedule: keep its next slot.
            existing.next_run_at
        } else {
            let cadence = stored_cadence(&existing)?;
            Some(first_slot(&cadence, self.clock.now())?)
        };
        self.store
            .set_schedule_paused(&source.id, paused, next_run_at)
            .await?;
        tracing::info!(
            actor = actor.name(),
            paused,
            "{}",
            if paused {
                "Paused a schedule."
            } else {
                "Resumed a schedule."
            }
        );
        self.store
            .get_schedule(&source.id)
            .await?
            .map(Schedule::from_record)
            .ok_or(ServiceError::NotFound { what: "schedule" })
    }

    /// Takes every slot due now that no other replica took first and starts
    /// its run; returns how many runs this call started.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut started = 0;
        for schedule in self.store.due_schedules(now, DUE_BATCH).await? {
            let Some(due) = schedule.next_run_at else {
                continue;
            };
            let source_id = &schedule.source_id;
            let next = match stored_cadence(&schedule).map(|cadence| cadence.following(due, now)) {
                Ok(Some(next)) => next,
                Ok(None) | Err(_) => {
                    // Nothing left to run (or unreadable): pause it and say
                    // why rather than look at it every tick.
                    tracing::warn!(%source_id, "A schedule has no next slot; pausing it.");
                    self.store
                        .set_schedule_paused(source_id, true, None)
                        .await?;
                    self.store
                        .note_schedule_slot(
                            source_id,
                            None,
                            Some("Paused: the schedule has no next run time; set it again."),
                        )
                        .await?;
                    continue;
                }
            };
            if !self
                .store
                .take_schedule_slot(source_id, due, next, now)
                .await?
            {
                // Another replica took this slot, or the schedule changed.
                continue;
            }
            let (run_id, note) = match self.start(&schedule, due).await {
                Ok(run_id) => {
                    started += 1;
                    (Some(run_id), None)
                }
                Err(note) => (None, Some(note)),
            };
            if let Some(note) = &note {
                tracing::info!(%source_id, slot = %due.to_rfc3339(), note = %note, "A scheduled slot started no run.");
            }
            self.store
                .note_schedule_slot(source_id, run_id.as_ref(), note.as_deref())
                .await?;
        }
        Ok(started)
    }

    /// Starts the run of a slot just taken, as the source's owner; a note
    /// for people when none starts.
    async fn start(&self, schedule: &ScheduleRecord, slot: DateTime<Utc>) -> Result<RunId, String> {
        let owner = match self.users.get_user(&schedule.owner).await {
            Ok(owner) => owner,
            Err(err) => {
                return Err(format!(
                    "Skipped: the source's owner could not be read ({err})."
                ));
            }
        };
        match self.runs.start(&owner, &schedule.source_id).await {
            Ok(run) => {
                tracing::info!(
                    source_id = %schedule.source_id,
                    slot = %slot.to_rfc3339(),
                    run_id = %run.id,
                    "Started a scheduled run."
                );
                Ok(run.id)
            }
            Err(ServiceError::Conflict { .. }) => {
                Err("Skipped: the previous run was still going.".to_owned())
            }
            Err(err) => Err(format!("Skipped: the run could not start ({err}).")),
        }
    }

    /// Ticks every [`SCHEDULER_TICK`] until `stop` completes.
    pub async fn run_until_stopped(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.tick().await {
                Ok(0) => {}
                Ok(started) => tracing::debug!(started, "Started scheduled runs."),
                Err(err) => tracing::warn!(error = %err, "Could not look for due schedules."),
            }
            let jitter = Duration::from_millis(
                rand::random::<u64>() % (TICK_JITTER.as_millis() as u64).max(1),
            );
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(SCHEDULER_TICK + jitter) => {}
            }
        }
    }
}

/// The cadence of a stored schedule.
fn stored_cadence(record: &ScheduleRecord) -> Result<Cadence, ServiceError> {
    Cadence::from_stored(
        record.every_seconds,
        record.cron.as_deref(),
        &record.time_zone,
    )
    .map_err(|err| ServiceError::internal("a stored schedule is unreadable", err.to_string()))
}

/// The first slot of `cadence` after `now`.
fn first_slot(cadence: &Cadence, now: DateTime<Utc>) -> Result<DateTime<Utc>, ServiceError> {
    cadence
        .first_after(now)
        .ok_or_else(|| FieldError::new("cron", "has no future match").into())
}
