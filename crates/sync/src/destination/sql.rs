//! SQLite and PostgreSQL destinations: one table per stream, keyed by
//! Pinterest's id, upserted, holding the raw record as JSON next to typed
//! columns for the common fields (`name`, `created_at`, `board_id`,
//! `board_section_id`, `ad_account_id`, `date`).
//!
//! Every page is upserted inside a transaction that [`StreamSink::commit`]
//! commits; SQLite runs in WAL mode with `synchronous=FULL`, so a commit is
//! durable before the checkpoint is saved. Because rows are upserts, reading
//! a page again after a crash leaves one row per record.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pinion_domain::{Clock, SystemClock};
use pinion_pinterest::Scalar;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};

use super::{Destination, StreamSink, redact_url};
use crate::error::DestinationError;
use crate::stream::{StreamName, SyncRecord};

/// Rows per SQLite statement (9 parameters each, under SQLite's limit).
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// A SQLite file or a PostgreSQL database.
#[derive(Debug, Clone)]
pub enum SqlDestination {
    /// A SQLite file.
    Sqlite {
        /// The pool (one connection: SQLite has one writer).
        pool: SqlitePool,
        /// The file's canonical path (its folder resolved), for messages
        /// and as its identity.
        path: String,
        /// What `synced_at` is stamped with.
        clock: Arc<dyn Clock>,
    },
    /// A PostgreSQL database.
    Postgres {
        /// The pool.
        pool: PgPool,
        /// The normalised URL without credentials, for messages and as its
        /// identity.
        shown: String,
        /// What `synced_at` is stamped with.
        clock: Arc<dyn Clock>,
    },
}

/// The typed columns of a record.
struct Columns<'a> {
    id: &'a str,
    name: Option<Cow<'a, str>>,
    created_at: Option<Cow<'a, str>>,
    board_id: Option<Cow<'a, str>>,
    board_section_id: Option<Cow<'a, str>>,
    ad_account_id: Option<Cow<'a, str>>,
    date: Option<Cow<'a, str>>,
}

/// The members the typed columns come from.
const COLUMN_SOURCES: [&str; 10] = [
    "name",
    "title",
    "username",
    "created_at",
    "created_time",
    "board_id",
    "board_section_id",
    "AD_ACCOUNT_ID",
    "ad_account_id",
    "DATE",
];

/// Reads the typed columns from the record's text without parsing the rest
/// of it; members of an unexpected type leave their column empty.
fn columns(record: &SyncRecord) -> Columns<'_> {
    let scalars = record.raw.scalars(COLUMN_SOURCES).ok();
    let [
        name,
        title,
        username,
        created_at,
        created_time,
        board_id,
        board_section_id,
        ad_account_upper,
        ad_account_id,
        date,
    ] = scalars.unwrap_or_else(|| std::array::from_fn(|_| Scalar::Absent));
    fn text(scalar: Scalar<'_>) -> Option<Cow<'_, str>> {
        match scalar {
            Scalar::Str(text) => Some(text),
            _ => None,
        }
    }
    Columns {
        id: &record.key,
        name: text(name)
            .or_else(|| text(title))
            .or_else(|| text(username)),
        created_at: text(created_at).or_else(|| {
            created_time
                .as_i64()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|d| Cow::Owned(d.format("%Y-%m-%dT%H:%M:%S").to_string()))
        }),
        board_id: text(board_id),
        board_section_id: text(board_section_id),
        ad_account_id: text(ad_account_upper).or_else(|| text(ad_account_id)),
        date: text(date),
    }
}

/// `path` with its folder resolved to an absolute path without symlinks
/// (the file itself may not exist yet); as given if the folder cannot be
/// resolved.
pub(crate) fn canonical_file(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(parent), Some(name)) => parent.join(name),
        _ => path.to_path_buf(),
    }
}

/// A PostgreSQL URL as an identity: `postgres://host:port/database`, the
/// host in lower case, the port explicit, no user, password or options;
/// the redacted URL if it cannot be parsed.
pub(crate) fn postgres_identity(text: &str) -> String {
    let Ok(url) = url::Url::parse(text) else {
        return redact_url(text);
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.into_owned())
    };
    let host = url
        .host_str()
        .map(str::to_owned)
        .or_else(|| param("host"))
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase();
    let port = url
        .port()
        .or_else(|| param("port").and_then(|p| p.parse().ok()))
        .unwrap_or(5432);
    let database = param("dbname").unwrap_or_else(|| url.path().trim_start_matches('/').to_owned());
    format!("postgres://{host}:{port}/{database}")
}

