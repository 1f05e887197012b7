//! `/sources/new/configure`: the second step of a new source.

mod get;
mod post;

pub use get::{SourceValues, form, get};
pub use post::post;
