//! JSON Lines files: one file per stream, one record per line, written to
//! `<stream>.jsonl.partial` and renamed to `<stream>.jsonl` when the stream
//! completes.
//!
//! A commit writes the buffered lines, calls `fsync` and returns the file
//! length, which the checkpoint keeps. Resuming cuts the partial file back to
//! that length, so lines written after the last checkpoint (whose pages will
//! be read again) are not duplicated. A run that fails leaves the `.partial`
//! file: complete lines only up to the last commit, never a final-named file
//! with a short stream.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Destination, StreamSink};
use crate::error::DestinationError;
use crate::stream::{StreamName, SyncRecord};

/// Bytes buffered before they are written to the file.
const WRITE_BUFFER: usize = 1 << 20;

/// A directory of JSON Lines files.
#[derive(Debug, Clone)]
pub struct JsonlDestination {
    dir: PathBuf,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DestinationError {
    let path = path.display().to_string();
    move |source| DestinationError::Io {
        action,
        path,
        source,
    }
}

impl JsonlDestination {
    /// Uses `dir`, creating it if needed.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self, DestinationError> {
        let dir = dir.as_ref().to_path_buf();
        // Synced data is users' own: 0700 folders and 0600 files, whatever
        // the umask (SECURITY.md R32).
        pinion_store::private_fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        Ok(Self { dir })
    }

    /// The file of a completed stream.
    pub fn final_path(&self, stream: StreamName) -> PathBuf {
        self.dir.join(format!("{stream}.jsonl"))
    }

    /// The file of a stream being written.
    pub fn partial_path(&self, stream: StreamName) -> PathBuf {
        self.dir.join(format!("{stream}.jsonl.partial"))
    }
}

struct JsonlSink {
    file: File,
    buffer: Vec<u8>,
    /// Bytes in the file plus the buffer.
    length: u64,
    partial: PathBuf,
    final_path: PathBuf,
    dir: PathBuf,
}

#[async_trait]
impl Destination for JsonlDestination {
    fn describe(&self) -> String {
        format!("jsonl:{}", self.dir.display())
    }

    async fn begin(
        &self,
        stream: StreamName,
        resume: Option<u64>,
    ) -> Result<Box<dyn StreamSink>, DestinationError> {
        let partial = self.partial_path(stream);
        let mut file = match resume {
            Some(position) if position > 0 => {
                let final_path = self.final_path(stream);
                if !partial.exists() && final_path.exists() {
                    // The stream was completed and renamed, but the run
                    // stopped before recording it: take the file back; the
                    // checkpoint says every partition is done.
                    std::fs::rename(&final_path, &partial).map_err(io("reopen", &final_path))?;
                }
                let mut file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&partial)
                    .map_err(io("open for resume", &partial))?;
                pinion_store::private_fs::restrict_open_file(&file)
                    .map_err(io("restrict", &partial))?;
                let length = file.metadata().map_err(io("inspect", &partial))?.len();
                if length < position {
                    return Err(DestinationError::Inconsistent(format!(
                        "{} has {length} bytes but the checkpoint committed {position}",
                        partial.display()
                    )));
                }
                file.set_len(position).map_err(io("truncate", &partial))?;
                file.sync_all().map_err(io("sync", &partial))?;
                file.seek(SeekFrom::End(0)).map_err(io("seek", &partial))?;
                file
            }
            _ => {
                let file = pinion_store::private_fs::create_file(&partial)
                    .map_err(io("create", &partial))?;
                pinion_store::private_fs::restrict_open_file(&file)
                    .map_err(io("restrict", &partial))?;
                file.sync_all().map_err(io("sync", &partial))?;
                file
            }
        };
        let length = file.stream_position().map_err(io("seek", &partial))?;
        Ok(Box::new(JsonlSink {
            file,
            buffer: Vec::with_capacity(WRITE_BUFFER + 64 * 1024),
            length,
            partial,
            final_path: self.final_path(stream),
            dir: self.dir.clone(),
        }))
    }

    fn idempotent(&self) -> bool {
        false
    }
}

impl JsonlSink {
    fn flush_buffer(&mut self) -> Result<(), DestinationError> {
        if !self.buffer.is_empty() {
            self.file
                .write_all(&self.buffer)
                .map_err(io("write", &self.partial))?;
            self.buffer.clear();
        }
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), DestinationError> {
        self.flush_buffer()?;
        let file = self.file.try_clone().map_err(io("sync", &self.partial))?;
        let path = self.partial.clone();
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| DestinationError::Io {
                action: "sync",
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?
            .map_err(io("sync", &self.partial))
    }
}

#[async_trait]
impl StreamSink for JsonlSink {
    async fn write_batch(&mut self, records: &[SyncRecord]) -> Result<(), DestinationError> {
        let before = self.buffer.len();
        for record in records {
            // The record's text is one line of JSON as Pinterest sent it.
            self.buffer.extend_from_slice(record.raw.as_bytes());
            self.buffer.push(b'\n');
        }
        self.length += (self.buffer.len() - before) as u64;
        if self.buffer.len() >= WRITE_BUFFER {
            self.flush_buffer()?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<u64, DestinationError> {
        self.sync().await?;
        Ok(self.length)
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DestinationError> {
        self.sync().await?;
        std::fs::rename(&self.partial, &self.final_path).map_err(io("rename", &self.partial))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io("sync directory", &self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str) -> SyncRecord {
        let raw = json!({"id": id, "unknown_field": {"kept": true}});
        SyncRecord::from_object(id, raw.as_object().unwrap().clone())
    }

    #[tokio::test]
    async fn resume_cuts_the_file_back_to_the_committed_position() {
        let dir = tempfile::tempdir().unwrap();
        let dest = JsonlDestination::create(dir.path()).unwrap();
        let mut sink = dest.begin(StreamName::Pins, None).await.unwrap();
        sink.write_batch(&[record("1"), record("2")]).await.unwrap();
        let committed = sink.commit().await.unwrap();
        sink.write_batch(&[record("3")]).await.unwrap();
        sink.commit().await.unwrap();
        drop(sink);

        let mut sink = dest.begin(StreamName::Pins, Some(committed)).await.unwrap();
        sink.write_batch(&[record("3"), record("4")]).await.unwrap();
        sink.finish().await.unwrap();
        let text = std::fs::read_to_string(dest.final_path(StreamName::Pins)).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, ["1", "2", "3", "4"]);
        assert!(text.contains("\"unknown_field\":{\"kept\":true}"));
        assert!(!dest.partial_path(StreamName::Pins).exists());
    }

    #[tokio::test]
    async fn a_stream_renamed_before_its_status_was_saved_is_taken_back_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let dest = JsonlDestination::create(dir.path()).unwrap();
        let mut sink = dest.begin(StreamName::Boards, None).await.unwrap();
        sink.write_batch(&[record("1")]).await.unwrap();
        let committed = sink.commit().await.unwrap();
        sink.finish().await.unwrap();

        let sink = dest
            .begin(StreamName::Boards, Some(committed))
            .await
            .unwrap();
        assert!(!dest.final_path(StreamName::Boards).exists());
        sink.finish().await.unwrap();
        let text = std::fs::read_to_string(dest.final_path(StreamName::Boards)).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[tokio::test]
    async fn a_partial_file_shorter_than_its_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = JsonlDestination::create(dir.path()).unwrap();
        std::fs::write(dest.partial_path(StreamName::Boards), b"{}\n").unwrap();
        let err = dest
            .begin(StreamName::Boards, Some(100))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, DestinationError::Inconsistent(_)), "{err}");
    }
}
