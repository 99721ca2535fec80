//! Listening sockets shared by the gRPC and HTTP servers: bind (TCP or a Unix socket), accept,
//! optional TLS handshake per connection, hyper serving, and a graceful, bounded shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// How long a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for in-flight requests before closing what is left.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request handler: one per server, shared by all its connections.
pub(crate) trait Handler: Send + Sync + 'static {
    type Body: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
    fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> impl Future<Output = Response<Self::Body>> + Send;
}

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// A bound, not yet serving, socket. Binding happens at `start()` so that a taken port is a start error.
pub(crate) struct Listener {
    socket: Socket,
    /// What was bound, for logs and tests: `127.0.0.1:4317` or a socket path.
    pub(crate) local: String,
    pub(crate) local_addr: Option<SocketAddr>,
}

/// Binds `endpoint` on `transport` (`tcp`, `tcp4`, `tcp6` or `unix`).
pub(crate) async fn bind(endpoint: &str, transport: &str) -> anyhow::Result<Listener> {
    let fail = || format!("failed to listen on {transport} {endpoint:?}");
    match transport {
        "tcp" | "tcp4" | "tcp6" => {
            let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(endpoint)
                .await
                .with_context(fail)?
                .collect();
            addrs.retain(|a| match transport {
                "tcp4" => a.is_ipv4(),
                "tcp6" => a.is_ipv6(),
                _ => true,
            });
            // Go's listener takes one address and prefers IPv4 for names like `localhost`.
            addrs.sort_by_key(|a| a.is_ipv6());
            let Some(addr) = addrs.first() else {
                bail!("{}: no {transport} address", fail())
            };
            let listener = TcpListener::bind(addr).await.with_context(fail)?;
            let local_addr = listener.local_addr().with_context(fail)?;
            Ok(Listener {
                socket: Socket::Tcp(listener),
                local: local_addr.to_string(),
                local_addr: Some(local_addr),
            })
        }
        "unix" => {
            let path = PathBuf::from(endpoint);
            let listener = UnixListener::bind(&path).with_context(fail)?;
            Ok(Listener {
                socket: Socket::Unix(listener, path),
                local: endpoint.to_owned(),
                local_addr: None,
            })
        }
        other => bail!(
            "{}: transport {other:?} cannot serve OTLP (use tcp, tcp4, tcp6 or unix)",
            fail()
        ),
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl Listener {
    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        match &self.socket {
            Socket::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            Socket::Unix(l, _) => Ok(Box::new(l.accept().await?.0)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Go removes the socket file it created when the listener closes; so do we.
        if let Socket::Unix(_, path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How each connection is served.
pub(crate) struct ConnSettings {
    pub builder: auto::Builder<TokioExecutor>,
    pub tls: Option<TlsAcceptor>,
    /// gRPC keepalive `max_connection_age` and its grace; `None` lets connections live.
    pub max_age: Option<(Duration, Duration)>,
    /// For log lines: `grpc` or `http`.
    pub protocol: &'static str,
}

/// A running server; `shutdown` stops accepting, lets in-flight requests finish (bounded) and returns.
pub(crate) struct Server {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "OTLP server task ended abnormally");
        }
    }
}

pub(crate) fn serve<H: Handler>(
    listener: Listener,
    settings: ConnSettings,
    handler: Arc<H>,
) -> Server {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, Arc::new(settings), handler, stopped));
    Server { stop, task }
}

/// Resolves once shutdown is asked for (or the server handle is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is not Send: drop it here, not across the caller's awaits.
    let _ = stopped.wait_for(|s| *s).await.map(|_| ());
}

async fn accept_loop<H: Handler>(
    listener: Listener,
    settings: Arc<ConnSettings>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop_requested(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok(io) => {
                    connections.spawn(serve_connection(io, settings.clone(), handler.clone(), stopped.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(protocol = settings.protocol, error = %e, "OTLP server failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            protocol = settings.protocol,
            open = connections.len(),
            "OTLP server closed connections still busy after {DRAIN_TIMEOUT:?}"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection<H: Handler>(
    io: Box<dyn Io>,
    settings: Arc<ConnSettings>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    let io: Box<dyn Io> = match &settings.tls {
        None => io,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io));
            tokio::select! {
                _ = stop_requested(&mut stopped) => return,
                result = handshake => match result {
                    Ok(Ok(tls)) => Box::new(tls),
                    Ok(Err(e)) => {
                        tracing::debug!(protocol = settings.protocol, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(protocol = settings.protocol, "TLS handshake timed out");
                        return;
                    }
                },
            }
        }
    };
    let service = hyper::service::service_fn(move |request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler.handle(request).await) }
    });
    let connection = settings.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let age = async {
        match settings.max_age {
            Some((age, _)) => tokio::time::sleep(age).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop_requested(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        _ = age => {
            // Past max_connection_age: ask the client to go away, then close after the grace.
            connection.as_mut().graceful_shutdown();
            let grace = settings.max_age.map(|(_, grace)| grace).filter(|g| !g.is_zero()).unwrap_or(Duration::MAX);
            match tokio::time::timeout(grace, connection).await {
                Ok(result) => result,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(protocol = settings.protocol, error = %e, "OTLP connection ended with an error");
    }
}
