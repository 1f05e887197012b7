//! Access control on every UI route, driven by one table ([`ROUTES`]) that
//! lists each `(method, path)` the server's source registers outside the JSON
//! API, and a test that fails when the router has a route the table lacks
//! (or the table one the router lacks). For every route that needs a
//! session, an anonymous request is sent to sign-in; for every route that
//! names a user's object (in its path, query or form), another user gets
//! exactly the 404 of an unknown id, with nothing of the object in it, and
//! the owner does not; a collaborator on a shared credential is refused
//! (403 or 404) on every route that would show or change its settings but
//! can pick it for a source or a destination. The CSRF test closes the file.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::{Browser, PASSWORD, SECRET_CANARY, TestApp, csrf_in, spawn_app};

/// Who may reach a route, and what names the user's object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reach {
    /// Anyone; an anonymous request gets this status.
    Public(u16),
    /// A signed-in user; nothing of another user is named.
    Session,
    /// A signed-in user, about one of their objects.
    Owned(Object),
}

/// The object an owned route is about.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Object {
    /// A credential's settings or state: the owner only; a collaborator is
    /// refused.
    CredentialSettings,
    /// A credential picked for a source or destination: the owner, or a
    /// collaborator it is shared with.
    CredentialUse,
    /// A source, or a run of it: the owner only.
    Source,
    /// An API token: the owner only.
    Token,
    /// A webhook endpoint: the owner only.
    Webhook,
    /// A destination: the owner only.
    Destination,
}

/// One UI route and how to reach it. In `path`, `query` and `form`,
/// `{id}` is the route's object (a credential under `/credentials`, a
/// source under `/sources`, a token under `/settings/tokens`), `{run_id}` a
/// run of that source, `{username}` the collaborator, `{file}` a static
/// file (or a file of the source's output) and `{credential}` a credential
/// named in a query or form.
struct UiRoute {
    method: &'static str,
    path: &'static str,
    reach: Reach,
    query: &'static str,
    form: &'static [(&'static str, &'static str)],
}

const fn route(method: &'static str, path: &'static str, reach: Reach) -> UiRoute {
    UiRoute {
        method,
        path,
        reach,
        query: "",
        form: &[],
    }
}

use Object::{CredentialSettings, CredentialUse, Destination, Source, Token, Webhook};
use Reach::{Owned, Public, Session};

