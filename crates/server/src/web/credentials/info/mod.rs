//! `/credentials/{id}/info`: the credential information screen.

mod get;

pub use get::get;
