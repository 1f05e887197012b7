//! Publishing pins from a destination's page (issue 15): one pin typed in a
//! form, or many uploaded as JSON Lines or CSV, created on the
//! destination's board with its credential through the sync engine's
//! publisher (`pinion_sync::publish`), the same code and the same ledger as
//! `pinion publish --credential … --board …`: a row the ledger has as
//! created (from this page or the CLI, keyed by the row's `key` or a hash of
//! the row) is reported "already published" and never created twice.
//!
//! Every row's outcome (the created pin's id, the reasons a row was
//! refused, "already published") is returned and kept with the publish's
//! counts in the destination's history; the rows' content is not kept.
//! An upload holds at most [`MAX_PUBLISH_ROWS`] rows, which Pinterest's
//! standard `org_write` budget (100 a minute) creates within the request's
//! time; `pinion publish` takes files of any size. Rows are written to a
//! private temporary folder for the publisher, removed afterwards whatever
//! happens. The publish runs in a task of its own, so a browser that goes
//! away (or a request that times out) does not cut it short: it finishes,
//! and its outcome is in the destination's history.

use std::sync::Arc;

use pinion_domain::record::PublishRecord;
use pinion_domain::{DestinationId, FieldError, PublishId, Scope, User, ValidationErrors};
use pinion_pinterest::PinterestClient;
use pinion_sync::publish::{DEFAULT_SETTLE, PublishError, PublishOptions, RowResult};
use serde_json::{Map, Value};

use crate::{Destinations, ServiceError};

/// Rows one upload may hold.
pub const MAX_PUBLISH_ROWS: usize = 100;

/// The scopes `POST /v5/pins` needs.
const PIN_CREATE_SCOPES: &[Scope] = &[
    Scope::BoardsRead,
    Scope::BoardsWrite,
    Scope::PinsRead,
    Scope::PinsWrite,
];

/// Publishes listed on a destination's page.
pub const PUBLISHES_LISTED: u32 = 20;

/// The columns a CSV upload may have (a header row names them).
pub const CSV_COLUMNS: &[&str] = &[
    "title",
    "description",
    "link",
    "alt_text",
    "image_url",
    "board_section_id",
    "key",
];

/// One pin as typed in the form.
#[derive(Debug, Clone, Default)]
pub struct PinFields {
    /// Title, at most 100 characters.
    pub title: String,
    /// Description, at most 800 characters.
    pub description: String,
    /// The link the pin leads to (http or https).
    pub link: String,
    /// Alternative text of the image, at most 500 characters.
    pub alt_text: String,
    /// The image's address (http or https); Pinterest fetches it.
    pub image_url: String,
}

/// What to publish.
#[derive(Debug, Clone)]
pub enum PublishInput {
    /// One pin from the form.
    Form(PinFields),
    /// One JSON object per line (`title`, `description`, `link`,
    /// `alt_text`, `image_url`, `board_section_id`, `key`).
    Jsonl(String),
    /// A header row naming columns from [`CSV_COLUMNS`], then one pin per
    /// row.
    Csv(String),
}

/// A publish's record with its rows' outcomes parsed.
#[derive(Debug, Clone)]
pub struct Published {
    /// The record kept in the destination's history.
    pub record: PublishRecord,
    /// Each row's outcome, by line (for CSV, line 1 is the first row after
    /// the header).
    pub rows: Vec<RowResult>,
}

fn too_many(rows: usize) -> ServiceError {
    ValidationErrors(vec![FieldError::new(
        "rows",
        format!("{rows} rows is more than {MAX_PUBLISH_ROWS} in one upload; split the file"),
    )])
    .into()
}

