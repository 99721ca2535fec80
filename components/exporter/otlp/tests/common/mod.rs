//! A real OTLP/gRPC backend (tonic server on 127.0.0.1) that records what it receives and answers
//! from a script, plus the shared test kit bound to this exporter.

// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

use ferrotel_core::Signal;
use ferrotel_core::component::{CreateSettings, Kind, PipeRef};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlp::OtlpExporterFactory;
use ferrotel_testkit::{create_settings, metric_value, start_exporter};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
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
use prost::Message;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How the backend answers the next request.
#[derive(Clone, Debug)]
pub enum Reply {
    Ok,
    Fail(Code, Option<Duration>),
    Partial(i64, &'static str),
}

#[derive(Clone, Debug)]
pub struct Record {
    pub signal: Signal,
    /// The request re-encoded by prost: the same bytes as sent, when the sender used prost too.
    pub bytes: Vec<u8>,
    pub metadata: MetadataMap,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    records: Vec<Record>,
    script: VecDeque<Reply>,
}

#[derive(Clone, Default)]
pub struct Backend(Arc<Mutex<State>>);

impl Backend {
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.0.lock().unwrap().script.extend(replies);
    }

    pub fn records(&self) -> Vec<Record> {
        self.0.lock().unwrap().records.clone()
    }

    fn record(
        &self,
        signal: Signal,
        bytes: Vec<u8>,
        metadata: MetadataMap,
    ) -> Result<Option<(i64, String)>, Status> {
        let mut state = self.0.lock().unwrap();
        state.records.push(Record {
            signal,
            bytes,
            metadata,
            at: Instant::now(),
        });
        match state.script.pop_front().unwrap_or(Reply::Ok) {
            Reply::Ok => Ok(None),
            Reply::Partial(n, msg) => Ok(Some((n, msg.to_string()))),
            Reply::Fail(code, None) => Err(Status::new(code, "scripted failure")),
            Reply::Fail(code, Some(delay)) => Err(Status::with_error_details(
                code,
                "scripted throttle",
                ErrorDetails::with_retry_info(Some(delay)),
            )),
        }
    }

    /// Serves all three services on 127.0.0.1, with TLS when `tls` holds (cert PEM, key PEM).
    pub async fn serve(&self, tls: Option<(String, String)>) -> SocketAddr {
        self.serve_at(0, tls).await
    }

    /// As [`Backend::serve`], on a chosen port (0: any).
    pub async fn serve_at(&self, port: u16, tls: Option<(String, String)>) -> SocketAddr {
        let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        let addr = incoming.local_addr().unwrap();
        let mut builder = Server::builder();
        if let Some((cert, key)) = tls {
            builder = builder
                .tls_config(
                    ServerTlsConfig::new()
                        .identity(tonic::transport::Identity::from_pem(cert, key)),
                )
                .unwrap();
        }
        let mut traces = TraceServiceServer::new(self.clone());
        let mut metrics = MetricsServiceServer::new(self.clone());
        let mut logs = LogsServiceServer::new(self.clone());
        for encoding in [
            CompressionEncoding::Gzip,
            CompressionEncoding::Zstd,
            CompressionEncoding::Deflate,
        ] {
            traces = traces.accept_compressed(encoding);
            metrics = metrics.accept_compressed(encoding);
            logs = logs.accept_compressed(encoding);
        }
        let router = builder
            .add_service(traces)
            .add_service(metrics)
            .add_service(logs);
        tokio::spawn(router.serve_with_incoming(incoming));
        addr
    }
}

#[tonic::async_trait]
impl TraceService for Backend {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        let partial = self.record(Signal::Traces, message.encode_to_vec(), metadata)?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: partial.map(|(rejected_spans, error_message)| {
                opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                    rejected_spans,
                    error_message,
                }
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Backend {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        self.record(Signal::Metrics, message.encode_to_vec(), metadata)?;
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Backend {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        let partial = self.record(Signal::Logs, message.encode_to_vec(), metadata)?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: partial.map(|(rejected_log_records, error_message)| {
                ExportLogsPartialSuccess {
                    rejected_log_records,
                    error_message,
                }
            }),
        }))
    }
}

pub use ferrotel_testkit::{FAST_RETRY, batch, dead_port, eventually};

pub const ID: &str = "otlp_grpc/test";

pub fn settings(telemetry: &Arc<SelfTelemetry>) -> CreateSettings {
    create_settings(ID, Kind::Exporter, telemetry)
}

/// An exporter made by the factory from `yaml`, started.
pub async fn exporter(yaml: &str) -> (PipeRef, Arc<SelfTelemetry>) {
    start_exporter(&OtlpExporterFactory, ID, yaml).await
}

/// A self-metric of the test exporter (0 if never written).
pub fn metric(telemetry: &SelfTelemetry, name: &str) -> f64 {
    metric_value(telemetry, name, &format!("exporter=\"{ID}\""))
}
