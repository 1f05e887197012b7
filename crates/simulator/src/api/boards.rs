//! Boards and board sections: list, get, create, update, delete, and the pins of a board
//! or of a section.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::{Field, bool_field, json_object, page_size, path_id, query, sign, string_field};
use crate::bookmark::ListKind;
use crate::error::{ApiError, json_response};
use crate::generate as gen_;
use crate::ops::Scope;
use crate::params::Params;
use crate::state::Shared;
use crate::store::{BoardRec, PinCursor, PinFilter, Privacy, Store};
use crate::wire::{self, Page};

/// Which privacies a `privacy` filter keeps; the second value says whether it asks for
/// secret boards explicitly.
fn privacy_filter(params: &Params) -> Result<(u64, [bool; 3], bool), ApiError> {
    let value = params.get("privacy").map_err(|e| ApiError::invalid(e.0))?;
    // Order of the array: PUBLIC, PROTECTED, SECRET.
    Ok(match value {
        None | Some("ALL") => (0, [true, true, true], false),
        Some("PUBLIC") => (1, [true, false, false], false),
        Some("PROTECTED") => (2, [false, true, false], false),
        Some("SECRET") => (3, [false, false, true], true),
        Some("PUBLIC_AND_SECRET") => (4, [true, false, true], true),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Parameter 'privacy' has an invalid value (was {other})"
            )));
        }
    })
}

fn privacy_index(p: Privacy) -> usize {
    match p {
        Privacy::Public => 0,
        Privacy::Protected => 1,
        Privacy::Secret => 2,
    }
}

/// `GET /v5/boards`.
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let n = page_size(&params)?;
    let (filter_id, keep, explicit_secret) = privacy_filter(&params)?;
    if explicit_secret {
        caller.require(Scope::BoardsReadSecret)?;
    }
    let pos = super::bookmark(&state, &params, ListKind::Boards, caller.user_id, filter_id)?;
    let below = pos.map_or(u64::MAX, |p| p[0]);
    let viewer = caller.viewer();
    let store = state.store();
    let (boards, next) = store.list_boards(caller.user, below, n, |b| {
        keep[privacy_index(b.privacy)] && viewer.sees_board(b.owner, b.privacy)
    });
    let page = Page {
        items: boards.iter().map(|b| store.board_json(b)).collect(),
        bookmark: next.map(|seq| {
            sign(
                &state,
                ListKind::Boards,
                caller.user_id,
                filter_id,
                [seq, 0, 0],
            )
        }),
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// Finds a board the caller may see; 404 code 40 otherwise.
pub fn visible_board<'a>(
    store: &'a Store,
    caller: &Caller,
    id: u64,
) -> Result<&'a BoardRec, ApiError> {
    let board = store
        .boards
        .get(&id)
        .ok_or_else(ApiError::board_not_found)?;
    if !caller.viewer().sees_board(board.owner, board.privacy) {
        return Err(ApiError::board_not_found());
    }
    Ok(board)
}

/// Finds a board the caller may change: visible, owned, and with the secret scope when
/// the board is secret.
fn writable_board<'a>(
    store: &'a Store,
    caller: &Caller,
    id: u64,
) -> Result<&'a BoardRec, ApiError> {
    let board = visible_board(store, caller, id)?;
    if board.owner != caller.user {
        return Err(ApiError::forbidden());
    }
    if board.privacy == Privacy::Secret {
        caller.require(Scope::BoardsWriteSecret)?;
    }
    Ok(board)
}

/// `GET /v5/boards/{board_id}`.
pub async fn get_one(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let store = state.store();
    let board = visible_board(&store, &caller, id)?;
    Ok(json_response(StatusCode::OK, &store.board_json(board)))
}

fn name_taken(store: &Store, user: usize, name: &str, except: Option<u64>) -> bool {
    store.users[user].boards.values().any(|b| {
        Some(*b) != except
            && store
                .boards
                .get(b)
                .is_some_and(|b| b.name.eq_ignore_ascii_case(name))
    })
}

