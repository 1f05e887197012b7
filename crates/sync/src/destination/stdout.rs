//! Standard output: one JSON object per line, each tagged with its stream
//! (`{"stream": "...", "record": {...}}`), for piping into other tools.
//!
//! Standard output cannot be taken back, so a resumed run may repeat the
//! records read after the last checkpoint: this destination delivers at
//! least once, not exactly once.

use std::io::Write;

use async_trait::async_trait;

use super::{Destination, StreamSink};
use crate::error::DestinationError;
use crate::stream::{StreamName, SyncRecord};

/// Standard output.
#[derive(Debug, Clone, Copy)]
pub struct StdoutDestination;

struct StdoutSink {
    stream: StreamName,
    lines: u64,
}

#[async_trait]
impl Destination for StdoutDestination {
    fn describe(&self) -> String {
        "stdout".to_owned()
    }

    async fn begin(
        &self,
        stream: StreamName,
        _resume: Option<u64>,
    ) -> Result<Box<dyn StreamSink>, DestinationError> {
        Ok(Box::new(StdoutSink { stream, lines: 0 }))
    }

    fn idempotent(&self) -> bool {
        false
    }
}

fn stdout_error(source: std::io::Error) -> DestinationError {
    DestinationError::Io {
        action: "write",
        path: "stdout".to_owned(),
        source,
    }
}

#[async_trait]
impl StreamSink for StdoutSink {
    async fn write_batch(&mut self, records: &[SyncRecord]) -> Result<(), DestinationError> {
        let mut out = std::io::stdout().lock();
        let head = format!("{{\"stream\":\"{}\",\"record\":", self.stream.as_str());
        for record in records {
            out.write_all(head.as_bytes()).map_err(stdout_error)?;
            out.write_all(record.raw.as_bytes()).map_err(stdout_error)?;
            out.write_all(b"}\n").map_err(stdout_error)?;
        }
        self.lines += records.len() as u64;
        Ok(())
    }

    async fn commit(&mut self) -> Result<u64, DestinationError> {
        std::io::stdout().flush().map_err(stdout_error)?;
        Ok(self.lines)
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DestinationError> {
        self.commit().await.map(|_| ())
    }
}
