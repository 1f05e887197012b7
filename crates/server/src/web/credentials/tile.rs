//! One credential as a tile: name, description, status with its reason,
//! granted scopes, last refresh and expiry. Shared by the credentials page and
//! the Authenticate screen (where tiles are radio buttons). Never shows a
//! secret: the record holds none.

use maud::{Markup, html};
use pinion_domain::CredentialStatus;
use pinion_store::CredentialRecord;

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
pub fn tile(record: &CredentialRecord, selected: bool, mode: TileMode, csrf: &str) -> Markup {
    let class = if selected { "tile selected" } else { "tile" };
    let id = record.id.as_str();
    let body = html! {
        h2 { (record.name.as_str()) }
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
        }
    };
    match mode {
        TileMode::Pick => html! {
            label class=(class) data-credential=(id) {
                input type="radio" name="credential" value=(id) checked[selected];
                (body)
            }
        },
        TileMode::Manage => html! {
            div class=(class) data-credential=(id) {
                (body)
                div class="actions" {
                    a href={ "/credentials/" (id) "/info" } { "Details" }
                    a href={ "/credentials/" (id) "/edit?return_to=/credentials" } { "Edit" }
                    form method="post" action={ "/credentials/" (id) "/edit" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="action" value="authorize";
                        input type="hidden" name="return_to" value="/credentials";
                        button type="submit" {
                            @if record.status == CredentialStatus::Active { "Reauthorize" } @else { "Authorize" }
                        }
                    }
                }
            }
        },
    }
}
