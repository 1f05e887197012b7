//! Ad accounts and their analytics.

use serde_json::Value;

use crate::client::{PinterestClient, Request};
use crate::endpoint::{AD_ACCOUNT_ANALYTICS, AD_ACCOUNTS_GET, AD_ACCOUNTS_LIST};
use crate::error::ApiError;
use crate::id::AdAccountId;
use crate::models::{AdAccount, AnalyticsQuery, AnalyticsRow, RawRecord, Record};
use crate::pager::{PageRequest, PageStream};

use super::{invalid, parse_record};

impl PinterestClient {
    /// Pages of the ad accounts the user can see; `include_shared_accounts`
    /// is Pinterest's default (true) unless set.
    pub fn ad_accounts(
        &self,
        include_shared_accounts: Option<bool>,
        page: PageRequest,
    ) -> PageStream<AdAccount> {
        self.ad_accounts_as(include_shared_accounts, page)
    }

    /// [`PinterestClient::ad_accounts`] with each account kept as the
    /// bytes sent.
    pub fn ad_accounts_raw(
        &self,
        include_shared_accounts: Option<bool>,
        page: PageRequest,
    ) -> PageStream<RawRecord<AdAccountId>> {
        self.ad_accounts_as(include_shared_accounts, page)
    }

    /// The pages of [`PinterestClient::ad_accounts`] as any record type.
    fn ad_accounts_as<T: Record>(
        &self,
        include_shared_accounts: Option<bool>,
        page: PageRequest,
    ) -> PageStream<T> {
        let query: Vec<(&str, &str)> = include_shared_accounts
            .map(|shared| {
                (
                    "include_shared_accounts",
                    if shared { "true" } else { "false" },
                )
            })
            .into_iter()
            .collect();
        self.pages(&AD_ACCOUNTS_LIST, &[], &query, page)
    }

    /// One ad account.
    pub async fn ad_account(&self, ad_account_id: &AdAccountId) -> Result<AdAccount, ApiError> {
        let request = Request::new(
            &AD_ACCOUNTS_GET,
            &[("ad_account_id", ad_account_id.as_str())],
        )?;
        Ok(self
            .execute(request, parse_record::<AdAccount>)
            .await?
            .value)
    }

    /// An ad account's analytics (a JSON array, not paginated). The query is
    /// checked against Pinterest's window rules first, with today taken from
    /// the client's clock (UTC); a query that breaks them is refused with
    /// [`ApiError::InvalidRequest`] before any request.
    pub async fn ad_account_analytics(
        &self,
        ad_account_id: &AdAccountId,
        query: &AnalyticsQuery,
    ) -> Result<Vec<AnalyticsRow>, ApiError> {
        query
            .validate(self.today())
            .map_err(|reason| invalid(&AD_ACCOUNT_ANALYTICS, reason))?;
        let mut request = Request::new(
            &AD_ACCOUNT_ANALYTICS,
            &[("ad_account_id", ad_account_id.as_str())],
        )?;
        for (key, value) in query.to_query() {
            request = request.query(&key, value);
        }
        let parse = |body: &[u8]| -> Result<Vec<AnalyticsRow>, String> {
            let rows: Vec<Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            rows.into_iter()
                .map(|row| AnalyticsRow::from_json(row).map_err(|(_, reason)| reason))
                .collect()
        };
        Ok(self.execute(request, parse).await?.value)
    }
}
