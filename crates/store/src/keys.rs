//! Where master keys come from: parsing, reading, generating and extending
//! key files.
//!
//! Three sources, in this order of precedence:
//!
//! 1. `PINION_MASTER_KEY`: the base64 of 32 bytes (that is key version 1), or a
//!    list of `VERSION:BASE64` entries separated by commas (`2:…,1:…`).
//! 2. `PINION_MASTER_KEY_FILE`: a file with one `VERSION:BASE64` per line; blank
//!    lines and lines starting with `#` are ignored.
//! 3. On the embedded default, `<data dir>/master.key`, in the same format,
//!    generated with mode 0600 when the database is new.
//!
//! Nothing here ever prints a key; errors name the source and the version.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::crypto::{KEY_LEN, KeyVersion, Keyring, random_key};

/// The environment variable holding keys inline.
pub const MASTER_KEY_ENV: &str = "PINION_MASTER_KEY";
/// The environment variable naming a key file.
pub const MASTER_KEY_FILE_ENV: &str = "PINION_MASTER_KEY_FILE";
/// The key file's name inside the data directory.
pub const DEFAULT_KEY_FILE: &str = "master.key";

/// A key configuration problem. Messages name the source and the version, never
/// any key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key text is malformed.
    #[error("invalid master key in {source_description}: {message}")]
    Parse {
        /// Where the text came from.
        source_description: String,
        /// What is wrong.
        message: String,
    },
    /// The keyring's contents are invalid (duplicate or zero versions, no key).
    #[error("invalid keyring: {0}")]
    Invalid(String),
    /// No key is configured and none may be generated.
    #[error("no encryption key is configured: {0}")]
    NotConfigured(String),
    /// Reading or writing a key file failed.
    #[error("cannot {action} key file {path}")]
    Io {
        /// `read`, `create`, `update`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Where the keyring is loaded from.
#[derive(Clone)]
pub enum KeySource {
    /// The text of `PINION_MASTER_KEY`.
    Inline(SecretString),
    /// The file named by `PINION_MASTER_KEY_FILE`; must exist.
    File(PathBuf),
    /// The data directory's key file; generated with mode 0600 when missing and
    /// the (embedded) database is new.
    DataDirFile(PathBuf),
    /// A keyring built in code (tests, benchmarks, tools). It cannot be
    /// reloaded, so a rotation by another process needs a restart.
    Given(std::sync::Arc<Keyring>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl KeySource {
    /// Picks the source from the two environment variables' values and the data
    /// directory. Setting both variables is refused as ambiguous.
    pub fn from_settings(
        master_key: Option<SecretString>,
        master_key_file: Option<PathBuf>,
        data_dir: Option<&Path>,
    ) -> Result<Self, KeyError> {
        let master_key = master_key.filter(|k| !k.expose_secret().trim().is_empty());
        let master_key_file = master_key_file.filter(|p| !p.as_os_str().is_empty());
        match (master_key, master_key_file, data_dir) {
            (Some(_), Some(_), _) => Err(KeyError::NotConfigured(format!(
                "both {MASTER_KEY_ENV} and {MASTER_KEY_FILE_ENV} are set; set only one"
            ))),
            (Some(key), None, _) => Ok(KeySource::Inline(key)),
            (None, Some(path), _) => Ok(KeySource::File(path)),
            (None, None, Some(dir)) => Ok(KeySource::DataDirFile(dir.join(DEFAULT_KEY_FILE))),
            (None, None, None) => Err(KeyError::NotConfigured(format!(
                "set {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV}"
            ))),
        }
    }

    /// Reads `PINION_MASTER_KEY` and `PINION_MASTER_KEY_FILE` from the process
    /// environment; see [`KeySource::from_settings`].
    pub fn from_env(data_dir: Option<&Path>) -> Result<Self, KeyError> {
        let master_key = std::env::var(MASTER_KEY_ENV).ok().map(SecretString::from);
        let master_key_file = std::env::var_os(MASTER_KEY_FILE_ENV).map(PathBuf::from);
        Self::from_settings(master_key, master_key_file, data_dir)
    }

    /// Where keys come from, for messages: `PINION_MASTER_KEY` or `key file …`.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Inline(_) => MASTER_KEY_ENV.to_owned(),
            KeySource::File(path) | KeySource::DataDirFile(path) => {
                format!("key file {}", path.display())
            }
            KeySource::Given(_) => "a keyring given by the caller".to_owned(),
        }
    }

    /// The key file, for file sources.
    pub fn file(&self) -> Option<&Path> {
        match self {
            KeySource::File(path) | KeySource::DataDirFile(path) => Some(path),
            _ => None,
        }
    }

    /// Loads the keyring. Never generates; a missing file is an error.
    pub fn load(&self) -> Result<Keyring, KeyError> {
        match self {
            KeySource::Inline(text) => parse_keyring(text.expose_secret(), MASTER_KEY_ENV),
            KeySource::File(path) | KeySource::DataDirFile(path) => read_key_file(path),
            KeySource::Given(ring) => Ok(clone_keyring(ring)),
        }
    }
}

/// Keyrings are deliberately not `Clone`; a given one is shared by reference
/// counting instead, and this copies its entries.
fn clone_keyring(ring: &Keyring) -> Keyring {
    ring.duplicate()
}

/// Parses key text: one bare base64 key (version 1), or `VERSION:BASE64`
/// entries separated by commas or line breaks. `#` starts a comment line.
pub fn parse_keyring(text: &str, source_description: &str) -> Result<Keyring, KeyError> {
    let parse_error = |message: String| KeyError::Parse {
        source_description: source_description.to_owned(),
        message,
    };
    let entries: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(parse_error("it holds no key".into()));
    }
    let mut keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let (version, encoded) = match entry.split_once(':') {
            Some((version, encoded)) => {
                let version: KeyVersion = version.trim().parse().map_err(|_| {
                    parse_error(format!(
                        "entry {} has a version that is not a positive integer",
                        index + 1
                    ))
                })?;
                (version, encoded.trim())
            }
            None if entries.len() == 1 => (1, *entry),
            None => {
                return Err(parse_error(format!(
                    "entry {} lacks a `VERSION:` prefix (needed when several keys are listed)",
                    index + 1
                )));
            }
        };
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| parse_error(format!("key version {version} is not valid base64")))?,
        );
        if decoded.len() != KEY_LEN {
            return Err(parse_error(format!(
                "key version {version} decodes to {} bytes; a key must be exactly {KEY_LEN} \
                 bytes (for example `openssl rand -base64 32`)",
                decoded.len()
            )));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&decoded);
        keys.push((version, key));
    }
    Keyring::from_keys(keys).map_err(|err| match err {
        KeyError::Invalid(message) => parse_error(message),
        other => other,
    })
}

