//! The custom write: any POST or PATCH operation of the vendored OpenAPI
//! spec, fed from JSON Lines rows through a mapping from input fields to
//! the request, each body validated against the operation's request schema
//! before anything is sent.
//!
//! A mapping entry `TARGET=SOURCE` puts the row's field `SOURCE` into the
//! operation's path parameter `TARGET`, or else into the body at `TARGET`
//! (a dotted path such as `media_source.url` builds nested objects).
//! Without a mapping the row itself is the body, less its `key` field and
//! the fields named like path parameters, which fill the path. Rows are
//! published by [`crate::publish::publish_custom`] with the same ledger as
//! pins and boards; since an arbitrary operation's result cannot be looked
//! up afterwards, a row whose outcome is unknown is never sent again: it is
//! reported unfinished for the user to check.

use pinion_pinterest::{Endpoint, HttpMethod, RateCategory};
use serde_json::{Map, Value};

use crate::custom::{CustomError, spec};

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomWriteRequest {
    /// An `operationId` (`pins/create`), or `METHOD /path`
    /// (`PATCH /boards/{board_id}`).
    pub operation: String,
    /// `(target, source)` pairs: request field or path parameter, and the
    /// input field it is read from.
    pub mapping: Vec<(String, String)>,
}

impl CustomWriteRequest {
    /// Parses `TARGET=SOURCE` mapping entries as given on the command line.
    pub fn parse_mapping(entries: &[String]) -> Result<Vec<(String, String)>, CustomError> {
        entries
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((target, source))
                    if !target.trim().is_empty() && !source.trim().is_empty() =>
                {
                    Ok((target.trim().to_owned(), source.trim().to_owned()))
                }
                _ => Err(CustomError::BadParamSyntax(
                    entry.escape_debug().to_string(),
                )),
            })
            .collect()
    }
}

/// A custom write checked against the spec.
pub struct CustomWritePlan {
    endpoint: Endpoint,
    path_params: Vec<String>,
    mapping: Vec<(String, String)>,
    validator: Option<jsonschema::Validator>,
}

impl std::fmt::Debug for CustomWritePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomWritePlan")
            .field("endpoint", &self.endpoint)
            .field("mapping", &self.mapping)
            .finish_non_exhaustive()
    }
}

/// A row turned into a request.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCall {
    /// Path parameters, in the template's order.
    pub path: Vec<(String, String)>,
    /// The request body.
    pub body: Value,
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn set_dotted(body: &mut Map<String, Value>, target: &str, value: Value) -> Result<(), String> {
    let mut parts = target.split('.').peekable();
    let mut node = body;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_owned(), value);
            return Ok(());
        }
        let next = node
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        node = next
            .as_object_mut()
            .ok_or_else(|| format!("`{target}`: `{part}` is already set to a non-object"))?;
    }
    Ok(())
}