/// `POST /v5/boards`.
pub async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let map = json_object(&headers, &body)?;
    let mut name = match string_field(&map, "name", Some(180))? {
        Field::Value(n) if !n.trim().is_empty() => n,
        _ => return Err(ApiError::invalid("Missing required parameter 'name'.")),
    };
    let description = match string_field(&map, "description", Some(500))? {
        Field::Value(d) => Some(d),
        _ => None,
    };
    let is_ads_only = bool_field(&map, "is_ads_only")?.unwrap_or(false);
    let mut privacy = match string_field(&map, "privacy", None)? {
        Field::Absent | Field::Null => Privacy::Public,
        Field::Value(p) => Privacy::parse(&p)
            .ok_or_else(|| ApiError::invalid(format!("Invalid board privacy (was {p})")))?,
    };
    if is_ads_only {
        privacy = Privacy::Protected;
        name = "Ad-only Pins".to_owned();
    }
    if privacy == Privacy::Secret {
        caller.require(Scope::BoardsWriteSecret)?;
    }
    let mut store = state.store_mut();
    if name_taken(&store, caller.user, &name, None) {
        return Err(ApiError::invalid(
            "The board name is invalid or duplicated.",
        ));
    }
    let id = store.create_board(caller.user, name, description, privacy, is_ads_only);
    let json = store.board_json(&store.boards[&id]);
    Ok(json_response(StatusCode::CREATED, &json))
}

/// `PATCH /v5/boards/{board_id}`.
pub async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let map = json_object(&headers, &body)?;
    let name = match string_field(&map, "name", Some(180))? {
        Field::Value(n) if n.trim().is_empty() => {
            return Err(ApiError::invalid("Parameter 'name' must not be empty."));
        }
        Field::Value(n) => Some(n),
        Field::Null => return Err(ApiError::invalid("Parameter 'name' must not be null.")),
        Field::Absent => None,
    };
    let description = string_field(&map, "description", Some(500))?;
    let privacy = match string_field(&map, "privacy", None)? {
        Field::Value(p) if p == "PUBLIC" => Some(Privacy::Public),
        Field::Value(p) if p == "SECRET" => Some(Privacy::Secret),
        Field::Absent => None,
        _ => {
            return Err(ApiError::invalid(
                "Parameter 'privacy' must be PUBLIC or SECRET.",
            ));
        }
    };
    if privacy == Some(Privacy::Secret) {
        caller.require(Scope::BoardsWriteSecret)?;
    }
    let mut store = state.store_mut();
    writable_board(&store, &caller, id)?;
    if let Some(n) = &name
        && name_taken(&store, caller.user, n, Some(id))
    {
        return Err(ApiError::invalid(
            "The board name is invalid or duplicated.",
        ));
    }
    let board = store
        .boards
        .get_mut(&id)
        .ok_or_else(ApiError::board_not_found)?;
    if let Some(n) = name {
        board.name = n;
    }
    match description {
        Field::Value(d) => board.description = Some(d),
        Field::Null => board.description = None,
        Field::Absent => {}
    }
    if let Some(p) = privacy {
        board.privacy = p;
    }
    let json = store.board_json(&store.boards[&id]);
    Ok(json_response(StatusCode::OK, &json))
}

