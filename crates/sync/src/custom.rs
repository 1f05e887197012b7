//! The custom endpoint source: any GET operation of Pinterest's OpenAPI
//! spec, named by `operationId` (`boards/list_pins`) or path
//! (`/boards/{board_id}/pins`), read as the `custom` stream.
//!
//! The spec is the unmodified copy in `spec/pinterest/openapi-v5.json`
//! (with its MIT licence beside it), built into the crate and parsed once,
//! on first use. [`CustomPlan::resolve`] checks the request against it
//! before anything is sent: an unknown operation is refused with the
//! closest names, and a missing required parameter, an unknown parameter
//! or a path value that could change the path is refused by name. Path and
//! query parameters come from the user, or one path parameter is filled
//! with each id of another stream (`--for-each boards` fills `board_id`).
//! Operations whose answer has `items` and a `bookmark` are read page by
//! page like the built-in streams (and resume from their bookmark); other
//! answers give one record, or one per element of an array answer.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use futures::StreamExt;
use pinion_domain::{Scope, ScopeSet};
use pinion_pinterest::{Bookmark, Endpoint, HttpMethod, PageRequest, PageSize, RateCategory};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::SyncError;
use crate::source::{self, BoardInfo, PageMsg, SourceContext};
use crate::state::PartitionProgress;
use crate::stream::{StreamName, SyncRecord};

/// Pinterest's OpenAPI description, as vendored.
static SPEC_BYTES: &[u8] = include_bytes!("../../../spec/pinterest/openapi-v5.json");

/// The parsed spec, or why it could not be parsed.
static SPEC: OnceLock<Result<Value, String>> = OnceLock::new();

/// The bundled spec, parsed on first use.
pub fn spec() -> Result<&'static Value, CustomError> {
    SPEC.get_or_init(|| serde_json::from_slice(SPEC_BYTES).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| CustomError::Spec(e.clone()))
}

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomRequest {
    /// An `operationId` (`boards/list_pins`) or a path
    /// (`/boards/{board_id}/pins`).
    pub operation: String,
    /// Path and query parameters, `name` to value.
    pub params: Vec<(String, String)>,
    /// A stream whose ids fill one path parameter, one read per id:
    /// `boards` fills `board_id`, `ad_accounts` fills `ad_account_id`.
    pub for_each: Option<StreamName>,
}

impl CustomRequest {
    /// Parses `name=value` parameters as given on the command line.
    pub fn parse_params(params: &[String]) -> Result<Vec<(String, String)>, CustomError> {
        params
            .iter()
            .map(|p| match p.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_owned(), value.to_owned()))
                }
                _ => Err(CustomError::BadParamSyntax(p.escape_debug().to_string())),
            })
            .collect()
    }
}

/// A custom stream that cannot be read as asked; nothing was requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomError {
    /// No operation has this id or path.
    #[error("unknown operation `{name}`{}", close_text(.close))]
    UnknownOperation {
        /// What the user typed, escaped.
        name: String,
        /// The closest GET operations (ids and paths).
        close: Vec<String>,
    },
    /// The operation exists but is not a read.
    #[error(
        "operation `{name}` is not a GET operation; a custom stream only reads (its method: {methods})"
    )]
    NotARead {
        /// The operation.
        name: String,
        /// Its methods.
        methods: String,
    },
    /// The operation exists but is not a POST or PATCH (custom writes).
    #[error("operation `{name}` is a {method}; a custom write takes POST or PATCH operations")]
    NotAWrite {
        /// The operation.
        name: String,
        /// Its method.
        method: String,
    },
    /// Required parameters were not given.
    #[error(
        "operation `{operation}` needs the parameter(s) {}; give them with --param NAME=VALUE{}",
        .missing.join(", "),
        for_each_hint(.missing)
    )]
    MissingParams {
        /// The operation id.
        operation: String,
        /// The missing parameters.
        missing: Vec<String>,
    },
    /// A parameter the operation does not take.
    #[error("operation `{operation}` has no parameter `{name}`{}; it takes: {}", close_text(.close), .known.join(", "))]
    UnknownParam {
        /// The operation id.
        operation: String,
        /// The parameter given, escaped.
        name: String,
        /// Close parameter names.
        close: Vec<String>,
        /// Every parameter it takes.
        known: Vec<String>,
    },
    /// A parameter the paginator sets itself, or one given twice.
    #[error("parameter `{name}`: {reason}")]
    BadParam {
        /// The parameter.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--param` that is not `name=value`.
    #[error("parameter {0} is not NAME=VALUE")]
    BadParamSyntax(String),
    /// `--for-each` names a stream whose ids fill no path parameter of the
    /// operation.
    #[error(
        "--for-each {stream}: operation `{operation}` has no path parameter `{param}`; --for-each accepts boards (board_id) and ad_accounts (ad_account_id)"
    )]
    ForEach {
        /// The stream given.
        stream: String,
        /// The operation id.
        operation: String,
        /// The parameter the stream's ids would fill.
        param: String,
    },
    /// The bundled spec is unusable (a build problem).
    #[error("the bundled OpenAPI spec cannot be used: {0}")]
    Spec(String),
}

