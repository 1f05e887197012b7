//! Side by side with the reference open-source connector,
//! `airbyte-source-pinterest` 2.1.12 from PyPI, run unmodified: both read
//! the `boards` and `board_pins` streams of the same simulated account, one
//! after the other, on the same machine; records/s, peak RSS and CPU time of
//! each, and the ratios.
//!
//! Pinion's side is the shipped binary: `pinion sync --rate-limit unlimited`
//! (`target/release/pinion`, or `PINION_BIN`), reading with a credential of
//! its own data directory that holds the tokens the simulator issued.
//!
//! Run with `cargo build --release -p pinion && cargo bench -p pinion-sync
//! --bench airbyte`. Needs `python3`
//! (with `venv` and network access to PyPI on the first run), `openssl` and
//! GNU time (`/usr/bin/time`).
//!
//! How the connector reaches the simulator: it hard-codes
//! `https://api.pinterest.com`, so this benchmark makes a throw-away CA and a
//! certificate for `api.pinterest.com` signed by it (openssl), serves the
//! simulator over TLS with it, and runs a small HTTP CONNECT proxy (in this
//! process) that tunnels every `CONNECT` to that TLS port; the connector runs
//! with `HTTPS_PROXY` pointing at the proxy and `REQUESTS_CA_BUNDLE` at the
//! CA. The same simulator (same state, same data) also listens on plain HTTP
//! for `pinion sync`, whose client trusts only the public roots. The
//! connector refreshes its access token from a refresh token obtained
//! through the simulator's OAuth flow, as it would against Pinterest.
//!
//! Environment: `PINION_AIRBYTE_BOARDS` (default 200) and
//! `PINION_AIRBYTE_PINS` (pins per board, default 250) shape the account;
//! `PINION_AIRBYTE_DIR` is the work directory (default
//! `$CARGO_TARGET_DIR/airbyte-compare`, else `target/airbyte-compare`),
//! which keeps the virtualenv between runs. Nothing of the connector is
//! part of this repository.

use std::collections::HashSet;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pinion_simulator::{AccountType, AppSpec, DataShape, Fixtures, SimConfig, UserSpec, server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CONNECTOR: &str = "airbyte-source-pinterest==2.1.12";
const CLIENT_ID: &str = "1484363";
const CLIENT_SECRET: &str = "bench-client-secret-0123456789abcdef";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const USER: &str = "bench";
const SCOPES: &str = "user_accounts:read,boards:read,boards:read_secret,pins:read,pins:read_secret";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn work_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PINION_AIRBYTE_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("airbyte-compare")
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

/// Creates the virtualenv with the connector unless it exists.
fn connector(dir: &Path) -> PathBuf {
    let venv = dir.join("venv");
    let program = venv.join("bin/source-pinterest");
    if !program.exists() {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(venv.join("bin/pip")).args(["install", "-q", CONNECTOR]),
            "pip install",
        );
    }
    program
}

/// A CA and a certificate for api.pinterest.com signed by it.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        run(
            Command::new("openssl")
                .args(args)
                .current_dir(&tls)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "openssl",
        )
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Pinion benchmark CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=api.pinterest.com",
    ]);
    std::fs::write(
        tls.join("leaf.ext"),
        "subjectAltName=DNS:api.pinterest.com\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n\
         authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        tls.join("ca.pem"),
        tls.join("cert.pem"),
        tls.join("key.pem"),
    )
}

/// Tunnels every `CONNECT host:port` to `target`.
async fn connect_proxy(listener: TcpListener, target: SocketAddr) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                if client.read(&mut byte).await.unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            if !head.starts_with(b"CONNECT ") {
                let _ = client
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    .await;
                return;
            }
            let Ok(mut upstream) = TcpStream::connect(target).await else {
                return;
            };
            let _ = upstream.set_nodelay(true);
            let _ = client.set_nodelay(true);
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

