//! Serving benchmark: pins served per second at `page_size=250` over real HTTP keep-alive
//! on loopback, and the simulator's peak resident memory while it serves a
//! 1,000,000-pin board end to end.
//!
//! The simulator runs in a child process (this same binary, started with
//! `PINION_SIM_BENCH_CHILD=1`) so that its memory can be read from `/proc/<pid>/status`
//! (`VmHWM`) without the load generator's own memory in the figure. The load generator
//! walks the board by following bookmarks, several walks at once, each over its own
//! keep-alive connection. Run it with `cargo bench -p pinion-simulator --bench serve`;
//! `PINION_SIM_BENCH_WALKS` sets the number of concurrent walks (default 2).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pinion_simulator::config::{DEMO_CLIENT_ID, DEMO_REDIRECT_URI, DEMO_USERNAME};
use pinion_simulator::{DataShape, Fixtures, SimConfig};

const CHILD_ENV: &str = "PINION_SIM_BENCH_CHILD";
const PINS: u64 = 1_000_000;

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(parent());
}

fn bench_config() -> SimConfig {
    let mut fixtures = Fixtures::demo(0);
    fixtures.users[0].data = DataShape::single_board(PINS);
    fixtures.users[0].auto_approve = true;
    SimConfig {
        rate_limits_enabled: false,
        fixtures,
        ..SimConfig::default()
    }
}

/// The simulator process: serves until its standard input closes.
fn child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let sim = pinion_simulator::spawn(bench_config())
            .await
            .expect("the simulator starts");
        println!("PORT {}", sim.addr().port());
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .expect("stdin watcher");
        sim.shutdown().await;
    });
}

/// Reads `VmHWM` and `VmRSS` (kB) of a process.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Counts the pins of a page and extracts its bookmark without a full JSON parse; the
/// simulator writes `bookmark` last and each pin's `id` first.
fn scan_page(body: &[u8]) -> (u64, Option<String>) {
    let text = std::str::from_utf8(body).expect("UTF-8 body");
    let pins = text.matches("{\"id\":\"").count() as u64;
    let tail = &text[text.rfind("\"bookmark\":").expect("a bookmark field") + 11..];
    let bookmark = tail
        .strip_prefix('"')
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned);
    (pins, bookmark)
}

async fn walk(http: reqwest::Client, url: String, token: String) -> (u64, u64, Vec<Duration>) {
    let mut pins = 0;
    let mut pages = 0;
    let mut latencies = Vec::with_capacity(4_100);
    let mut bookmark: Option<String> = None;
    loop {
        let mut req = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("page_size", "250")]);
        if let Some(b) = &bookmark {
            req = req.query(&[("bookmark", b)]);
        }
        let started = Instant::now();
        let res = req.send().await.expect("the page request succeeds");
        assert_eq!(res.status().as_u16(), 200, "pages are served");
        let body = res.bytes().await.expect("the page body arrives");
        latencies.push(started.elapsed());
        let (n, next) = scan_page(&body);
        pins += n;
        pages += 1;
        match next {
            Some(b) => bookmark = Some(b),
            None => return (pins, pages, latencies),
        }
    }
}

async fn parent() {
    let walks: usize = std::env::var("PINION_SIM_BENCH_WALKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let exe = std::env::current_exe().expect("the bench binary path");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the simulator process starts");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("the child reports its port");
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .expect("a port line");
    let base = format!("http://127.0.0.1:{port}");
    let (idle_hwm, _) = memory_kb(pid);

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let auth = http
        .get(format!("{base}/oauth/"))
        .query(&[
            ("client_id", DEMO_CLIENT_ID),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "boards:read,pins:read"),
            ("username", DEMO_USERNAME),
        ])
        .send()
        .await
        .expect("authorize answers");
    let location = auth.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("a code")
        .1
        .into_owned();
    let secret = Fixtures::demo(0).apps[0].client_secret.clone().unwrap();
    let tokens: serde_json::Value = http
        .post(format!("{base}/v5/oauth/token"))
        .basic_auth(DEMO_CLIENT_ID, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", DEMO_REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token answers")
        .json()
        .await
        .expect("token JSON");
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let boards: serde_json::Value = http
        .get(format!("{base}/v5/boards"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board = boards["items"][0]["id"].as_str().unwrap().to_owned();
    let url = format!("{base}/v5/boards/{board}/pins");

    println!("Serving benchmark: {walks} concurrent walks of a {PINS}-pin board, page_size=250");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..walks {
        // One client per walk: each walk keeps its own keep-alive connection.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("an HTTP client");
        tasks.push(tokio::spawn(walk(client, url.clone(), token.clone())));
    }
    let mut pins = 0;
    let mut pages = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let (p, n, l) = task.await.expect("a walk finishes");
        assert_eq!(p, PINS, "each walk sees every pin exactly once");
        pins += p;
        pages += n;
        latencies.extend(l);
    }
    let elapsed = started.elapsed();
    let (hwm, rss) = memory_kb(pid);
    latencies.sort();
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!("  pins served:         {pins}");
    println!("  pages:               {pages}");
    println!("  elapsed:             {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput:          {:.0} pins/s ({:.0} pages/s)",
        pins as f64 / elapsed.as_secs_f64(),
        pages as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  page latency:        p50 {:.2} ms, p99 {:.2} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!(
        "  simulator RSS idle:  {:.1} MB (VmHWM before the walks)",
        idle_hwm as f64 / 1024.0
    );
    println!(
        "  simulator peak RSS:  {:.1} MB (VmHWM)",
        hwm as f64 / 1024.0
    );
    println!(
        "  simulator RSS after: {:.1} MB (VmRSS)",
        rss as f64 / 1024.0
    );

    drop(child.stdin.take());
    let _ = child.wait();
}
