//! Creating, reading, changing and deleting credentials, with the access rules.
//!
//! The rules: the owner may do everything; an admin may list and read any
//! credential's metadata (never its secrets, which no method here returns);
//! a collaborator it is shared with may use it (`usable_by`) but gets
//! `Forbidden` for anything that would show or change its settings (they
//! already see its tile, so its existence is no secret to them); anyone else
//! gets `NotFound`, exactly as for an id that does not exist.

use std::sync::Arc;

use pinion_domain::{
    Credential, CredentialId, CredentialInput, CredentialPatchInput, CredentialStatus,
    CredentialUpdate, NewCredential, User, UserId,
};
use pinion_store::{
    ActivityEvent, CredentialRecord, CredentialStore, RunStore, ShareState, SharingStore, Store,
    UserStore, WebStateStore,
};

use crate::ServiceError;
use crate::activity::{self, Actor};
use crate::cache::ReadCache;

/// What a collaborator is told when they try to see or change the settings
/// of a credential shared with them.
pub const SHARED_SETTINGS_FORBIDDEN: &str = "this credential is shared with you: you can use it \
     for your sources and destinations, but only its owner can see or change its settings";

/// How many users' lists of usable credentials [`Credentials`] keeps: the
/// people viewing pages at one time, not every user (each list holds
/// metadata only, about 1 KB per credential).
const CACHED_USABLE_LISTS: usize = 1_000;

/// Credential management for one store.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The credentials themselves.
    pub(crate) records: Arc<dyn CredentialStore>,
    /// Shares and the activity log.
    pub(crate) sharing: Arc<dyn SharingStore>,
    /// Owners and collaborators, by id and username.
    pub(crate) users: Arc<dyn UserStore>,
    /// The sources and destinations that use a credential.
    pub(crate) web: Arc<dyn WebStateStore>,
    /// The runs that used a credential.
    pub(crate) runs: Arc<dyn RunStore>,
    /// Each user's usable credentials, until the store changes: the pages
    /// that show tiles ask for them on every view.
    pub(crate) usable: Arc<ReadCache<UserId, UsableList>>,
}

/// The credentials a user may pick, shared between the requests that read
/// them (see [`Credentials::list_usable`]).
pub type UsableList = Arc<[crate::UsableCredential]>;

/// What an actor may do with a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read the metadata.
    Read,
    /// Change, authorize or delete it.
    Manage,
}

