//! The page shell every screen shares: head, navigation, sign-out form.

use maud::{DOCTYPE, Markup, html};
use pinion_domain::FieldError;

use super::Session;

/// A full page titled `title` around `content`, for a signed-in `session`.
pub fn page(title: &str, session: &Session, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Pinion" }
                link rel="stylesheet" href="/static/pinion.css";
                script src="/static/pinion.js" defer {}
            }
            body {
                header class="top" {
                    a class="brand" href="/credentials" { "Pinion" }
                    nav {
                        a href="/credentials" { "Credentials" }
                        a href="/sources" { "Sources" }
                        a href="/sources/new" { "New data source" }
                        a href="/destinations" { "Destinations" }
                        a href="/destinations/new" { "New destination" }
                        a href="/settings/tokens" { "API tokens" }
                        a href="/webhooks" { "Webhooks" }
                    }
                    form class="sign-out" method="post" action="/sign-out" {
                        span class="who" { (session.user.username.as_str()) }
                        input type="hidden" name="csrf" value=(session.csrf());
                        button type="submit" { "Sign out" }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// A page for someone not signed in (the sign-in page).
pub fn public_page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Pinion" }
                link rel="stylesheet" href="/static/pinion.css";
            }
            body {
                main class="narrow" { (content) }
            }
        }
    }
}

/// A time for display, in UTC to the minute.
pub fn when(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match time {
        Some(time) => time.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "never".to_owned(),
    }
}

/// A message for people with its `backticked` parts (field names, values,
/// commands, as the service writes them) shown as code rather than as
/// literal backticks.
pub fn prose(text: impl AsRef<str>) -> Markup {
    let text = text.as_ref();
    if text.matches('`').count() % 2 == 1 {
        // Unpaired: not a code span.
        return html! { (text) };
    }
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// The message of `errors` about `field`, if any.
pub fn field_error<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|error| error.field == field)
        .map(|error| error.message.as_str())
}

/// A labelled text input named and identified `id`, holding `value`, with
/// an optional hint and the error about `id` from `errors` tied to it for
/// screen readers.
pub fn text_field(
    id: &'static str,
    label: &str,
    value: &str,
    hint: Option<&str>,
    errors: &[FieldError],
) -> Markup {
    let error = field_error(errors, id);
    html! {
        div class={ "field" @if error.is_some() { " invalid" } } {
            label for=(id) { (label) }
            input type="text" id=(id) name=(id) value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{id}-error"))];
            @if let Some(hint) = hint { p class="hint" { (hint) } }
            @if let Some(error) = error { p class="error" id={ (id) "-error" } { (prose(error)) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn backticked_parts_become_code_and_text_is_escaped() {
        assert_eq!(
            prose("must be a name such as `weekly` or `a<b`").into_string(),
            "must be a name such as <code>weekly</code> or <code>a&lt;b</code>"
        );
        // An unpaired backtick is left as it is.
        assert_eq!(prose("it's `odd").into_string(), "it's `odd");
    }
}
