//! Web sign-in: password hashing with argon2, browser sessions and their CSRF
//! tokens (issue 6), and the sign-in form's server-issued token.
//!
//! A session token is 256 random bits, sent to the browser as a cookie; the
//! store keeps only its SHA-256. The session's CSRF token is a second hash of
//! the same value under another label, so it is per-session, unguessable
//! without the cookie, and needs no storage; forms echo it and the server
//! compares it in constant time. Sign-in answers the same "wrong username or
//! password" for an unknown user and a wrong password, and runs argon2 in both
//! cases so the time taken does not tell them apart.
//!
//! The sign-in form has no session yet, so it uses a *signed* double-submit
//! token (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit Cookie";
//! SECURITY.md R33): `VERSION.EXPIRES.NONCE.MAC`, where the MAC is an
//! HMAC-SHA256 of the expiry and a 256-bit random nonce under a subkey of
//! the store's master key (version `VERSION`, [`pinion_store::Keyring::mac`]).
//! A value a client made up, or planted from a sibling subdomain or over
//! plain http, has no valid MAC and is refused, and an issued one stops
//! working after [`SIGNIN_TOKEN_TTL`]. The key comes from the keyring rather
//! than a per-process secret because every replica of one deployment loads
//! the same keys (it needs them to open credentials): a form served by one
//! replica is accepted by another and after a restart, with no new secret
//! to distribute. A token names its key version, so after a rotation tokens
//! of a version still loaded keep working.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pinion_domain::{Clock, FieldError, Password, User, Username};
use pinion_store::{KeyStore, Store, StoreError, UserStore, WebStateStore};
use sha2::{Digest, Sha256};

use crate::ServiceError;
use crate::throttle::SignInThrottle;

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// How long a sign-in form's token is accepted after it was issued.
pub const SIGNIN_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// The purpose the sign-in token's MAC is made for, so no other MAC of the
/// same key can pass for one.
const SIGNIN_TOKEN_PURPOSE: &str = "pinion sign-in form token v1";

/// How long a browser's device token (see [`crate::throttle`]) lasts.
pub const DEVICE_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The purpose of a device token's MAC.
const DEVICE_TOKEN_PURPOSE: &str = "pinion sign-in device token v1";

/// A browser session's token: the session cookie's value.
#[derive(Clone)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh random token.
    fn random() -> Self {
        Self(Self::random_value())
    }

    /// 256 random bits, URL-safe base64: for a session or a sign-in form's
    /// double-submit cookie.
    pub fn random_value() -> String {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Wraps a value read back from the cookie.
    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The value for the cookie.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hex the store keeps.
    fn storage_hash(&self) -> String {
        labelled_hash("pinion session v1", &self.0)
    }

    /// The session's CSRF token, to embed in every form.
    pub fn csrf_token(&self) -> String {
        labelled_hash("pinion csrf v1", &self.0)
    }

    /// True when `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        pinion_oauth::constant_time_eq(self.csrf_token().as_bytes(), presented.as_bytes())
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

fn labelled_hash(label: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update([0u8]);
    hasher.update(value.as_bytes());
    hex::encode(hasher.finalize())
}

/// Hashes a password into an argon2id PHC string with a random salt.
pub fn hash_password(password: &Password) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| ServiceError::internal("cannot hash the password", err.to_string()))
}

/// True when `password` matches the PHC string `hash`; a malformed hash never matches.
pub fn verify_password(password: &Password, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks a new password's length (in characters).
pub fn validate_password(password: &Password) -> Result<(), FieldError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who signed in.
    pub user: User,
    /// The new session's token, for the cookie.
    pub token: SessionToken,
    /// A new device token for this browser (see [`crate::throttle`]).
    pub device_token: String,
}

/// The one-time key that lets the person who started a `pinion serve` with
/// no accounts create the first one in a browser (`/setup`). It is written
/// to [`SETUP_KEY_FILE`] in the data directory (0600), readable only by
/// the account that runs Pinion, and removed once used; it is never logged
/// nor put in a URL. It stands for the operator, so the account it creates
/// is an admin.
#[derive(Clone)]
pub struct SetupKey {
    key: String,
    file: Option<std::path::PathBuf>,
    /// Set once an account exists: the key is spent for good, and nobody
    /// needs to ask the store again.
    closed: Arc<std::sync::atomic::AtomicBool>,
}

/// The file in the data directory that holds the setup key.
pub const SETUP_KEY_FILE: &str = "setup-key";

