//! `/sources…`: data sources. Creating one starts at the Authenticate screen.

pub mod new;
