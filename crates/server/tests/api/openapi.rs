//! `GET /api/v1/openapi.json`: the document is valid OpenAPI 3.1, every
//! documented operation is served by the real router, the router serves
//! nothing under `/api/v1` that is not documented, and real responses match
//! the documented schemas.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> (String, Value) {
    let response = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the document needs no token");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let text = response.text().await.unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    (text, json)
}

/// `(path, method)` of every documented operation.
pub(crate) fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                out.push((path.clone(), method.to_owned()));
            }
        }
    }
    out
}

/// Every `$ref` in `value`, to check each resolves.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = spawn_app().await;
    let (text, doc) = document(&app).await;

    // A typed OpenAPI 3.1 parser accepts it, version included.
    let spec = oas3::from_json(&text).expect("parses as OpenAPI 3.1");
    let version = spec
        .validate_version()
        .expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert!(!spec.info.title.is_empty());

    // Structural rules the parser does not enforce.
    let mut operation_ids = BTreeSet::new();
    for (path, method, operation) in spec.operations() {
        assert!(path.starts_with("/api/v1/"), "{path}");
        let id = operation.operation_id.clone().expect("an operationId");
        assert!(
            operation_ids.insert(id.clone()),
            "duplicate operationId {id}"
        );
        let responses = operation.responses(&spec);
        assert!(!responses.is_empty(), "{method} {path} has no responses");
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path} documents no success"
        );
        // Every `{param}` of the path is a documented path parameter.
        let parameters = operation.parameters(&spec).unwrap();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    parameters.iter().any(|p| p.name == name
                        && matches!(p.location, oas3::spec::ParameterIn::Path)
                        && p.required == Some(true)),
                    "{method} {path}: path parameter `{name}` is not documented"
                );
            }
        }
        // Every operation but the document itself needs the bearer token,
        // and every error it documents has the common error body.
        let raw = &doc["paths"][&path][method.as_str().to_lowercase()];
        if path == "/api/v1/openapi.json" {
            assert_eq!(raw["security"], serde_json::json!([{}]));
        } else {
            assert!(raw.get("security").is_none(), "{method} {path}");
            for (status, response) in raw["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
            assert!(
                raw["responses"].get("401").is_some(),
                "{method} {path} does not document 401"
            );
        }
    }
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({
            "type": "http",
            "scheme": "bearer",
            "description": "A Pinion API token: `Authorization: Bearer <token>`."
        })
    );

    // Every reference resolves inside the document.
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {target}"));
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
    }

    // The error body has the documented shape.
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    for field in ["code", "message", "field"] {
        assert!(error["properties"].get(field).is_some(), "{field}");
    }
}

/// A request for `method path` with any `{param}` replaced by an id that
/// does not exist, sent with a valid token.
async fn probe(app: &TestApp, method: &str, path: &str) -> (u16, Value) {
    let concrete: Vec<String> = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "nothing_here_0123456789abcdef".to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect();
    let url = app.url(&concrete.join("/"));
    let response = app
        .http
        .request(method.parse().unwrap(), url)
        .bearer_auth(&app.alice)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router() {
    let app = spawn_app().await;
    let (_, doc) = document(&app).await;
    let operations = operations(&doc);
    assert!(operations.len() >= 11, "{operations:?}");
    for (path, method) in &operations {
        let (status, body) = probe(&app, method, path).await;
        assert_ne!(
            status, 405,
            "{method} {path}: the router has no such method"
        );
        if status == 404 {
            // The handler's own answer about the id, not the API's fallback
            // for an unknown route.
            assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
            assert_ne!(
                body["error"]["message"], "route not found",
                "{method} {path}: the router has no such route"
            );
        }
        if path != "/api/v1/openapi.json" {
            // And the route really is behind the documented bearer scheme.
            let anonymous = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(anonymous.status(), 401, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn the_router_serves_no_undocumented_method_or_route() {
    let app = spawn_app().await;
    let (_, doc) = document(&app).await;
    let operations = operations(&doc);
    let paths: BTreeSet<&String> = operations.iter().map(|(path, _)| path).collect();
    // No undocumented method on a documented path.
    for path in paths {
        for method in METHODS {
            if operations.iter().any(|(p, m)| p == path && m == method) {
                continue;
            }
            let (status, _) = probe(&app, method, path).await;
            assert_eq!(status, 405, "{method} {path} is served but not documented");
        }
    }
    // No route added beside the documented list: `api::routes()` registers
    // every route through `routes!` (which documents it), and nothing else
    // adds routes under /api/v1.
    let api = include_str!("../../src/api/mod.rs");
    assert!(
        !api.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .any(|line| line.contains(".route(") || line.contains(".route_service(")),
        "register /api/v1 routes with `.routes(routes!(handler))` in api::routes()"
    );
    let startup = include_str!("../../src/startup.rs");
    assert!(
        !startup.contains("/api/v1") && !startup.contains(".nest("),
        "startup.rs adds the API from api::router() only"
    );
}

/// Validates `instance` against the documented schema `name`.
fn assert_matches_schema(doc: &Value, name: &str, instance: &Value) {
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{instance:#}");
    // And the schema names every field the response has, so a field added to
    // a response without documentation is caught.
    let properties = doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap();
    for key in instance.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "{name} does not document `{key}`"
        );
    }
}

#[tokio::test]
async fn responses_match_the_documented_schemas() {
    let app = spawn_app().await;
    let (_, doc) = document(&app).await;

    let id = app.create_credential(&app.alice, "Marketing").await;
    let credential: Value = app
        .get_credential(&app.alice, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_matches_schema(&doc, "Credential", &credential);
    let list: Value = app.get_credentials(&app.alice).await.json().await.unwrap();
    assert_matches_schema(&doc, "CredentialList", &list);

    let authorize: Value = app
        .http
        .post(app.url(&format!("/api/v1/credentials/{id}/authorize")))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_matches_schema(&doc, "AuthorizationStarted", &authorize);

    let source = app
        .http
        .post(app.url("/api/v1/sources"))
        .bearer_auth(&app.alice)
        .json(&serde_json::json!({
            "name": "Boards",
            "credential_id": id,
            "streams": ["boards"],
            "output": {"kind": "jsonl", "path": "pinion-out"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(source.status(), 201);
    let source: Value = source.json().await.unwrap();
    assert_matches_schema(&doc, "Source", &source);

    let run = app
        .http
        .post(app.url(&format!(
            "/api/v1/sources/{}/runs",
            source["id"].as_str().unwrap()
        )))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 202);
    let run: Value = run.json().await.unwrap();
    assert_matches_schema(&doc, "Run", &run);
    let usage: Value = app
        .http
        .get(app.url(&format!("/api/v1/credentials/{id}/usage")))
        .bearer_auth(&app.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["recent_runs"][0]["id"], run["id"], "{usage}");
    assert_matches_schema(&doc, "Usage", &usage);
    assert_matches_schema(&doc, "SourceUse", &usage["sources"][0]);
    assert_matches_schema(&doc, "Run", &usage["recent_runs"][0]);

    // Errors: validation (with `field` and `errors`), not found, unauthorized.
    let invalid: Value = app
        .post_credential(
            &app.alice,
            &serde_json::json!({"name": " ", "client_id": "x", "client_secret": "y"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(invalid["error"]["errors"].is_array(), "{invalid}");
    assert_matches_schema(&doc, "Error", &invalid);
    let missing: Value = app
        .get_credential(&app.bob, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_matches_schema(&doc, "Error", &missing);
    let anonymous: Value = app
        .http
        .get(app.url("/api/v1/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_matches_schema(&doc, "Error", &anonymous);
}
