//! Serving connections so slow or many clients cannot exhaust the server
//! (issue 12, SECURITY.md R30).
//!
//! hyper's HTTP/1 server with a timer reads each request's headers within
//! [`HEADER_READ_TIMEOUT`]; hyper arms the same timer while a keep-alive
//! connection waits for its next request, so it also closes idle
//! connections. Open connections are capped below the process's open-file
//! limit (`RLIMIT_NOFILE`, raised to its hard limit first, minus
//! [`RESERVED_FILES`] for the database, the data directory and outgoing
//! requests), so accepting never fails with "Too many open files". At the
//! cap, the connection idle longest (no request in flight: still trickling
//! its headers, or between keep-alive requests) is closed to admit the new
//! one, so clients that hold connections open doing nothing (slowloris)
//! cannot lock out the one that sends a whole request; a connection serving
//! a request is never closed this way. Body read time and the whole
//! request's time are bounded in the router (`crate::limits`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long a client has to send a request's headers, and how long a
/// keep-alive connection may wait for its next request. Ten seconds is far
/// more than any client on a working link needs (browsers send headers in
/// one packet) and short enough that a connection trickling one header line
/// every few seconds is closed before it matters.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Open files kept out of the connection cap: the database pool and its
/// watcher, SQLite's WAL and SHM files, the instance lock, key and journal
/// files, source runs' outputs and their outgoing connections to Pinterest.
pub const RESERVED_FILES: u64 = 128;

/// The most connections served at once, however high the open-file limit:
/// each costs buffers and a task, and no single Pinion needs more.
pub const MAX_CONNECTIONS_CEILING: usize = 16_384;

/// The fewest connections the cap allows, for a very low open-file limit.
const MIN_CONNECTIONS: usize = 16;

/// How often a full server looks again for an idle connection to close while
/// every connection is busy serving a request.
const ADMIT_RETRY: Duration = Duration::from_millis(50);

/// How many connections `pinion serve` serves at once under an open-file
/// limit of `open_files`: the limit less [`RESERVED_FILES`], never more than
/// [`MAX_CONNECTIONS_CEILING`] nor fewer than half the limit (or 16).
/// Under the common limit of 1,024 that is 896.
pub fn max_connections_for(open_files: u64) -> usize {
    let open_files = usize::try_from(open_files).unwrap_or(usize::MAX);
    let reserved = usize::try_from(RESERVED_FILES).unwrap_or(usize::MAX);
    open_files
        .saturating_sub(reserved)
        .max(open_files / 2)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS_CEILING)
}

/// Raises the soft open-file limit to the hard limit and returns the
/// connection cap it allows ([`max_connections_for`]); if the limit cannot
/// be read, the cap for the common 1,024.
pub fn connection_cap() -> usize {
    let open_files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(error = %err, "Could not read the open-file limit; assuming 1024.");
            1024
        }
    };
    max_connections_for(open_files)
}

/// One open connection, as the admission logic sees it.
struct Slot {
    id: u64,
    /// Requests in flight, counted from the call to the end of the response body.
    busy: AtomicUsize,
    /// When the connection last became idle (accepted, or finished a
    /// response), in milliseconds since the table's epoch.
    idle_since: AtomicU64,
    /// Set once the connection was picked for closing.
    evicted: AtomicBool,
    close: Notify,
}

/// The open connections and the permits that cap them.
struct Table {
    permits: Arc<Semaphore>,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    epoch: Instant,
    /// When "at the connection limit" was last logged, to log it once a minute.
    last_warning: Mutex<Option<Instant>>,
    limit: usize,
}

