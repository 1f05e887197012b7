//! Pinion users and their API tokens.

use std::sync::Arc;

use pinion_domain::{ApiToken, ApiTokenId, FieldError, Role, User, Username, ValidationErrors};
use pinion_store::{ApiTokenInfo, LAST_USED_GRANULARITY, Store};
use sha2::{Digest, Sha256};

use crate::cache::ReadCache;
use crate::{Actor, ServiceError};

/// How long a remembered token goes without its use being noted.
const LAST_USED_GRANULARITY_STD: std::time::Duration =
    std::time::Duration::from_secs(LAST_USED_GRANULARITY.num_seconds().unsigned_abs());

/// How many API tokens [`Users::authenticate`] remembers.
const KNOWN_TOKENS: usize = 10_000;

/// User management, as the CLI and the admin screens use it.
#[derive(Debug, Clone)]
pub struct Users {
    /// Users and their API tokens only.
    store: Arc<dyn pinion_store::UserStore>,
    /// The users of recently seen API tokens, by the token's SHA-256 (never
    /// the token itself), until the store changes.
    known_tokens: Arc<ReadCache<[u8; 32], Arc<User>>>,
}

impl Users {
    /// Works on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let known_tokens = Arc::new(ReadCache::new(store.changes().clone(), KNOWN_TOKENS));
        Self {
            store,
            known_tokens,
        }
    }

    /// Creates a user with a first API token; the token is returned once and
    /// stored only as a hash. The operator and admins may.
    #[tracing::instrument(skip_all, fields(username = %username, admin))]
    pub async fn create(
        &self,
        actor: impl Into<Actor>,
        username: &str,
        admin: bool,
    ) -> Result<(User, ApiToken), ServiceError> {
        manages_users(&actor.into())?;
        let username = Username::parse(username)?;
        let role = if admin { Role::Admin } else { Role::User };
        let created = self.store.create_user_with_token(&username, role).await?;
        tracing::info!(user_id = %created.0.id, "Created a user.");
        Ok(created)
    }

    /// Every user; for the operator and admins.
    pub async fn list(&self, actor: impl Into<Actor>) -> Result<Vec<User>, ServiceError> {
        manages_users(&actor.into())?;
        Ok(self.store.list_users().await?)
    }

    /// A user by username, for the operator, admins and the user
    /// themselves; unknown names are `NotFound`.
    pub async fn by_username(
        &self,
        actor: impl Into<Actor>,
        username: &str,
    ) -> Result<User, ServiceError> {
        let actor = actor.into();
        let username = Username::parse(username)?;
        if actor.user().is_none_or(|user| user.username != username) {
            manages_users(&actor)?;
        }
        Ok(self.store.get_user_by_username(&username).await?)
    }

    /// The user an API token belongs to; an unknown or revoked token is
    /// `None`. Notes the token's use (to the minute) for its owner's list.
    ///
    /// A token seen before is answered from memory until the store changes
    /// (a revocation, by this process or another, is such a change) or its
    /// last note is a minute old, when the store is asked again.
    /// The user is shared, not copied: every request with the token gets
    /// the same one.
    pub async fn authenticate(&self, token: &ApiToken) -> Result<Option<Arc<User>>, ServiceError> {
        let key: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
        let user = self
            .known_tokens
            .get_or_load(&key, LAST_USED_GRANULARITY_STD, || async {
                Ok::<_, ServiceError>(
                    self.store
                        .authenticate_api_token(token)
                        .await?
                        .map(Arc::new),
                )
            })
            .await?;
        Ok(user)
    }

    /// Issues an API token named `name` for `user` (the web UI and API): the
    /// token is returned once, with its listing entry.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create_named_token(
        &self,
        user: &User,
        name: &str,
    ) -> Result<(ApiToken, ApiTokenInfo), ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(ServiceError::Validation(ValidationErrors(vec![
                FieldError::new("name", "give the token a name of 1 to 64 characters"),
            ])));
        }
        let created = self.store.create_named_api_token(&user.id, name).await?;
        tracing::info!(token_id = %created.1.id, "Issued an API token.");
        Ok(created)
    }

    /// `user`'s API tokens (never their values), newest first.
    pub async fn tokens(&self, user: &User) -> Result<Vec<ApiTokenInfo>, ServiceError> {
        Ok(self.store.list_api_tokens(&user.id).await?)
    }

    /// Revokes `user`'s token `id`; another user's or an unknown id is
    /// `NotFound`.
    #[tracing::instrument(skip_all, fields(user_id = %user.id, token_id = %id))]
    pub async fn revoke_token(&self, user: &User, id: &ApiTokenId) -> Result<(), ServiceError> {
        if self.store.revoke_api_token_by_id(&user.id, id).await? {
            tracing::info!("Revoked an API token.");
            Ok(())
        } else {
            Err(ServiceError::NotFound { what: "API token" })
        }
    }

    /// Issues another API token for `user`: the operator, an admin or the
    /// user themselves may.
    pub async fn issue_token(
        &self,
        actor: impl Into<Actor>,
        user: &User,
    ) -> Result<ApiToken, ServiceError> {
        let actor = actor.into();
        if actor.id() != Some(&user.id) {
            manages_users(&actor)?;
        }
        Ok(self.store.create_api_token(&user.id).await?)
    }
}

/// Whether `actor` may manage other users: the operator and admins.
pub(crate) fn manages_users(actor: &Actor) -> Result<(), ServiceError> {
    match actor {
        Actor::Operator => Ok(()),
        Actor::User(user) if user.role == Role::Admin => Ok(()),
        _ => Err(ServiceError::Forbidden(
            "only the operator or an admin may manage users",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_operator_and_admins_manage_users_and_a_user_their_own_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::credentials::tests::store(&dir).await;
        let users = Users::new(store.clone());
        let sessions = crate::Sessions::new(store, std::sync::Arc::new(pinion_domain::SystemClock));
        let (alice, _) = users.create(Actor::Operator, "alice", false).await.unwrap();
        let (root, _) = users.create(Actor::Operator, "root", true).await.unwrap();
        let forbidden = |result: Result<_, ServiceError>| {
            assert!(
                matches!(result, Err(ServiceError::Forbidden(_))),
                "{:?}",
                result.map(|_: ()| ())
            )
        };
        forbidden(users.create(&alice, "mallory", true).await.map(|_| ()));
        forbidden(users.list(&alice).await.map(|_| ()));
        forbidden(users.by_username(&alice, "root").await.map(|_| ()));
        forbidden(users.issue_token(&alice, &root).await.map(|_| ()));
        forbidden(users.list(Actor::System).await.map(|_| ()));
        let password = pinion_domain::Password::new("correct horse battery");
        forbidden(
            sessions
                .set_password(&alice, "root", &password)
                .await
                .map(|_| ()),
        );
        // Their own: a token, their password, themselves by name.
        users.issue_token(&alice, &alice).await.unwrap();
        sessions
            .set_password(&alice, "alice", &password)
            .await
            .unwrap();
        assert_eq!(
            users.by_username(&alice, "alice").await.unwrap().id,
            alice.id
        );
        // An admin manages others.
        users.create(&root, "carol", false).await.unwrap();
        assert_eq!(users.list(&root).await.unwrap().len(), 3);
        users.issue_token(&root, &alice).await.unwrap();
    }
}
