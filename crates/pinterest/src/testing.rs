//! Test-only access to Pinterest's OpenAPI description, so unit tests can
//! check this crate's endpoint table and models against the spec itself.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// Where the spec lives: `$PINION_OPENAPI_SPEC`, else `shared/` beside the
/// repository checkout.
pub(crate) fn spec_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PINION_OPENAPI_SPEC") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pinterest/openapi-v5.json")
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
