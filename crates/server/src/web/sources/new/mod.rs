//! `/sources/new`: "New data source".

pub mod configure;
mod get;

pub use get::get;
