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

/// After the owner withdraws the share, a run of the collaborator's source
/// fails with "credential X is no longer shared with you", and the sources
/// page says so next to the source.
#[tokio::test]
async fn a_run_of_a_collaborators_source_fails_clearly_after_the_share_is_withdrawn() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let id = app.authorized_credential(&alice, "Team boards").await;
    let [alice_token, bob_token] = app.api_tokens.clone();
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", app.address);

    let shared = http
        .post(api(&format!("/credentials/{id}/shares")))
        .bearer_auth(&alice_token)
        .json(&serde_json::json!({"username": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 201);
    let source: serde_json::Value = http
        .post(api("/sources"))
        .bearer_auth(&bob_token)
        .json(&serde_json::json!({
            "name": "Bob's boards",
            "credential_id": id,
            "streams": ["boards"],
            "output": {"kind": "jsonl", "path": "bob-boards"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let source_id = source["id"].as_str().expect("a source").to_owned();
    let withdrawn = http
        .delete(api(&format!("/credentials/{id}/shares/bob")))
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);

    let started = http
        .post(api(&format!("/sources/{source_id}/runs")))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let run: serde_json::Value = started.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_owned();
    // Poll until the run reaches a final state; the bound only stops a hung run.
    let mut run = run;
    for _ in 0..2400 {
        if run["status"] == "failed" || run["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        run = http
            .get(api(&format!("/sources/{source_id}/runs/{run_id}")))
            .bearer_auth(&bob_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("\"Team boards\" is no longer shared with you"),
        "{error}"
    );
    let sources = bob.page("/sources").await;
    assert!(
        sources.contains("credential \"Team boards\" is no longer shared with you")
            || sources.contains("credential &quot;Team boards&quot; is no longer shared with you"),
        "{sources}"
    );
}