fn close_text(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    }
}

fn for_each_hint(missing: &[String]) -> &'static str {
    if missing
        .iter()
        .any(|m| m == "board_id" || m == "ad_account_id")
    {
        " or read every board or ad account with --for-each boards|ad_accounts"
    } else {
        ""
    }
}

/// How an operation answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseShape {
    /// `{items, bookmark}`: read page by page.
    Paginated,
    /// A JSON array: one record per element.
    Array,
    /// One object: one record.
    Object,
}

/// A custom stream checked against the spec, ready to read.
#[derive(Debug, Clone)]
pub struct CustomPlan {
    endpoint: Endpoint,
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    for_each: Option<(StreamName, String)>,
    shape: ResponseShape,
    page_size: Option<PageSize>,
    scopes: Vec<String>,
}

struct Param {
    name: String,
    location: String,
    required: bool,
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve_ref<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    for _ in 0..8 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        match spec.pointer(pointer) {
            Some(target) => value = target,
            None => break,
        }
    }
    value
}

/// True when `schema` (through `$ref` and `allOf`) has the property `name`.
fn has_property(spec: &Value, schema: &Value, name: &str, depth: u32) -> bool {
    let schema = resolve_ref(spec, schema);
    if depth > 8 {
        return false;
    }
    if schema.get("properties").and_then(|p| p.get(name)).is_some() {
        return true;
    }
    schema
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|parts| {
            parts
                .iter()
                .any(|part| has_property(spec, part, name, depth + 1))
        })
}

/// Every GET operation: (operationId, path).
fn get_operations(spec: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        if let Some(id) = item["get"]["operationId"].as_str() {
            ops.push((id.to_owned(), path.clone()));
        }
    }
    ops
}

/// Up to three candidates closest to `name`.
pub(crate) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = name.trim_start_matches('/').to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| {
            let bare = c.trim_start_matches('/').to_ascii_lowercase();
            let mut score = strsim::normalized_damerau_levenshtein(&wanted, &bare);
            if !wanted.is_empty() && bare.contains(&wanted) {
                score = score.max(0.75);
            }
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// The path parameter a fan-out stream's ids fill.
fn for_each_param(stream: StreamName) -> &'static str {
    match stream {
        StreamName::AdAccounts | StreamName::AdAccountAnalytics => "ad_account_id",
        _ => "board_id",
    }
}

