//! The Access Scope picker of the credential overlays (issue 15): all of
//! Pinterest's scopes with what each allows, grouped into read and write,
//! one checkbox each. Scopes granted at the last authorization are marked.
//!
//! The checkboxes are named `scope.<scope>`; a hidden `scope_picker` field
//! says the form had the picker, so that nothing checked means "no scope"
//! (an error naming the field) rather than "field not sent". A plain
//! `scopes` field (comma-separated, as the API takes) is still read, so a
//! form posted without the picker works as before.

use std::collections::HashMap;

use maud::{Markup, html};
use pinion_domain::{FieldError, Scope, ScopeSet};

use crate::web::layout::field_error;

/// Prefix of each checkbox's name.
const PREFIX: &str = "scope.";

/// The marker field the picker posts.
const MARKER: &str = "scope_picker";

fn is_read(scope: Scope) -> bool {
    scope.as_str().ends_with(":read") || scope.as_str().ends_with(":read_secret")
}

/// The picker with the scopes of `selected` (comma- or space-separated;
/// unknown words are ignored) checked, `granted` marked, and the `scopes`
/// field's error from `errors`.
pub fn picker(selected: &str, granted: Option<&ScopeSet>, errors: &[FieldError]) -> Markup {
    let (selected, _) = ScopeSet::parse_lenient(selected);
    let error = field_error(errors, "scopes");
    let group = |title: &str, read: bool| {
        html! {
            fieldset class="scope-group" {
                legend { (title) }
                @for scope in Scope::ALL.iter().copied().filter(|s| is_read(*s) == read) {
                    @let id = format!("scope-{}", scope.as_str().replace(':', "-"));
                    div class="scope" {
                        input type="checkbox" id=(id) name={ (PREFIX) (scope.as_str()) }
                            value="on" checked[selected.contains(scope)];
                        label for=(id) {
                            code { (scope.as_str()) }
                            @if granted.is_some_and(|g| g.contains(scope)) {
                                " " span class="granted" { "granted" }
                            }
                            span class="what" { (scope.description()) }
                        }
                    }
                }
            }
        }
    };
    html! {
        fieldset class={ "field scope-picker" @if error.is_some() { " invalid" } } id="scopes"
            aria-describedby=[error.is_some().then_some("scopes-error")] {
            legend { "Access Scope" }
            input type="hidden" name=(MARKER) value="1";
            p class="hint" {
                "What Pinion may do with the Pinterest account. Pinterest asks its owner to \
                 grant these when you authorize; a change takes effect at the next authorization."
            }
            div class="scope-groups" {
                (group("Read", true))
                (group("Write", false))
            }
            @if let Some(error) = error { p class="error" id="scopes-error" { (crate::web::layout::prose(error)) } }
        }
    }
}

/// The Access Scope a posted form asks for, as the API's comma-separated
/// text: the checked boxes (in Pinterest's order) and any `scopes` text.
/// With the picker and nothing chosen, text that fails validation with
/// "must name at least one scope"; without the picker, the text as sent
/// (`None` when the form sent neither).
pub fn posted(text: Option<&str>, fields: &HashMap<String, String>) -> Option<String> {
    if !fields.contains_key(MARKER) {
        return text.map(str::to_owned);
    }
    let text = text.unwrap_or("");
    let mut chosen: Vec<&str> = Scope::ALL
        .iter()
        .map(|scope| scope.as_str())
        .filter(|name| fields.contains_key(&format!("{PREFIX}{name}")))
        .collect();
    chosen.extend(
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty()),
    );
    Some(if chosen.is_empty() {
        // Not blank (blank would mean "the default scopes").
        ",".to_owned()
    } else {
        chosen.join(",")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn checked_boxes_become_the_scope_text_and_none_is_an_error() {
        let posted_fields = fields(&[
            ("scope_picker", "1"),
            ("scope.pins:read", "on"),
            ("scope.boards:read", "on"),
        ]);
        assert_eq!(
            posted(None, &posted_fields).as_deref(),
            Some("boards:read,pins:read")
        );
        let none = posted(Some(""), &fields(&[("scope_picker", "1")])).unwrap();
        let err = pinion_domain::credential::parse_requested_scopes(Some(&none)).unwrap_err();
        assert_eq!(err.field, "scopes");
        assert!(err.message.contains("at least one"), "{}", err.message);
        // Without the picker the text is used as sent, and nothing sent is
        // no change (other fields are not scopes).
        assert_eq!(
            posted(Some("boards:read"), &fields(&[])).as_deref(),
            Some("boards:read")
        );
        assert_eq!(posted(None, &fields(&[("scope.ads:read", "on")])), None);
    }

    #[test]
    fn the_picker_lists_every_scope_with_its_description() {
        let page = picker("boards:read,pins:read", None, &[]).into_string();
        for scope in Scope::ALL {
            assert!(page.contains(scope.as_str()), "{scope}");
            assert!(page.contains(scope.description()), "{scope}");
        }
        assert_eq!(page.matches("checked").count(), 2, "{page}");
    }
}
