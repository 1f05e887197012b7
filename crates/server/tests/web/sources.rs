//! New data source: the Authenticate screen's Continue, the streams and
//! output form with its errors, the sources page, and the credential's
//! information screen listing the sources that use it.

use crate::helpers::{SECRET_CANARY, spawn_app};

#[tokio::test]
async fn a_source_is_created_from_the_picked_credential_and_listed_where_it_is_used() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;

    let screen = alice.page(&format!("/sources/new?selected={id}")).await;
    assert!(screen.contains("action=\"/sources/new/configure\""));
    assert!(screen.contains(&format!("name=\"credential\" value=\"{id}\" checked")));
    let form = alice
        .page(&format!("/sources/new/configure?credential={id}"))
        .await;
    for stream in [
        "user_account",
        "boards",
        "board_sections",
        "board_pins",
        "pins",
        "ad_accounts",
    ] {
        assert!(
            form.contains(&format!("value=\"{stream}\"")),
            "no {stream} checkbox"
        );
    }
    let csrf = crate::helpers::csrf_in(&form);

    let invalid = alice
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Weekly report"),
                ("output_kind", "jsonl"),
                ("output_path", "/etc/pinion-out"),
            ],
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let page = invalid.text().await.unwrap();
    assert!(page.contains("id=\"streams-error\"") && page.contains("id=\"output_path-error\""));
    assert!(page.contains("value=\"Weekly report\""));

    let created = alice
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Weekly report"),
                ("streams", "boards"),
                ("streams", "pins"),
                ("output_kind", "jsonl"),
                ("output_path", "weekly"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let source_id = location
        .strip_prefix("/sources?created=")
        .unwrap()
        .to_owned();
    assert!(source_id.starts_with("src_"));

    let list = alice.page(&location).await;
    let tile = list
        .find(&format!("data-source=\"{source_id}\""))
        .expect("the new source's tile");
    assert!(list[..tile].ends_with("class=\"tile source selected\" "));
    assert!(list[tile..].contains("boards, pins"));
    assert!(list[tile..].contains("Boards"));

    let info = alice.page(&format!("/credentials/{id}/info")).await;
    assert!(info.contains("Weekly report (source: boards, pins)"));
    assert!(!info.contains(SECRET_CANARY));
}
