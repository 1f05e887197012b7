//! Test-only access to Pinterest's OpenAPI description, so unit tests can
//! check this crate's endpoint table and models against the spec itself.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// Where the spec lives: `$PINION_OPENAPI_SPEC`, else the copy vendored in
/// the repository under `spec/pinterest/`.
pub(crate) fn spec_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PINION_OPENAPI_SPEC") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/pinterest/openapi-v5.json")
}

/// The parsed spec. Panics with the path tried when it is missing, because a
/// test that silently skipped would prove nothing.
pub(crate) fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "cannot read the OpenAPI spec at {} ({err}); set PINION_OPENAPI_SPEC",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("the OpenAPI spec is valid JSON")
    })
}

/// Follows a local `$ref` (`#/components/...`) once, or returns `value`.
pub(crate) fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                spec,
                spec.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}")),
            )
        }
        None => value,
    }
}

/// A JSON value that follows `schema`, built from the spec's `example`
/// values where it has them and from the types otherwise.
pub(crate) fn example(spec: &Value, schema: &Value) -> Value {
    example_at(spec, schema, 0)
}

fn example_at(spec: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(spec, schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if depth > 8 {
        return Value::Null;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = schema.get(key).and_then(|v| v.get(0)) {
            return example_at(spec, first, depth + 1);
        }
    }
    let mut object = serde_json::Map::new();
    let mut is_object = false;
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match example_at(spec, part, depth + 1) {
            Value::Object(map) => {
                is_object = true;
                object.extend(map);
            }
            other if schema.get("properties").is_none() => return other,
            _ => {}
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        is_object = true;
        for (name, property) in properties {
            object.insert(name.clone(), example_at(spec, property, depth + 1));
        }
    }
    if is_object {
        return Value::Object(object);
    }
    if let Some(first) = schema.get("enum").and_then(|v| v.get(0)) {
        return first.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => Value::Array(vec![example_at(spec, &schema["items"], depth + 1)]),
        Some("integer") => Value::from(7),
        Some("number") => Value::from(1.5),
        Some("boolean") => Value::Bool(true),
        Some("string") => Value::String(
            match (
                schema.get("format").and_then(Value::as_str),
                schema.get("pattern").and_then(Value::as_str),
            ) {
                (Some("date-time"), _) => "2020-01-01T20:10:40-00:00",
                (Some("date"), _) => "2021-04-01",
                (_, Some(r"^\d+$")) => "4815162342",
                _ => "text",
            }
            .to_owned(),
        ),
        _ => Value::Object(Default::default()),
    }
}
