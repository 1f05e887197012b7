//! HTTP benchmark (issue 6): `GET /api/v1/credentials` (50 credentials,
//! bearer token) and the credentials page (session cookie) against a bare
//! axum "hello" route, on SQLite and, when `PINION_BENCH_POSTGRES_URL` is
//! set, PostgreSQL; all served by this process on loopback.
//!
//! For each target: the maximum rate with `wrk` (closed loop, `WRK_THREADS`
//! threads, `WRK_CONNECTIONS` connections, `WRK_SECONDS` seconds; requests/s
//! and p99), then an open-loop run at a fixed 1,000 requests/s for 5 s whose
//! latencies are measured from each request's scheduled start (so a stall
//! counts against every request it delays), reporting p50/p99/max.
//!
//! Last, the ratio the target is stated in: `RATIO_ROUNDS` (5) rounds of
//! the credentials API for `RATIO_SECONDS` (5) and straight after it `hello`
//! for as long, each round's ratio from its own pair, and the median
//! over the rounds. On a shared machine `hello` alone swings by a third
//! from one minute to the next; a ratio taken from adjacent measurements
//! is far steadier than one taken from two runs minutes apart.
//!
//! The credentials API is then measured again while the store takes 10
//! writes a second (activity entries, each moving the change feed as a
//! sync run's progress commit does, which happens every 500 ms per stream):
//! the cost of answering from the database after each write.
//!
//! Run: `cargo bench -p pinion-server --bench http` (needs `wrk` on PATH:
//! `apt-get install wrk`). Figures go in BENCHMARKS.md.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use pinion_domain::{CredentialInput, Password, Role, Username};
use pinion_server::{Application, Settings};
use pinion_store::{KeySource, Keyring, Store};

const CREDENTIALS: usize = 50;
const FIXED_RATE: u64 = 1_000;
const FIXED_SECONDS: u64 = 5;

#[derive(Clone)]
struct Target {
    name: String,
    url: String,
    header: Option<String>,
}