impl SqlDestination {
    /// Opens (creating if needed) a SQLite file.
    /// The file and its folder are private (0600, 0700), and so are
    /// SQLite's `-wal` and `-shm` files, which take the file's mode
    /// (SECURITY.md R32, `pinion_store::private_fs`).
    pub async fn sqlite(path: &str) -> Result<Self, DestinationError> {
        let file = std::path::Path::new(path);
        let private = |action: &'static str| {
            move |source| DestinationError::Io {
                action,
                path: path.to_owned(),
                source,
            }
        };
        pinion_store::private_fs::prepare_sqlite_file(file).map_err(private("create"))?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(DestinationError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        pinion_store::private_fs::restrict_sqlite_files(file).map_err(private("restrict"))?;
        Ok(Self::Sqlite {
            pool,
            path: canonical_file(Path::new(path)).display().to_string(),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same destination, stamping `synced_at` with `clock`.
    pub fn with_clock(mut self, new: Arc<dyn Clock>) -> Self {
        match &mut self {
            Self::Sqlite { clock, .. } | Self::Postgres { clock, .. } => *clock = new,
        }
        self
    }

    fn clock(&self) -> &dyn Clock {
        match self {
            Self::Sqlite { clock, .. } | Self::Postgres { clock, .. } => &**clock,
        }
    }

    /// Connects to a PostgreSQL database.
    pub async fn postgres(url: &str) -> Result<Self, DestinationError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Self::Postgres {
            pool,
            shown: postgres_identity(url),
            clock: Arc::new(SystemClock),
        })
    }

    async fn create_table(&self, stream: StreamName) -> Result<(), DestinationError> {
        match self {
            SqlDestination::Sqlite { pool, .. } => {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {stream} (id TEXT PRIMARY KEY NOT NULL, name TEXT, \
                     created_at TEXT, board_id TEXT, board_section_id TEXT, ad_account_id TEXT, \
                     date TEXT, raw TEXT NOT NULL, synced_at TEXT NOT NULL)"
                ))
                .execute(pool)
                .await?;
            }
            SqlDestination::Postgres { pool, .. } => {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {stream} (id TEXT PRIMARY KEY NOT NULL, name TEXT, \
                     created_at TEXT, board_id TEXT, board_section_id TEXT, ad_account_id TEXT, \
                     date TEXT, raw JSONB NOT NULL, synced_at TIMESTAMPTZ NOT NULL)"
                ))
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}

enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

struct SqlSink {
    dest: SqlDestination,
    stream: StreamName,
    tx: Option<Tx>,
    rows: u64,
}

#[async_trait]
impl Destination for SqlDestination {
    fn describe(&self) -> String {
        match self {
            SqlDestination::Sqlite { path, .. } => format!("sqlite:{path}"),
            SqlDestination::Postgres { shown, .. } => shown.clone(),
        }
    }

    async fn begin(
        &self,
        stream: StreamName,
        _resume: Option<u64>,
    ) -> Result<Box<dyn StreamSink>, DestinationError> {
        self.create_table(stream).await?;
        Ok(Box::new(SqlSink {
            dest: self.clone(),
            stream,
            tx: None,
            rows: 0,
        }))
    }

    fn idempotent(&self) -> bool {
        true
    }
}

const UPSERT_TAIL: &str = " ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
    created_at = excluded.created_at, board_id = excluded.board_id, \
    board_section_id = excluded.board_section_id, ad_account_id = excluded.ad_account_id, \
    date = excluded.date, raw = excluded.raw, synced_at = excluded.synced_at";

