//! The receiver's metrics as otelcol-contrib's `redisreceiver/metadata.yaml` has them (names,
//! units, Sum monotonic / non-monotonic / Gauge, default enabled), plus ferrotel's `redis.up`.

use ferrotel_core::scraperhelper::{Catalog, MetricDef, MetricKind};

use MetricKind::{Counter, Gauge, UpDownCounter};

/// The instrumentation scope otelcol-contrib uses.
pub const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver";

/// ferrotel's own: 1 when the server answered the scrape, 0 when it did not.
pub const UP: &str = "redis.up";

pub static DEFS: &[MetricDef] = &[
    MetricDef::new(
        "redis.clients.blocked",
        "{client}",
        UpDownCounter,
        true,
        "Number of clients pending on a blocking call",
    ),
    MetricDef::new(
        "redis.clients.connected",
        "{client}",
        UpDownCounter,
        true,
        "Number of client connections (excluding connections from replicas)",
    ),
    MetricDef::new(
        "redis.clients.max_input_buffer",
        "By",
        Gauge,
        true,
        "Biggest input buffer among current client connections",
    ),
    MetricDef::new(
        "redis.clients.max_output_buffer",
        "By",
        Gauge,
        true,
        "Longest output list among current client connections",
    ),
    MetricDef::new(
        "redis.commands",
        "{ops}/s",
        Gauge,
        true,
        "Number of commands processed per second",
    ),
    MetricDef::new(
        "redis.commands.processed",
        "{command}",
        Counter,
        true,
        "Total number of commands processed by the server",
    ),
    MetricDef::new(
        "redis.connections.received",
        "{connection}",
        Counter,
        true,
        "Total number of connections accepted by the server",
    ),
    MetricDef::new(
        "redis.connections.rejected",
        "{connection}",
        Counter,
        true,
        "Number of connections rejected because of maxclients limit",
    ),
    MetricDef::new(
        "redis.cpu.time",
        "s",
        Counter,
        true,
        "System CPU consumed by the Redis server in seconds since server start",
    ),
    MetricDef::new(
        "redis.db.avg_ttl",
        "ms",
        Gauge,
        true,
        "Average keyspace keys TTL",
    ),
    MetricDef::new(
        "redis.db.expires",
        "{key}",
        Gauge,
        true,
        "Number of keyspace keys with an expiration",
    ),
    MetricDef::new(
        "redis.db.keys",
        "{key}",
        Gauge,
        true,
        "Number of keyspace keys",
    ),
    MetricDef::new(
        "redis.keys.evicted",
        "{key}",
        Counter,
        true,
        "Number of evicted keys due to maxmemory limit",
    ),
    MetricDef::new(
        "redis.keys.expired",
        "{event}",
        Counter,
        true,
        "Total number of key expiration events",
    ),
    MetricDef::new(
        "redis.keyspace.hits",
        "{hit}",
        Counter,
        true,
        "Number of successful lookup of keys in the main dictionary",
    ),
    MetricDef::new(
        "redis.keyspace.misses",
        "{miss}",
        Counter,
        true,
        "Number of failed lookup of keys in the main dictionary",
    ),
    MetricDef::new(
        "redis.latest_fork",
        "us",
        Gauge,
        true,
        "Duration of the latest fork operation in microseconds",
    ),
    MetricDef::new(
        "redis.memory.fragmentation_ratio",
        "1",
        Gauge,
        true,
        "Ratio between used_memory_rss and used_memory",
    ),
    MetricDef::new(
        "redis.memory.lua",
        "By",
        Gauge,
        true,
        "Number of bytes used by the Lua engine",
    ),
    MetricDef::new(
        "redis.memory.peak",
        "By",
        Gauge,
        true,
        "Peak memory consumed by Redis (in bytes)",
    ),
    MetricDef::new(
        "redis.memory.rss",
        "By",
        Gauge,
        true,
        "Number of bytes that Redis allocated as seen by the operating system",
    ),
    MetricDef::new(
        "redis.memory.used",
        "By",
        Gauge,
        true,
        "Total number of bytes allocated by Redis using its allocator",
    ),
    MetricDef::new(
        "redis.net.input",
        "By",
        Counter,
        true,
        "The total number of bytes read from the network",
    ),
    MetricDef::new(
        "redis.net.output",
        "By",
        Counter,
        true,
        "The total number of bytes written to the network",
    ),
    MetricDef::new(
        "redis.rdb.changes_since_last_save",
        "{change}",
        UpDownCounter,
        true,
        "Number of changes since the last dump",
    ),
    MetricDef::new(
        "redis.replication.backlog_first_byte_offset",
        "By",
        Gauge,
        true,
        "The master offset of the replication backlog buffer",
    ),
    MetricDef::new(
        "redis.replication.offset",
        "By",
        Gauge,
        true,
        "The server's current replication offset",
    ),
    MetricDef::new(
        "redis.slaves.connected",
        "{replica}",
        UpDownCounter,
        true,
        "Number of connected replicas",
    ),
    MetricDef::new(
        "redis.uptime",
        "s",
        Counter,
        true,
        "Number of seconds since Redis server start",
    ),
    // optional in otelcol
    MetricDef::new(
        "redis.cmd.calls",
        "{call}",
        Counter,
        false,
        "Total number of calls for a command",
    ),
    MetricDef::new(
        "redis.cmd.latency",
        "s",
        Gauge,
        false,
        "Command execution latency",
    ),
    MetricDef::new(
        "redis.cmd.usec",
        "us",
        Counter,
        false,
        "Total time for all executions of this command",
    ),
    MetricDef::new(
        "redis.maxmemory",
        "By",
        Gauge,
        false,
        "The value of the maxmemory configuration directive",
    ),
    MetricDef::new(
        "redis.replication.replica_offset",
        "By",
        Gauge,
        false,
        "Offset for redis replica",
    ),
    MetricDef::new(
        "redis.role",
        "{role}",
        UpDownCounter,
        false,
        "Redis node's role",
    ),
    // ferrotel's own
    MetricDef::new(
        UP,
        "1",
        Gauge,
        true,
        "Whether the last scrape reached the server (1) or not (0)",
    ),
];

