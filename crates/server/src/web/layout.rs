//! The page shell every screen shares: head, navigation, sign-out form.

use maud::{DOCTYPE, Markup, html};

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
