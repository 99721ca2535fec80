//! What both transports do with a decoded request: hand it to the pipeline, count the outcome in
//! self-telemetry, and describe the answer (full success, partial success, or an error).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrotel_core::batching::ClientMetadata;
use ferrotel_core::component::{ComponentId, SignalConsumers};
use ferrotel_core::consumer::ConsumeError;
use ferrotel_core::otlp_json::JsonError;
use ferrotel_core::signal::{DecodeError, Signal, Telemetry};
use ferrotel_core::telemetry::ReceiverMetrics;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

/// The part of a request the server kept back, reported in the response's `partial_success`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartialSuccess {
    pub rejected: i64,
    pub message: String,
}

/// The pipelines of one transport, with that transport's self-telemetry.
pub(crate) struct Exporter {
    pub id: ComponentId,
    pub transport: &'static str,
    /// `include_metadata`: the client's request headers travel with its data (for `metadata_keys`).
    pub include_metadata: bool,
    pub consumers: SignalConsumers,
    pub metrics: ReceiverMetrics,
}

impl Exporter {
    /// With `include_metadata`, the request's headers (gRPC metadata) as the data's client metadata.
    pub fn client_metadata(&self, headers: &http::HeaderMap) -> Option<Arc<ClientMetadata>> {
        if !self.include_metadata {
            return None;
        }
        let mut metadata = ClientMetadata::new();
        for (name, value) in headers {
            if let Ok(value) = value.to_str() {
                metadata.insert(name.as_str(), value);
            }
        }
        Some(Arc::new(metadata))
    }

    /// Pushes one request's data; an empty request is answered without bothering the pipeline,
    /// as otelcol does.
    pub(crate) async fn export(
        &self,
        data: Telemetry,
    ) -> Result<Option<PartialSuccess>, ConsumeError> {
        let signal = data.signal();
        let items = data.item_count();
        if items == 0 {
            return Ok(None);
        }
        let Some(consumer) = self.consumers.get(signal) else {
            // Routing never sends a signal without a pipeline here; refuse rather than lose it.
            return Err(ConsumeError::Permanent(format!(
                "no pipeline takes {signal}"
            )));
        };
        match consumer.consume(data).await {
            Ok(()) => {
                self.metrics.accepted(signal, items);
                Ok(None)
            }
            Err(error) => {
                // otelcol (receiver metrics feature gate off) counts every downstream error as refused.
                self.metrics.refused(signal, items);
                tracing::warn!(
                    receiver = %self.id,
                    transport = self.transport,
                    signal = signal.as_str(),
                    items,
                    retryable = error.is_retryable(),
                    error = %error,
                    "OTLP request refused by the pipeline"
                );
                Err(error)
            }
        }
    }
}

impl Exporter {
    /// The message for a request that cannot be taken as sent. One over a limit, or holding data
    /// a decoder refuses (a string not UTF-8, an id of the wrong length), was well framed, so its
    /// items are known: they are counted as failed, as otelcol counts what it cannot decode.
    pub(crate) fn refuse_undecodable(&self, signal: Signal, error: &DecodeError) -> String {
        match error {
            DecodeError::Limit { items, .. } | DecodeError::Invalid { items, .. } => {
                self.metrics.failed(signal, *items);
                tracing::warn!(
                    receiver = %self.id,
                    transport = self.transport,
                    signal = signal.as_str(),
                    items = *items,
                    error = %error,
                    "OTLP request refused"
                );
                format!("{signal} request refused: {error}")
            }
            _ => format!("failed to decode the {signal} request: {error}"),
        }
    }

    /// [`Exporter::refuse_undecodable`] for an OTLP/JSON body.
    pub(crate) fn refuse_bad_json(&self, signal: Signal, error: &JsonError) -> String {
        match error {
            JsonError::Decode(error) => self.refuse_undecodable(signal, error),
            _ => format!("failed to decode the {signal} request: {error}"),
        }
    }
}

/// The protobuf `Export*ServiceResponse`: empty on full success.
pub(crate) fn response_protobuf(signal: Signal, partial: Option<PartialSuccess>) -> Bytes {
    let Some(PartialSuccess { rejected, message }) = partial else {
        return Bytes::new();
    };
    match signal {
        Signal::Traces => ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
    }
    .into()
}

/// Seconds for `Retry-After`: rounded up, and 1 when the pipeline gave no hint.
pub(crate) fn retry_after_secs(retry_after: Option<Duration>) -> u64 {
    match retry_after {
        Some(d) => d.as_secs() + u64::from(d.subsec_nanos() > 0),
        None => 1,
    }
    .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::otlp_json::{OtlpMessage, protobuf_to_json};

    #[test]
    fn partial_success_is_encoded_per_signal() {
        assert!(response_protobuf(Signal::Logs, None).is_empty());
        let bytes = response_protobuf(
            Signal::Logs,
            Some(PartialSuccess {
                rejected: 2,
                message: "too old".into(),
            }),
        );
        let decoded = ExportLogsServiceResponse::decode(bytes.clone()).unwrap();
        assert_eq!(decoded.partial_success.unwrap().rejected_log_records, 2);
        let json = protobuf_to_json(OtlpMessage::Response(Signal::Logs), &bytes).unwrap();
        assert_eq!(
            json,
            br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#
        );
    }

    #[test]
    fn retry_after_rounds_up_and_defaults_to_one_second() {
        assert_eq!(retry_after_secs(None), 1);
        assert_eq!(retry_after_secs(Some(Duration::from_millis(10))), 1);
        assert_eq!(retry_after_secs(Some(Duration::from_millis(2500))), 3);
        assert_eq!(retry_after_secs(Some(Duration::from_secs(30))), 30);
    }
}
