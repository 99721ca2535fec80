//! The `ebpf` receiver's settings. otelcol has no such receiver: the keys are ferrotel's own,
//! and every one has a default, so `ebpf:` alone runs with everything on.

use ferrotel_core::config::{GoDuration, Validate};

use crate::events::MAX_CAPTURE;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How often the metrics are emitted (cumulative since the receiver started).
    pub collection_interval: GoDuration,
    /// How often spans and process log records are handed to the pipelines.
    pub flush_interval: GoDuration,
    /// Size of the kernel's ring buffer, in MiB (a power of two).
    pub ring_buffer_size_mib: u32,
    pub tcp: Toggle,
    pub l7: L7Config,
    pub disk: Toggle,
    pub process: ProcessConfig,
    /// How the syscall programs hook in: `tp_btf` calls them straight from the kernel's raw
    /// sys_enter/sys_exit tracepoints; `tracepoint` attaches one perf-event program per syscall
    /// (slower: the kernel's perf path runs for every syscall). `auto` tries `tp_btf` first.
    pub syscall_probes: SyscallProbes,
    /// Only these are observed (each list, when not empty, must match).
    pub include: Filter,
    /// These are never observed.
    pub exclude: Filter,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            collection_interval: GoDuration::from_secs(10),
            flush_interval: GoDuration::from_secs(1),
            ring_buffer_size_mib: 8,
            tcp: Toggle::default(),
            l7: L7Config::default(),
            disk: Toggle::default(),
            process: ProcessConfig::default(),
            syscall_probes: SyscallProbes::Auto,
            include: Filter::default(),
            exclude: Filter::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Toggle {
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle { enabled: true }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L7Config {
    pub enabled: bool,
    /// Bytes captured from the start of each request and response (at most 4096). The kernel
    /// always reads enough to detect the protocol; 0 keeps nothing beyond that.
    pub payload_size: u32,
    /// Attach the captured bytes to spans (`l7.request.payload`, `l7.response.payload`). Off by
    /// default: raw payloads can hold credentials and personal data, and leave the process only
    /// when asked for.
    pub export_payload: bool,
    /// Fraction of exchanges that become spans; metrics count every exchange.
    pub sampling_ratio: f64,
    /// Requests kept in the kernel awaiting their response (LRU beyond that).
    pub max_pending_requests: u32,
    /// Literals in queries (`db.query.text`) become `?`, Redis values are dropped; `false` keeps
    /// the text as sent.
    pub sanitize: bool,
    /// Name spans and give them semantic-convention attributes from the request, in this
    /// process. `false` leaves that to an `l7protocol` processor downstream, which needs
    /// `export_payload`.
    pub semantics: bool,
    /// Also record the conventions' duration histograms (`http.server.request.duration`,
    /// `db.client.operation.duration`, …) with method, route and operation. They need every
    /// request's first bytes in user space, which costs what a span per exchange costs; the
    /// `l7.*` metrics, counted in the kernel, need none.
    pub semconv_metrics: bool,
    /// Distinct `http.route` values kept per executable; past it a span has no route and is
    /// named after its method (counted as `route_limit` in otelcol_receiver_ebpf_lost_events).
    pub max_routes_per_service: usize,
    /// Plaintext of TLS connections, read by uprobes on OpenSSL's `SSL_read`/`SSL_write` and Go's
    /// `crypto/tls`; the encrypted bytes on the socket are never parsed.
    pub tls: Toggle,
}

impl Default for L7Config {
    fn default() -> Self {
        L7Config {
            enabled: true,
            payload_size: 1024,
            export_payload: false,
            sampling_ratio: 1.0,
            max_pending_requests: 4096,
            sanitize: true,
            semantics: true,
            semconv_metrics: false,
            max_routes_per_service: ferrotel_l7::DEFAULT_MAX_ROUTES_PER_SERVICE,
            tls: Toggle::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyscallProbes {
    Auto,
    TpBtf,
    Tracepoint,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    pub enabled: bool,
    /// `redacted` (the default) replaces the values of arguments that look like secrets
    /// (`--password=…`, `--token …`, `-p…`, credentials in URLs) with `***`; `raw` keeps argv as is.
    pub command_line: CommandLine,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            enabled: true,
            command_line: CommandLine::Redacted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandLine {
    Redacted,
    Raw,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    /// Local or remote TCP/UDP ports.
    pub ports: Vec<u16>,
    /// Executable names (`process.executable.name`, e.g. `nginx`).
    pub process_names: Vec<String>,
    /// Prefixes of the cgroup path (`/system.slice/nginx.service`, `/kubepods/…`).
    pub cgroup_paths: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.process_names.is_empty() && self.cgroup_paths.is_empty()
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        if self.l7.payload_size as usize > MAX_CAPTURE {
            return Err(format!(
                "l7::payload_size: {} is over the most the kernel side captures ({MAX_CAPTURE})",
                self.l7.payload_size
            ));
        }
        if !(0.0..=1.0).contains(&self.l7.sampling_ratio) {
            return Err(format!(
                "l7::sampling_ratio: {} must be between 0 and 1",
                self.l7.sampling_ratio
            ));
        }
        if self.l7.semconv_metrics && !self.l7.semantics {
            return Err(
                "l7::semconv_metrics: needs l7::semantics, which reads the method, route and operation they carry".into(),
            );
        }
        if self.l7.max_routes_per_service == 0 {
            return Err("l7::max_routes_per_service: must be greater than zero".into());
        }
        let mib = self.ring_buffer_size_mib;
        if mib == 0 || !mib.is_power_of_two() || mib > 1024 {
            return Err(format!(
                "ring_buffer_size_mib: {mib} must be a power of two from 1 to 1024"
            ));
        }
        if self.l7.max_pending_requests == 0 {
            return Err("l7::max_pending_requests must be at least 1".into());
        }
        if self.collection_interval.as_duration().is_zero()
            || self.flush_interval.as_duration().is_zero()
        {
            return Err("collection_interval and flush_interval must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn decode(text: &str) -> Result<Config, String> {
        let node = Node::parse(text, "ebpf.yaml").map_err(|e| e.to_string())?;
        decode_validated::<Config>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_section_turns_everything_on_without_exporting_payloads() {
        let config = decode("").unwrap();
        assert_eq!(config, Config::default());
        assert!(config.tcp.enabled && config.l7.enabled && config.disk.enabled);
        assert_eq!(config.l7.payload_size, 1024);
        assert!(!config.l7.export_payload);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_named() {
        let err = decode("l7:\n  payload_size: 5000\n").unwrap_err();
        assert!(err.contains("l7::payload_size: 5000"), "{err}");
        let err = decode("ring_buffer_size_mib: 3\n").unwrap_err();
        assert!(err.contains("power of two"), "{err}");
        let err = decode("l7:\n  sampling_ratio: 2\n").unwrap_err();
        assert!(err.contains("sampling_ratio"), "{err}");
        let err = decode("tcp:\n  enable: true\n").unwrap_err();
        assert!(err.contains("enable"), "{err}");
        let config = decode("exclude:\n  ports: [22]\n  process_names: [sshd]\n").unwrap();
        assert_eq!(config.exclude.ports, vec![22]);
    }
}
