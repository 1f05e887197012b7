//! `/sources/new`: "New data source".

mod get;

pub use get::get;