/// `DELETE /v5/boards/{board_id}`.
pub async fn delete(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let mut store = state.store_mut();
    writable_board(&store, &caller, id)?;
    store.delete_board(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

const CREATIVE_TYPES: &[&str] = &[
    "REGULAR",
    "VIDEO",
    "SHOPPING",
    "CAROUSEL",
    "MAX_VIDEO",
    "SHOP_THE_PIN",
    "COLLECTION",
    "IDEA",
    "SHOWCASE",
    "QUIZ",
    "COLLAGE",
    "MAX_WIDTH_REGULAR_COLLECTION",
    "MAX_WIDTH_VIDEO_COLLECTION",
];

/// Reads `creative_types` (repeated or comma-separated) and `pin_metrics`.
pub fn pin_filter(params: &Params, with_creative_types: bool) -> Result<PinFilter, ApiError> {
    let mut filter = PinFilter {
        creative_types: None,
        metrics: params
            .bool("pin_metrics", false)
            .map_err(|e| ApiError::invalid(e.0))?,
        written_after: crate::faults::listing_cutoff(),
    };
    if with_creative_types {
        let values = params.all("creative_types");
        if !values.is_empty() {
            let mut mask = 0u32;
            for v in values.iter().flat_map(|v| v.split(',')) {
                let Some(pos) = CREATIVE_TYPES.iter().position(|t| *t == v) else {
                    return Err(ApiError::invalid(format!(
                        "Parameter 'creative_types' has an invalid value (was {v})"
                    )));
                };
                mask |= 1 << pos;
            }
            filter.creative_types = Some(mask);
        }
    }
    Ok(filter)
}

/// A number binding a bookmark to its filter options.
pub fn filter_context(base: u64, filter: &PinFilter) -> u64 {
    gen_::hash(&[
        base,
        u64::from(filter.creative_types.unwrap_or(u32::MAX)),
        u64::from(filter.metrics),
    ])
}

fn pins_page(
    state: &Shared,
    caller: &Caller,
    params: &Params,
    board_id: u64,
    section_id: Option<u64>,
    with_creative_types: bool,
) -> Result<Response, ApiError> {
    let n = page_size(params)?;
    let filter = pin_filter(params, with_creative_types)?;
    let store = state.store();
    let board = visible_board(&store, caller, board_id)?;
    if !caller.viewer().sees_pin(board.owner, board.privacy) {
        return Err(ApiError::insufficient_scope());
    }
    let section = match section_id {
        None => None,
        Some(sid) => match store.sections.get(&sid) {
            Some(s) if s.board == board_id => Some(s),
            _ => return Err(ApiError::section_not_found()),
        },
    };
    let kind = if section.is_some() {
        ListKind::SectionPins
    } else {
        ListKind::BoardPins
    };
    let context = filter_context(section_id.unwrap_or(board_id), &filter);
    let pos = super::bookmark(state, params, kind, caller.user_id, context)?;
    let cursor = match pos {
        None => PinCursor::START,
        Some(p) => {
            PinCursor::unpack(p[0], p[1]).ok_or_else(|| ApiError::invalid("Invalid bookmark."))?
        }
    };
    let (items, next) = store.list_pins(board, section, cursor, n, filter, caller.user);
    let page = Page {
        items,
        bookmark: next.map(|c| {
            let (tag, value) = c.pack();
            sign(state, kind, caller.user_id, context, [tag, value, 0])
        }),
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /v5/boards/{board_id}/pins`.
pub async fn list_pins(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    pins_page(&state, &caller, &params, id, None, true)
}

/// `GET /v5/boards/{board_id}/sections/{section_id}/pins`.
pub async fn list_section_pins(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((board_id, section_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let sid = path_id(&section_id, "section_id")?;
    pins_page(&state, &caller, &params, id, Some(sid), false)
}

/// `GET /v5/boards/{board_id}/sections`.
pub async fn list_sections(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let n = page_size(&params)?;
    let store = state.store();
    let board = visible_board(&store, &caller, id)?;
    let pos = super::bookmark(&state, &params, ListKind::Sections, caller.user_id, id)?;
    let (sections, next) = store.list_sections(board, pos.map_or(0, |p| p[0]), n);
    let page = Page {
        items: sections
            .iter()
            .map(|s| wire::BoardSection {
                id: s.id.to_string(),
                name: s.name.clone(),
            })
            .collect(),
        bookmark: next.map(|seq| sign(&state, ListKind::Sections, caller.user_id, id, [seq, 0, 0])),
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// `POST /v5/boards/{board_id}/sections`.
pub async fn create_section(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&board_id, "board_id")?;
    let map = json_object(&headers, &body)?;
    let name = match string_field(&map, "name", Some(180))? {
        Field::Value(n) if !n.is_empty() => n,
        _ => return Err(ApiError::invalid("Missing required parameter 'name'.")),
    };
    let mut store = state.store_mut();
    let board = writable_board(&store, &caller, id)?;
    let duplicate = board.sections.values().any(|s| {
        store
            .sections
            .get(s)
            .is_some_and(|s| s.name.eq_ignore_ascii_case(&name))
    });
    if duplicate {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            1,
            "A section with this name already exists on the board.",
        ));
    }
    let sid = store.create_section(id, name.clone());
    Ok(json_response(
        StatusCode::CREATED,
        &wire::BoardSection {
            id: sid.to_string(),
            name,
        },
    ))
}
