//! The first account of an empty install (`/setup`): the sign-in page
//! points to it; a wrong key, a bad username and a short password are each
//! named and nothing is made; the right key makes an admin, signs it in and
//! closes the page; the key's file is gone. With an account, or without a
//! key, the page is a 404.

use crate::helpers::{csrf_in, spawn_app, spawn_empty_app};

#[tokio::test]
async fn the_first_account_is_made_in_the_browser_with_the_setup_key_once() {
    let app = spawn_empty_app().await;
    let key = app
        .setup_key
        .clone()
        .expect("an empty install has a setup key");
    let key_file = app.data_dir.join(pinion_service::SETUP_KEY_FILE);
    assert!(key_file.exists());
    let browser = app.browser();
    let sign_in = browser.page("/sign-in").await;
    assert!(sign_in.contains("href=\"/setup\""), "{sign_in}");

    let form = browser.page("/setup").await;
    assert!(form.contains("Create the first account"), "{form}");
    assert!(!form.contains(&key), "the page never shows the key");
    let csrf = csrf_in(&form);
    let refused = browser
        .post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("setup_key", "0000-1111"),
                ("username", "alice"),
                ("password", "a long first password"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"setup_key-error\""), "{page}");
    assert!(
        page.contains("value=\"alice\""),
        "the username is kept: {page}"
    );
    let csrf = csrf_in(&page);
    let refused = browser
        .post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("setup_key", &key),
                ("username", "no spaces allowed"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"username-error\""), "{page}");
    assert!(page.contains("id=\"password-error\""), "{page}");
    assert!(app.store.list_users().await.unwrap().is_empty());

    // A forged form token is refused before anything else.
    let forged = app
        .browser()
        .post_form(
            "/setup",
            &[
                ("csrf", "forged"),
                ("setup_key", &key),
                ("username", "mallory"),
                ("password", "a long first password"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);

    let csrf = csrf_in(&page);
    let made = browser
        .post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("setup_key", &key),
                ("username", "alice"),
                ("password", "a long first password"),
            ],
        )
        .await;
    assert_eq!(made.status(), 303);
    assert_eq!(made.headers()["location"], "/credentials");
    let credentials = browser.page("/credentials").await;
    assert!(credentials.contains("alice"), "signed in: {credentials}");
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].role, pinion_domain::Role::Admin);
    assert!(!key_file.exists(), "the used key's file is removed");

    // Closed from now on.
    assert_eq!(app.browser().get("/setup").await.status(), 404);
    assert!(
        !app.browser()
            .page("/sign-in")
            .await
            .contains("href=\"/setup\"")
    );
}

#[tokio::test]
async fn an_install_with_accounts_has_no_setup_page() {
    let app = spawn_app().await;
    assert_eq!(app.browser().get("/setup").await.status(), 404);
    assert!(
        !app.browser()
            .page("/sign-in")
            .await
            .contains("href=\"/setup\"")
    );
}