impl CustomWritePlan {
    /// Finds the operation and prepares its request schema. Makes no request.
    pub fn resolve(request: &CustomWriteRequest) -> Result<Self, CustomError> {
        let spec = spec()?;
        let wanted = request.operation.trim();
        let (wanted_method, wanted_path) = match wanted.split_once(' ') {
            Some((method, path)) => (Some(method.to_ascii_lowercase()), path.trim()),
            None => (None, wanted),
        };
        let mut writes: Vec<(String, String, String)> = Vec::new();
        let mut other_method = None;
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let named = id == wanted
                    || (path == wanted_path
                        && wanted_method.as_deref().is_none_or(|m| m == method));
                if matches!(method.as_str(), "post" | "patch") {
                    if named {
                        writes.push((id.to_owned(), method.clone(), path.clone()));
                    }
                } else if named {
                    other_method = Some(method.to_ascii_uppercase());
                }
            }
        }
        let (operation_id, method, path) = match writes.len() {
            1 => writes.remove(0),
            0 => {
                if let Some(methods) = other_method {
                    return Err(CustomError::NotAWrite {
                        name: wanted.escape_debug().to_string(),
                        method: methods,
                    });
                }
                let mut candidates = Vec::new();
                for (path, item) in spec["paths"].as_object().into_iter().flatten() {
                    for (method, op) in item.as_object().into_iter().flatten() {
                        if let (true, Some(id)) = (
                            matches!(method.as_str(), "post" | "patch"),
                            op["operationId"].as_str(),
                        ) {
                            candidates.push(id.to_owned());
                            candidates.push(format!("{} {path}", method.to_ascii_uppercase()));
                        }
                    }
                }
                return Err(CustomError::UnknownOperation {
                    name: wanted.escape_debug().to_string(),
                    close: crate::custom::closest(wanted, candidates.iter().map(String::as_str)),
                });
            }
            _ => {
                return Err(CustomError::UnknownOperation {
                    name: wanted.escape_debug().to_string(),
                    close: writes
                        .iter()
                        .map(|(id, method, path)| {
                            format!("{id} ({} {path})", method.to_ascii_uppercase())
                        })
                        .collect(),
                });
            }
        };
        let op = &spec["paths"][path.as_str()][method.as_str()];
        let category = op["x-ratelimit-category"]
            .as_str()
            .and_then(|c| c.parse::<RateCategory>().ok())
            .unwrap_or(RateCategory::OrgWrite);
        let http_method = if method == "post" {
            HttpMethod::Post
        } else {
            HttpMethod::Patch
        };
        let endpoint = Endpoint::new(operation_id, http_method, path, category)
            .map_err(|e| CustomError::Spec(e.to_string()))?;
        let path_params: Vec<String> = endpoint.path_params().map(str::to_owned).collect();
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let validator = if schema.is_null() {
            None
        } else {
            let mut document = match schema {
                Value::Object(map) => map.clone(),
                _ => Map::new(),
            };
            document.insert("components".into(), spec["components"].clone());
            Some(
                jsonschema::validator_for(&Value::Object(document))
                    .map_err(|e| CustomError::Spec(e.to_string()))?,
            )
        };
        Ok(Self {
            endpoint,
            path_params,
            mapping: request.mapping.clone(),
            validator,
        })
    }

    /// The operation.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Turns a row into a request, or gives every reason it cannot be sent
    /// (missing path parameters, a body the request schema refuses).
    pub fn call_for(&self, row: &Map<String, Value>) -> Result<WriteCall, Vec<String>> {
        let mut reasons = Vec::new();
        let mut path = Vec::new();
        let mut body = Map::new();
        if self.mapping.is_empty() {
            for (field, value) in row {
                if field == "key" {
                    continue;
                }
                if self.path_params.contains(field) {
                    match scalar_text(value) {
                        Some(text) => path.push((field.clone(), text)),
                        None => reasons.push(format!("`{field}` must be a string or a number")),
                    }
                } else {
                    body.insert(field.clone(), value.clone());
                }
            }
        } else {
            for (target, source) in &self.mapping {
                let Some(value) = row.get(source).filter(|v| !v.is_null()) else {
                    continue;
                };
                if self.path_params.contains(target) {
                    match scalar_text(value) {
                        Some(text) => path.push((target.clone(), text)),
                        None => reasons.push(format!("`{source}` must be a string or a number")),
                    }
                } else if let Err(reason) = set_dotted(&mut body, target, value.clone()) {
                    reasons.push(reason);
                }
            }
        }
        for param in &self.path_params {
            if !path.iter().any(|(name, _)| name == param) {
                reasons.push(format!("path parameter `{param}` has no value"));
            }
        }
        let refs: Vec<(&str, &str)> = path.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let (true, Err(err)) = (reasons.is_empty(), self.endpoint.expand(&refs)) {
            reasons.push(err.to_string());
        }
        let body = Value::Object(body);
        if let Some(validator) = &self.validator {
            reasons.extend(validator.iter_errors(&body).map(|e| {
                let at = e.instance_path.to_string();
                if at.is_empty() {
                    format!("request body: {e}")
                } else {
                    format!("request body at {at}: {e}")
                }
            }));
        }
        if reasons.is_empty() {
            Ok(WriteCall { path, body })
        } else {
            Err(reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(operation: &str, mapping: &[(&str, &str)]) -> CustomWritePlan {
        CustomWritePlan::resolve(&CustomWriteRequest {
            operation: operation.into(),
            mapping: mapping
                .iter()
                .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
                .collect(),
        })
        .unwrap()
    }

    fn row(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_mapping_fills_nested_body_fields_and_the_body_is_checked_against_the_schema() {
        let plan = plan(
            "pins/create",
            &[
                ("board_id", "board"),
                ("title", "name"),
                ("media_source.source_type", "kind"),
                ("media_source.url", "image"),
            ],
        );
        let call = plan
            .call_for(&row(json!({
                "board": "123", "name": "Tea", "kind": "image_url",
                "image": "https://example.com/a.jpg", "ignored": 1
            })))
            .unwrap();
        assert_eq!(
            call.body["media_source"]["url"],
            "https://example.com/a.jpg"
        );
        assert_eq!(call.body["board_id"], "123");
        assert!(call.body.get("ignored").is_none());

        let too_long = plan
            .call_for(&row(json!({
                "board": "123", "name": "t".repeat(101), "kind": "image_url",
                "image": "https://example.com/a.jpg"
            })))
            .unwrap_err();
        assert!(
            too_long.iter().any(|r| r.contains("/title")),
            "{too_long:?}"
        );
        let bad_board = plan
            .call_for(&row(json!({
                "board": "not digits", "kind": "image_url", "image": "https://example.com/a.jpg"
            })))
            .unwrap_err();
        assert!(
            bad_board.iter().any(|r| r.contains("/board_id")),
            "{bad_board:?}"
        );
        let no_source_type = plan
            .call_for(&row(
                json!({"board": "1", "image": "https://example.com/a.jpg"}),
            ))
            .unwrap_err();
        assert!(
            no_source_type.iter().any(|r| r.contains("/media_source")),
            "{no_source_type:?}"
        );
    }

    #[test]
    fn without_a_mapping_path_parameters_come_from_same_named_fields() {
        let plan = plan("PATCH /boards/{board_id}", &[]);
        assert_eq!(plan.endpoint().method(), HttpMethod::Patch);
        let call = plan
            .call_for(&row(
                json!({"board_id": "77", "name": "New name", "key": "k1"}),
            ))
            .unwrap();
        assert_eq!(call.path, [("board_id".to_owned(), "77".to_owned())]);
        assert_eq!(call.body, json!({"name": "New name"}));
        let unsafe_id = plan
            .call_for(&row(json!({"board_id": "../x", "name": "n"})))
            .unwrap_err();
        assert!(
            unsafe_id.iter().any(|r| r.contains("board_id")),
            "{unsafe_id:?}"
        );
        let missing = plan.call_for(&row(json!({"name": "n"}))).unwrap_err();
        assert!(
            missing
                .iter()
                .any(|r| r.contains("path parameter `board_id`")),
            "{missing:?}"
        );
    }

    #[test]
    fn reads_and_unknown_writes_are_refused_with_close_names() {
        let read = CustomWritePlan::resolve(&CustomWriteRequest {
            operation: "boards/list".into(),
            mapping: vec![],
        })
        .unwrap_err();
        assert!(read.to_string().contains("POST or PATCH"), "{read}");
        let unknown = CustomWritePlan::resolve(&CustomWriteRequest {
            operation: "pins/creat".into(),
            mapping: vec![],
        })
        .unwrap_err();
        assert!(unknown.to_string().contains("pins/create"), "{unknown}");
    }
}
