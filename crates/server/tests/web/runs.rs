//! Running a source from the web UI and the API: Run starts a run in the
//! server, the run page shows per-stream counts and the end, outputs land
//! under `<data dir>/outputs/<owner>/<name>` only, a credential that is not
//! usable fails the run with a clear message; and access control and CSRF
//! on every new route.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Browser, SECRET_CANARY, TestApp, csrf_in, spawn_app};

/// Creates a source reading `streams` with `credential` into `output` (a
/// JSON Lines folder); returns its id.
async fn create_source(browser: &Browser, credential: &str, output: &str) -> String {
    let form = browser
        .page(&format!("/sources/new/configure?credential={credential}"))
        .await;
    let csrf = csrf_in(&form);
    let created = browser
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf),
                ("credential", credential),
                ("name", "Weekly boards"),
                ("streams", "boards"),
                ("streams", "board_pins"),
                ("output_kind", "jsonl"),
                ("output_path", output),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    created.headers()["location"]
        .to_str()
        .unwrap()
        .strip_prefix("/sources?created=")
        .unwrap()
        .to_owned()
}

/// Presses Run on the source's page; returns the run page's path.
async fn run(browser: &Browser, source: &str) -> String {
    let page = browser.page(&format!("/sources/{source}")).await;
    assert!(page.contains(&format!("action=\"/sources/{source}/runs\"")));
    let started = browser
        .post_form(
            &format!("/sources/{source}/runs"),
            &[("csrf", &csrf_in(&page))],
        )
        .await;
    assert_eq!(started.status(), 303);
    started.headers()["location"].to_str().unwrap().to_owned()
}