impl std::fmt::Debug for SetupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupKey")
            .field("key", &"[REDACTED]")
            .field("file", &self.file)
            .finish()
    }
}

impl SetupKey {
    /// A new key: 128 random bits in hex, in groups of four for typing.
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        let hex = hex::encode(bytes);
        let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
        Self {
            key: groups.join("-"),
            file: None,
            closed: Arc::default(),
        }
    }

    /// A new key written to `<data_dir>/setup-key` (0600).
    pub fn write_to(data_dir: &std::path::Path) -> std::io::Result<Self> {
        use std::io::Write;
        let mut key = Self::generate();
        let path = data_dir.join(SETUP_KEY_FILE);
        let mut file = pinion_store::private_fs::create_file(&path)?;
        pinion_store::private_fs::restrict_open_file(&file, &path)?;
        writeln!(file, "{}", key.key)?;
        file.sync_all()?;
        key.file = Some(path);
        Ok(key)
    }

    /// Where the key was written, if it was.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// The key itself, for tests that type it in.
    pub fn expose_secret(&self) -> &str {
        &self.key
    }

    /// Whether an account is known to exist, so the key opens nothing.
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes that an account exists (made here, or found by a caller).
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes the key's file once the first account exists.
    fn discard(&self) {
        self.close();
        if let Some(path) = &self.file
            && let Err(err) = std::fs::remove_file(path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %err, "Could not remove the used setup key file.");
        }
    }

    /// Whether `presented` is this key (spaces and case forgiven), in
    /// constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: String = presented
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        pinion_oauth::constant_time_eq(presented.as_bytes(), self.key.as_bytes())
    }
}

/// Passwords and browser sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    /// Accounts and their password hashes.
    users: Arc<dyn UserStore>,
    /// The browser sessions.
    sessions: Arc<dyn WebStateStore>,
    /// The MACs of sign-in and device tokens.
    keys: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    /// A valid hash of a password nobody has, verified when the user is
    /// unknown so both failures take as long. Made at the first sign-in,
    /// not here: argon2 takes 19 MB and tens of milliseconds, which every
    /// CLI command (and `pinion sync`) building the services would pay.
    decoy_hash: Arc<std::sync::OnceLock<String>>,
    /// Failed sign-ins per username and client address.
    throttle: Arc<SignInThrottle>,
}