#[async_trait]
impl StreamSink for SqlSink {
    async fn write_batch(&mut self, records: &[SyncRecord]) -> Result<(), DestinationError> {
        if records.is_empty() {
            return Ok(());
        }
        if self.tx.is_none() {
            self.tx = Some(match &self.dest {
                SqlDestination::Sqlite { pool, .. } => Tx::Sqlite(pool.begin().await?),
                SqlDestination::Postgres { pool, .. } => Tx::Postgres(pool.begin().await?),
            });
        }
        let now = self.dest.clock().now();
        let head = format!(
            "INSERT INTO {} (id, name, created_at, board_id, board_section_id, ad_account_id, date, raw, synced_at) ",
            self.stream
        );
        match self.tx.as_mut() {
            Some(Tx::Sqlite(tx)) => {
                let synced_at = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                for chunk in records.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    let mut builder = QueryBuilder::<Sqlite>::new(&head);
                    builder.push_values(chunk, |mut row, record| {
                        let c = columns(record);
                        row.push_bind(c.id)
                            .push_bind(c.name)
                            .push_bind(c.created_at)
                            .push_bind(c.board_id)
                            .push_bind(c.board_section_id)
                            .push_bind(c.ad_account_id)
                            .push_bind(c.date)
                            .push_bind(record.raw.as_str())
                            .push_bind(synced_at.clone());
                    });
                    builder.push(UPSERT_TAIL);
                    builder.build().execute(&mut **tx).await?;
                }
            }
            Some(Tx::Postgres(tx)) => {
                // Postgres refuses to upsert one key twice in one statement,
                // so a page is deduplicated first (the last copy wins).
                let mut seen = std::collections::HashSet::new();
                let mut unique: Vec<&SyncRecord> = records
                    .iter()
                    .rev()
                    .filter(|r| seen.insert(r.key.as_str()))
                    .collect();
                unique.reverse();
                let mut builder = QueryBuilder::<Postgres>::new(&head);
                builder.push_values(unique, |mut row, record| {
                    let c = columns(record);
                    row.push_bind(c.id)
                        .push_bind(c.name)
                        .push_bind(c.created_at)
                        .push_bind(c.board_id)
                        .push_bind(c.board_section_id)
                        .push_bind(c.ad_account_id)
                        .push_bind(c.date)
                        // The record's text, parsed by PostgreSQL itself.
                        .push_bind(record.raw.as_str())
                        .push_unseparated("::jsonb")
                        .push_bind(now);
                });
                builder.push(UPSERT_TAIL);
                builder.build().execute(&mut **tx).await?;
            }
            None => {}
        }
        self.rows += records.len() as u64;
        Ok(())
    }

    async fn commit(&mut self) -> Result<u64, DestinationError> {
        match self.tx.take() {
            Some(Tx::Sqlite(tx)) => tx.commit().await?,
            Some(Tx::Postgres(tx)) => tx.commit().await?,
            None => {}
        }
        Ok(self.rows)
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DestinationError> {
        self.commit().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spellings_of_one_destination_have_one_identity() {
        let canonical = "postgres://db.example:5432/pins";
        for spelling in [
            "postgres://db.example/pins",
            "postgresql://u:CANARY@DB.example:5432/pins?sslmode=require",
            "postgres://u@db.example/pins?password=CANARY",
        ] {
            assert_eq!(postgres_identity(spelling), canonical, "{spelling}");
        }
        assert_ne!(postgres_identity("postgres://db.example/other"), canonical);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        assert_eq!(
            canonical_file(&dir.path().join("a/../a/./x.db")),
            std::fs::canonicalize(dir.path()).unwrap().join("a/x.db")
        );
    }

    #[test]
    fn typed_columns_come_from_the_common_fields() {
        let raw = json!({"id":"9","title":"T","board_id":"1","created_at":"2024-01-01T00:00:00"});
        let record = SyncRecord::from_object("9", raw.as_object().unwrap().clone());
        let c = columns(&record);
        assert_eq!(
            (c.id, c.name.as_deref(), c.board_id.as_deref()),
            ("9", Some("T"), Some("1"))
        );
        assert_eq!(c.created_at.as_deref(), Some("2024-01-01T00:00:00"));
        let raw = json!({"id":"5","name":"acct","created_time": 0});
        let record = SyncRecord::from_object("5", raw.as_object().unwrap().clone());
        assert_eq!(
            columns(&record).created_at.as_deref(),
            Some("1970-01-01T00:00:00")
        );
        let raw = json!({"id":"6","name":{"nested":"x"},"title":"T","board_id":7,"DATE":"2024-01-02","ad_account_id":"a\"b"});
        let record = SyncRecord::from_object("6", raw.as_object().unwrap().clone());
        let c = columns(&record);
        assert_eq!(c.name.as_deref(), Some("T"), "a non-string name falls back");
        assert_eq!(c.board_id, None);
        assert_eq!(c.date.as_deref(), Some("2024-01-02"));
        assert_eq!(c.ad_account_id.as_deref(), Some("a\"b"));
    }

    #[tokio::test]
    async fn upserting_a_record_twice_leaves_one_row_with_the_latest_raw_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.db");
        let dest = SqlDestination::sqlite(path.to_str().unwrap())
            .await
            .unwrap();
        let rec = |v: i64| {
            SyncRecord::from_object(
                "7",
                json!({"id":"7","name":"b","v":v})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
        };
        let mut sink = dest.begin(StreamName::Boards, None).await.unwrap();
        sink.write_batch(&[rec(1)]).await.unwrap();
        sink.commit().await.unwrap();
        sink.write_batch(&[rec(2)]).await.unwrap();
        sink.finish().await.unwrap();
        let SqlDestination::Sqlite { pool, .. } = &dest else {
            unreachable!()
        };
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, raw FROM boards")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].1.contains("\"v\":2"), "{}", rows[0].1);
    }

    #[derive(Debug)]
    struct Fixed(chrono::DateTime<chrono::Utc>);

    impl Clock for Fixed {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            self.0
        }
    }

    #[tokio::test]
    async fn rows_are_stamped_by_the_injected_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.db");
        let at = chrono::DateTime::parse_from_rfc3339("2031-02-03T04:05:06.789Z")
            .unwrap()
            .to_utc();
        let dest = SqlDestination::sqlite(path.to_str().unwrap())
            .await
            .unwrap()
            .with_clock(Arc::new(Fixed(at)));
        let record = SyncRecord::from_object(
            "1",
            json!({"id":"1","name":"b"}).as_object().unwrap().clone(),
        );
        let mut sink = dest.begin(StreamName::Boards, None).await.unwrap();
        sink.write_batch(&[record]).await.unwrap();
        sink.finish().await.unwrap();
        let SqlDestination::Sqlite { pool, .. } = &dest else {
            unreachable!()
        };
        let synced: String = sqlx::query_scalar("SELECT synced_at FROM boards")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(synced, "2031-02-03T04:05:06.789000Z");
    }
}
