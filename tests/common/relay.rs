//! A TCP relay on loopback between meshtop and the sandbox that passes the server's bytes on
//! slowly, or stops passing them: what a big cluster behind a slow link, or an API server
//! that hangs mid-list, looks like to the client. TLS goes through untouched (the sandbox's
//! certificate names 127.0.0.1, which the relay listens on too).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the relay passes the server's bytes on.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// At most `chunk` bytes at a time, then a pause of `pause`: a slow link.
    Slow { chunk: usize, pause: Duration },
    /// The first `bytes` of all connections together, then nothing more (connections stay
    /// open): a server that hangs.
    StallAfter { bytes: u64 },
}

/// A running relay; dropping it stops accepting (open connections end with their tasks).
pub struct Relay {
    pub addr: SocketAddr,
    /// Server bytes passed on so far.
    pub passed: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// `kubeconfig` (the sandbox's) pointed at the relay instead of `upstream`.
    pub fn kubeconfig(&self, kubeconfig: &str, upstream: SocketAddr) -> String {
        kubeconfig.replace(
            &format!("https://{upstream}"),
            &format!("https://{}", self.addr),
        )
    }
}

/// Starts a relay to `upstream` on a free loopback port.
pub async fn start(upstream: SocketAddr, pace: Pace) -> Relay {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("relay address");
    let passed = Arc::new(AtomicU64::new(0));
    let counter = passed.clone();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            connections.spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    relay(client, server, pace, counter).await;
                }
            });
        }
    });
    Relay { addr, passed, task }
}

async fn relay(client: TcpStream, server: TcpStream, pace: Pace, passed: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    let downstream = async move {
        let chunk = match pace {
            Pace::Slow { chunk, .. } => chunk.max(1),
            Pace::StallAfter { .. } => 16 * 1024,
        };
        let mut buf = vec![0u8; chunk];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut send = n;
            if let Pace::StallAfter { bytes } = pace {
                let before = passed.fetch_add(n as u64, Ordering::SeqCst);
                send = bytes.saturating_sub(before).min(n as u64) as usize;
            } else {
                passed.fetch_add(n as u64, Ordering::SeqCst);
            }
            if let Some(head) = buf.get(..send)
                && client_write.write_all(head).await.is_err()
            {
                return;
            }
            match pace {
                // The link's slowness, not a wait for some condition.
                Pace::Slow { pause, .. } => tokio::time::sleep(pause).await,
                Pace::StallAfter { .. } if send < n => {
                    // Hang with the connection open, as a stuck server does.
                    std::future::pending::<()>().await;
                }
                Pace::StallAfter { .. } => {}
            }
        }
    };
    tokio::join!(upstream, downstream);
}
