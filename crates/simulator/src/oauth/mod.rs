//! Pinterest's OAuth surface: the authorization pages at `/oauth/` and the token endpoint
//! at `/v5/oauth/token`.

pub mod authorize;
pub mod pages;
pub mod session;
pub mod token;
