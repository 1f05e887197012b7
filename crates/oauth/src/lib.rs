//! Pinterest's OAuth2 authorization-code flow, as a client: the consent-page
//! URL with `state` and PKCE, the code exchange, and refresh.
//!
//! This crate knows Pinterest's OAuth URLs and JSON and nothing about Pinion's
//! database or web server. The credential service stores what it hands back:
//! a flow's [`StateHash`] and sealed [`pinion_domain::PkceVerifier`], and the
//! tokens, expiries and scopes of a [`TokenResponse`]. Token requests make one
//! attempt each and report failures as a [`TokenError`] whose variant says
//! what the caller must do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use pinion_domain::{AuthorizationCode, ClientId, ClientSecret, ScopeSet, SystemClock};
//! use pinion_oauth::{OAuthConfig, PinterestOAuth, RedirectUri, state_hash};
//!
//! let oauth = PinterestOAuth::new(OAuthConfig::default(), Arc::new(SystemClock))?;
//! let client_id = ClientId::parse("1234567")?;
//! let redirect = RedirectUri::parse("https://pinion.example/oauth/pinterest/callback")?;
//! let flow = oauth.start_authorization(&client_id, &redirect, &ScopeSet::default_requested());
//! let _store_this = (state_hash(&flow.state), &flow.pkce_verifier);
//! // ... the user approves; the callback brings `code` back ...
//! let code = AuthorizationCode::new("from the callback");
//! let secret = ClientSecret::new("from the store");
//! let tokens = oauth
//!     .exchange_code(&client_id, &secret, &code, &redirect, &flow.pkce_verifier)
//!     .await?;
//! # let _ = tokens; Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod authorization;
pub mod client;
pub mod config;
pub mod error;
pub mod state;
pub mod token_response;

pub use authorization::{
    AuthorizationRequest, AuthorizationUrl, authorization_url, pkce_challenge, start_authorization,
};
pub use client::{PinterestOAuth, basic_authorization};
pub use config::{
    ConfigError, DEFAULT_API_URL, DEFAULT_AUTHORIZATION_URL, OAuthConfig, RedirectUri,
};
pub use error::{PinterestMessage, ResponseProblem, TokenError, TransientCause};
pub use state::{StateHash, constant_time_eq, state_hash, states_match};
pub use token_response::{
    ASSUMED_ACCESS_TOKEN_LIFETIME, InvalidTokenResponse, MAX_TOKEN_LIFETIME, ResponseNote,
    TokenResponse,
};
