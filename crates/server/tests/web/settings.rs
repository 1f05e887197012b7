//! A credential's settings in its overlay (issue 15): a wrong Client Secret
//! and a missing scope are fixed in place and authorized again without
//! recreating the credential; every error comes back at once with what was
//! typed (the secret excepted, and the form says so); a form sent back
//! unchanged records no edit.

use crate::helpers::{PINNER, csrf_in, spawn_app};

#[tokio::test]
async fn a_wrong_secret_and_a_missing_scope_are_fixed_in_place_and_authorized() {
    let app = spawn_app().await;
    app.sim
        .control()
        .set_auto_approve(PINNER, true)
        .await
        .unwrap();
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Ads report", &app.client_id, "not-the-app-secret")
        .await;

    // Authorizing with the wrong secret: Pinterest refuses the code, and the
    // page leads back to the settings.
    let overlay = alice.page(&format!("/credentials/{id}/edit")).await;
    let csrf = csrf_in(&overlay);
    let started = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[("csrf", &csrf), ("action", "authorize")],
        )
        .await;
    assert_eq!(started.status(), 303);
    let consent = started.headers()["location"].to_str().unwrap().to_owned();
    let failed = alice.approve_as_pinner(&consent).await;
    assert_eq!(failed.status(), 502);
    let page = failed.text().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/credentials/{id}/edit\"")),
        "{page}"
    );

    // The overlay offers every setting: a write-only secret and the picker.
    let overlay = alice.page(&format!("/credentials/{id}/edit")).await;
    assert!(overlay.contains("id=\"client_secret\""), "{overlay}");
    assert!(!overlay.contains("not-the-app-secret"));
    assert_eq!(overlay.matches("type=\"checkbox\"").count(), 19);
    assert!(overlay.contains("See your advertising data"), "{overlay}");

    // A new secret and ads:read, then Save and authorize.
    let csrf = csrf_in(&overlay);
    let started = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Ads report"),
                ("description", "Team boards"),
                ("client_id", &app.client_id),
                ("client_secret", &app.client_secret),
                ("scope_picker", "1"),
                ("scope.boards:read", "on"),
                ("scope.pins:read", "on"),
                ("scope.user_accounts:read", "on"),
                ("scope.ads:read", "on"),
                ("rate_tier", "standard"),
                ("action", "authorize"),
            ],
        )
        .await;
    assert_eq!(started.status(), 303);
    let consent = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(consent.contains("ads%3Aread"), "{consent}");
    let landed = alice.approve_as_pinner(&consent).await;
    assert_eq!(landed.status(), 303, "{}", landed.text().await.unwrap());
    let overlay = alice
        .page(landed.headers()["location"].to_str().unwrap())
        .await;
    assert!(overlay.contains("Active"), "{overlay}");
    assert!(
        overlay.contains("ads:read,boards:read,pins:read,user_accounts:read"),
        "granted: {overlay}"
    );
    let info = alice.page(&format!("/credentials/{id}/info")).await;
    assert!(
        info.contains("changed: client secret, requested scopes"),
        "{info}"
    );
}

#[tokio::test]
async fn every_error_comes_back_at_once_and_an_unchanged_form_records_nothing() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", &app.client_id, &app.client_secret)
        .await;
    let overlay = alice.page(&format!("/credentials/{id}/edit")).await;
    let csrf = csrf_in(&overlay);

    let refused = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Boards, renamed"),
                ("description", "Team boards"),
                ("client_id", ""),
                ("client_secret", "a-new-secret"),
                ("scope_picker", "1"),
                ("rate_tier", "fast"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    for field in ["client_id", "scopes", "rate_tier"] {
        assert!(
            page.contains(&format!("id=\"{field}-error\"")),
            "{field}: {page}"
        );
    }
    assert!(page.contains("value=\"Boards, renamed\""), "kept: {page}");
    assert!(!page.contains("a-new-secret"), "the secret is not echoed");
    assert!(page.contains("type it again"), "{page}");

    // Sent back as shown: nothing is written, no "Edited" entry.
    let saved = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Boards"),
                ("description", "Team boards"),
                ("client_id", &app.client_id),
                ("client_secret", ""),
                ("scope_picker", "1"),
                ("scope.user_accounts:read", "on"),
                ("scope.pins:read", "on"),
                ("scope.boards:read", "on"),
                ("rate_tier", "standard"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let info = alice.page(&format!("/credentials/{id}/info")).await;
    assert!(!info.contains("changed:"), "{info}");
}