/// Every route served outside `/api/v1` (the JSON API has its own walk over
/// the OpenAPI document in `tests/api/access.rs`). The owner's pass goes down
/// the table in order, so a route that ends an object (withdraw after
/// share, revoke, delete, sign-out) comes after every use of it.
const ROUTES: &[UiRoute] = &[
    route("GET", "/", Public(303)),
    route("GET", "/sign-in", Public(200)),
    // Without the form's double-submit cookie.
    route("POST", "/sign-in", Public(403)),
    // Closed where an account exists, as here (see `setup.rs`).
    route("GET", "/setup", Public(404)),
    route("POST", "/setup", Public(404)),
    route("GET", "/static/{file}", Public(200)),
    route("GET", "/healthz", Public(200)),
    route("GET", "/readyz", Public(200)),
    route("GET", "/metrics", Public(200)),
    // Without `state` and `code`.
    route("GET", "/oauth/pinterest/callback", Public(400)),
    route("GET", "/oauth/pinterest/authorized", Public(200)),
    route("GET", "/credentials", Session),
    route("GET", "/credentials/new", Session),
    UiRoute {
        form: &[
            ("name", "Another"),
            ("client_id", "1484362"),
            ("client_secret", SECRET_CANARY),
            ("scopes", "boards:read"),
            ("action", "save"),
        ],
        ..route("POST", "/credentials/new", Session)
    },
    route("GET", "/credentials/{id}/edit", Owned(CredentialSettings)),
    UiRoute {
        form: &[
            ("name", "Alice boards"),
            ("description", "Team boards"),
            ("scopes", "boards:read,pins:read,user_accounts:read"),
            ("action", "save"),
        ],
        ..route("POST", "/credentials/{id}/edit", Owned(CredentialSettings))
    },
    route("GET", "/credentials/{id}/info", Owned(CredentialSettings)),
    route("POST", "/credentials/{id}/check", Owned(CredentialSettings)),
    route("GET", "/sources", Session),
    route("GET", "/sources/new", Session),
    UiRoute {
        query: "credential={credential}",
        ..route("GET", "/sources/new/configure", Owned(CredentialUse))
    },
    UiRoute {
        form: &[
            ("credential", "{credential}"),
            ("name", "Another source"),
            ("streams", "boards"),
            ("output_kind", "jsonl"),
            ("output_path", "another"),
        ],
        ..route("POST", "/sources/new/configure", Owned(CredentialUse))
    },
    route("GET", "/destinations", Session),
    route("GET", "/destinations/new", Session),
    UiRoute {
        query: "credential={credential}",
        ..route("GET", "/destinations/new/configure", Owned(CredentialUse))
    },
    UiRoute {
        form: &[
            ("credential", "{credential}"),
            ("name", "Another destination"),
            ("board_id", "no-such-board"),
        ],
        ..route("POST", "/destinations/new/configure", Owned(CredentialUse))
    },
    route("GET", "/destinations/{id}", Owned(Destination)),
    UiRoute {
        form: &[("image_url", "https://images.example.com/access.jpg")],
        ..route("POST", "/destinations/{id}/publish", Owned(Destination))
    },
    UiRoute {
        form: &[
            ("format", "jsonl"),
            (
                "rows",
                r#"{"image_url":"https://images.example.com/access-2.jpg"}"#,
            ),
        ],
        ..route("POST", "/destinations/{id}/upload", Owned(Destination))
    },
    UiRoute {
        form: &[("credential_id", "{credential}")],
        ..route("POST", "/destinations/{id}/repoint", Owned(Destination))
    },
    UiRoute {
        form: &[("confirm", "yes")],
        ..route("POST", "/destinations/{id}/delete", Owned(Destination))
    },
    route("GET", "/sources/{id}", Owned(Source)),
    route("POST", "/sources/{id}/runs", Owned(Source)),
    route("GET", "/sources/{id}/runs/{run_id}", Owned(Source)),
    route("GET", "/sources/{id}/output/{file}", Owned(Source)),
    route("GET", "/sources/{id}/runs/{run_id}/progress", Owned(Source)),
    UiRoute {
        form: &[("kind", "every"), ("every", "1d")],
        ..route("POST", "/sources/{id}/schedule", Owned(Source))
    },
    route("GET", "/sources/{id}/edit", Owned(Source)),
    UiRoute {
        form: &[
            ("name", "Renamed source"),
            ("streams", "boards"),
            ("output_kind", "jsonl"),
            ("output_path", "renamed"),
        ],
        ..route("POST", "/sources/{id}/edit", Owned(Source))
    },
    route("POST", "/sources/{id}/schedule/pause", Owned(Source)),
    route("POST", "/sources/{id}/schedule/resume", Owned(Source)),
    route("POST", "/sources/{id}/schedule/delete", Owned(Source)),
    UiRoute {
        form: &[("confirm", "yes")],
        ..route("POST", "/sources/{id}/runs/{run_id}/delete", Owned(Source))
    },
    UiRoute {
        form: &[("confirm", "yes")],
        ..route("POST", "/sources/{id}/delete", Owned(Source))
    },
    route("GET", "/settings/tokens", Session),
    UiRoute {
        form: &[("name", "Another token")],
        ..route("POST", "/settings/tokens", Session)
    },
    UiRoute {
        form: &[("username", "bob")],
        ..route(
            "POST",
            "/credentials/{id}/shares",
            Owned(CredentialSettings),
        )
    },
    route(
        "POST",
        "/credentials/{id}/shares/{username}/withdraw",
        Owned(CredentialSettings),
    ),
    route("POST", "/settings/tokens/{id}/revoke", Owned(Token)),
    route("GET", "/webhooks", Session),
    UiRoute {
        form: &[("url", "http://127.0.0.1:9/another-hook"), ("events", "*")],
        ..route("POST", "/webhooks", Session)
    },
    route("GET", "/webhooks/{id}", Owned(Webhook)),
    route("POST", "/webhooks/{id}/test", Owned(Webhook)),
    route("POST", "/webhooks/{id}/rotate-secret", Owned(Webhook)),
    UiRoute {
        form: &[("enabled", "true")],
        ..route("POST", "/webhooks/{id}/enabled", Owned(Webhook))
    },
    UiRoute {
        form: &[("confirm", "yes")],
        ..route("POST", "/webhooks/{id}/delete", Owned(Webhook))
    },
    UiRoute {
        form: &[("confirm", "yes")],
        ..route(
            "POST",
            "/credentials/{id}/delete",
            Owned(CredentialSettings),
        )
    },
    route("POST", "/sign-out", Session),
];

