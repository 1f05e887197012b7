//! Conformance with Pinterest's OpenAPI description: every implemented operation is
//! called and its response body validated against that operation's response schema, the
//! operation table is checked against the spec's `security` and `x-ratelimit-category`,
//! and the spec's examples are round-tripped through the simulator's shapes.
//!
//! The spec is read at test time from the repository's vendored copy,
//! `spec/pinterest/openapi-v5.json` (MIT, notice beside it). OpenAPI 3.0 is converted to
//! JSON Schema 2020-12: `nullable` becomes a union with `null`, discriminator mappings
//! become `if`/`then` rules, `$ref`s point into the embedded `components`, and annotations
//! that JSON Schema lacks are dropped.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use pinion_simulator::ops::{OPERATIONS, Scope};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::{ALL, REDIRECT, TestSim, start};

struct Spec {
    doc: Value,
    components: Value,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../spec/pinterest/openapi-v5.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "the conformance tests need Pinterest's OpenAPI description at {} \
                 (vendored at spec/pinterest/openapi-v5.json): {err}",
                path.display()
            )
        });
        let doc: Value = serde_json::from_str(&text).expect("the spec is valid JSON");
        let components = json!({ "schemas": convert(&doc["components"]["schemas"], true) });
        Spec { doc, components }
    })
}

/// Converts an OpenAPI 3.0 schema (or, with `is_map`, a map of named schemas) into JSON
/// Schema 2020-12.
fn convert(value: &Value, is_map: bool) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| convert(v, false)).collect()),
        Value::Object(map) if is_map => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), convert(v, false)))
                .collect(),
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                match key.as_str() {
                    "nullable" | "discriminator" | "example" | "examples" | "readOnly"
                    | "writeOnly" | "xml" | "externalDocs" | "deprecated" => {}
                    k if k.starts_with("x-") => {}
                    "properties" | "patternProperties" => {
                        out.insert(key.clone(), convert(v, true));
                    }
                    "enum" | "required" | "default" | "const" => {
                        out.insert(key.clone(), v.clone());
                    }
                    _ => {
                        out.insert(key.clone(), convert(v, false));
                    }
                }
            }
            for (bound, exclusive) in [
                ("minimum", "exclusiveMinimum"),
                ("maximum", "exclusiveMaximum"),
            ] {
                if map.get(exclusive) == Some(&Value::Bool(true)) {
                    if let Some(limit) = map.get(bound) {
                        out.insert(exclusive.into(), limit.clone());
                        out.remove(bound);
                    }
                } else if map.get(exclusive) == Some(&Value::Bool(false)) {
                    out.remove(exclusive);
                }
            }
            if let Some(disc) = map.get("discriminator") {
                let prop = disc["propertyName"].as_str().unwrap_or_default();
                if let Some(mapping) = disc.get("mapping").and_then(Value::as_object) {
                    let mut rules: Vec<Value> = out
                        .remove("allOf")
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                    for (name, target) in mapping {
                        rules.push(json!({
                            "if": { "properties": { prop: { "const": name } }, "required": [prop] },
                            "then": { "$ref": target },
                        }));
                    }
                    out.insert("allOf".into(), Value::Array(rules));
                }
            }
            let schema = Value::Object(out);
            if map.get("nullable") == Some(&Value::Bool(true)) {
                json!({ "anyOf": [schema, { "type": "null" }] })
            } else {
                schema
            }
        }
        other => other.clone(),
    }
}

/// A validator for a converted schema, with the components embedded for `$ref`s.
fn validator_for(schema: &Value) -> jsonschema::Validator {
    let mut root = match convert(schema, false) {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("allOf".into(), json!([other]));
            m
        }
    };
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), spec().components.clone());
    jsonschema::draft202012::new(&Value::Object(root)).expect("the converted schema compiles")
}

/// Response schemas already compiled, by (method, path, status).
type Cache = Mutex<HashMap<(String, String, String), std::sync::Arc<jsonschema::Validator>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Operations whose responses were validated in this test binary.
fn covered() -> &'static Mutex<BTreeSet<(String, String)>> {
    static COVERED: OnceLock<Mutex<BTreeSet<(String, String)>>> = OnceLock::new();
    COVERED.get_or_init(Default::default)
}

