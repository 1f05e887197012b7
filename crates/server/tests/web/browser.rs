//! The whole flow in headless Chromium, driven over WebDriver (chromedriver)
//! with fantoccini: sign in; New data source; Add Credential; fill the
//! overlay; Authorize; sign in and Give access on the simulator's real pages;
//! back in the overlay see the account and granted scopes; Save; see the tile
//! selected on the Authenticate screen; Continue, pick streams and create the
//! source; Run it and see the counts per stream. Add Credential opens the
//! overlay as a modal dialog (JavaScript). Also: Decline on the consent page
//! shows a clear message; a credential whose grant was revoked on Pinterest
//! shows Needs reauthorization on its tile after Check, and the tile's
//! Reauthorize makes it Active again. On a phone (390 × 844, Chromium's
//! device emulation) the same walk and every page of the navigation fit the
//! screen's width with the navigation in reach. From an empty install, a
//! user schedules a source and publishes pins from a destination's page
//! without the CLI (issue 15). axe-core runs on every
//! Pinion page these tests visit and must find no serious or critical
//! violation.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`CHROMEDRIVER` and
//! `CHROMIUM` override the paths) and axe-core's `axe.min.js`
//! (`PINION_AXE_JS`; `scripts/test` installs all three). Every step saves a
//! screenshot under `target/screenshots/` at the workspace root
//! (git-ignored).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::helpers::{PASSWORD, PINNER, PINNER_PASSWORD, TestApp, spawn_app, spawn_empty_app};

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
    profile_path: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

/// Starts chromedriver on a free loopback port and waits until it listens.
fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot start {path} ({err}); install Debian's chromium and chromium-driver, or run the tests with scripts/test, which does")
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap();
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile_path: profile.path().to_owned(),
        _profile: profile,
    }
}

async fn open_browser(driver: &Driver) -> Client {
    open_browser_at(driver, (1280, 900)).await
}

/// A headless Chromium whose window is `width` × `height` CSS pixels.
async fn open_browser_at(driver: &Driver, (width, height): (u32, u32)) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .chain([
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", driver.profile_path.display()),
    ])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        // A desktop window cannot be narrower than 500 px; a phone's
        // viewport is emulated (metrics only, with a touch screen).
        if width < 500 {
            serde_json::json!({
                "binary": tool("CHROMIUM", "/usr/bin/chromium"),
                "args": args,
                "mobileEmulation": {
                    "deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": true},
                },
            })
        } else {
            serde_json::json!({
                "binary": tool("CHROMIUM", "/usr/bin/chromium"),
                "args": args,
            })
        },
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// Saves a screenshot of the current page as `target/screenshots/{name}.png`.
async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The first element matching `css`, waiting up to 10 s for it to appear:
/// after a form submit that redirects to another site (Pinion to the
/// simulator's consent page), Chromium can answer the next command before
/// the new page has loaded.
async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no `{css}` on the page: {err}"))
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = element(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    element(client, css).await.click().await.unwrap();
}

/// The text of the first element matching `css`, waiting for it to appear.
/// Pages that update themselves (the live run page) may replace the element
/// between finding it and reading it; that read is tried again for up to 10 s.
async fn text_of(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let element = element(client, css).await;
        // Chromium reports a replaced element either as a stale reference
        // or as a node that no longer belongs to the document; both are read
        // again from a fresh find.
        match element.text().await {
            Ok(text) => return text,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("reading `{css}`: {err}"),
        }
    }
}

