//! Helpers for tests that run real processes: waiting for a condition
//! (never for a fixed time), and reading a started server's address from
//! the banner it prints on stderr while keeping everything it logs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A free loopback port: bound, then released for a child process (or a
/// server that must know its public URL first) to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits up to `limit` for `condition`, polling every 100 ms; panics naming
/// `what` when it does not hold in time.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server's stderr, collected line by line in the background.
#[derive(Clone, Default)]
pub struct ServerOutput {
    log: Arc<Mutex<String>>,
}

impl ServerOutput {
    /// Collects `stderr` in the background; each line is also sent to the
    /// returned receiver, for a test that reads a banner of its own.
    pub fn collect(
        stderr: impl AsyncRead + Unpin + Send + 'static,
    ) -> (Self, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let output = Self::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let sink = output.log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
                drop(log);
                let _ = tx.send(line);
            }
        });
        (output, rx)
    }

    /// Collects `stderr` and waits up to two minutes for the line that
    /// starts with `banner` (e.g. `"Pinion is serving on "`); returns the
    /// collector and the first word after the banner (the address).
    ///
    /// # Panics
    ///
    /// When the stream ends or two minutes pass without the banner.
    pub async fn read_address(
        stderr: impl AsyncRead + Unpin + Send + 'static,
        banner: &str,
    ) -> (Self, String) {
        let (output, mut rx) = Self::collect(stderr);
        let address = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = rx.recv().await {
                if let Some(rest) = line.strip_prefix(banner) {
                    return rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                }
            }
            panic!("the server ended before printing {banner:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("the server printed {banner:?} within two minutes"));
        (output, address)
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
