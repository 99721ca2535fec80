//! Serves self-telemetry in the Prometheus text format on `service.telemetry.metrics`'s endpoint.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::telemetry::SelfTelemetry;

pub struct TelemetryServer {
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TelemetryServer {
    /// Binds `endpoint` (`host:port`) now, so a port in use is an error at start-up, and serves in the background.
    pub async fn start(
        endpoint: &str,
        telemetry: Arc<SelfTelemetry>,
    ) -> anyhow::Result<TelemetryServer> {
        let listener = TcpListener::bind(endpoint)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for self-telemetry on {endpoint}: {e}"))?;
        let local_addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let telemetry = telemetry.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |req| respond(req, telemetry.clone()));
                            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
        Ok(TelemetryServer {
            local_addr,
            stop,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn respond(
    req: Request<Incoming>,
    telemetry: Arc<SelfTelemetry>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if req.method() != Method::GET {
        Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET")
            .body(Full::default())
    } else if req.uri().path() != "/metrics" {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(
                b"self-telemetry is served on /metrics\n",
            )))
    } else {
        Response::builder()
            .header(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(Full::new(Bytes::from(telemetry.encode())))
    };
    Ok(response.expect("static response parts are valid"))
}
