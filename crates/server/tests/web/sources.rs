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
    // Before deleting, the page says what uses it and what becomes of it.
    let effect = &info[info
        .find("class=\"delete-effect\"")
        .expect("the delete section")..];
    assert!(effect.contains("stops 1 thing that uses it"), "{effect}");
    assert!(
        effect.contains("Source <strong>Weekly report</strong>: it is kept with its runs and outputs, but cannot run again."),
        "{effect}"
    );
}

#[tokio::test]
async fn a_source_is_scheduled_paused_resumed_and_unscheduled_from_its_page() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let form = alice
        .page(&format!("/sources/new/configure?credential={id}"))
        .await;
    let csrf = crate::helpers::csrf_in(&form);
    let created = alice
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Nightly"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "nightly"),
            ],
        )
        .await;
    let source =
        created.headers()["location"].to_str().unwrap()["/sources?created=".len()..].to_owned();
    let page = alice.page(&format!("/sources/{source}")).await;
    assert!(page.contains("Runs only when you press Run."), "{page}");
    let action = format!("/sources/{source}/schedule");

    // Errors sit next to their fields, with what was typed kept.
    let invalid = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("kind", "cron"),
                ("cron", "0 6 * *"),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let page = invalid.text().await.unwrap();
    assert!(page.contains("id=\"cron-error\"") && page.contains("id=\"time_zone-error\""));
    assert!(page.contains("value=\"0 6 * *\"") && page.contains("value=\"Mars/Olympus\""));
    assert!(
        page.contains("value=\"cron\" checked"),
        "the cron choice is kept"
    );

    let saved = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("kind", "cron"),
                ("cron", "30 6 * * 1-5"),
                ("time_zone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let page = alice
        .page(saved.headers()["location"].to_str().unwrap())
        .await;
    assert!(page.contains("The schedule was saved."));
    assert!(
        page.contains("Runs 30 6 * * 1-5 (Europe/Paris). Next run: "),
        "{page}"
    );
    assert!(page.contains("class=\"next-run\""));
    let list = alice.page("/sources").await;
    assert!(
        list.contains("30 6 * * 1-5 (Europe/Paris); next run "),
        "{list}"
    );

    let paused = alice
        .post_form(&format!("{action}/pause"), &[("csrf", &csrf)])
        .await;
    assert_eq!(paused.status(), 303);
    let page = alice.page(&format!("/sources/{source}")).await;
    assert!(page.contains("Paused. Runs 30 6 * * 1-5 (Europe/Paris) once resumed."));
    assert!(page.contains(&format!("action=\"{action}/resume\"")));
    assert!(
        alice
            .page("/sources")
            .await
            .contains("(Europe/Paris) (paused)")
    );

    let resumed = alice
        .post_form(&format!("{action}/resume"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resumed.status(), 303);
    assert!(
        alice
            .page(resumed.headers()["location"].to_str().unwrap())
            .await
            .contains("The schedule was resumed.")
    );

    let removed = alice
        .post_form(&format!("{action}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status(), 303);
    let page = alice
        .page(removed.headers()["location"].to_str().unwrap())
        .await;
    assert!(page.contains("Runs only when you press Run."));
    // Pause from a page older than the removal: said, not a server error.
    let stale = alice
        .post_form(&format!("{action}/pause"), &[("csrf", &csrf)])
        .await;
    assert_eq!(stale.status(), 409);
    let page = stale.text().await.unwrap();
    assert!(
        page.contains("this source has no schedule to pause; set one first"),
        "{page}"
    );
}

#[tokio::test]
async fn continue_with_no_tile_picked_goes_back_to_the_tiles_and_says_to_pick_one() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    for path in [
        "/sources/new/configure",
        "/sources/new/configure?credential=",
    ] {
        let response = alice.get(path).await;
        assert_eq!(response.status(), 303, "GET {path}");
        assert_eq!(response.headers()["location"], "/sources/new?pick=1");
    }
    let screen = alice.page("/sources/new?pick=1").await;
    assert!(screen.contains("Pick a credential tile first"), "{screen}");
    assert!(screen.contains("<nav>"), "the page keeps the navigation");
    assert!(
        !alice
            .page("/sources/new")
            .await
            .contains("Pick a credential tile first")
    );
}

#[tokio::test]
async fn a_source_is_edited_from_its_page_and_errors_keep_what_was_typed() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let form = alice
        .page(&format!("/sources/new/configure?credential={id}"))
        .await;
    let csrf = crate::helpers::csrf_in(&form);
    let created = alice
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", &id),
                ("name", "Nightly"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "nightly"),
            ],
        )
        .await;
    let source =
        created.headers()["location"].to_str().unwrap()["/sources?created=".len()..].to_owned();
    let page = alice.page(&format!("/sources/{source}")).await;
    assert!(
        page.contains(&format!("href=\"/sources/{source}/edit\"")),
        "{page}"
    );

    let edit = alice.page(&format!("/sources/{source}/edit")).await;
    assert!(edit.contains("Edit data source"), "{edit}");
    assert!(edit.contains("value=\"Nightly\""), "{edit}");
    assert!(
        edit.contains("name=\"streams\" value=\"boards\" checked"),
        "{edit}"
    );
    assert!(
        edit.contains("name=\"sync_mode\" value=\"full_refresh\" checked"),
        "{edit}"
    );
    assert!(
        edit.contains(&format!("<option value=\"{id}\" selected>Boards</option>")),
        "{edit}"
    );
    let other = alice.add_credential("Pins", "1484363", SECRET_CANARY).await;
    let bob = app.signed_in("bob").await;
    let bobs = bob.add_credential("Bob's", "1484364", SECRET_CANARY).await;
    let action = format!("/sources/{source}/edit");
    let refused = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("name", "Nightly pins"),
                ("output_kind", "jsonl"),
                ("output_path", "/etc"),
                ("sync_mode", "sometimes"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"streams-error\""), "{page}");
    assert!(page.contains("id=\"output_path-error\""), "{page}");
    assert!(page.contains("id=\"sync_mode-error\""), "{page}");
    assert!(page.contains("value=\"Nightly pins\""), "kept: {page}");
    // Another user's credential is not one to switch to.
    let refused = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("credential", &bobs),
                ("name", "Nightly pins"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "nightly"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"credential-error\""), "{page}");
    assert!(
        !page.contains("Bob&#39;s") && !page.contains("Bob's"),
        "{page}"
    );

    let saved = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("credential", &other),
                ("name", "Nightly pins"),
                ("streams", "boards"),
                ("streams", "board_pins"),
                ("output_kind", "sqlite"),
                ("output_path", "nightly.db"),
                ("sync_mode", "incremental"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        saved.headers()["location"],
        format!("/sources/{source}?saved=1").as_str()
    );
    let page = alice.page(&format!("/sources/{source}?saved=1")).await;
    assert!(page.contains("<h1>Nightly pins</h1>"), "{page}");
    assert!(page.contains("boards, board_pins"), "{page}");
    assert!(page.contains("outputs/nightly.db"), "{page}");
    assert!(page.contains("settings were saved"), "{page}");
    assert!(page.contains("Incremental"), "{page}");
    assert!(
        page.contains("<dd class=\"credential\">Pins</dd>"),
        "reads with the other credential: {page}"
    );

    // Its credential deleted, the source can still be edited.
    let deleted = alice
        .post_form(
            &format!("/credentials/{other}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let page = alice.page(&format!("/sources/{source}")).await;
    assert!(
        page.contains("a deleted credential; edit the settings to pick another"),
        "{page}"
    );
    let edit = alice.page(&format!("/sources/{source}/edit")).await;
    assert!(
        edit.contains(&format!(
            "<option value=\"{other}\" selected>Now: a deleted credential</option>"
        )),
        "{edit}"
    );
    assert!(
        edit.contains("name=\"sync_mode\" value=\"incremental\" checked"),
        "{edit}"
    );
    let saved = alice
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("name", "Nightly, on hold"),
                ("streams", "boards"),
                ("output_kind", "sqlite"),
                ("output_path", "nightly.db"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
}