/// A fixed key, so a PostgreSQL database can be benchmarked again.
fn keys() -> KeySource {
    KeySource::Given(Arc::new(
        Keyring::from_keys([(1, zeroize::Zeroizing::new([7u8; 32]))]).unwrap(),
    ))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Parses a wrk duration such as `850.00us`, `3.21ms` or `1.02s` into ms.
fn wrk_ms(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Runs wrk against `target` for `WRK_SECONDS`; returns (requests/s, p99 ms,
/// non-2xx count).
fn wrk(target: &Target) -> (f64, f64, u64) {
    wrk_for(target, &env_or("WRK_SECONDS", "10"))
}

/// Runs wrk against `target` for `seconds`.
fn wrk_for(target: &Target, seconds: &str) -> (f64, f64, u64) {
    let mut command = Command::new("wrk");
    command.args([
        "-t",
        &env_or("WRK_THREADS", "2"),
        "-c",
        &env_or("WRK_CONNECTIONS", "32"),
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(header) = &target.header {
        command.args(["-H", header]);
    }
    let output = command
        .arg(&target.url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut rps = f64::NAN;
    let mut p99 = f64::NAN;
    let mut bad = 0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = rest.trim().parse().unwrap_or(f64::NAN);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = wrk_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            bad = rest.trim().parse().unwrap_or(0);
        }
    }
    (rps, p99, bad)
}

/// Open loop at `FIXED_RATE` requests/s; latencies from scheduled start, in ms.
async fn fixed_rate(target: &Target) -> (f64, f64, f64, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let header = target.header.as_ref().map(|h| {
        h.split_once(": ")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .unwrap()
    });
    // Warm the connection pool.
    for _ in 0..50 {
        let mut request = client.get(&target.url);
        if let Some((k, v)) = &header {
            request = request.header(k, v);
        }
        let _ = request.send().await.unwrap().bytes().await;
    }
    let total = (FIXED_RATE * FIXED_SECONDS) as usize;
    let interval = Duration::from_nanos(1_000_000_000 / FIXED_RATE);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let mut request = client.get(&target.url);
        if let Some((k, v)) = &header {
            request = request.header(k, v);
        }
        tasks.push(tokio::spawn(async move {
            let ok = match request.send().await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.bytes().await.is_ok() && ok
                }
                Err(_) => false,
            };
            (scheduled.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for task in tasks {
        let (latency, ok) = task.await.unwrap();
        if !ok {
            failed += 1;
        }
        latencies.push(latency.as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (pick(0.50), pick(0.99), *latencies.last().unwrap(), failed)
}

/// Writes to a store in the background while a target is measured.
struct Churn {
    label: String,
    store: Arc<dyn Store>,
    credential: pinion_domain::Credential,
    user: pinion_domain::UserId,
}

impl Churn {
    /// Appends an activity entry every 100 ms until the task is aborted.
    fn start(&self) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let credential = self.credential.clone();
        let user = self.user.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                store
                    .append_activity(&pinion_store::NewActivity {
                        credential_id: credential.id.clone(),
                        credential_name: credential.name.to_string(),
                        actor_id: Some(user.clone()),
                        actor: "bench".into(),
                        event: pinion_store::ActivityEvent::Checked,
                        subject: None,
                        detail: None,
                    })
                    .await
                    .unwrap();
            }
        })
    }
}

/// A fresh server on `store` with one user, 50 credentials, an API token
/// and a browser session; returns the two targets and a writer for the
/// API target's second measurement.
async fn pinion_targets(label: &str, store: Arc<dyn Store>) -> (Vec<Target>, Stop, Churn) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let username = format!("bench{:x}", nanos % 0xffff_ffff);
    let (user, token) = store
        .create_user_with_token(&Username::parse(&username).unwrap(), Role::User)
        .await
        .unwrap();
    let credentials = pinion_service::Credentials::new(store.clone());
    let mut first = None;
    for i in 0..CREDENTIALS {
        let created = credentials
            .create(
                &user,
                &user.id,
                &CredentialInput {
                    name: format!("Credential {i:02}"),
                    description: Some("Benchmark credential".into()),
                    client_id: format!("{}", 1_000_000 + i),
                    client_secret: Some(pinion_domain::ClientSecret::new(format!(
                        "bench-secret-{i}"
                    ))),
                    scopes: None,
                },
            )
            .await
            .unwrap();
        first.get_or_insert(created);
    }
    let churn = Churn {
        label: label.to_owned(),
        store: store.clone(),
        credential: first.expect("a credential"),
        user: user.id.clone(),
    };
    let sessions =
        pinion_service::Sessions::new(store.clone(), Arc::new(pinion_domain::SystemClock));
    let password = Password::new("bench-password-long-enough".to_owned());
    sessions
        .set_password(pinion_service::Actor::Operator, &username, &password)
        .await
        .unwrap();
    let signed_in = sessions
        .sign_in(&username, &password)
        .await
        .unwrap()
        .expect("signed in");
    let pinion = pinion_service::Pinion::with_store(
        store,
        pinion_service::Settings::new(Settings::parse_public_url("http://127.0.0.1:8080").unwrap()),
    )
    .unwrap();
    let mut settings = Settings::new("127.0.0.1:0".parse().unwrap());
    settings.refresher = None;
    let app = Application::build(settings, pinion).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    let targets = vec![
        Target {
            name: format!("GET /api/v1/credentials ({label}, 50, bearer)"),
            url: format!("{base}/api/v1/credentials"),
            header: Some(format!("Authorization: Bearer {}", token.expose_secret())),
        },
        Target {
            name: format!("GET /credentials page ({label}, 50, session)"),
            url: format!("{base}/credentials"),
            header: Some(format!(
                "Cookie: pinion_session={}",
                signed_in.token.expose_secret()
            )),
        },
    ];
    (targets, Stop(Some(tx)), churn)
}

struct Stop(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A bare axum server: `GET /hello`, and `GET /static` answering `body` as
/// JSON, the ceiling for any route that sends that many bytes.
async fn bare(body: axum::body::Bytes) -> (Target, Target, Stop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let size = body.len();
    let router = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .route(
            "/static",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (
        Target {
            name: "GET /hello (bare axum)".into(),
            url: format!("http://{addr}/hello"),
            header: None,
        },
        Target {
            name: format!("GET /static (bare axum, the API's {size} bytes)"),
            url: format!("http://{addr}/static"),
            header: None,
        },
        Stop(Some(tx)),
    )
}

/// The body `target` answers now.
async fn body_of(target: &Target) -> axum::body::Bytes {
    let mut request = reqwest::Client::new().get(&target.url);
    if let Some((k, v)) = target.header.as_ref().and_then(|h| h.split_once(": ")) {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", target.name);
    response.bytes().await.unwrap()
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = pinion_store::connect(dir.path().join("pinion.db").to_str().unwrap(), keys())
        .await
        .unwrap()
        .store;
    let mut stops = Vec::new();
    let (sqlite_targets, stop, churn) = pinion_targets("SQLite", sqlite).await;
    let mut churned = vec![(sqlite_targets[0].clone(), churn)];
    let mut api_targets = vec![sqlite_targets[0].clone()];
    stops.push(stop);
    let api_body = body_of(&sqlite_targets[0]).await;
    let (hello, same_bytes, bare_stop) = bare(api_body).await;
    stops.push(bare_stop);
    let mut targets = vec![hello, same_bytes];
    targets.extend(sqlite_targets);
    if let Ok(url) = std::env::var("PINION_BENCH_POSTGRES_URL") {
        let pg = pinion_store::connect(&url, keys())
            .await
            .expect("PINION_BENCH_POSTGRES_URL names a fresh database")
            .store;
        let (pg_targets, stop, churn) = pinion_targets("PostgreSQL", pg).await;
        churned.push((pg_targets[0].clone(), churn));
        api_targets.push(pg_targets[0].clone());
        targets.extend(pg_targets);
        stops.push(stop);
    }
    println!(
        "| target | wrk req/s | wrk p99 (ms) | at {FIXED_RATE}/s p50 (ms) | p99 (ms) | max (ms) | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for target in &targets {
        measure(target).await;
    }
    for (target, churn) in &churned {
        let writer = churn.start();
        measure(&Target {
            name: format!(
                "GET /api/v1/credentials ({}, 50, bearer, 10 writes/s)",
                churn.label
            ),
            ..target.clone()
        })
        .await;
        writer.abort();
    }
    ratios(&targets[0], &api_targets);
}

/// Measures `target` with wrk and at the fixed rate; prints a table row.
async fn measure(target: &Target) {
    let (rps, p99, bad) = wrk(target);
    let (f50, f99, fmax, failed) = fixed_rate(target).await;
    println!(
        "| {} | {rps:.0} | {p99:.2} | {f50:.2} | {f99:.2} | {fmax:.1} | {} |",
        target.name,
        bad as usize + failed
    );
}

/// Prints, for each of `targets`, its requests/s over `hello`'s in rounds of
/// adjacent measurements, and the median of the rounds.
fn ratios(hello: &Target, targets: &[Target]) {
    let rounds: usize = env_or("RATIO_ROUNDS", "5").parse().expect("RATIO_ROUNDS");
    let seconds = env_or("RATIO_SECONDS", "5");
    println!();
    println!("| target | round ratios (target / hello req/s) | median |");
    println!("|---|---|---:|");
    for target in targets {
        let mut ratios: Vec<f64> = (0..rounds)
            .map(|_| wrk_for(target, &seconds).0 / wrk_for(hello, &seconds).0)
            .collect();
        let shown: Vec<String> = ratios
            .iter()
            .map(|r| format!("{:.1}%", r * 100.0))
            .collect();
        ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| {} | {} | {:.1}% |",
            target.name,
            shown.join(", "),
            ratios[ratios.len() / 2] * 100.0
        );
    }
}
