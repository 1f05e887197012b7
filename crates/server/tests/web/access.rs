//! Access control and CSRF on every UI route: anonymous requests go to
//! sign-in, another user's credential is a 404 exactly like an unknown one,
//! and every state-changing form refuses a missing or wrong CSRF token.

use crate::helpers::{PASSWORD, SECRET_CANARY, spawn_app};

#[tokio::test]
async fn anonymous_requests_to_every_ui_route_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let owner = app.signed_in("alice").await;
    let id = owner
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let anonymous = app.browser();
    let gets = [
        "/".to_owned(),
        "/credentials".to_owned(),
        "/credentials/new".to_owned(),
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/info"),
        "/sources/new".to_owned(),
        "/sources".to_owned(),
        format!("/sources/new/configure?credential={id}"),
        "/destinations".to_owned(),
        "/destinations/new".to_owned(),
        format!("/destinations/new/configure?credential={id}"),
    ];
    for path in &gets {
        let response = anonymous.get(path).await;
        let location = response.headers().get("location").cloned();
        if path == "/" {
            // The root only points at the credentials page, which then asks for a session.
            assert_eq!(location.unwrap(), "/credentials");
            continue;
        }
        assert_eq!(response.status(), 303, "GET {path}");
        assert_eq!(location.unwrap(), "/sign-in", "GET {path}");
    }
    let posts = [
        "/sign-out".to_owned(),
        "/credentials/new".to_owned(),
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/delete"),
        format!("/credentials/{id}/check"),
        "/sources/new/configure".to_owned(),
        "/destinations/new/configure".to_owned(),
    ];
    for path in &posts {
        let response = anonymous.post_form(path, &[("csrf", "x")]).await;
        assert_eq!(response.status(), 303, "POST {path}");
        assert_eq!(response.headers()["location"], "/sign-in", "POST {path}");
    }
    // A forged session cookie is no session.
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = forged
        .get(format!("{}/credentials", app.address))
        .header("cookie", "pinion_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn another_users_credential_is_not_found_on_every_ui_route() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Alice boards", "1484362", SECRET_CANARY)
        .await;
    let bob = app.signed_in("bob").await;
    let csrf = bob.csrf().await;

    for path in [
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/info"),
        format!("/sources/new/configure?credential={id}"),
    ] {
        let response = bob.get(&path).await;
        assert_eq!(response.status(), 404, "GET {path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("Alice boards"), "GET {path} leaked the name");
        // Exactly the answer for an id that does not exist.
        let unknown = bob
            .get(&path.replace(&id, "cred_00000000000000000000000000"))
            .await;
        assert_eq!(unknown.status(), 404);
    }
    for (path, action) in [
        (format!("/credentials/{id}/edit"), "save"),
        (format!("/credentials/{id}/edit"), "authorize"),
        (format!("/credentials/{id}/delete"), ""),
        (format!("/credentials/{id}/check"), ""),
    ] {
        let response = bob
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("name", "Mine now"),
                    ("action", action),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(response.status(), 404, "POST {path} {action}");
    }
    // A source cannot be made with another user's credential.
    let response = bob
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Stolen"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "/tmp/stolen"),
            ],
        )
        .await;
    assert_eq!(response.status(), 404);
    for listing in ["/credentials", "/sources/new", "/sources"] {
        let page = bob.page(listing).await;
        assert!(
            !page.contains("Alice boards"),
            "{listing} shows another user's tile"
        );
    }
    // Alice's credential is untouched.
    let page = alice.page(&format!("/credentials/{id}/info")).await;
    assert!(page.contains("Alice boards"));
}

#[tokio::test]
async fn every_state_changing_form_refuses_a_missing_or_wrong_csrf_token() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let bob = app.signed_in("bob").await;
    // Bob's valid token is a wrong token in Alice's session.
    let other_sessions_token = bob.csrf().await;

    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/credentials/new".into(),
            vec![
                ("name", "Forged"),
                ("client_id", "1484362"),
                ("client_secret", "forged-secret"),
                ("action", "save"),
            ],
        ),
        (
            format!("/credentials/{id}/edit"),
            vec![("name", "Forged"), ("action", "save")],
        ),
        (
            format!("/credentials/{id}/edit"),
            vec![("action", "authorize")],
        ),
        (
            format!("/credentials/{id}/delete"),
            vec![("confirm", "yes")],
        ),
        (format!("/credentials/{id}/check"), vec![]),
        (
            "/sources/new/configure".into(),
            vec![
                ("credential", id.as_str()),
                ("name", "Forged"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "/tmp/forged"),
            ],
        ),
        ("/sign-out".into(), vec![]),
    ];
    for (path, fields) in &forms {
        for token in [None, Some(""), Some(other_sessions_token.as_str())] {
            let mut form = fields.clone();
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            let response = alice.post_form(path, &form).await;
            assert_eq!(response.status(), 403, "POST {path} with {token:?}");
        }
    }
    // Nothing changed and Alice is still signed in.
    let page = alice.page("/credentials").await;
    assert!(page.contains("Boards") && !page.contains("Forged"));
    assert!(!alice.page("/sources").await.contains("Forged"));
    assert_eq!(
        alice.get(&format!("/credentials/{id}/info")).await.status(),
        200
    );

    // The sign-in form needs its double-submit cookie too.
    let fresh = app.browser();
    let response = fresh
        .post_form(
            "/sign-in",
            &[
                ("csrf", "guess"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
}
