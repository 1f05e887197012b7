//! `/credentials/{id}/shares…`: sharing a credential with a collaborator
//! and withdrawing the share, from the forms of the information screen.

mod post;
pub mod withdraw;

pub use post::post;
