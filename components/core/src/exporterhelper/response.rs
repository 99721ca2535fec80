//! Reading an OTLP export response: its partial success becomes a [`Delivered`].

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::Delivered;
use crate::signal::Signal;

/// The rejected count and message of an encoded `Export{Trace,Metrics,Logs}ServiceResponse`.
/// An empty response is full success.
pub fn partial_success(signal: Signal, response: &[u8]) -> Result<Delivered, prost::DecodeError> {
    let partial = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(response)?
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(response)?
            .partial_success
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(response)?
            .partial_success
            .map(|p| (p.rejected_log_records, p.error_message)),
    };
    Ok(match partial {
        Some((rejected, message)) => {
            Delivered::partial(usize::try_from(rejected).unwrap_or(0), message)
        }
        None => Delivered::all(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;

    #[test]
    fn partial_success_is_read_per_signal() {
        let response = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: 4,
                error_message: "stale".into(),
            }),
        };
        assert_eq!(
            partial_success(Signal::Metrics, &response.encode_to_vec()).unwrap(),
            Delivered::partial(4, "stale")
        );
        assert_eq!(
            partial_success(Signal::Traces, &[]).unwrap(),
            Delivered::all()
        );
        assert!(partial_success(Signal::Logs, &[0xff]).is_err());
    }
}