impl Sessions {
    /// Works on `store` with sessions lasting [`SESSION_TTL`], timed by
    /// `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            keys: store,
            clock,
            ttl: SESSION_TTL,
            decoy_hash: Arc::new(std::sync::OnceLock::new()),
            throttle: Arc::new(SignInThrottle::default()),
        }
    }

    /// Sets `username`'s password after checking its length; ends the user's
    /// other sessions. The operator, an admin or the user themselves may.
    #[tracing::instrument(skip_all, fields(username = %username))]
    pub async fn set_password(
        &self,
        actor: impl Into<crate::Actor>,
        username: &str,
        password: &Password,
    ) -> Result<User, ServiceError> {
        let actor = actor.into();
        validate_password(password)?;
        let username = Username::parse(username)?;
        if actor.user().is_none_or(|user| user.username != username) {
            crate::users::manages_users(&actor)?;
        }
        let user = self.users.get_user_by_username(&username).await?;
        let new_password = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
            .await
            .map_err(|err| ServiceError::internal("cannot hash the password", err))??;
        self.users.set_password_hash(&user.id, Some(&hash)).await?;
        self.sessions.delete_user_sessions(&user.id).await?;
        tracing::info!(user_id = %user.id, "Set a password.");
        Ok(user)
    }

    /// Whether no account exists yet, so `/setup` may make the first.
    pub async fn needs_first_account(&self) -> Result<bool, ServiceError> {
        Ok(self.users.list_users().await?.is_empty())
    }

    /// Creates the first account, an admin with `password`, for whoever
    /// presents the server's setup `key`, and signs it in. Refused
    /// (`Forbidden`) for a wrong key, and (`Conflict` on `username`) once any
    /// account exists, made here or by another process on the database.
    #[tracing::instrument(skip_all, fields(username = %username))]
    pub async fn create_first_account(
        &self,
        key: &SetupKey,
        presented: &str,
        username: &str,
        password: &Password,
    ) -> Result<SignedIn, ServiceError> {
        let exists = || ServiceError::Conflict {
            field: "username",
            message: "an account exists already: sign in, or ask its admin for one".into(),
        };
        if key.is_closed() {
            return Err(exists());
        }
        if !key.matches(presented) {
            return Err(ServiceError::Forbidden(
                "that is not this server's setup key: copy it from the `setup-key` file in Pinion's data directory",
            ));
        }
        let mut errors = Vec::new();
        let parsed = match Username::parse(username) {
            Ok(name) => Some(name),
            Err(err) => {
                errors.push(err);
                None
            }
        };
        if let Err(invalid) = validate_password(password) {
            errors.push(invalid);
        }
        let Some(username) = parsed.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Validation(pinion_domain::ValidationErrors(
                errors,
            )));
        };
        let new_password = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
            .await
            .map_err(|err| ServiceError::internal("cannot hash the password", err))??;
        let Some(user) = self
            .users
            .create_first_user(&username, pinion_domain::Role::Admin, &hash)
            .await?
        else {
            key.close();
            return Err(exists());
        };
        key.discard();
        tracing::info!(user_id = %user.id, "Created the first account through the setup page.");
        self.start_session(user).await
    }

    /// Signs in with a username and password; `None` for a wrong pair
    /// (whichever half is wrong).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<Option<SignedIn>, ServiceError> {
        self.sign_in_from(username, password, None).await
    }

    /// [`Sessions::sign_in`] from a client address, throttled: after too many
    /// failures for the username from this client, or from this client in
    /// all, or (for a client that failed for it) for the username from
    /// anywhere, the answer is [`ServiceError::Throttled`] and no password is
    /// checked. Failures elsewhere never refuse a client that has none (see
    /// [`crate::throttle`]).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_from(
        &self,
        username: &str,
        password: &Password,
        client: Option<IpAddr>,
    ) -> Result<Option<SignedIn>, ServiceError> {
        self.sign_in_on_device(username, password, client, None)
            .await
    }

    /// [`Sessions::sign_in_from`] from a browser that may hold a device token
    /// (`device`, the cookie's value). A valid one for `username` means the
    /// browser signed in as that user before: its attempts are counted on
    /// the device alone, so nobody else's failures, even at the same
    /// address, refuse it ([`SignInThrottle::begin_device`]).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_on_device(
        &self,
        username: &str,
        password: &Password,
        client: Option<IpAddr>,
        device: Option<&str>,
    ) -> Result<Option<SignedIn>, ServiceError> {
        let device = device.and_then(|token| {
            self.verify_token(DEVICE_TOKEN_PURPOSE, &username_digest(username), token)
        });
        // The attempt counts as a failure from here until the password
        // matched, so attempts sent together cannot all get through.
        let begun = match device {
            Some(device) => self.throttle.begin_device(device, Instant::now()),
            None => self.throttle.begin(username, client, Instant::now()),
        };
        if let Err(retry_after) = begun {
            tracing::info!("A sign-in was refused: too many failed attempts.");
            return Err(ServiceError::Throttled { retry_after });
        }
        let result = self.check_password(username, password).await;
        match (device, &result) {
            (Some(device), result) => self
                .throttle
                .device_done(device, matches!(result, Ok(None))),
            (None, Ok(Some(_))) => self.throttle.succeeded(username, client),
            (None, Ok(None)) => {}
            (None, Err(_)) => self.throttle.abandoned(username, client),
        }
        result
    }

    async fn check_password(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<Option<SignedIn>, ServiceError> {
        let user = match Username::parse(username) {
            Ok(name) => match self.users.get_user_by_username(&name).await {
                Ok(user) => Some(user),
                Err(StoreError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            },
            Err(_) => None,
        };
        let hash = match &user {
            Some(user) => self.users.password_hash(&user.id).await?,
            None => None,
        };
        // argon2 takes tens of milliseconds of CPU: run it on the blocking
        // pool so a burst of sign-ins does not stall every other request.
        let known = hash.is_some();
        let decoy = self.decoy_hash.clone();
        let attempt = password.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let hash = hash.unwrap_or_else(|| {
                decoy
                    .get_or_init(|| {
                        let nobodys = Password::new(SessionToken::random().0);
                        hash_password(&nobodys).unwrap_or_default()
                    })
                    .clone()
            });
            verify_password(&attempt, &hash)
        })
        .await
        .unwrap_or(false);
        let matches = known && verified;
        let Some(user) = user.filter(|_| matches) else {
            tracing::info!("A sign-in was refused.");
            return Ok(None);
        };
        self.start_session(user).await.map(Some)
    }

    /// A new session for `user`, whose password was just checked or set.
    async fn start_session(&self, user: User) -> Result<SignedIn, ServiceError> {
        // Sign-ins are rare enough to sweep expired sessions here; a failure
        // only leaves rows that are never honoured anyway.
        if let Err(err) = self.sessions.purge_sessions(self.clock.now()).await {
            tracing::warn!(error = %err, "Could not purge expired sessions.");
        }
        let token = SessionToken::random();
        let expires_at = self.clock.now()
            + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::hours(12));
        self.sessions
            .create_session(&user.id, &token.storage_hash(), expires_at)
            .await?;
        tracing::info!(user_id = %user.id, "Signed in.");
        let device_token = self.issue_device_token(user.username.as_str());
        Ok(SignedIn {
            user,
            token,
            device_token,
        })
    }

    /// The user of a live session, or `None`.
    pub async fn user(&self, token: &SessionToken) -> Result<Option<User>, ServiceError> {
        Ok(self.sessions.session_user(&token.storage_hash()).await?)
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &SessionToken) -> Result<(), ServiceError> {
        self.sessions.delete_session(&token.storage_hash()).await?;
        Ok(())
    }

    /// Session lifetime, for the cookie's `Max-Age`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new sign-in form token, for the double-submit cookie and the form's
    /// hidden field (see the module docs).
    pub fn issue_signin_token(&self) -> String {
        self.sign_token(SIGNIN_TOKEN_PURPOSE, "", SIGNIN_TOKEN_TTL)
    }

    /// True when `token` is a sign-in token this deployment issued that has
    /// not expired.
    pub fn signin_token_valid(&self, token: &str) -> bool {
        self.verify_token(SIGNIN_TOKEN_PURPOSE, "", token).is_some()
    }

    /// A new device token for `username`: the cookie a browser gets when it
    /// signs in, which lets its later attempts for that username be counted
    /// on the device alone ([`SignInThrottle::begin_device`]).
    pub fn issue_device_token(&self, username: &str) -> String {
        self.sign_token(
            DEVICE_TOKEN_PURPOSE,
            &username_digest(username),
            DEVICE_TOKEN_TTL,
        )
    }

    /// `VERSION.EXPIRES.NONCE.MAC`, the MAC over the expiry, a random nonce
    /// and `bound` (what the token is for).
    fn sign_token(&self, purpose: &str, bound: &str, ttl: Duration) -> String {
        let expires = self.clock.now().timestamp() + ttl.as_secs() as i64;
        let nonce = SessionToken::random_value();
        let message = format!("{expires}.{nonce}.{bound}");
        let (version, tag) = self.keys.mac(purpose, message.as_bytes());
        format!("{version}.{expires}.{nonce}.{}", base64_url(&tag))
    }

    /// The nonce of `token` when this deployment signed it for `purpose` and
    /// `bound` and it has not expired.
    fn verify_token<'t>(&self, purpose: &str, bound: &str, token: &'t str) -> Option<&'t str> {
        use base64::Engine;
        let mut parts = token.splitn(4, '.');
        let (version, expires, nonce, tag) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let version = version.parse().ok()?;
        let expires_at = expires.parse::<i64>().ok()?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        let message = format!("{expires}.{nonce}.{bound}");
        (self
            .keys
            .verify_mac(purpose, version, message.as_bytes(), &tag)
            && self.clock.now().timestamp() < expires_at)
            .then_some(nonce)
    }
}

