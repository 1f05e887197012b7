//! How `pinion sync` and `pinion publish` talk to the person running them:
//! on a terminal, a progress bar per stream on stderr (quiet otherwise);
//! notes on stderr; at the end a summary, as a table on stderr or with
//! `--json` one JSON object on stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pinion_sync::command::{CommandEnv, CommandReporter, PublishCommandError};
use pinion_sync::publish::PublishReport;
use pinion_sync::{ProgressObserver, StreamName, StreamReport, SyncError, SyncReport};

use super::args::{PublishArgs, SyncArgs};

/// Progress bars on stderr, one per stream.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<StreamName, ProgressBar>>,
}

impl ProgressObserver for Bars {
    fn stream_started(&self, stream: StreamName, partitions: Option<u64>) {
        let bar = match partitions {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template(
            "{prefix:>20} {bar:30} {pos}/{len} parts  {msg} {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = self.multi.add(bar);
        bar.set_style(style);
        bar.set_prefix(stream.as_str());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stream, bar);
    }

    fn records_committed(&self, stream: StreamName, total: u64) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&stream)
        {
            bar.set_message(format!("{total} records"));
        }
    }

    fn partition_done(&self, stream: StreamName) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&stream)
        {
            bar.inc(1);
        }
    }

    fn stream_finished(&self, report: &StreamReport) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&report.stream)
        {
            bar.finish_with_message(format!("{} records, {:?}", report.records, report.outcome));
        }
    }
}

/// Notes on stderr, and progress bars when wanted.
struct Terminal {
    bars: Option<Bars>,
}

impl Terminal {
    /// Bars only with `show_bars` and when stderr is a terminal.
    fn new(show_bars: bool) -> Self {
        Self {
            bars: (show_bars && std::io::stderr().is_terminal()).then(|| Bars {
                multi: MultiProgress::new(),
                bars: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl CommandReporter for Terminal {
    fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    fn progress(&self) -> Option<&dyn ProgressObserver> {
        self.bars.as_ref().map(|b| b as &dyn ProgressObserver)
    }
}

/// The per-stream summary table.
pub fn summary_table(report: &SyncReport) -> String {
    let mut out = format!(
        "{:<22} {:<12} {:>10} {:>9} {:>8} {:>6} {:>8}\n",
        "stream", "outcome", "records", "requests", "retries", "429s", "seconds"
    );
    for s in &report.streams {
        out.push_str(&format!(
            "{:<22} {:<12} {:>10} {:>9} {:>8} {:>6} {:>8.2}\n",
            s.stream.as_str(),
            format!("{:?}", s.outcome).to_lowercase(),
            s.records,
            s.requests,
            s.retries,
            s.rate_limited,
            s.seconds
        ));
        for note in &s.notes {
            out.push_str(&format!("    note: {note}\n"));
        }
        if s.invalid_records > 0 {
            out.push_str(&format!(
                "    {} invalid item(s) left out\n",
                s.invalid_records
            ));
        }
        if let Some(error) = &s.error {
            out.push_str(&format!("    error: {error}\n"));
        }
    }
    out.push_str(&format!(
        "{} records to {} in {:.2}s{}\n",
        report.records(),
        report.destination,
        report.seconds,
        if report.resumed { " (resumed run)" } else { "" }
    ));
    out
}

/// Runs `pinion sync` and prints the summary; returns the report when every
/// stream completed, and an error naming the stream, endpoint and cause
/// otherwise (the command exits non-zero). The run can be continued with
/// `--resume`.
pub async fn sync(args: &SyncArgs, env: CommandEnv) -> Result<SyncReport, SyncError> {
    let request = args.request();
    let to_stdout = request.writes_to_stdout();
    let terminal = Terminal::new(!args.json);
    let mut report = match pinion_sync::command::run_sync(&request, env, &terminal).await {
        Ok(report) => report,
        Err(err) => {
            if let Some(destination) = err.destination.filter(|_| args.json && !to_stdout) {
                let summary = serde_json::json!({
                    "destination": destination,
                    "streams": [],
                    "failure": err.error.to_string(),
                });
                println!("{summary}");
            }
            return Err(err.error);
        }
    };
    if args.resume && !report.resumed {
        eprintln!(
            "note: there was no unfinished run of this credential and destination ({}) to \
             resume; this was a new run",
            report.destination
        );
    }
    if args.json && !to_stdout {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        eprint!("{}", summary_table(&report));
    }
    if let Some(failure) = report.failure.take() {
        return Err(failure);
    }
    Ok(report)
}

/// Why `pinion publish` did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailure {
    /// The run could not start or stopped as a whole.
    #[error(transparent)]
    Command(#[from] PublishCommandError),
    /// Some rows could not be settled; running the same input again finishes
    /// them without creating anything twice.
    #[error("{0} row(s) are unfinished; run the same command again to finish them")]
    Unfinished(u64),
}

/// Runs `pinion publish` and prints the summary; rows that could not be
/// settled make it an error (running it again finishes them).
pub async fn publish(args: &PublishArgs, env: CommandEnv) -> Result<PublishReport, PublishFailure> {
    let terminal = Terminal::new(false);
    let report = pinion_sync::command::run_publish(&args.request(), env, &terminal).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        eprintln!(
            "{} rows: {} created, {} already published, {} reconciled, {} rejected, {} duplicate, {} unfinished{}",
            report.rows,
            report.created,
            report.already_published,
            report.reconciled,
            report.rejected,
            report.duplicates,
            report.unfinished,
            report
                .reject_file
                .as_ref()
                .map(|f| format!("; rejected rows with reasons in {f}"))
                .unwrap_or_default()
        );
    }
    if !report.complete() {
        return Err(PublishFailure::Unfinished(report.unfinished));
    }
    Ok(report)
}
