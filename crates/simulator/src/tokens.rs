//! Authorization codes, access tokens and refresh tokens, with the rules Pinterest applies:
//! codes are single-use and bound to client and redirect URI, reusing a code revokes what
//! it produced, every refresh rotates the refresh token and retires the old one, and a
//! refresh may only narrow the scopes.
//!
//! Token values are random; only their SHA-256 digests are kept as map keys, so a memory
//! dump of the simulator holds no usable token.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::ops::ScopeSet;

/// Digest of a secret value, used as a map key.
pub type Digest32 = [u8; 32];

/// Digests a token or code.
pub fn digest(value: &str) -> Digest32 {
    Sha256::digest(value.as_bytes()).into()
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What kind of grant an access token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A user's token (authorization code or refresh).
    User,
    /// An app's own token (client credentials).
    Client,
}

/// An access token's record.
#[derive(Clone, Debug)]
pub struct AccessRecord {
    pub user: usize,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub expires_at: Instant,
    pub family: Option<u64>,
    pub kind: TokenKind,
}

/// A refresh token's record.
#[derive(Clone, Debug)]
struct RefreshRecord {
    family: u64,
    scopes: ScopeSet,
    expires_at: Instant,
    active: bool,
}

/// All tokens descending from one authorization code.
#[derive(Clone, Debug)]
struct Family {
    user: usize,
    client_id: String,
    revoked: bool,
}

/// An authorization code's record.
#[derive(Clone, Debug)]
struct CodeRecord {
    user: usize,
    client_id: String,
    redirect_uri: String,
    scopes: ScopeSet,
    expires_at: Instant,
    /// The family created when the code was redeemed.
    redeemed: Option<u64>,
}

/// A freshly issued token set.
#[derive(Clone, Debug)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: ScopeSet,
    pub expires_in: u64,
    pub refresh_expires_in: Option<u64>,
    pub refresh_expires_at: Option<i64>,
}

/// Why a grant was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// The code or refresh token is unknown, expired, used, revoked or not this client's
    /// (Pinterest's 401 code 283).
    InvalidGrant,
    /// The requested scope is wider than the grant (400 code 1).
    ScopeWidened,
}

/// Lifetimes applied to new tokens.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub access: Duration,
    pub refresh: Duration,
    pub code: Duration,
}

