//! Shared by the receiver's socket tests: a recording/refusing consumer, a started receiver on
//! 127.0.0.1 ephemeral ports, and OTLP requests of a chosen size.
// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

use bytes::{Buf, BufMut, Bytes};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use async_trait::async_trait;
use ferrotel_core::component::{CreateSettings, Kind, Lifecycle, SignalConsumers};
use ferrotel_core::config::{Node, decode_validated};
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_receiver_otlp::{Config, OtlpReceiver};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// What the test consumer answers.
#[derive(Clone, Debug)]
pub enum Mode {
    Accept,
    Refuse(Option<Duration>),
    Reject,
}

/// Records what it accepts; answers as its mode says.
pub struct Recorder {
    pub received: Mutex<Vec<Telemetry>>,
    pub mode: Mutex<Mode>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            received: Mutex::new(Vec::new()),
            mode: Mutex::new(Mode::Accept),
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn items(&self, signal: Signal) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.signal() == signal)
            .map(Telemetry::item_count)
            .sum()
    }

    pub fn take(&self) -> Vec<Telemetry> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Accept => {
                self.received.lock().unwrap().push(data);
                Ok(())
            }
            Mode::Refuse(retry_after) => Err(ConsumeError::Refused {
                reason: "queue is full".into(),
                retry_after,
            }),
            Mode::Reject => Err(ConsumeError::Permanent("the data is invalid".into())),
        }
    }
}

pub struct Harness {
    pub receiver: OtlpReceiver,
    pub recorder: Arc<Recorder>,
    pub telemetry: Arc<SelfTelemetry>,
}

impl Harness {
    pub fn grpc_url(&self) -> String {
        format!(
            "http://{}",
            self.receiver.grpc_addr().expect("gRPC started")
        )
    }

    pub fn http_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.receiver.http_addr().expect("HTTP started")
        )
    }
}

pub fn settings(telemetry: &Arc<SelfTelemetry>) -> CreateSettings {
    ferrotel_testkit::create_settings("otlp/test", Kind::Receiver, telemetry)
}

pub fn config(yaml: &str) -> Config {
    decode_validated::<Config>(&Node::parse(yaml, "test.yaml").unwrap()).unwrap()
}

/// Both protocols on 127.0.0.1 ephemeral ports unless `yaml` says otherwise; `signals` get the recorder.
pub async fn start_with(yaml: &str, signals: &[Signal]) -> Harness {
    let telemetry = SelfTelemetry::new(&[]);
    let recorder = Recorder::new();
    let mut next = SignalConsumers::default();
    for signal in signals {
        next.set(*signal, recorder.clone());
    }
    let receiver = OtlpReceiver::new(config(yaml), settings(&telemetry), next).unwrap();
    receiver.start().await.unwrap();
    Harness {
        receiver,
        recorder,
        telemetry,
    }
}

pub const BOTH: &str =
    "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n  http:\n    endpoint: 127.0.0.1:0\n";

pub async fn start() -> Harness {
    start_with(BOTH, &Signal::ALL).await
}

pub use ferrotel_testkit::{logs, metrics, request_bytes, traces};

/// A trace request whose encoding is about `size` bytes and compresses to almost nothing.
pub fn huge_traces(size: usize) -> ExportTraceServiceRequest {
    let mut request = traces(1);
    request.resource_spans[0].scope_spans[0].spans[0].name = "a".repeat(size);
    request
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Sends arbitrary bytes as a gRPC message, to test what generated clients cannot send.
#[derive(Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
