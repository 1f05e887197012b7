//! Browser sessions of the sign-in and consent pages: a random session id in an
//! HttpOnly cookie, the signed-in user, and the CSRF token the pages' forms must echo.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "pinion_sim_session";
const SESSION_TTL: Duration = Duration::from_secs(24 * 3_600);

/// One browser session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The signed-in user, if any.
    pub user: Option<usize>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    created: Instant,
}

/// All sessions.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

fn random_hex(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    hex::encode(bytes)
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session and returns its id.
    pub fn start(&self, user: Option<usize>) -> (String, Session) {
        let id = random_hex(24);
        let session = Session {
            user,
            csrf: random_hex(16),
            created: Instant::now(),
        };
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.created) < SESSION_TTL);
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id.
    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.lock();
        map.get(id)
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .cloned()
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The session named by the request's cookie.
    pub fn of_request(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie_value(headers, COOKIE_NAME)?;
        let session = self.get(&id)?;
        Some((id, session))
    }
}

/// The value of one cookie in the request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value for a session id.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax")
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}
