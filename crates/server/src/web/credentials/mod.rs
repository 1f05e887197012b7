//! `/credentials…`: the credentials page, the Add New Credential overlay, the
//! overlay of a stored credential, its information screen, sharing and
//! deletion.

mod authorize;
pub mod check;
pub mod delete;
pub mod edit;
mod get;
pub mod info;
pub mod new;
pub mod scopes;
pub mod shares;
pub mod tile;

pub use get::get;

/// Where a finished overlay may send the browser: only our own screens, so a
/// crafted link cannot turn Save into a redirect elsewhere.
pub fn safe_return_to(requested: Option<&str>) -> &'static str {
    match requested {
        Some("/credentials") => "/credentials",
        Some("/destinations/new") => "/destinations/new",
        _ => "/sources/new",
    }
}
