//! Fresh databases for one test: [`TestDatabase`], a uniquely named
//! PostgreSQL database on the server named by `PINION_TEST_POSTGRES_URL`,
//! dropped (with its connections) at the end; and [`TestDb`], a store
//! location that is that or a SQLite file in a temporary directory.
//!
//! [`open_data_dir`] opens the embedded store of a data directory as the
//! `pinion` binary does.
//!
//! Databases are created and dropped with `psql`, so this needs no driver
//! and works in any runtime (or none).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pinion_store::{ConnectOptions, KeySource, Keyring, Store};

/// The environment variable naming a PostgreSQL server for the tests; the
/// PostgreSQL runs are skipped (saying so) without it.
pub const POSTGRES_ENV: &str = "PINION_TEST_POSTGRES_URL";

/// A fresh PostgreSQL database, dropped (with its connections) when this is
/// dropped.
pub struct TestDatabase {
    admin_url: String,
    /// The database's name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDatabase {
    /// A new database on `PINION_TEST_POSTGRES_URL`'s server, or `None`
    /// (said on stderr, past the test harness's capture) when it is not set.
    pub fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped the PostgreSQL run of `{test}`: {POSTGRES_ENV} is not set"
            );
            return None;
        };
        let name = unique_name();
        psql(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        let mut url = url::Url::parse(&admin_url).expect("PINION_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// This database's URL with its host and port replaced by
    /// `127.0.0.1:port` (to go through a relay).
    pub fn url_via(&self, port: u16) -> String {
        let mut url = url::Url::parse(&self.url).expect("the database URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(port)).expect("a port");
        url.to_string()
    }

    /// The server's address, for a relay in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let url = url::Url::parse(&self.url).expect("the database URL");
        let host = match url.host_str() {
            Some("localhost") | None => "127.0.0.1",
            Some(host) => host,
        };
        format!("{host}:{}", url.port().unwrap_or(5432))
            .parse()
            .expect("the test database is reached by IP address or localhost")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE ends connections a failed test left open.
        let _ = std::process::Command::new("psql")
            .args([&self.admin_url, "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// `pinion_test_` plus the process id, the time and a counter: unique on a
/// server shared by concurrent test processes.
fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "pinion_test_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn psql(url: &str, sql: &str) {
    let output = std::process::Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql must be installed for the PostgreSQL tests");
    assert!(
        output.status.success(),
        "psql failed: {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A store location for one test: a SQLite file in a temporary directory,
/// or a fresh PostgreSQL database dropped when this is dropped.
pub struct TestDb {
    /// What `pinion_store::connect` takes.
    pub location: String,
    /// A temporary directory: the SQLite file lives here, and it is a place
    /// for key files and outputs on either backend.
    pub dir: tempfile::TempDir,
    /// The keyring [`TestDb::store`] connects with, shared by every
    /// connection.
    pub keyring: Arc<Keyring>,
    postgres: Option<TestDatabase>,
}

impl TestDb {
    /// A fresh SQLite database (created on disk by the first connection).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self {
            location: dir.path().join("pinion.db").display().to_string(),
            dir,
            keyring: Arc::new(Keyring::generate()),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (said on stderr) without
    /// `PINION_TEST_POSTGRES_URL`.
    pub fn postgres(test: &str) -> Option<Self> {
        let database = TestDatabase::create(test)?;
        Some(Self {
            location: database.url.clone(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            keyring: Arc::new(Keyring::generate()),
            postgres: Some(database),
        })
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The SQLite file (meaningless for PostgreSQL).
    pub fn sqlite_path(&self) -> PathBuf {
        PathBuf::from(&self.location)
    }

    /// A new connection pool on this database with [`TestDb::keyring`]
    /// (one per "replica"), waiting up to 30 s for a locked SQLite file.
    pub async fn store(&self, max_connections: u32) -> Arc<dyn Store> {
        pinion_store::connect_with(
            &self.location,
            KeySource::Given(self.keyring.clone()),
            ConnectOptions {
                max_connections,
                busy_timeout: Duration::from_secs(30),
                ..ConnectOptions::default()
            },
        )
        .await
        .expect("the test database connects")
        .store
    }
}

/// The embedded store of `data_dir` (`pinion.db`, sealed with the key in
/// `master.key`, made on first use), as the `pinion` binary opens it.
pub async fn open_data_dir(data_dir: &std::path::Path) -> Arc<dyn Store> {
    let db = data_dir.join(pinion_store::DEFAULT_DATABASE_FILE);
    pinion_store::connect(
        db.to_str().expect("a UTF-8 data directory"),
        KeySource::DataDirFile(data_dir.join(pinion_store::keys::DEFAULT_KEY_FILE)),
    )
    .await
    .expect("the data directory's store opens")
    .store
}
