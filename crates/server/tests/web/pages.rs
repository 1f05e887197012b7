//! Pages themselves: sign-in and sign-out with the cookie's flags, security
//! headers on every page, no secret in any page, and the overlay keeping
//! what was typed (but the secret) with errors next to their fields.

use crate::helpers::{PASSWORD, SECRET_CANARY, spawn_app};

#[tokio::test]
async fn sign_in_sets_an_httponly_lax_session_cookie_and_sign_out_ends_the_session() {
    let app = spawn_app().await;
    let browser = app.browser();
    let wrong = browser.sign_in("alice", "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password.")
    );
    let unknown = browser.sign_in("nobody", PASSWORD).await;
    assert_eq!(unknown.status(), 401);

    let response = browser.sign_in("alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("pinion_session="))
        .expect("a session cookie");
    // Plain-http loopback: no `__Host-` prefix and no `Secure` (see session.rs).
    for flag in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let page = browser.page("/credentials").await;
    assert!(page.contains("alice"));

    let csrf = crate::helpers::csrf_in(&page);
    let out = browser.post_form("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/sign-in");
    assert_eq!(browser.get("/credentials").await.status(), 303);
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_no_secret() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let paths = [
        "/sign-in".to_owned(),
        "/credentials".to_owned(),
        "/credentials/new".to_owned(),
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/info"),
        format!("/sources/new?selected={id}"),
        format!("/sources/new/configure?credential={id}"),
        "/sources".to_owned(),
    ];
    for path in &paths {
        let response = alice.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let headers = response.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains(SECRET_CANARY),
            "{path} shows the client secret"
        );
        assert!(
            !body.contains("<script>") && !body.contains("onclick"),
            "{path} has inline script"
        );
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} loads or links elsewhere"
        );
    }
    let edit = alice.page(&format!("/credentials/{id}/edit")).await;
    assert!(
        edit.contains("<span class=\"secret-state\">set</span>"),
        "{edit}"
    );
    let css = alice.get("/static/pinion.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(alice.get("/static/other.js").await.status(), 404);
}

