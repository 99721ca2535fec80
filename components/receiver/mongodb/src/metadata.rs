//! The receiver's metrics and resource attributes, as otelcol-contrib's `mongodbreceiver`
//! `metadata.yaml` has them (names, units, sum/gauge, monotonic, default enabled), plus
//! ferrotel's own `mongodb.up`.

use ferrotel_core::scraperhelper::{Catalog, MetricDef, MetricKind};

/// The instrumentation scope otelcol-contrib uses.
pub const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/mongodbreceiver";

/// ferrotel's own: 1 when the server answered the scrape, 0 when it did not.
pub const UP: &str = "mongodb.up";

/// Resource attributes: (name, enabled by default).
pub const RESOURCE_ATTRIBUTES: &[(&str, bool)] = &[
    ("server.address", true),
    ("server.port", false),
    ("service.instance.id", true),
];

/// The only event of otelcol's logs side (not produced here; its toggle is accepted).
pub const EVENTS: &[&str] = &["db.server.query_sample"];

use MetricKind::{Counter, Gauge, UpDownCounter};

#[rustfmt::skip]
pub static DEFS: &[MetricDef] = &[
    // enabled by default
    MetricDef::new("mongodb.cache.operations", "{operations}", Counter, true, "The number of cache operations of the instance."),
    MetricDef::new("mongodb.collection.count", "{collections}", UpDownCounter, true, "The number of collections."),
    MetricDef::new("mongodb.connection.count", "{connections}", UpDownCounter, true, "The number of connections."),
    MetricDef::new("mongodb.cursor.count", "{cursors}", UpDownCounter, true, "The number of open cursors maintained for clients."),
    MetricDef::new("mongodb.cursor.timeout.count", "{cursors}", UpDownCounter, true, "The number of cursors that have timed out."),
    MetricDef::new("mongodb.data.size", "By", UpDownCounter, true, "The size of the collection. Data compression does not affect this value."),
    MetricDef::new("mongodb.database.count", "{databases}", UpDownCounter, true, "The number of existing databases."),
    MetricDef::new("mongodb.document.operation.count", "{documents}", UpDownCounter, true, "The number of document operations executed."),
    MetricDef::new("mongodb.extent.count", "{extents}", UpDownCounter, true, "The number of extents."),
    MetricDef::new("mongodb.global_lock.time", "ms", Counter, true, "The time the global lock has been held."),
    MetricDef::new("mongodb.index.access.count", "{accesses}", UpDownCounter, true, "The number of times an index has been accessed."),
    MetricDef::new("mongodb.index.count", "{indexes}", UpDownCounter, true, "The number of indexes."),
    MetricDef::new("mongodb.index.size", "By", UpDownCounter, true, "Sum of the space allocated to all indexes in the database, including free index space."),
    MetricDef::new("mongodb.memory.usage", "By", UpDownCounter, true, "The amount of memory used."),
    MetricDef::new("mongodb.network.io.receive", "By", UpDownCounter, true, "The number of bytes received."),
    MetricDef::new("mongodb.network.io.transmit", "By", UpDownCounter, true, "The number of by transmitted."),
    MetricDef::new("mongodb.network.request.count", "{requests}", UpDownCounter, true, "The number of requests received by the server."),
    MetricDef::new("mongodb.object.count", "{objects}", UpDownCounter, true, "The number of objects."),
    MetricDef::new("mongodb.operation.count", "{operations}", Counter, true, "The number of operations executed."),
    MetricDef::new("mongodb.operation.time", "ms", Counter, true, "The total time spent performing operations."),
    MetricDef::new("mongodb.session.count", "{sessions}", UpDownCounter, true, "The total number of active sessions."),
    MetricDef::new("mongodb.storage.size", "By", Counter, true, "The total amount of storage allocated to this collection."),
    // optional
    MetricDef::new("mongodb.active.reads", "{reads}", UpDownCounter, false, "The number of read operations currently being processed."),
    MetricDef::new("mongodb.active.writes", "{writes}", UpDownCounter, false, "The number of write operations currently being processed."),
    MetricDef::new("mongodb.commands.rate", "{command}/s", Gauge, false, "The number of commands executed per second."),
    MetricDef::new("mongodb.deletes.rate", "{delete}/s", Gauge, false, "The number of deletes executed per second."),
    MetricDef::new("mongodb.flushes.rate", "{flush}/s", Gauge, false, "The number of flushes executed per second."),
    MetricDef::new("mongodb.getmores.rate", "{getmore}/s", Gauge, false, "The number of getmores executed per second."),
    MetricDef::new("mongodb.health", "1", Gauge, false, "The health status of the server."),
    MetricDef::new("mongodb.inserts.rate", "{insert}/s", Gauge, false, "The number of insertions executed per second."),
    MetricDef::new("mongodb.lock.acquire.count", "{count}", Counter, false, "Number of times the lock was acquired in the specified mode."),
    MetricDef::new("mongodb.lock.acquire.time", "microseconds", Counter, false, "Cumulative wait time for the lock acquisitions."),
    MetricDef::new("mongodb.lock.acquire.wait_count", "{count}", Counter, false, "Number of times the lock acquisitions encountered waits because the locks were held in a conflicting mode."),
    MetricDef::new("mongodb.lock.deadlock.count", "{count}", Counter, false, "Number of times the lock acquisitions encountered deadlocks."),
    MetricDef::new("mongodb.operation.latency.time", "us", Gauge, false, "The latency of operations."),
    MetricDef::new("mongodb.operation.repl.count", "{operations}", Counter, false, "The number of replicated operations executed."),
    MetricDef::new("mongodb.page_faults", "{faults}", Counter, false, "The number of page faults."),
    MetricDef::new("mongodb.queries.rate", "{query}/s", Gauge, false, "The number of queries executed per second."),
    MetricDef::new("mongodb.repl_commands_per_sec", "{command}/s", Gauge, false, "The number of replicated commands executed per second."),
    MetricDef::new("mongodb.repl_deletes_per_sec", "{delete}/s", Gauge, false, "The number of replicated deletes executed per second."),
    MetricDef::new("mongodb.repl_getmores_per_sec", "{getmore}/s", Gauge, false, "The number of replicated getmores executed per second."),
    MetricDef::new("mongodb.repl_inserts_per_sec", "{insert}/s", Gauge, false, "The number of replicated insertions executed per second."),
    MetricDef::new("mongodb.repl_queries_per_sec", "{query}/s", Gauge, false, "The number of replicated queries executed per second."),
    MetricDef::new("mongodb.repl_updates_per_sec", "{update}/s", Gauge, false, "The number of replicated updates executed per second."),
    MetricDef::new("mongodb.updates.rate", "{update}/s", Gauge, false, "The number of updates executed per second."),
    MetricDef::new("mongodb.uptime", "ms", Counter, false, "The amount of time that the server has been running."),
    MetricDef::new("mongodb.wtcache.bytes.read", "By", Counter, false, "The number of bytes read into the WiredTiger cache."),
    // ferrotel's own
    MetricDef::new(UP, "1", Gauge, true, "Whether the last scrape reached the server (1) or not (0); ferrotel's own metric."),
];

