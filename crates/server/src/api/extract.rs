//! Extractors whose every rejection is the API's JSON error body.
//!
//! axum's own `Json`, `Query` and `Path` reject in `text/plain`; these wrap
//! them and turn the rejection into an [`ApiError`]: malformed JSON 400, a
//! body over the server's limit 413, a missing or wrong content type 415, a
//! body of the wrong shape 422, a malformed query string or path 400. Every
//! handler of `/api/v1` takes its body, query and path through them.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// A JSON request body (`Content-Type: application/json`).
///
/// As an `Option<ApiJson<T>>` the body is optional: a request without a
/// content type has none, one with a content type must be valid JSON.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = <Json<Value> as FromRequest<S>>::from_request(req, state).await?;
        Self::from_value(value)
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// `T` from a well-formed body, which must be a JSON object (or `null`,
    /// which `T` may refuse): serde would otherwise take a struct from an
    /// array of its fields, a shape the document does not allow.
    fn from_value(value: Value) -> Result<Self, ApiError> {
        if !(value.is_object() || value.is_null()) {
            return Err(ApiError::unprocessable(
                "invalid_json",
                "the JSON body must be an object",
            ));
        }
        // Parsed again from its bytes, so errors name the field at fault
        // exactly as axum's `Json` does.
        let bytes = serde_json::to_vec(&value).map_err(|err| ApiError::internal(&err))?;
        let Json(value) = Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

impl<T, S> OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        match <Json<Value> as OptionalFromRequest<S>>::from_request(req, state).await? {
            Some(Json(value)) => Self::from_value(value).map(Some),
            None => Ok(None),
        }
    }
}

/// A query string.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Path parameters.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection @ PathRejection::FailedToDeserializePathParams(_)) => Err(
                ApiError::bad_request(format!("invalid path: {}", rejection.body_text())),
            ),
            Err(rejection) => Err(ApiError::internal(&rejection.body_text())),
        }
    }
}