/// Validates a response body against the spec's schema for that operation and status.
fn check(method: &str, path: &str, status: u16, body: &Value) {
    let key = (method.to_lowercase(), path.to_owned(), status.to_string());
    let validator = {
        let mut cache = cache().lock().unwrap();
        cache
            .entry(key.clone())
            .or_insert_with(|| {
                let op = &spec().doc["paths"][path][method.to_lowercase()];
                assert!(op.is_object(), "the spec has no {method} {path}");
                let responses = &op["responses"];
                let response = responses
                    .get(status.to_string())
                    .or_else(|| responses.get("default"))
                    .unwrap_or_else(|| panic!("no response {status} for {method} {path}"));
                let schema = &response["content"]["application/json"]["schema"];
                assert!(
                    schema.is_object(),
                    "no JSON schema for {method} {path} {status}"
                );
                std::sync::Arc::new(validator_for(schema))
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match the spec: {errors:?}"
    );
    if (200..300).contains(&status) {
        covered()
            .lock()
            .unwrap()
            .insert((method.to_uppercase(), path.to_owned()));
    }
}

/// Sends a request and validates its answer; returns the body.
async fn call(
    t: &TestSim,
    token: &str,
    method: Method,
    template: &str,
    concrete: &str,
    body: Option<Value>,
) -> Value {
    let mut req = t
        .http
        .request(method.clone(), format!("{}{concrete}", t.sim.api_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    if status == 204 {
        assert!(text.is_empty(), "204 answers have no body");
        covered()
            .lock()
            .unwrap()
            .insert((method.as_str().to_owned(), template.to_owned()));
        return Value::Null;
    }
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {concrete} answered non-JSON: {text}"));
    check(method.as_str(), template, status, &value);
    value
}

#[tokio::test]
async fn every_operation_answers_with_bodies_that_match_the_spec() {
    let t = start().await;
    let token = t.access_token(ALL).await;
    let get = Method::GET;

    call(
        &t,
        &token,
        get.clone(),
        "/user_account",
        "/user_account",
        None,
    )
    .await;
    let boards = call(
        &t,
        &token,
        get.clone(),
        "/boards",
        "/boards?page_size=3",
        None,
    )
    .await;
    assert!(boards["bookmark"].is_string());
    let all = call(
        &t,
        &token,
        get.clone(),
        "/boards",
        "/boards?page_size=250",
        None,
    )
    .await;
    assert!(all["bookmark"].is_null());
    for board in all["items"].as_array().unwrap() {
        let id = board["id"].as_str().unwrap();
        call(
            &t,
            &token,
            get.clone(),
            "/boards/{board_id}",
            &format!("/boards/{id}"),
            None,
        )
        .await;
        let pins = call(
            &t,
            &token,
            get.clone(),
            "/boards/{board_id}/pins",
            &format!("/boards/{id}/pins?page_size=250&pin_metrics=true"),
            None,
        )
        .await;
        assert!(!pins["items"].as_array().unwrap().is_empty());
        let sections = call(
            &t,
            &token,
            get.clone(),
            "/boards/{board_id}/sections",
            &format!("/boards/{id}/sections"),
            None,
        )
        .await;
        for section in sections["items"].as_array().unwrap() {
            let sid = section["id"].as_str().unwrap();
            call(
                &t,
                &token,
                get.clone(),
                "/boards/{board_id}/sections/{section_id}/pins",
                &format!("/boards/{id}/sections/{sid}/pins"),
                None,
            )
            .await;
        }
    }
    let pins = call(&t, &token, get.clone(), "/pins", "/pins?page_size=5", None).await;
    let pin_id = pins["items"][0]["id"].as_str().unwrap().to_owned();
    call(
        &t,
        &token,
        get.clone(),
        "/pins/{pin_id}",
        &format!("/pins/{pin_id}"),
        None,
    )
    .await;

    let board = call(
        &t,
        &token,
        Method::POST,
        "/boards",
        "/boards",
        Some(json!({"name": "Conformance", "description": "made by a test"})),
    )
    .await;
    let bid = board["id"].as_str().unwrap().to_owned();
    call(
        &t,
        &token,
        Method::PATCH,
        "/boards/{board_id}",
        &format!("/boards/{bid}"),
        Some(json!({"description": null, "privacy": "SECRET"})),
    )
    .await;
    let section = call(
        &t,
        &token,
        Method::POST,
        "/boards/{board_id}/sections",
        &format!("/boards/{bid}/sections"),
        Some(json!({"name": "Part"})),
    )
    .await;
    let sources = [
        json!({"source_type": "image_url", "url": "https://example.com/a.jpg"}),
        json!({"source_type": "image_base64", "content_type": "image/png", "data": "iVBORw0KGgo="}),
        json!({"source_type": "video_id", "media_id": "12345"}),
        json!({"source_type": "multiple_image_urls", "items": [
            {"url": "https://example.com/1.jpg", "title": "One"},
            {"url": "https://example.com/2.jpg"}
        ]}),
    ];
    let mut created = Vec::new();
    for source in sources {
        let pin = call(
            &t,
            &token,
            Method::POST,
            "/pins",
            "/pins",
            Some(json!({
                "board_id": bid,
                "board_section_id": section["id"],
                "title": "Made here",
                "link": "https://example.com/",
                "media_source": source,
            })),
        )
        .await;
        created.push(pin["id"].as_str().unwrap().to_owned());
    }
    for id in &created {
        call(
            &t,
            &token,
            Method::PATCH,
            "/pins/{pin_id}",
            &format!("/pins/{id}"),
            Some(json!({"title": "Edited", "alt_text": null})),
        )
        .await;
    }
    call(
        &t,
        &token,
        Method::PATCH,
        "/pins/{pin_id}",
        &format!("/pins/{pin_id}"),
        Some(json!({"description": "Edited generated pin"})),
    )
    .await;
    call(
        &t,
        &token,
        Method::DELETE,
        "/pins/{pin_id}",
        &format!("/pins/{}", created[0]),
        None,
    )
    .await;
    call(
        &t,
        &token,
        Method::DELETE,
        "/boards/{board_id}",
        &format!("/boards/{bid}"),
        None,
    )
    .await;

    let ads = call(
        &t,
        &token,
        get.clone(),
        "/ad_accounts",
        "/ad_accounts?page_size=2",
        None,
    )
    .await;
    let ad = ads["items"][0]["id"].as_str().unwrap().to_owned();
    call(
        &t,
        &token,
        get.clone(),
        "/ad_accounts/{ad_account_id}",
        &format!("/ad_accounts/{ad}"),
        None,
    )
    .await;
    let today = chrono::Utc::now().date_naive();
    for granularity in ["TOTAL", "DAY", "HOUR", "WEEK", "MONTH"] {
        let start = today - chrono::Duration::days(if granularity == "HOUR" { 1 } else { 40 });
        call(
            &t,
            &token,
            get.clone(),
            "/ad_accounts/{ad_account_id}/analytics",
            &format!(
                "/ad_accounts/{ad}/analytics?start_date={start}&end_date={today}&granularity={granularity}&columns=SPEND_IN_DOLLAR,TOTAL_CLICKTHROUGH,CTR,CAMPAIGN_NAME"
            ),
            None,
        )
        .await;
    }

    // Error bodies match the spec's error schema too.
    for (concrete, template) in [
        ("/boards/1", "/boards/{board_id}"),
        ("/pins/1", "/pins/{pin_id}"),
        ("/boards?page_size=251", "/boards"),
    ] {
        let res = t.get(&token, concrete).await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        check("GET", template, status, &body);
    }

    let missing: Vec<String> = OPERATIONS
        .iter()
        .filter(|op| {
            !covered()
                .lock()
                .unwrap()
                .contains(&(op.method.to_owned(), op.path.to_owned()))
        })
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never exercised: {missing:?}"
    );
}

#[tokio::test]
async fn token_responses_of_every_grant_match_the_spec() {
    let t = start().await;
    let code = t.code("boards:read,pins:read").await;
    let mut bodies = Vec::new();
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    bodies.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    let refresh = bodies[0].1["refresh_token"].as_str().unwrap().to_owned();
    let res = t
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    bodies.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    let res = t
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("scope", "boards:read"),
        ])
        .await;
    bodies.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    let res = t
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    bodies.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    for (status, body) in &bodies {
        check("POST", "/oauth/token", *status, body);
    }
    assert_eq!(bodies[3].0, 401);
}

#[tokio::test]
async fn a_response_missing_a_required_field_is_caught_by_the_validator() {
    let mut pin = json!({"id": "1", "media": {"media_type": "image", "images": {}}});
    check("GET", "/pins/{pin_id}", 200, &pin);
    pin.as_object_mut().unwrap().remove("id");
    let validator = validator_for(&json!({"$ref": "#/components/schemas/Pin"}));
    assert!(!validator.is_valid(&pin));
    let wrong_media =
        json!({"id": "1", "media": {"media_type": "image", "images": {"150x150": {"url": 3}}}});
    assert!(!validator.is_valid(&wrong_media));
    let refresh_without_rotation = json!({
        "access_token": "pina_x", "token_type": "bearer", "expires_in": 1,
        "scope": "boards:read", "response_type": "refresh_token"
    });
    let token = validator_for(&json!({"$ref": "#/components/schemas/OauthAccessTokenResponse"}));
    assert!(
        !token.is_valid(&refresh_without_rotation),
        "discriminator mapping applies"
    );
}

/// The spec's property-level examples of a schema, assembled into one object.
fn property_examples(name: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let schema = &spec().doc["components"]["schemas"][name];
    let mut parts = vec![schema.clone()];
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            if let Some(r) = part["$ref"].as_str() {
                let target = r.rsplit('/').next().unwrap();
                parts.push(spec().doc["components"]["schemas"][target].clone());
            }
        }
    }
    for part in parts {
        if let Some(props) = part["properties"].as_object() {
            for (k, v) in props {
                if let Some(ex) = v.get("example") {
                    out.insert(k.clone(), ex.clone());
                }
            }
        }
    }
    out
}

