//! The token journal: tokens Pinterest has handed over, kept on local disk
//! until the database has taken them.
//!
//! A refresh spends the refresh token it sends: once Pinterest answers with
//! new tokens, the old ones may never work again. If the database cannot take
//! the answer (it restarts, the network to it is cut) and the process then
//! gives up or dies, the user's authorization would be lost. So the answer is
//! written here first, before anything else can fail:
//!
//! - One file per answer, `<data dir>/journal/<credential id>.<random>.tokens`,
//!   created with mode 0600, written, fsynced, renamed into place and its
//!   folder fsynced. The content is sealed like every secret at rest (the
//!   store's active key, associated data binding it to its file name), so the
//!   journal holds no plaintext token.
//! - The writer holds an exclusive OS lock on the file while it keeps trying
//!   the database; the kernel releases it however the process ends. A file
//!   that can be locked belongs to nobody: any Pinion process on the same data
//!   directory may replay it ([`TokenJournal::take_unowned`]); `pinion serve`
//!   does so at start, before it resolves interrupted refreshes, and then on
//!   every refresher step.
//! - Replay writes the tokens only if the stored refresh token is still the
//!   one that was sent (nobody stored newer tokens since); it then clears any
//!   lease and sets the credential active again, even if another process had
//!   meanwhile given up on the "outcome unknown" refresh. If another refresh
//!   token is stored, the newer tokens win and the entry is dropped.
//!
//! With several replicas on one PostgreSQL, each replays the journal of its
//! own data directory (and of any other process sharing that directory). A
//! replica that dies holding an entry and stays down longer than the refresh
//! lease lets another replica resolve the credential as "outcome unknown",
//! which marks it for re-authorization; when the dead replica comes back, its
//! replay restores the tokens and the credential is active again.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pinion_domain::{AccessToken, CredentialId, RefreshToken, ScopeSet};
use pinion_store::crypto::Location;
use pinion_store::{KeyStore, TokenSet};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The journal's folder inside a data directory.
pub const JOURNAL_DIR: &str = "journal";

const SUFFIX: &str = ".tokens";
const TABLE: &str = "token_journal";
const COLUMN: &str = "tokens";

/// The token journal of one data directory.
#[derive(Debug, Clone)]
pub struct TokenJournal {
    dir: PathBuf,
    store: Arc<dyn KeyStore>,
}

/// One journaled answer, locked by this process until it is removed or
/// dropped (dropping leaves the file for a later replay).
#[derive(Debug)]
pub struct JournalEntry {
    /// The file, and this process's lock on it; none for an entry kept in
    /// memory only (a process without a journal).
    file: Option<(PathBuf, File)>,
    /// The credential the tokens belong to.
    pub credential_id: CredentialId,
    /// SHA-256 of the refresh token that was sent for them.
    pub sent_refresh_sha256: [u8; 32],
    /// The tokens Pinterest answered with.
    pub tokens: TokenSet,
}

/// The SHA-256 of a refresh token, as journal entries name the one they spent.
pub fn refresh_token_sha256(token: &RefreshToken) -> [u8; 32] {
    Sha256::digest(token.expose_secret().as_bytes()).into()
}

impl TokenJournal {
    /// The journal under `data_dir`, sealing with `store`'s keys.
    pub fn in_data_dir(data_dir: &Path, store: Arc<dyn KeyStore>) -> Self {
        Self {
            dir: data_dir.join(JOURNAL_DIR),
            store,
        }
    }

    /// The journal's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`TokenJournal::write`] on tokio's blocking pool, so its fsyncs hold
    /// up no other task.
    pub async fn write_async(
        &self,
        credential_id: &CredentialId,
        sent: &RefreshToken,
        tokens: &TokenSet,
    ) -> std::io::Result<JournalEntry> {
        let journal = self.clone();
        let id = credential_id.clone();
        let sent = RefreshToken::new(sent.expose_secret().to_owned());
        let tokens = clone_tokens(tokens);
        tokio::task::spawn_blocking(move || journal.write(&id, &sent, &tokens))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Writes the tokens answered for `credential_id` (after sending `sent`)
    /// durably and returns the entry, locked by this process.
    pub fn write(
        &self,
        credential_id: &CredentialId,
        sent: &RefreshToken,
        tokens: &TokenSet,
    ) -> std::io::Result<JournalEntry> {
        pinion_store::private_fs::create_dir_all(&self.dir)?;
        let stem = format!(
            "{}.{}",
            credential_id.as_str(),
            hex::encode(rand::random::<[u8; 16]>())
        );
        let sent_refresh_sha256 = refresh_token_sha256(sent);
        let plaintext = encode(credential_id, &sent_refresh_sha256, tokens);
        let sealed = self.store.seal_file(location(&stem), plaintext.as_bytes());
        let path = self.dir.join(format!("{stem}{SUFFIX}"));
        let partial = self.dir.join(format!("{stem}.partial"));
        let mut file = private_file(&partial)?;
        file.write_all(&sealed)?;
        file.sync_all()?;
        // Locked before it is visible under its final name, so no replay
        // takes an entry whose writer is still trying the database.
        file.try_lock().map_err(|err| match err {
            TryLockError::Error(err) => err,
            TryLockError::WouldBlock => std::io::Error::other("a new journal file is locked"),
        })?;
        std::fs::rename(&partial, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(JournalEntry {
            file: Some((path, file)),
            credential_id: credential_id.clone(),
            sent_refresh_sha256,
            tokens: clone_tokens(tokens),
        })
    }

    /// Every entry no live process holds, locked for this process (for
    /// `only`'s entries alone when given). Entries that cannot be read (a key
    /// that is not loaded, a damaged file) are left in place and logged.
    pub fn take_unowned(&self, only: Option<&CredentialId>) -> Vec<JournalEntry> {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries = Vec::new();
        for dirent in listing.flatten() {
            let name = dirent.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            let Some((credential, _)) = stem.split_once('.') else {
                continue;
            };
            if only.is_some_and(|id| id.as_str() != credential) {
                continue;
            }
            match self.take(&dirent.path(), stem) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(file = %dirent.path().display(), error = %err, "Could not read a token journal entry; it is kept.");
                }
            }
        }
        entries
    }

