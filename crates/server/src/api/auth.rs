//! API authentication: `Authorization: Bearer <API token>` names the user.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use pinion_domain::ApiToken;
use pinion_domain::User;

use super::ApiError;
use crate::AppState;

/// The user a request acts for, shared with the token cache.
#[derive(Debug, Clone)]
pub struct ApiUser(pub Arc<User>);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or_else(ApiError::unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::unauthorized());
        }
        let token = ApiToken::new(token.trim());
        match state.users.authenticate(&token).await? {
            Some(user) => Ok(ApiUser(user)),
            None => Err(ApiError::unauthorized()),
        }
    }
}