impl CustomPlan {
    /// Checks `request` against the spec. Makes no request.
    pub fn resolve(request: &CustomRequest) -> Result<Self, CustomError> {
        let spec = spec()?;
        let name = request.operation.trim();
        let ops = get_operations(spec);
        let found = ops
            .iter()
            .find(|(id, path)| id == name || path == name || path == &format!("/{name}"));
        let Some((operation_id, path)) = found.cloned() else {
            // The name may be a write operation.
            for (path, item) in spec["paths"].as_object().into_iter().flatten() {
                for (method, op) in item.as_object().into_iter().flatten() {
                    if op["operationId"].as_str() == Some(name) || path == name {
                        return Err(CustomError::NotARead {
                            name: name.escape_debug().to_string(),
                            methods: method.to_ascii_uppercase(),
                        });
                    }
                }
            }
            let candidates = ops
                .iter()
                .flat_map(|(id, path)| [id.as_str(), path.as_str()]);
            return Err(CustomError::UnknownOperation {
                name: name.escape_debug().to_string(),
                close: closest(name, candidates),
            });
        };
        let item = &spec["paths"][path.as_str()];
        let op = &item["get"];
        let mut params: Vec<Param> = Vec::new();
        for raw in item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(op["parameters"].as_array().into_iter().flatten())
        {
            let param = resolve_ref(spec, raw);
            let (Some(name), Some(location)) = (param["name"].as_str(), param["in"].as_str())
            else {
                continue;
            };
            if location != "path" && location != "query" {
                continue;
            }
            params.retain(|p| p.name != name);
            params.push(Param {
                name: name.to_owned(),
                location: location.to_owned(),
                required: location == "path" || param["required"].as_bool() == Some(true),
            });
        }
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let takes_bookmark = params.iter().any(|p| p.name == "bookmark");
        let shape = if takes_bookmark
            && has_property(spec, schema, "items", 0)
            && has_property(spec, schema, "bookmark", 0)
        {
            ResponseShape::Paginated
        } else if resolve_ref(spec, schema)["type"] == "array" {
            ResponseShape::Array
        } else {
            ResponseShape::Object
        };
        let category = op["x-ratelimit-category"]
            .as_str()
            .and_then(|c| c.parse::<RateCategory>().ok())
            .unwrap_or(RateCategory::OrgRead);
        let endpoint = Endpoint::new(
            operation_id.clone(),
            HttpMethod::Get,
            path.clone(),
            category,
        )
        .map_err(|e| CustomError::Spec(e.to_string()))?;

        let for_each = match request.for_each {
            Some(stream) => {
                let param = for_each_param(stream);
                let in_path = params
                    .iter()
                    .any(|p| p.name == param && p.location == "path");
                let supported = matches!(stream, StreamName::Boards | StreamName::AdAccounts);
                if !in_path || !supported {
                    return Err(CustomError::ForEach {
                        stream: stream.to_string(),
                        operation: operation_id,
                        param: param.to_owned(),
                    });
                }
                Some((stream, param.to_owned()))
            }
            None => None,
        };

        let mut path_values = Vec::new();
        let mut query = Vec::new();
        let mut page_size = None;
        for (name, value) in &request.params {
            let Some(param) = params.iter().find(|p| &p.name == name) else {
                let known: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
                return Err(CustomError::UnknownParam {
                    operation: operation_id,
                    name: name.escape_debug().to_string(),
                    close: closest(name, known.iter().map(String::as_str)),
                    known,
                });
            };
            let bad = |reason: &str| CustomError::BadParam {
                name: name.clone(),
                reason: reason.to_owned(),
            };
            let given_twice = request.params.iter().filter(|(n, _)| n == name).count() > 1;
            if given_twice && param.location == "path" {
                return Err(bad("given more than once"));
            }
            if for_each.as_ref().is_some_and(|(_, p)| p == name) {
                return Err(bad("filled by --for-each; leave it out"));
            }
            if shape == ResponseShape::Paginated && name == "bookmark" {
                return Err(bad(
                    "set by the paginator (a failed run continues with --resume)",
                ));
            }
            if shape == ResponseShape::Paginated && name == "page_size" {
                let size = value
                    .parse::<u32>()
                    .ok()
                    .and_then(|n| PageSize::new(n).ok())
                    .ok_or_else(|| bad("must be a whole number from 1 to 250"))?;
                page_size = Some(size);
                continue;
            }
            if param.location == "path" {
                path_values.push((name.clone(), value.clone()));
            } else {
                query.push((name.clone(), value.clone()));
            }
        }
        let missing: Vec<String> = params
            .iter()
            .filter(|p| p.required)
            .filter(|p| !request.params.iter().any(|(n, _)| n == &p.name))
            .filter(|p| for_each.as_ref().is_none_or(|(_, f)| f != &p.name))
            .map(|p| p.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(CustomError::MissingParams {
                operation: operation_id,
                missing,
            });
        }
        // Path values are checked now, with a stand-in for the fan-out id,
        // so an unsafe value is refused before any request.
        let mut check: Vec<(&str, &str)> = path_values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some((_, param)) = &for_each {
            check.push((param.as_str(), "1"));
        }
        endpoint.expand(&check).map_err(|e| CustomError::BadParam {
            name: match &e {
                pinion_pinterest::endpoint::PathParamError::Missing(n) => n.clone(),
                pinion_pinterest::endpoint::PathParamError::Unsafe { name, .. } => name.clone(),
            },
            reason: e.to_string(),
        })?;
        let scopes = op["security"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|s| s.get("pinterest_oauth2"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            endpoint,
            path: path_values,
            query,
            for_each,
            shape,
            page_size,
            scopes,
        })
    }

    /// The operation.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How the operation answers.
    pub fn shape(&self) -> ResponseShape {
        self.shape
    }