#[tokio::test]
async fn the_overlay_keeps_what_was_typed_but_the_secret_and_places_errors_by_their_fields() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let empty = alice.page("/credentials/new").await;
    for scope in ["boards:read", "pins:read", "user_accounts:read"] {
        assert!(
            empty.contains(&format!("name=\"scope.{scope}\" value=\"on\" checked")),
            "{scope} is checked by default"
        );
    }
    assert_eq!(empty.matches(" checked").count(), 3);
    assert!(empty.contains("Descriptions help others understand the resource."));
    assert!(empty.contains("type=\"password\" id=\"client_secret\""));
    let csrf = crate::helpers::csrf_in(&empty);
    let response = alice
        .post_form(
            "/credentials/new",
            &[
                ("csrf", &csrf),
                ("name", ""),
                ("description", "Kept description"),
                ("client_id", "1484362"),
                ("client_secret", SECRET_CANARY),
                ("scopes", "boards:read,boards:fly"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(!page.contains(SECRET_CANARY), "the secret came back");
    assert!(page.contains("Kept description"));
    assert!(page.contains("value=\"1484362\""));
    assert!(page.contains("name=\"scope.boards:read\" value=\"on\" checked"));
    assert!(
        page.contains("unknown scope <code>boards:fly</code>"),
        "no literal backticks: {page}"
    );
    assert!(
        page.contains("id=\"name-error\""),
        "no error by the name field"
    );
    assert!(
        page.contains("id=\"scopes-error\""),
        "no error by the scopes field"
    );
    assert!(
        alice
            .page("/credentials")
            .await
            .contains("+ Add Credential")
    );
    assert!(
        !alice
            .page("/credentials")
            .await
            .contains("Kept description")
    );

    // A duplicate name is reported next to the name.
    alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let response = alice
        .post_form(
            "/credentials/new",
            &[
                ("csrf", &csrf),
                ("name", "boards"),
                ("client_id", "1484362"),
                ("client_secret", "another-secret"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("id=\"name-error\""));
}

#[tokio::test]
async fn delete_needs_the_confirmation_box() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let csrf = alice.csrf().await;
    let unconfirmed = alice
        .post_form(&format!("/credentials/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(unconfirmed.status(), 303);
    assert_eq!(
        unconfirmed.headers()["location"].to_str().unwrap(),
        format!("/credentials/{id}/info?confirm=missing")
    );
    assert_eq!(
        alice.get(&format!("/credentials/{id}/info")).await.status(),
        200
    );
    let confirmed = alice
        .post_form(
            &format!("/credentials/{id}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(
        alice.get(&format!("/credentials/{id}/info")).await.status(),
        404
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_per_username_without_telling_users_apart() {
    let app = spawn_app().await;
    let browser = app.browser();
    let limit = pinion_service::throttle::MAX_FAILURES_PER_PAIR;
    for name in ["alice", "nobody"] {
        for _ in 0..limit {
            let wrong = browser.sign_in(name, "not the password at all").await;
            assert_eq!(wrong.status(), 401, "{name}");
        }
        // Now even the right password is not checked, for a real user and
        // an unknown one alike, and the page says when to come back.
        let throttled = browser.sign_in(name, PASSWORD).await;
        assert_eq!(throttled.status(), 429, "{name}");
        let retry_after: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
        let page = throttled.text().await.unwrap();
        assert!(page.contains("too many failed sign-ins"), "{page}");
        assert!(page.contains("name=\"csrf\""), "the form is shown again");
    }
    // Another user from the same address still signs in.
    let bob = browser.sign_in("bob", PASSWORD).await;
    assert_eq!(bob.status(), 303);
}

/// A browser whose connections come from `source` (any 127.0.0.0/8 address
/// reaches the loopback listener; the server sees it as the client).
fn browser_from(app: &crate::helpers::TestApp, source: [u8; 4]) -> crate::helpers::Browser {
    crate::helpers::Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from(source))
            .build()
            .unwrap(),
        address: app.address.clone(),
    }
}

#[tokio::test]
async fn a_strangers_failures_cannot_stop_the_right_password_from_the_users_own_client() {
    let app = spawn_app().await;
    let limit = pinion_service::throttle::MAX_FAILURES_PER_PAIR;
    // Strangers at two other addresses guess Alice's password until refused.
    for source in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        let stranger = browser_from(&app, source);
        let mut refused = 0;
        for _ in 0..limit + 3 {
            let status = stranger
                .sign_in("alice", "not the password at all")
                .await
                .status();
            match status.as_u16() {
                401 => {}
                429 => refused += 1,
                other => panic!("a stranger's guess answered {other}"),
            }
        }
        assert!(refused >= 3, "{source:?}: refused {refused}");
        // Guessing stays throttled: not even the right password is checked.
        let guessed = stranger.sign_in("alice", PASSWORD).await;
        assert_eq!(guessed.status(), 429, "{source:?}");
        assert!(guessed.headers().contains_key("retry-after"));
    }
    // Alice, from her own address, signs in with the right password.
    let alice = browser_from(&app, [127, 0, 0, 1]);
    let response = alice.sign_in("alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/credentials");
    assert!(alice.page("/credentials").await.contains("alice"));
}

#[tokio::test]
async fn the_sign_in_form_accepts_only_a_token_the_server_issued() {
    let app = spawn_app().await;
    // A browser that sends exactly the cookies the test gives it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |cookie: String, csrf: String| {
        let http = http.clone();
        let url = format!("{}/sign-in", app.address);
        async move {
            http.post(url)
                .header("cookie", format!("pinion_signin={cookie}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // What the server issues: the same value in the cookie and the form.
    let form = http
        .get(format!("{}/sign-in", app.address))
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    let issued = cookie
        .strip_prefix("pinion_signin=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=600"),
        "{cookie}"
    );
    assert_eq!(crate::helpers::csrf_in(&form.text().await.unwrap()), issued);

    // Values a client chose, planted as a matching cookie and form pair,
    // including one shaped like the server's with a made-up signature.
    let (head, _) = issued.rsplit_once('.').unwrap();
    for chosen in [
        "attacker-chosen-value".to_owned(),
        pinion_service::SessionToken::random_value(),
        format!("{head}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let response = sign_in(chosen.clone(), chosen.clone()).await;
        assert_eq!(response.status(), 403, "{chosen}");
        let page = response.text().await.unwrap();
        assert!(page.contains("not issued by Pinion"), "{page}");
        assert!(page.contains("href=\"/sign-in\""), "{page}");
    }
    // The issued value, in the cookie but not echoed by the form, neither.
    assert_eq!(
        sign_in(issued.clone(), "other".to_owned()).await.status(),
        403
    );

    // The server's own token signs Alice in.
    let response = sign_in(issued.clone(), issued).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/credentials");
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_not_refused_for_others_failures_at_its_address() {
    let app = spawn_app().await;
    // Alice signs in once from her browser, which keeps its device cookie,
    // and signs out.
    let alice = app.signed_in("alice").await;
    let csrf = alice.csrf().await;
    assert_eq!(
        alice
            .post_form("/sign-out", &[("csrf", &csrf)])
            .await
            .status(),
        303
    );
    // Someone at the same address (one NAT) fails for many names and for
    // alice until the address is refused for her.
    let stranger = app.browser();
    let burst = pinion_service::throttle::CLIENT_BURST;
    for n in 0..burst {
        let _ = stranger
            .sign_in(&format!("user{n}"), "not the password at all")
            .await;
    }
    let refused = stranger.sign_in("alice", PASSWORD).await;
    assert_eq!(refused.status(), 429);
    // A browser that never signed in at that address is refused too...
    assert_eq!(app.browser().sign_in("alice", PASSWORD).await.status(), 429);
    // ...but Alice's own browser signs in.
    let response = alice.sign_in("alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert!(alice.page("/credentials").await.contains("alice"));
}
