//! The browser path: the sign-in and consent pages render as plain HTML forms and work
//! when submitted without JavaScript, with a cookie jar kept by hand.

use reqwest::StatusCode;

use crate::helpers::{REDIRECT, TestSim, start};

/// A parsed HTML form: its action and its inputs (hidden, text and password).
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn parse_form(html: &str, id: &str) -> Form {
    let start = html
        .find(&format!("<form id=\"{id}\""))
        .unwrap_or_else(|| panic!("form {id} is on the page: {html}"));
    let end = html[start..].find("</form>").unwrap() + start;
    let form = &html[start..end];
    let open_end = form.find('>').unwrap();
    assert_eq!(attr(&form[..open_end], "method").as_deref(), Some("post"));
    let action = attr(&form[..open_end], "action").unwrap();
    let mut fields = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        if let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((name, value));
        }
    }
    Form { action, fields }
}

fn set_field(form: &mut Form, name: &str, value: &str) {
    match form.fields.iter_mut().find(|(k, _)| k == name) {
        Some(f) => f.1 = value.to_owned(),
        None => form.fields.push((name.to_owned(), value.to_owned())),
    }
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pinion_sim_session="))
        .map(|v| {
            assert!(v.contains("HttpOnly"));
            v.split(';').next().unwrap().to_owned()
        })
}

async fn submit(t: &TestSim, form: &Form, cookie: &str) -> reqwest::Response {
    t.http
        .post(format!("{}{}", t.sim.base_url(), form.action))
        .header("cookie", cookie)
        .form(&form.fields)
        .send()
        .await
        .unwrap()
}

async fn browser_sim() -> TestSim {
    let t = start().await;
    t.sim
        .control()
        .set_auto_approve("alice", false)
        .await
        .unwrap();
    t
}

async fn sign_in(t: &TestSim, scope: &str) -> (String, String) {
    let res = t.authorize(scope, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = session_cookie(&res).expect("the sign-in page sets a session cookie");
    let html = res.text().await.unwrap();
    assert!(html.contains("Log in"));
    let mut login = parse_form(&html, "login");
    set_field(&mut login, "username", "alice");
    set_field(&mut login, "password", "correct horse");
    let res = submit(t, &login, &cookie).await;
    assert_eq!(res.status(), StatusCode::OK);
    let new_cookie = session_cookie(&res).expect("signing in rotates the session");
    assert_ne!(new_cookie, cookie);
    (new_cookie, res.text().await.unwrap())
}

#[tokio::test]
async fn the_browser_flow_signs_in_consents_and_redirects_with_code_and_state() {
    let t = browser_sim().await;
    let (cookie, consent) = sign_in(&t, "boards:read,pins:read").await;
    assert!(consent.contains("Test App"));
    assert!(consent.contains("boards:read"));
    assert!(consent.contains("pins:read"));
    let mut form = parse_form(&consent, "consent");
    set_field(&mut form, "decision", "accept");
    let res = submit(&t, &form, &cookie).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT));
    let url = url::Url::parse(&location).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "state" && v == "st-123")
    );
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // A signed-in browser goes straight to the consent page next time.
    let res = t
        .http
        .get(t.sim.oauth_url())
        .header("cookie", &cookie)
        .query(&[
            ("client_id", t.app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "boards:read"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("id=\"consent\""));
}

#[tokio::test]
async fn declining_redirects_with_access_denied_and_state() {
    let t = browser_sim().await;
    let (cookie, consent) = sign_in(&t, "boards:read").await;
    let mut form = parse_form(&consent, "consent");
    set_field(&mut form, "decision", "decline");
    let res = submit(&t, &form, &cookie).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("{REDIRECT}?error=access_denied&state=st-123")
    );
}

#[tokio::test]
async fn a_wrong_password_shows_the_sign_in_page_again() {
    let t = browser_sim().await;
    let res = t.authorize("boards:read", &[]).await;
    let cookie = session_cookie(&res).unwrap();
    let mut login = parse_form(&res.text().await.unwrap(), "login");
    set_field(&mut login, "username", "alice");
    set_field(&mut login, "password", "wrong");
    let res = submit(&t, &login, &cookie).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("incorrect"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_session_are_refused() {
    let t = browser_sim().await;
    let (cookie, consent) = sign_in(&t, "boards:read").await;
    let mut form = parse_form(&consent, "consent");
    set_field(&mut form, "decision", "accept");
    set_field(&mut form, "csrf_token", "forged");
    let res = submit(&t, &form, &cookie).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("location").is_none());
    let mut form = parse_form(&consent, "consent");
    set_field(&mut form, "decision", "accept");
    let res = submit(&t, &form, "pinion_sim_session=unknown").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_consent_form_cannot_swap_in_an_unregistered_redirect_uri() {
    let t = browser_sim().await;
    let (cookie, consent) = sign_in(&t, "boards:read").await;
    let mut form = parse_form(&consent, "consent");
    set_field(&mut form, "decision", "accept");
    set_field(&mut form, "redirect_uri", "https://evil.example/cb");
    let res = submit(&t, &form, &cookie).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn app_names_and_states_are_escaped_on_the_pages() {
    let t = browser_sim().await;
    let app = t
        .sim
        .control()
        .register_test_app("<b>Evil</b>", REDIRECT)
        .await
        .unwrap();
    let res = t
        .http
        .get(t.sim.oauth_url())
        .query(&[
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "boards:read"),
            ("state", "\"><script>x</script>"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>x"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
}
