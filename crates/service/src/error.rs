//! The errors of the credential lifecycle, in terms an adapter can show.

use pinion_domain::{FieldError, ValidationErrors};
use pinion_store::StoreError;

/// What went wrong in a service call.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input broke a field's rules; nothing was stored.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The object does not exist, or the actor may not see it.
    #[error("{what} not found")]
    NotFound {
        /// The kind of object, e.g. `credential`.
        what: &'static str,
    },
    /// The actor may see the object but not do this to it.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// A credential shared with the user once was withdrawn by its owner
    /// (a run of their source that used it fails with this).
    #[error("credential \"{credential}\" is no longer shared with you")]
    NotShared {
        /// The credential's name.
        credential: String,
    },
    /// Too many failed sign-ins for this username from this client, or from
    /// this client; try again after `retry_after`.
    #[error("too many failed sign-ins; try again in {}", wait_text(*retry_after))]
    Throttled {
        /// How long until an attempt is checked again.
        retry_after: std::time::Duration,
    },
    /// The input clashes with stored data, e.g. a duplicate name.
    #[error("{field}: {message}")]
    Conflict {
        /// The field that clashes.
        field: &'static str,
        /// What clashes, without a secret.
        message: String,
    },
    /// The credential holds no authorization Pinion can use (never
    /// authorized, or Pinterest no longer accepts it): its owner must
    /// authorize it first.
    #[error(
        "credential \"{credential}\" is not authorized ({status}); authorize it with Pinterest first"
    )]
    NotAuthorized {
        /// The credential's name.
        credential: String,
        /// Its status, e.g. `needs_authorization`.
        status: &'static str,
    },
    /// The object changed since it was read; read it again and retry.
    #[error("the credential changed while this request ran; reload and try again")]
    Stale,
    /// The database could not be reached or written; nothing was changed.
    /// Always a [`StoreError::Unavailable`], kept whole with its cause.
    #[error(transparent)]
    Unavailable(StoreError),
    /// Pinterest could not be used just now (its client could not be built,
    /// or it did not answer as expected); retrying later may succeed.
    #[error("{what}: {source}")]
    Upstream {
        /// What Pinion was doing, for people.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// Something failed inside Pinion (a task that stopped, a stored value
    /// it cannot read, a password it could not hash); the cause is logged.
    #[error("{what}: {source}")]
    Internal {
        /// What Pinion was doing, for people.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// Anything else from the store, e.g. a record that fails to decrypt.
    #[error(transparent)]
    Store(StoreError),
}

/// The cause of an [`ServiceError::Upstream`] or [`ServiceError::Internal`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl ServiceError {
    /// Pinterest failed while Pinion was doing `what`.
    pub fn upstream(what: &'static str, source: impl Into<BoxError>) -> Self {
        ServiceError::Upstream {
            what,
            source: source.into(),
        }
    }

    /// Pinion itself failed while doing `what`.
    pub fn internal(what: &'static str, source: impl Into<BoxError>) -> Self {
        ServiceError::Internal {
            what,
            source: source.into(),
        }
    }

    /// The field an error is about, for placing it next to a form field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ServiceError::Validation(errors) => errors.first().map(|e| e.field),
            ServiceError::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        ServiceError::Validation(errors)
    }
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        ServiceError::Validation(error.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity } => ServiceError::NotFound { what: entity },
            StoreError::Conflict { field, message } => ServiceError::Conflict { field, message },
            StoreError::VersionConflict { .. } => ServiceError::Stale,
            unavailable @ StoreError::Unavailable { .. } => ServiceError::Unavailable(unavailable),
            other => ServiceError::Store(other),
        }
    }
}

/// "45 seconds", "1 minute", "15 minutes": a wait as a person reads it.
fn wait_text(wait: std::time::Duration) -> String {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    match seconds {
        1 => "1 second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => match seconds.div_ceil(60) {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("the request failed")]
    struct Failed(#[source] Refused);

    #[test]
    fn upstream_and_internal_failures_keep_their_cause_chain() {
        let err = ServiceError::upstream("could not read the boards", Failed(Refused));
        assert_eq!(
            err.to_string(),
            "could not read the boards: the request failed"
        );
        let source = err.source().expect("the cause");
        assert_eq!(source.to_string(), "the request failed");
        assert_eq!(
            source.source().map(ToString::to_string).as_deref(),
            Some("connection refused")
        );
        let err = ServiceError::internal("the publish stopped", Refused);
        assert_eq!(err.source().unwrap().to_string(), "connection refused");
    }
}
