//! Test databases for the store suite: `pinion_testkit::TestDb` (a fresh
//! SQLite file in a temporary directory, or a fresh, uniquely named
//! PostgreSQL database on the server named by `PINION_TEST_POSTGRES_URL`,
//! dropped again when the test ends), connected with a given keyring, plus
//! raw access to the stored bytes for the at-rest checks.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{
    ClientId, ClientSecret, CredentialName, Description, NewCredential, Role, ScopeSet, UserId,
    Username,
};
use pinion_store::{ConnectOptions, KeySource, Keyring, Store, StoreError, connect_with};
use sqlx::Connection;
use zeroize::Zeroizing;

/// A database for one test: `pinion_testkit`'s (a SQLite file in a
/// temporary directory or a fresh PostgreSQL database), plus what the store
/// suite does with it.
pub struct TestDb(pinion_testkit::TestDb);

impl std::ops::Deref for TestDb {
    type Target = pinion_testkit::TestDb;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestDb {
    /// A fresh SQLite database (not yet created on disk).
    pub fn sqlite() -> Self {
        Self(pinion_testkit::TestDb::sqlite())
    }

    /// A fresh PostgreSQL database, or `None` (after saying so) when
    /// `PINION_TEST_POSTGRES_URL` is not set.
    pub fn postgres(test: &str) -> Option<Self> {
        pinion_testkit::TestDb::postgres(test).map(Self)
    }

    /// Connects with `keyring` and short timeouts.
    pub async fn connect(&self, keyring: Keyring) -> Arc<dyn Store> {
        self.try_connect(KeySource::Given(Arc::new(keyring)))
            .await
            .expect("connect to the test database")
    }

    /// Connects with keys from `source`.
    pub async fn try_connect(&self, source: KeySource) -> Result<Arc<dyn Store>, StoreError> {
        Ok(connect_with(&self.location, source, options()).await?.store)
    }

    /// Every byte the database holds: the SQLite file and its WAL, or a
    /// `pg_dump` of the PostgreSQL database.
    pub fn raw_bytes(&self) -> Vec<u8> {
        match self.is_postgres() {
            false => {
                let mut bytes = std::fs::read(self.sqlite_path()).unwrap_or_default();
                let wal = format!("{}-wal", self.location);
                bytes.extend(std::fs::read(wal).unwrap_or_default());
                bytes
            }
            true => {
                let output = Command::new("pg_dump")
                    .arg("--no-owner")
                    .arg(&self.location)
                    .output()
                    .expect("pg_dump must be installed for the PostgreSQL at-rest test");
                assert!(
                    output.status.success(),
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                // pg_dump brackets its output with `\restrict KEY` lines whose
                // key is random per run; they are not data.
                let text = String::from_utf8(output.stdout).expect("pg_dump writes UTF-8");
                text.lines()
                    .filter(|line| {
                        !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict")
                    })
                    .flat_map(|line| [line.as_bytes(), b"\n"])
                    .flatten()
                    .copied()
                    .collect()
            }
        }
    }

    /// A raw connection for tampering with stored values.
    pub async fn raw(&self) -> Raw {
        match self.is_postgres() {
            false => Raw::Sqlite(
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", self.location))
                    .await
                    .unwrap(),
            ),
            true => Raw::Postgres(sqlx::PgConnection::connect(&self.location).await.unwrap()),
        }
    }
}

/// A direct connection to the test database, bypassing the store.
pub enum Raw {
    /// SQLite.
    Sqlite(sqlx::SqliteConnection),
    /// PostgreSQL.
    Postgres(sqlx::PgConnection),
}

impl Raw {
    /// Reads one sealed column of one credential.
    pub async fn sealed(&mut self, id: &str, column: &str) -> Vec<u8> {
        let sql = format!("SELECT {column} FROM credentials WHERE id = $1");
        match self {
            Raw::Sqlite(conn) => sqlx::query_scalar(&sql).bind(id).fetch_one(conn).await,
            Raw::Postgres(conn) => sqlx::query_scalar(&sql).bind(id).fetch_one(conn).await,
        }
        .unwrap()
    }

    /// Overwrites one sealed column of one credential.
    pub async fn set_sealed(&mut self, id: &str, column: &str, value: Vec<u8>) {
        let sql = format!("UPDATE credentials SET {column} = $2 WHERE id = $1");
        match self {
            Raw::Sqlite(conn) => sqlx::query(&sql)
                .bind(id)
                .bind(value)
                .execute(conn)
                .await
                .map(|_| ()),
            Raw::Postgres(conn) => sqlx::query(&sql)
                .bind(id)
                .bind(value)
                .execute(conn)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Raw::Sqlite(conn) => conn.close().await.ok(),
            Raw::Postgres(conn) => conn.close().await.ok(),
        };
    }
}

/// Short timeouts, so a locked database fails fast in tests.
pub fn options() -> ConnectOptions {
    ConnectOptions {
        busy_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(5),
        max_connections: 4,
        ..ConnectOptions::default()
    }
}

/// A keyring with fixed key bytes per version, so two connections agree.
pub fn keyring(versions: &[(u32, u8)]) -> Keyring {
    Keyring::from_keys(
        versions
            .iter()
            .map(|(v, fill)| (*v, Zeroizing::new([*fill; 32]))),
    )
    .unwrap()
}

/// Creates a user.
pub async fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(&Username::parse(name).unwrap(), Role::User)
        .await
        .unwrap()
        .id
}

/// A valid new credential named `name` with client secret `secret`.
pub fn new_credential(name: &str, secret: &str) -> NewCredential {
    NewCredential {
        name: CredentialName::parse(name).unwrap(),
        description: Description::parse("made by a test").unwrap(),
        client_id: ClientId::parse("1484362").unwrap(),
        client_secret: ClientSecret::new(secret),
        scopes: ScopeSet::default_requested(),
    }
}

/// A run id from a test's literal: the store keeps whatever id it is given.
pub fn run_id(text: &str) -> pinion_domain::RunId {
    pinion_domain::RunId::from_trusted(text.to_owned())
}

/// A source id from a test's literal.
pub fn source_id(text: &str) -> pinion_domain::SourceId {
    pinion_domain::SourceId::from_trusted(text.to_owned())
}

/// A credential id from a test's literal.
pub fn credential_id(text: &str) -> pinion_domain::CredentialId {
    pinion_domain::CredentialId::from_trusted(text.to_owned())
}

/// An API token id from a test's literal.
pub fn token_id(text: &str) -> pinion_domain::ApiTokenId {
    pinion_domain::ApiTokenId::from_trusted(text.to_owned())
}

/// A destination id from a test's literal.
pub fn destination_id(text: &str) -> pinion_domain::DestinationId {
    pinion_domain::DestinationId::from_trusted(text.to_owned())
}