impl Credentials {
    /// Works on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let usable = Arc::new(ReadCache::new(store.changes().clone(), CACHED_USABLE_LISTS));
        Self {
            records: store.clone(),
            sharing: store.clone(),
            users: store.clone(),
            web: store.clone(),
            runs: store,
            usable,
        }
    }

    /// Validates `input` and stores a new credential owned by `owner`, with
    /// status `needs_authorization`, if `actor` may manage `owner`'s
    /// credentials (the user themselves, or the operator). Nothing is
    /// stored when a field is invalid.
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn create(
        &self,
        actor: impl Into<Actor>,
        owner: &UserId,
        input: &CredentialInput,
    ) -> Result<Credential, ServiceError> {
        let actor = actor.into();
        if !actor.manages(owner) {
            return Err(ServiceError::Forbidden(
                "a credential can only be created for yourself",
            ));
        }
        let new = NewCredential::validate(input)?;
        let record = self.records.create_credential(owner, &new).await?;
        tracing::info!(credential_id = %record.id, "Created a credential.");
        let detail = format!("requested scopes: {}", record.scopes.to_comma_separated());
        let entry = activity::entry(&record, &actor, ActivityEvent::Created, None, Some(detail));
        activity::append(&*self.sharing, entry).await;
        Ok(record.into())
    }

    /// The credentials the user `actor` owns, by name.
    pub async fn list(&self, actor: &User) -> Result<Vec<Credential>, ServiceError> {
        self.list_owned_by(actor, &actor.id).await
    }

    /// The credentials `owner` owns, by name: for the owner, an admin and the
    /// operator.
    pub async fn list_owned_by(
        &self,
        actor: impl Into<Actor>,
        owner: &UserId,
    ) -> Result<Vec<Credential>, ServiceError> {
        let actor = actor.into();
        if !(actor.id() == Some(owner) || actor.reads_everything()) {
            return Err(ServiceError::Forbidden(
                "only an admin may list another user's credentials",
            ));
        }
        Ok(views(self.records.list_credentials(owner).await?))
    }

    /// Every credential of every user: for admins and the operator.
    pub async fn list_all(&self, actor: impl Into<Actor>) -> Result<Vec<Credential>, ServiceError> {
        if !actor.into().reads_everything() {
            return Err(ServiceError::Forbidden(
                "only an admin may list every credential",
            ));
        }
        Ok(views(self.records.list_all_credentials().await?))
    }

    /// One credential's metadata, if `actor` may read it (the owner, an
    /// admin, the operator).
    pub async fn get(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<Credential, ServiceError> {
        Ok(self
            .authorized(&actor.into(), id, Access::Read)
            .await?
            .into())
    }

    /// One credential's metadata, if `actor` may change it (the owner, the
    /// operator): what an edit, authorize, check or delete screen shows.
    /// An admin who is not the owner gets the same `NotFound` as for an
    /// unknown id.
    pub async fn get_to_manage(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<Credential, ServiceError> {
        Ok(self
            .authorized(&actor.into(), id, Access::Manage)
            .await?
            .into())
    }

    /// Validates `patch` and applies it in one transaction.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn update(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
        patch: &CredentialPatchInput,
    ) -> Result<Credential, ServiceError> {
        let actor = actor.into();
        let update = CredentialUpdate::validate(patch)?;
        let record = self.authorized(&actor, id, Access::Manage).await?;
        let updated = self
            .records
            .update_credential(&record.id, &update, Some(record.version))
            .await?;
        tracing::info!(credential_id = %updated.id, "Updated a credential.");
        if let Some(changed) = changed_fields(&record, &update) {
            let entry =
                activity::entry(&updated, &actor, ActivityEvent::Edited, None, Some(changed));
            activity::append(&*self.sharing, entry).await;
        }
        Ok(updated.into())
    }

    /// Deletes a credential and its tokens at once.
    #[tracing::instrument(skip_all, fields(credential_id = %id))]
    pub async fn delete(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
    ) -> Result<Credential, ServiceError> {
        let actor = actor.into();
        let record = self.authorized(&actor, id, Access::Manage).await?;
        let entry = activity::entry(&record, &actor, ActivityEvent::Deleted, None, None);
        self.sharing
            .delete_credential_logged(&record.id, &entry)
            .await?;
        tracing::info!(credential_id = %record.id, "Deleted a credential.");
        Ok(record.into())
    }

    /// Loads the credential `id` if `actor` may `access` it; a collaborator
    /// gets `Forbidden`, anyone else the same `NotFound` as for an unknown id.
    /// The one place the credential access rules are applied.
    pub(crate) async fn authorized(
        &self,
        actor: &Actor,
        id: &CredentialId,
        access: Access,
    ) -> Result<CredentialRecord, ServiceError> {
        let record = self.records.get_credential(id).await?;
        let allowed =
            actor.manages(&record.owner) || (access == Access::Read && actor.reads_everything());
        if allowed {
            return Ok(record);
        }
        let Some(user) = actor.id() else {
            return Err(ServiceError::NotFound { what: "credential" });
        };
        match self.sharing.share_state(&record.id, user).await? {
            ShareState::Active => Err(ServiceError::Forbidden(SHARED_SETTINGS_FORBIDDEN)),
            ShareState::Withdrawn | ShareState::None => {
                Err(ServiceError::NotFound { what: "credential" })
            }
        }
    }
}

/// Why a credential cannot hand out tokens now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// It was never authorized (or its tokens were discarded).
    NotAuthorized,
    /// Pinterest no longer accepts its grant: its owner must authorize it
    /// again.
    NeedsReauthorization {
        /// Why, for people; never a secret.
        reason: String,
    },
    /// Pinterest refused the app's own credentials.
    AppCredentials {
        /// Why, for people; never a secret.
        reason: String,
    },
}

/// Whether `credential` can hand out tokens now: the one rule for "usable",
/// applied by the token manager, source runs, destinations and the sync
/// commands alike. Only an active credential is usable.
pub fn usability(credential: &Credential) -> Result<(), Unusable> {
    match credential.status {
        CredentialStatus::Active => Ok(()),
        CredentialStatus::NeedsAuthorization => Err(Unusable::NotAuthorized),
        CredentialStatus::NeedsReauthorization => Err(Unusable::NeedsReauthorization {
            reason: credential
                .last_error
                .clone()
                .unwrap_or_else(|| "Pinterest no longer accepts this connection".into()),
        }),
        CredentialStatus::Error => Err(Unusable::AppCredentials {
            reason: credential
                .last_error
                .clone()
                .unwrap_or_else(|| "the credential is in error".into()),
        }),
    }
}