    fn take(&self, path: &Path, stem: &str) -> Result<Option<JournalEntry>, String> {
        let mut file = match OpenOptions::new().read(true).open(path) {
            Ok(file) => file,
            // Removed by its writer after we listed it.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.to_string()),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(err)) => return Err(err.to_string()),
        }
        // Its writer may have removed it between our open and our lock.
        if !path.exists() {
            return Ok(None);
        }
        let mut sealed = Vec::new();
        file.read_to_end(&mut sealed).map_err(|e| e.to_string())?;
        let opened = self
            .store
            .open_file(location(stem), &sealed)
            .map_err(|e| e.to_string())?;
        let (credential_id, sent_refresh_sha256, tokens) = decode(&opened)?;
        Ok(Some(JournalEntry {
            file: Some((path.to_owned(), file)),
            credential_id,
            sent_refresh_sha256,
            tokens,
        }))
    }
}

impl JournalEntry {
    /// An entry kept in memory only, for a process without a journal.
    pub fn in_memory(credential_id: &CredentialId, sent: &RefreshToken, tokens: &TokenSet) -> Self {
        Self {
            file: None,
            credential_id: credential_id.clone(),
            sent_refresh_sha256: refresh_token_sha256(sent),
            tokens: clone_tokens(tokens),
        }
    }

    /// Deletes the entry: the database holds these tokens, or newer ones.
    /// The file goes before its lock, so no other process can take it. The
    /// deletion is not fsynced: an entry that comes back after a crash is
    /// replayed, finds its tokens (or newer ones) stored, and is dropped.
    pub fn remove(self) {
        let Some((path, lock)) = self.file else {
            return;
        };
        if let Err(err) = std::fs::remove_file(&path) {
            tracing::warn!(file = %path.display(), error = %err, "Could not delete a token journal entry.");
        }
        drop(lock);
    }

    /// The entry's file, if it has one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }
}

fn location(stem: &str) -> Location<'_> {
    Location {
        table: TABLE,
        column: COLUMN,
        row_id: stem,
    }
}

/// Creates `path` new, 0600 whatever the umask.
fn private_file(path: &Path) -> std::io::Result<File> {
    pinion_store::private_fs::open_options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

fn clone_tokens(tokens: &TokenSet) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(tokens.access_token.expose_secret().to_owned()),
        access_token_expires_at: tokens.access_token_expires_at,
        refresh_token: tokens
            .refresh_token
            .as_ref()
            .map(|t| RefreshToken::new(t.expose_secret().to_owned())),
        refresh_token_expires_at: tokens.refresh_token_expires_at,
        granted_scopes: tokens.granted_scopes.clone(),
    }
}

fn encode(id: &CredentialId, sent: &[u8; 32], tokens: &TokenSet) -> Zeroizing<String> {
    let value = serde_json::json!({
        "credential_id": id.as_str(),
        "sent_refresh_sha256": hex::encode(sent),
        "access_token": tokens.access_token.expose_secret(),
        "access_token_expires_at": tokens.access_token_expires_at,
        "refresh_token": tokens.refresh_token.as_ref().map(|t| t.expose_secret()),
        "refresh_token_expires_at": tokens.refresh_token_expires_at,
        "granted_scopes": tokens.granted_scopes.as_ref().map(ScopeSet::to_space_separated),
    });
    let text = Zeroizing::new(value.to_string());
    // The Value's own copies of the tokens are dropped here; serde_json does
    // not zeroize them, which is why the journal keeps them for as short a
    // time as the database write they wait for.
    drop(value);
    text
}

type Decoded = (CredentialId, [u8; 32], TokenSet);

fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        credential_id: String,
        sent_refresh_sha256: String,
        access_token: String,
        access_token_expires_at: Option<DateTime<Utc>>,
        refresh_token: Option<String>,
        refresh_token_expires_at: Option<DateTime<Utc>>,
        granted_scopes: Option<String>,
    }
    let raw: Raw = serde_json::from_slice(bytes).map_err(|_| "malformed entry".to_owned())?;
    let credential_id: CredentialId = raw
        .credential_id
        .parse()
        .map_err(|_| "malformed credential id")?;
    let sent: [u8; 32] = hex::decode(&raw.sent_refresh_sha256)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("malformed refresh token hash")?;
    let granted_scopes = match raw.granted_scopes {
        Some(text) => Some(ScopeSet::parse(&text).map_err(|_| "malformed scopes")?),
        None => None,
    };
    Ok((
        credential_id,
        sent,
        TokenSet {
            access_token: AccessToken::new(raw.access_token),
            access_token_expires_at: raw.access_token_expires_at,
            refresh_token: raw.refresh_token.map(RefreshToken::new),
            refresh_token_expires_at: raw.refresh_token_expires_at,
            granted_scopes,
        },
    ))
}
