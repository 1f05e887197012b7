//! A TCP relay on a loopback port that forwards to an upstream address until
//! the test says otherwise.
//!
//! Modes:
//! - [`RelayMode::Forward`]: bytes flow both ways.
//! - [`RelayMode::Refuse`]: every open connection is closed and new ones are
//!   closed as soon as they are accepted, as a database that went away.
//! - [`RelayMode::Blackhole`]: open connections stop carrying bytes and new
//!   ones are accepted and never answered, as a database that hangs.
//!
//! Switching mode affects connections already open as well as new ones, so a
//! pool's idle connections see the outage too. Connections opened after a
//! switch back to `Forward` work again.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the relay does with traffic; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    Forward,
    Refuse,
    Blackhole,
}

/// A running relay. Dropping it stops accepting and closes every connection.
pub struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<RelayMode>,
    acceptor: JoinHandle<()>,
}

impl Relay {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(RelayMode::Forward);
        let modes = mode.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watch = modes.subscribe();
                tokio::spawn(serve(client, upstream, watch));
            }
        });
        Ok(Self {
            addr,
            mode,
            acceptor,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's port, for rewriting a database URL.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Switches every connection, open and future, to `mode`.
    pub fn set_mode(&self, mode: RelayMode) {
        self.mode.send_replace(mode);
    }

    /// The mode in force.
    pub fn mode(&self) -> RelayMode {
        *self.mode.borrow()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.acceptor.abort();
        // Closing the channel ends every connection task.
        self.mode.send_replace(RelayMode::Refuse);
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<RelayMode>) {
    let initial = *mode.borrow_and_update();
    match initial {
        RelayMode::Refuse => return,
        RelayMode::Blackhole => {
            hold(client, mode).await;
            return;
        }
        RelayMode::Forward => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        tokio::select! {
            changed = mode.changed() => {
                match changed.map(|()| *mode.borrow_and_update()) {
                    Ok(RelayMode::Forward) => continue,
                    Ok(RelayMode::Blackhole) => break,
                    Ok(RelayMode::Refuse) | Err(_) => return,
                }
            }
            read = client_read.read(&mut up) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if server_write.write_all(&up[..n]).await.is_err() { return },
            },
            read = server_read.read(&mut down) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if client_write.write_all(&down[..n]).await.is_err() { return },
            },
        }
    }
    // Blackholed mid-connection: keep both sockets open, carry nothing.
    drop(server);
    hold(client, mode).await;
}

/// Keeps `client` open without answering until the relay refuses or stops.
/// Bytes the client sends are read and dropped so its writes never block.
async fn hold(mut client: TcpStream, mut mode: watch::Receiver<RelayMode>) {
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow_and_update() == RelayMode::Refuse {
                    return;
                }
            }
            read = client.read(&mut sink) => if matches!(read, Ok(0) | Err(_)) { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn forwards_refuses_blackholes_and_forwards_again() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        assert_eq!(round_trip(relay.addr()).await.unwrap(), b"ping");

        relay.set_mode(RelayMode::Refuse);
        assert!(round_trip(relay.addr()).await.is_err());

        relay.set_mode(RelayMode::Blackhole);
        let hung = tokio::time::timeout(Duration::from_millis(300), round_trip(relay.addr())).await;
        assert!(hung.is_err(), "a blackholed connection must never answer");

        relay.set_mode(RelayMode::Forward);
        assert_eq!(round_trip(relay.addr()).await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn an_open_connection_is_cut_when_the_relay_refuses() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();

        relay.set_mode(RelayMode::Refuse);
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("a refused connection is closed, not left hanging");
        assert!(read.is_err() || rest.is_empty());
    }
}
