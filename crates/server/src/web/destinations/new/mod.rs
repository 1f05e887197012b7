//! `/destinations/new`: "New destination".

pub mod configure;
mod get;

pub use get::get;