/// Optional otelcol metrics that a config may toggle but that this receiver does not produce:
/// the cluster ones (CLUSTER INFO), Sentinel's, and a few newer INFO fields.
pub const ACCEPTED_ONLY: &[&str] = &[
    "redis.cluster.cluster_enabled",
    "redis.cluster.known_nodes",
    "redis.cluster.links_buffer_limit_exceeded.count",
    "redis.cluster.node.count",
    "redis.cluster.node.uptime",
    "redis.cluster.slots_assigned",
    "redis.cluster.slots_fail",
    "redis.cluster.slots_ok",
    "redis.cluster.slots_pfail",
    "redis.cluster.state",
    "redis.cluster.stats_messages_received",
    "redis.cluster.stats_messages_sent",
    "redis.cluster.uptime",
    "redis.memory.used_memory_overhead",
    "redis.memory.used_memory_startup",
    "redis.mode",
    "redis.sentinel.masters",
    "redis.sentinel.running_scripts",
    "redis.sentinel.scripts_queue_length",
    "redis.sentinel.simulate_failure_flags",
    "redis.sentinel.tilt_since_seconds",
    "redis.sentinel.total_tilt",
    "redis.stats.tracking_total_keys",
    "redis.tracking_total_keys",
];

/// Resource attributes with their default `enabled`.
pub const RESOURCE_ATTRIBUTES: &[(&str, bool)] = &[
    ("redis.version", true),
    ("server.address", false),
    ("server.port", false),
];

/// INFO fields read as integers: (field, metric).
pub const INT_FIELDS: &[(&str, &str)] = &[
    ("uptime_in_seconds", "redis.uptime"),
    ("connected_clients", "redis.clients.connected"),
    (
        "client_recent_max_input_buffer",
        "redis.clients.max_input_buffer",
    ),
    (
        "client_recent_max_output_buffer",
        "redis.clients.max_output_buffer",
    ),
    ("blocked_clients", "redis.clients.blocked"),
    ("expired_keys", "redis.keys.expired"),
    ("evicted_keys", "redis.keys.evicted"),
    ("total_connections_received", "redis.connections.received"),
    ("rejected_connections", "redis.connections.rejected"),
    ("used_memory", "redis.memory.used"),
    ("used_memory_peak", "redis.memory.peak"),
    ("used_memory_rss", "redis.memory.rss"),
    ("used_memory_lua", "redis.memory.lua"),
    (
        "rdb_changes_since_last_save",
        "redis.rdb.changes_since_last_save",
    ),
    ("instantaneous_ops_per_sec", "redis.commands"),
    ("total_commands_processed", "redis.commands.processed"),
    ("total_net_input_bytes", "redis.net.input"),
    ("total_net_output_bytes", "redis.net.output"),
    ("keyspace_hits", "redis.keyspace.hits"),
    ("keyspace_misses", "redis.keyspace.misses"),
    ("latest_fork_usec", "redis.latest_fork"),
    ("connected_slaves", "redis.slaves.connected"),
    (
        "repl_backlog_first_byte_offset",
        "redis.replication.backlog_first_byte_offset",
    ),
    ("master_repl_offset", "redis.replication.offset"),
    ("maxmemory", "redis.maxmemory"),
    ("slave_repl_offset", "redis.replication.replica_offset"),
];

/// INFO fields read as doubles: (field, metric, `state` attribute if any).
pub const DOUBLE_FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("used_cpu_sys", "redis.cpu.time", Some("sys")),
    (
        "used_cpu_sys_children",
        "redis.cpu.time",
        Some("sys_children"),
    ),
    (
        "used_cpu_sys_main_thread",
        "redis.cpu.time",
        Some("sys_main_thread"),
    ),
    ("used_cpu_user", "redis.cpu.time", Some("user")),
    (
        "used_cpu_user_children",
        "redis.cpu.time",
        Some("user_children"),
    ),
    (
        "used_cpu_user_main_thread",
        "redis.cpu.time",
        Some("user_main_thread"),
    ),
    (
        "mem_fragmentation_ratio",
        "redis.memory.fragmentation_ratio",
        None,
    ),
];

/// The percentiles `redis.cmd.latency` reports (otelcol's `percentile` enum).
pub const PERCENTILES: &[&str] = &["p50", "p99", "p99.9"];

/// What the config's `metrics:`, `resource_attributes:` and `events:` may name.
pub static CATALOG: Catalog = Catalog {
    metrics: DEFS,
    accepted_only: ACCEPTED_ONLY,
    resource_attributes: RESOURCE_ATTRIBUTES,
    events: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_maps_to_a_known_metric_and_names_are_unique() {
        let known = |n: &str| DEFS.iter().any(|d| d.name == n);
        for (_, metric) in INT_FIELDS {
            assert!(known(metric), "{metric}");
        }
        for (_, metric, _) in DOUBLE_FIELDS {
            assert!(known(metric), "{metric}");
        }
        assert_eq!(CATALOG.repeated_name(), None, "a metric is listed twice");
        let defaults = DEFS.iter().filter(|d| d.enabled && d.name != UP).count();
        assert_eq!(defaults, 29, "otelcol enables 29 redis metrics by default");
    }
}