/// `operation` values and the `opcounters` / `opcountersRepl` keys they are read from, with the
/// names of the per-second rate gauges (primary, replicated).
pub const OPCOUNTERS: &[(&str, &str, &str)] = &[
    (
        "insert",
        "mongodb.inserts.rate",
        "mongodb.repl_inserts_per_sec",
    ),
    (
        "query",
        "mongodb.queries.rate",
        "mongodb.repl_queries_per_sec",
    ),
    (
        "update",
        "mongodb.updates.rate",
        "mongodb.repl_updates_per_sec",
    ),
    (
        "delete",
        "mongodb.deletes.rate",
        "mongodb.repl_deletes_per_sec",
    ),
    (
        "getmore",
        "mongodb.getmores.rate",
        "mongodb.repl_getmores_per_sec",
    ),
    (
        "command",
        "mongodb.commands.rate",
        "mongodb.repl_commands_per_sec",
    ),
];

/// `top` keys and the `operation` value each is reported as.
pub const TOP_OPERATIONS: &[(&str, &str)] = &[
    ("insert", "insert"),
    ("queries", "query"),
    ("update", "update"),
    ("remove", "delete"),
    ("getmore", "getmore"),
    ("commands", "command"),
];

/// `metrics.document` keys and the `operation` value each is reported as.
pub const DOCUMENT_OPERATIONS: &[(&str, &str)] = &[
    ("inserted", "insert"),
    ("updated", "update"),
    ("deleted", "delete"),
];

/// `serverStatus.locks` resource names and their `lock_type` values.
pub const LOCK_TYPES: &[(&str, &str)] = &[
    ("ParallelBatchWriterMode", "parallel_batch_write_mode"),
    ("ReplicationStateTransition", "replication_state_transition"),
    ("Global", "global"),
    ("Database", "database"),
    ("Collection", "collection"),
    ("Mutex", "mutex"),
    ("Metadata", "metadata"),
    ("oplog", "oplog"),
];

/// Lock mode letters and their `lock_mode` values.
pub const LOCK_MODES: &[(&str, &str)] = &[
    ("R", "shared"),
    ("W", "exclusive"),
    ("r", "intent_shared"),
    ("w", "intent_exclusive"),
];

/// The lock metrics: (name, the `locks.<type>.<field>` they read).
pub const LOCK_METRICS: &[(&str, &str)] = &[
    ("mongodb.lock.acquire.count", "acquireCount"),
    ("mongodb.lock.acquire.wait_count", "acquireWaitCount"),
    ("mongodb.lock.acquire.time", "timeAcquiringMicros"),
    ("mongodb.lock.deadlock.count", "deadlockCount"),
];

/// What the config's `metrics:`, `resource_attributes:` and `events:` may name.
pub static CATALOG: Catalog = Catalog {
    metrics: DEFS,
    accepted_only: &[],
    resource_attributes: RESOURCE_ATTRIBUTES,
    events: EVENTS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_default_set_is_otelcols() {
        assert_eq!(CATALOG.repeated_name(), None, "a metric is listed twice");
        let defaults = DEFS.iter().filter(|d| d.enabled && d.name != UP).count();
        assert_eq!(defaults, 22);
        let storage = DEFS
            .iter()
            .find(|d| d.name == "mongodb.storage.size")
            .unwrap();
        assert_eq!(
            storage.kind, Counter,
            "otelcol declares storage.size monotonic"
        );
    }
}
