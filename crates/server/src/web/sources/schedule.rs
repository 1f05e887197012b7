//! The Schedule part of a source's page (issue 14): when the source runs by
//! itself, its next run, and forms to set, change, pause, resume and remove
//! the schedule.
//!
//! - `POST /sources/{id}/schedule`: sets or changes it (CSRF form: `kind`
//!   `every` or `cron`, with `every`, or `cron` and `time_zone`). A field
//!   in error is shown next to it on the source's page (422) with what was
//!   typed kept.
//! - `POST /sources/{id}/schedule/pause`, `…/resume`, `…/delete`.
//!
//! Another user's source is a 404, as for an unknown id.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pinion_domain::FieldError;
use pinion_domain::record::SourceRecord;
use pinion_service::{Schedule, ScheduleInput, ServiceError};
use serde::Deserialize;

use super::runs::{CsrfForm, SourcePageQuery, render_source};
use crate::AppState;
use crate::web::layout::{field_error, text_field, when};
use crate::web::{Session, WebError};

/// What the schedule form holds: typed values, or the stored schedule's.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleValues {
    /// `every` or `cron`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    every: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    time_zone: String,
}

impl ScheduleValues {
    /// The stored schedule's values; an hourly interval when there is none.
    pub fn from_schedule(schedule: Option<&Schedule>) -> Self {
        match schedule {
            Some(schedule) => Self {
                kind: if schedule.cron.is_some() {
                    "cron"
                } else {
                    "every"
                }
                .to_owned(),
                every: schedule.every.clone().unwrap_or_default(),
                cron: schedule.cron.clone().unwrap_or_default(),
                time_zone: if schedule.cron.is_some() {
                    schedule.time_zone.clone()
                } else {
                    String::new()
                },
            },
            None => Self {
                kind: "every".to_owned(),
                every: "1h".to_owned(),
                ..Self::default()
            },
        }
    }
}

/// The schedule form as sent.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: ScheduleValues,
}

/// The Schedule section of the source's page.
pub fn schedule_section(
    source: &SourceRecord,
    schedule: Option<&Schedule>,
    notice: Option<&str>,
    values: &ScheduleValues,
    errors: &[FieldError],
    csrf: &str,
) -> Markup {
    let action = format!("/sources/{}/schedule", source.id);
    let kind_error = field_error(errors, "kind");
    let notice = match notice {
        Some("saved") => Some("The schedule was saved."),
        Some("paused") => Some("The schedule is paused; no run starts until you resume it."),
        Some("resumed") => Some("The schedule was resumed."),
        Some("removed") => {
            Some("The schedule was removed; the source runs only when you press Run.")
        }
        _ => None,
    };
    html! {
        section class="schedule" aria-labelledby="schedule-title" {
            h2 id="schedule-title" { "Schedule" }
            @if let Some(notice) = notice {
                p class="notice" role="status" { (notice) }
            }
            @match schedule {
                None => p class="hint schedule-state" { "Runs only when you press Run." },
                Some(schedule) if schedule.paused => p class="schedule-state" {
                    "Paused. Runs " (schedule.description) " once resumed."
                },
                Some(schedule) => p class="schedule-state" {
                    "Runs " (schedule.description) ". Next run: "
                    strong class="next-run" { (when(schedule.next_run_at)) } "."
                },
            }
            @if let Some(note) = schedule.and_then(|s| s.last_note.as_deref()) {
                p class="notice" role="status" { "Last scheduled time: " (note) }
            }
            form class="schedule-form" method="post" action=(action) novalidate {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { "Run" }
                    label { input type="radio" name="kind" value="every" checked[values.kind != "cron"]; " Every interval" }
                    label { input type="radio" name="kind" value="cron" checked[values.kind == "cron"]; " On a cron expression" }
                    @if let Some(error) = kind_error { p class="error" { (crate::web::layout::prose(error)) } }
                }
                (text_field("every", "Interval", &values.every, Some("For example 15m, 2h, 1d or 1h30m."), errors))
                (text_field("cron", "Cron expression", &values.cron, Some("Five fields: minute, hour, day of month, month, day of week; for example 0 6 * * 1-5 for 06:00 on weekdays."), errors))
                (text_field("time_zone", "Time zone", &values.time_zone, Some("The zone the cron expression is read in, for example Europe/Paris; UTC when empty."), errors))
                div class="buttons" { button class="primary" type="submit" { "Save schedule" } }
            }
            @if let Some(schedule) = schedule {
                div class="buttons schedule-actions" {
                    @if schedule.paused {
                        form method="post" action={ (action) "/resume" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Resume" }
                        }
                    } @else {
                        form method="post" action={ (action) "/pause" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Pause" }
                        }
                    }
                    form method="post" action={ (action) "/delete" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Remove schedule" }
                    }
                }
            }
        }
    }
}

fn back(source: &SourceRecord, what: &str) -> Response {
    Redirect::to(&format!(
        "/sources/{}?schedule={what}#schedule-title",
        source.id
    ))
    .into_response()
}

/// `POST /sources/{id}/schedule`
pub async fn set(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(&form.csrf)?;
    let source = state.sources.get(&session.user, &id).await?;
    let values = form.values;
    let input = match values.kind.as_str() {
        "cron" => ScheduleInput {
            cron: Some(values.cron.clone()),
            time_zone: Some(values.time_zone.clone()),
            every: None,
        },
        _ => ScheduleInput {
            every: Some(values.every.clone()),
            cron: None,
            time_zone: None,
        },
    };
    match state.schedules.set(&session.user, &source.id, &input).await {
        Ok(_) => Ok(back(&source, "saved")),
        Err(ServiceError::Validation(errors)) => {
            let page = render_source(
                &state,
                &session,
                source,
                &SourcePageQuery::default(),
                Some((values, errors.0)),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /sources/{id}/schedule/pause`
pub async fn pause(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(form.csrf())?;
    let source = state.sources.get(&session.user, &id).await?;
    state.schedules.pause(&session.user, &source.id).await?;
    Ok(back(&source, "paused"))
}

/// `POST /sources/{id}/schedule/resume`
pub async fn resume(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(form.csrf())?;
    let source = state.sources.get(&session.user, &id).await?;
    state.schedules.resume(&session.user, &source.id).await?;
    Ok(back(&source, "resumed"))
}

/// `POST /sources/{id}/schedule/delete`
pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let id = WebError::path_id::<pinion_domain::SourceId>(&id)?;
    session.check_csrf(form.csrf())?;
    let source = state.sources.get(&session.user, &id).await?;
    state.schedules.remove(&session.user, &source.id).await?;
    Ok(back(&source, "removed"))
}
