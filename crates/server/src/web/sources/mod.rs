//! `/sources…`: data sources. Creating one starts at the Authenticate screen.

pub mod edit;
mod get;
pub mod new;
pub mod runs;
pub mod schedule;

pub use get::get;