    /// Names the operation with its parameters and fan-out, for the job key:
    /// a resumed run must not apply one operation's bookmarks to another.
    pub fn fingerprint(&self) -> String {
        let mut params: Vec<String> = self
            .path
            .iter()
            .chain(&self.query)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        params.sort();
        if let Some(size) = self.page_size {
            params.push(format!("page_size={}", size.get()));
        }
        let for_each = self
            .for_each
            .as_ref()
            .map(|(s, _)| format!(" for-each {s}"))
            .unwrap_or_default();
        format!(
            "{} {}{for_each}",
            self.endpoint.operation_id(),
            params.join("&")
        )
    }

    /// The stream whose ids are fanned out over, if any.
    pub fn for_each(&self) -> Option<StreamName> {
        self.for_each.as_ref().map(|(s, _)| *s)
    }

    /// The OAuth scopes the spec lists for the operation that `granted`
    /// lacks, comma-separated, or `None`.
    pub fn missing_scopes(&self, granted: &ScopeSet) -> Option<String> {
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .filter(|s| {
                !s.parse::<Scope>()
                    .is_ok_and(|scope| granted.contains(scope))
            })
            .map(String::as_str)
            .collect();
        (!missing.is_empty()).then(|| missing.join(","))
    }
}

/// A record of the custom stream: keyed by its `id` when it has one, else
/// by the SHA-256 of its JSON text. Non-objects are wrapped as `{"value": …}`.
fn to_record(value: Value) -> SyncRecord {
    let raw = match value {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    let key = match raw.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => {
            let text = serde_json::to_vec(&raw).unwrap_or_default();
            hex::encode(Sha256::digest(&text))
        }
    };
    SyncRecord::from_object(key, raw)
}

/// The ids the fan-out needs, listed before the destination is opened.
pub(crate) async fn fan_out_ids(
    ctx: &SourceContext,
    plan: &CustomPlan,
    boards: &mut Option<Vec<BoardInfo>>,
) -> Result<Option<Vec<String>>, SyncError> {
    match plan.for_each() {
        None => Ok(None),
        Some(StreamName::AdAccounts) => Ok(Some(
            source::list_ad_accounts(ctx)
                .await?
                .into_iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
        )),
        Some(_) => {
            if boards.is_none() {
                *boards = Some(source::list_boards(ctx, StreamName::Custom).await?);
            }
            Ok(Some(
                boards
                    .iter()
                    .flatten()
                    .map(|b| b.id.as_str().to_owned())
                    .collect(),
            ))
        }
    }
}

