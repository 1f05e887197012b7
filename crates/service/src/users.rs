//! Pinion users and their API tokens.

use std::sync::Arc;

use pinion_domain::{ApiToken, Role, Username};
use pinion_store::{Store, User};

use crate::ServiceError;

/// User management, as the CLI and the admin screens use it.
#[derive(Debug, Clone)]
pub struct Users {
    store: Arc<dyn Store>,
}

impl Users {
    /// Works on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a user with a first API token; the token is returned once and
    /// stored only as a hash.
    #[tracing::instrument(skip_all, fields(username = %username, admin))]
    pub async fn create(
        &self,
        username: &str,
        admin: bool,
    ) -> Result<(User, ApiToken), ServiceError> {
        let username = Username::parse(username)?;
        let role = if admin { Role::Admin } else { Role::User };
        let created = self.store.create_user_with_token(&username, role).await?;
        tracing::info!(user_id = %created.0.id, "Created a user.");
        Ok(created)
    }

    /// Every user.
    pub async fn list(&self) -> Result<Vec<User>, ServiceError> {
        Ok(self.store.list_users().await?)
    }

    /// A user by username; unknown names are `NotFound`.
    pub async fn by_username(&self, username: &str) -> Result<User, ServiceError> {
        let username = Username::parse(username)?;
        Ok(self.store.get_user_by_username(&username).await?)
    }

    /// The user an API token belongs to; an unknown or revoked token is `None`.
    pub async fn authenticate(&self, token: &ApiToken) -> Result<Option<User>, ServiceError> {
        Ok(self.store.user_for_api_token(token).await?)
    }

    /// Issues another API token for `user`.
    pub async fn issue_token(&self, user: &User) -> Result<ApiToken, ServiceError> {
        Ok(self.store.create_api_token(&user.id).await?)
    }
}