/// The input as JSON Lines for the publisher, every row aimed at `board`.
/// A line that is not a JSON object is passed on as it is, so the publisher
/// refuses it with its reason and line number.
pub fn rows_of(input: &PublishInput, board: &str) -> Result<Vec<String>, ServiceError> {
    let aim = |mut row: Map<String, Value>| {
        row.insert("board_id".to_owned(), Value::String(board.to_owned()));
        Value::Object(row).to_string()
    };
    let rows = match input {
        PublishInput::Form(pin) => {
            let mut row = Map::new();
            for (name, value) in [
                ("title", &pin.title),
                ("description", &pin.description),
                ("link", &pin.link),
                ("alt_text", &pin.alt_text),
                ("image_url", &pin.image_url),
            ] {
                if !value.trim().is_empty() {
                    row.insert(name.to_owned(), Value::String(value.trim().to_owned()));
                }
            }
            if pin.image_url.trim().is_empty() {
                return Err(ValidationErrors(vec![FieldError::new(
                    "image_url",
                    "is required: the address of the pin's image",
                )])
                .into());
            }
            vec![aim(row)]
        }
        PublishInput::Jsonl(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let count = lines.iter().filter(|l| !l.trim().is_empty()).count();
            if count > MAX_PUBLISH_ROWS {
                return Err(too_many(count));
            }
            if count == 0 {
                return Err(no_rows());
            }
            // Blank lines stay (the publisher skips them), so each row keeps
            // its line number in the user's file.
            lines
                .into_iter()
                .map(|line| match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(row)) => aim(row),
                    _ if line.trim().is_empty() => String::new(),
                    _ => line.to_owned(),
                })
                .collect()
        }
        PublishInput::Csv(text) => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(false)
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|err| csv_error("the header row", &err))?
                .clone();
            let unknown: Vec<&str> = headers
                .iter()
                .filter(|h| !CSV_COLUMNS.contains(h))
                .collect();
            if !unknown.is_empty() {
                return Err(ValidationErrors(vec![FieldError::new(
                    "rows",
                    format!(
                        "unknown column(s) {}; the columns are {}",
                        unknown.join(", "),
                        CSV_COLUMNS.join(", ")
                    ),
                )])
                .into());
            }
            if !headers.iter().any(|h| h == "image_url") {
                return Err(ValidationErrors(vec![FieldError::new(
                    "rows",
                    "the header row needs an image_url column",
                )])
                .into());
            }
            let mut rows = Vec::new();
            for (index, record) in reader.records().enumerate() {
                let record =
                    record.map_err(|err| csv_error(&format!("row {}", index + 1), &err))?;
                if rows.len() == MAX_PUBLISH_ROWS {
                    return Err(too_many(MAX_PUBLISH_ROWS + 1));
                }
                let mut row = Map::new();
                for (name, value) in headers.iter().zip(record.iter()) {
                    if !value.is_empty() {
                        row.insert(name.to_owned(), Value::String(value.to_owned()));
                    }
                }
                rows.push(aim(row));
            }
            rows
        }
    };
    if rows.is_empty() {
        return Err(no_rows());
    }
    Ok(rows)
}

fn no_rows() -> ServiceError {
    ValidationErrors(vec![FieldError::new("rows", "holds no rows to publish")]).into()
}

fn csv_error(what: &str, err: &csv::Error) -> ServiceError {
    ValidationErrors(vec![FieldError::new(
        "rows",
        format!("{what} is not valid CSV: {err}"),
    )])
    .into()
}

/// Writes `rows` to a private temporary folder (removed when done, or
/// when this is dropped) and publishes them.
async fn publish_rows(
    client: &PinterestClient,
    ledger: &dyn pinion_store::SyncStateStore,
    rows: Vec<String>,
    mut options: PublishOptions,
) -> Result<pinion_sync::publish::PublishReport, PublishError> {
    let io = |action: &'static str, path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| PublishError::Io {
            action,
            path,
            source,
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("pinion-publish-")
        .tempdir()
        .map_err(io("create", &std::env::temp_dir()))?;
    let input = dir.path().join("rows.jsonl");
    tokio::fs::write(&input, rows.join("\n") + "\n")
        .await
        .map_err(io("write", &input))?;
    options.reject_file = Some(dir.path().join("rejects.jsonl"));
    pinion_sync::publish::publish_pins(client, ledger, &input, &options).await
}

