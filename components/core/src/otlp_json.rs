//! OTLP/JSON (the OTLP specification's JSON Protobuf Encoding) for OTLP/HTTP receivers and exporters.
//!
//! The transcoder goes straight between JSON text and protobuf bytes, driven by a table of the
//! OTLP messages (`schema.rs`), so a JSON request becomes the same encoded `Telemetry` a protobuf
//! request does and an encoded batch is written as JSON without building prost structs.
//!
//! Decoding follows the spec and is as lenient as protojson: lowerCamelCase keys and the proto
//! (snake_case) names, enums as integers or names, 64-bit integers as strings or numbers, `NaN` /
//! `Infinity` strings for doubles, base64 with or without padding, `null` for "absent", and
//! unknown fields ignored. Trace and span ids are hex (any case) and must have their full length.
//! Encoding writes spec JSON: lowerCamelCase keys, lowercase hex ids, 64-bit integers as decimal
//! strings, enums as integers, and no default values or nulls.

mod decode;
mod encode;
mod schema;

use crate::signal::{DecodeError, Signal, Telemetry};
use crate::wire::{Limits, WireError};

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The JSON is not a valid OTLP message (syntax, types, ranges, ids).
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    /// The protobuf handed to the encoder is malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The OTLP messages this module transcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpMessage {
    /// `Export{Trace,Metrics,Logs}ServiceRequest`
    Request(Signal),
    /// `Export{Trace,Metrics,Logs}ServiceResponse` (with its partial success)
    Response(Signal),
    /// `google.rpc.Status`, the OTLP/HTTP error body (code and message; details are not carried)
    RpcStatus,
}

impl OtlpMessage {
    fn schema(self) -> &'static schema::Msg {
        match self {
            OtlpMessage::Request(Signal::Traces) => &schema::TRACE_REQUEST,
            OtlpMessage::Request(Signal::Metrics) => &schema::METRICS_REQUEST,
            OtlpMessage::Request(Signal::Logs) => &schema::LOGS_REQUEST,
            OtlpMessage::Response(Signal::Traces) => &schema::TRACE_RESPONSE,
            OtlpMessage::Response(Signal::Metrics) => &schema::METRICS_RESPONSE,
            OtlpMessage::Response(Signal::Logs) => &schema::LOGS_RESPONSE,
            OtlpMessage::RpcStatus => &schema::RPC_STATUS,
        }
    }
}

/// OTLP/JSON text → protobuf bytes of the same message.
pub fn json_to_protobuf(message: OtlpMessage, json: &[u8]) -> Result<Vec<u8>, JsonError> {
    Ok(decode::json_to_proto(message.schema(), json)?)
}

/// Protobuf bytes → OTLP/JSON text of the same message.
pub fn protobuf_to_json(message: OtlpMessage, protobuf: &[u8]) -> Result<Vec<u8>, JsonError> {
    Ok(encode::proto_to_json(message.schema(), protobuf)?)
}

/// An OTLP/JSON export request body → a batch (held encoded, like one that arrived as protobuf).
pub fn decode_json(signal: Signal, json: &[u8]) -> Result<Telemetry, JsonError> {
    let protobuf = json_to_protobuf(OtlpMessage::Request(signal), json)?;
    Ok(Telemetry::from_encoded(signal, protobuf.into())?)
}

/// [`decode_json`] that also enforces a receiver's `limits` (see `Telemetry::from_encoded_checked`).
pub fn decode_json_checked(
    signal: Signal,
    json: &[u8],
    limits: &Limits,
) -> Result<Telemetry, JsonError> {
    let protobuf = json_to_protobuf(OtlpMessage::Request(signal), json)?;
    Ok(Telemetry::from_encoded_checked(
        signal,
        protobuf.into(),
        limits,
    )?)
}

/// A batch → an OTLP/JSON export request body. Takes the encoded form, so a batch that was
/// never decoded is written without a decode.
pub fn encode_json(data: &Telemetry) -> Result<Vec<u8>, JsonError> {
    protobuf_to_json(OtlpMessage::Request(data.signal()), &data.to_encoded())
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
