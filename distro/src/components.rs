//! The components this binary ships (otelcol's `components.go`, or an ocb manifest).

use ferrotel_core::component::Registry;
use std::sync::Arc;

pub fn registry() -> Registry {
    Registry {
        receivers: vec![
            Arc::new(ferrotel_receiver_otlp::OtlpReceiverFactory),
            Arc::new(ferrotel_receiver_ebpf::EbpfReceiverFactory),
            Arc::new(ferrotel_receiver_postgresql::PostgresqlReceiverFactory),
            Arc::new(ferrotel_receiver_mysql::MysqlReceiverFactory),
            Arc::new(ferrotel_receiver_redis::RedisReceiverFactory),
            Arc::new(ferrotel_receiver_mongodb::MongodbReceiverFactory),
        ],
        processors: vec![
            Arc::new(ferrotel_processor_batch::BatchProcessorFactory),
            Arc::new(ferrotel_processor_memory_limiter::MemoryLimiterProcessorFactory),
            Arc::new(ferrotel_processor_l7protocol::L7ProtocolProcessorFactory),
        ],
        exporters: vec![
            Arc::new(ferrotel_exporter_otlp::OtlpExporterFactory),
            Arc::new(ferrotel_exporter_otlphttp::OtlpHttpExporterFactory),
            Arc::new(ferrotel_exporter_debug::DebugExporterFactory),
        ],
        connectors: vec![],
        extensions: vec![
            Arc::new(ferrotel_extension_health_check::HealthCheckExtensionFactory),
            Arc::new(ferrotel_extension_file_storage::FileStorageExtensionFactory),
            Arc::new(ferrotel_extension_bearertokenauth::BearerTokenAuthExtensionFactory),
            Arc::new(ferrotel_extension_basicauth::BasicAuthExtensionFactory),
        ],
    }
}