/// Reads the custom stream: once, or once per fan-out id (`concurrency` at
/// a time), resuming from `saved`.
pub(crate) async fn read(
    ctx: Arc<SourceContext>,
    plan: Arc<CustomPlan>,
    ids: Option<Vec<String>>,
    saved: Arc<HashMap<String, PartitionProgress>>,
    concurrency: usize,
    tx: mpsc::Sender<PageMsg>,
) -> Result<(), SyncError> {
    let Some(ids) = ids else {
        return read_partition(ctx, plan, None, saved, tx).await;
    };
    let mut reads = futures::stream::iter(ids.into_iter().map(|id| {
        read_partition(
            Arc::clone(&ctx),
            Arc::clone(&plan),
            Some(id),
            Arc::clone(&saved),
            tx.clone(),
        )
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(result) = reads.next().await {
        result?;
    }
    Ok(())
}

async fn read_partition(
    ctx: Arc<SourceContext>,
    plan: Arc<CustomPlan>,
    id: Option<String>,
    saved: Arc<HashMap<String, PartitionProgress>>,
    tx: mpsc::Sender<PageMsg>,
) -> Result<(), SyncError> {
    let stream = StreamName::Custom;
    let mut path: Vec<(&str, &str)> = plan
        .path
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (partition, label) = match (&id, &plan.for_each) {
        (Some(id), Some((_, param))) => {
            path.push((param.as_str(), id.as_str()));
            (format!("{param}={id}"), format!("{param}={id}"))
        }
        _ => (String::new(), plan.endpoint.operation_id().to_owned()),
    };
    let own = saved.get(&partition).cloned().unwrap_or_default();
    if own.done {
        return Ok(());
    }
    let query: Vec<(&str, &str)> = plan
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let fail = source::source_error(stream, Some(label.clone()));
    match plan.shape {
        ResponseShape::Paginated => {
            let page = PageRequest {
                page_size: plan.page_size.unwrap_or(ctx.page_size),
                start: own.bookmark.as_deref().and_then(Bookmark::new),
            };
            let pages = ctx
                .client
                .pages::<Value>(&plan.endpoint, &path, &query, page);
            source::forward(stream, &partition, &label, pages, &tx, None, to_record).await?;
        }
        ResponseShape::Array | ResponseShape::Object => {
            let answer = ctx
                .client
                .get_json(&plan.endpoint, &path, &query)
                .await
                .map_err(fail)?;
            let records = match answer {
                Value::Array(items) => items.into_iter().map(to_record).collect(),
                other => vec![to_record(other)],
            };
            let msg = PageMsg {
                partition,
                records,
                invalid: 0,
                progress: PartitionProgress {
                    bookmark: None,
                    done: true,
                    watermark: None,
                },
            };
            let _ = tx.send(msg).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(operation: &str, params: &[(&str, &str)]) -> CustomRequest {
        CustomRequest {
            operation: operation.into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            for_each: None,
        }
    }

    #[test]
    fn operations_resolve_by_id_or_path_with_their_category_and_shape() {
        let by_id =
            CustomPlan::resolve(&request("boards/list_pins", &[("board_id", "1")])).unwrap();
        let by_path =
            CustomPlan::resolve(&request("/boards/{board_id}/pins", &[("board_id", "1")])).unwrap();
        assert_eq!(by_id.endpoint(), by_path.endpoint());
        assert_eq!(by_id.shape(), ResponseShape::Paginated);
        assert_eq!(by_id.endpoint().category(), RateCategory::OrgRead);
        let account = CustomPlan::resolve(&request("user_account/get", &[])).unwrap();
        assert_eq!(account.shape(), ResponseShape::Object);
    }

    #[test]
    fn an_unknown_operation_names_the_closest_ones() {
        let err = CustomPlan::resolve(&request("boards/list_pin", &[])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("did you mean") && text.contains("boards/list_pins"),
            "{text}"
        );
        let write = CustomPlan::resolve(&request("pins/create", &[])).unwrap_err();
        assert!(matches!(write, CustomError::NotARead { .. }), "{write}");
    }

    #[test]
    fn missing_unknown_and_reserved_parameters_are_refused_by_name() {
        let err = CustomPlan::resolve(&request("boards/list_pins", &[])).unwrap_err();
        assert!(err.to_string().contains("board_id"), "{err}");
        let err = CustomPlan::resolve(&request(
            "boards/list_pins",
            &[("board_id", "1"), ("page_sise", "5")],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("page_size"), "{err}");
        let err = CustomPlan::resolve(&request(
            "boards/list_pins",
            &[("board_id", "1"), ("bookmark", "x")],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("paginator"), "{err}");
        let err =
            CustomPlan::resolve(&request("boards/list_pins", &[("board_id", "../x")])).unwrap_err();
        assert!(matches!(err, CustomError::BadParam { .. }), "{err}");
    }

    #[test]
    fn for_each_fills_the_path_parameter_it_names() {
        let mut boards = request("boards/list_pins", &[]);
        boards.for_each = Some(StreamName::Boards);
        assert_eq!(
            CustomPlan::resolve(&boards).unwrap().for_each(),
            Some(StreamName::Boards)
        );
        let mut wrong = request("user_account/get", &[]);
        wrong.for_each = Some(StreamName::Boards);
        assert!(matches!(
            CustomPlan::resolve(&wrong),
            Err(CustomError::ForEach { .. })
        ));
    }

    #[test]
    fn the_fingerprint_tells_operations_and_parameters_apart() {
        let a = CustomPlan::resolve(&request("boards/list_pins", &[("board_id", "1")])).unwrap();
        let b = CustomPlan::resolve(&request("boards/list_pins", &[("board_id", "2")])).unwrap();
        let c =
            CustomPlan::resolve(&request("/boards/{board_id}/pins", &[("board_id", "1")])).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn scopes_come_from_the_operations_security() {
        let plan = CustomPlan::resolve(&request("boards/list_pins", &[("board_id", "1")])).unwrap();
        let granted = ScopeSet::parse("boards:read").unwrap();
        assert_eq!(plan.missing_scopes(&granted).as_deref(), Some("pins:read"));
        let all = ScopeSet::parse("boards:read,pins:read").unwrap();
        assert_eq!(plan.missing_scopes(&all), None);
    }

    #[test]
    fn records_are_keyed_by_id_or_by_content() {
        let with_id = to_record(serde_json::json!({"id": "12", "x": 1}));
        assert_eq!(with_id.key, "12");
        let a = to_record(serde_json::json!({"x": 1}));
        let b = to_record(serde_json::json!({"x": 1}));
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.len(), 64);
        let scalar = to_record(serde_json::json!(5));
        assert_eq!(scalar.raw.to_value().unwrap()["value"], 5);
    }
}
