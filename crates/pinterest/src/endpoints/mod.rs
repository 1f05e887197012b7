//! Typed methods of [`PinterestClient`], one file per API resource, plus the
//! generic JSON methods used for operations read from the spec at run time.

mod ad_accounts;
mod board_sections;
mod boards;
mod pins;
mod user_account;

pub use boards::BoardsQuery;
pub use pins::{PinFilter, PinGetQuery, PinListQuery, PinsQuery};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{PinterestClient, Request};
use crate::endpoint::Endpoint;
use crate::error::ApiError;

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

pub(crate) fn parse_record<T: crate::models::Record>(body: &[u8]) -> Result<T, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    T::from_json(value).map_err(|(_, reason)| reason)
}

pub(crate) fn ignore_body(_: &[u8]) -> Result<(), String> {
    Ok(())
}

pub(crate) fn invalid(endpoint: &Endpoint, reason: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidRequest {
        endpoint: endpoint.clone(),
        reason: reason.to_string(),
    }
}

impl PinterestClient {
    /// Calls a read operation that answers one JSON value (not a list), e.g.
    /// an operation named by the user from the spec.
    pub async fn get_json(
        &self,
        endpoint: &Endpoint,
        params: &[(&str, &str)],
        query: &[(&str, &str)],
    ) -> Result<Value, ApiError> {
        let mut request = Request::new(endpoint, params)?;
        for (key, value) in query {
            request = request.query(key, *value);
        }
        Ok(self.execute(request, parse_json::<Value>).await?.value)
    }

    /// Calls a write operation (POST, PATCH or DELETE) with an optional JSON
    /// body. Returns the answer's JSON, or `None` for an empty answer (204).
    /// The write is not repeated after a failure that may have reached
    /// Pinterest; such failures are [`ApiError::Ambiguous`].
    pub async fn write_json<B: Serialize + ?Sized>(
        &self,
        endpoint: &Endpoint,
        params: &[(&str, &str)],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<Option<Value>, ApiError> {
        let mut request = Request::new(endpoint, params)?;
        for (key, value) in query {
            request = request.query(key, *value);
        }
        if let Some(body) = body {
            request = request.json_body(body)?;
        }
        let parse = |body: &[u8]| -> Result<Option<Value>, String> {
            if body.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                parse_json(body).map(Some)
            }
        };
        Ok(self.execute(request, parse).await?.value)
    }
}
