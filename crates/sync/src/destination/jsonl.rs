//! JSON Lines files: one file per stream, one record per line, written to
//! `.pinion-partial/<stream>.jsonl.partial` and renamed to
//! `.pinion-partial/<stream>.jsonl` when the stream completes. When the whole
//! run succeeds its files move into the folder itself, replacing the files
//! of the run before, and any other stream's file left by an earlier run is
//! removed: the folder holds the files of one complete run, never a mix of
//! a killed run's and its predecessor's. A run that fails or is killed
//! leaves the folder as the last complete run left it and its own files in
//! `.pinion-partial/`, where `--resume` (or a server taking the run over)
//! continues them; a new run starts that staging folder afresh.
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

/// Every stream a run can write, the custom one included.
fn every_stream() -> impl Iterator<Item = StreamName> {
    StreamName::ALL.into_iter().chain([StreamName::Custom])
}

/// The folder, inside the destination folder, of the run being written.
pub const STAGING_DIR: &str = ".pinion-partial";

/// A directory of JSON Lines files.
#[derive(Debug, Clone)]
pub struct JsonlDestination {
    /// The folder, resolved to an absolute path without symlinks.
    dir: PathBuf,
    staging: PathBuf,
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
    /// Uses `dir`, creating it if needed. The folder is known by its
    /// canonical path (absolute, symlinks resolved), so a relative spelling
    /// of the same folder names the same destination, for resume too.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self, DestinationError> {
        let given = dir.as_ref().to_path_buf();
        // Synced data is users' own: 0700 folders and 0600 files, whatever
        // the umask (SECURITY.md R32).
        pinion_store::private_fs::create_dir_all(&given).map_err(io("create directory", &given))?;
        let dir = std::fs::canonicalize(&given).map_err(io("resolve", &given))?;
        Ok(Self {
            staging: dir.join(STAGING_DIR),
            dir,
        })
    }

    /// The file of a stream once its run completed.
    pub fn final_path(&self, stream: StreamName) -> PathBuf {
        self.dir.join(format!("{stream}.jsonl"))
    }

    /// The file of a stream being written.
    pub fn partial_path(&self, stream: StreamName) -> PathBuf {
        self.staging.join(format!("{stream}.jsonl.partial"))
    }

    /// The file of a stream completed in a run that has not completed yet.
    pub fn staged_path(&self, stream: StreamName) -> PathBuf {
        self.staging.join(format!("{stream}.jsonl"))
    }

    fn sync_dir(dir: &Path) -> Result<(), DestinationError> {
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io("sync directory", dir))
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

    async fn start_run(&self, resumed: bool) -> Result<(), DestinationError> {
        if !resumed && self.staging.exists() {
            std::fs::remove_dir_all(&self.staging).map_err(io("clear", &self.staging))?;
        }
        pinion_store::private_fs::create_dir_all(&self.staging)
            .map_err(io("create directory", &self.staging))?;
        if resumed {
            // A run of an earlier version kept its partial files in the
            // folder itself.
            for stream in every_stream() {
                let old = self.dir.join(format!("{stream}.jsonl.partial"));
                if old.exists() && !self.partial_path(stream).exists() {
                    std::fs::rename(&old, self.partial_path(stream)).map_err(io("move", &old))?;
                }
            }
        }
        Ok(())
    }

    async fn finish_run(&self, completed: &[StreamName]) -> Result<(), DestinationError> {
        for stream in completed {
            let staged = self.staged_path(*stream);
            if staged.exists() {
                std::fs::rename(&staged, self.final_path(*stream)).map_err(io("move", &staged))?;
            }
        }
        for stream in every_stream() {
            let stale = [
                (!completed.contains(&stream)).then(|| self.final_path(stream)),
                Some(self.dir.join(format!("{stream}.jsonl.partial"))),
            ];
            for path in stale.into_iter().flatten() {
                if path.exists() {
                    std::fs::remove_file(&path).map_err(io("remove", &path))?;
                }
            }
        }
        Self::sync_dir(&self.dir)?;
        if self.staging.exists() {
            std::fs::remove_dir_all(&self.staging).map_err(io("remove", &self.staging))?;
        }
        Ok(())
    }

    async fn begin(
        &self,
        stream: StreamName,
        resume: Option<u64>,
    ) -> Result<Box<dyn StreamSink>, DestinationError> {
        pinion_store::private_fs::create_dir_all(&self.staging)
            .map_err(io("create directory", &self.staging))?;
        let partial = self.partial_path(stream);
        let mut file = match resume {
            Some(position) if position > 0 => {
                let final_path = self.staged_path(stream);
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
            final_path: self.staged_path(stream),
            dir: self.staging.clone(),
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
        JsonlDestination::sync_dir(&self.dir)
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
        dest.finish_run(&[StreamName::Pins]).await.unwrap();
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
        assert!(!dest.staged_path(StreamName::Boards).exists());
        sink.finish().await.unwrap();
        assert!(
            !dest.final_path(StreamName::Boards).exists(),
            "not before the run completes"
        );
        dest.finish_run(&[StreamName::Boards]).await.unwrap();
        let text = std::fs::read_to_string(dest.final_path(StreamName::Boards)).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[tokio::test]
    async fn the_folder_holds_one_complete_runs_files_and_a_new_run_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let dest = JsonlDestination::create(dir.path()).unwrap();
        let write = |stream, ids: &'static [&'static str]| {
            let dest = dest.clone();
            async move {
                let mut sink = dest.begin(stream, None).await.unwrap();
                let records: Vec<SyncRecord> = ids.iter().map(|id| record(id)).collect();
                sink.write_batch(&records).await.unwrap();
                sink.commit().await.unwrap();
                sink
            }
        };
        // Run 1 completes boards and pins.
        dest.start_run(false).await.unwrap();
        write(StreamName::Boards, &["b1"])
            .await
            .finish()
            .await
            .unwrap();
        write(StreamName::Pins, &["p1"])
            .await
            .finish()
            .await
            .unwrap();
        dest.finish_run(&[StreamName::Boards, StreamName::Pins])
            .await
            .unwrap();
        // Run 2 completes boards, then is killed in pins: the folder still
        // holds run 1's files only.
        dest.start_run(false).await.unwrap();
        write(StreamName::Boards, &["b2"])
            .await
            .finish()
            .await
            .unwrap();
        drop(write(StreamName::Pins, &["p2"]).await);
        let names = |dir: &Path| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(dir.path()),
            [STAGING_DIR, "boards.jsonl", "pins.jsonl"]
        );
        let ids = |stream| std::fs::read_to_string(dest.final_path(stream)).unwrap();
        assert!(ids(StreamName::Boards).contains("b1") && ids(StreamName::Pins).contains("p1"));
        // Run 3 is new (not resumed) and reads boards only: run 2's files
        // are gone, and so is run 1's pins file once run 3 completes.
        dest.start_run(false).await.unwrap();
        assert!(!dest.partial_path(StreamName::Pins).exists());
        write(StreamName::Boards, &["b3"])
            .await
            .finish()
            .await
            .unwrap();
        dest.finish_run(&[StreamName::Boards]).await.unwrap();
        assert_eq!(names(dir.path()), ["boards.jsonl"]);
        assert!(ids(StreamName::Boards).contains("b3"));
    }

    #[tokio::test]
    async fn a_relative_spelling_names_the_same_folder() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("out");
        std::fs::create_dir_all(&nested).unwrap();
        let absolute = JsonlDestination::create(&nested).unwrap();
        let roundabout = JsonlDestination::create(dir.path().join("a/../a/./out")).unwrap();
        assert_eq!(absolute.describe(), roundabout.describe());
        assert!(absolute.describe().starts_with("jsonl:/"));
    }

    #[tokio::test]
    async fn a_partial_file_shorter_than_its_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = JsonlDestination::create(dir.path()).unwrap();
        dest.start_run(false).await.unwrap();
        std::fs::write(dest.partial_path(StreamName::Boards), b"{}\n").unwrap();
        let err = dest
            .begin(StreamName::Boards, Some(100))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, DestinationError::Inconsistent(_)), "{err}");
    }
}
