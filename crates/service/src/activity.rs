//! The credential activity log (issue 6): who did what to a credential, and
//! when. Entries are appended by the service that makes the change: sharing,
//! withdrawing and deleting in the same transaction as the change (through
//! the store), the others right after it succeeds, best effort (a failed
//! append is logged and does not undo the change). Entries never hold a
//! secret: details are scopes, classified reasons, usernames and ids.

use pinion_domain::{Credential, Role, User, UserId};
use pinion_store::{ActivityEvent, NewActivity, SharingStore};

/// Who acts: every service operation takes one and decides from it, and
/// from its own access rules, what the call may see and do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user or an API token's user.
    User(User),
    /// The machine's operator: the local `pinion` CLI, run by someone who
    /// can read Pinion's data directory and keys. May manage every
    /// credential (never read a secret back) and is logged as `operator`,
    /// never as the credential's owner.
    Operator,
    /// Pinion itself (the token refresher, on-demand refreshes while a run
    /// or check uses the credential).
    System,
}

impl Actor {
    /// The actor name used for [`Actor::System`].
    pub const SYSTEM: &'static str = "system";
    /// The actor name used for [`Actor::Operator`].
    pub const OPERATOR: &'static str = "operator";

    /// The user's id, `None` for the operator and the system.
    pub fn id(&self) -> Option<&UserId> {
        self.user().map(|user| &user.id)
    }

    /// The user, `None` for the operator and the system.
    pub fn user(&self) -> Option<&User> {
        match self {
            Actor::User(user) => Some(user),
            Actor::Operator | Actor::System => None,
        }
    }

    /// The username, `operator` or `system`, as the activity log shows it.
    pub fn name(&self) -> &str {
        match self {
            Actor::User(user) => user.username.as_str(),
            Actor::Operator => Self::OPERATOR,
            Actor::System => Self::SYSTEM,
        }
    }

    /// True when the actor may read any credential's metadata and list
    /// every credential: an admin, the operator, the system.
    pub(crate) fn reads_everything(&self) -> bool {
        match self {
            Actor::User(user) => user.role == Role::Admin,
            Actor::Operator | Actor::System => true,
        }
    }

    /// True when the actor may change, authorize, check, refresh or delete
    /// a credential of `owner`: the owner, the operator, the system.
    pub(crate) fn manages(&self, owner: &UserId) -> bool {
        match self {
            Actor::User(user) => &user.id == owner,
            Actor::Operator | Actor::System => true,
        }
    }
}

impl From<&User> for Actor {
    fn from(user: &User) -> Self {
        Actor::User(user.clone())
    }
}

impl From<&std::sync::Arc<User>> for Actor {
    fn from(user: &std::sync::Arc<User>) -> Self {
        Actor::User(User::clone(user))
    }
}

impl From<User> for Actor {
    fn from(user: User) -> Self {
        Actor::User(user)
    }
}

impl From<&Actor> for Actor {
    fn from(actor: &Actor) -> Self {
        actor.clone()
    }
}

/// A log entry about `record`.
pub(crate) fn entry(
    record: &Credential,
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
pub(crate) async fn append(store: &dyn SharingStore, entry: NewActivity) {
    if let Err(err) = store.append_activity(&entry).await {
        tracing::warn!(
            credential_id = %entry.credential_id,
            event = entry.event.as_str(),
            error = %err,
            "Could not append to the activity log."
        );
    }
}