impl Destinations {
    /// Publishes `input` to `actor`'s destination `id` with its credential;
    /// every row's outcome comes back and is kept in the destination's
    /// history. Another user's destination is `NotFound`; a credential
    /// that cannot be used now is `NotAuthorized`; input that is no list of
    /// rows is a validation error on `rows` (or on a form's field).
    #[tracing::instrument(skip_all, fields(actor = %actor.id, destination_id = %id))]
    pub async fn publish(
        &self,
        actor: &User,
        id: &DestinationId,
        input: &PublishInput,
    ) -> Result<Published, ServiceError> {
        let destination = self.get(actor, id).await?;
        let rows = rows_of(input, &destination.board_id)?;
        let credential = self
            .credentials
            .usable_by(actor, &destination.credential_id)
            .await?;
        if crate::credentials::usability(&credential).is_err() {
            return Err(ServiceError::NotAuthorized {
                credential: credential.name.to_string(),
                status: credential.status.as_str(),
            });
        }
        // Creating a pin needs these four (the spec's security of `POST /pins`).
        let granted = credential.granted_scopes.clone().unwrap_or_default();
        let missing: Vec<&str> = PIN_CREATE_SCOPES
            .iter()
            .filter(|scope| !granted.contains(**scope))
            .map(|scope| scope.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ValidationErrors(vec![FieldError::new(
                "credential",
                format!(
                    "the credential \"{}\" was not granted {}, which creating pins needs: add \
                     them to its Access Scope and authorize it again",
                    credential.name,
                    missing.join(", ")
                ),
            )])
            .into());
        }
        let ledger = self.ledger.clone();
        let client = PinterestClient::new(
            crate::paced_for(&self.pinterest, &credential, self.tokens.rates()).await,
            Arc::new(self.tokens.token_source(credential.id.clone())),
        )
        .map_err(|err| ServiceError::upstream("the Pinterest client is misconfigured", err))?;
        let options = PublishOptions {
            namespace: credential.id.to_string(),
            board: Some(destination.board_id.clone()),
            concurrency: 4,
            reject_file: None,
            settle: DEFAULT_SETTLE,
            row_results: true,
            clock: self.tokens.clock(),
        };
        // In a task of its own: finished and recorded even if this request
        // is dropped.
        let this = self.clone();
        let owner = actor.id.clone();
        let credential_name = credential.name.to_string();
        let status = credential.status.as_str();
        let task = tokio::spawn(async move {
            let report = publish_rows(&client, &*ledger, rows, options).await;
            let report = match report {
                Ok(report) => report,
                Err(PublishError::Authorization(err)) => {
                    return Err(ServiceError::NotAuthorized {
                        credential: format!("{credential_name} ({err})"),
                        status,
                    });
                }
                Err(err) => return Err(ServiceError::upstream("the publish failed", err)),
            };
            let record = PublishRecord {
                id: PublishId::generate(),
                destination_id: destination.id.clone(),
                owner,
                created_at: this.tokens.now(),
                rows: report.rows,
                created: report.created + report.reconciled,
                already_published: report.already_published,
                rejected: report.rejected + report.duplicates,
                unfinished: report.unfinished,
                results: serde_json::to_string(&report.row_results).unwrap_or_else(|_| "[]".into()),
            };
            this.store.record_publish(&record).await?;
            Ok::<_, ServiceError>((record, report.row_results))
        });
        let (record, rows) = task
            .await
            .map_err(|err| ServiceError::internal("the publish stopped", err))??;
        tracing::info!(
            publish_id = %record.id,
            rows = record.rows,
            created = record.created,
            rejected = record.rejected,
            "Published pins from a destination's page."
        );
        Ok(Published { record, rows })
    }

    /// The publishes to `actor`'s destination `id`, newest first (at most
    /// [`PUBLISHES_LISTED`]).
    pub async fn publishes(
        &self,
        actor: &User,
        id: &DestinationId,
    ) -> Result<Vec<PublishRecord>, ServiceError> {
        let destination = self.get(actor, id).await?;
        Ok(self
            .store
            .list_publishes(&destination.id, PUBLISHES_LISTED)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_aimed_at_the_destinations_board() {
        let rows = rows_of(
            &PublishInput::Jsonl(
                "{\"title\":\"A\",\"image_url\":\"https://i/a.jpg\",\"board_id\":\"9\"}\n\nnot json\n"
                    .into(),
            ),
            "123",
        )
        .unwrap();
        // The blank line stays, so "not json" is still line 3 of the file.
        assert_eq!(rows.len(), 3);
        let first: Value = serde_json::from_str(&rows[0]).unwrap();
        assert_eq!(first["board_id"], "123");
        assert_eq!(rows[1], "");
        assert_eq!(rows[2], "not json", "left for the publisher to refuse");
    }

    #[test]
    fn csv_rows_become_objects_and_bad_headers_name_the_columns() {
        let rows = rows_of(
            &PublishInput::Csv(
                "title,image_url,link\nA,https://i/a.jpg,\n\"B, quoted\",https://i/b.jpg,https://x\n"
                    .into(),
            ),
            "123",
        )
        .unwrap();
        let second: Value = serde_json::from_str(&rows[1]).unwrap();
        assert_eq!(second["title"], "B, quoted");
        assert_eq!(second["link"], "https://x");
        let first: Value = serde_json::from_str(&rows[0]).unwrap();
        assert!(first.get("link").is_none(), "empty cells are left out");

        let Err(ServiceError::Validation(errors)) =
            rows_of(&PublishInput::Csv("titel,image_url\nA,b\n".into()), "1")
        else {
            panic!("an unknown column is refused");
        };
        assert!(errors.0[0].message.contains("titel"), "{errors:?}");
        let Err(ServiceError::Validation(errors)) =
            rows_of(&PublishInput::Csv("title\nA\n".into()), "1")
        else {
            panic!("image_url is needed");
        };
        assert!(errors.0[0].message.contains("image_url"));
    }

    #[test]
    fn empty_or_oversized_input_and_a_form_without_an_image_are_refused() {
        for input in [
            PublishInput::Jsonl("\n \n".into()),
            PublishInput::Csv("title,image_url\n".into()),
            PublishInput::Jsonl("{}\n".repeat(MAX_PUBLISH_ROWS + 1)),
            PublishInput::Form(PinFields::default()),
        ] {
            assert!(
                matches!(rows_of(&input, "1"), Err(ServiceError::Validation(_))),
                "{input:?}"
            );
        }
    }
}