fn same_kind(example: &Value, served: &Value) -> bool {
    matches!(
        (example, served),
        (_, Value::Null)
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Array(_), Value::Array(_))
            | (Value::Object(_), Value::Object(_))
    )
}

#[tokio::test]
async fn spec_examples_validate_and_the_simulator_serves_the_same_fields() {
    let t = start().await;
    let token = t.access_token(ALL).await;
    let account: Value = t.get(&token, "/user_account").await.json().await.unwrap();
    let boards: Value = t.get(&token, "/boards").await.json().await.unwrap();
    let board = &boards["items"][0];
    let bid = board["id"].as_str().unwrap();
    let sections: Value = t
        .get(&token, &format!("/boards/{bid}/sections"))
        .await
        .json()
        .await
        .unwrap();
    let pins: Value = t
        .get(&token, &format!("/boards/{bid}/pins?pin_metrics=true"))
        .await
        .json()
        .await
        .unwrap();
    let pin = &pins["items"][0];

    for (name, served) in [
        ("Account", &account),
        ("BoardBase", board),
        ("BoardMedia", &board["media"]),
        ("BoardSection", &sections["items"][0]),
        ("Pin", pin),
    ] {
        let example = Value::Object(property_examples(name));
        let validator = validator_for(&json!({ "$ref": format!("#/components/schemas/{name}") }));
        // The served object with the spec's example values put in stays valid.
        let mut merged = served.as_object().unwrap().clone();
        merged.extend(example.as_object().unwrap().clone());
        assert!(
            validator.is_valid(&Value::Object(merged)),
            "the spec's {name} examples fit the served object"
        );
        for (key, value) in example.as_object().unwrap() {
            let got = served
                .get(key)
                .unwrap_or_else(|| panic!("{name}.{key} from the spec example is served"));
            assert!(same_kind(value, got), "{name}.{key}: {value} versus {got}");
        }
    }

    let image_example = &spec().doc["components"]["schemas"]["ImageSize"]["example"];
    let served_images = &pin["media"]["images"];
    let example_keys: BTreeSet<_> = image_example.as_object().unwrap().keys().collect();
    let served_keys: BTreeSet<_> = served_images.as_object().unwrap().keys().collect();
    assert_eq!(example_keys, served_keys);
    for (k, v) in image_example.as_object().unwrap() {
        for field in ["width", "height", "url"] {
            assert!(same_kind(&v[field], &served_images[k][field]));
        }
    }

    let analytics_example =
        &spec().doc["components"]["schemas"]["AdAccountAnalyticsResponse"]["items"]["example"];
    let validator =
        validator_for(&json!({"$ref": "#/components/schemas/AdAccountAnalyticsResponse"}));
    assert!(validator.is_valid(&json!([analytics_example])));
    let ads: Value = t.get(&token, "/ad_accounts").await.json().await.unwrap();
    let ad = ads["items"][0]["id"].as_str().unwrap();
    let today = chrono::Utc::now().date_naive();
    let columns: Vec<&str> = analytics_example
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "DATE" && *k != "AD_ACCOUNT_ID")
        .map(String::as_str)
        .collect();
    let rows: Value = t
        .get(
            &token,
            &format!(
                "/ad_accounts/{ad}/analytics?start_date={today}&end_date={today}&granularity=DAY&columns={}",
                columns.join(",")
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    for (k, v) in analytics_example.as_object().unwrap() {
        assert!(same_kind(v, &rows[0][k]), "analytics {k}");
    }
}

#[test]
fn the_operation_table_matches_the_spec_security_and_rate_limit_categories() {
    let doc = &spec().doc;
    for op in OPERATIONS {
        let entry = &doc["paths"][op.path][op.method.to_lowercase()];
        assert_eq!(
            entry["operationId"], op.operation_id,
            "{} {}",
            op.method, op.path
        );
        assert_eq!(
            entry["x-ratelimit-category"],
            op.category.as_str(),
            "{} {}",
            op.method,
            op.path
        );
        let security = entry["security"].as_array().unwrap();
        let oauth: BTreeSet<&str> = security
            .iter()
            .filter_map(|s| s.get("pinterest_oauth2"))
            .flat_map(|s| s.as_array().unwrap().iter().map(|v| v.as_str().unwrap()))
            .collect();
        let ours: BTreeSet<&str> = op.scopes.iter().map(Scope::as_str).collect();
        assert_eq!(oauth, ours, "{} {}", op.method, op.path);
        let cc = security
            .iter()
            .any(|s| s.get("client_credentials").is_some());
        assert_eq!(cc, op.client_credentials, "{} {}", op.method, op.path);
    }
    let spec_scopes: BTreeSet<&str> = doc["components"]["securitySchemes"]["pinterest_oauth2"]
        ["flows"]["authorizationCode"]["scopes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let ours: BTreeSet<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(spec_scopes, ours);
}