/// Reads and parses a key file.
pub fn read_key_file(path: &Path) -> Result<Keyring, KeyError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?);
    parse_keyring(&text, &format!("key file {}", path.display()))
}

/// One key-file line, `VERSION:BASE64`, for `key`.
fn key_line(version: KeyVersion, key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    Zeroizing::new(format!("{version}:{}\n", STANDARD.encode(key)))
}

/// A fresh key entry `VERSION:BASE64` for operators who keep keys in
/// `PINION_MASTER_KEY`: prepend it to the variable's list and restart.
pub fn new_key_entry(version: KeyVersion) -> SecretString {
    let key = random_key();
    let line = key_line(version, &key);
    SecretString::from(line.trim_end().to_owned())
}

/// Creates a new key file holding one random key as version 1, with mode 0600.
/// Refuses to overwrite an existing file.
pub fn generate_key_file(path: &Path) -> Result<Keyring, KeyError> {
    let key = random_key();
    let contents = Zeroizing::new(format!(
        "# Pinion master keys, one VERSION:BASE64 per line. Keep this file secret and backed up:\n\
         # without it the credentials in the database cannot be decrypted.\n{}",
        key_line(1, &key).as_str()
    ));
    let io_error = |source| KeyError::Io {
        action: "create",
        path: path.to_owned(),
        source,
    };
    let mut file = create_private(path, true).map_err(io_error)?;
    file.write_all(contents.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    sync_parent(path).map_err(io_error)?;
    Keyring::from_keys([(1, key)])
}

/// Adds a new random key to a key file, one version above the highest, and
/// returns that version. The file is replaced atomically: the new contents go to
/// a temporary file (mode 0600) that is flushed to disk and then renamed over
/// the old one, so a crash leaves either the old or the new file.
pub fn add_key_version(path: &Path) -> Result<KeyVersion, KeyError> {
    let current = read_key_file(path)?;
    let old_text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?);
    let version = current.active_version() + 1;
    let key = random_key();
    let mut contents = Zeroizing::new(String::with_capacity(old_text.len() + 64));
    contents.push_str(&old_text);
    if !contents.is_empty() && !contents.ends_with('\n') {
        contents.push('\n');
    }
    contents.push_str(&key_line(version, &key));

    replace_file(path, &contents)?;
    Ok(version)
}

/// Removes a retired key version from a key file, atomically as in
/// [`add_key_version`]. Comments and the other entries are kept. Refuses to
/// remove the newest (active) version or a version the file does not hold.
/// Call it only after [`crate::Store::retire_key`] succeeded.
pub fn remove_key_version(path: &Path, version: KeyVersion) -> Result<(), KeyError> {
    let current = read_key_file(path)?;
    let invalid = |message: String| KeyError::Parse {
        source_description: format!("key file {}", path.display()),
        message,
    };
    if !current.contains(version) {
        return Err(invalid(format!("it holds no key version {version}")));
    }
    if current.active_version() == version {
        return Err(invalid(format!(
            "key version {version} is the active (newest) key and cannot be removed"
        )));
    }
    let old_text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?);
    let prefix = format!("{version}:");
    let mut contents = Zeroizing::new(String::with_capacity(old_text.len()));
    for line in old_text.lines() {
        if line.trim_start().starts_with(&prefix) {
            continue;
        }
        contents.push_str(line);
        contents.push('\n');
    }
    replace_file(path, &contents)
}

