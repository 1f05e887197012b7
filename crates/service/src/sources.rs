//! Data sources (issue 6): which Pinterest streams to read with which
//! credential, and where to write them. Only the owner of a source sees it;
//! a source may only use a credential its creator owns or one shared with
//! them. Running a source belongs to the sync engine.

use std::sync::Arc;

use pinion_domain::{Clock, CredentialId, FieldError, SourceId, SyncMode, User, ValidationErrors};
use pinion_store::{SourceRecord, Store, WebStateStore};

use crate::{Credentials, ServiceError};

/// The streams a Pinterest source can read: `(name, label)`.
pub const STREAMS: &[(&str, &str)] = &[
    ("user_account", "User account"),
    ("boards", "Boards"),
    ("board_sections", "Board sections"),
    ("board_pins", "Board pins"),
    ("pins", "Pins"),
    ("ad_accounts", "Ad accounts"),
];

/// Where a source can write: `(kind, label)`.
pub const OUTPUTS: &[(&str, &str)] = &[
    ("jsonl", "JSON Lines files in a directory"),
    ("sqlite", "A SQLite database file"),
];

/// A new source as typed in a form or sent to the API.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    /// A name for people.
    pub name: String,
    /// The credential to read with.
    pub credential_id: String,
    /// Stream names from [`STREAMS`].
    pub streams: Vec<String>,
    /// A kind from [`OUTPUTS`].
    pub output_kind: String,
    /// The output's name under the server's outputs folder (see
    /// [`crate::output_location`]).
    pub output_path: String,
    /// A [`SyncMode`] as [`SyncMode::as_str`] spells it; blank is
    /// `full_refresh`.
    pub sync_mode: String,
}

impl SourceInput {
    /// The sync mode typed, blank meaning the default; `None` when it names
    /// no mode.
    fn sync_mode(&self) -> Option<SyncMode> {
        match self.sync_mode.trim() {
            "" => Some(SyncMode::default()),
            text => SyncMode::parse(text),
        }
    }
}

/// Source management.
#[derive(Debug, Clone)]
pub struct Sources {
    store: Arc<dyn WebStateStore>,
    credentials: Credentials,
    clock: Arc<dyn Clock>,
}

