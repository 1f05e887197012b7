//! `/sources/new/configure`: the second step of a new source.

mod get;
mod post;

pub use get::{CredentialLabel, FormTarget, SourceValues, form, get};
pub(crate) use post::parse;
pub use post::post;
