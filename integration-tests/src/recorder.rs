//! A recording OTLP gRPC server: decodes every export request with prost and keeps it, so tests can
//! assert on exactly what a collector sent downstream.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

#[derive(Default, Clone, Debug)]
pub struct Recorded {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub logs: Vec<ExportLogsServiceRequest>,
    /// The `grpc-encoding` of each request, in arrival order ("identity" when absent).
    pub encodings: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Recorder {
    recorded: Arc<Mutex<Recorded>>,
}

impl Recorder {
    pub fn snapshot(&self) -> Recorded {
        self.recorded
            .lock()
            .expect("no panics under the lock")
            .clone()
    }

    fn keep<T>(&self, request: Request<T>, store: impl FnOnce(&mut Recorded, T)) {
        let encoding = request
            .metadata()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_string();
        let mut recorded = self.recorded.lock().expect("no panics under the lock");
        recorded.encodings.push(encoding);
        store(&mut recorded, request.into_inner());
    }

    /// Waits until `done` holds for what was recorded, for at most `timeout`; returns the last snapshot.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&Recorded) -> bool,
    ) -> Result<Recorded, Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let snapshot = self.snapshot();
            if done(&snapshot) {
                return Ok(snapshot);
            }
            if Instant::now() >= deadline {
                return Err(snapshot);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[tonic::async_trait]
impl TraceService for Recorder {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.keep(request, |r, req| r.traces.push(req));
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Recorder {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.keep(request, |r, req| r.metrics.push(req));
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Recorder {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.keep(request, |r, req| r.logs.push(req));
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// A recorder serving on its own thread and runtime, so that synchronous tests can use it; stops
/// when dropped.
pub struct RecorderServer {
    pub addr: SocketAddr,
    pub recorder: Recorder,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RecorderServer {
    pub fn start() -> RecorderServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let recorder = Recorder::default();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the recorder on an ephemeral port");
        let addr = listener.local_addr().expect("bound");
        let service = recorder.clone();
        runtime.spawn(async move {
            let max = 64 << 20;
            let result = tonic::transport::Server::builder()
                .add_service(
                    TraceServiceServer::new(service.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd)
                        .max_decoding_message_size(max),
                )
                .add_service(
                    MetricsServiceServer::new(service.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd)
                        .max_decoding_message_size(max),
                )
                .add_service(
                    LogsServiceServer::new(service)
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd)
                        .max_decoding_message_size(max),
                )
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await;
            if let Err(e) = result {
                eprintln!("recorder stopped: {e}");
            }
        });
        RecorderServer {
            addr,
            recorder,
            runtime: Some(runtime),
        }
    }
}

impl Drop for RecorderServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
