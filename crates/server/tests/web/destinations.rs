//! New destination: the Authenticate screen, the board picker filled from
//! Pinterest (the simulator) with the credential, refusal of a board the
//! account does not have, the destinations page, and the credential's
//! information screen listing the destination.

use crate::helpers::{SECRET_CANARY, spawn_app};

fn board_ids(page: &str) -> Vec<String> {
    let marker = "name=\"board_id\" value=\"";
    page.match_indices(marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            let end = page[start..].find('"').unwrap() + start;
            page[start..end].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_destination_publishes_to_a_board_of_the_credentials_account() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = app.authorized_credential(&alice, "Publisher").await;

    let screen = alice
        .page(&format!("/destinations/new?selected={id}"))
        .await;
    assert!(screen.contains("action=\"/destinations/new/configure\""));
    assert!(screen.contains("href=\"/credentials/new?return_to=/destinations/new\""));
    let form = alice
        .page(&format!("/destinations/new/configure?credential={id}"))
        .await;
    let boards = board_ids(&form);
    // The simulator user has five boards; secret ones need `boards:read_secret`.
    assert!(
        !boards.is_empty() && boards.len() <= 5,
        "the simulator user's boards: {form}"
    );
    let csrf = crate::helpers::csrf_in(&form);

    let foreign = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Elsewhere"),
                ("board_id", "999999999"),
            ],
        )
        .await;
    assert_eq!(foreign.status(), 422);
    assert!(
        foreign
            .text()
            .await
            .unwrap()
            .contains("id=\"board_id-error\"")
    );

    let created = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Recipes feed"),
                ("board_id", &boards[0]),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let destination = location.strip_prefix("/destinations?created=").unwrap();
    assert!(destination.starts_with("dst_"));
    let list = alice.page(&location).await;
    let tile = list
        .find(&format!("data-destination=\"{destination}\""))
        .expect("the new destination's tile");
    assert!(list[..tile].ends_with("class=\"tile destination selected\" "));
    assert!(list[tile..].contains("Recipes feed"));

    let info = alice.page(&format!("/credentials/{id}/info")).await;
    assert!(info.contains("Recipes feed (destination: board "));

    // Another user cannot list the boards or use the credential.
    let bob = app.signed_in("bob").await;
    let bob_csrf = bob.csrf().await;
    assert_eq!(
        bob.get(&format!("/destinations/new/configure?credential={id}"))
            .await
            .status(),
        404
    );
    let stolen = bob
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &bob_csrf),
                ("credential", &id),
                ("name", "Stolen"),
                ("board_id", &boards[0]),
            ],
        )
        .await;
    assert_eq!(stolen.status(), 404);
    assert!(!bob.page("/destinations").await.contains("Recipes feed"));
    // And a form without the CSRF token is refused.
    let forged = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("credential", &id),
                ("name", "Forged"),
                ("board_id", &boards[0]),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn an_unauthorized_credential_explains_why_there_are_no_boards() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Waiting", "1484362", SECRET_CANARY)
        .await;
    let form = alice
        .page(&format!("/destinations/new/configure?credential={id}"))
        .await;
    assert!(board_ids(&form).is_empty());
    assert!(
        form.contains("Pinterest could not be asked for the boards"),
        "{form}"
    );
    assert!(!form.contains(SECRET_CANARY));
}

#[tokio::test]
async fn a_destination_whose_credential_was_deleted_is_repointed_and_then_deleted() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let first = app.authorized_credential(&alice, "First").await;
    let second = app.authorized_credential(&alice, "Second").await;
    let waiting = alice
        .add_credential("Waiting", "1484362", SECRET_CANARY)
        .await;
    let form = alice
        .page(&format!("/destinations/new/configure?credential={first}"))
        .await;
    let boards = board_ids(&form);
    let csrf = crate::helpers::csrf_in(&form);
    let created = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &first),
                ("name", "Recipes feed"),
                ("board_id", &boards[0]),
            ],
        )
        .await;
    let destination = created.headers()["location"].to_str().unwrap()
        ["/destinations?created=".len()..]
        .to_owned();
    let page_path = format!("/destinations/{destination}");
    let list = alice.page("/destinations").await;
    assert!(list.contains(&format!("href=\"{page_path}\"")), "{list}");

    // Its credential is deleted: the page says so and offers the others.
    let deleted = alice
        .post_form(
            &format!("/credentials/{first}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let page = alice.page(&page_path).await;
    assert!(page.contains("class=\"credential unusable\""), "{page}");
    assert!(page.contains(&format!("value=\"{second}\"")), "{page}");

    // A credential without tokens cannot read the board: refused, named.
    let refused = alice
        .post_form(
            &format!("{page_path}/repoint"),
            &[("csrf", &csrf), ("credential_id", &waiting)],
        )
        .await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("id=\"credential_id-error\"")
    );
    // The second credential's account has the board.
    let repointed = alice
        .post_form(
            &format!("{page_path}/repoint"),
            &[("csrf", &csrf), ("credential_id", &second)],
        )
        .await;
    assert_eq!(repointed.status(), 303);
    let page = alice
        .page(repointed.headers()["location"].to_str().unwrap())
        .await;
    assert!(
        page.contains("<dd class=\"credential\">Second</dd>"),
        "{page}"
    );

    // Delete asks for the box, then deletes.
    let unconfirmed = alice
        .post_form(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        unconfirmed.headers()["location"],
        format!("{page_path}?confirm=missing").as_str()
    );
    let gone = alice
        .post_form(
            &format!("{page_path}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(gone.headers()["location"], "/destinations?deleted=1");
    assert_eq!(alice.get(&page_path).await.status(), 404);
    assert!(!alice.page("/destinations").await.contains("Recipes feed"));
}
