//! The `l7protocol` processor: gives spans that carry an eBPF capture (`l7.request.payload`, from
//! an ebpf receiver with `l7.export_payload: true`, typically on another node) the span name and
//! semantic-convention attributes that receiver would have given them in-process, then removes the
//! payload attributes unless `keep_payload` is set. Other spans pass untouched.

pub mod config;
mod factory;
mod processor;

pub use config::L7ProtocolConfig;
pub use factory::L7ProtocolProcessorFactory;
pub use processor::L7ProtocolProcessor;

#[cfg(test)]
mod tests;
