//! `GET /user_account`.

use crate::client::{PinterestClient, Request};
use crate::endpoint::USER_ACCOUNT_GET;
use crate::error::ApiError;
use crate::models::Account;

use super::parse_record;

impl PinterestClient {
    /// The token's user account (or the business account the client acts for).
    pub async fn user_account(&self) -> Result<Account, ApiError> {
        let request = Request::new(&USER_ACCOUNT_GET, &[])?;
        Ok(self.execute(request, parse_record::<Account>).await?.value)
    }
}
