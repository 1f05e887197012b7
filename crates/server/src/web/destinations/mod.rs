//! `/destinations…`: destinations, the boards pins are published to. A new
//! destination starts at the Authenticate screen, like a new source.

mod get;
pub mod new;
pub mod page;

pub use get::get;