/// Polls the run's JSON until it ends (the run is a background task).
async fn wait_for_end(browser: &Browser, run_page: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let run: Value = browser
            .get(&format!("{run_page}/progress"))
            .await
            .json()
            .await
            .unwrap();
        if run["status"] == "succeeded" || run["status"] == "failed" {
            return run;
        }
        assert!(Instant::now() < deadline, "the run never ended: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn records(run: &Value, stream: &str) -> u64 {
    run["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == stream)
        .unwrap_or_else(|| panic!("no {stream} in {run}"))["records"]
        .as_u64()
        .unwrap()
}

fn lines(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .count() as u64
}

fn alice_id(app: &TestApp) -> String {
    let outputs = app.data_dir.join("outputs");
    let mut owners = std::fs::read_dir(outputs).unwrap();
    let owner = owners.next().unwrap().unwrap();
    owner.file_name().into_string().unwrap()
}

#[tokio::test]
async fn a_source_runs_from_its_page_and_shows_counts_per_stream() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = app.authorized_credential(&alice, "Boards").await;
    let source = create_source(&alice, &credential, "weekly").await;
    let list = alice.page("/sources").await;
    assert!(list.contains(&format!("action=\"/sources/{source}/runs\"")));

    let run_page = run(&alice, &source).await;
    assert!(run_page.starts_with(&format!("/sources/{source}/runs/run_")));
    let page = alice.page(&run_page).await;
    assert!(page.contains("data-run-progress="), "{page}");
    assert!(page.contains("src=\"/static/pinion.js\""));

    let run = wait_for_end(&alice, &run_page).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let boards = records(&run, "boards");
    let pins = records(&run, "board_pins");
    assert!(boards > 0 && pins > 0, "{run}");

    // The counts are what was written, under the data directory only.
    let out = app
        .data_dir
        .join("outputs")
        .join(alice_id(&app))
        .join("weekly");
    assert_eq!(lines(&out.join("boards.jsonl")), boards);
    assert_eq!(lines(&out.join("board_pins.jsonl")), pins);

    // The finished page: status, counts, no refresh, no secret.
    let done = alice.page(&run_page).await;
    assert!(done.contains("Succeeded"));
    assert!(done.contains(&format!("<td class=\"records num\">{boards}</td>")));
    // Outcomes in words, not stored values.
    assert!(done.contains("<td class=\"outcome\">Done</td>"), "{done}");
    assert!(!done.contains(">done<"));
    assert!(!done.contains("http-equiv=\"refresh\""));
    assert!(!done.contains(&app.client_secret));
    let source_page = alice.page(&format!("/sources/{source}")).await;
    assert!(source_page.contains(&run_page));
    // A chart of records per run, one bar for this run.
    assert!(
        source_page.contains("<figure class=\"chart\"><svg"),
        "{source_page}"
    );
    assert_eq!(
        source_page.matches("class=\"bar run-succeeded\"").count(),
        1
    );
    // The sources list shows the last run.
    let list = alice.page("/sources").await;
    assert!(list.contains(&format!("href=\"{run_page}\"")), "{list}");
    assert!(
        list.contains(&format!(", {} records", boards + pins)),
        "{list}"
    );

    // Where the output is, a preview of each stream and its files.
    let shown = format!("outputs/{}/weekly", alice_id(&app));
    assert!(
        done.contains(&format!("<code class=\"output-location\">{shown}</code>")),
        "{done}"
    );
    assert!(
        done.contains("<ol class=\"preview\" data-stream=\"boards\">"),
        "{done}"
    );
    let first_board = std::fs::read_to_string(out.join("boards.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let first_id = serde_json::from_str::<Value>(&first_board).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        done.contains(&first_id),
        "the preview shows the first board"
    );
    // Pins show their image, served by the simulator, which the page's
    // policy allows and nothing else.
    let marker = "<img class=\"pin-image\" src=\"";
    let start = done.find(marker).expect("a pin's image in the preview") + marker.len();
    let image = &done[start..start + done[start..].find('"').unwrap()];
    let sim_origin = app.sim.base_url();
    assert!(
        image.starts_with(&format!("{sim_origin}/media/150x150/")),
        "{image}"
    );
    let fetched = reqwest::get(image).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "image/svg+xml");
    let policy = alice.get(&run_page).await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains(&format!(
            "img-src 'self' data: https://i.pinimg.com {sim_origin};"
        )),
        "{policy}"
    );
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let download = format!("/sources/{source}/output/boards.jsonl");
    assert!(done.contains(&format!("href=\"{download}\"")), "{done}");
    let file = alice.get(&download).await;
    assert_eq!(file.status(), 200);
    assert!(
        file.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    assert_eq!(
        file.text().await.unwrap(),
        std::fs::read_to_string(out.join("boards.jsonl")).unwrap()
    );
    // Only the output's own files: nothing else of the data directory.
    for other in [
        "../weekly",
        "pins.jsonl",
        "..%2F..%2Fpinion.db",
        "master.key",
    ] {
        let refused = alice
            .get(&format!("/sources/{source}/output/{other}"))
            .await
            .status();
        assert_eq!(refused, 404, "{other}");
    }
    let bob = app.signed_in("bob").await;
    assert_eq!(bob.get(&download).await.status(), 404);

    // The records written show in Prometheus' counters, by stream. The
    // recorder is process-wide and other tests run beside this one, so the
    // counter is at least this run's count.
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let written = metrics
        .lines()
        .find(|line| line.starts_with("pinion_sync_records_written_total{stream=\"board_pins\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no board_pins records in\n{metrics}"));
    assert!(written >= pins as f64, "{written} < {pins}");

    // The API sees the same run, and starts another one (202).
    let [alice_token, bob_token] = &app.api_tokens;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", app.address);
    let run_id = run["id"].as_str().unwrap();
    let listed: Value = http
        .get(url(&format!("/sources/{source}/runs")))
        .bearer_auth(alice_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], run_id);
    let one = http
        .get(url(&format!("/sources/{source}/runs/{run_id}")))
        .bearer_auth(alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    for path in [
        format!("/sources/{source}/runs"),
        format!("/sources/{source}/runs/{run_id}"),
    ] {
        let hidden = http
            .get(url(&path))
            .bearer_auth(bob_token)
            .send()
            .await
            .unwrap();
        assert_eq!(hidden.status(), 404, "GET {path} as bob");
        let anonymous = http.get(url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "GET {path} anonymously");
    }
    let refused = http
        .post(url(&format!("/sources/{source}/runs")))
        .bearer_auth(bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let anonymous = http
        .post(url(&format!("/sources/{source}/runs")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let started = http
        .post(url(&format!("/sources/{source}/runs")))
        .bearer_auth(alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let second: Value = started.json().await.unwrap();
    assert_eq!(second["status"], "queued");
    let second = wait_for_end(
        &alice,
        &format!("/sources/{source}/runs/{}", second["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(second["status"], "succeeded", "{second}");
}

#[tokio::test]
async fn a_run_with_an_unauthorized_credential_fails_with_a_clear_message() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = alice
        .add_credential("Never authorized", "1484362", SECRET_CANARY)
        .await;
    let source = create_source(&alice, &credential, "never").await;
    let run_page = run(&alice, &source).await;
    let run = wait_for_end(&alice, &run_page).await;
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("\"Never authorized\" is not authorized yet"),
        "{error}"
    );
    let page = alice.page(&run_page).await;
    assert!(page.contains("class=\"notice bad run-error\""));
    assert!(page.contains("Failed"));
    assert!(!page.contains(SECRET_CANARY));
    assert!(
        !app.data_dir.join("outputs").exists(),
        "nothing was written"
    );
}

#[tokio::test]
async fn outputs_are_names_under_the_data_directory() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let form = alice
        .page(&format!("/sources/new/configure?credential={credential}"))
        .await;
    let csrf = csrf_in(&form);
    for bad in ["/etc/cron.d/x", "../other-user", "a/../../b", ".ssh", "a b"] {
        let refused = alice
            .post_form(
                "/sources/new/configure",
                &[
                    ("csrf", &csrf),
                    ("credential", &credential),
                    ("name", "Escape"),
                    ("streams", "boards"),
                    ("output_kind", "sqlite"),
                    ("output_path", bad),
                ],
            )
            .await;
        assert_eq!(refused.status(), 422, "{bad}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("id=\"output_path-error\""), "{bad}");
    }
    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{}/api/v1/sources", app.address))
        .bearer_auth(&app.api_tokens[0])
        .json(&json!({
            "name": "Escape",
            "credential_id": credential,
            "streams": ["boards"],
            "output": {"kind": "sqlite", "path": "/var/lib/pinion/x.db"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["field"], "output_path", "{error}");
}

#[tokio::test]
async fn run_routes_are_the_owners_only_and_need_a_session_and_csrf() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let source = create_source(&alice, &credential, "owned").await;
    let run_page = run(&alice, &source).await;
    wait_for_end(&alice, &run_page).await;

    let bob = app.signed_in("bob").await;
    let bobs_csrf = bob.csrf().await;
    for path in [
        format!("/sources/{source}"),
        run_page.clone(),
        format!("{run_page}/progress"),
    ] {
        assert_eq!(bob.get(&path).await.status(), 404, "GET {path} as bob");
        let anonymous = app.browser().get(&path).await;
        assert_eq!(anonymous.status(), 303, "GET {path} anonymously");
        assert_eq!(anonymous.headers()["location"], "/sign-in");
    }
    let stolen = bob
        .post_form(&format!("/sources/{source}/runs"), &[("csrf", &bobs_csrf)])
        .await;
    assert_eq!(stolen.status(), 404);
    let anonymous = app
        .browser()
        .post_form(&format!("/sources/{source}/runs"), &[("csrf", "x")])
        .await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/sign-in");
    // Another run of Alice's source needs her token.
    for token in [None, Some(""), Some(bobs_csrf.as_str())] {
        let mut form = vec![];
        if let Some(token) = token {
            form.push(("csrf", token));
        }
        let refused = alice
            .post_form(&format!("/sources/{source}/runs"), &form)
            .await;
        assert_eq!(refused.status(), 403, "Run with {token:?}");
    }
    let page = alice.page(&format!("/sources/{source}")).await;
    assert_eq!(page.matches("/runs/run_").count(), 1, "no run was added");
    // A run id of another source is not found, as is an unknown one.
    let other = create_source(&alice, &credential, "other").await;
    let run_id = run_page.rsplit('/').next().unwrap();
    assert_eq!(
        alice
            .get(&format!("/sources/{other}/runs/{run_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        alice
            .get(&format!("/sources/{source}/runs/run_nope"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_information_screen_lists_every_user_and_links_your_recent_runs() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let credential = app.authorized_credential(&alice, "Boards").await;
    let info_path = format!("/credentials/{credential}/info");
    let info = alice.page(&info_path).await;
    assert!(info.contains("No source or destination uses this credential yet."));
    assert!(info.contains("None of your sources has run with this credential yet."));

    let source = create_source(&alice, &credential, "weekly").await;
    let run_page = run(&alice, &source).await;
    let finished = wait_for_end(&alice, &run_page).await;
    let shared = alice
        .post_form(
            &format!("/credentials/{credential}/shares"),
            &[("csrf", &alice.csrf().await), ("username", "bob")],
        )
        .await;
    assert_eq!(shared.status(), 303);
    let bobs_source = create_source(&bob, &credential, "bobs").await;
    let bobs_run = run(&bob, &bobs_source).await;
    wait_for_end(&bob, &bobs_run).await;

    let info = alice.page(&info_path).await;
    // Her source links to its page; Bob's is named, marked as his, and
    // not linked.
    assert!(
        info.contains(&format!(
            "<a href=\"/sources/{source}\">Weekly boards (source: boards, board_pins)</a>"
        )),
        "{info}"
    );
    let bobs_item = info
        .find(&format!("data-source=\"{bobs_source}\""))
        .expect("Bob's source is listed");
    let bobs_item = &info[bobs_item..info[bobs_item..].find("</li>").unwrap() + bobs_item];
    assert!(bobs_item.contains("class=\"owner\">bob"), "{bobs_item}");
    assert!(!bobs_item.contains("href"), "{bobs_item}");
    // Her run, linked to its page, with its status and count; not Bob's.
    assert!(info.contains(&format!("href=\"{run_page}\"")), "{info}");
    assert!(!info.contains(&bobs_run));
    let total: u64 = finished["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    let row = info
        .find(&format!(
            "data-run=\"{}\"",
            finished["id"].as_str().unwrap()
        ))
        .expect("the run's row");
    let row = &info[row..info[row..].find("</tr>").unwrap() + row];
    assert!(row.contains("Succeeded"), "{row}");
    assert!(
        row.contains(&format!("<td class=\"num\">{total}</td>")),
        "{row}"
    );
    assert!(!info.contains(&app.client_secret));
}

#[tokio::test]
async fn a_finished_run_and_a_source_are_deleted_from_their_pages() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let credential = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let source = create_source(&alice, &credential, "weekly").await;
    let run_page = run(&alice, &source).await;
    wait_for_end(&alice, &run_page).await;

    // The finished run's page offers Delete.
    let page = alice.page(&run_page).await;
    let delete_run = format!("{run_page}/delete");
    assert!(page.contains(&format!("action=\"{delete_run}\"")), "{page}");
    let csrf = csrf_in(&page);
    let bobs_csrf = bob.csrf().await;
    // Refused without the session's token, for another user, anonymously.
    for token in ["", "forged", bobs_csrf.as_str()] {
        let refused = alice.post_form(&delete_run, &[("csrf", token)]).await;
        assert_eq!(refused.status(), 403, "csrf {token:?}");
    }
    let hidden = bob.post_form(&delete_run, &[("csrf", &bobs_csrf)]).await;
    assert_eq!(hidden.status(), 404);
    let anonymous = app
        .browser()
        .post_form(&delete_run, &[("csrf", &csrf)])
        .await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/sign-in");
    assert_eq!(alice.get(&run_page).await.status(), 200, "still there");

    let deleted = alice.post_form(&delete_run, &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status(), 303);
    let back = deleted.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/sources/{source}?run_deleted=1"));
    assert_eq!(alice.get(&run_page).await.status(), 404);
    let source_page = alice.page(&back).await;
    assert!(source_page.contains("The run was deleted."));
    assert!(source_page.contains("No runs yet."));

    // The source: Delete needs the confirmation box.
    let delete_source = format!("/sources/{source}/delete");
    assert!(source_page.contains(&format!("action=\"{delete_source}\"")));
    let unconfirmed = alice.post_form(&delete_source, &[("csrf", &csrf)]).await;
    assert_eq!(unconfirmed.status(), 303);
    let again = unconfirmed.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(again, format!("/sources/{source}?confirm=missing"));
    assert!(
        alice
            .page(&again)
            .await
            .contains("Tick the box to confirm the deletion.")
    );
    let confirmed = [("csrf", csrf.as_str()), ("confirm", "yes")];
    for token in ["", "forged", bobs_csrf.as_str()] {
        let refused = alice
            .post_form(&delete_source, &[("csrf", token), ("confirm", "yes")])
            .await;
        assert_eq!(refused.status(), 403, "csrf {token:?}");
    }
    let hidden = bob
        .post_form(&delete_source, &[("csrf", &bobs_csrf), ("confirm", "yes")])
        .await;
    assert_eq!(hidden.status(), 404);
    let anonymous = app.browser().post_form(&delete_source, &confirmed).await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/sign-in");
    let second_run = run(&alice, &source).await;
    wait_for_end(&alice, &second_run).await;

    let deleted = alice.post_form(&delete_source, &confirmed).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(deleted.headers()["location"], "/sources?deleted=1");
    let list = alice.page("/sources?deleted=1").await;
    assert!(list.contains("The source and its runs were deleted."));
    assert!(!list.contains(&source));
    for path in [format!("/sources/{source}"), second_run] {
        assert_eq!(alice.get(&path).await.status(), 404, "GET {path}");
    }
    let info = alice.page(&format!("/credentials/{credential}/info")).await;
    assert!(info.contains("No source or destination uses this credential yet."));
    assert!(info.contains("None of your sources has run with this credential yet."));
}

#[tokio::test]
async fn a_source_or_run_still_going_is_not_deleted_and_the_page_says_why() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let credential = alice
        .add_credential("Boards", "1484362", SECRET_CANARY)
        .await;
    let source = create_source(&alice, &credential, "weekly").await;
    // A run caught while it runs: stored as the runner stores it.
    let owner = app
        .store
        .get_source(&source.parse().unwrap())
        .await
        .unwrap()
        .owner;
    let going = app
        .store
        .create_run(
            &pinion_store::RunRecord {
                id: "run_0123456789abcdef0123456789abcdef".parse().unwrap(),
                source_id: source.parse().unwrap(),
                owner,
                status: pinion_store::RunStatus::Queued,
                streams: vec![],
                error: None,
                created_at: chrono::Utc::now(),
                started_at: None,
                finished_at: None,
                taken_over_at: None,
            },
            &pinion_store::RunLease {
                owner: "test".into(),
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    app.store.start_run(&going.id).await.unwrap();
    let run_page = format!("/sources/{source}/runs/{}", going.id);
    let page = alice.page(&run_page).await;
    assert!(!page.contains("/delete\""), "no Delete while it runs");
    let csrf = csrf_in(&page);

    for (path, form) in [
        (format!("{run_page}/delete"), vec![("csrf", csrf.as_str())]),
        (
            format!("/sources/{source}/delete"),
            vec![("csrf", csrf.as_str()), ("confirm", "yes")],
        ),
    ] {
        let refused = alice.post_form(&path, &form).await;
        assert_eq!(refused.status(), 409, "POST {path}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("still going"), "{page}");
        assert!(page.contains(&format!("href=\"/sources/{source}\"")));
    }
    assert_eq!(alice.get(&run_page).await.status(), 200);
    assert_eq!(alice.get(&format!("/sources/{source}")).await.status(), 200);

    // Its process dies and another takes it over: the run page says so.
    assert!(!alice.page(&run_page).await.contains("Taken over"));
    assert!(
        app.store
            .claim_run(
                &going.id,
                "test",
                true,
                &pinion_store::RunLease {
                    owner: "test-2".into(),
                    expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap()
    );
    let page = alice.page(&run_page).await;
    assert!(
        page.contains("Taken over") && page.contains("resumed it from its checkpoint"),
        "{page}"
    );
}
