//! The receiver's lifecycle: sockets are bound at `start()` (a taken port is a start error naming
//! the endpoint), and `shutdown()` stops accepting, drains in-flight requests (bounded) and returns.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use async_trait::async_trait;
use ferrotel_core::component::{CreateSettings, Lifecycle, SignalConsumers};
use ferrotel_core::signal::Signal;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio_rustls::TlsAcceptor;

use crate::auth::RequestAuth;
use crate::config::{Config, GrpcConfig, HttpConfig, KNOWN_ENCODINGS};
use crate::cors::Cors;
use crate::export::Exporter;
use crate::grpc::GrpcHandler;
use crate::http::HttpHandler;
use crate::listener::{self, ConnSettings, Server};

pub struct OtlpReceiver {
    config: Config,
    set: CreateSettings,
    next: SignalConsumers,
    grpc_auth: Option<RequestAuth>,
    http_auth: Option<RequestAuth>,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    grpc: Option<(Server, String, Option<SocketAddr>)>,
    http: Option<(Server, String, Option<SocketAddr>)>,
}

impl OtlpReceiver {
    /// Resolves the authenticator extensions named, checks what can only be checked against this
    /// build (extensions it lacks) and warns about settings that are accepted but have no effect yet.
    pub fn new(
        config: Config,
        set: CreateSettings,
        next: SignalConsumers,
    ) -> anyhow::Result<OtlpReceiver> {
        let id = &set.id;
        let mut grpc_auth = None;
        let mut http_auth = None;
        if let Some(grpc) = &config.protocols.grpc {
            if let Some(auth) = &grpc.auth {
                grpc_auth = Some(
                    RequestAuth::resolve(&set.host, &auth.authenticator, &[], id, "grpc")
                        .with_context(|| format!("receivers::{id}::protocols::grpc::auth"))?,
                );
            }
            if !grpc.middlewares.is_empty() {
                bail!(
                    "receivers::{id}::protocols::grpc::middlewares: middleware extensions are not supported yet"
                );
            }
            warn_grpc_no_ops(id, grpc);
        }
        if let Some(http) = &config.protocols.http {
            if let Some(auth) = &http.auth {
                let params = &auth.request_params;
                http_auth = Some(
                    RequestAuth::resolve(&set.host, &auth.authenticator, params, id, "http")
                        .with_context(|| format!("receivers::{id}::protocols::http::auth"))?,
                );
            }
            if !http.middlewares.is_empty() {
                bail!(
                    "receivers::{id}::protocols::http::middlewares: middleware extensions are not supported yet"
                );
            }
            warn_http_no_ops(id, http);
        }
        Ok(OtlpReceiver {
            config,
            set,
            next,
            grpc_auth,
            http_auth,
            running: Mutex::new(Running::default()),
        })
    }

    /// The bound gRPC address once started (useful with port 0).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.running
            .lock()
            .expect("receiver lock")
            .grpc
            .as_ref()
            .and_then(|g| g.2)
    }

    /// The bound HTTP address once started (useful with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.running
            .lock()
            .expect("receiver lock")
            .http
            .as_ref()
            .and_then(|h| h.2)
    }

    fn exporter(&self, transport: &'static str, include_metadata: bool) -> Exporter {
        Exporter {
            id: self.set.id.clone(),
            transport,
            include_metadata,
            consumers: self.next.clone(),
            metrics: self.set.telemetry.receiver(&self.set.id, transport),
        }
    }

    async fn start_grpc(
        &self,
        grpc: &GrpcConfig,
    ) -> anyhow::Result<(Server, String, Option<SocketAddr>)> {
        let tls = match &grpc.tls {
            Some(tls) => Some(TlsAcceptor::from(
                tls.server_config(&[b"h2"])
                    .context("protocols::grpc::tls")?,
            )),
            None => None,
        };
        let listener = listener::bind(&grpc.endpoint, &grpc.transport)
            .await
            .context("OTLP gRPC server")?;
        let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
        let mut max_age = None;
        {
            let mut h2 = builder.http2();
            h2.timer(TokioTimer::new());
            if grpc.max_concurrent_streams > 0 {
                h2.max_concurrent_streams(grpc.max_concurrent_streams);
            }
            if let Some(params) = grpc
                .keepalive
                .as_ref()
                .and_then(|k| k.server_parameters.as_ref())
            {
                if !params.time.is_zero() {
                    h2.keep_alive_interval(params.time.0);
                }
                if !params.timeout.is_zero() {
                    h2.keep_alive_timeout(params.timeout.0);
                }
                if !params.max_connection_age.is_zero() {
                    max_age = Some((
                        params.max_connection_age.0,
                        params.max_connection_age_grace.0,
                    ));
                }
            }
        }
        let handler = Arc::new(GrpcHandler {
            exporter: self.exporter("grpc", grpc.include_metadata),
            max_recv_msg_size: grpc.max_recv_msg_size(),
            limits: self.config.limits.limits(),
            auth: self.grpc_auth.clone(),
        });
        tracing::info!(receiver = %self.set.id, endpoint = %listener.local, tls = tls.is_some(), "Starting GRPC server");
        let (local, addr) = (listener.local.clone(), listener.local_addr);
        let server = listener::serve(
            listener,
            ConnSettings {
                builder,
                tls,
                max_age,
                protocol: "grpc",
            },
            handler,
        );
        Ok((server, local, addr))
    }

    async fn start_http(
        &self,
        http: &HttpConfig,
    ) -> anyhow::Result<(Server, String, Option<SocketAddr>)> {
        let tls = match &http.tls {
            Some(tls) => Some(TlsAcceptor::from(
                tls.server_config(&[b"h2", b"http/1.1"])
                    .context("protocols::http::tls")?,
            )),
            None => None,
        };
        let listener = listener::bind(&http.endpoint, &http.transport)
            .await
            .context("OTLP HTTP server")?;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        {
            let mut h1 = builder.http1();
            h1.timer(TokioTimer::new());
            h1.keep_alive(http.keep_alives_enabled);
            h1.header_read_timeout(
                (!http.read_header_timeout.is_zero()).then_some(http.read_header_timeout.0),
            );
        }
        builder.http2().timer(TokioTimer::new());
        let paths = [
            (&http.traces_url_path, Signal::Traces),
            (&http.metrics_url_path, Signal::Metrics),
            (&http.logs_url_path, Signal::Logs),
        ];
        let routes = paths
            .into_iter()
            .filter(|(_, s)| self.next.get(*s).is_some())
            .map(|(p, s)| (p.0.clone(), s))
            .collect();
        let mut response_headers = HeaderMap::new();
        for (name, value) in &http.response_headers {
            response_headers.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        let handler = Arc::new(HttpHandler {
            exporter: self.exporter("http", http.include_metadata),
            routes,
            max_body_size: http.max_request_body_size(),
            limits: self.config.limits.limits(),
            encodings: enabled_encodings(http),
            cors: http.cors.as_ref().and_then(Cors::new),
            response_headers,
            read_timeout: (!http.read_timeout.is_zero()).then_some(http.read_timeout.0),
            auth: self.http_auth.clone(),
        });
        tracing::info!(receiver = %self.set.id, endpoint = %listener.local, tls = tls.is_some(), "Starting HTTP server");
        let (local, addr) = (listener.local.clone(), listener.local_addr);
        let server = listener::serve(
            listener,
            ConnSettings {
                builder,
                tls,
                max_age: None,
                protocol: "http",
            },
            handler,
        );
        Ok((server, local, addr))
    }
}

