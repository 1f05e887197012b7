//! The HTML of the authorization flow: the sign-in page, the consent page and the error
//! page. Plain forms that work without JavaScript; every dynamic value is escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::ops::ScopeSet;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The authorize request carried through the pages as hidden fields.
#[derive(Clone, Debug, Default)]
pub struct Carried {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
}

impl Carried {
    fn hidden_fields(&self) -> String {
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            out.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                escape(value)
            ));
        };
        field("client_id", &self.client_id);
        field("redirect_uri", &self.redirect_uri);
        field("response_type", "code");
        field("scope", &self.scope);
        if let Some(state) = &self.state {
            field("state", state);
        }
        out
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{} | Pinterest simulator</title>\n\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{padding:.5rem 1.2rem;margin-right:.5rem}}li{{margin:.3rem 0}}</style>\n\
         </head>\n<body>\n<p><strong>Pinterest</strong> (simulator)</p>\n{}\n</body>\n</html>\n",
        escape(title),
        body
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // No `form-action`: browsers apply it to the redirect that follows a form
    // submission, so it would block the consent page's redirect to the app.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    res
}

/// The sign-in page.
pub fn login(carried: &Carried, csrf: &str, username: &str, error: Option<&str>) -> Response {
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Log in to see more</h1>\n{error_html}\
         <form id=\"login\" method=\"post\" action=\"/oauth/login\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\n{}\
         <p><label>Username <input type=\"text\" name=\"username\" value=\"{}\" autocomplete=\"username\" required></label></p>\n\
         <p><label>Password <input type=\"password\" name=\"password\" value=\"\" autocomplete=\"current-password\" required></label></p>\n\
         <p><button type=\"submit\">Log in</button></p>\n</form>",
        escape(csrf),
        carried.hidden_fields(),
        escape(username)
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(status, "Log in", &body)
}

/// The consent page naming the app and every requested scope.
pub fn consent(
    carried: &Carried,
    csrf: &str,
    app_name: &str,
    username: &str,
    scopes: ScopeSet,
) -> Response {
    let items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code>: {}</li>\n",
                escape(s.as_str()),
                escape(s.description())
            )
        })
        .collect();
    let body = format!(
        "<h1>Give {app} access to your Pinterest account</h1>\n\
         <p>Signed in as <strong>{user}</strong>.</p>\n\
         <p>{app} is asking to:</p>\n<ul id=\"scopes\">\n{items}</ul>\n\
         <form id=\"consent\" method=\"post\" action=\"/oauth/consent\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\n{hidden}\
         <p><button type=\"submit\" name=\"decision\" value=\"accept\">Give access</button>\
         <button type=\"submit\" name=\"decision\" value=\"decline\">Decline</button></p>\n</form>",
        app = escape(app_name),
        user = escape(username),
        csrf = escape(csrf),
        hidden = carried.hidden_fields(),
    );
    page(StatusCode::OK, "Give access", &body)
}

/// An error page; the authorization flow never redirects to an unverified URI.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Something went wrong</h1>\n<p id=\"error\">{}</p>",
        escape(message)
    );
    page(status, "Error", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
