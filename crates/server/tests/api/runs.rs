//! Runs, sources and a credential's usage over the API: a finished run and
//! a source (with its runs) are deleted by their owner only, never while a
//! run is going (409); `GET /credentials/{id}/usage` shows the owner every
//! source and destination using the credential and a collaborator only
//! their own, with the caller's recent runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pinion_domain::UserId;
use pinion_store::{DestinationRecord, RunRecord, RunStatus, RunStreamCount};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

impl TestApp {
    async fn call(&self, method: Method, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v1{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A source of `token`'s user reading boards with `credential`; its id
    /// and its owner's id.
    async fn create_source(&self, token: &str, credential: &str, name: &str) -> (String, UserId) {
        let response = self
            .http
            .post(self.url("/api/v1/sources"))
            .bearer_auth(token)
            .json(&json!({
                "name": name,
                "credential_id": credential,
                "streams": ["boards"],
                "output": {"kind": "jsonl", "path": "out"},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let source: Value = response.json().await.unwrap();
        (
            source["id"].as_str().unwrap().to_owned(),
            UserId::from_trusted(source["owner"].as_str().unwrap().to_owned()),
        )
    }

    /// Stores a run of `source` and brings it to `status`, as the runner
    /// would (a run caught while it runs cannot be made through the API
    /// without racing it); returns its id.
    async fn stored_run(&self, source: &str, owner: &UserId, status: RunStatus) -> String {
        // Ids in creation order, so runs stored within the same microsecond
        // still list newest first.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!("run_{:032x}", NEXT.fetch_add(1, Ordering::Relaxed));
        let run = self
            .store
            .create_run(
                &RunRecord {
                    id: pinion_domain::RunId::from_trusted(id.clone()),
                    source_id: pinion_domain::SourceId::from_trusted(source.to_owned()),
                    owner: owner.clone(),
                    status: RunStatus::Queued,
                    streams: vec![RunStreamCount {
                        stream: "boards".into(),
                        records: 0,
                        outcome: None,
                        error: None,
                    }],
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
        if status != RunStatus::Queued {
            self.store.start_run(&run.id).await.unwrap();
        }
        if status.is_final() {
            self.store
                .finish_run(&run.id, status, &run.streams, None)
                .await
                .unwrap();
        }
        id
    }

    /// Starts a real run through the API and waits for its end.
    async fn finished_run(&self, token: &str, source: &str) -> Value {
        let started = self
            .call(
                Method::POST,
                Some(token),
                &format!("/sources/{source}/runs"),
            )
            .await;
        assert_eq!(started.status(), 202);
        let run: Value = started.json().await.unwrap();
        let path = format!("/sources/{source}/runs/{}", run["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run: Value = self
                .call(Method::GET, Some(token), &path)
                .await
                .json()
                .await
                .unwrap();
            if run["status"] == "succeeded" || run["status"] == "failed" {
                return run;
            }
            assert!(Instant::now() < deadline, "the run never ended: {run}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn usage(&self, token: &str, credential: &str) -> Value {
        let response = self
            .call(
                Method::GET,
                Some(token),
                &format!("/credentials/{credential}/usage"),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_finished_run_and_then_its_source_are_deleted_by_their_owner_only() {
    let app = spawn_app().await;
    let credential = app.create_credential(&app.alice, "Boards").await;
    let (source, _) = app.create_source(&app.alice, &credential, "Weekly").await;
    let (other, _) = app.create_source(&app.alice, &credential, "Daily").await;
    // The credential is not authorized, so the run fails at once: finished.
    let run = app.finished_run(&app.alice, &source).await;
    let run_id = run["id"].as_str().unwrap();
    let run_path = format!("/sources/{source}/runs/{run_id}");
    let usage = app.usage(&app.alice, &credential).await;
    assert_eq!(ids(&usage["recent_runs"]), vec![run_id]);

    for path in [run_path.clone(), format!("/sources/{source}")] {
        let anonymous = app.call(Method::DELETE, None, &path).await;
        assert_eq!(anonymous.status(), 401, "DELETE {path}");
        let hidden = app.call(Method::DELETE, Some(&app.bob), &path).await;
        assert_eq!(hidden.status(), 404, "DELETE {path} as bob");
        let body: Value = hidden.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        // An admin reads metadata, but deletes nothing of another user.
        let admin = app.call(Method::DELETE, Some(&app.admin), &path).await;
        assert_eq!(admin.status(), 404, "DELETE {path} as admin");
    }
    // A run id under another source of the same user is not found either.
    let elsewhere = app
        .call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/sources/{other}/runs/{run_id}"),
        )
        .await;
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(
        app.call(Method::GET, Some(&app.alice), &run_path)
            .await
            .status(),
        200,
        "nothing was deleted yet"
    );

    let deleted = app.call(Method::DELETE, Some(&app.alice), &run_path).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.text().await.unwrap().is_empty());
    assert_eq!(
        app.call(Method::GET, Some(&app.alice), &run_path)
            .await
            .status(),
        404
    );
    let runs: Value = app
        .call(
            Method::GET,
            Some(&app.alice),
            &format!("/sources/{source}/runs"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&runs).is_empty(), "{runs}");
    assert!(
        ids(&app.usage(&app.alice, &credential).await["recent_runs"]).is_empty(),
        "the usage no longer lists it"
    );
    assert_eq!(
        app.call(Method::DELETE, Some(&app.alice), &run_path)
            .await
            .status(),
        404,
        "a second delete finds nothing"
    );

    // The source goes with its runs.
    let second = app.finished_run(&app.alice, &source).await;
    let deleted = app
        .call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/sources/{source}"),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    for path in [
        format!("/sources/{source}"),
        format!("/sources/{source}/runs"),
        format!("/sources/{source}/runs/{}", second["id"].as_str().unwrap()),
    ] {
        let gone = app.call(Method::GET, Some(&app.alice), &path).await;
        assert_eq!(gone.status(), 404, "GET {path}");
    }
    assert!(matches!(
        app.store
            .get_run(&second["id"].as_str().unwrap().parse().unwrap())
            .await,
        Err(pinion_store::StoreError::NotFound { .. })
    ));
    let sources: Value = app
        .call(Method::GET, Some(&app.alice), "/sources")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&sources), vec![other.as_str()]);
    let usage = app.usage(&app.alice, &credential).await;
    assert_eq!(ids(&usage["sources"]), vec![other.as_str()]);
    assert_eq!(
        app.call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/sources/{source}")
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn nothing_is_deleted_while_a_run_is_going() {
    let app = spawn_app().await;
    let credential = app.create_credential(&app.alice, "Boards").await;
    let (source, alice) = app.create_source(&app.alice, &credential, "Weekly").await;
    let done = app.stored_run(&source, &alice, RunStatus::Succeeded).await;
    for status in [RunStatus::Queued, RunStatus::Running] {
        let going = app.stored_run(&source, &alice, status).await;
        let run_path = format!("/sources/{source}/runs/{going}");
        for (path, field) in [
            (run_path.clone(), "run"),
            (format!("/sources/{source}"), "source"),
        ] {
            let refused = app.call(Method::DELETE, Some(&app.alice), &path).await;
            assert_eq!(refused.status(), 409, "DELETE {path} while {status:?}");
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["error"]["code"], "conflict", "{body}");
            assert_eq!(body["error"]["field"], field, "{body}");
        }
        // Everything is still there, the finished run included.
        let runs: Value = app
            .call(
                Method::GET,
                Some(&app.alice),
                &format!("/sources/{source}/runs"),
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(ids(&runs).contains(&going.as_str()) && ids(&runs).contains(&done.as_str()));
        // Another user still learns nothing: 404, not 409.
        let hidden = app.call(Method::DELETE, Some(&app.bob), &run_path).await;
        assert_eq!(hidden.status(), 404);
        app.store
            .finish_run(
                &going.parse().unwrap(),
                RunStatus::Failed,
                &[],
                Some("stopped"),
            )
            .await
            .unwrap();
    }
    let deleted = app
        .call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/sources/{source}"),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert!(matches!(
        app.store.get_run(&done.parse().unwrap()).await,
        Err(pinion_store::StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn usage_shows_the_owner_everything_and_a_collaborator_only_their_own() {
    let app = spawn_app().await;
    let credential = app.create_credential(&app.alice, "Shared boards").await;
    let other = app.create_credential(&app.alice, "Other").await;
    let path = format!("/credentials/{credential}/usage");
    // Not shared yet: Bob learns nothing, as for an unknown id.
    let hidden = app.call(Method::GET, Some(&app.bob), &path).await;
    assert_eq!(hidden.status(), 404);
    let hidden: Value = hidden.json().await.unwrap();
    let unknown: Value = app
        .call(
            Method::GET,
            Some(&app.bob),
            "/credentials/cred_00000000000000000000000000000000/usage",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hidden, unknown);
    assert_eq!(app.call(Method::GET, None, &path).await.status(), 401);

    let shared = app
        .http
        .post(app.url(&format!("/api/v1/credentials/{credential}/shares")))
        .bearer_auth(&app.alice)
        .json(&json!({"username": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 201);
    let (alices, alice) = app
        .create_source(&app.alice, &credential, "Alice's boards")
        .await;
    let (bobs, bob) = app
        .create_source(&app.bob, &credential, "Bob's boards")
        .await;
    app.create_source(&app.alice, &other, "Elsewhere").await;
    for (id, owner, name) in [
        ("dst_a", &alice, "Alice's board"),
        ("dst_b", &bob, "Bob's board"),
    ] {
        app.store
            .create_destination(&DestinationRecord {
                id: pinion_domain::DestinationId::from_trusted(id.into()),
                owner: owner.clone(),
                credential_id: pinion_domain::CredentialId::from_trusted(credential.clone()),
                name: name.into(),
                board_id: "549755885175".into(),
                board_name: "Recipes".into(),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let alices_runs = [
        app.stored_run(&alices, &alice, RunStatus::Succeeded).await,
        app.stored_run(&alices, &alice, RunStatus::Failed).await,
        app.stored_run(&alices, &alice, RunStatus::Running).await,
    ];
    let bobs_run = app.stored_run(&bobs, &bob, RunStatus::Succeeded).await;

    // The owner: every source and destination, each with its owner; only
    // her own runs, newest first.
    let usage = app.usage(&app.alice, &credential).await;
    assert_eq!(usage["credential_id"], credential.as_str());
    assert_eq!(ids(&usage["sources"]), vec![alices.as_str(), bobs.as_str()]);
    assert_eq!(usage["sources"][1]["owner_username"], "bob");
    assert_eq!(usage["sources"][0]["owner_username"], "alice");
    assert_eq!(usage["sources"][0]["streams"], json!(["boards"]));
    assert_eq!(ids(&usage["destinations"]), vec!["dst_a", "dst_b"]);
    assert_eq!(usage["destinations"][1]["owner_username"], "bob");
    let newest_first: Vec<&str> = alices_runs.iter().rev().map(String::as_str).collect();
    assert_eq!(ids(&usage["recent_runs"]), newest_first);
    let running = &usage["recent_runs"][0];
    assert_eq!(running["status"], "running");
    assert_eq!(running["source_id"], alices.as_str());
    assert!(running["started_at"].is_string() && running["finished_at"].is_null());
    assert_eq!(usage["recent_runs"][2]["status"], "succeeded");
    assert!(usage["recent_runs"][2]["finished_at"].is_string());
    let limited = app
        .call(Method::GET, Some(&app.alice), &format!("{path}?runs=1"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(ids(&limited["recent_runs"]), newest_first[..1].to_vec());

    // The collaborator: their own source, destination and run only.
    let theirs = app.usage(&app.bob, &credential).await;
    assert_eq!(ids(&theirs["sources"]), vec![bobs.as_str()]);
    assert_eq!(ids(&theirs["destinations"]), vec!["dst_b"]);
    assert_eq!(ids(&theirs["recent_runs"]), vec![bobs_run.as_str()]);
    let text = serde_json::to_string(&theirs).unwrap();
    for leaked in [alices.as_str(), "dst_a", alices_runs[0].as_str(), "Alice's"] {
        assert!(!text.contains(leaked), "{leaked} in {text}");
    }

    // An admin sees what uses it, and has no runs of their own there.
    let admin = app.usage(&app.admin, &credential).await;
    assert_eq!(ids(&admin["sources"]), vec![alices.as_str(), bobs.as_str()]);
    assert!(ids(&admin["recent_runs"]).is_empty());

    // Another credential lists only what uses it.
    let elsewhere = app.usage(&app.alice, &other).await;
    assert!(ids(&elsewhere["destinations"]).is_empty());
    assert_eq!(elsewhere["sources"][0]["name"], "Elsewhere");
    assert_eq!(elsewhere["sources"].as_array().unwrap().len(), 1);
    assert!(ids(&elsewhere["recent_runs"]).is_empty());

    // Once the share is withdrawn, Bob learns nothing again.
    let withdrawn = app
        .call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/credentials/{credential}/shares/bob"),
        )
        .await;
    assert_eq!(withdrawn.status(), 204);
    assert_eq!(
        app.call(Method::GET, Some(&app.bob), &path).await.status(),
        404
    );
}

#[tokio::test]
async fn a_schedule_is_set_read_paused_resumed_and_removed_over_the_api() {
    let app = spawn_app().await;
    let credential = app.create_credential(&app.alice, "Boards").await;
    let (source, _) = app.create_source(&app.alice, &credential, "Hourly").await;
    let path = format!("/api/v1/sources/{source}/schedule");
    let put = |token: &str, body: Value| {
        app.http
            .put(app.url(&path))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };

    let missing = app
        .call(
            Method::GET,
            Some(&app.alice),
            &format!("/sources/{source}/schedule"),
        )
        .await;
    assert_eq!(missing.status(), 404);

    for (body, field) in [
        (json!({}), "every"),
        (json!({"every": "10s"}), "every"),
        (json!({"every": "1h", "cron": "0 * * * *"}), "every"),
        (
            json!({"cron": "0 6 * * *", "time_zone": "Nowhere/Else"}),
            "time_zone",
        ),
    ] {
        let refused = put(&app.alice, body.clone()).await.unwrap();
        assert_eq!(refused.status(), 422, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    // `null` is not "left out": the schema says a string, and the body is
    // refused before anything is read, naming the field.
    for (body, field) in [
        (json!({"cron": "0 6 * * *", "time_zone": null}), "time_zone"),
        (json!({"every": "1h", "cron": null}), "cron"),
    ] {
        let refused = put(&app.alice, body.clone()).await.unwrap();
        assert_eq!(refused.status(), 422, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_json", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{body}: {error}");
    }
    let hidden = put(&app.bob, json!({"every": "1h"})).await.unwrap();
    assert_eq!(hidden.status(), 404);

    let set = put(&app.alice, json!({"every": "1h"})).await.unwrap();
    assert_eq!(set.status(), 200);
    let schedule: Value = set.json().await.unwrap();
    assert_eq!(schedule["every"], "1h");
    assert_eq!(schedule["description"], "every 1h");
    assert_eq!(schedule["paused"], false);
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(schedule["next_run_at"].clone()).unwrap();
    let from_now = next - chrono::Utc::now();
    assert!(
        from_now > chrono::Duration::minutes(59) && from_now <= chrono::Duration::hours(1),
        "{schedule}"
    );

    let paused: Value = app
        .call(
            Method::POST,
            Some(&app.alice),
            &format!("/sources/{source}/schedule/pause"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (paused["paused"].clone(), paused["next_run_at"].clone()),
        (json!(true), Value::Null)
    );
    let resumed: Value = app
        .call(
            Method::POST,
            Some(&app.alice),
            &format!("/sources/{source}/schedule/resume"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["paused"], false);
    assert!(resumed["next_run_at"].is_string());

    let removed = app
        .call(
            Method::DELETE,
            Some(&app.alice),
            &format!("/sources/{source}/schedule"),
        )
        .await;
    assert_eq!(removed.status(), 204);
    let gone = app
        .call(
            Method::GET,
            Some(&app.alice),
            &format!("/sources/{source}/schedule"),
        )
        .await;
    assert_eq!(gone.status(), 404);
    // With no schedule, pause and resume conflict with the source's state.
    let resumed = app
        .call(
            Method::POST,
            Some(&app.alice),
            &format!("/sources/{source}/schedule/resume"),
        )
        .await;
    assert_eq!(resumed.status(), 409);
    let error: Value = resumed.json().await.unwrap();
    assert_eq!(error["error"]["field"], "schedule", "{error}");
}

#[tokio::test]
async fn a_source_is_changed_by_its_owner_only_and_never_while_a_run_is_going() {
    let app = spawn_app().await;
    let credential = app.create_credential(&app.alice, "Boards").await;
    let (source, alice) = app.create_source(&app.alice, &credential, "Weekly").await;
    let put = |token: &str, body: Value| {
        app.http
            .put(app.url(&format!("/api/v1/sources/{source}")))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let changed = json!({
        "name": "Weekly pins",
        "credential_id": credential,
        "streams": ["boards", "board_pins", "boards"],
        "output": {"kind": "sqlite", "path": "reports/weekly.db"},
    });
    let response = put(&app.alice, changed.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], source.as_str());
    assert_eq!(body["name"], "Weekly pins");
    assert_eq!(body["streams"], json!(["boards", "board_pins"]));
    assert_eq!(body["output_kind"], "sqlite");
    assert_eq!(body["output_path"], "reports/weekly.db");
    assert_eq!(body["sync_mode"], "full_refresh", "the default");
    let mut incremental = changed.clone();
    incremental["sync_mode"] = json!("incremental");
    let response = put(&app.alice, incremental.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sync_mode"], "incremental");
    let mut unknown = changed.clone();
    unknown["sync_mode"] = json!("sometimes");
    let refused = put(&app.alice, unknown).await.unwrap();
    assert_eq!(refused.status(), 422);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(
        error["error"]["message"], "`sync_mode` has an invalid value",
        "{error}"
    );
    assert_eq!(error["error"]["field"], "sync_mode", "{error}");
    let read: Value = app
        .call(Method::GET, Some(&app.alice), &format!("/sources/{source}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, body);

    // Bad fields are named, and nothing changes.
    let bad = put(
        &app.alice,
        json!({
            "name": "Weekly pins",
            "credential_id": credential,
            "streams": ["boards"],
            "output": {"kind": "jsonl", "path": "../elsewhere"},
        }),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"]["field"], "output_path", "{error}");

    // Another user learns nothing; nor does a credential of someone else.
    assert_eq!(put(&app.bob, changed.clone()).await.unwrap().status(), 404);
    let bobs = app.create_credential(&app.bob, "Bob's").await;
    let mut elsewhere = changed.clone();
    elsewhere["credential_id"] = json!(bobs);
    assert_eq!(put(&app.alice, elsewhere).await.unwrap().status(), 404);

    // While a run is going, 409 and the source stays as it was.
    let going = app.stored_run(&source, &alice, RunStatus::Running).await;
    let mut renamed = changed.clone();
    renamed["name"] = json!("Renamed while running");
    let refused = put(&app.alice, renamed.clone()).await.unwrap();
    assert_eq!(refused.status(), 409);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["field"], "source", "{error}");
    let read: Value = app
        .call(Method::GET, Some(&app.alice), &format!("/sources/{source}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["name"], "Weekly pins");
    app.store
        .finish_run(
            &going.parse().unwrap(),
            RunStatus::Failed,
            &[],
            Some("stopped"),
        )
        .await
        .unwrap();
    assert_eq!(put(&app.alice, renamed).await.unwrap().status(), 200);
}