/// The encodings to decode: those listed (or otelcol's default list) that this build implements.
fn enabled_encodings(http: &HttpConfig) -> Vec<String> {
    let implemented = |name: &str| KNOWN_ENCODINGS.iter().any(|(n, ok)| *n == name && *ok);
    match &http.compression_algorithms {
        Some(list) => list.iter().filter(|n| implemented(n)).cloned().collect(),
        None => KNOWN_ENCODINGS
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(n, _)| n.to_string())
            .collect(),
    }
}

fn warn_grpc_no_ops(id: &ferrotel_core::ComponentId, grpc: &GrpcConfig) {
    let warn = |key: &str| tracing::warn!(receiver = %id, "protocols::grpc::{key} is accepted but has no effect in ferrotel yet");
    if grpc.read_buffer_size != GrpcConfig::default().read_buffer_size {
        warn("read_buffer_size");
    }
    if grpc.write_buffer_size != 0 {
        warn("write_buffer_size");
    }
    if !grpc.dialer.timeout.is_zero() {
        warn("dialer::timeout");
    }
    if let Some(keepalive) = &grpc.keepalive {
        if keepalive
            .server_parameters
            .as_ref()
            .is_some_and(|p| !p.max_connection_idle.is_zero())
        {
            warn("keepalive::server_parameters::max_connection_idle");
        }
        if keepalive
            .enforcement_policy
            .as_ref()
            .is_some_and(|p| !p.min_time.is_zero() || p.permit_without_stream)
        {
            warn("keepalive::enforcement_policy");
        }
    }
}

fn warn_http_no_ops(id: &ferrotel_core::ComponentId, http: &HttpConfig) {
    let warn = |key: &str| tracing::warn!(receiver = %id, "protocols::http::{key} is accepted but has no effect in ferrotel yet");
    if !http.write_timeout.is_zero() {
        warn("write_timeout");
    }
    if !http.idle_timeout.is_zero() {
        warn("idle_timeout");
    }
    if !http.dialer.timeout.is_zero() {
        warn("dialer::timeout");
    }
    for name in http.compression_algorithms.iter().flatten() {
        if KNOWN_ENCODINGS.iter().any(|(n, ok)| n == name && !ok) {
            tracing::warn!(receiver = %id, "protocols::http::compression_algorithms: {name} is not supported yet; such requests get 400");
        }
    }
}

#[async_trait]
impl Lifecycle for OtlpReceiver {
    async fn start(&self) -> anyhow::Result<()> {
        let grpc = match &self.config.protocols.grpc {
            Some(grpc) => Some(self.start_grpc(grpc).await?),
            None => None,
        };
        let http = match &self.config.protocols.http {
            Some(http) => match self.start_http(http).await {
                Ok(server) => Some(server),
                Err(e) => {
                    // Do not leave the gRPC server running behind a failed start.
                    if let Some((server, _, _)) = grpc {
                        server.shutdown().await;
                    }
                    return Err(e);
                }
            },
            None => None,
        };
        *self.running.lock().expect("receiver lock") = Running { grpc, http };
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let running = std::mem::take(&mut *self.running.lock().expect("receiver lock"));
        let stop = |server: Option<(Server, String, Option<SocketAddr>)>| async move {
            if let Some((server, local, _)) = server {
                server.shutdown().await;
                tracing::debug!(endpoint = %local, "OTLP server stopped");
            }
        };
        futures::join!(stop(running.grpc), stop(running.http));
        Ok(())
    }
}