fn validate(input: &SourceInput) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required and must not be blank"));
    } else if name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be at most 100 characters"));
    }
    if input.streams.is_empty() {
        errors.push(FieldError::new("streams", "pick at least one stream"));
    } else if let Some(unknown) = input
        .streams
        .iter()
        .find(|s| !STREAMS.iter().any(|(name, _)| name == s))
    {
        errors.push(FieldError::new(
            "streams",
            format!("`{unknown}` is not a stream Pinion can read"),
        ));
    }
    if !OUTPUTS.iter().any(|(kind, _)| *kind == input.output_kind) {
        errors.push(FieldError::new("output_kind", "pick JSON Lines or SQLite"));
    }
    // Outputs live under `<data dir>/outputs/<owner>/`: a name, never a path
    // of the server's choosing.
    if !crate::runs::valid_output_name(input.output_path.trim()) {
        errors.push(FieldError::new(
            "output_path",
            "must be a name such as `weekly` or `reports/boards.db`: letters, digits, `.`, `_` \
             and `-`, parts separated by `/`, no leading dot",
        ));
    }
    if input.sync_mode().is_none() {
        errors.push(FieldError::new(
            "sync_mode",
            format!(
                "must be `full_refresh` or `incremental`, not `{}`",
                input.sync_mode.trim()
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// `streams` without repeats, in their first order.
fn distinct(streams: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for stream in streams {
        if !kept.contains(stream) {
            kept.push(stream.clone());
        }
    }
    kept
}

impl Sources {
    /// Works on `store`, stamping new sources with `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            credentials: Credentials::new(store.clone()),
            store,
            clock,
        }
    }

    /// Validates `input` and stores the source. The credential must be one
    /// `actor` owns or one shared with them; any other is `NotFound`, as for
    /// one that does not exist.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn create(
        &self,
        actor: &User,
        input: &SourceInput,
    ) -> Result<SourceRecord, ServiceError> {
        let credential_id = parse_credential_id(&input.credential_id)?;
        let credential = self.credentials.usable_by(actor, &credential_id).await?;
        validate(input)?;
        let streams = distinct(&input.streams);
        let record = SourceRecord {
            id: SourceId::generate(),
            owner: actor.id.clone(),
            credential_id: credential.id,
            name: input.name.trim().to_owned(),
            streams,
            output_kind: input.output_kind.clone(),
            output_path: input.output_path.trim().to_owned(),
            sync_mode: input.sync_mode().unwrap_or_default(),
            created_at: self.clock.now(),
        };
        let stored = self.store.create_source(&record).await?;
        tracing::info!(source_id = %stored.id, credential_id = %stored.credential_id, "Created a source.");
        Ok(stored)
    }

    /// Replaces the settings of `actor`'s source `id` with `input`, checked
    /// as for [`Sources::create`]. Another user's source is `NotFound`; a
    /// source with a run still going is a `Conflict` and is left as it was.
    /// Its runs stay; a change of credential, streams or output starts its
    /// next run afresh rather than from an old checkpoint.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, source_id = %id))]
    pub async fn update(
        &self,
        actor: &User,
        id: &SourceId,
        input: &SourceInput,
    ) -> Result<SourceRecord, ServiceError> {
        let before = self.get(actor, id).await?;
        let credential_id = parse_credential_id(&input.credential_id)?;
        // The credential it already reads with stays usable by its owner even
        // if a share is withdrawn later; any other must be usable now.
        let credential_id = if credential_id == before.credential_id {
            before.credential_id.clone()
        } else {
            self.credentials.usable_by(actor, &credential_id).await?.id
        };
        validate(input)?;
        let record = SourceRecord {
            credential_id,
            name: input.name.trim().to_owned(),
            streams: distinct(&input.streams),
            output_kind: input.output_kind.clone(),
            output_path: input.output_path.trim().to_owned(),
            sync_mode: input.sync_mode().unwrap_or_default(),
            ..before
        };
        if !self.store.update_source(&record).await? {
            return Err(ServiceError::NotFound { what: "source" });
        }
        tracing::info!(source_id = %record.id, credential_id = %record.credential_id, "Changed a source.");
        Ok(record)
    }

    /// The sources `actor` owns, newest first.
    pub async fn list(&self, actor: &User) -> Result<Vec<SourceRecord>, ServiceError> {
        Ok(self.store.list_sources(&actor.id).await?)
    }

    /// The sources `owner` owns, newest first: for the owner, an admin and
    /// the operator.
    pub async fn list_owned_by(
        &self,
        actor: impl Into<crate::Actor>,
        owner: &pinion_domain::UserId,
    ) -> Result<Vec<SourceRecord>, ServiceError> {
        let actor = actor.into();
        if !(actor.id() == Some(owner) || actor.reads_everything()) {
            return Err(ServiceError::Forbidden(
                "only an admin may list another user's sources",
            ));
        }
        Ok(self.store.list_sources(owner).await?)
    }

    /// One source, if `actor` owns it; otherwise `NotFound`.
    pub async fn get(&self, actor: &User, id: &SourceId) -> Result<SourceRecord, ServiceError> {
        let source = self.store.get_source(id).await?;
        if source.owner != actor.id {
            return Err(ServiceError::NotFound { what: "source" });
        }
        Ok(source)
    }

    /// Deletes a source `actor` owns with its runs and the sync state of
    /// its job, in one transaction; any other is `NotFound`, and a source
    /// with a run still going is a `Conflict`. Its output files stay.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn delete(&self, actor: &User, id: &SourceId) -> Result<(), ServiceError> {
        if !self.store.delete_source(id, &actor.id).await? {
            return Err(ServiceError::NotFound { what: "source" });
        }
        tracing::info!(source_id = %id, "Deleted a source.");
        Ok(())
    }
}

/// The credential a new source or destination names: a malformed id is the
/// same `NotFound` as an unknown one.
pub(crate) fn parse_credential_id(text: &str) -> Result<CredentialId, ServiceError> {
    text.trim()
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "credential" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SourceInput {
        SourceInput {
            name: "Weekly boards".into(),
            credential_id: "cred_x".into(),
            streams: vec!["boards".into(), "board_pins".into()],
            output_kind: "jsonl".into(),
            output_path: "boards".into(),
            sync_mode: String::new(),
        }
    }

    #[test]
    fn the_sync_mode_defaults_to_full_refresh_and_an_unknown_one_is_named() {
        assert_eq!(input().sync_mode(), Some(SyncMode::FullRefresh));
        let incremental = SourceInput {
            sync_mode: " incremental ".into(),
            ..input()
        };
        assert!(validate(&incremental).is_ok());
        assert_eq!(incremental.sync_mode(), Some(SyncMode::Incremental));
        let unknown = SourceInput {
            sync_mode: "append".into(),
            ..input()
        };
        let errors = validate(&unknown).unwrap_err().0;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "sync_mode");
        assert!(
            errors[0].message.contains("`append`"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_valid_source_passes_and_each_bad_field_is_named() {
        assert!(validate(&input()).is_ok());
        let bad = SourceInput {
            name: " ".into(),
            streams: vec!["boards".into(), "secrets".into()],
            output_kind: "ftp".into(),
            output_path: "/var/../etc".into(),
            sync_mode: "sometimes".into(),
            ..input()
        };
        let fields: Vec<_> = validate(&bad)
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec!["name", "streams", "output_kind", "output_path", "sync_mode"]
        );
        let absolute = SourceInput {
            output_path: "/var/lib/pinion/out".into(),
            streams: vec![],
            ..input()
        };
        let fields: Vec<_> = validate(&absolute)
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["streams", "output_path"]);
    }
}
