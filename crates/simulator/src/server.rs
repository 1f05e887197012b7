//! Serving the router over TCP, optionally with TLS (rustls with the ring provider), with
//! `TCP_NODELAY` on every connection so that keep-alive responses are not held back by
//! Nagle's algorithm; and [`RunningSimulator`], the handle of a simulator spawned on a
//! loopback port.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::SimHandle;
use crate::config::SimConfig;
use crate::control::Control;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The key file holds no private key.
    #[error("no private key found in {0}")]
    NoKey(String),
    /// The certificate file holds no certificate.
    #[error("no certificate found in {0}")]
    NoCert(String),
    /// rustls refused the certificate or key.
    #[error("rustls refused the certificate or key")]
    Rustls(#[from] rustls::Error),
}

/// Builds a TLS acceptor from PEM files.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: cert.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(cert.display().to_string()));
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: key.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key.display().to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve_connection<S>(io: S, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await
    {
        tracing::debug!(error = %err, "A connection ended with an error.");
    }
}

/// Accepts connections until `shutdown` resolves, then closes every open connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    handle: SimHandle,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut connections = JoinSet::new();
    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = sweep.tick() => handle.0.tokens().sweep(),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(error = %err, "Could not accept a connection.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(error = %err, "Could not set TCP_NODELAY.");
                }
                let router = router.clone();
                match tls.clone() {
                    None => {
                        connections.spawn(serve_connection(stream, router));
                    }
                    Some(acceptor) => {
                        connections.spawn(async move {
                            match acceptor.accept(stream).await {
                                Ok(tls_stream) => serve_connection(tls_stream, router).await,
                                Err(err) => {
                                    tracing::debug!(error = %err, "A TLS handshake failed.");
                                }
                            }
                        });
                    }
                }
            }
        }
    }
    connections.shutdown().await;
}

/// A simulator serving on a loopback port; dropping it stops the server.
pub struct RunningSimulator {
    addr: SocketAddr,
    base: String,
    control: Control,
    handle: SimHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSimulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// The authorization page, `{base}/oauth/`.
    pub fn oauth_url(&self) -> String {
        format!("{}/oauth/", self.base)
    }

    /// The API base, `{base}/v5`.
    pub fn api_url(&self) -> String {
        format!("{}/v5", self.base)
    }

    /// The token endpoint, `{base}/v5/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/v5/oauth/token", self.base)
    }

    /// A control client for this simulator.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.handle.0.config
    }

    /// Stops the server and waits until it has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts a simulator on `127.0.0.1:0` in a tokio task.
pub async fn spawn(config: SimConfig) -> io::Result<RunningSimulator> {
    spawn_on(
        "127.0.0.1:0".parse().expect("a valid literal address"),
        config,
    )
    .await
}

/// Starts a simulator on the given address in a tokio task.
pub async fn spawn_on(addr: SocketAddr, mut config: SimConfig) -> io::Result<RunningSimulator> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    if config.serve_media {
        config.media_base_url = format!("{base}/media");
    }
    let (router, handle) =
        crate::try_router(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router, handle.clone(), None, async move {
        let _ = stopped.await;
    }));
    Ok(RunningSimulator {
        addr,
        control: Control::new(base.clone()),
        base,
        handle,
        stop: Some(stop),
        task: Some(task),
    })
}
