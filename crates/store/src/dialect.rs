//! What the store's SQL needs to know about the database it runs on: the
//! [`Dialect`] trait, implemented by sqlx's `Sqlite` (in `sqlite.rs`) and
//! `Postgres` (in `postgres.rs`).
//!
//! The store is one generic implementation, [`crate::SqlStore<D>`], written
//! once over `D: Dialect` (`sql.rs` and the purpose modules). Its SQL runs
//! unchanged on both databases (`$1` placeholders, `substr` on blobs, standard
//! types through sqlx); what differs is here and nowhere else: the row- and table-lock
//! clauses, how a write transaction begins, what to do before closing, and
//! which database an error code comes from.
//!
//! Rust does not carry a trait's `where` clauses to its users (only
//! supertraits and associated-type bounds), so the sqlx bounds the generic
//! SQL needs cannot hide behind `D: Dialect`: every generic `impl` block
//! repeats the one list kept in the comment on [`Dialect`], and a test here
//! checks each copy against it, so there is one list to read and change.

use std::future::Future;

use sqlx::{Pool, Transaction};

use crate::error::Backend;

/// A stored time: UTC, bound and read as is by both drivers.
pub(crate) type Timestamp = chrono::DateTime<chrono::Utc>;
use crate::store::BackendKind;

/// A database the store runs on, with the few ways its SQL and its handling
/// differ from the other's. Implemented for `sqlx::Sqlite` and
/// `sqlx::Postgres` only (the trait cannot be named outside the crate).
///
/// Every generic `impl` block over `D: Dialect` states the sqlx bounds the
/// shared SQL uses, as this list:
///
/// ```text
/// where
///     D: Dialect,
///     for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
///     for<'q> D::Arguments<'q>: sqlx::IntoArguments<'q, D>,
///     for<'q> &'q str: sqlx::Encode<'q, D> + sqlx::Type<D>,
///     for<'q> String: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
///     for<'q> Vec<u8>: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
///     for<'q> i64: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
///     for<'q> bool: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
///     for<'q> Timestamp: sqlx::Encode<'q, D> + sqlx::Decode<'q, D> + sqlx::Type<D>,
///     for<'q> Option<&'q str>: sqlx::Encode<'q, D>,
///     for<'q> Option<String>: sqlx::Encode<'q, D>,
///     for<'q> Option<Vec<u8>>: sqlx::Encode<'q, D>,
///     for<'q> Option<i64>: sqlx::Encode<'q, D>,
///     for<'q> Option<Timestamp>: sqlx::Encode<'q, D>,
///     usize: sqlx::ColumnIndex<D::Row>,
///     for<'n> &'n str: sqlx::ColumnIndex<D::Row>,
/// ```
pub trait Dialect: sqlx::Database + Sized {
    /// Which database a driver error comes from (the codes differ).
    const BACKEND: Backend;
    /// Which database this is, as [`crate::Store::backend`] reports it.
    const KIND: BackendKind;
    /// The store's type name, for `Debug`.
    const STORE_NAME: &'static str;
    /// Appended to a `SELECT` whose rows the transaction will write. Empty
    /// on SQLite, where a write transaction already holds the one write lock.
    const FOR_UPDATE: &'static str;
    /// Appended to a `SELECT` of rows that must not change until the
    /// transaction ends. Empty on SQLite, as above.
    const FOR_SHARE: &'static str;
    /// Appended to a `SELECT` that claims rows other processes may be
    /// claiming at the same time, skipping those already taken. Empty on
    /// SQLite, as above.
    const SKIP_LOCKED: &'static str;
    /// A statement run first in a write transaction that must see a table
    /// unchanged by others until it ends, with `{table}` for the table's
    /// name; empty on SQLite, as above.
    const LOCK_TABLE: &'static str;

    /// An SQL expression for the database's clock, in whole microseconds
    /// since 1970, that stays the same within one statement (the shared rate
    /// budget's time: one clock for every replica, on any host).
    const NOW_MICROS: &'static str;

    /// What a store on this database keeps besides its pool: the file's path
    /// on SQLite, nothing on PostgreSQL.
    type Origin: std::fmt::Debug + Send + Sync + 'static;

    /// Starts a transaction that will write.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Last housekeeping before the pool closes.
    fn before_close(pool: &Pool<Self>) -> impl Future<Output = ()> + Send;

    /// How many rows a statement changed (sqlx gives each driver's result
    /// its own type, with no common trait for this).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Every migration of the store on this database, embedded at build
    /// time (`migrations/sqlite` or `migrations/postgres`).
    fn migrations() -> &'static sqlx::migrate::Migrator;

    /// Adds what identifies the store's database to its `Debug` output
    /// (never a password).
    fn debug_origin(origin: &Self::Origin, out: &mut std::fmt::DebugStruct<'_, '_>);
}

#[cfg(test)]
mod tests {
    /// Every generic `impl` block over `D: Dialect`, by file.
    const SOURCES: &[(&str, &str)] = &[
        ("credentials.rs", include_str!("credentials.rs")),
        ("health.rs", include_str!("health.rs")),
        ("key_store.rs", include_str!("key_store.rs")),
        ("lifecycle.rs", include_str!("lifecycle.rs")),
        ("notifications.rs", include_str!("notifications.rs")),
        ("rate.rs", include_str!("rate.rs")),
        ("runs.rs", include_str!("runs.rs")),
        ("schedules.rs", include_str!("schedules.rs")),
        ("sharing.rs", include_str!("sharing.rs")),
        ("sql.rs", include_str!("sql.rs")),
        ("sync_state.rs", include_str!("sync_state.rs")),
        ("state_db.rs", include_str!("state_db.rs")),
        ("users.rs", include_str!("users.rs")),
        ("web_state.rs", include_str!("web_state.rs")),
    ];

    fn squeeze(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The list in the doc comment of `Dialect`, without its `where`.
    fn documented_bounds() -> String {
        let doc: String = include_str!("dialect.rs")
            .lines()
            .skip_while(|line| *line != "/// where")
            .skip(1)
            .take_while(|line| *line != "/// ```")
            .map(|line| line.trim_start_matches("///"))
            .collect::<Vec<_>>()
            .join("\n");
        squeeze(&doc)
    }

    #[test]
    fn every_generic_impl_block_states_the_documented_sqlx_bounds() {
        let expected = documented_bounds();
        assert!(expected.starts_with("D: Dialect,"), "{expected}");
        let mut blocks = 0;
        for (file, source) in SOURCES {
            for (at, _) in source.match_indices("impl<D> ") {
                let header = &source[at..];
                let Some(line_end) = header.find('\n') else {
                    continue;
                };
                let line = &header[..line_end];
                if !(line.ends_with("SqlStore<D>") || line.ends_with("SqlSyncState<D>")) {
                    continue;
                }
                let clause = &header[line_end + 1..];
                let clause = clause
                    .strip_prefix("where\n")
                    .unwrap_or_else(|| panic!("{file}: an impl block without `where`"));
                let end = clause.find("\n{").expect("the block opens");
                assert_eq!(squeeze(&clause[..end]), expected, "in {file}");
                blocks += 1;
            }
        }
        assert!(blocks >= 17, "found only {blocks} generic impl blocks");
    }
}