/// SHA-256 hex of the trimmed, lower-cased username a device token is for.
fn username_digest(username: &str) -> String {
    hex::encode(Sha256::digest(username.trim().to_lowercase().as_bytes()))
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Users;
    use crate::credentials::tests::store;

    #[tokio::test]
    async fn the_first_account_needs_the_setup_key_and_only_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(store(&dir).await, Arc::new(pinion_domain::SystemClock));
        let key = SetupKey::write_to(dir.path()).unwrap();
        let path = key.file().unwrap().to_owned();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.trim(), key.expose_secret());
        assert!(!format!("{key:?}").contains(key.expose_secret()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(sessions.needs_first_account().await.unwrap());
        let password = Password::new("a long first password");

        let wrong = sessions
            .create_first_account(&key, "0000-0000", "alice", &password)
            .await;
        assert!(
            matches!(wrong, Err(ServiceError::Forbidden(_))),
            "{wrong:?}"
        );
        let typed = format!(" {} ", key.expose_secret().to_uppercase());
        let invalid = sessions
            .create_first_account(&key, &typed, "a b", &Password::new("short"))
            .await;
        let Err(ServiceError::Validation(errors)) = invalid else {
            panic!("{invalid:?}")
        };
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["username", "password"]);
        assert!(sessions.needs_first_account().await.unwrap());

        let admin = sessions
            .create_first_account(&key, &typed, "alice", &password)
            .await
            .unwrap()
            .user;
        assert_eq!(admin.role, pinion_domain::Role::Admin);
        assert!(!path.exists(), "the used key's file is removed");
        assert!(!sessions.needs_first_account().await.unwrap());
        assert!(
            sessions
                .sign_in("alice", &password)
                .await
                .unwrap()
                .is_some()
        );
        let again = sessions
            .create_first_account(&key, &typed, "mallory", &password)
            .await;
        assert!(
            matches!(
                again,
                Err(ServiceError::Conflict {
                    field: "username",
                    ..
                })
            ),
            "{again:?}"
        );
    }

    #[test]
    fn session_token_debug_is_redacted_and_csrf_differs_from_the_token() {
        let token = SessionToken::from_cookie("canary-session-value");
        assert!(!format!("{token:?}").contains("canary"));
        let csrf = token.csrf_token();
        assert_ne!(csrf, token.expose_secret());
        assert_ne!(csrf, token.storage_hash());
        assert!(token.csrf_matches(&csrf));
        assert!(!token.csrf_matches(""));
        assert!(!SessionToken::from_cookie("other").csrf_matches(&csrf));
    }

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password(&Password::new("correct horse battery")).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(
            &Password::new("correct horse battery"),
            &hash
        ));
        assert!(!verify_password(
            &Password::new("correct horse battery!"),
            &hash
        ));
        assert!(!verify_password(&Password::new("x"), "not a phc string"));
    }

    #[tokio::test]
    async fn sign_in_gives_a_session_and_refuses_wrong_pairs_alike() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        Users::new(store.clone())
            .create(crate::Actor::Operator, "alice", false)
            .await
            .unwrap();
        let sessions = Sessions::new(store, Arc::new(pinion_domain::SystemClock));
        let short = sessions
            .set_password(crate::Actor::Operator, "alice", &Password::new("short"))
            .await;
        assert_eq!(short.unwrap_err().field(), Some("password"));
        sessions
            .set_password(
                crate::Actor::Operator,
                "alice",
                &Password::new("a long enough password"),
            )
            .await
            .unwrap();

        let wrong = Password::new("a wrong but long password");
        assert!(sessions.sign_in("alice", &wrong).await.unwrap().is_none());
        assert!(sessions.sign_in("nobody", &wrong).await.unwrap().is_none());
        let signed = sessions
            .sign_in("ALICE", &Password::new("a long enough password"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(signed.user.username.as_str(), "alice");
        assert_eq!(
            sessions.user(&signed.token).await.unwrap().unwrap().id,
            signed.user.id
        );

        sessions.sign_out(&signed.token).await.unwrap();
        assert!(sessions.user(&signed.token).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn wrong_passwords_sent_together_get_no_more_tries_than_one_after_another() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        Users::new(store.clone())
            .create(crate::Actor::Operator, "erin", false)
            .await
            .unwrap();
        let sessions = Sessions::new(store, Arc::new(pinion_domain::SystemClock));
        sessions
            .set_password(
                crate::Actor::Operator,
                "erin",
                &Password::new("a long enough password"),
            )
            .await
            .unwrap();
        let wrong = Password::new("a wrong but long password");
        let client = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));
        let attempts = 3 * crate::throttle::MAX_FAILURES_PER_PAIR;
        let answers = futures::future::join_all(
            (0..attempts).map(|_| sessions.sign_in_from("erin", &wrong, client)),
        )
        .await;
        let checked = answers
            .iter()
            .filter(|answer| matches!(answer, Ok(None)))
            .count();
        let refused = answers
            .iter()
            .filter(|answer| matches!(answer, Err(ServiceError::Throttled { .. })))
            .count();
        assert_eq!(
            (checked, refused),
            (
                crate::throttle::MAX_FAILURES_PER_PAIR as usize,
                (attempts - crate::throttle::MAX_FAILURES_PER_PAIR) as usize
            )
        );
    }

    #[tokio::test]
    async fn strangers_cannot_stop_the_right_password_and_guessing_stays_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        Users::new(store.clone())
            .create(crate::Actor::Operator, "frank", false)
            .await
            .unwrap();
        let sessions = Sessions::new(store, Arc::new(pinion_domain::SystemClock));
        let right = Password::new("a long enough password");
        sessions
            .set_password(crate::Actor::Operator, "frank", &right)
            .await
            .unwrap();
        let wrong = Password::new("a wrong but long password");
        let own = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
        // Strangers at 20 addresses fail for frank until they are refused.
        let mut refused = 0;
        for n in 0..20u8 {
            let stranger = Some(IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n)));
            for _ in 0..crate::throttle::MAX_FAILURES_PER_PAIR + 1 {
                match sessions.sign_in_from("frank", &wrong, stranger).await {
                    Ok(None) => {}
                    Err(ServiceError::Throttled { .. }) => refused += 1,
                    other => panic!("{other:?}"),
                }
            }
            // Guessing stays throttled: not even the right password is
            // checked for a stranger who has failed.
            assert!(matches!(
                sessions.sign_in_from("frank", &right, stranger).await,
                Err(ServiceError::Throttled { .. })
            ));
        }
        assert!(refused >= 20, "{refused}");
        // Frank signs in from his own client.
        let signed = sessions.sign_in_from("frank", &right, own).await.unwrap();
        assert_eq!(signed.unwrap().user.username.as_str(), "frank");
    }

    #[tokio::test]
    async fn sign_in_tokens_are_the_servers_own_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(store(&dir).await, Arc::new(pinion_domain::SystemClock));
        let token = sessions.issue_signin_token();
        assert!(sessions.signin_token_valid(&token), "{token}");
        assert_ne!(token, sessions.issue_signin_token());
        // Another replica (its own connection, the same keys) accepts it.
        let replica = Sessions::new(store(&dir).await, Arc::new(pinion_domain::SystemClock));
        assert!(replica.signin_token_valid(&token), "{token}");
        // Made up, tampered with, or signed by another deployment's key.
        let other_dir = tempfile::tempdir().unwrap();
        let other = Sessions::new(
            store(&other_dir).await,
            Arc::new(pinion_domain::SystemClock),
        )
        .issue_signin_token();
        let (head, tag) = token.rsplit_once('.').unwrap();
        let later = head.replacen('.', ".9", 1);
        for bad in [
            "",
            "guess",
            "1.2.3.4",
            &SessionToken::random_value(),
            &other,
            &format!("{head}.{}", base64_url(&[0; 32])),
            &format!("{later}.{tag}"),
            &format!("2{token}"),
        ] {
            assert!(!sessions.signin_token_valid(bad), "{bad}");
        }
        // An expired one, with a valid MAC, and the same moved later.
        let expires = chrono::Utc::now().timestamp() - 1;
        let (version, tag) = sessions
            .keys
            .mac(SIGNIN_TOKEN_PURPOSE, format!("{expires}.x.").as_bytes());
        let expired = format!("{version}.{expires}.x.{}", base64_url(&tag));
        let moved = format!("{version}.{}.x.{}", expires + 60, base64_url(&tag));
        assert!(!sessions.signin_token_valid(&expired), "{expired}");
        assert!(!sessions.signin_token_valid(&moved), "{moved}");
        let (version, tag) = sessions.keys.mac(
            SIGNIN_TOKEN_PURPOSE,
            format!("{}.x.", expires + 60).as_bytes(),
        );
        let valid = format!("{version}.{}.x.{}", expires + 60, base64_url(&tag));
        assert!(sessions.signin_token_valid(&valid), "{valid}");
        // A device token is for its username only, and is no sign-in token.
        let device = sessions.issue_device_token("Alice");
        let alice = username_digest("alice ");
        let found = sessions.verify_token(DEVICE_TOKEN_PURPOSE, &alice, &device);
        assert!(found.is_some());
        let bob = username_digest("bob");
        let found = sessions.verify_token(DEVICE_TOKEN_PURPOSE, &bob, &device);
        assert!(found.is_none());
        assert!(!sessions.signin_token_valid(&device));
    }

    #[tokio::test]
    async fn changing_the_password_ends_existing_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        Users::new(store.clone())
            .create(crate::Actor::Operator, "alice", false)
            .await
            .unwrap();
        let sessions = Sessions::new(store, Arc::new(pinion_domain::SystemClock));
        let first = Password::new("the first long password");
        sessions
            .set_password(crate::Actor::Operator, "alice", &first)
            .await
            .unwrap();
        let signed = sessions.sign_in("alice", &first).await.unwrap().unwrap();
        sessions
            .set_password(
                crate::Actor::Operator,
                "alice",
                &Password::new("the second long password"),
            )
            .await
            .unwrap();
        assert!(sessions.user(&signed.token).await.unwrap().is_none());
    }
}