impl Table {
    fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            slots: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            last_warning: Mutex::new(None),
            limit,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A permit for one more connection: at once if under the cap, else
    /// after closing the connection idle longest (or, when every connection
    /// is serving a request, once one finishes or becomes idle).
    async fn admit(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return permit;
        }
        self.warn_full();
        loop {
            self.evict_idlest();
            tokio::select! {
                permit = self.permits.clone().acquire_owned() => {
                    return permit.expect("the connection semaphore is never closed");
                }
                () = tokio::time::sleep(ADMIT_RETRY) => {}
            }
        }
    }

    fn warn_full(&self) {
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            tracing::warn!(
                limit = self.limit,
                "At the connection limit: closing the connections idle longest to admit new ones."
            );
        }
    }

    /// Asks the connection with no request in flight that has been idle the
    /// longest to close. Does nothing if every connection is busy.
    fn evict_idlest(&self) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let idlest = slots
            .values()
            .filter(|slot| {
                slot.busy.load(Ordering::Acquire) == 0 && !slot.evicted.load(Ordering::Acquire)
            })
            .min_by_key(|slot| slot.idle_since.load(Ordering::Acquire));
        if let Some(slot) = idlest {
            slot.evicted.store(true, Ordering::Release);
            slot.close.notify_one();
        }
    }

    fn insert(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        });
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(slot.id, slot.clone());
        slot
    }

    fn remove(&self, slot: &Slot) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&slot.id);
    }
}

/// Marks a connection busy while it lives: from the request's call until
/// its response body has been sent (or dropped).
struct BusyGuard {
    slot: Arc<Slot>,
    table: Arc<Table>,
}

impl BusyGuard {
    fn new(slot: Arc<Slot>, table: Arc<Table>) -> Self {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Self { slot, table }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.slot
            .idle_since
            .store(self.table.now_ms(), Ordering::Release);
        self.slot.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until it is done.
struct TrackedBody {
    inner: Body,
    _busy: BusyGuard,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router as one connection's hyper service: adds the peer address
/// (sign-in throttling counts per client) and tracks requests in flight.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    slot: Arc<Slot>,
    table: Arc<Table>,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let busy = BusyGuard::new(self.slot.clone(), self.table.clone());
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.router.clone().oneshot(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| TrackedBody { inner, _busy: busy }))
        })
    }
}

/// Serves `router` on `listener` with at most `limit` connections open at
/// once (see the module documentation) until `shutdown` completes, then
/// stops accepting and lets open connections finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limit: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let table = Arc::new(Table::new(limit.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    tracing::info!(
        max_connections = limit,
        header_read_timeout_s = HEADER_READ_TIMEOUT.as_secs(),
        "Serving HTTP."
    );
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        // Room for it: at once under the cap, else by closing the connection
        // idle longest. Until then no other connection is accepted (one
        // socket beyond the cap, covered by the reserve).
        let permit = tokio::select! {
            permit = table.admit() => permit,
            () = shutdown.as_mut() => break,
        };
        let slot = table.insert();
        let service = ConnectionService {
            router: router.clone(),
            peer,
            slot: slot.clone(),
            table: table.clone(),
        };
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let table = table.clone();
        tokio::spawn(async move {
            let mut connection = Box::pin(connection);
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::trace!(error = %err, "A connection ended with an error.");
                        }
                        break;
                    }
                    // Picked for closing. `connection` is not being polled
                    // here, so no request can start meanwhile: with none in
                    // flight, dropping it (and its socket) loses nothing. One
                    // that started a request just before keeps serving.
                    () = slot.close.notified() => {
                        if slot.busy.load(Ordering::Acquire) == 0 {
                            tracing::debug!("Closed an idle connection to admit a new one.");
                            break;
                        }
                        slot.evicted.store(false, Ordering::Release);
                    }
                }
            }
            // The socket closes before its permit admits another.
            drop(connection);
            table.remove(&slot);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed `accept`. Errors about one connection (reset before it was
/// accepted) are ignored; anything else (the open-file limit reached after
/// all, by files rather than connections) is logged and retried after a
/// pause rather than spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "Could not accept a connection; pausing for a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        assert_eq!(max_connections_for(1024), 896);
        assert_eq!(max_connections_for(256), 128);
        assert_eq!(max_connections_for(100), 50);
        assert_eq!(max_connections_for(10), MIN_CONNECTIONS);
        assert_eq!(max_connections_for(1 << 20), MAX_CONNECTIONS_CEILING);
        for limit in [64_u64, 512, 1024, 4096, 65_536] {
            assert!((max_connections_for(limit) as u64) < limit, "{limit}");
        }
    }
}