/// The token store.
pub struct Tokens {
    lifetimes: Lifetimes,
    codes: HashMap<Digest32, CodeRecord>,
    access: HashMap<Digest32, AccessRecord>,
    refresh: HashMap<Digest32, RefreshRecord>,
    families: HashMap<u64, Family>,
    /// Scopes each user has approved for each app, now or earlier.
    approvals: HashMap<(usize, String), ScopeSet>,
    next_family: u64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Tokens {
    /// An empty store.
    pub fn new(lifetimes: Lifetimes) -> Self {
        Self {
            lifetimes,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            families: HashMap::new(),
            approvals: HashMap::new(),
            next_family: 1,
        }
    }

    /// Records the user's consent and issues an authorization code.
    pub fn issue_code(
        &mut self,
        user: usize,
        client_id: &str,
        redirect_uri: &str,
        scopes: ScopeSet,
    ) -> String {
        let approved = self
            .approvals
            .entry((user, client_id.to_owned()))
            .or_default();
        *approved = approved.union(scopes);
        let bytes: [u8; 20] = rand::random();
        let code = hex::encode(bytes);
        self.codes.insert(
            digest(&code),
            CodeRecord {
                user,
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                scopes,
                expires_at: Instant::now() + self.lifetimes.code,
                redeemed: None,
            },
        );
        code
    }

    fn issue_pair(&mut self, family: u64, scopes: ScopeSet) -> Issued {
        let (user, client_id) = {
            let f = &self.families[&family];
            (f.user, f.client_id.clone())
        };
        let now = Instant::now();
        let access_token = random_token("pina_");
        self.access.insert(
            digest(&access_token),
            AccessRecord {
                user,
                client_id,
                scopes,
                expires_at: now + self.lifetimes.access,
                family: Some(family),
                kind: TokenKind::User,
            },
        );
        let refresh_token = random_token("pinr_");
        self.refresh.insert(
            digest(&refresh_token),
            RefreshRecord {
                family,
                scopes,
                expires_at: now + self.lifetimes.refresh,
                active: true,
            },
        );
        Issued {
            access_token,
            refresh_token: Some(refresh_token),
            scopes,
            expires_in: self.lifetimes.access.as_secs(),
            refresh_expires_in: Some(self.lifetimes.refresh.as_secs()),
            refresh_expires_at: Some(unix_now() + self.lifetimes.refresh.as_secs() as i64),
        }
    }

    /// Redeems an authorization code. A second redemption fails and revokes every token
    /// the first one produced.
    pub fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<Issued, GrantError> {
        let key = digest(code);
        let Some(rec) = self.codes.get_mut(&key) else {
            return Err(GrantError::InvalidGrant);
        };
        if rec.client_id != client_id {
            return Err(GrantError::InvalidGrant);
        }
        if let Some(family) = rec.redeemed {
            if let Some(f) = self.families.get_mut(&family) {
                f.revoked = true;
            }
            return Err(GrantError::InvalidGrant);
        }
        if rec.expires_at <= Instant::now() || rec.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant);
        }
        let family = self.next_family;
        self.next_family += 1;
        rec.redeemed = Some(family);
        let (user, scopes) = (rec.user, rec.scopes);
        // The token covers every scope the user has approved for the app so far.
        let scopes = self
            .approvals
            .get(&(user, client_id.to_owned()))
            .copied()
            .unwrap_or(scopes)
            .union(scopes);
        self.families.insert(
            family,
            Family {
                user,
                client_id: client_id.to_owned(),
                revoked: false,
            },
        );
        Ok(self.issue_pair(family, scopes))
    }

    /// Exchanges a refresh token for a new pair; the old refresh token stops working.
    pub fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<ScopeSet>,
    ) -> Result<Issued, GrantError> {
        let key = digest(refresh_token);
        let Some(rec) = self.refresh.get(&key).cloned() else {
            return Err(GrantError::InvalidGrant);
        };
        let Some(family) = self.families.get(&rec.family) else {
            return Err(GrantError::InvalidGrant);
        };
        if family.client_id != client_id
            || family.revoked
            || !rec.active
            || rec.expires_at <= Instant::now()
        {
            return Err(GrantError::InvalidGrant);
        }
        let scopes = match scope {
            Some(requested) if !rec.scopes.contains_all(requested) => {
                return Err(GrantError::ScopeWidened);
            }
            Some(requested) => requested,
            None => rec.scopes,
        };
        if let Some(r) = self.refresh.get_mut(&key) {
            r.active = false;
        }
        Ok(self.issue_pair(rec.family, scopes))
    }

    /// Issues a client-credentials access token acting as `user`.
    pub fn client_credentials(&mut self, user: usize, client_id: &str, scopes: ScopeSet) -> Issued {
        let access_token = random_token("pinc_");
        self.access.insert(
            digest(&access_token),
            AccessRecord {
                user,
                client_id: client_id.to_owned(),
                scopes,
                expires_at: Instant::now() + self.lifetimes.access,
                family: None,
                kind: TokenKind::Client,
            },
        );
        Issued {
            access_token,
            refresh_token: None,
            scopes,
            expires_in: self.lifetimes.access.as_secs(),
            refresh_expires_in: None,
            refresh_expires_at: None,
        }
    }

    /// Looks up a live access token.
    pub fn check_access(&self, token: &str) -> Option<AccessRecord> {
        let rec = self.access.get(&digest(token))?;
        if rec.expires_at <= Instant::now() {
            return None;
        }
        if let Some(family) = rec.family
            && self.families.get(&family).is_none_or(|f| f.revoked)
        {
            return None;
        }
        Some(rec.clone())
    }

    /// Revokes everything a user granted to an app and forgets the approval. Returns the
    /// number of token families revoked.
    pub fn revoke_grant(&mut self, user: usize, client_id: &str) -> usize {
        self.approvals.remove(&(user, client_id.to_owned()));
        let mut n = 0;
        for f in self.families.values_mut() {
            if f.user == user && f.client_id == client_id && !f.revoked {
                f.revoked = true;
                n += 1;
            }
        }
        let now = Instant::now();
        for rec in self.access.values_mut() {
            if rec.user == user && rec.client_id == client_id && rec.kind == TokenKind::Client {
                rec.expires_at = now;
            }
        }
        n
    }

    /// Expires a user's access tokens now (for one app or all); refresh tokens stay valid.
    /// Returns how many live tokens were expired.
    pub fn expire_access(&mut self, user: usize, client_id: Option<&str>) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for rec in self.access.values_mut() {
            if rec.user == user
                && client_id.is_none_or(|c| c == rec.client_id)
                && rec.expires_at > now
            {
                rec.expires_at = now;
                n += 1;
            }
        }
        n
    }

    /// Drops expired codes and tokens so that long runs do not grow without bound.
    pub fn sweep(&mut self) {
        let now = Instant::now();
        let grace = Duration::from_secs(3_600);
        self.codes.retain(|_, c| c.expires_at + grace > now);
        self.access.retain(|_, a| a.expires_at + grace > now);
        self.refresh
            .retain(|_, r| r.expires_at + grace > now && (r.active || r.expires_at > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Scope;

    fn tokens() -> Tokens {
        Tokens::new(Lifetimes {
            access: Duration::from_secs(60),
            refresh: Duration::from_secs(120),
            code: Duration::from_secs(60),
        })
    }

    const READ: ScopeSet = ScopeSet::of(&[Scope::BoardsRead, Scope::PinsRead]);

    #[test]
    fn a_code_works_once_and_its_reuse_revokes_the_tokens_it_produced() {
        let mut t = tokens();
        let code = t.issue_code(0, "1", "http://x/cb", READ);
        let issued = t.redeem_code(&code, "1", "http://x/cb").unwrap();
        assert!(issued.access_token.starts_with("pina_"));
        assert!(t.check_access(&issued.access_token).is_some());
        assert_eq!(
            t.redeem_code(&code, "1", "http://x/cb").unwrap_err(),
            GrantError::InvalidGrant
        );
        assert!(t.check_access(&issued.access_token).is_none());
        let refresh = issued.refresh_token.unwrap();
        assert_eq!(
            t.refresh(&refresh, "1", None).unwrap_err(),
            GrantError::InvalidGrant
        );
    }

    #[test]
    fn a_code_is_bound_to_its_client_and_redirect_uri() {
        let mut t = tokens();
        let code = t.issue_code(0, "1", "http://x/cb", READ);
        assert!(t.redeem_code(&code, "2", "http://x/cb").is_err());
        assert!(t.redeem_code(&code, "1", "http://x/cb/").is_err());
        assert!(t.redeem_code(&code, "1", "http://x/cb").is_ok());
    }

    #[test]
    fn refresh_rotates_and_the_old_token_stops_working() {
        let mut t = tokens();
        let code = t.issue_code(0, "1", "http://x/cb", READ);
        let first = t.redeem_code(&code, "1", "http://x/cb").unwrap();
        let old = first.refresh_token.unwrap();
        let second = t.refresh(&old, "1", None).unwrap();
        assert_ne!(second.refresh_token.as_deref(), Some(old.as_str()));
        assert_eq!(
            t.refresh(&old, "1", None).unwrap_err(),
            GrantError::InvalidGrant
        );
        assert!(t.refresh(&second.refresh_token.unwrap(), "1", None).is_ok());
    }

    #[test]
    fn narrowed_scopes_cannot_be_widened_again() {
        let mut t = tokens();
        let code = t.issue_code(0, "1", "http://x/cb", READ);
        let first = t.redeem_code(&code, "1", "http://x/cb").unwrap();
        let narrow = ScopeSet::of(&[Scope::BoardsRead]);
        let second = t
            .refresh(&first.refresh_token.unwrap(), "1", Some(narrow))
            .unwrap();
        assert_eq!(second.scopes, narrow);
        assert_eq!(
            t.refresh(&second.refresh_token.unwrap(), "1", Some(READ))
                .unwrap_err(),
            GrantError::ScopeWidened
        );
    }

    #[test]
    fn revoking_a_grant_kills_its_tokens() {
        let mut t = tokens();
        let code = t.issue_code(3, "1", "http://x/cb", READ);
        let issued = t.redeem_code(&code, "1", "http://x/cb").unwrap();
        assert_eq!(t.revoke_grant(3, "1"), 1);
        assert!(t.check_access(&issued.access_token).is_none());
    }
}