/// Access and refresh tokens through the simulator's OAuth flow.
async fn tokens(base: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .get(format!("{base}/oauth/"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("state", "bench"),
            ("username", USER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302, "the authorize page redirects");
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let body: Value = http
        .post(format!("{base}/v5/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A user and a credential of the simulated app in the Pinion data
/// directory `data_dir`, holding `access` and `refresh` as an authorization
/// would have stored them; returns the credential's id.
async fn seed_credential(data_dir: &Path, access: &str, refresh: &str) -> String {
    use pinion_domain::{
        AccessToken, ClientId, ClientSecret, CredentialName, NewCredential, RefreshToken, Role,
        ScopeSet, Username,
    };
    std::fs::create_dir_all(data_dir).unwrap();
    let store = pinion_store::connect(
        data_dir
            .join(pinion_store::DEFAULT_DATABASE_FILE)
            .to_str()
            .unwrap(),
        pinion_store::KeySource::DataDirFile(data_dir.join(pinion_store::keys::DEFAULT_KEY_FILE)),
    )
    .await
    .unwrap()
    .store;
    let user = store
        .create_user(&Username::parse("bench").unwrap(), Role::User)
        .await
        .unwrap();
    let scopes = ScopeSet::parse(SCOPES).unwrap();
    let created = store
        .create_credential(
            &user.id,
            &NewCredential {
                name: CredentialName::parse("Bench").unwrap(),
                description: None,
                client_id: ClientId::parse(CLIENT_ID).unwrap(),
                client_secret: ClientSecret::new(CLIENT_SECRET),
                scopes: scopes.clone(),
            },
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    store
        .replace_tokens(
            &created.id,
            &pinion_store::TokenSet {
                access_token: AccessToken::new(access),
                access_token_expires_at: Some(now + chrono::Duration::days(30)),
                refresh_token: Some(RefreshToken::new(refresh)),
                refresh_token_expires_at: Some(now + chrono::Duration::days(60)),
                granted_scopes: Some(scopes),
            },
            created.version,
        )
        .await
        .unwrap();
    store.close().await;
    created.id.as_str().to_owned()
}

/// What GNU time reported.
#[derive(Debug, Default)]
struct Usage {
    peak_rss_kb: u64,
    cpu_seconds: f64,
}

fn parse_time(text: &str) -> Usage {
    let mut usage = Usage::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("Maximum resident set size (kbytes): ") {
            usage.peak_rss_kb = v.trim().parse().unwrap_or(0);
        }
        for prefix in ["User time (seconds): ", "System time (seconds): "] {
            if let Some(v) = line.strip_prefix(prefix) {
                usage.cpu_seconds += v.trim().parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    usage
}

/// Runs `command` under GNU time; returns wall seconds and usage.
fn timed(command: &mut Command, time_file: &Path, what: &str) -> (f64, Usage) {
    let started = Instant::now();
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    let report = std::fs::read_to_string(time_file).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}); see {report}");
    (seconds, parse_time(&report))
}

async fn requests(http: &reqwest::Client, base: &str) -> u64 {
    let stats: Value = http
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // API reads only (not the token endpoint or the control API).
    stats["endpoints"]
        .as_object()
        .map(|endpoints| {
            endpoints
                .iter()
                .filter(|(route, _)| route.starts_with("GET /v5/"))
                .filter_map(|(_, calls)| calls.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

fn ids_of_jsonl(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    std::io::BufReader::new(file)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let boards = env_number("PINION_AIRBYTE_BOARDS", 200) as u32;
    let pins = env_number("PINION_AIRBYTE_PINS", 250);
    let dir = work_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let source_pinterest = connector(&dir);
    let (ca, cert, key) = certificates(&dir);

    // One simulator state, served on plain HTTP and on TLS.
    let config = SimConfig {
        rate_limits_enabled: false,
        fixtures: Fixtures {
            apps: vec![AppSpec {
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(CLIENT_SECRET.into()),
                name: "Benchmark".into(),
                redirect_uris: vec![REDIRECT.into()],
                owner: Some(USER.into()),
            }],
            users: vec![UserSpec {
                username: USER.into(),
                password: "bench-password".into(),
                account_type: AccountType::Business,
                auto_approve: true,
                data: DataShape {
                    boards,
                    sections_per_board: 0,
                    pins_per_board: pins,
                    pins_per_section: 0,
                    ad_accounts: 0,
                    secret_share: 0.0,
                    protected_share: 0.0,
                    video_share: 0.1,
                },
            }],
        },
        ..SimConfig::default()
    };
    let (router, handle) = pinion_simulator::try_router(config).unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_base = format!("http://{}", plain.local_addr().unwrap());
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = tls.local_addr().unwrap();
    let acceptor = server::tls_acceptor(&cert, &key).unwrap();
    tokio::spawn(server::serve(
        plain,
        router.clone(),
        handle.clone(),
        None,
        std::future::pending(),
    ));
    tokio::spawn(server::serve(
        tls,
        router,
        handle,
        Some(acceptor),
        std::future::pending(),
    ));
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    tokio::spawn(connect_proxy(proxy, tls_addr));
    let http = reqwest::Client::new();

    // The connector: config, catalog of boards and board_pins, read.
    let (_, refresh) = tokens(&plain_base).await;
    let run_dir = dir.join("run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).unwrap();
    let config_path = run_dir.join("config.json");
    std::fs::write(
        &config_path,
        json!({
            "credentials": {
                "auth_method": "oauth2.0",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": refresh,
            },
        })
        .to_string(),
    )
    .unwrap();
    let discovered = Command::new(&source_pinterest)
        .arg("discover")
        .arg("--config")
        .arg(&config_path)
        .output()
        .unwrap();
    let catalog = String::from_utf8_lossy(&discovered.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["type"] == "CATALOG")
        .unwrap_or_else(|| {
            panic!(
                "discover gave no catalog: {}",
                String::from_utf8_lossy(&discovered.stderr)
            )
        });
    let streams: Vec<Value> = catalog["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "boards" || s["name"] == "board_pins")
        .map(|s| {
            json!({
                "stream": s,
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            })
        })
        .collect();
    assert_eq!(streams.len(), 2, "the catalog has boards and board_pins");
    let catalog_path = run_dir.join("catalog.json");
    std::fs::write(&catalog_path, json!({ "streams": streams }).to_string()).unwrap();

    let requests_before = requests(&http, &plain_base).await;
    let airbyte_out = run_dir.join("airbyte.jsonl");
    let airbyte_time = run_dir.join("airbyte.time");
    let (airbyte_seconds, airbyte_usage) = timed(
        Command::new("/usr/bin/time")
            .arg("-v")
            .arg("-o")
            .arg(&airbyte_time)
            .arg(&source_pinterest)
            .arg("read")
            .arg("--config")
            .arg(&config_path)
            .arg("--catalog")
            .arg(&catalog_path)
            .env("HTTPS_PROXY", &proxy_url)
            .env("https_proxy", &proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env("REQUESTS_CA_BUNDLE", &ca)
            .env("SSL_CERT_FILE", &ca)
            .stdout(std::fs::File::create(&airbyte_out).unwrap())
            .stderr(std::fs::File::create(run_dir.join("airbyte.stderr")).unwrap()),
        &airbyte_time,
        "the connector's read",
    );
    let airbyte_requests = requests(&http, &plain_base).await - requests_before;
    let mut airbyte_boards = Vec::new();
    let mut airbyte_pins = Vec::new();
    let mut airbyte_problems = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(&airbyte_out).unwrap()).lines() {
        let message: Value = serde_json::from_str(&line.unwrap()).unwrap_or(Value::Null);
        match message["type"].as_str() {
            Some("RECORD") => {
                let id = message["record"]["data"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                match message["record"]["stream"].as_str() {
                    Some("boards") => airbyte_boards.push(id),
                    Some("board_pins") => airbyte_pins.push(id),
                    _ => {}
                }
            }
            Some("TRACE") if message["trace"]["type"] == "ERROR" => {
                airbyte_problems.push(message["trace"]["error"]["message"].to_string());
            }
            Some("LOG") if message["log"]["level"] == "ERROR" => {
                airbyte_problems.push(message["log"]["message"].to_string());
            }
            _ => {}
        }
    }

    // The shipped `pinion sync`, same streams, same simulator, no
    // client-side rate limit (the simulator's limits are off), reading
    // with a credential of Pinion's own store that holds the tokens the
    // simulator issued.
    let pinion_bin = std::env::var_os("PINION_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/pinion")
        });
    assert!(
        pinion_bin.exists(),
        "{} is missing: build the shipped binary first (cargo build --release -p pinion) or set PINION_BIN",
        pinion_bin.display()
    );
    let (access, refresh) = tokens(&plain_base).await;
    let data_dir = run_dir.join("pinion-data");
    let credential = seed_credential(&data_dir, &access, &refresh).await;
    let out = run_dir.join("pinion");
    let pinion_time = run_dir.join("pinion.time");
    let requests_before = requests(&http, &plain_base).await;
    let (pinion_seconds, pinion_usage) = timed(
        Command::new("/usr/bin/time")
            .arg("-v")
            .arg("-o")
            .arg(&pinion_time)
            .arg(&pinion_bin)
            .args([
                "sync",
                "--credential",
                &credential,
                "--streams",
                "boards,board_pins",
            ])
            .args(["--rate-limit", "unlimited", "--dest"])
            .arg(format!("jsonl:{}", out.display()))
            .env("PINION_DATA_DIR", &data_dir)
            .env("PINTEREST_API_URL", format!("{plain_base}/v5"))
            .env("PINTEREST_OAUTH_URL", format!("{plain_base}/oauth/"))
            .env_remove("PINION_DATABASE_URL")
            .env_remove("PINION_MASTER_KEY")
            .env_remove("PINION_MASTER_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(run_dir.join("pinion.stderr")).unwrap()),
        &pinion_time,
        "pinion sync",
    );
    let pinion_requests = requests(&http, &plain_base).await - requests_before;
    let pinion_boards = ids_of_jsonl(&out.join("boards.jsonl"));
    let pinion_pins = ids_of_jsonl(&out.join("board_pins.jsonl"));

    let expected = u64::from(boards) * (1 + pins);
    let count = |b: &[String], p: &[String]| (b.len() + p.len()) as u64;
    let same = |a: &[String], b: &[String]| {
        a.iter().collect::<HashSet<_>>() == b.iter().collect::<HashSet<_>>()
    };
    let rows = [
        (
            "airbyte-source-pinterest 2.1.12",
            count(&airbyte_boards, &airbyte_pins),
            airbyte_seconds,
            &airbyte_usage,
            airbyte_requests,
        ),
        (
            "Pinion (`pinion sync --rate-limit unlimited`)",
            count(&pinion_boards, &pinion_pins),
            pinion_seconds,
            &pinion_usage,
            pinion_requests,
        ),
    ];
    println!("Account: {boards} boards x {pins} pins ({expected} records: boards + board_pins)");
    println!("| reader | records | seconds | records/s | peak RSS (MB) | CPU seconds | requests |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, records, seconds, usage, requests) in rows {
        println!(
            "| {name} | {records} | {seconds:.2} | {:.0} | {:.1} | {:.2} | {requests} |",
            records as f64 / seconds,
            usage.peak_rss_kb as f64 / 1024.0,
            usage.cpu_seconds,
        );
    }
    let airbyte_rate = count(&airbyte_boards, &airbyte_pins) as f64 / airbyte_seconds;
    let pinion_rate = count(&pinion_boards, &pinion_pins) as f64 / pinion_seconds;
    println!(
        "Pinion / connector: {:.1}x the records/s, {:.2}x the peak RSS, {:.1}x less CPU per record",
        pinion_rate / airbyte_rate,
        pinion_usage.peak_rss_kb as f64 / airbyte_usage.peak_rss_kb.max(1) as f64,
        (airbyte_usage.cpu_seconds / count(&airbyte_boards, &airbyte_pins).max(1) as f64)
            / (pinion_usage.cpu_seconds / count(&pinion_boards, &pinion_pins).max(1) as f64)
    );
    println!(
        "Same records: boards {}, board_pins {}",
        same(&airbyte_boards, &pinion_boards),
        same(&airbyte_pins, &pinion_pins)
    );
    for problem in &airbyte_problems {
        println!("connector reported: {problem}");
    }
    println!("Work directory: {}", run_dir.display());
}
