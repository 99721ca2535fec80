//! The `l7protocol` processor's settings.

use ferrotel_core::config::Validate;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L7ProtocolConfig {
    /// Literals in queries become `?` and cache/key-value values are dropped, as the ebpf
    /// receiver's `l7.sanitize` does; `false` keeps the text as sent.
    pub sanitize: bool,
    /// The longest `db.query.text` kept, in bytes.
    pub max_query_length: usize,
    /// Keep `l7.request.payload` and `l7.response.payload` after parsing them. Off by default: the
    /// raw bytes can hold credentials and personal data.
    pub keep_payload: bool,
    /// Distinct `http.route` values per service (`service.name`, else the executable); past it a
    /// span keeps its method alone as its name and has no route (counted in self-telemetry).
    pub max_routes_per_service: usize,
}

impl Default for L7ProtocolConfig {
    fn default() -> Self {
        L7ProtocolConfig {
            sanitize: true,
            max_query_length: ferrotel_l7::Options::default().max_query_len,
            keep_payload: false,
            max_routes_per_service: ferrotel_l7::DEFAULT_MAX_ROUTES_PER_SERVICE,
        }
    }
}

impl Validate for L7ProtocolConfig {
    fn validate(&self) -> Result<(), String> {
        if self.max_query_length == 0 {
            return Err("'max_query_length' must be greater than zero".into());
        }
        if self.max_routes_per_service == 0 {
            return Err("'max_routes_per_service' must be greater than zero".into());
        }
        Ok(())
    }
}
