//! One credential as a tile: name, description, status with its reason,
//! granted scopes, last refresh and expiry. Shared by the credentials page and
//! the Authenticate screen (where tiles are radio buttons). Never shows a
//! secret: the record holds none.

use maud::{Markup, html};
use pinion_domain::Credential;
use pinion_domain::CredentialStatus;

use crate::web::layout::when;

/// How a tile is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileMode {
    /// On the credentials page, with actions.
    Manage,
    /// On the Authenticate screen, as a radio button.
    Pick,
}

/// The tile of `record`; `selected` outlines it (and checks its radio).
pub fn tile(record: &Credential, selected: bool, mode: TileMode, csrf: &str) -> Markup {
    tile_of(record, None, selected, mode, csrf)
}

/// The tile of a credential shared with the user by `owner`: marked "Shared
/// by <owner>", pickable on the Authenticate screens, without actions on the
/// credentials page (only the owner manages it).
pub fn shared_tile(
    record: &Credential,
    owner: &str,
    selected: bool,
    mode: TileMode,
    csrf: &str,
) -> Markup {
    tile_of(record, Some(owner), selected, mode, csrf)
}

/// A radio tile for the Authenticate screens: the user's own credential or
/// one shared with them; `selected` is the picked credential's id.
pub fn pick_tile(
    credential: &pinion_service::UsableCredential,
    selected: Option<&str>,
    csrf: &str,
) -> Markup {
    let record = &credential.record;
    let is_selected = selected == Some(record.id.as_str());
    tile_of(
        record,
        credential.shared_by.as_ref().map(|u| u.as_str()),
        is_selected,
        TileMode::Pick,
        csrf,
    )
}

fn tile_of(
    record: &Credential,
    shared_by: Option<&str>,
    selected: bool,
    mode: TileMode,
    csrf: &str,
) -> Markup {
    let class = match (selected, shared_by.is_some()) {
        (true, true) => "tile shared selected",
        (true, false) => "tile selected",
        (false, true) => "tile shared",
        (false, false) => "tile",
    };
    let id = record.id.as_str();
    let body = html! {
        h2 { (record.name.as_str()) }
        @if let Some(owner) = shared_by {
            p class="shared-by" { "Shared by " strong { (owner) } }
        }
        @if let Some(description) = &record.description {
            p class="desc" { (description.as_str()) }
        }
        span class={ "status " (record.status.as_str()) } { (record.status.label()) }
        @if matches!(record.status, CredentialStatus::Error | CredentialStatus::NeedsReauthorization) {
            @if let Some(reason) = &record.last_error {
                p class="reason" { (reason) }
            }
        }
        dl {
            dt { "Scopes" }
            dd class="granted-scopes" {
                @match &record.granted_scopes {
                    Some(granted) => (granted.to_comma_separated()),
                    None => "none granted yet",
                }
            }
            dt { "Last refreshed" }
            dd { (when(record.last_refreshed_at)) }
            dt { "Expires" }
            dd { (when(record.access_token_expires_at)) }
            dt { "Last checked" }
            dd class="last-checked" { (when(record.last_checked_at)) }
        }
    };
    match mode {
        TileMode::Pick => html! {
            label class=(class) data-credential=(id) {
                input type="radio" name="credential" value=(id) checked[selected];
                (body)
            }
        },
        TileMode::Manage if shared_by.is_some() => html! {
            div class=(class) data-credential=(id) {
                (body)
                p class="hint" { "You can use it for your sources and destinations; only its owner can change it." }
            }
        },
        TileMode::Manage => html! {
            div class=(class) data-credential=(id) {
                (body)
                div class="actions" {
                    a href={ "/credentials/" (id) "/info" } { "Details" }
                    a href={ "/credentials/" (id) "/edit?return_to=/credentials" } { "Edit" }
                    a href={ "/credentials/" (id) "/info#share" } { "Share" }
                    form method="post" action={ "/credentials/" (id) "/edit" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="action" value="authorize";
                        input type="hidden" name="return_to" value="/credentials";
                        button type="submit" {
                            @if record.status == CredentialStatus::NeedsAuthorization { "Authorize" } @else { "Reauthorize" }
                        }
                    }
                }
            }
        },
    }
}
