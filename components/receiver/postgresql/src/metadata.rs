//! The receiver's metrics as otelcol-contrib's `postgresqlreceiver/metadata.yaml` has them (names,
//! units, Sum monotonic / non-monotonic / Gauge, default enabled), plus ferrotel's own, all off by
//! default except `postgresql.up`.

use ferrotel_core::scraperhelper::{Catalog, MetricDef, MetricKind};

use MetricKind::{Counter, Gauge, UpDownCounter};

/// The instrumentation scope otelcol-contrib uses.
pub const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/postgresqlreceiver";

/// ferrotel's own: 1 when the server answered the scrape, 0 when it did not.
pub const UP: &str = "postgresql.up";

/// ferrotel's top-N query metrics, switched on together by `top_queries::enabled`.
pub const TOP_QUERY_METRICS: &[&str] = &[
    "postgresql.query.calls",
    "postgresql.query.total_time",
    "postgresql.query.io_time",
];
/// ferrotel's lock-wait metric, switched on by `lock_waits::enabled`.
pub const LOCK_WAIT: &str = "postgresql.lock.wait_time";

#[rustfmt::skip]
pub static DEFS: &[MetricDef] = &[
    // otelcol's default metrics
    MetricDef::new("postgresql.backends", "1", UpDownCounter, true, "The number of backends"),
    MetricDef::new("postgresql.bgwriter.buffers.allocated", "{buffers}", Counter, true, "Number of buffers allocated"),
    MetricDef::new("postgresql.bgwriter.buffers.writes", "{buffers}", Counter, true, "Number of buffers written"),
    MetricDef::new("postgresql.bgwriter.checkpoint.count", "{checkpoints}", Counter, true, "The number of checkpoints performed"),
    MetricDef::new("postgresql.bgwriter.duration", "ms", Counter, true, "Total time spent writing and syncing files to disk by checkpoints"),
    MetricDef::new("postgresql.bgwriter.maxwritten", "1", Counter, true, "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
    MetricDef::new("postgresql.blocks_read", "1", Counter, true, "The number of blocks read"),
    MetricDef::new("postgresql.commits", "1", Counter, true, "The number of commits"),
    MetricDef::new("postgresql.connection.max", "{connections}", Gauge, true, "Configured maximum number of client connections allowed"),
    MetricDef::new("postgresql.database.count", "{databases}", UpDownCounter, true, "Number of user databases"),
    MetricDef::new("postgresql.db_size", "By", UpDownCounter, true, "The database disk usage"),
    MetricDef::new("postgresql.index.scans", "{scans}", Counter, true, "The number of index scans on a table"),
    MetricDef::new("postgresql.index.size", "By", Gauge, true, "The size of the index on disk"),
    MetricDef::new("postgresql.operations", "1", Counter, true, "The number of db row operations"),
    MetricDef::new("postgresql.replication.data_delay", "By", Gauge, true, "The amount of data delayed in replication"),
    MetricDef::new("postgresql.rollbacks", "1", Counter, true, "The number of rollbacks"),
    MetricDef::new("postgresql.rows", "1", UpDownCounter, true, "The number of rows in the database"),
    MetricDef::new("postgresql.table.count", "{table}", UpDownCounter, true, "Number of user tables in a database"),
    MetricDef::new("postgresql.table.size", "By", UpDownCounter, true, "Disk space used by a table"),
    MetricDef::new("postgresql.table.vacuum.count", "{vacuums}", Counter, true, "Number of times a table has manually been vacuumed"),
    MetricDef::new("postgresql.wal.age", "s", Gauge, true, "Age of the oldest WAL file"),
    MetricDef::new("postgresql.wal.lag", "s", Gauge, true, "Time between flushing recent WAL locally and receiving notification that the standby server has completed an operation with it"),
    // otelcol's optional metrics
    MetricDef::new("postgresql.blks_hit", "{blks_hit}", Counter, false, "Number of times disk blocks were found already in the buffer cache"),
    MetricDef::new("postgresql.blks_read", "{blks_read}", Counter, false, "Number of disk blocks read in this database"),
    MetricDef::new("postgresql.database.locks", "{lock}", Gauge, false, "The number of database locks"),
    MetricDef::new("postgresql.deadlocks", "{deadlock}", Counter, false, "The number of deadlocks"),
    MetricDef::new("postgresql.query.conflicts", "{query}", Counter, false, "Number of queries canceled due to conflicts with recovery on this database"),
    MetricDef::new("postgresql.query.execution.time", "s", Counter, false, "The total execution time of SQL statements tracked by pg_stat_statements for the database"),
    MetricDef::new("postgresql.sequential_scans", "{sequential_scan}", Counter, false, "The number of sequential scans"),
    MetricDef::new("postgresql.temp.io", "By", Counter, false, "Total amount of data written to temporary files by queries"),
    MetricDef::new("postgresql.temp_files", "{temp_file}", Counter, false, "The number of temp files"),
    MetricDef::new("postgresql.tup_deleted", "{tup_deleted}", Counter, false, "Number of rows deleted by queries in the database"),
    MetricDef::new("postgresql.tup_fetched", "{tup_fetched}", Counter, false, "Number of rows fetched by queries in the database"),
    MetricDef::new("postgresql.tup_inserted", "{tup_inserted}", Counter, false, "Number of rows inserted by queries in the database"),
    MetricDef::new("postgresql.tup_returned", "{tup_returned}", Counter, false, "Number of rows returned by queries in the database"),
    MetricDef::new("postgresql.tup_updated", "{tup_updated}", Counter, false, "Number of rows updated by queries in the database"),
    MetricDef::new("postgresql.wal.delay", "s", Gauge, false, "Time between flushing recent WAL locally and receiving notification that the standby server has completed an operation with it"),
    // ferrotel's own
    MetricDef::new(UP, "1", Gauge, true, "Whether the last scrape reached the server (1) or not (0)"),
    MetricDef::new("postgresql.query.calls", "{call}", Gauge, false, "Calls of a top-N statement since the previous scrape (pg_stat_statements)"),
    MetricDef::new("postgresql.query.total_time", "ms", Gauge, false, "Execution time of a top-N statement since the previous scrape (pg_stat_statements)"),
    MetricDef::new("postgresql.query.io_time", "ms", Gauge, false, "Block read and write time of a top-N statement since the previous scrape (pg_stat_statements, needs track_io_timing)"),
    MetricDef::new(LOCK_WAIT, "s", Gauge, false, "How long a backend has been waiting for a lock, with the query that holds it"),
    MetricDef::new("postgresql.replication.replay_lag", "s", Gauge, false, "On a standby: time since the last replayed transaction was committed on the primary"),
];

/// Metric names otelcol knows that ferrotel accepts in `metrics:` but does not record.
pub const ACCEPTED_ONLY: &[&str] = &[
    "postgresql.function.calls",
    "postgresql.vector.insert.duration",
    "postgresql.vector.insert.rows",
    "postgresql.vector.search.calls",
    "postgresql.vector.search.duration",
    "postgresql.vector.search.rows_returned",
];

/// otelcol's resource attributes and whether each is on by default. ferrotel writes the legacy
/// per-entity ones (otelcol without `receiver.postgresql.useOTelSemconv`); the rest are accepted.
pub const RESOURCE_ATTRIBUTES: &[(&str, bool)] = &[
    ("postgresql.database.name", true),
    ("postgresql.index.name", true),
    ("postgresql.schema.name", true),
    ("postgresql.table.name", true),
    ("server.address", true),
    ("server.port", true),
    ("service.instance.id", true),
    ("service.name", false),
    ("service.namespace", false),
];

/// `events:` names of otelcol's logs (query samples, top queries): accepted, not emitted.
pub const EVENTS: &[&str] = &["db.server.query_sample", "db.server.top_query"];

/// What the config's `metrics:`, `resource_attributes:` and `events:` may name.
pub static CATALOG: Catalog = Catalog {
    metrics: DEFS,
    accepted_only: ACCEPTED_ONLY,
    resource_attributes: RESOURCE_ATTRIBUTES,
    events: EVENTS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_otelcols_defaults_are_on() {
        assert_eq!(CATALOG.repeated_name(), None, "a metric is listed twice");
        let defaults = DEFS.iter().filter(|d| d.enabled && d.name != UP).count();
        assert_eq!(
            defaults, 22,
            "otelcol enables 22 postgresql metrics by default"
        );
        for name in TOP_QUERY_METRICS.iter().chain([&LOCK_WAIT]) {
            let def = DEFS.iter().find(|d| d.name == *name).expect(name);
            assert!(!def.enabled, "{name} is ferrotel's own and off by default");
        }
    }
}