/// `(METHOD, path)` of every `.route("path", method(…).method(…))` in Rust
/// `source`; `Err` names a registration this reader cannot follow (a path
/// that is not a literal, or a nested or service route).
fn routes_in(source: &str) -> Result<Vec<(String, String)>, String> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for other in [".route_service(", ".nest_service(", ".merge(", ".nest("] {
        for (at, _) in code.match_indices(other) {
            let rest = &code[at..];
            // The JSON API's routes are walked from its OpenAPI document
            // (tests/api/access.rs); merges of our other routers are
            // followed through their own files.
            let allowed = rest.starts_with(".merge(api::router())")
                || rest.starts_with(".merge(oauth::router())")
                || rest.starts_with(".merge(crate::web::router())");
            if !allowed {
                return Err(format!("cannot follow {}", &rest[..rest.len().min(60)]));
            }
        }
    }
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(".route(") {
        let args_start = at + ".route(".len();
        let args = &rest[args_start..];
        let end = matching_paren(args).ok_or("an unclosed .route(")?;
        let args = &args[..end];
        let literal = args.trim_start();
        let path = literal
            .strip_prefix('"')
            .and_then(|s| s.split_once('"'))
            .map(|(path, _)| path.to_owned())
            .ok_or_else(|| format!("a route path that is not a literal: {args}"))?;
        let methods = &literal[path.len() + 2..];
        let mut found = false;
        for method in [
            "get", "post", "put", "patch", "delete", "head", "options", "any",
        ] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = methods[from..].find(&needle) {
                let i = from + i;
                let before = methods[..i].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    out.push((method.to_uppercase(), path.clone()));
                    found = true;
                }
                from = i + needle.len();
            }
        }
        if !found {
            return Err(format!("no method for route {path}"));
        }
        rest = &rest[args_start + end..];
    }
    Ok(out)
}

/// The index of the `)` closing an argument list that starts at `text[0]`,
/// skipping string literals.
fn matching_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_route_reader_finds_each_method_of_a_route() {
    let source = r#"
        // .route("/commented", get(nothing))
        Router::new()
            .route("/", get(|| async { Redirect::to("/x") }))
            .route("/a/{id}", get(a::get).post(a::post))
            .route("/b", post(b::post_it))
    "#;
    assert_eq!(
        routes_in(source).unwrap(),
        vec![
            ("GET".to_owned(), "/".to_owned()),
            ("GET".to_owned(), "/a/{id}".to_owned()),
            ("POST".to_owned(), "/a/{id}".to_owned()),
            ("POST".to_owned(), "/b".to_owned()),
        ]
    );
    assert!(routes_in(".route(PATH, get(x))").is_err());
    assert!(routes_in(".nest(\"/other\", router())").is_err());
    assert!(routes_in(".merge(api::router()).merge(other::router())").is_err());
}

#[test]
fn the_access_table_lists_every_route_the_server_registers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut registered = BTreeSet::new();
    for file in &files {
        // The callback's path is the service's one constant.
        let text = std::fs::read_to_string(file).unwrap().replace(
            "pinion_service::CALLBACK_PATH",
            &format!("{:?}", pinion_service::CALLBACK_PATH),
        );
        let routes = routes_in(&text).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        registered.extend(routes);
    }
    // The reader really read the routers.
    assert!(registered.len() >= 30, "{registered:?}");
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");
    let missing: Vec<_> = registered.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "the server registers {missing:?}; add each to ROUTES with how to reach it"
    );
    let stale: Vec<_> = table.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "ROUTES lists {stale:?}, which the server does not register"
    );
}

/// Alice's objects, and what the routes need to name them.
struct World {
    credential: String,
    source: String,
    run: String,
    token: String,
    webhook: String,
    destination: String,
    /// Names and ids of Alice's objects, none of which may reach Bob.
    private: Vec<String>,
}

/// An id of the same kind as `id` that does not exist.
fn unknown(id: &str) -> String {
    let (prefix, rest) = id.split_once('_').expect("a prefixed id");
    format!("{prefix}_{}", "0".repeat(rest.len()))
}

impl World {
    fn unknown(&self) -> World {
        World {
            credential: unknown(&self.credential),
            source: unknown(&self.source),
            run: unknown(&self.run),
            token: unknown(&self.token),
            webhook: unknown(&self.webhook),
            destination: unknown(&self.destination),
            private: Vec::new(),
        }
    }

