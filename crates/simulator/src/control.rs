//! A typed client of the control API, for tests in this and other crates: it drives a
//! simulator running in-process (see [`crate::spawn`]) or in another process, by base URL.

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{
    AppInfo, AppSpec, FaultInfo, FaultSpec, Stats, Stream, UserInfo, UserPatch, UserSpec,
};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request did not complete.
    #[error("control request failed")]
    Http(#[from] reqwest::Error),
    /// The simulator refused the request.
    #[error("control API answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The `error` message of the body.
        message: String,
    },
}

/// A client of one simulator's `/_sim/` API.
#[derive(Clone, Debug)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    /// A client for the simulator at `base_url` (for example `http://127.0.0.1:9090`).
    pub fn new(base_url: impl Into<String>) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// The simulator's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.base)
    }

    async fn check(res: reqwest::Response) -> Result<reqwest::Response, ControlError> {
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        Err(ControlError::Refused {
            status,
            message: body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
    }

    async fn json<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, ControlError> {
        Ok(Self::check(res).await?.json().await?)
    }

    /// Waits until the simulator answers.
    pub async fn health(&self) -> Result<(), ControlError> {
        Self::check(self.http.get(self.url("/health")).send().await?).await?;
        Ok(())
    }

    /// Registers an app; the answer holds its (possibly generated) id and secret.
    pub async fn register_app(&self, spec: &AppSpec) -> Result<AppInfo, ControlError> {
        Self::json(self.http.post(self.url("/apps")).json(spec).send().await?).await
    }

    /// Lists the registered apps.
    pub async fn apps(&self) -> Result<Vec<AppInfo>, ControlError> {
        Self::json(self.http.get(self.url("/apps")).send().await?).await
    }

    /// Gives an app a new secret and returns it; existing tokens stay valid.
    pub async fn reset_app_secret(&self, client_id: &str) -> Result<String, ControlError> {
        let url = self.url(&format!("/apps/{client_id}/reset_secret"));
        let v: Value = Self::json(self.http.post(url).send().await?).await?;
        Ok(v["client_secret"].as_str().unwrap_or_default().to_owned())
    }

    /// Registers a user with generated data.
    pub async fn register_user(&self, spec: &UserSpec) -> Result<UserInfo, ControlError> {
        Self::json(self.http.post(self.url("/users")).json(spec).send().await?).await
    }

    /// Lists the registered users.
    pub async fn users(&self) -> Result<Vec<UserInfo>, ControlError> {
        Self::json(self.http.get(self.url("/users")).send().await?).await
    }

    /// One user.
    pub async fn user(&self, username: &str) -> Result<UserInfo, ControlError> {
        Self::json(
            self.http
                .get(self.url(&format!("/users/{username}")))
                .send()
                .await?,
        )
        .await
    }

    /// Turns headless consent on or off for a user.
    pub async fn set_auto_approve(
        &self,
        username: &str,
        auto_approve: bool,
    ) -> Result<UserInfo, ControlError> {
        let patch = UserPatch {
            auto_approve: Some(auto_approve),
        };
        Self::json(
            self.http
                .patch(self.url(&format!("/users/{username}")))
                .json(&patch)
                .send()
                .await?,
        )
        .await
    }

    /// Revokes everything a user granted to an app (Pinterest's "Connected apps" removal);
    /// returns the number of token families revoked.
    pub async fn revoke_grant(&self, username: &str, client_id: &str) -> Result<u64, ControlError> {
        let url = self.url(&format!("/users/{username}/grants/{client_id}"));
        let v: Value = Self::json(self.http.delete(url).send().await?).await?;
        Ok(v["revoked_families"].as_u64().unwrap_or(0))
    }

    /// Expires a user's access tokens now (of one app, or of all); returns how many.
    pub async fn expire_access_tokens(
        &self,
        username: &str,
        client_id: Option<&str>,
    ) -> Result<u64, ControlError> {
        let mut req = self
            .http
            .post(self.url(&format!("/users/{username}/expire_tokens")));
        if let Some(c) = client_id {
            req = req.query(&[("client_id", c)]);
        }
        let v: Value = Self::json(req.send().await?).await?;
        Ok(v["expired"].as_u64().unwrap_or(0))
    }

    /// Injects a fault; returns its id.
    pub async fn inject_fault(&self, spec: &FaultSpec) -> Result<u64, ControlError> {
        let v: Value = Self::json(
            self.http
                .post(self.url("/faults"))
                .json(spec)
                .send()
                .await?,
        )
        .await?;
        Ok(v["id"].as_u64().unwrap_or(0))
    }

    /// Lists active faults.
    pub async fn faults(&self) -> Result<Vec<FaultInfo>, ControlError> {
        Self::json(self.http.get(self.url("/faults")).send().await?).await
    }

    /// Removes one fault.
    pub async fn remove_fault(&self, id: u64) -> Result<(), ControlError> {
        Self::check(
            self.http
                .delete(self.url(&format!("/faults/{id}")))
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    /// Removes every fault.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        Self::check(self.http.delete(self.url("/faults")).send().await?).await?;
        Ok(())
    }

    /// Call statistics.
    pub async fn stats(&self) -> Result<Stats, ControlError> {
        Self::json(self.http.get(self.url("/stats")).send().await?).await
    }

    /// Resets the call statistics.
    pub async fn reset_stats(&self) -> Result<(), ControlError> {
        Self::check(self.http.delete(self.url("/stats")).send().await?).await?;
        Ok(())
    }

    /// The ids a complete sync of one stream of a user's data should produce, in the
    /// order the API lists them.
    pub async fn expected_ids(
        &self,
        username: &str,
        stream: Stream,
    ) -> Result<Vec<String>, ControlError> {
        let mut ids = Vec::new();
        self.for_each_expected_id(username, stream, |id| ids.push(id.to_owned()))
            .await?;
        Ok(ids)
    }

    /// Streams the expected ids of one stream to `f` without holding them all.
    pub async fn for_each_expected_id(
        &self,
        username: &str,
        stream: Stream,
        mut f: impl FnMut(&str),
    ) -> Result<(), ControlError> {
        let url = self.url(&format!("/users/{username}/ids/{}", stream.as_str()));
        let res = Self::check(self.http.get(url).send().await?).await?;
        let mut body = res.bytes_stream();
        let mut pending = Vec::new();
        while let Some(chunk) = body.next().await {
            pending.extend_from_slice(&chunk?);
            while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                f(String::from_utf8_lossy(&line[..line.len() - 1]).as_ref());
            }
        }
        if !pending.is_empty() {
            f(String::from_utf8_lossy(&pending).as_ref());
        }
        Ok(())
    }

    /// A convenience for tests: registers an app with one redirect URI and returns it.
    pub async fn register_test_app(
        &self,
        name: &str,
        redirect_uri: &str,
    ) -> Result<AppInfo, ControlError> {
        let spec = AppSpec {
            name: name.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            ..AppSpec::default()
        };
        self.register_app(&spec).await
    }
}
