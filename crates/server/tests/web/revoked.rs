//! A revoked grant: Check finds it, the tile says Needs reauthorization with
//! the reason, and the tile's Reauthorize brings the credential back to
//! Active.

use crate::helpers::{PINNER, spawn_app};

#[tokio::test]
async fn a_revoked_credential_needs_reauthorization_and_reauthorize_fixes_it() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = app.authorized_credential(&alice, "Revocable").await;
    app.sim
        .control()
        .revoke_grant(PINNER, &app.client_id)
        .await
        .unwrap();

    let csrf = alice.csrf().await;
    let checked = alice
        .post_form(&format!("/credentials/{id}/check"), &[("csrf", &csrf)])
        .await;
    assert_eq!(checked.status(), 303);
    let location = checked.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/credentials/{id}/info?checked=failed"));
    let info = alice.page(&location).await;
    assert!(info.contains("Needs reauthorization"), "{info}");

    let tiles = alice.page("/credentials").await;
    let tile = tiles.find(&format!("data-credential=\"{id}\"")).unwrap();
    assert!(tiles[tile..].contains("Needs reauthorization"));
    assert!(
        tiles[tile..].contains("class=\"reason\""),
        "the tile gives the reason"
    );
    // Both the tile and the information screen say when validity was checked.
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        tiles[tile..].contains(&format!("<dd class=\"last-checked\">{year}-")),
        "the tile says when it was checked"
    );
    assert!(info.contains(&format!("<td class=\"last-checked\">{year}-")));

    // The tile's Reauthorize button starts a new authorization.
    let again = alice
        .post_form(
            &format!("/credentials/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("action", "authorize"),
                ("return_to", "/credentials"),
            ],
        )
        .await;
    assert_eq!(again.status(), 303);
    let consent = again.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(alice.approve_as_pinner(&consent).await.status(), 303);
    let tiles = alice.page("/credentials").await;
    let tile = tiles.find(&format!("data-credential=\"{id}\"")).unwrap();
    assert!(
        tiles[tile..].starts_with(&format!(
            "data-credential=\"{id}\"><h2>Revocable</h2><span class=\"status active\">Active</span>"
        )),
        "{}",
        &tiles[tile..]
    );
}
