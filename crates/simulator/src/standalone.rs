//! A simulator as a process of its own, as `pinion simulator` runs it: where
//! it listens, whether it serves HTTPS, the quick-start text it prints, and
//! the function that serves in the foreground until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{DEMO_CLIENT_ID, DEMO_USERNAME, SimConfig};

/// The PEM files of a simulator that serves HTTPS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// How to run a simulator as a process of its own.
#[derive(Clone, Debug)]
pub struct StandaloneConfig {
    /// The address to listen on (the caller checks it is a loopback address).
    pub listen: SocketAddr,
    /// Serve HTTPS with these files; plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// The simulator itself.
    pub simulator: SimConfig,
}

/// The quick-start text printed at start: URLs, the first app and the first user.
pub fn quickstart(base: &str, config: &SimConfig) -> String {
    let mut out = format!(
        "Pinterest simulator listening on {base}\n\
         \x20 authorize:   {base}/oauth/\n\
         \x20 token:       {base}/v5/oauth/token\n\
         \x20 API:         {base}/v5\n\
         \x20 control API: {base}/_sim/\n"
    );
    if let Some(app) = config.fixtures.apps.first() {
        out.push_str(&format!(
            "App \"{}\"\n  client id:     {}\n  client secret: {}\n  redirect URI:  {}\n",
            app.name,
            app.client_id.as_deref().unwrap_or(DEMO_CLIENT_ID),
            app.client_secret
                .as_deref()
                .unwrap_or("(generated; see GET /_sim/apps)"),
            app.redirect_uris.first().map(String::as_str).unwrap_or("")
        ));
    }
    if let Some(user) = config.fixtures.users.first() {
        out.push_str(&format!(
            "User\n  username: {}\n  password: {}\n",
            user.username, user.password
        ));
    } else {
        out.push_str(&format!(
            "No user is registered (the demo user is {DEMO_USERNAME}).\n"
        ));
    }
    out
}

/// Runs a simulator until Ctrl-C.
pub async fn run(standalone: StandaloneConfig) -> anyhow::Result<()> {
    let StandaloneConfig {
        listen,
        tls,
        simulator: config,
    } = standalone;
    let tls = match &tls {
        Some(files) => {
            Some(crate::server::tls_acceptor(&files.cert, &files.key).context("setting up TLS")?)
        }
        None => None,
    };
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut config = config;
    if config.serve_media {
        config.media_base_url = format!("{scheme}://{addr}/media");
    }
    let (router, handle) = crate::try_router(config.clone()).context("loading fixtures")?;
    print!("{}", quickstart(&format!("{scheme}://{addr}"), &config));
    tracing::info!(address = %addr, tls = tls.is_some(), "The simulator is serving.");
    crate::server::serve(listener, router, handle, tls, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    tracing::info!("The simulator stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Fixtures;

    #[test]
    fn the_readme_fixture_example_loads() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Fixture file").unwrap()..];
        let start = section.find("```json\n").unwrap() + 8;
        let end = section[start..].find("```").unwrap() + start;
        let fixtures = Fixtures::from_json(&section[start..end]).unwrap();
        let config = SimConfig {
            fixtures,
            ..SimConfig::default()
        };
        assert!(crate::try_router(config).is_ok());
    }

    #[test]
    fn the_quickstart_names_the_app_and_user() {
        let config = SimConfig {
            seed: 7,
            fixtures: Fixtures::demo(7),
            ..SimConfig::default()
        };
        let text = quickstart("http://127.0.0.1:9090", &config);
        assert!(text.contains("client id:     1484363"));
        assert!(text.contains(config.fixtures.apps[0].client_secret.as_deref().unwrap()));
        assert!(text.contains("username: demo"));
        assert!(text.contains("http://127.0.0.1:9090/v5"));
    }

    #[tokio::test]
    async fn run_serves_until_stopped() {
        let config = StandaloneConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            simulator: SimConfig::default(),
        };
        let task = tokio::spawn(run(config));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.is_finished(), "the simulator keeps serving");
        task.abort();
    }
}
