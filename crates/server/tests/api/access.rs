//! Access control on every operation of the JSON API, walked from the
//! OpenAPI document the server serves (so a new operation is covered, or
//! the walk fails saying how to reach it): an anonymous or wrong token gets
//! 401 in the error format; another user gets, for every operation about an
//! object (an id in its path, or a credential named in its body), exactly
//! the 404 of an unknown id; a collaborator on a shared credential is
//! refused on every operation about its settings but can pick it for a
//! source or destination; and the owner is served.

use pinion_domain::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{SimApp, spawn_with_simulator};
use crate::openapi::operations;

/// Alice's objects, one of each kind an operation can name.
#[derive(Clone)]
struct Ids {
    credential: String,
    source: String,
    run: String,
    token: String,
    destination: String,
    board: String,
    webhook: String,
}

/// An id of the same kind as `id` that does not exist.
fn unknown(id: &str) -> String {
    let (prefix, rest) = id.split_once('_').expect("a prefixed id");
    format!("{prefix}_{}", "0".repeat(rest.len()))
}

impl Ids {
    fn unknown(&self) -> Ids {
        Ids {
            credential: unknown(&self.credential),
            source: unknown(&self.source),
            run: unknown(&self.run),
            token: unknown(&self.token),
            destination: unknown(&self.destination),
            board: self.board.clone(),
            webhook: unknown(&self.webhook),
        }
    }

