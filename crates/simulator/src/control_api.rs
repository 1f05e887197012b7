//! The control API under `/_sim/`: register apps and users, revoke grants, expire tokens,
//! reset app secrets, inject faults, read call statistics, and stream the ids a complete
//! sync of a user's data is expected to produce. It is JSON (the id lists are plain text,
//! one id per line) and entirely apart from the Pinterest surface.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;

use crate::error::json_response;
use crate::model::{AppSpec, FaultSpec, Stats, Stream, UserPatch, UserSpec};
use crate::params::Params;
use crate::state::Shared;
use crate::store::{PinCursor, PinFilter, StoreError};

/// The `/_sim/` routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/apps", get(list_apps).post(add_app))
        .route("/_sim/apps/{client_id}/reset_secret", post(reset_secret))
        .route("/_sim/users", get(list_users).post(add_user))
        .route("/_sim/users/{username}", get(get_user).patch(patch_user))
        .route(
            "/_sim/users/{username}/grants/{client_id}",
            delete(revoke_grant),
        )
        .route("/_sim/users/{username}/expire_tokens", post(expire_tokens))
        .route("/_sim/users/{username}/ids/{stream}", get(expected_ids))
        .route(
            "/_sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/faults/{id}", delete(remove_fault))
        .route("/_sim/stats", get(stats).delete(reset_stats))
        .route("/_sim/stats/reset", post(reset_stats))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, &json!({ "error": message.into() }))
}

