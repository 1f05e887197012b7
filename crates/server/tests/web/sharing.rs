//! Sharing in the web UI: the owner shares from the information screen (a
//! form with a CSRF token); the collaborator sees the tile marked "Shared by
//! alice" on the credentials page and the Authenticate screens and can pick
//! it, but gets a 403 page on every screen or form that would show or change
//! it; the owner sees the collaborator and the activity, and Withdraw ends
//! the collaborator's access.

use crate::helpers::{SECRET_CANARY, csrf_in, spawn_app};

#[tokio::test]
async fn a_shared_credential_is_pickable_but_its_settings_are_forbidden_until_withdrawn() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let id = alice
        .add_credential("Team boards", "1484362", SECRET_CANARY)
        .await;

    // The share form refuses a request without its CSRF token.
    let forged = alice
        .post_form(
            &format!("/credentials/{id}/shares"),
            &[("csrf", "forged"), ("username", "bob")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(!bob.page("/credentials").await.contains("Team boards"));

    let csrf = alice.csrf().await;
    let unknown = alice
        .post_form(
            &format!("/credentials/{id}/shares"),
            &[("csrf", csrf.as_str()), ("username", "nobody")],
        )
        .await;
    assert_eq!(unknown.status(), 303);
    let page = alice
        .page(unknown.headers()["location"].to_str().unwrap())
        .await;
    assert!(page.contains("No user has this username."), "{page}");

    let shared = alice
        .post_form(
            &format!("/credentials/{id}/shares"),
            &[("csrf", csrf.as_str()), ("username", "bob")],
        )
        .await;
    assert_eq!(shared.status(), 303);
    let info = alice
        .page(shared.headers()["location"].to_str().unwrap())
        .await;
    assert!(info.contains("data-collaborator=\"bob\""), "{info}");
    assert!(info.contains("data-event=\"shared\""), "{info}");
    assert!(info.contains("data-event=\"created\""), "{info}");
    assert!(!info.contains(SECRET_CANARY));

    // Bob sees the tile, marked, on the credentials page and both
    // Authenticate screens, and can go on with it.
    for path in ["/credentials", "/sources/new", "/destinations/new"] {
        let page = bob.page(path).await;
        assert!(page.contains("Team boards"), "{path}");
        assert!(page.contains("Shared by"), "{path}");
        assert!(
            page.contains(&format!("data-credential=\"{id}\"")),
            "{path}"
        );
        assert!(!page.contains(SECRET_CANARY), "{path}");
        assert!(
            !page.contains("1484362"),
            "{path}: the client id is a setting"
        );
    }
    let credentials = bob.page("/credentials").await;
    assert!(!credentials.contains(&format!("/credentials/{id}/edit")));
    let configure = bob
        .get(&format!("/sources/new/configure?credential={id}"))
        .await;
    assert_eq!(configure.status(), 200);

    // Every screen and form that shows or changes it is a 403 page.
    let bob_csrf = bob.csrf().await;
    for path in [
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/info"),
    ] {
        let response = bob.get(&path).await;
        assert_eq!(response.status(), 403, "GET {path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("only its owner"), "{body}");
    }
    for path in [
        format!("/credentials/{id}/edit"),
        format!("/credentials/{id}/delete"),
        format!("/credentials/{id}/check"),
        format!("/credentials/{id}/shares"),
        format!("/credentials/{id}/shares/bob/withdraw"),
    ] {
        let response = bob
            .post_form(
                &path,
                &[
                    ("csrf", bob_csrf.as_str()),
                    ("action", "save"),
                    ("name", "Mine now"),
                    ("confirm", "yes"),
                    ("username", "bob"),
                ],
            )
            .await;
        assert_eq!(response.status(), 403, "POST {path}");
    }
    assert!(alice.page("/credentials").await.contains("Team boards"));

    // Alice withdraws; bob loses the tile and the screens are 404 again.
    let info = alice.page(&format!("/credentials/{id}/info")).await;
    let withdraw = alice
        .post_form(
            &format!("/credentials/{id}/shares/bob/withdraw"),
            &[("csrf", csrf_in(&info).as_str())],
        )
        .await;
    assert_eq!(withdraw.status(), 303);
    let info = alice
        .page(withdraw.headers()["location"].to_str().unwrap())
        .await;
    assert!(info.contains("Not shared with anyone."), "{info}");
    assert!(info.contains("data-event=\"share_withdrawn\""), "{info}");
    assert!(!bob.page("/credentials").await.contains("Team boards"));
    assert!(!bob.page("/sources/new").await.contains("Team boards"));
    assert_eq!(
        bob.get(&format!("/credentials/{id}/info")).await.status(),
        404
    );
    let configure = bob
        .get(&format!("/sources/new/configure?credential={id}"))
        .await;
    assert_eq!(configure.status(), 403);
    let body = configure.text().await.unwrap();
    assert!(body.contains("is no longer shared with you"), "{body}");
}