/// Replaces `path` with `contents`: a temporary file (mode 0600) is written,
/// flushed to disk and renamed over it, so a crash leaves the old or the new file.
fn replace_file(path: &Path, contents: &str) -> Result<(), KeyError> {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = create_private(&temporary, true)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_parent(path)
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&temporary);
        KeyError::Io {
            action: "update",
            path: path.to_owned(),
            source,
        }
    })
}

/// Opens a new file readable and writable by its owner only.
fn create_private(path: &Path, create_new: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(create_new);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Flushes the directory entry of `path`, so a created or renamed file survives
/// a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(fill: u8, len: usize) -> String {
        STANDARD.encode(vec![fill; len])
    }

    #[test]
    fn a_bare_key_is_version_one() {
        let ring = parse_keyring(&b64(1, 32), "test").unwrap();
        assert_eq!(ring.versions(), vec![1]);
    }

    #[test]
    fn a_versioned_list_in_any_order_activates_the_highest() {
        let text = format!("2:{}, 1:{}", b64(2, 32), b64(1, 32));
        let ring = parse_keyring(&text, "test").unwrap();
        assert_eq!(ring.versions(), vec![1, 2]);
        assert_eq!(ring.active_version(), 2);
    }

    #[test]
    fn key_file_format_allows_comments_and_blank_lines() {
        let text = format!("# keys\n\n1:{}\n3:{}\n", b64(1, 32), b64(3, 32));
        assert_eq!(parse_keyring(&text, "f").unwrap().versions(), vec![1, 3]);
    }

    #[test]
    fn wrong_length_keys_are_refused_with_a_clear_message_and_no_key_material() {
        for len in [0, 16, 31, 33, 64] {
            let encoded = b64(0x5A, len);
            let err = parse_keyring(&format!("1:{encoded}"), MASTER_KEY_ENV).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("exactly 32 bytes"), "{message}");
            assert!(message.contains(MASTER_KEY_ENV), "{message}");
            if !encoded.is_empty() {
                assert!(!message.contains(&encoded), "{message}");
            }
        }
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in [
            "",
            "# only a comment",
            "not base64!!",
            "x:AAAA",
            &format!("{},{}", b64(1, 32), b64(2, 32)),
            &format!("1:{},1:{}", b64(1, 32), b64(2, 32)),
            &format!("0:{}", b64(1, 32)),
        ] {
            assert!(parse_keyring(bad, "test").is_err(), "{bad}");
        }
    }

    #[test]
    fn source_selection_refuses_two_sources_and_falls_back_to_the_data_dir() {
        let dir = Path::new("/data");
        let both = KeySource::from_settings(
            Some(SecretString::from("k")),
            Some(PathBuf::from("/k")),
            Some(dir),
        );
        assert!(both.is_err());
        let fallback = KeySource::from_settings(None, None, Some(dir)).unwrap();
        assert_eq!(fallback.describe(), "key file /data/master.key");
        assert!(KeySource::from_settings(None, None, None).is_err());
        let inline = KeySource::from_settings(Some(SecretString::from("abc")), None, None).unwrap();
        assert_eq!(format!("{inline:?}"), MASTER_KEY_ENV);
    }

    #[cfg(unix)]
    #[test]
    fn generated_key_file_is_private_and_extending_it_keeps_old_keys_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_KEY_FILE);
        let first = generate_key_file(&path).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert!(generate_key_file(&path).is_err(), "must not overwrite");

        assert_eq!(add_key_version(&path).unwrap(), 2);
        assert_eq!(mode(&path), 0o600);
        let ring = read_key_file(&path).unwrap();
        assert_eq!(ring.versions(), vec![1, 2]);
        assert_eq!(ring.check_value(1), first.check_value(1));
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // The active version cannot be removed; an older one can.
        assert!(remove_key_version(&path, 2).is_err());
        assert!(remove_key_version(&path, 5).is_err());
        remove_key_version(&path, 1).unwrap();
        assert_eq!(read_key_file(&path).unwrap().versions(), vec![2]);
        assert_eq!(mode(&path), 0o600);
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("# Pinion master keys")
        );
    }

    #[test]
    fn new_key_entries_parse_back() {
        let entry = new_key_entry(4);
        let ring = parse_keyring(entry.expose_secret(), "test").unwrap();
        assert_eq!(ring.versions(), vec![4]);
    }
}