fn store_error(err: StoreError) -> Response {
    let status = match err {
        StoreError::DuplicateApp(_) | StoreError::DuplicateUser(_) => StatusCode::CONFLICT,
        StoreError::UnknownApp(_) | StoreError::UnknownUser(_) => StatusCode::NOT_FOUND,
        StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    error(status, err.to_string())
}

fn user_index(state: &Shared, username: &str) -> Result<usize, Box<Response>> {
    state
        .store()
        .user_index(username)
        .ok_or_else(|| Box::new(store_error(StoreError::UnknownUser(username.to_owned()))))
}

async fn health() -> Response {
    json_response(StatusCode::OK, &json!({ "ok": true }))
}

async fn list_apps(State(state): State<Shared>) -> Response {
    let store = state.store();
    let mut apps: Vec<_> = store.apps.values().map(|a| a.info()).collect();
    apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    json_response(StatusCode::OK, &apps)
}

async fn add_app(State(state): State<Shared>, Json(spec): Json<AppSpec>) -> Response {
    match state.store_mut().add_app(spec) {
        Ok(info) => {
            tracing::info!(client_id = %info.client_id, "Registered an app.");
            json_response(StatusCode::CREATED, &info)
        }
        Err(e) => store_error(e),
    }
}

async fn reset_secret(State(state): State<Shared>, Path(client_id): Path<String>) -> Response {
    match state.store_mut().reset_secret(&client_id) {
        Ok(secret) => {
            tracing::info!(client_id = %client_id, "Reset an app secret.");
            json_response(StatusCode::OK, &json!({ "client_secret": secret }))
        }
        Err(e) => store_error(e),
    }
}

async fn list_users(State(state): State<Shared>) -> Response {
    let store = state.store();
    let users: Vec<_> = store.users.iter().map(|u| u.info()).collect();
    json_response(StatusCode::OK, &users)
}

async fn add_user(State(state): State<Shared>, Json(spec): Json<UserSpec>) -> Response {
    match state.store_mut().add_user(spec) {
        Ok(info) => {
            tracing::info!(username = %info.username, "Registered a user.");
            json_response(StatusCode::CREATED, &info)
        }
        Err(e) => store_error(e),
    }
}

async fn get_user(State(state): State<Shared>, Path(username): Path<String>) -> Response {
    match user_index(&state, &username) {
        Ok(i) => json_response(StatusCode::OK, &state.store().users[i].info()),
        Err(res) => *res,
    }
}

async fn patch_user(
    State(state): State<Shared>,
    Path(username): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Response {
    let i = match user_index(&state, &username) {
        Ok(i) => i,
        Err(res) => return *res,
    };
    let mut store = state.store_mut();
    if let Some(auto) = patch.auto_approve {
        store.users[i].auto_approve = auto;
    }
    json_response(StatusCode::OK, &store.users[i].info())
}

async fn revoke_grant(
    State(state): State<Shared>,
    Path((username, client_id)): Path<(String, String)>,
) -> Response {
    let i = match user_index(&state, &username) {
        Ok(i) => i,
        Err(res) => return *res,
    };
    if !state.store().apps.contains_key(&client_id) {
        return store_error(StoreError::UnknownApp(client_id));
    }
    let revoked = state.tokens().revoke_grant(i, &client_id);
    tracing::info!(username = %username, client_id = %client_id, "Revoked a grant.");
    json_response(StatusCode::OK, &json!({ "revoked_families": revoked }))
}

async fn expire_tokens(
    State(state): State<Shared>,
    Path(username): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let i = match user_index(&state, &username) {
        Ok(i) => i,
        Err(res) => return *res,
    };
    let params = Params::parse(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let client_id = params.get("client_id").ok().flatten().map(str::to_owned);
    let expired = state.tokens().expire_access(i, client_id.as_deref());
    json_response(StatusCode::OK, &json!({ "expired": expired }))
}

async fn list_faults(State(state): State<Shared>) -> Response {
    json_response(StatusCode::OK, &state.faults.list())
}

async fn add_fault(State(state): State<Shared>, Json(spec): Json<FaultSpec>) -> Response {
    if !spec.path_prefix.starts_with('/') {
        return error(StatusCode::BAD_REQUEST, "path_prefix must start with '/'");
    }
    if spec.path_prefix.starts_with("/_sim") {
        return error(
            StatusCode::BAD_REQUEST,
            "faults cannot target the control API",
        );
    }
    if let Some(reason) = spec.kind.refusal(spec.method.as_deref()) {
        return error(StatusCode::BAD_REQUEST, reason);
    }
    let id = state.faults.add(spec);
    json_response(StatusCode::CREATED, &json!({ "id": id }))
}

async fn clear_faults(State(state): State<Shared>) -> Response {
    state.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(state): State<Shared>, Path(id): Path<u64>) -> Response {
    if state.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no fault with id {id}"))
    }
}

async fn stats(State(state): State<Shared>) -> Response {
    let snapshot = state.stats().clone();
    json_response(StatusCode::OK, &snapshot)
}

async fn reset_stats(State(state): State<Shared>) -> Response {
    *state.stats() = Stats::default();
    StatusCode::NO_CONTENT.into_response()
}

/// Where an id listing continues.
struct IdsPos {
    board_below: u64,
    section_from: u64,
    pin: PinCursor,
    done: bool,
}

const CHUNK: usize = 2_000;

/// Produces the next chunk of lines of a stream.
fn next_chunk(state: &Shared, user: usize, stream: Stream, pos: &mut IdsPos) -> String {
    let store = state.store();
    let mut out = String::new();
    let mut line = |id: &str| {
        out.push_str(id);
        out.push('\n');
    };
    match stream {
        Stream::UserAccount => {
            line(&store.users[user].id.to_string());
            pos.done = true;
        }
        Stream::AdAccounts => {
            for id in &store.users[user].ad_accounts {
                line(&id.to_string());
            }
            pos.done = true;
        }
        Stream::Boards | Stream::BoardSections => {
            for (_, id) in store.users[user].boards.iter().rev() {
                let Some(board) = store.boards.get(id) else {
                    continue;
                };
                if stream == Stream::Boards {
                    line(&id.to_string());
                } else {
                    for sid in board.sections.values() {
                        line(&sid.to_string());
                    }
                }
            }
            pos.done = true;
        }
        Stream::BoardPins | Stream::Pins | Stream::BoardSectionPins => {
            let mut produced = 0;
            while produced < CHUNK {
                let Some((seq, board_id)) = store.next_board_seq(user, pos.board_below) else {
                    pos.done = true;
                    break;
                };
                let board = &store.boards[&board_id];
                let section = if stream == Stream::BoardSectionPins {
                    let next = board.sections.range(pos.section_from..).next();
                    match next {
                        Some((sseq, sid)) => Some((*sseq, store.sections.get(sid))),
                        None => {
                            pos.board_below = seq;
                            pos.section_from = 0;
                            pos.pin = PinCursor::START;
                            continue;
                        }
                    }
                } else {
                    None
                };
                let (items, next) = store.list_pins(
                    board,
                    section.and_then(|s| s.1),
                    pos.pin,
                    CHUNK - produced,
                    PinFilter::default(),
                    user,
                );
                produced += items.len();
                for pin in &items {
                    line(&pin.id);
                }
                match (next, section) {
                    (Some(c), _) => pos.pin = c,
                    (None, Some((sseq, _))) => {
                        pos.section_from = sseq + 1;
                        pos.pin = PinCursor::START;
                    }
                    (None, None) => {
                        pos.board_below = seq;
                        pos.pin = PinCursor::START;
                    }
                }
            }
        }
    }
    out
}

async fn expected_ids(
    State(state): State<Shared>,
    Path((username, stream)): Path<(String, String)>,
) -> Response {
    let user = match user_index(&state, &username) {
        Ok(i) => i,
        Err(res) => return *res,
    };
    let Some(stream) = Stream::parse(&stream) else {
        return error(StatusCode::NOT_FOUND, format!("unknown stream {stream}"));
    };
    let pos = IdsPos {
        board_below: u64::MAX,
        section_from: 0,
        pin: PinCursor::START,
        done: false,
    };
    let body = futures::stream::unfold((state, pos), move |(state, mut pos)| async move {
        if pos.done {
            return None;
        }
        let chunk = next_chunk(&state, user, stream, &mut pos);
        Some((
            Ok::<Bytes, std::io::Error>(Bytes::from(chunk)),
            (state, pos),
        ))
    });
    let mut res = Response::new(Body::from_stream(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
