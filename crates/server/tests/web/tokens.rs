//! API tokens in the web UI: created with a name and shown once, listed
//! without their value with when they were last used, revoked by their
//! owner only; every form needs a session and its CSRF token.

use crate::helpers::{csrf_in, spawn_app};

fn token_in(page: &str) -> String {
    let marker = "id=\"new-token\" readonly value=\"";
    let start = page.find(marker).expect("the new token is shown") + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}

#[tokio::test]
async fn a_user_creates_lists_and_revokes_api_tokens() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let page = alice.page("/settings/tokens").await;
    let csrf = csrf_in(&page);

    let blank = alice
        .post_form("/settings/tokens", &[("csrf", &csrf), ("name", " ")])
        .await;
    assert_eq!(blank.status(), 422);
    assert!(blank.text().await.unwrap().contains("id=\"name-error\""));

    let created = alice
        .post_form(
            "/settings/tokens",
            &[("csrf", &csrf), ("name", "Nightly report")],
        )
        .await;
    assert_eq!(created.status(), 200);
    let shown = created.text().await.unwrap();
    assert!(shown.contains("not shown again"));
    let token = token_in(&shown);

    // It works for the API, and the list notes its use but never shows it.
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1/credentials", app.address);
    let used = http.get(&api).bearer_auth(&token).send().await.unwrap();
    assert_eq!(used.status(), 200);
    let list = alice.page("/settings/tokens").await;
    assert!(!list.contains(&token), "the token is listed");
    let row = list.find("Nightly report").expect("the named token");
    let row_end = list[row..].find("</tr>").unwrap() + row;
    let row_html = &list[row..row_end];
    assert!(!row_html.contains("never"), "last use noted: {row_html}");
    let id_start = list[..row].rfind("data-token=\"").unwrap() + "data-token=\"".len();
    let id = &list[id_start..id_start + 20];
    assert!(id.starts_with("tok_"));

    // Bob cannot revoke it, nor see it.
    let bob = app.signed_in("bob").await;
    let bobs_csrf = bob.csrf().await;
    assert!(
        !bob.page("/settings/tokens")
            .await
            .contains("Nightly report")
    );
    let stolen = bob
        .post_form(
            &format!("/settings/tokens/{id}/revoke"),
            &[("csrf", &bobs_csrf)],
        )
        .await;
    assert_eq!(stolen.status(), 404);
    assert_eq!(
        http.get(&api)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // CSRF and sign-in on every form.
    for (path, fields) in [
        ("/settings/tokens".to_owned(), vec![("name", "Forged")]),
        (format!("/settings/tokens/{id}/revoke"), vec![]),
    ] {
        for csrf in [None, Some(""), Some(bobs_csrf.as_str())] {
            let mut form = fields.clone();
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let refused = alice.post_form(&path, &form).await;
            assert_eq!(refused.status(), 403, "POST {path} with {csrf:?}");
        }
        let anonymous = app.browser().post_form(&path, &fields).await;
        assert_eq!(anonymous.status(), 303);
        assert_eq!(anonymous.headers()["location"], "/sign-in");
    }
    let anonymous = app.browser().get("/settings/tokens").await;
    assert_eq!(anonymous.headers()["location"], "/sign-in");
    assert!(!alice.page("/settings/tokens").await.contains("Forged"));

    let revoked = alice
        .post_form(&format!("/settings/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        http.get(&api)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(
        !alice
            .page("/settings/tokens")
            .await
            .contains("Nightly report")
    );
}
