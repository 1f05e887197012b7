//! Bounds that keep `pinion serve` answering (issue 12, items 6 and 7;
//! SECURITY.md R30), through the binary:
//!
//! - 1,100 slow clients, each trickling one header line every 5 to 10 s,
//!   against a server under an open-file limit of 1,024: `/healthz` still
//!   answers, within a second at least four times in six (every time within
//!   5 s, in about 2 ms on a quiet machine), and the log never says "Too many
//!   open files".
//! - A PostgreSQL database that accepts connections and never answers (a
//!   relay the test switches to blackhole): `/readyz`, an API call and a web
//!   page answer 503 with `Retry-After` within about 2 s, and everything
//!   answers normally again once the database does. Runs when
//!   `PINION_TEST_POSTGRES_URL` names a PostgreSQL server (a fresh database
//!   is created and dropped); otherwise it says it was skipped.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pinion_testkit::{Relay, RelayMode, ServerOutput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const MASTER_KEY: &str = "1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// A `pinion` command on `data_dir` with no ambient settings. With
/// `open_files`, it runs under that open-file limit (`ulimit -n`, soft and
/// hard).
fn pinion(data_dir: &Path, open_files: Option<u32>) -> Command {
    let mut command = match open_files {
        Some(limit) => {
            let mut command = Command::new("bash");
            command.args([
                "-c",
                &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                env!("CARGO_BIN_EXE_pinion"),
            ]);
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_pinion")),
    };
    support::isolated(&mut command, data_dir);
    command.env("PINION_LOG", "info");
    command
}

/// A running `pinion serve`.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Every stderr line the server wrote so far (read in the background).
    output: ServerOutput,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        self.output.text()
    }

    /// Stops the server with SIGTERM and returns its log.
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = self.child.start_kill();
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.log()
    }
}

