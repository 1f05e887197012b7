//! Sharing a credential with collaborators (issue 6), and reading its
//! activity log.
//!
//! The owner shares a credential with another user by username and may
//! withdraw the share at any time. A collaborator sees the credential's tile
//! ("Shared by <owner>") and may pick it for their own sources and
//! destinations ([`Credentials::usable_by`]), but every call that would show
//! or change its settings answers `Forbidden`. Once a share is withdrawn, a
//! collaborator's source that used it fails with "credential X is no longer
//! shared with you" ([`ServiceError::NotShared`]). The activity log is for the
//! owner and admins; an admin can still read the log of a deleted credential.

use std::time::Duration;

use pinion_domain::{Credential, CredentialId, FieldError, User, Username};
use pinion_store::{ActivityEvent, ActivityRecord, ShareRecord, ShareState};

use crate::activity::{self, Actor};
use crate::credentials::{Access, UsableList};
use crate::{Credentials, ServiceError};

/// The most activity entries one call returns.
pub const MAX_ACTIVITY_PAGE: u32 = 200;

/// A credential a user may pick: one they own, or one shared with them.
#[derive(Debug, Clone)]
pub struct UsableCredential {
    /// The metadata (the adapters show a collaborator only the tile's part).
    pub record: Credential,
    /// The owner's username when the credential is shared with the user;
    /// `None` for their own.
    pub shared_by: Option<Username>,
}

impl Credentials {
    /// The credential `id` if `user` may use it for their sources and
    /// destinations: they own it or it is shared with them now. A withdrawn
    /// share is [`ServiceError::NotShared`] naming the credential; anything
    /// else is `NotFound`, as for an unknown id. Run paths call this (or
    /// [`Credentials::use_for_run`]) before asking for a token.
    pub async fn usable_by(
        &self,
        user: &User,
        id: &CredentialId,
    ) -> Result<Credential, ServiceError> {
        let record = self.records.get_credential(id).await?;
        if record.owner == user.id {
            return Ok(record.into());
        }
        match self.sharing.share_state(&record.id, &user.id).await? {
            ShareState::Active => Ok(record.into()),
            ShareState::Withdrawn => Err(ServiceError::NotShared {
                credential: record.name.as_str().to_owned(),
            }),
            ShareState::None => Err(ServiceError::NotFound { what: "credential" }),
        }
    }

    /// [`Credentials::usable_by`], and on success an entry "used by run" in
    /// the credential's log naming `used_by` (a source or destination id, or
    /// a run id).
    pub async fn use_for_run(
        &self,
        user: &User,
        id: &CredentialId,
        used_by: &str,
    ) -> Result<Credential, ServiceError> {
        let record = self.usable_by(user, id).await?;
        let entry = activity::entry(
            &record,
            &Actor::from(user),
            ActivityEvent::UsedByRun,
            Some(used_by.to_owned()),
            None,
        );
        activity::append(&*self.sharing, entry).await;
        Ok(record)
    }

    /// How credential `id` reads on `user`'s source or destination list:
    /// `Ok(name)` (with "shared by" for a shared one) when they may use it,
    /// `Err(reason)` when a run would fail ("credential X is no longer
    /// shared with you", or "a deleted credential").
    pub async fn label_for(
        &self,
        user: &User,
        id: &CredentialId,
    ) -> Result<Result<String, String>, ServiceError> {
        match self.usable_by(user, id).await {
            Ok(record) if record.owner == user.id => Ok(Ok(record.name.as_str().to_owned())),
            Ok(record) => {
                let owner = self.users.get_user(&record.owner).await?;
                Ok(Ok(format!(
                    "{} (shared by {})",
                    record.name.as_str(),
                    owner.username.as_str()
                )))
            }
            Err(err @ ServiceError::NotShared { .. }) => Ok(Err(err.to_string())),
            Err(ServiceError::NotFound { .. }) => Ok(Err("a deleted credential".to_owned())),
            Err(err) => Err(err),
        }
    }

    /// The credentials `user` may pick: their own by name, then those shared
    /// with them, each with its owner's username. Answered from memory while
    /// the store is unchanged (any write, a share or a rename included,
    /// moves its change feed and so forces a fresh read).
    pub async fn list_usable(&self, user: &User) -> Result<UsableList, ServiceError> {
        let usable = self
            .usable
            .get_or_load(&user.id, Duration::MAX, || async {
                Ok::<_, ServiceError>(Some(self.read_usable(user).await?.into()))
            })
            .await?;
        Ok(usable.unwrap_or_default())
    }

