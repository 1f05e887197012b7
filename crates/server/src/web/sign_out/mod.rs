//! `/sign-out`: ends the session.

mod post;

pub use post::post;
