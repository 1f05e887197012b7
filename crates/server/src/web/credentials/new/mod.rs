//! `/credentials/new`: the Add New Credential overlay.

mod get;
mod post;

pub use get::{OverlayValues, get, overlay};
pub use post::post;