    async fn read_usable(&self, user: &User) -> Result<Vec<UsableCredential>, ServiceError> {
        let mut usable: Vec<UsableCredential> = self
            .records
            .list_credentials(&user.id)
            .await?
            .into_iter()
            .map(|record| UsableCredential {
                record: record.into(),
                shared_by: None,
            })
            .collect();
        for id in self.sharing.credentials_shared_with(&user.id).await? {
            let record = match self.records.get_credential(&id).await {
                Ok(record) => record,
                // Deleted between the two reads.
                Err(pinion_store::StoreError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            let owner = self.users.get_user(&record.owner).await?;
            usable.push(UsableCredential {
                record: record.into(),
                shared_by: Some(owner.username),
            });
        }
        Ok(usable)
    }

    /// The users credential `id` is shared with; the owner and admins only.
    pub async fn shares(
        &self,
        actor: &User,
        id: &CredentialId,
    ) -> Result<Vec<ShareRecord>, ServiceError> {
        let record = self.authorized(&actor.into(), id, Access::Read).await?;
        Ok(self.sharing.list_shares(&record.id).await?)
    }

    /// Shares credential `id` with the user named `username`; the owner only.
    /// The share and its log entry are written in one transaction.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn share(
        &self,
        actor: &User,
        id: &CredentialId,
        username: &str,
    ) -> Result<ShareRecord, ServiceError> {
        let record = self.authorized(&actor.into(), id, Access::Manage).await?;
        let collaborator = self.collaborator(username).await?;
        if collaborator.id == record.owner {
            return Err(FieldError::new("username", "you own this credential already").into());
        }
        let entry = activity::entry(
            &record,
            &Actor::from(actor),
            ActivityEvent::Shared,
            Some(collaborator.username.as_str().to_owned()),
            None,
        );
        let share = self
            .sharing
            .share_credential(&record.id, &collaborator.id, &actor.id, &entry)
            .await?;
        tracing::info!(credential_id = %record.id, collaborator = %collaborator.id, "Shared a credential.");
        Ok(share)
    }

    /// Withdraws the share of credential `id` with `username`; the owner
    /// only. `NotFound` (of the share) when it was not shared with them.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn withdraw_share(
        &self,
        actor: &User,
        id: &CredentialId,
        username: &str,
    ) -> Result<(), ServiceError> {
        let record = self.authorized(&actor.into(), id, Access::Manage).await?;
        let not_shared = || ServiceError::NotFound { what: "share" };
        let username = Username::parse(username).map_err(|_| not_shared())?;
        let collaborator = match self.users.get_user_by_username(&username).await {
            Ok(user) => user,
            Err(pinion_store::StoreError::NotFound { .. }) => return Err(not_shared()),
            Err(err) => return Err(err.into()),
        };
        let entry = activity::entry(
            &record,
            &Actor::from(actor),
            ActivityEvent::ShareWithdrawn,
            Some(collaborator.username.as_str().to_owned()),
            None,
        );
        if !self
            .sharing
            .withdraw_share(&record.id, &collaborator.id, &entry)
            .await?
        {
            return Err(not_shared());
        }
        tracing::info!(credential_id = %record.id, collaborator = %collaborator.id, "Withdrew a share.");
        Ok(())
    }