    /// `path` (`/api/v1/...` with `{params}`) naming these objects: `{id}`
    /// is the object of the path's first part.
    fn path(&self, path: &str) -> String {
        let collection = path.trim_start_matches("/api/v1/").split('/').next();
        path.split('/')
            .map(|segment| match segment {
                "{id}" => match collection {
                    Some("credentials") => self.credential.clone(),
                    Some("sources") => self.source.clone(),
                    Some("tokens") => self.token.clone(),
                    Some("destinations") => self.destination.clone(),
                    Some("webhooks") => self.webhook.clone(),
                    other => panic!("{path}: say which object `{{id}}` of {other:?} is"),
                },
                "{run_id}" => self.run.clone(),
                "{username}" => "bob".to_owned(),
                param if param.starts_with('{') => {
                    panic!("{path}: say how to reach the parameter {param}")
                }
                plain => plain.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The body `method path` is sent: every operation the document gives
    /// a request body has one here.
    fn body(&self, method: &str, path: &str) -> Option<Value> {
        Some(match (method, path) {
            ("POST", "/api/v1/credentials") => json!({
                "name": "Another",
                "client_id": "1484362",
                "client_secret": "CANARY-access-secret-91c2",
            }),
            ("PATCH", "/api/v1/credentials/{id}") => json!({"description": "Edited"}),
            ("POST", "/api/v1/credentials/{id}/authorize") => json!({"bind_browser": false}),
            ("POST", "/api/v1/credentials/{id}/shares") => json!({"username": "bob"}),
            ("POST", "/api/v1/sources") => json!({
                "name": "Another source",
                "credential_id": self.credential,
                "streams": ["boards"],
                "output": {"kind": "jsonl", "path": "another"},
            }),
            ("POST", "/api/v1/destinations") => json!({
                "name": "Another destination",
                "credential_id": self.credential,
                "board_id": self.board,
            }),
            ("PATCH", "/api/v1/destinations/{id}") => json!({"credential_id": self.credential}),
            ("POST", "/api/v1/tokens") => json!({"name": "Another token"}),
            ("PUT", "/api/v1/sources/{id}") => json!({
                "name": "Renamed source",
                "credential_id": self.credential,
                "streams": ["boards"],
                "output": {"kind": "jsonl", "path": "renamed"},
            }),
            ("PUT", "/api/v1/sources/{id}/schedule") => json!({"every": "6h"}),
            // Loopback only: the discard port, where nothing listens.
            ("POST", "/api/v1/webhooks") => json!({
                "url": "http://127.0.0.1:9/hook",
                "events": ["*"],
            }),
            ("PATCH", "/api/v1/webhooks/{id}") => json!({"description": "Edited"}),
            _ => return None,
        })
    }
}

/// One documented operation and what it is about.
struct Operation {
    method: String,
    path: String,
    /// The document marks it as needing no token.
    public: bool,
    about: About,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum About {
    /// Nothing of one user's.
    Nothing,
    /// A credential's settings or state (its id is in the path).
    CredentialSettings,
    /// A credential picked for something new (named in the body).
    CredentialUse,
    /// What uses a credential: all of it for the owner (and an admin), only
    /// their own sources and destinations for a collaborator.
    CredentialUsage,
    /// Another object of the caller's, in the path.
    OwnObject,
}

/// Every operation of `doc`, classified; checks the body table covers
/// exactly the operations with a request body.
fn classify(doc: &Value, ids: &Ids) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, method) in operations(doc) {
        let raw = &doc["paths"][&path][method.to_lowercase()];
        let public = raw["security"] == json!([{}]);
        let documented_body = raw.get("requestBody").is_some();
        assert_eq!(
            documented_body,
            ids.body(&method, &path).is_some(),
            "{method} {path}: give Ids::body a body exactly for operations with one"
        );
        let names_credential = raw["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|target| doc.pointer(target.trim_start_matches('#')))
            .is_some_and(|schema| schema["properties"].get("credential_id").is_some());
        let about = if path == "/api/v1/credentials/{id}/usage" {
            About::CredentialUsage
        } else if path.starts_with("/api/v1/credentials/{id}") {
            About::CredentialSettings
        } else if path.contains('{') {
            About::OwnObject
        } else if names_credential {
            About::CredentialUse
        } else {
            About::Nothing
        };
        out.push(Operation {
            method,
            path,
            public,
            about,
        });
    }
    out
}

/// `op` about `ids`' objects, as `token`.
async fn send(app: &SimApp, op: &Operation, ids: &Ids, token: Option<&str>) -> (u16, Value) {
    app.send(
        op.method.parse::<Method>().unwrap(),
        &ids.path(&op.path),
        token,
        ids.body(&op.method, &op.path),
    )
    .await
}

/// The served OpenAPI document.
async fn document(app: &SimApp) -> Value {
    let (status, doc) = app
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    doc
}

/// The id in a 201 or 202 answer.
fn created_id((status, body): (u16, Value)) -> String {
    assert!(matches!(status, 201 | 202), "{status} {body}");
    let id = body.get("info").unwrap_or(&body)["id"].as_str();
    id.unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

/// Alice's authorized credential, a destination and a source with it, a
/// run of the source and a second API token.
async fn alices_objects(app: &SimApp) -> Ids {
    let credential = app.authorized_credential().await;
    let board = app
        .sim
        .control()
        .expected_ids("pinner", pinion_simulator::Stream::Boards)
        .await
        .unwrap()
        .first()
        .expect("the simulated account has boards")
        .clone();
    let token = Some(app.token.as_str());
    let mut ids = Ids {
        credential,
        source: String::new(),
        run: String::new(),
        token: String::new(),
        destination: String::new(),
        board,
        webhook: String::new(),
    };
    let created = created_id;
    let post = |path: &'static str| {
        let body = ids.body("POST", path);
        async move { app.send(Method::POST, path, token, body).await }
    };
    let source = created(post("/api/v1/sources").await);
    let destination = created(post("/api/v1/destinations").await);
    let api_token = created(post("/api/v1/tokens").await);
    let webhook = {
        let (status, body) = post("/api/v1/webhooks").await;
        assert_eq!(status, 201, "{body}");
        body["webhook"]["id"].as_str().unwrap().to_owned()
    };
    let run = created(
        app.send(
            Method::POST,
            &format!("/api/v1/sources/{source}/runs"),
            token,
            None,
        )
        .await,
    );
    // A schedule, so that reading, pausing and resuming it are served.
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/api/v1/sources/{source}/schedule"),
            token,
            Some(json!({"every": "1d"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    ids.source = source;
    ids.destination = destination;
    ids.token = api_token;
    ids.run = run;
    ids.webhook = webhook;
    ids
}

#[tokio::test]
async fn every_api_operation_refuses_a_missing_or_wrong_token_with_401_in_the_error_format() {
    let app = spawn_with_simulator("pw", true).await;
    let ids = alices_objects(&app).await;
    let doc = document(&app).await;
    let ops = classify(&doc, &ids);
    assert!(ops.len() >= 20, "{}", ops.len());
    for op in &ops {
        let what = format!("{} {}", op.method, op.path);
        if op.public {
            assert_eq!(op.path, "/api/v1/openapi.json", "{what} needs no token");
            continue;
        }
        let (status, body) = send(&app, op, &ids, None).await;
        assert_eq!(status, 401, "{what} anonymously: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}: {body}");
        let url = format!("{}{}", app.address, ids.path(&op.path));
        for wrong in ["Bearer pin_wrong", "Bearer ", "Basic YWxpY2U6cHc="] {
            let request = app
                .http
                .request(op.method.parse().unwrap(), &url)
                .header("authorization", wrong);
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{what} with {wrong}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
        }
    }
}

#[tokio::test]
async fn every_api_operation_about_an_object_is_404_to_strangers_refused_to_collaborators_and_served_to_its_owner()
 {
    let app = spawn_with_simulator("pw", true).await;
    let ids = alices_objects(&app).await;
    let nothing = ids.unknown();
    let bob = app.user("bob", Role::User).await;
    let doc = document(&app).await;
    let ops = classify(&doc, &ids);
    let about = |kind: About| ops.iter().filter(move |op| op.about == kind);
    assert!(about(About::CredentialSettings).count() >= 9);
    assert!(about(About::CredentialUse).count() >= 2);
    assert!(about(About::OwnObject).count() >= 6);
    let private = [
        ids.credential.as_str(),
        ids.source.as_str(),
        ids.run.as_str(),
        ids.token.as_str(),
        ids.destination.as_str(),
        ids.webhook.as_str(),
        "Publisher",
        app.client_id.as_str(),
    ];

    // Bob, a stranger: the 404 of an unknown id, byte for byte, everywhere.
    for op in ops.iter().filter(|op| op.about != About::Nothing) {
        let what = format!("{} {} as bob", op.method, op.path);
        let (status, body) = send(&app, op, &ids, Some(&bob)).await;
        assert_eq!(status, 404, "{what}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{what}: {body}");
        let text = body.to_string();
        for value in private {
            assert!(!text.contains(value), "{what} shows {value}");
        }
        let unknown = send(&app, op, &nothing, Some(&bob)).await;
        assert_eq!((status, &body), (unknown.0, &unknown.1), "{what}");
    }
    // Nor is Alice's run reachable through a source of Bob's.
    let mine = Ids {
        credential: created_id(
            app.send(
                Method::POST,
                "/api/v1/credentials",
                Some(&bob),
                ids.body("POST", "/api/v1/credentials"),
            )
            .await,
        ),
        ..ids.clone()
    };
    let mine = Ids {
        source: created_id(
            app.send(
                Method::POST,
                "/api/v1/sources",
                Some(&bob),
                mine.body("POST", "/api/v1/sources"),
            )
            .await,
        ),
        ..mine
    };
    let (status, _) = app
        .send(
            Method::GET,
            &mine.path("/api/v1/sources/{id}/runs/{run_id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, 404, "Alice's run under Bob's source");

    // An admin reads a credential's metadata, activity and shares, never a
    // secret, and changes nothing; everything else of Alice's is a 404.
    let admin = app.user("root", Role::Admin).await;
    for op in ops.iter().filter(|op| op.about != About::Nothing) {
        let what = format!("{} {} as an admin", op.method, op.path);
        let (status, body) = send(&app, op, &ids, Some(&admin)).await;
        let credential_read =
            matches!(op.about, About::CredentialSettings | About::CredentialUsage)
                && op.method == "GET";
        if credential_read {
            assert_eq!(status, 200, "{what}: {body}");
            assert!(!body.to_string().contains(&app.client_secret), "{what}");
        } else {
            assert_eq!(status, 404, "{what}: {body}");
        }
    }

    // Nor do the lists show anything of Alice's.
    for op in ops
        .iter()
        .filter(|op| op.about == About::Nothing && op.method == "GET" && !op.public)
    {
        let (status, body) = send(&app, op, &ids, Some(&bob)).await;
        assert_eq!(status, 200, "GET {}", op.path);
        let text = body.to_string();
        for value in private {
            assert!(
                !text.contains(value),
                "GET {} shows {value} to bob",
                op.path
            );
        }
    }

    // Bob as a collaborator: refused on the credential's settings, free to
    // pick it; Alice's other objects are still 404.
    let shares = format!("/api/v1/credentials/{}/shares", ids.credential);
    let alice = Some(app.token.as_str());
    let (status, _) = app
        .send(
            Method::POST,
            &shares,
            alice,
            Some(json!({"username": "bob"})),
        )
        .await;
    assert_eq!(status, 201);
    for op in ops.iter().filter(|op| op.about != About::Nothing) {
        let what = format!("{} {} as a collaborator", op.method, op.path);
        let (status, body) = send(&app, op, &ids, Some(&bob)).await;
        match op.about {
            About::CredentialSettings => {
                assert!(matches!(status, 403 | 404), "{what}: {status} {body}");
                assert!(!body.to_string().contains(&app.client_id), "{what}");
            }
            About::CredentialUse => assert_eq!(status, 201, "{what}: {body}"),
            About::CredentialUsage => {
                assert_eq!(status, 200, "{what}: {body}");
                let text = body.to_string();
                for owners_only in [&ids.source, &ids.run, &ids.destination] {
                    assert!(!text.contains(owners_only.as_str()), "{what}: {text}");
                }
            }
            About::OwnObject => assert_eq!(status, 404, "{what}: {body}"),
            About::Nothing => unreachable!(),
        }
    }
    let (status, _) = app
        .send(Method::DELETE, &format!("{shares}/bob"), alice, None)
        .await;
    assert_eq!(status, 204);
    let (status, owner_view) = app
        .send(
            Method::GET,
            &format!("/api/v1/credentials/{}", ids.credential),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!((status, &owner_view["name"]), (200, &json!("Publisher")));

    // Alice is served on every operation, with no run going (a run going
    // is a 409 to starting another and to deleting): what ends an object
    // last, a part (a run) before its whole (the source), the credential at
    // the very end.
    let mut order: Vec<&Operation> = ops.iter().collect();
    order.sort_by_key(|op| {
        let delete = op.method == "DELETE";
        (
            delete,
            delete && op.path == "/api/v1/credentials/{id}",
            std::cmp::Reverse(if delete {
                op.path.matches('/').count()
            } else {
                0
            }),
        )
    });
    for op in order {
        let what = format!("{} {} as the owner", op.method, op.path);
        runs_finished(&app, &ids).await;
        let (status, body) = send(&app, op, &ids, Some(&app.token)).await;
        assert!(matches!(status, 200..=299), "{what}: {status} {body}");
    }
}

/// Waits (up to 30 s) until no run of Alice's source is queued or running;
/// nothing to wait for once the source is deleted.
async fn runs_finished(app: &SimApp, ids: &Ids) {
    let path = format!("/api/v1/sources/{}/runs", ids.source);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, runs) = app.send(Method::GET, &path, Some(&app.token), None).await;
        if status == 404 {
            return;
        }
        assert_eq!(status, 200, "{runs}");
        let going = runs
            .as_array()
            .expect("a list of runs")
            .iter()
            .any(|run| matches!(run["status"].as_str(), Some("queued" | "running")));
        if !going {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a run is still going: {runs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