/// The views of `records`, without the refresher's bookkeeping.
pub(crate) fn views(records: Vec<CredentialRecord>) -> Vec<Credential> {
    records.into_iter().map(Credential::from).collect()
}

/// The names of the fields `update` changes, for the activity log (never a
/// value: the client secret is only named).
/// The fields `update` changes from `before`, for the activity log; `None`
/// when it changes nothing (a form sent back as it was shown). A new client
/// secret always counts: the stored one is not decrypted to compare.
fn changed_fields(before: &CredentialRecord, update: &CredentialUpdate) -> Option<String> {
    let mut fields = Vec::new();
    if update
        .name
        .as_ref()
        .is_some_and(|name| name.as_str() != before.name.as_str())
    {
        fields.push("name");
    }
    if update.description.as_ref().is_some_and(|description| {
        description.as_ref().map(|d| d.as_str()) != before.description.as_ref().map(|d| d.as_str())
    }) {
        fields.push("description");
    }
    if update
        .client_id
        .as_ref()
        .is_some_and(|client_id| client_id.as_str() != before.client_id.as_str())
    {
        fields.push("client id (tokens discarded)");
    }
    if update.client_secret.is_some() {
        fields.push("client secret");
    }
    if update
        .scopes
        .as_ref()
        .is_some_and(|scopes| *scopes != before.scopes)
    {
        fields.push("requested scopes");
    }
    if update
        .rate_tier
        .is_some_and(|tier| tier != before.rate_tier)
    {
        fields.push("rate limit");
    }
    (!fields.is_empty()).then(|| format!("changed: {}", fields.join(", ")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Users;
    use pinion_domain::ClientSecret;
    use pinion_store::KeySource;

    /// A user `name` made by the operator (an admin when `admin`).
    pub(crate) async fn user(users: &Users, name: &str, admin: bool) -> pinion_domain::User {
        users
            .create(crate::Actor::Operator, name, admin)
            .await
            .unwrap()
            .0
    }

    pub(crate) async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        let path = dir.path().join("pinion.db");
        pinion_store::connect(
            path.to_str().unwrap(),
            KeySource::DataDirFile(dir.path().join("master.key")),
        )
        .await
        .unwrap()
        .store
    }

    fn input(name: &str) -> CredentialInput {
        CredentialInput {
            name: name.into(),
            description: None,
            client_id: "1484362".into(),
            client_secret: Some(ClientSecret::new("app-secret")),
            scopes: None,
        }
    }

    #[tokio::test]
    async fn another_users_credential_is_not_found_and_an_admin_may_only_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let users = Users::new(store.clone());
        let credentials = Credentials::new(store);
        let alice = user(&users, "alice", false).await;
        let bob = user(&users, "bob", false).await;
        let admin = user(&users, "root", true).await;
        let record = credentials
            .create(&alice, &alice.id, &input("Boards"))
            .await
            .unwrap();
        let id = &record.id;

        assert!(matches!(
            credentials.get(&bob, id).await,
            Err(ServiceError::NotFound { .. })
        ));
        let rename = CredentialPatchInput {
            name: Some("Mine now".into()),
            ..Default::default()
        };
        assert!(matches!(
            credentials.update(&bob, id, &rename).await,
            Err(ServiceError::NotFound { .. })
        ));
        assert!(matches!(
            credentials.delete(&bob, id).await,
            Err(ServiceError::NotFound { .. })
        ));
        assert!(credentials.list(&bob).await.unwrap().is_empty());

        assert_eq!(credentials.get(&admin, id).await.unwrap().id, record.id);
        assert_eq!(credentials.list_all(&admin).await.unwrap().len(), 1);
        assert!(matches!(
            credentials.delete(&admin, id).await,
            Err(ServiceError::NotFound { .. })
        ));
        assert!(matches!(
            credentials.list_all(&bob).await,
            Err(ServiceError::Forbidden(_))
        ));
        // An unknown id is indistinguishable from another user's.
        assert!(matches!(
            credentials.get(&alice, &CredentialId::generate()).await,
            Err(ServiceError::NotFound { .. })
        ));
        assert_eq!(
            credentials.get(&alice, id).await.unwrap().name.as_str(),
            "Boards"
        );
    }

    #[tokio::test]
    async fn invalid_input_stores_nothing_and_names_each_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let alice = user(&Users::new(store.clone()), "alice", false).await;
        let credentials = Credentials::new(store);
        let mut bad = input("");
        bad.scopes = Some("boards:fly".into());
        let err = credentials
            .create(&alice, &alice.id, &bad)
            .await
            .unwrap_err();
        let ServiceError::Validation(errors) = err else {
            panic!("expected a validation error, got {err:?}");
        };
        let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["name", "scopes"]);
        assert!(credentials.list(&alice).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_duplicate_name_is_a_conflict_on_the_name_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let alice = user(&Users::new(store.clone()), "alice", false).await;
        let credentials = Credentials::new(store);
        credentials
            .create(&alice, &alice.id, &input("Boards"))
            .await
            .unwrap();
        let err = credentials
            .create(&alice, &alice.id, &input("Boards"))
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("name"), "{err:?}");
        assert_eq!(credentials.list(&alice).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_operator_manages_any_credential_and_is_logged_as_the_operator() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let users = Users::new(store.clone());
        let credentials = Credentials::new(store.clone());
        let alice = user(&users, "alice", false).await;
        let bob = user(&users, "bob", false).await;

        // A user creates only for themselves; the operator for anyone.
        assert!(matches!(
            credentials
                .create(&bob, &alice.id, &input("Not mine"))
                .await,
            Err(ServiceError::Forbidden(_))
        ));
        let record = credentials
            .create(Actor::Operator, &alice.id, &input("Boards"))
            .await
            .unwrap();
        assert_eq!(record.owner, alice.id);

        let rename = CredentialPatchInput {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        credentials
            .update(Actor::Operator, &record.id, &rename)
            .await
            .unwrap();
        assert_eq!(
            credentials.list_all(Actor::Operator).await.unwrap().len(),
            1
        );
        assert!(matches!(
            credentials.list_owned_by(&bob, &alice.id).await,
            Err(ServiceError::Forbidden(_))
        ));

        let log = store.list_activity(&record.id, None, 10).await.unwrap();
        let edited = log.iter().find(|e| e.event == "edited").unwrap();
        assert_eq!(edited.actor, Actor::OPERATOR);
        assert_eq!(edited.actor_id, None);
        let created = log.iter().find(|e| e.event == "created").unwrap();
        assert_eq!(created.actor, Actor::OPERATOR);

        credentials
            .delete(Actor::Operator, &record.id)
            .await
            .unwrap();
        assert!(credentials.list(&alice).await.unwrap().is_empty());
    }

    /// An active credential with tokens, for tests of pure rules.
    pub(crate) fn sample() -> Credential {
        use pinion_domain::CredentialStatus;
        let now = chrono::Utc::now();
        Credential {
            id: CredentialId::generate(),
            owner: UserId::generate(),
            name: pinion_domain::CredentialName::parse("Boards").unwrap(),
            description: None,
            provider: "pinterest".into(),
            client_id: pinion_domain::ClientId::parse("1484362").unwrap(),
            client_secret_set: true,
            scopes: pinion_domain::ScopeSet::default_requested(),
            rate_tier: pinion_domain::RateTier::Standard,
            granted_scopes: None,
            status: CredentialStatus::Active,
            has_access_token: true,
            has_refresh_token: true,
            access_token_expires_at: None,
            refresh_token_expires_at: None,
            last_refreshed_at: None,
            last_checked_at: None,
            last_error: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn only_an_active_credential_is_usable() {
        use pinion_domain::CredentialStatus;
        let mut credential = sample();
        assert_eq!(usability(&credential), Ok(()));
        credential.status = CredentialStatus::NeedsAuthorization;
        assert_eq!(usability(&credential), Err(Unusable::NotAuthorized));
        credential.status = CredentialStatus::NeedsReauthorization;
        credential.last_error = Some("revoked on Pinterest".into());
        assert_eq!(
            usability(&credential),
            Err(Unusable::NeedsReauthorization {
                reason: "revoked on Pinterest".into()
            })
        );
        credential.status = CredentialStatus::Error;
        credential.last_error = None;
        assert!(matches!(
            usability(&credential),
            Err(Unusable::AppCredentials { .. })
        ));
    }
}