/// Starts `pinion serve` with `env` and waits until `/readyz` answers 200.
async fn serve(data_dir: &Path, env: &[(&str, &str)], open_files: Option<u32>) -> Served {
    let port = pinion_testkit::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut command = pinion(data_dir, open_files);
    command.args(["serve", "--listen", &addr.to_string()]);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let (output, _) = ServerOutput::collect(child.stderr.take().unwrap());
    let served = Served {
        child,
        addr,
        output,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(response) = http.get(served.url("/readyz")).send().await
            && response.status() == 200
        {
            return served;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered 200; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET /healthz` on a new connection: the time to a complete 200 answer,
/// or why there was none within `limit`.
async fn healthz(addr: SocketAddr, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(limit, exchange).await {
        Err(_) => Err(format!("no answer within {limit:?}")),
        Ok(Err(err)) => Err(format!("failed after {:?}: {err}", started.elapsed())),
        Ok(Ok(answer)) if answer.starts_with(b"HTTP/1.1 200") => Ok(started.elapsed()),
        Ok(Ok(answer)) => Err(format!(
            "answered {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(80)])
        )),
    }
}

/// One slow client: sends a request line and then one header line every 5
/// to 10 s, never finishing; when the server closes the connection, it
/// connects again (at most `ROUNDS` times), until `until`.
async fn slowloris(addr: SocketAddr, index: usize, until: Instant, connected: Arc<AtomicUsize>) {
    const ROUNDS: usize = 3;
    // Spread the pauses over 5-10 s, the same for a given client each run.
    let pause = Duration::from_millis(5_000 + (index as u64 * 7_919) % 5_000);
    for _ in 0..ROUNDS {
        if Instant::now() >= until {
            return;
        }
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        connected.fetch_add(1, Ordering::Relaxed);
        if stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .is_err()
        {
            continue;
        }
        let mut line = 0;
        let mut sink = [0_u8; 512];
        loop {
            let next = (Instant::now() + pause).min(until);
            tokio::select! {
                () = tokio::time::sleep_until(next) => {
                    if Instant::now() >= until {
                        return;
                    }
                    line += 1;
                    let header = format!("X-Slow-{line}: {index}\r\n");
                    if stream.write_all(header.as_bytes()).await.is_err() {
                        break;
                    }
                }
                // The server answered (a 408) or closed: connect again.
                read = stream.read(&mut sink) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        break;
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_under_an_open_file_limit_leave_healthz_answering_within_a_second() {
    const SLOW_CLIENTS: usize = 1_100;
    // The test itself holds every slow connection.
    let own_limit = rlimit_nofile();
    assert!(
        own_limit > SLOW_CLIENTS as u64 + 200,
        "the test needs an open-file limit above {} (it has {own_limit})",
        SLOW_CLIENTS + 200
    );
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[], Some(1024)).await;
    healthz(served.addr, Duration::from_secs(5))
        .await
        .expect("/healthz answers before the slow clients come");

    let until = Instant::now() + Duration::from_secs(40);
    let connected = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..SLOW_CLIENTS)
        .map(|index| tokio::spawn(slowloris(served.addr, index, until, connected.clone())))
        .collect();
    // Every slow client has connected once (the kernel completes the
    // handshake; the server may not have accepted them all).
    let all_in = Instant::now() + Duration::from_secs(30);
    while connected.load(Ordering::Relaxed) < SLOW_CLIENTS {
        assert!(
            Instant::now() < all_in,
            "only {} of {SLOW_CLIENTS} slow clients connected within 30 s",
            connected.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the server take up what it will, then ask it for /healthz while
    // the slow clients hold (and keep reopening) their connections.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A starved server does not answer at all; every probe must answer
    // within 5 s, and most within a second. (Other work on the machine's two
    // cores can delay a single probe past a second; CI saw it while
    // benchmarks ran beside it.)
    let mut times = Vec::new();
    for probe in 0..6 {
        match healthz(served.addr, Duration::from_secs(5)).await {
            Ok(took) => times.push(took),
            Err(why) => panic!(
                "probe {probe}: /healthz with {SLOW_CLIENTS} slow clients: {why}; log:\n{}",
                tail(&served.log())
            ),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!(
        "/healthz under {SLOW_CLIENTS} slow clients ({} connections made): {times:?}",
        connected.load(Ordering::Relaxed)
    );
    let within_a_second = times
        .iter()
        .filter(|took| **took <= Duration::from_secs(1))
        .count();
    assert!(
        within_a_second >= 4,
        "only {within_a_second} of 6 probes answered within a second: {times:?}"
    );
    for client in clients {
        client.abort();
    }
    let log = served.stop().await;
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of file descriptors:\n{}",
        tail(&log)
    );
    assert!(
        log.contains("At the connection limit"),
        "the slow clients never filled the server's connections:\n{}",
        tail(&log)
    );
}

/// Reads from `stream` until the server closes it; returns what it sent.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0_u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    match read {
        Ok(()) => Ok(received),
        Err(_) => Err(format!(
            "still open after {limit:?}; received {:?}",
            String::from_utf8_lossy(&received)
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_and_idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[], None).await;
    // The server's bound is 10 s; a loaded machine gets some slack.
    let limit = Duration::from_secs(20);

    // Headers that never finish: one line every 3 s, until the server
    // closes the connection.
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let trickle = async {
        let mut sink = [0_u8; 512];
        let mut line = 0;
        while started.elapsed() < limit {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3)) => {
                    line += 1;
                    let header = format!("X-Slow-{line}: 1\r\n");
                    if slow.write_all(header.as_bytes()).await.is_err() {
                        return Some(started.elapsed());
                    }
                }
                read = slow.read(&mut sink) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return Some(started.elapsed());
                    }
                }
            }
        }
        None
    };
    // A keep-alive connection that asks once and then says nothing.
    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let idle_started = Instant::now();
    let idle_closed = async {
        let answer = until_closed(&mut idle, limit).await;
        (answer, idle_started.elapsed())
    };
    let (slow_closed, (idle_answer, idle_took)) = tokio::join!(trickle, idle_closed);
    let idle_answer = idle_answer.expect("the idle keep-alive connection is closed");
    assert!(
        idle_answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&idle_answer)
    );
    let slow_took = slow_closed.unwrap_or_else(|| {
        panic!("the connection trickling headers was still open after {limit:?}")
    });
    eprintln!("trickling headers closed after {slow_took:?}, idle keep-alive after {idle_took:?}");
    served.stop().await;
}

#[tokio::test]
async fn a_bad_acquire_timeout_is_refused_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["soon", "0", "-5", "600001"] {
        let output = pinion(dir.path(), None)
            .args(["users", "list"])
            .env("PINION_DATABASE_ACQUIRE_TIMEOUT_MS", bad)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{bad}: {stderr}");
        assert!(
            stderr.contains("PINION_DATABASE_ACQUIRE_TIMEOUT_MS must be a whole number"),
            "{bad}: {stderr}"
        );
    }
    let output = pinion(dir.path(), None)
        .args(["users", "list"])
        .env("PINION_DATABASE_ACQUIRE_TIMEOUT_MS", "2500")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// The last 40 lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<_> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// This process's soft open-file limit, raised to the hard limit.
fn rlimit_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// A response's status, `Retry-After`, body and how long it took.
struct Timed {
    status: u16,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

async fn timed(request: reqwest::RequestBuilder) -> Timed {
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(30), request.send())
        .await
        .expect("an answer within 30 s")
        .expect("an HTTP answer");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    Timed {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_database_gets_503_with_retry_after_within_two_seconds_then_recovers() {
    // Generous for a loaded machine; the server's own bound is 1.5 s.
    const BOUND: Duration = Duration::from_millis(3_500);
    let Some(database) = support::TestDatabase::create("the blackholed-database test") else {
        return;
    };
    let relay = Relay::start(database.server_addr()).await.unwrap();
    let relayed = database.url_via(relay.port());

    let dir = tempfile::tempdir().unwrap();
    let direct = database.url.clone();
    // A user and an API token, straight to the database.
    let created = pinion(dir.path(), None)
        .args(["users", "create", "--username", "operator", "--json"])
        .env("PINION_DATABASE_URL", &direct)
        .env("PINION_MASTER_KEY", MASTER_KEY)
        .output()
        .await
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let token = created["api_token"].as_str().unwrap().to_owned();

    let served = serve(
        dir.path(),
        &[
            ("PINION_DATABASE_URL", relayed.as_str()),
            ("PINION_MASTER_KEY", MASTER_KEY),
        ],
        None,
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api = || http.get(served.url("/api/v1/tokens")).bearer_auth(&token);
    // A session the database has never seen: looking it up needs the database.
    let page = || {
        http.get(served.url("/credentials")).header(
            "cookie",
            "pinion_session=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
    };
    assert_eq!(timed(api()).await.status, 200);
    assert_eq!(timed(page()).await.status, 303);

    relay.set_mode(RelayMode::Blackhole);
    let ready = timed(http.get(served.url("/readyz"))).await;
    let listed = timed(api()).await;
    let paged = timed(page()).await;
    eprintln!(
        "blackholed: /readyz {} in {:?}, API {} in {:?}, page {} in {:?}",
        ready.status, ready.took, listed.status, listed.took, paged.status, paged.took
    );
    for (what, answer) in [
        ("/readyz", &ready),
        ("the API", &listed),
        ("the page", &paged),
    ] {
        assert_eq!(answer.status, 503, "{what}: {}", answer.body);
        assert!(answer.took < BOUND, "{what} took {:?}", answer.took);
        assert!(
            answer
                .retry_after
                .as_deref()
                .is_some_and(|s| s.parse::<u32>().is_ok()),
            "{what} had no Retry-After"
        );
    }
    let error: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(error["error"]["code"], "unavailable", "{error}");
    assert!(paged.body.contains("Try again"), "{}", paged.body);

    relay.set_mode(RelayMode::Forward);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = timed(http.get(served.url("/readyz"))).await;
        if ready.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {} 30 s after the database came back",
            ready.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = timed(api()).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(timed(page()).await.status, 303);
    let log = served.stop().await;
    assert!(!log.contains("Request failed."), "a 500 was logged:\n{log}");
}
