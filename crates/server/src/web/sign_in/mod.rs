//! `/sign-in`: the password form and its handling.

mod get;
mod post;

pub use get::get;
pub use post::post;
pub(crate) use post::{form_token_ok, signed_in_response};
