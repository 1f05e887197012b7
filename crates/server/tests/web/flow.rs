//! The overlay's Authorize and Save over plain HTTP (the browser test does the
//! same with the simulator's real pages): Authorize stores the credential and
//! goes to the consent page with a browser-binding cookie; the callback comes
//! back to the overlay, which shows the account and the granted scopes; Save
//! shows the tile selected on the Authenticate screen.

use crate::helpers::{PINNER, spawn_app};

#[tokio::test]
async fn authorize_returns_to_the_overlay_with_account_and_scopes_and_save_selects_the_tile() {
    let app = spawn_app().await;
    app.sim
        .control()
        .set_auto_approve(PINNER, true)
        .await
        .unwrap();
    let alice = app.signed_in("alice").await;
    let csrf = alice.csrf().await;
    let response = alice
        .post_form(
            "/credentials/new",
            &[
                ("csrf", &csrf),
                ("name", "Marketing boards"),
                ("description", "Read-only access for reports"),
                ("client_id", &app.client_id),
                ("client_secret", &app.client_secret),
                ("scopes", "boards:read,pins:read,user_accounts:read"),
                ("return_to", "/credentials"),
                ("action", "authorize"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let binding = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("pinion_flow="));
    assert!(binding, "the flow is bound to this browser");
    let consent = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(consent.starts_with(&app.sim.oauth_url()), "{consent}");

    // The simulator approves at once and redirects to our callback.
    let landed = alice.approve_as_pinner(&consent).await;
    assert_eq!(landed.status(), 303);
    let landing = landed.headers()["location"].to_str().unwrap().to_owned();
    // Straight to the credential's overlay, with no code or state in the URL.
    let id = landing
        .strip_prefix("/credentials/")
        .and_then(|rest| rest.strip_suffix("/edit?authorized=1&return_to=/credentials"))
        .expect("the callback lands on the credential's overlay")
        .to_owned();
    let overlay_url = landing.clone();
    // Where the user started survives the round trip to Pinterest.
    assert_eq!(
        overlay_url,
        format!("/credentials/{id}/edit?authorized=1&return_to=/credentials")
    );

    let overlay = alice.page(&overlay_url).await;
    assert!(overlay.contains("class=\"account\">pinner<"), "{overlay}");
    assert!(overlay.contains("boards:read,pins:read,user_accounts:read"));
    assert!(overlay.contains("Active"));
    assert!(!overlay.contains(&app.client_secret));
    assert!(
        overlay.contains("name=\"return_to\" value=\"/credentials\""),
        "Save and Cancel lead back to where the user started: {overlay}"
    );

    let csrf = crate::helpers::csrf_in(&overlay);
    let saved = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "Marketing boards"),
                ("description", "Read-only access for reports"),
                ("return_to", "/sources/new"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let selected = saved.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(selected, format!("/sources/new?selected={id}"));
    let screen = alice.page(&selected).await;
    let tile_start = screen
        .find(&format!("class=\"tile selected\" data-credential=\"{id}\""))
        .expect("the new tile is selected");
    assert!(screen[tile_start..].contains("Marketing boards"));
    assert!(screen[tile_start..].contains("checked"));
}
