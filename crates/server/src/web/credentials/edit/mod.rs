//! `/credentials/{id}/edit`: the overlay of a stored credential.

mod get;
mod post;

pub use get::get;
pub use post::post;

use pinion_domain::{Credential, CredentialId};

use crate::AppState;
use crate::web::{Session, WebError};

/// The credential `id` if the session's user owns it; otherwise the same
/// 404 as for an unknown id (an admin may read others' metadata elsewhere,
/// but never edit or authorize it).
pub async fn owned(
    state: &AppState,
    session: &Session,
    id: &CredentialId,
) -> Result<Credential, WebError> {
    Ok(state.credentials.get_to_manage(&session.user, id).await?)
}

/// The credential `id` if the session's user may use it for a source or
/// destination: their own, or one shared with them. A withdrawn share is a
/// 403 saying so; anything else the same 404 as for an unknown id.
pub async fn usable(state: &AppState, session: &Session, id: &str) -> Result<Credential, WebError> {
    let id = WebError::path_id::<CredentialId>(id)?;
    Ok(state.credentials.usable_by(&session.user, &id).await?)
}
