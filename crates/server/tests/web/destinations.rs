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

/// Creates destination `name` on the first board `credential`'s account
/// offers; its id and the session's CSRF token.
async fn create_destination(
    alice: &crate::helpers::Browser,
    credential: &str,
    name: &str,
) -> (String, String) {
    let form = alice
        .page(&format!(
            "/destinations/new/configure?credential={credential}"
        ))
        .await;
    let csrf = crate::helpers::csrf_in(&form);
    let created = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", credential),
                ("name", name),
                ("board_id", &board_ids(&form)[0]),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let id = created.headers()["location"].to_str().unwrap()["/destinations?created=".len()..]
        .to_owned();
    (id, csrf)
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
    let (destination, csrf) = create_destination(&alice, &first, "Recipes feed").await;
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

/// Uploads `text` as `name` to the destination's upload form.
async fn upload(
    alice: &crate::helpers::Browser,
    page_path: &str,
    csrf: &str,
    name: &str,
    text: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::text(text.to_owned()).file_name(name.to_owned()),
        );
    alice
        .http
        .post(alice.url(&format!("{page_path}/upload")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// The outcome and detail cells of each row in a publish's table.
fn outcomes(page: &str) -> Vec<(String, String)> {
    let start = page
        .find("<section class=\"publish-outcome\"")
        .expect("the publish's outcome");
    let section = &page[start..start + page[start..].find("</section>").unwrap()];
    section
        .split("<td class=\"outcome\">")
        .skip(1)
        .map(|rest| {
            let outcome = rest[..rest.find("</td>").unwrap()].to_owned();
            let detail_start = rest.find("<td class=\"detail\">").unwrap() + 19;
            let detail = rest
                [detail_start..detail_start + rest[detail_start..].find("</td>").unwrap()]
                .to_owned();
            (outcome, detail)
        })
        .collect()
}

#[tokio::test]
async fn pins_are_published_from_the_page_by_form_jsonl_and_csv_once_each() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    // A read-only credential is told which scopes publishing needs.
    let reader = app.authorized_credential(&alice, "Reader").await;
    let (read_only, csrf) = create_destination(&alice, &reader, "Read only").await;
    let refused = alice
        .post_form(
            &format!("/destinations/{read_only}/publish"),
            &[
                ("csrf", &csrf),
                ("image_url", "https://images.example.com/a.jpg"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("boards:write, pins:write"), "{page}");

    let credential = app
        .authorized_credential_with(
            &alice,
            "Publisher",
            "boards:read,boards:write,pins:read,pins:write,user_accounts:read",
        )
        .await;
    let (destination, csrf) = create_destination(&alice, &credential, "Recipes feed").await;
    let page_path = format!("/destinations/{destination}");
    let page = alice.page(&page_path).await;
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(page.contains("Nothing published from this page yet."));

    // One pin by the form; the image is required and named when missing.
    let missing = alice
        .post_form(
            &format!("{page_path}/publish"),
            &[("csrf", &csrf), ("title", "Kept title")],
        )
        .await;
    assert_eq!(missing.status(), 422);
    let page = missing.text().await.unwrap();
    assert!(page.contains("id=\"image_url-error\""), "{page}");
    assert!(
        page.contains("value=\"Kept title\""),
        "what was typed stays"
    );
    let pin = [
        ("csrf", csrf.as_str()),
        ("title", "Lemon tart"),
        ("description", "Sweet and sharp"),
        ("link", "https://recipes.example.com/lemon-tart"),
        ("alt_text", "A lemon tart on a plate"),
        ("image_url", "https://images.example.com/lemon-tart.jpg"),
    ];
    let published = alice.post_form(&format!("{page_path}/publish"), &pin).await;
    assert_eq!(published.status(), 200);
    let rows = outcomes(&published.text().await.unwrap());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "Created");
    let pin_id = rows[0].1.clone();
    assert!(
        !pin_id.is_empty() && pin_id.chars().all(|c| c.is_ascii_digit()),
        "{pin_id}"
    );
    // The same pin again: the ledger knows it.
    let again = alice.post_form(&format!("{page_path}/publish"), &pin).await;
    let rows = outcomes(&again.text().await.unwrap());
    assert_eq!(rows, [("Already published".to_owned(), pin_id.clone())]);

    // JSON Lines: a new pin, a refused one (each reason named), a repeat.
    let jsonl = [
        r#"{"title":"Plum cake","image_url":"https://images.example.com/plum.jpg","key":"plum"}"#,
        r#"{"title":"Bad link","image_url":"https://images.example.com/b.jpg","link":"ftp://x"}"#,
        r#"{"title":"Plum cake","image_url":"https://images.example.com/plum.jpg","key":"plum"}"#,
        "not json",
    ]
    .join("\n");
    let response = upload(&alice, &page_path, &csrf, "pins.jsonl", &jsonl).await;
    assert_eq!(response.status(), 200);
    let rows = outcomes(&response.text().await.unwrap());
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0].0, "Created");
    assert_eq!(rows[1].0, "Refused");
    assert!(rows[1].1.contains("link"), "{rows:?}");
    assert_eq!(rows[2].0, "Repeats an earlier row");
    assert_eq!(rows[3].0, "Refused");

    // CSV with a header row; quoted commas are kept.
    let csv =
        "title,image_url,description\n\"Pear, poached\",https://images.example.com/pear.jpg,Slow\n";
    let response = upload(&alice, &page_path, &csrf, "pins.csv", csv).await;
    assert_eq!(response.status(), 200);
    let rows = outcomes(&response.text().await.unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "Created");

    // A CSV with an unknown column is refused whole, naming it.
    let response = upload(
        &alice,
        &page_path,
        &csrf,
        "pins.csv",
        "titel,image_url\nA,b\n",
    )
    .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"file-error\""), "{page}");
    assert!(page.contains("titel"));

    // The history lists every publish, newest first.
    let page = alice.page(&page_path).await;
    assert_eq!(page.matches("<li data-publish=\"pub_").count(), 4, "{page}");
    assert!(
        page.contains("1 row(s): 0 created, 1 already published"),
        "{page}"
    );

    // Another user can neither see the page nor publish.
    let bob = app.signed_in("bob").await;
    let bob_csrf = bob.csrf().await;
    let stolen = bob
        .post_form(
            &format!("{page_path}/publish"),
            &[
                ("csrf", &bob_csrf),
                ("image_url", "https://images.example.com/x.jpg"),
            ],
        )
        .await;
    assert_eq!(stolen.status(), 404);
    assert_eq!(
        upload(&bob, &page_path, &bob_csrf, "pins.jsonl", &jsonl)
            .await
            .status(),
        404
    );
    // Nor does a form without the page's token publish anything.
    let forged = upload(&alice, &page_path, "", "pins.jsonl", &jsonl).await;
    assert_eq!(forged.status(), 403);
}
