//! `/credentials/{id}/check`: checks a credential against Pinterest.

mod post;

pub use post::post;
