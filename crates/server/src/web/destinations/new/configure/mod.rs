//! `/destinations/new/configure`: the destination's name and board.

mod get;
mod post;

pub use get::{form, get};
pub use post::post;
