//! The HTTP server: binds at start (failing start with the endpoint named), answers on the
//! configured path from `Host::is_ready`, and closes the listener and every connection at shutdown,
//! as Go's `http.Server.Close` does.

use async_trait::async_trait;
use bytes::Bytes;
use ferrotel_core::component::{Host, Lifecycle};
use ferrotel_core::config::GoDuration;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::{HealthCheckConfig, ResponseBody};
use crate::status::{not_found, status_json};

/// What every request needs.
struct Responder {
    path: String,
    response_body: Option<ResponseBody>,
    host: Arc<Host>,
}

impl Responder {
    /// Go's ServeMux: a path ending in `/` serves its whole subtree, any other only itself.
    fn serves(&self, path: &str) -> bool {
        if self.path.ends_with('/') {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }

    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if !self.serves(request.uri().path()) {
            return not_found();
        }
        let ready = self.host.is_ready();
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let (body, content_type) = match &self.response_body {
            Some(bodies) => {
                let body = if ready {
                    &bodies.healthy
                } else {
                    &bodies.unhealthy
                };
                (
                    body.clone(),
                    (!body.is_empty()).then_some("text/plain; charset=utf-8"),
                )
            }
            None => {
                let up_since = if ready { self.host.ready_since() } else { None };
                (
                    status_json(up_since, SystemTime::now()),
                    Some("application/json"),
                )
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Some(content_type) = content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        response
    }
}

struct Running {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub struct HealthCheckExtension {
    id: String,
    config: HealthCheckConfig,
    responder: Arc<Responder>,
    running: Mutex<Option<Running>>,
}

/// Go's `:port` means every interface.
fn bind_address(endpoint: &str) -> String {
    if endpoint.starts_with(':') {
        format!("0.0.0.0{endpoint}")
    } else {
        endpoint.to_owned()
    }
}

impl HealthCheckExtension {
    pub fn new(id: String, config: HealthCheckConfig, host: Arc<Host>) -> HealthCheckExtension {
        let responder = Responder {
            path: config.path.clone(),
            response_body: config.response_body.clone(),
            host,
        };
        HealthCheckExtension {
            id,
            config,
            responder: Arc::new(responder),
            running: Mutex::new(None),
        }
    }

    fn running(&self) -> MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The address actually bound, once started (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.running().as_ref().map(|r| r.local_addr)
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    responder: Arc<Responder>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "health_check: accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let responder = responder.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = responder.respond(&request);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                    Err(e) => {
                        return tracing::debug!(error = %e, "health_check: TLS handshake failed");
                    }
                },
                None => http.serve_connection(TokioIo::new(stream), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "health_check: connection ended with an error");
            }
        });
        // Reap finished connections so the set does not grow with every probe.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

#[async_trait]
impl Lifecycle for HealthCheckExtension {
    async fn start(&self) -> anyhow::Result<()> {
        if self.running().is_some() {
            return Ok(());
        }
        let endpoint = &self.config.endpoint;
        let tls = match &self.config.tls {
            Some(tls) => Some(TlsAcceptor::from(tls.server_config(&[b"http/1.1"])?)),
            None => None,
        };
        let listener = TcpListener::bind(bind_address(endpoint))
            .await
            .map_err(|e| anyhow::anyhow!("failed to bind to address {endpoint}: {e}"))?;
        let local_addr = listener.local_addr()?;
        tracing::info!(extension = %self.id, endpoint = %endpoint, path = %self.config.path, tls = tls.is_some(),
            "Starting health_check extension");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, tls, self.responder.clone(), stopped));
        *self.running() = Some(Running {
            local_addr,
            stop,
            task,
        });
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let running = self.running().take();
        if let Some(running) = running {
            running.stop.send_replace(true);
            running.task.await?;
        }
        Ok(())
    }
}

/// Go's `time.Duration.String()` of the time since `since`.
pub(crate) fn uptime(since: SystemTime, now: SystemTime) -> String {
    GoDuration(now.duration_since(since).unwrap_or_default()).to_string()
}