/// Waits until the browser is at a URL whose path is `path`.
async fn wait_for_path(client: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.current_url().await.unwrap().path() == path {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser never reached {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn path_of(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Signs in to Pinion and fills the overlay up to Authorize.
async fn sign_in_and_fill_the_overlay(client: &Client, app: &TestApp, prefix: &str) {
    client
        .goto(&format!("{}/sources/new", app.address))
        .await
        .unwrap();
    assert_eq!(
        path_of(client).await,
        "/sign-in",
        "anonymous users are sent to sign in"
    );
    fill(client, "#username", "alice").await;
    fill(client, "#password", PASSWORD).await;
    screenshot(client, &format!("{prefix}01-sign-in")).await;
    assert_accessible(client).await;
    click(client, "form[action='/sign-in'] button[type=submit]").await;
    wait_for_path(client, "/credentials").await;
    assert_eq!(text_of(client, "h1").await, "Credentials");
    fill_the_overlay(client, app, prefix).await;
}

/// From a signed-in page: New data source, Add Credential, and the overlay
/// filled and sent up to Pinterest's consent page.
async fn fill_the_overlay(client: &Client, app: &TestApp, prefix: &str) {
    click(client, "header nav a[href='/sources/new']").await;
    wait_for_path(client, "/sources/new").await;
    assert_eq!(text_of(client, "h1").await, "New data source");
    screenshot(client, &format!("{prefix}02-authenticate-screen")).await;
    assert_accessible(client).await;

    // With JavaScript, Add Credential opens the overlay as a modal dialog
    // on the Authenticate screen.
    click(client, "a.tile.add").await;
    assert_eq!(
        text_of(client, "dialog.overlay-dialog[open] #overlay-title").await,
        "Add New Credential"
    );
    assert_eq!(path_of(client).await, "/sources/new");
    // The dialog holds the focus, and Escape closes it; Add Credential
    // opens it again.
    let focus_inside = client
        .execute(
            "return document.querySelector('dialog.overlay-dialog[open]').contains(document.activeElement);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        focus_inside,
        serde_json::json!(true),
        "focus is in the dialog"
    );
    client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .execute(
            "return document.querySelector('dialog.overlay-dialog') !== null;",
            vec![],
        )
        .await
        .unwrap()
        != serde_json::json!(false)
    {
        assert!(
            Instant::now() < deadline,
            "Escape did not close the overlay"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    click(client, "a.tile.add").await;
    assert_eq!(
        text_of(client, "dialog.overlay-dialog[open] #overlay-title").await,
        "Add New Credential"
    );
    // The Access Scope picker lists every scope; the default ones are checked.
    let scopes = client
        .execute(
            "const boxes = [...document.querySelectorAll('dialog #scopes input[type=checkbox]')];
             return [boxes.length, boxes.filter(b => b.checked).map(b => b.name.slice(6))];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        scopes,
        serde_json::json!([19, ["boards:read", "pins:read", "user_accounts:read"]])
    );
    fill(client, "#name", "Marketing boards").await;
    fill(
        client,
        "#description",
        "Read-only access for the weekly report",
    )
    .await;
    fill(client, "#client_id", &app.client_id).await;
    fill(client, "#client_secret", &app.client_secret).await;
    screenshot(client, &format!("{prefix}03-overlay-filled")).await;
    assert_accessible(client).await;
    click(client, "button[name=action][value=authorize]").await;

    // The simulator's real sign-in page.
    text_of(client, "input[name=username]").await;
    fill(client, "input[name=username]", PINNER).await;
    fill(client, "input[name=password]", PINNER_PASSWORD).await;
    screenshot(client, &format!("{prefix}04-pinterest-sign-in")).await;
    click(client, "button[type=submit]").await;
    text_of(client, "button[name=decision][value=accept]").await;
    screenshot(client, &format!("{prefix}05-pinterest-consent")).await;
}

#[tokio::test]
async fn a_new_user_adds_authorizes_and_saves_a_credential_in_a_real_browser() {
    let app = spawn_app().await;
    let driver = start_driver();
    let client = open_browser(&driver).await;

    sign_in_and_fill_the_overlay(&client, &app, "flow-").await;
    click(&client, "button[name=decision][value=accept]").await;

    // Back in the overlay: the account and the granted scopes.
    text_of(&client, "#overlay-title").await;
    let notice = text_of(&client, ".notice.authorized").await;
    assert!(notice.contains("Authorized as pinner"), "{notice}");
    assert!(
        notice.contains("boards:read,pins:read,user_accounts:read"),
        "{notice}"
    );
    let path = path_of(&client).await;
    assert!(
        path.ends_with("/edit?authorized=1&return_to=/sources/new"),
        "back to the overlay, then where the user started: {path}"
    );
    assert_eq!(text_of(&client, ".secret-state").await, "set");
    screenshot(&client, "flow-06-overlay-authorized").await;
    assert_accessible(&client).await;
    let source = client.source().await.unwrap();
    assert!(
        !source.contains(&app.client_secret),
        "the secret is in the page"
    );

    click(&client, "button[name=action][value=save]").await;
    let selected = text_of(&client, ".tile.selected h2").await;
    assert_eq!(selected, "Marketing boards");
    let checked = client
        .find(Locator::Css(".tile.selected input[type=radio]"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(checked.as_deref(), Some("true"));
    assert_eq!(text_of(&client, ".tile.selected .status").await, "Active");
    assert!(path_of(&client).await.starts_with("/sources/new?selected="));
    screenshot(&client, "flow-07-tile-selected").await;
    assert_accessible(&client).await;

    // Continue to the streams and output, and create the source.
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources/new/configure").await;
    assert_eq!(
        text_of(&client, "strong.credential").await,
        "Marketing boards"
    );
    fill(&client, "#name", "Weekly board report").await;
    click(&client, "input[name=streams][value=pins]").await;
    fill(&client, "#output_path", "weekly").await;
    screenshot(&client, "flow-08-source-streams").await;
    assert_accessible(&client).await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources").await;
    assert_eq!(
        text_of(&client, ".tile.source.selected h2").await,
        "Weekly board report"
    );
    assert_eq!(
        text_of(&client, ".tile.source.selected .streams").await,
        "boards, board_pins, pins"
    );
    screenshot(&client, "flow-09-source-created").await;
    assert_accessible(&client).await;

    // Run it and watch the counts per stream.
    click(&client, ".tile.source.selected form.run button").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = text_of(&client, ".run-status").await;
        if status == "Succeeded" {
            break;
        }
        assert_ne!(status, "Failed", "the run failed");
        assert!(Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(path_of(&client).await.contains("/runs/run_"));
    for stream in ["boards", "board_pins", "pins"] {
        let records = text_of(&client, &format!("tr[data-stream={stream}] .records")).await;
        let records: u64 = records.parse().unwrap();
        assert!(records > 0, "{stream}: {records}");
    }
    screenshot(&client, "flow-10-run-finished").await;
    assert_accessible(&client).await;

    client.close().await.unwrap();
}

#[tokio::test]
async fn declining_on_the_consent_page_shows_a_clear_message() {
    let app = spawn_app().await;
    let driver = start_driver();
    let client = open_browser(&driver).await;

    sign_in_and_fill_the_overlay(&client, &app, "decline-").await;
    click(&client, "button[name=decision][value=decline]").await;
    wait_for_path(&client, "/oauth/pinterest/callback").await;
    let heading = text_of(&client, "h1").await;
    assert_eq!(heading, "Authorization did not complete");
    let message = text_of(&client, "p").await;
    assert!(
        message.contains("Access was not granted on Pinterest"),
        "{message}"
    );
    screenshot(&client, "decline-06-message").await;
    assert_accessible(&client).await;
    // The page is in Pinion's style and leads back to the credential.
    assert_eq!(
        text_of(&client, "main.narrow a").await,
        "Back to the credential's settings"
    );
    click(&client, "main.narrow a").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path_of(&client).await.ends_with("/edit") {
        assert!(
            Instant::now() < deadline,
            "the link did not lead to the settings"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(path_of(&client).await.starts_with("/credentials/cred_"));

    // The credential was stored and still waits for an authorization.
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    assert_eq!(text_of(&client, ".tile h2").await, "Marketing boards");
    assert_eq!(
        text_of(&client, ".tile .status").await,
        "Not yet authorized"
    );
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_revoked_credentials_tile_says_needs_reauthorization_and_reauthorize_fixes_it() {
    let app = spawn_app().await;
    let driver = start_driver();
    let client = open_browser(&driver).await;

    sign_in_and_fill_the_overlay(&client, &app, "revoked-").await;
    click(&client, "button[name=decision][value=accept]").await;
    text_of(&client, ".notice.authorized").await;
    click(&client, "button[name=action][value=save]").await;
    assert_eq!(text_of(&client, ".tile.selected .status").await, "Active");

    // The user removes Pinion under Connected apps on Pinterest.
    app.sim
        .control()
        .revoke_grant(PINNER, &app.client_id)
        .await
        .unwrap();

    // Check, from the credential's information screen, finds out.
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    click(&client, ".tile .actions a[href$='/info']").await;
    text_of(&client, "h2#used-by").await;
    click(&client, "form[action$='/check'] button").await;
    assert_eq!(
        text_of(&client, "td span.status").await,
        "Needs reauthorization"
    );

    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    assert_eq!(
        text_of(&client, ".tile .status").await,
        "Needs reauthorization"
    );
    let reason = text_of(&client, ".tile .reason").await;
    assert!(!reason.is_empty(), "the tile gives the reason");
    let button = text_of(&client, ".tile .actions form button").await;
    assert_eq!(button, "Reauthorize");
    screenshot(&client, "revoked-06-needs-reauthorization").await;
    assert_accessible(&client).await;

    // Reauthorize: the simulator still knows the browser, so its consent
    // page comes straight away.
    click(&client, ".tile .actions form button").await;
    click(&client, "button[name=decision][value=accept]").await;
    let notice = text_of(&client, ".notice.authorized").await;
    assert!(notice.contains("Authorized as pinner"), "{notice}");
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    assert_eq!(text_of(&client, ".tile .status").await, "Active");
    screenshot(&client, "revoked-07-active-again").await;
    assert_accessible(&client).await;
    client.close().await.unwrap();
}

/// axe-core's browser build (`axe.min.js`, from the npm registry):
/// `PINION_AXE_JS`, else where `scripts/test` installs it.
fn axe_source() -> String {
    let path = std::env::var_os("PINION_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/pinion/axe-core-4.14.1/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the accessibility checks need axe-core's axe.min.js at {} ({err}): run the tests \
             with scripts/test, which installs it, or set PINION_AXE_JS",
            path.display()
        )
    })
}

/// Runs axe-core on the current page and asserts it finds no serious or
/// critical violation.
async fn assert_accessible(client: &Client) {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let axe = AXE.get_or_init(axe_source);
    client
        .execute(&format!("{axe}\n;return true;"), vec![])
        .await
        .expect("axe-core loads into the page");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                 .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
                 .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let path = path_of(client).await;
    assert_eq!(
        found,
        serde_json::json!([]),
        "{path}: axe-core found serious or critical violations:\n{found:#}"
    );
}

/// Asserts that the page fits the window's width (nothing scrolls
/// sideways) and that every link and button of the navigation bar lies
/// inside the window, then saves a screenshot as `name`.
async fn assert_fits(client: &Client, name: &str) {
    let found = client
        .execute(
            "const width = window.innerWidth;
             const outside = [...document.querySelectorAll('header.top a, header.top button')]
                 .filter(e => { const r = e.getBoundingClientRect();
                                return r.width === 0 || r.left < 0 || r.right > width; })
                 .map(e => e.textContent.trim());
             const wide = [...document.querySelectorAll('main *')]
                 .filter(e => e.getBoundingClientRect().right > width + 1)
                 .slice(0, 5)
                 .map(e => e.tagName + '.' + e.className);
             return [document.documentElement.scrollWidth, width, outside, wide];",
            vec![],
        )
        .await
        .unwrap();
    screenshot(client, name).await;
    let path = path_of(client).await;
    let scroll = found[0].as_u64().unwrap();
    let width = found[1].as_u64().unwrap();
    assert!(
        scroll <= width,
        "{path}: the page is {scroll} px wide in a {width} px window; too wide: {}",
        found[3]
    );
    assert_eq!(
        found[2],
        serde_json::json!([]),
        "{path}: navigation out of reach"
    );
    assert_accessible(client).await;
}

#[tokio::test]
async fn on_a_phone_no_page_scrolls_sideways_and_the_navigation_is_in_reach() {
    let app = spawn_app().await;
    let driver = start_driver();
    let client = open_browser_at(&driver, (390, 844)).await;

    sign_in_and_fill_the_overlay(&client, &app, "phone-").await;
    click(&client, "button[name=decision][value=accept]").await;
    text_of(&client, ".notice.authorized").await;
    assert_fits(&client, "phone-06-overlay-authorized").await;
    click(&client, "button[name=action][value=save]").await;
    text_of(&client, ".tile.selected h2").await;
    assert_fits(&client, "phone-07-tile-selected").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources/new/configure").await;
    fill(&client, "#name", "Weekly board report").await;
    fill(&client, "#output_path", "weekly").await;
    assert_fits(&client, "phone-08-source-streams").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources").await;
    assert_fits(&client, "phone-09-sources").await;
    click(&client, ".tile.source.selected form.run button").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while text_of(&client, ".run-status").await != "Succeeded" {
        assert!(Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_fits(&client, "phone-10-run").await;
    let source_page = {
        let path = path_of(&client).await;
        path[..path.find("/runs/").unwrap()].to_owned()
    };

    for (path, name) in [
        ("/credentials", "phone-11-credentials"),
        (source_page.as_str(), "phone-12-source"),
        ("/sources/new", "phone-13-new-source"),
        ("/destinations", "phone-14-destinations"),
        ("/destinations/new", "phone-15-new-destination"),
        ("/settings/tokens", "phone-16-api-tokens"),
        ("/webhooks", "phone-17-webhooks"),
    ] {
        client
            .goto(&format!("{}{path}", app.address))
            .await
            .unwrap();
        wait_for_path(&client, path).await;
        assert_fits(&client, name).await;
    }
    // The first credential's page and its edit form.
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    let credential = element(&client, ".tile h2 a, .tile a[href^='/credentials/cred_']")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("a link to the credential");
    client
        .goto(&format!("{}{credential}", app.address))
        .await
        .unwrap();
    assert_fits(&client, "phone-18-credential").await;
    let id = credential
        .split('/')
        .find(|part| part.starts_with("cred_"))
        .expect("the credential's id")
        .to_owned();
    // Its settings: the Client Secret field and the scope picker.
    let settings = format!("/credentials/{id}/edit");
    client
        .goto(&format!("{}{settings}", app.address))
        .await
        .unwrap();
    wait_for_path(&client, &settings).await;
    assert_fits(&client, "phone-19-credential-settings").await;
    // The source's settings.
    let edit = format!("{source_page}/edit");
    client
        .goto(&format!("{}{edit}", app.address))
        .await
        .unwrap();
    wait_for_path(&client, &edit).await;
    assert_fits(&client, "phone-20-source-settings").await;
    // Incremental from now on, saved from the phone.
    click(&client, "input[name=sync_mode][value=incremental]").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, &source_page).await;
    assert_eq!(text_of(&client, "dd.sync-mode").await, "Incremental");
    // A destination on the first board, and its page with the publish
    // forms, the history, Repoint and Delete.
    client
        .goto(&format!(
            "{}/destinations/new/configure?credential={id}",
            app.address
        ))
        .await
        .unwrap();
    fill(&client, "#name", "Phone board").await;
    click(&client, "input[name=board_id]").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/destinations").await;
    click(&client, ".tile.destination.selected h2 a").await;
    element(&client, "form.publish-one").await;
    assert_fits(&client, "phone-21-destination").await;
    client.close().await.unwrap();
}

/// Waits until the page at `css` says something containing `text`.
async fn wait_for_text(client: &Client, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = text_of(client, css).await;
        if found.contains(text) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never said {text:?}; last: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 15's test of done: from an empty install to a scheduled source
/// and a published pin at 1280 × 900, without the CLI: the first account
/// is made on `/setup` with the key the server wrote to its data directory. The run's page shows
/// where the output is, a preview and the downloads; the source is
/// scheduled and switched to incremental; the credential gets write scopes
/// through its settings and Save and authorize; a destination is made,
/// publishes one pin from the form and two rows from an uploaded JSON Lines
/// file, each with its outcome, and keeps a history; the credential's page
/// says what deleting it would stop.
#[tokio::test]
async fn from_an_empty_install_to_a_scheduled_source_and_a_published_pin_in_the_browser() {
    let app = spawn_empty_app().await;
    let driver = start_driver();
    let client = open_browser(&driver).await;

    // The first account, with the key `pinion serve` wrote for its operator.
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    wait_for_path(&client, "/sign-in").await;
    click(&client, "a[href='/setup']").await;
    wait_for_path(&client, "/setup").await;
    fill(&client, "#setup_key", app.setup_key.as_deref().unwrap()).await;
    fill(&client, "#username", "alice").await;
    fill(&client, "#password", PASSWORD).await;
    screenshot(&client, "walk-00-first-account").await;
    assert_accessible(&client).await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/credentials").await;
    fill_the_overlay(&client, &app, "walk-").await;
    click(&client, "button[name=decision][value=accept]").await;
    text_of(&client, ".notice.authorized").await;
    click(&client, "button[name=action][value=save]").await;
    text_of(&client, ".tile.selected h2").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources/new/configure").await;
    fill(&client, "#name", "Weekly board report").await;
    fill(&client, "#output_path", "weekly").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/sources").await;

    // Run it; its page says where the output is, previews it and offers
    // the files.
    click(&client, ".tile.source.selected form.run button").await;
    wait_for_text(&client, ".run-status", "Succeeded").await;
    let location = text_of(&client, ".output-location").await;
    assert!(location.ends_with("/weekly"), "{location}");
    element(&client, "ol.preview[data-stream=board_pins] li").await;
    let download = element(&client, "ul.downloads a")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("a download link");
    assert!(download.contains("/output/"), "{download}");
    screenshot(&client, "walk-06-run-output").await;
    assert_accessible(&client).await;
    let source_page = {
        let path = path_of(&client).await;
        path[..path.find("/runs/").unwrap()].to_owned()
    };

    // Schedule it every hour, and make it incremental.
    client
        .goto(&format!("{}{source_page}", app.address))
        .await
        .unwrap();
    click(&client, "input[name=kind][value=every]").await;
    fill(&client, "#every", "1h").await;
    click(&client, "form.schedule-form button[type=submit]").await;
    let state = wait_for_text(&client, ".schedule-state", "Next run").await;
    assert!(state.contains("1h"), "{state}");
    click(&client, "a.edit-source").await;
    wait_for_path(&client, &format!("{source_page}/edit")).await;
    click(&client, "input[name=sync_mode][value=incremental]").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, &source_page).await;
    assert_eq!(text_of(&client, "dd.sync-mode").await, "Incremental");
    screenshot(&client, "walk-07-source-scheduled").await;
    assert_accessible(&client).await;

    // The credential gets the write scopes a destination needs.
    client
        .goto(&format!("{}/credentials", app.address))
        .await
        .unwrap();
    let credential = element(&client, ".tile a[href^='/credentials/cred_']")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("a link to the credential");
    let id = credential
        .split('/')
        .find(|part| part.starts_with("cred_"))
        .expect("the credential's id")
        .to_owned();
    client
        .goto(&format!("{}/credentials/{id}/edit", app.address))
        .await
        .unwrap();
    click(&client, "#scope-boards-write").await;
    click(&client, "#scope-pins-write").await;
    click(&client, "button[name=action][value=authorize]").await;
    // Pinterest asks again (signing in first if it forgot the user).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client
            .find(Locator::Css("button[name=decision][value=accept]"))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(username) = client.find(Locator::Css("input[name=username]")).await {
            username.send_keys(PINNER).await.unwrap();
            fill(&client, "input[name=password]", PINNER_PASSWORD).await;
            click(&client, "button[type=submit]").await;
        }
        assert!(Instant::now() < deadline, "Pinterest never asked again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&client, "button[name=decision][value=accept]").await;
    let notice = text_of(&client, ".notice.authorized").await;
    assert!(notice.contains("pins:write"), "{notice}");
    assert!(notice.contains("boards:write"), "{notice}");
    screenshot(&client, "walk-08-write-scopes-granted").await;
    assert_accessible(&client).await;
    click(&client, "button[name=action][value=save]").await;
    // Saved once the browser has left the settings.
    let deadline = Instant::now() + Duration::from_secs(30);
    while path_of(&client).await.contains("/edit") {
        assert!(Instant::now() < deadline, "Save never left the settings");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A destination on the first board, and a pin published from its form.
    client
        .goto(&format!("{}/destinations/new", app.address))
        .await
        .unwrap();
    click(&client, &format!(".tile input[type=radio][value={id}]")).await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/destinations/new/configure").await;
    fill(&client, "#name", "Recipes").await;
    click(&client, "input[name=board_id]").await;
    click(&client, "button[type=submit].primary").await;
    wait_for_path(&client, "/destinations").await;
    click(&client, ".tile.destination.selected h2 a").await;
    element(&client, "form.publish-one").await;
    fill(
        &client,
        "#image_url",
        "https://images.example.com/lemon-tart.jpg",
    )
    .await;
    fill(&client, "#title", "Lemon tart").await;
    fill(&client, "#link", "https://recipes.example.com/lemon-tart").await;
    fill(&client, "#alt_text", "A lemon tart on a plate").await;
    click(&client, "form.publish-one button[type=submit]").await;
    let counts = text_of(&client, ".publish-outcome [role=status]").await;
    assert!(counts.starts_with("1 row(s): 1 created"), "{counts}");
    let pin = text_of(&client, "tr[data-line='1'] .detail").await;
    assert!(
        !pin.is_empty() && pin.chars().all(|c| c.is_ascii_digit()),
        "the created pin's id: {pin}"
    );

    // Two rows uploaded as JSON Lines: one created, one refused with why.
    let upload = tempfile::Builder::new()
        .suffix(".jsonl")
        .tempfile()
        .unwrap();
    std::fs::write(
        upload.path(),
        concat!(
            r#"{"title":"Plum cake","image_url":"https://images.example.com/plum.jpg"}"#,
            "\n",
            r#"{"title":"Bad link","image_url":"https://images.example.com/b.jpg","link":"ftp://x"}"#,
            "\n",
        ),
    )
    .unwrap();
    element(&client, "#file")
        .await
        .send_keys(&upload.path().display().to_string())
        .await
        .unwrap();
    click(&client, "form.publish-many button[type=submit]").await;
    let counts = wait_for_text(&client, ".publish-outcome [role=status]", "2 row(s)").await;
    assert!(
        counts.contains("1 created") && counts.contains("1 refused"),
        "{counts}"
    );
    assert_eq!(
        text_of(&client, "tr[data-line='1'] .outcome").await,
        "Created"
    );
    assert_eq!(
        text_of(&client, "tr[data-line='2'] .outcome").await,
        "Refused"
    );
    assert!(
        text_of(&client, "tr[data-line='2'] .detail")
            .await
            .contains("link")
    );
    let history = client
        .find_all(Locator::Css("ul.publish-history li"))
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "one publish from the form, one upload");
    screenshot(&client, "walk-09-published").await;
    assert_accessible(&client).await;

    // Deleting the credential would stop the source and the destination;
    // its page says so before anything is deleted.
    client
        .goto(&format!("{}/credentials/{id}/info", app.address))
        .await
        .unwrap();
    let effect = text_of(&client, ".delete-effect").await;
    assert!(effect.contains("Weekly board report"), "{effect}");
    assert!(effect.contains("Recipes"), "{effect}");
    screenshot(&client, "walk-10-delete-says-what-stops").await;
    assert_accessible(&client).await;

    client.close().await.unwrap();
}