    /// The activity log of credential `id`, newest first: at most `limit`
    /// entries (capped at [`MAX_ACTIVITY_PAGE`]) older than entry `before`.
    /// For the owner and admins; a collaborator gets `Forbidden`. An admin
    /// may read the log of a deleted credential (it ends with `deleted`).
    pub async fn activity(
        &self,
        actor: impl Into<Actor>,
        id: &CredentialId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ActivityRecord>, ServiceError> {
        let actor = actor.into();
        let limit = limit.clamp(1, MAX_ACTIVITY_PAGE);
        match self.authorized(&actor, id, Access::Read).await {
            Ok(record) => Ok(self
                .sharing
                .list_activity(&record.id, before, limit)
                .await?),
            Err(ServiceError::NotFound { .. }) if actor.reads_everything() => {
                let entries = self.sharing.list_activity(id, before, limit).await?;
                if entries.is_empty() && before.is_none() {
                    Err(ServiceError::NotFound { what: "credential" })
                } else {
                    Ok(entries)
                }
            }
            Err(err) => Err(err),
        }
    }

    /// The user to share with, or a validation error on `username`.
    async fn collaborator(&self, username: &str) -> Result<User, ServiceError> {
        let unknown = || FieldError::new("username", "no user has this username");
        let username = Username::parse(username.trim()).map_err(|_| unknown())?;
        match self.users.get_user_by_username(&username).await {
            Ok(user) => Ok(user),
            Err(pinion_store::StoreError::NotFound { .. }) => Err(unknown().into()),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Users;
    use crate::credentials::tests::{store, user};
    use pinion_domain::{ClientSecret, CredentialInput, CredentialPatchInput};
    use std::sync::Arc;

    fn input(name: &str) -> CredentialInput {
        CredentialInput {
            name: name.into(),
            description: None,
            client_id: "1484362".into(),
            client_secret: Some(ClientSecret::new("app-secret")),
            scopes: None,
        }
    }

    fn forbidden<T>(result: Result<T, ServiceError>) -> bool {
        matches!(result, Err(ServiceError::Forbidden(_)))
    }

    #[tokio::test]
    async fn usable_lists_are_kept_until_a_write_from_any_handle_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let feed = store.changes().clone();
        crate::cache::feed_started(&feed).await;
        let users = Users::new(store.clone());
        let pages = Credentials::new(store.clone());
        // Another handle on the same store, with a cache of its own.
        let api = Credentials::new(store);
        let alice = user(&users, "alice", false).await;
        let bob = user(&users, "bob", false).await;
        let record = api
            .create(&alice, &alice.id, &input("Boards"))
            .await
            .unwrap();
        let id = &record.id;
        crate::cache::feed_settled(&feed).await;

        let first = pages.list_usable(&alice).await.unwrap();
        let again = pages.list_usable(&alice).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "an unchanged list is kept");
        assert!(pages.list_usable(&bob).await.unwrap().is_empty());

        let rename = CredentialPatchInput {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        api.update(&alice, id, &rename).await.unwrap();
        api.share(&alice, id, "bob").await.unwrap();
        let renamed = pages.list_usable(&alice).await.unwrap();
        assert_eq!(renamed[0].record.name.as_str(), "Renamed");
        let shared = pages.list_usable(&bob).await.unwrap();
        assert_eq!(shared.len(), 1, "the share shows at once");
        assert_eq!(shared[0].shared_by.as_ref().unwrap().as_str(), "alice");

        api.withdraw_share(&alice, id, "bob").await.unwrap();
        assert!(pages.list_usable(&bob).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_collaborator_may_use_but_not_see_or_change_and_loses_use_on_withdrawal() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let users = Users::new(store.clone());
        let credentials = Credentials::new(store);
        let alice = user(&users, "alice", false).await;
        let bob = user(&users, "bob", false).await;
        let carol = user(&users, "carol", false).await;
        let admin = user(&users, "root", true).await;
        let record = credentials
            .create(&alice, &alice.id, &input("Boards"))
            .await
            .unwrap();
        let id = &record.id;

        // Before sharing, bob cannot use it and it is not found.
        assert!(matches!(
            credentials.usable_by(&bob, id).await,
            Err(ServiceError::NotFound { .. })
        ));
        // Only the owner shares; a collaborator-to-be cannot share it.
        assert!(matches!(
            credentials.share(&bob, id, "bob").await,
            Err(ServiceError::NotFound { .. })
        ));
        let err = credentials.share(&alice, id, "nobody").await.unwrap_err();
        assert_eq!(err.field(), Some("username"));
        let err = credentials.share(&alice, id, "alice").await.unwrap_err();
        assert_eq!(err.field(), Some("username"));
        credentials.share(&alice, id, "bob").await.unwrap();

        assert_eq!(credentials.usable_by(&bob, id).await.unwrap().id, record.id);
        let usable = credentials.list_usable(&bob).await.unwrap();
        assert_eq!(usable.len(), 1);
        assert_eq!(usable[0].shared_by.as_ref().unwrap().as_str(), "alice");
        assert!(forbidden(credentials.get(&bob, id).await));
        assert!(forbidden(
            credentials
                .update(
                    &bob,
                    id,
                    &CredentialPatchInput {
                        name: Some("Mine now".into()),
                        ..Default::default()
                    }
                )
                .await
        ));
        assert!(forbidden(credentials.delete(&bob, id).await));
        assert!(forbidden(credentials.shares(&bob, id).await));
        assert!(forbidden(credentials.share(&bob, id, "carol").await));
        assert!(forbidden(credentials.withdraw_share(&bob, id, "bob").await));
        assert!(forbidden(credentials.activity(&bob, id, None, 10).await));
        // Carol, not a collaborator, still sees nothing.
        assert!(matches!(
            credentials.get(&carol, id).await,
            Err(ServiceError::NotFound { .. })
        ));

        credentials.use_for_run(&bob, id, "src_1").await.unwrap();
        credentials.withdraw_share(&alice, id, "bob").await.unwrap();
        assert!(matches!(
            credentials.withdraw_share(&alice, id, "bob").await,
            Err(ServiceError::NotFound { what: "share" })
        ));
        let err = credentials
            .use_for_run(&bob, id, "src_1")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "credential \"Boards\" is no longer shared with you"
        );
        assert!(credentials.list_usable(&bob).await.unwrap().is_empty());
        // After withdrawal bob is a stranger again.
        assert!(matches!(
            credentials.get(&bob, id).await,
            Err(ServiceError::NotFound { .. })
        ));

        let log = credentials.activity(&admin, id, None, 50).await.unwrap();
        let events: Vec<_> = log
            .iter()
            .map(|a| (a.event.as_str(), a.actor.as_str()))
            .collect();
        assert_eq!(
            events,
            [
                ("share_withdrawn", "alice"),
                ("used_by_run", "bob"),
                ("shared", "alice"),
                ("created", "alice"),
            ]
        );

        credentials.delete(&alice, id).await.unwrap();
        assert!(matches!(
            credentials.activity(&alice, id, None, 50).await,
            Err(ServiceError::NotFound { .. })
        ));
        let log = credentials.activity(&admin, id, None, 50).await.unwrap();
        assert_eq!(log[0].event, "deleted");
        assert_eq!(log[0].actor, "alice");
    }
}
