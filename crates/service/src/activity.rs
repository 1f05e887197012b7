//! The credential activity log (issue 6): who did what to a credential, and
//! when. Entries are appended by the service that makes the change: sharing,
//! withdrawing and deleting in the same transaction as the change (through
//! the store), the others right after it succeeds, best effort (a failed
//! append is logged and does not undo the change). Entries never hold a
//! secret: details are scopes, classified reasons, usernames and ids.

use pinion_domain::{UserId, Username};
use pinion_store::{ActivityEvent, CredentialRecord, NewActivity, Store, User};

/// Who acted: a user, or Pinion itself (the token refresher, on-demand
/// refreshes while a run or check uses the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user or an API token's user.
    User {
        /// The user's id.
        id: UserId,
        /// The username, as it is logged.
        username: Username,
    },
    /// Pinion itself.
    System,
}

impl Actor {
    /// The actor name used for [`Actor::System`].
    pub const SYSTEM: &'static str = "system";

    /// The user's id, `None` for the system.
    pub fn id(&self) -> Option<&UserId> {
        match self {
            Actor::User { id, .. } => Some(id),
            Actor::System => None,
        }
    }

    /// The username, or `system`.
    pub fn name(&self) -> &str {
        match self {
            Actor::User { username, .. } => username.as_str(),
            Actor::System => Self::SYSTEM,
        }
    }
}

impl From<&User> for Actor {
    fn from(user: &User) -> Self {
        Actor::User {
            id: user.id.clone(),
            username: user.username.clone(),
        }
    }
}

/// A log entry about `record`.
pub(crate) fn entry(
    record: &CredentialRecord,
    actor: &Actor,
    event: ActivityEvent,
    subject: Option<String>,
    detail: Option<String>,
) -> NewActivity {
    NewActivity {
        credential_id: record.id.clone(),
        credential_name: record.name.as_str().to_owned(),
        actor_id: actor.id().cloned(),
        actor: actor.name().to_owned(),
        event,
        subject,
        detail,
    }
}

/// Appends `entry`; a failure is logged, not returned, since the change it
/// records has already happened.
pub(crate) async fn append(store: &dyn Store, entry: NewActivity) {
    if let Err(err) = store.append_activity(&entry).await {
        tracing::warn!(
            credential_id = %entry.credential_id,
            event = entry.event.as_str(),
            error = %err,
            "Could not append to the activity log."
        );
    }
}