    /// `text` with the route's placeholders filled in.
    fn fill(&self, route: &UiRoute, text: &str) -> String {
        let id = if route.path.starts_with("/sources/") {
            &self.source
        } else if route.path.starts_with("/settings/tokens/") {
            &self.token
        } else if route.path.starts_with("/webhooks/") {
            &self.webhook
        } else if route.path.starts_with("/destinations/") {
            &self.destination
        } else {
            &self.credential
        };
        text.replace("{id}", id)
            .replace("{run_id}", &self.run)
            .replace("{username}", "bob")
            .replace(
                "{file}",
                if route.path.starts_with("/sources/") {
                    // A file of the source's output, written by its run.
                    "boards.jsonl"
                } else {
                    "pinion.css"
                },
            )
            .replace("{credential}", &self.credential)
    }

    fn url(&self, route: &UiRoute) -> String {
        let path = self.fill(route, route.path);
        if route.query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.fill(route, route.query))
        }
    }
}

/// Sends `route` about `world`'s objects from `browser`, with `csrf` in the
/// form of a POST; returns the status and the body.
async fn send(browser: &Browser, route: &UiRoute, world: &World, csrf: &str) -> (u16, String) {
    let url = world.url(route);
    let response = if route.method == "GET" {
        browser.get(&url).await
    } else {
        assert_eq!(route.method, "POST", "{}", route.path);
        let filled: Vec<(String, String)> = route
            .form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), world.fill(route, v)))
            .chain([("csrf".to_owned(), csrf.to_owned())])
            .collect();
        let form: Vec<(&str, &str)> = filled
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        browser.post_form(&url, &form).await
    };
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    (status, location.map_or(body, |l| format!("-> {l}")))
}

