//! The first records of a stream as a file destination holds them, for the
//! run page's preview (issue 15): the first lines of `<dir>/<stream>.jsonl`,
//! or the first rows' `raw` column of a SQLite file's `<stream>` table,
//! opened read-only. Nothing here writes.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::error::DestinationError;
use crate::stream::StreamName;

/// Which kind of file output to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// A folder of `<stream>.jsonl` files.
    Jsonl,
    /// A SQLite file with a table per stream.
    Sqlite,
}

/// Up to `limit` records of `stream` in the output at `path`, oldest
/// first; none when the stream has no file or table yet. A line that is not
/// JSON is shown as a string.
pub async fn first_records(
    kind: OutputKind,
    path: &Path,
    stream: StreamName,
    limit: usize,
) -> Result<Vec<serde_json::Value>, DestinationError> {
    match kind {
        OutputKind::Jsonl => {
            let name = path.join(format!("{stream}.jsonl"));
            let io = |source| DestinationError::Io {
                action: "read",
                path: name.display().to_string(),
                source,
            };
            let file = match tokio::fs::File::open(&name).await {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(io(err)),
            };
            let mut lines = BufReader::new(file).lines();
            let mut records = Vec::new();
            while records.len() < limit {
                let Some(line) = lines.next_line().await.map_err(io)? else {
                    break;
                };
                records
                    .push(serde_json::from_str(&line).unwrap_or(serde_json::Value::String(line)));
            }
            Ok(records)
        }
        OutputKind::Sqlite => {
            if !path.exists() {
                return Ok(Vec::new());
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .disable_statement_logging();
            let mut connection = options.connect().await?;
            let exists: Option<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            )
            .bind(stream.as_str())
            .fetch_optional(&mut connection)
            .await?;
            let rows: Vec<String> = if exists.is_some() {
                // The table name is one of the stream names, never input.
                sqlx::query_scalar(&format!("SELECT raw FROM {stream} ORDER BY rowid LIMIT ?"))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&mut connection)
                    .await?
            } else {
                Vec::new()
            };
            let _ = connection.close().await;
            Ok(rows
                .into_iter()
                .map(|raw| serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_lines_of_a_stream_file_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("boards.jsonl"),
            "{\"id\":\"1\"}\n{\"id\":\"2\"}\nnot json\n{\"id\":\"4\"}\n",
        )
        .unwrap();
        let records = first_records(OutputKind::Jsonl, dir.path(), StreamName::Boards, 3)
            .await
            .unwrap();
        assert_eq!(
            records,
            [
                serde_json::json!({"id": "1"}),
                serde_json::json!({"id": "2"}),
                serde_json::json!("not json"),
            ]
        );
        let none = first_records(OutputKind::Jsonl, dir.path(), StreamName::Pins, 3)
            .await
            .unwrap();
        assert!(none.is_empty());
        let missing = first_records(
            OutputKind::Sqlite,
            &dir.path().join("no.db"),
            StreamName::Pins,
            3,
        )
        .await
        .unwrap();
        assert!(missing.is_empty());
    }
}
