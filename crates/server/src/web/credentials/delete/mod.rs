//! `/credentials/{id}/delete`: deletion after confirmation.

mod post;

pub use post::post;