/// Alice with an authorized credential, a source reading with it, a run of
/// that source and a named API token.
async fn alices_world(app: &TestApp, alice: &Browser) -> World {
    let credential = app.authorized_credential(alice, "Alice boards").await;
    let form = alice
        .page(&format!("/sources/new/configure?credential={credential}"))
        .await;
    let created = alice
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &csrf_in(&form)),
                ("credential", &credential),
                ("name", "Alice source"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "alice-boards"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let source =
        created.headers()["location"].to_str().unwrap()["/sources?created=".len()..].to_owned();
    let started = alice
        .post_form(
            &format!("/sources/{source}/runs"),
            &[("csrf", &alice.csrf().await)],
        )
        .await;
    assert_eq!(started.status(), 303);
    let run = started.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // The run ends before the routes are tried, so its output exists.
    let progress = format!("/sources/{source}/runs/{run}/progress");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state: serde_json::Value = alice.get(&progress).await.json().await.unwrap();
        if matches!(state["status"].as_str(), Some("succeeded" | "failed")) {
            assert_eq!(state["status"], "succeeded", "{state}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tokens = alice
        .post_form(
            "/settings/tokens",
            &[("csrf", &alice.csrf().await), ("name", "Alice token")],
        )
        .await;
    assert_eq!(tokens.status(), 200);
    let page = tokens.text().await.unwrap();
    let marker = "data-token=\"";
    let start = page.find(marker).expect("a token row") + marker.len();
    let token = page[start..start + page[start..].find('"').unwrap()].to_owned();
    let hooks = alice
        .post_form(
            "/webhooks",
            &[
                ("csrf", &alice.csrf().await),
                ("url", "http://127.0.0.1:9/alice-hook"),
                ("events", "*"),
            ],
        )
        .await;
    assert_eq!(hooks.status(), 200);
    let page = hooks.text().await.unwrap();
    let marker = "data-webhook=\"";
    let start = page.find(marker).expect("a webhook row") + marker.len();
    let webhook = page[start..start + page[start..].find('"').unwrap()].to_owned();
    let form = alice
        .page(&format!(
            "/destinations/new/configure?credential={credential}"
        ))
        .await;
    let marker = "name=\"board_id\" value=\"";
    let start = form.find(marker).expect("a board to pick") + marker.len();
    let board = form[start..start + form[start..].find('"').unwrap()].to_owned();
    let created = alice
        .post_form(
            "/destinations/new/configure",
            &[
                ("csrf", &csrf_in(&form)),
                ("credential", &credential),
                ("name", "Alice destination"),
                ("board_id", &board),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let destination = created.headers()["location"].to_str().unwrap()
        ["/destinations?created=".len()..]
        .to_owned();
    let private = vec![
        "Alice destination".to_owned(),
        destination.clone(),
        "alice-hook".to_owned(),
        webhook.clone(),
        "Alice boards".to_owned(),
        "Alice source".to_owned(),
        "Alice token".to_owned(),
        "alice-boards".to_owned(),
        credential.clone(),
        source.clone(),
        run.clone(),
        token.clone(),
    ];
    World {
        credential,
        source,
        run,
        token,
        webhook,
        destination,
        private,
    }
}

fn assert_private(world: &World, what: &str, body: &str) {
    for private in &world.private {
        assert!(!body.contains(private.as_str()), "{what} shows {private}");
    }
    assert!(!body.contains(SECRET_CANARY), "{what} shows the secret");
}

#[tokio::test]
async fn every_ui_route_needs_a_session_and_keeps_each_users_objects_to_that_user() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let world = alices_world(&app, &alice).await;
    let nothing = world.unknown();

    // Anonymous: the public routes answer as listed; every other is a 303
    // to sign-in, even with a forged session cookie.
    let anonymous = app.browser();
    let mut forged = app.browser();
    forged.http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(
                reqwest::header::COOKIE,
                "pinion_session=forged".parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    for route in ROUTES {
        let what = format!("{} {} anonymously", route.method, route.path);
        let (status, body) = send(&anonymous, route, &world, "x").await;
        match route.reach {
            Public(expected) => {
                assert_eq!(status, expected, "{what}: {body}");
                assert_ne!(body, "-> /sign-in", "{what}");
            }
            Session | Owned(_) => {
                assert_eq!((status, body.as_str()), (303, "-> /sign-in"), "{what}");
                let (status, body) = send(&forged, route, &world, "x").await;
                assert_eq!((status, body.as_str()), (303, "-> /sign-in"), "{what}");
            }
        }
    }

    // Bob, a stranger: every route about Alice's object is the 404 of an
    // object that does not exist, byte for byte, and no page shows any of
    // hers.
    let bob = app.signed_in("bob").await;
    let bob_csrf = bob.csrf().await;
    for route in ROUTES {
        let what = format!("{} {} as bob", route.method, route.path);
        match route.reach {
            Public(_) => {}
            Session => {
                if route.method == "GET" {
                    let (status, body) = send(&bob, route, &world, &bob_csrf).await;
                    assert_eq!(status, 200, "{what}");
                    assert_private(&world, &what, &body);
                }
            }
            Owned(_) => {
                let (status, body) = send(&bob, route, &world, &bob_csrf).await;
                assert_eq!(status, 404, "{what}: {body}");
                assert_private(&world, &what, &body);
                let (unknown_status, unknown_body) = send(&bob, route, &nothing, &bob_csrf).await;
                assert_eq!(
                    (status, &body),
                    (unknown_status, &unknown_body),
                    "{what} differs from an unknown id"
                );
            }
        }
    }
    // Nor is Alice's run reachable through a source of Bob's.
    let own = bob
        .add_credential("Bob boards", "1484362", SECRET_CANARY)
        .await;
    let bobs = World {
        credential: own.clone(),
        source: String::new(),
        run: world.run.clone(),
        token: String::new(),
        webhook: String::new(),
        destination: String::new(),
        private: Vec::new(),
    };
    let created = bob
        .post_form(
            "/sources/new/configure",
            &[
                ("csrf", &bob_csrf),
                ("credential", &own),
                ("name", "Bob source"),
                ("streams", "boards"),
                ("output_kind", "jsonl"),
                ("output_path", "bob-boards"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let bobs = World {
        source: created.headers()["location"].to_str().unwrap()["/sources?created=".len()..]
            .to_owned(),
        ..bobs
    };
    for route in ROUTES.iter().filter(|r| r.path.contains("{run_id}")) {
        let (status, body) = send(&bob, route, &bobs, &bob_csrf).await;
        assert_eq!(
            status, 404,
            "{} {} with Bob's source",
            route.method, route.path
        );
        assert_private(&world, route.path, &body);
    }

    // Bob as a collaborator: refused on the credential's settings, free to
    // pick it for a source or destination; Alice's other objects stay 404.
    share(&alice, &world.credential, "bob").await;
    for route in ROUTES {
        let what = format!("{} {} as a collaborator", route.method, route.path);
        let Owned(object) = route.reach else { continue };
        let (status, body) = send(&bob, route, &world, &bob_csrf).await;
        match object {
            CredentialSettings => {
                assert!(matches!(status, 403 | 404), "{what}: {status} {body}");
                assert!(!body.contains(&app.client_secret), "{what}");
                assert!(!body.contains(&app.client_id), "{what} shows the client id");
            }
            CredentialUse => {
                assert!(
                    matches!(status, 200 | 303 | 422),
                    "{what}: the collaborator may pick it, got {status} {body}"
                );
                assert!(!body.contains(&app.client_secret), "{what}");
                assert!(!body.contains(&app.client_id), "{what} shows the client id");
            }
            Source | Token | Webhook | Destination => assert_eq!(status, 404, "{what}"),
        }
    }
    // Nothing changed for Alice.
    let info = alice
        .page(&format!("/credentials/{}/info", world.credential))
        .await;
    assert!(info.contains("Alice boards") && info.contains("data-collaborator=\"bob\""));
    withdraw(&alice, &world.credential, "bob").await;

    // Alice reaches every route about her objects, in table order.
    let alice_csrf = alice.csrf().await;
    for route in ROUTES {
        if matches!(route.reach, Public(_)) {
            continue;
        }
        let what = format!("{} {} as the owner", route.method, route.path);
        let (status, body) = send(&alice, route, &world, &alice_csrf).await;
        assert!(
            status < 500 && !matches!(status, 403 | 404),
            "{what}: {status} {body}"
        );
        if route.path == "/sign-out" {
            assert_eq!((status, body.as_str()), (303, "-> /sign-in"), "{what}");
            assert_eq!(alice.get("/credentials").await.status(), 303, "{what}");
        } else {
            assert_ne!(body, "-> /sign-in", "{what}");
        }
    }
}

async fn share(owner: &Browser, credential: &str, username: &str) {
    let response = owner
        .post_form(
            &format!("/credentials/{credential}/shares"),
            &[("csrf", &owner.csrf().await), ("username", username)],
        )
        .await;
    assert_eq!(response.status(), 303);
}

async fn withdraw(owner: &Browser, credential: &str, username: &str) {
    let response = owner
        .post_form(
            &format!("/credentials/{credential}/shares/{username}/withdraw"),
            &[("csrf", &owner.csrf().await)],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn every_state_changing_form_refuses_a_missing_or_wrong_csrf_token() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let world = alices_world(&app, &alice).await;
    let bob = app.signed_in("bob").await;
    // Bob's valid token is a wrong token in Alice's session.
    let other_sessions_token = bob.csrf().await;

    // Every POST of the table that needs a session, with everything it
    // needs but a right token: refused before anything is looked at.
    let posts: Vec<&UiRoute> = ROUTES
        .iter()
        .filter(|r| r.method == "POST" && !matches!(r.reach, Public(_)))
        .collect();
    assert!(posts.len() >= 14, "{}", posts.len());
    for route in posts {
        let url = world.url(route);
        for token in [None, Some(""), Some(other_sessions_token.as_str())] {
            let filled: Vec<(String, String)> = route
                .form
                .iter()
                .map(|(k, v)| ((*k).to_owned(), world.fill(route, v)))
                .chain(token.map(|t| ("csrf".to_owned(), t.to_owned())))
                .collect();
            let form: Vec<(&str, &str)> = filled
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let response = alice.post_form(&url, &form).await;
            assert_eq!(response.status(), 403, "POST {} with {token:?}", route.path);
        }
    }
    // The edit form's other action, Authorize, too.
    let edit = format!("/credentials/{}/edit", world.credential);
    for token in ["", other_sessions_token.as_str()] {
        let form = [("action", "authorize"), ("csrf", token)];
        let response = alice.post_form(&edit, &form).await;
        assert_eq!(response.status(), 403, "authorize with {token:?}");
    }
    // Nothing changed and Alice is still signed in.
    let credentials = alice.page("/credentials").await;
    assert!(credentials.contains("Alice boards") && !credentials.contains("Another"));
    let sources = alice.page("/sources").await;
    assert!(sources.contains("Alice source") && !sources.contains("Another source"));
    let tokens = alice.page("/settings/tokens").await;
    assert!(tokens.contains("Alice token") && !tokens.contains("Another token"));
    let info = alice
        .page(&format!("/credentials/{}/info", world.credential))
        .await;
    assert!(!info.contains("data-collaborator=\"bob\""));
    let run = alice
        .get(&format!("/sources/{}/runs/{}", world.source, world.run))
        .await;
    assert_eq!(run.status(), 200, "the run is still there");

    // The sign-in form needs its double-submit cookie too.
    let fresh = app.browser();
    let response = fresh
        .post_form(
            "/sign-in",
            &[
                ("csrf", "guess"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
}
