//! Pinion's domain types: identifiers, Pinterest scopes, secret newtypes and the
//! validated shape of a credential and a user.
//!
//! This crate does no IO and has no async code. Everything that crosses a trust
//! boundary (CLI arguments, JSON bodies, form fields) is turned into these types
//! through a validating constructor, so the rest of Pinion never sees an invalid
//! name, an unknown scope or a secret held as a plain `String`.
#![warn(missing_docs)]

pub mod clock;
pub mod credential;
pub mod id;
pub mod rate;
pub mod record;
pub mod schedule;
pub mod scope;
pub mod secret;
pub mod user;
pub mod validation;
pub mod webhook;

pub use clock::{Clock, SystemClock};
pub use credential::{
    ClientId, Credential, CredentialInput, CredentialName, CredentialPatchInput, CredentialStatus,
    CredentialUpdate, Description, NewCredential,
};
pub use id::{
    ApiTokenId, CredentialId, DestinationId, FlowId, MessageId, PublishId, RunId, SourceId, UserId,
    WebhookId,
};
pub use rate::RateTier;
pub use record::SyncMode;
pub use scope::{Scope, ScopeSet};
pub use secret::{
    AccessToken, ApiToken, AuthorizationCode, ClientSecret, OAuthState, Password, PkceVerifier,
    RefreshToken, WebhookSecret,
};
pub use user::{Role, User, Username};
pub use validation::{FieldError, ValidationErrors};
