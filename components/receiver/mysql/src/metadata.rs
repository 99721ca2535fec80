//! The receiver's metrics as otelcol-contrib's `mysqlreceiver/metadata.yaml` has them (names,
//! units, Sum monotonic / non-monotonic, default enabled), plus ferrotel's `mysql.up` and the
//! opt-in `mysql.query.top.*` metrics.

use ferrotel_core::scraperhelper::{Catalog, MetricDef, MetricKind};

use MetricKind::{Counter, Gauge, UpDownCounter};

/// The instrumentation scope otelcol-contrib uses.
pub const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/mysqlreceiver";

/// ferrotel's own: 1 when the server answered the scrape, 0 when it did not.
pub const UP: &str = "mysql.up";

pub const TOP_CALLS: &str = "mysql.query.top.calls";
pub const TOP_TIME: &str = "mysql.query.top.total_time";
pub const TOP_ROWS: &str = "mysql.query.top.rows_examined";

#[rustfmt::skip]
pub static DEFS: &[MetricDef] = &[
    MetricDef::new("mysql.buffer_pool.data_pages", "1", UpDownCounter, true, "The number of data pages in the InnoDB buffer pool"),
    MetricDef::new("mysql.buffer_pool.limit", "By", UpDownCounter, true, "The configured size of the InnoDB buffer pool"),
    MetricDef::new("mysql.buffer_pool.operations", "1", Counter, true, "The number of operations on the InnoDB buffer pool"),
    MetricDef::new("mysql.buffer_pool.page_flushes", "1", Counter, true, "The number of requests to flush pages from the InnoDB buffer pool"),
    MetricDef::new("mysql.buffer_pool.pages", "1", UpDownCounter, true, "The number of pages in the InnoDB buffer pool"),
    MetricDef::new("mysql.buffer_pool.usage", "By", UpDownCounter, true, "The number of bytes in the InnoDB buffer pool"),
    MetricDef::new("mysql.double_writes", "1", Counter, true, "The number of writes to the InnoDB doublewrite buffer"),
    MetricDef::new("mysql.handlers", "1", Counter, true, "The number of requests to various MySQL handlers"),
    MetricDef::new("mysql.index.io.wait.count", "1", Counter, true, "The total count of I/O wait events for an index"),
    MetricDef::new("mysql.index.io.wait.time", "ns", Counter, true, "The total time of I/O wait events for an index"),
    MetricDef::new("mysql.locks", "1", Counter, true, "The number of MySQL locks"),
    MetricDef::new("mysql.log_operations", "1", Counter, true, "The number of InnoDB log operations"),
    MetricDef::new("mysql.mysqlx_connections", "1", Counter, true, "The number of mysqlx connections"),
    MetricDef::new("mysql.opened_resources", "1", Counter, true, "The number of opened resources"),
    MetricDef::new("mysql.operations", "1", Counter, true, "The number of InnoDB operations"),
    MetricDef::new("mysql.page_operations", "1", Counter, true, "The number of InnoDB page operations"),
    MetricDef::new("mysql.prepared_statements", "1", Counter, true, "The number of times each type of prepared statement command has been issued"),
    MetricDef::new("mysql.row_locks", "1", Counter, true, "The number of InnoDB row locks"),
    MetricDef::new("mysql.row_operations", "1", Counter, true, "The number of InnoDB row operations"),
    MetricDef::new("mysql.sorts", "1", Counter, true, "The number of MySQL sorts"),
    MetricDef::new("mysql.table.io.wait.count", "1", Counter, true, "The total count of I/O wait events for a table"),
    MetricDef::new("mysql.table.io.wait.time", "ns", Counter, true, "The total time of I/O wait events for a table"),
    MetricDef::new("mysql.threads", "1", UpDownCounter, true, "The state of MySQL threads"),
    MetricDef::new("mysql.tmp_resources", "1", Counter, true, "The number of created temporary resources"),
    MetricDef::new("mysql.uptime", "s", Counter, true, "The number of seconds that the server has been up"),
    // optional in otelcol
    MetricDef::new("mysql.client.network.io", "By", Counter, false, "The number of transmitted bytes between server and clients"),
    MetricDef::new("mysql.commands", "1", Counter, false, "The number of times each type of command has been executed"),
    MetricDef::new("mysql.connection.count", "1", Counter, false, "The number of connection attempts (successful or not) to the MySQL server"),
    MetricDef::new("mysql.connection.errors", "1", Counter, false, "Errors that occur during the client connection process"),
    MetricDef::new("mysql.joins", "1", Counter, false, "The number of joins that perform table scans"),
    MetricDef::new("mysql.mysqlx_worker_threads", "1", UpDownCounter, false, "The number of worker threads available"),
    MetricDef::new("mysql.query.client.count", "1", Counter, false, "The number of statements executed by the server. This includes only statements sent to the server by clients"),
    MetricDef::new("mysql.query.count", "1", Counter, false, "The number of statements executed by the server"),
    MetricDef::new("mysql.query.slow.count", "1", Counter, false, "The number of slow queries"),
    MetricDef::new("mysql.replica.sql_delay", "s", UpDownCounter, false, "The number of seconds that the replica must lag the source"),
    MetricDef::new("mysql.replica.time_behind_source", "s", UpDownCounter, false, "This field is an indication of how late the replica is"),
    MetricDef::new("mysql.statement_event.count", "1", UpDownCounter, false, "Summary of current and recent statement events"),
    MetricDef::new("mysql.statement_event.wait.time", "ns", UpDownCounter, false, "The total wait time of the summarized timed events"),
    MetricDef::new("mysql.table_open_cache", "1", Counter, false, "The number of hits, misses or overflows for open tables cache lookups"),
    // ferrotel's own; the top-query ones only when `top_queries.enabled`
    MetricDef::new(UP, "1", Gauge, true, "Whether the last scrape reached the server (1) or not (0)"),
    MetricDef::new(TOP_CALLS, "{call}", Gauge, true, "Executions of a statement digest during the last collection interval, for the top digests by time"),
    MetricDef::new(TOP_TIME, "s", Gauge, true, "Time spent executing a statement digest during the last collection interval, for the top digests by time"),
    MetricDef::new(TOP_ROWS, "{row}", Gauge, true, "Rows examined by a statement digest during the last collection interval, for the top digests by time"),
];

/// Optional otelcol metrics that a config may toggle but that this receiver does not produce
/// (table sizes and lock waits, InnoDB internals, query cache, replica threads).
pub const ACCEPTED_ONLY: &[&str] = &[
    "mysql.innodb.data_file.io",
    "mysql.innodb.operation.pending",
    "mysql.innodb.row_lock.wait.count",
    "mysql.innodb.row_lock.wait.duration.avg",
    "mysql.innodb.row_lock.wait.duration.max",
    "mysql.max_used_connections",
    "mysql.page_size",
    "mysql.qcache.hits",
    "mysql.qcache.not.cached",
    "mysql.qcache.queries",
    "mysql.replica.temp_table.open",
    "mysql.replica.thread.running",
    "mysql.table.average_row_length",
    "mysql.table.lock_wait.read.count",
    "mysql.table.lock_wait.read.time",
    "mysql.table.lock_wait.write.count",
    "mysql.table.lock_wait.write.time",
    "mysql.table.rows",
    "mysql.table.size",
];

/// Resource attributes with their default `enabled`.
pub const RESOURCE_ATTRIBUTES: &[(&str, bool)] = &[
    ("mysql.instance.endpoint", true),
    ("db.system.name", false),
    ("db.system.version", false),
];

/// otelcol's log events (`events:`), accepted in configs; this receiver sends metrics only.
pub const EVENTS: &[&str] = &["db.server.query_sample", "db.server.top_query"];

/// A data point attribute: (key, value).
pub type Attribute = (&'static str, &'static str);

/// `SHOW GLOBAL STATUS` variables read as integers: (variable, metric, attribute).
#[rustfmt::skip]
pub const STATUS_FIELDS: &[(&str, &str, Option<Attribute>)] = &[
    ("Innodb_buffer_pool_pages_data", "mysql.buffer_pool.pages", Some(("kind", "data"))),
    ("Innodb_buffer_pool_pages_free", "mysql.buffer_pool.pages", Some(("kind", "free"))),
    ("Innodb_buffer_pool_pages_misc", "mysql.buffer_pool.pages", Some(("kind", "misc"))),
    ("Innodb_buffer_pool_pages_flushed", "mysql.buffer_pool.page_flushes", None),
    ("Innodb_buffer_pool_read_ahead_rnd", "mysql.buffer_pool.operations", Some(("operation", "read_ahead_rnd"))),
    ("Innodb_buffer_pool_read_ahead", "mysql.buffer_pool.operations", Some(("operation", "read_ahead"))),
    ("Innodb_buffer_pool_read_ahead_evicted", "mysql.buffer_pool.operations", Some(("operation", "read_ahead_evicted"))),
    ("Innodb_buffer_pool_read_requests", "mysql.buffer_pool.operations", Some(("operation", "read_requests"))),
    ("Innodb_buffer_pool_reads", "mysql.buffer_pool.operations", Some(("operation", "reads"))),
    ("Innodb_buffer_pool_wait_free", "mysql.buffer_pool.operations", Some(("operation", "wait_free"))),
    ("Innodb_buffer_pool_write_requests", "mysql.buffer_pool.operations", Some(("operation", "write_requests"))),
    ("Connection_errors_accept", "mysql.connection.errors", Some(("error", "accept"))),
    ("Connection_errors_internal", "mysql.connection.errors", Some(("error", "internal"))),
    ("Connection_errors_max_connections", "mysql.connection.errors", Some(("error", "max_connections"))),
    ("Connection_errors_peer_address", "mysql.connection.errors", Some(("error", "peer_address"))),
    ("Connection_errors_select", "mysql.connection.errors", Some(("error", "select"))),
    ("Connection_errors_tcpwrap", "mysql.connection.errors", Some(("error", "tcpwrap"))),
    ("Aborted_clients", "mysql.connection.errors", Some(("error", "aborted_clients"))),
    ("Aborted_connects", "mysql.connection.errors", Some(("error", "aborted"))),
    ("Locked_connects", "mysql.connection.errors", Some(("error", "locked"))),
    ("Connections", "mysql.connection.count", None),
    ("Com_stmt_execute", "mysql.prepared_statements", Some(("command", "execute"))),
    ("Com_stmt_close", "mysql.prepared_statements", Some(("command", "close"))),
    ("Com_stmt_fetch", "mysql.prepared_statements", Some(("command", "fetch"))),
    ("Com_stmt_prepare", "mysql.prepared_statements", Some(("command", "prepare"))),
    ("Com_stmt_reset", "mysql.prepared_statements", Some(("command", "reset"))),
    ("Com_stmt_send_long_data", "mysql.prepared_statements", Some(("command", "send_long_data"))),
    ("Com_delete", "mysql.commands", Some(("command", "delete"))),
    ("Com_insert", "mysql.commands", Some(("command", "insert"))),
    ("Com_select", "mysql.commands", Some(("command", "select"))),
    ("Com_update", "mysql.commands", Some(("command", "update"))),
    ("Created_tmp_disk_tables", "mysql.tmp_resources", Some(("resource", "disk_tables"))),
    ("Created_tmp_files", "mysql.tmp_resources", Some(("resource", "files"))),
    ("Created_tmp_tables", "mysql.tmp_resources", Some(("resource", "tables"))),
    ("Handler_commit", "mysql.handlers", Some(("kind", "commit"))),
    ("Handler_delete", "mysql.handlers", Some(("kind", "delete"))),
    ("Handler_discover", "mysql.handlers", Some(("kind", "discover"))),
    ("Handler_external_lock", "mysql.handlers", Some(("kind", "external_lock"))),
    ("Handler_mrr_init", "mysql.handlers", Some(("kind", "mrr_init"))),
    ("Handler_prepare", "mysql.handlers", Some(("kind", "prepare"))),
    ("Handler_read_first", "mysql.handlers", Some(("kind", "read_first"))),
    ("Handler_read_key", "mysql.handlers", Some(("kind", "read_key"))),
    ("Handler_read_last", "mysql.handlers", Some(("kind", "read_last"))),
    ("Handler_read_next", "mysql.handlers", Some(("kind", "read_next"))),
    ("Handler_read_prev", "mysql.handlers", Some(("kind", "read_prev"))),
    ("Handler_read_rnd", "mysql.handlers", Some(("kind", "read_rnd"))),
    ("Handler_read_rnd_next", "mysql.handlers", Some(("kind", "read_rnd_next"))),
    ("Handler_rollback", "mysql.handlers", Some(("kind", "rollback"))),
    ("Handler_savepoint", "mysql.handlers", Some(("kind", "savepoint"))),
    ("Handler_savepoint_rollback", "mysql.handlers", Some(("kind", "savepoint_rollback"))),
    ("Handler_update", "mysql.handlers", Some(("kind", "update"))),
    ("Handler_write", "mysql.handlers", Some(("kind", "write"))),
    ("Innodb_dblwr_pages_written", "mysql.double_writes", Some(("kind", "pages_written"))),
    ("Innodb_dblwr_writes", "mysql.double_writes", Some(("kind", "writes"))),
    ("Innodb_log_waits", "mysql.log_operations", Some(("operation", "waits"))),
    ("Innodb_log_write_requests", "mysql.log_operations", Some(("operation", "write_requests"))),
    ("Innodb_log_writes", "mysql.log_operations", Some(("operation", "writes"))),
    ("Innodb_data_fsyncs", "mysql.operations", Some(("operation", "fsyncs"))),
    ("Innodb_data_reads", "mysql.operations", Some(("operation", "reads"))),
    ("Innodb_data_writes", "mysql.operations", Some(("operation", "writes"))),
    ("Innodb_pages_created", "mysql.page_operations", Some(("operation", "created"))),
    ("Innodb_pages_read", "mysql.page_operations", Some(("operation", "read"))),
    ("Innodb_pages_written", "mysql.page_operations", Some(("operation", "written"))),
    ("Innodb_row_lock_waits", "mysql.row_locks", Some(("kind", "waits"))),
    ("Innodb_row_lock_time", "mysql.row_locks", Some(("kind", "time"))),
    ("Innodb_rows_deleted", "mysql.row_operations", Some(("operation", "deleted"))),
    ("Innodb_rows_inserted", "mysql.row_operations", Some(("operation", "inserted"))),
    ("Innodb_rows_read", "mysql.row_operations", Some(("operation", "read"))),
    ("Innodb_rows_updated", "mysql.row_operations", Some(("operation", "updated"))),
    ("Table_locks_immediate", "mysql.locks", Some(("kind", "immediate"))),
    ("Table_locks_waited", "mysql.locks", Some(("kind", "waited"))),
    ("Select_full_join", "mysql.joins", Some(("kind", "full"))),
    ("Select_full_range_join", "mysql.joins", Some(("kind", "full_range"))),
    ("Select_range", "mysql.joins", Some(("kind", "range"))),
    ("Select_range_check", "mysql.joins", Some(("kind", "range_check"))),
    ("Select_scan", "mysql.joins", Some(("kind", "scan"))),
    ("Opened_files", "mysql.opened_resources", Some(("kind", "file"))),
    ("Opened_tables", "mysql.opened_resources", Some(("kind", "table"))),
    ("Opened_table_definitions", "mysql.opened_resources", Some(("kind", "table_definition"))),
    ("Queries", "mysql.query.count", None),
    ("Questions", "mysql.query.client.count", None),
    ("Slow_queries", "mysql.query.slow.count", None),
    ("Sort_merge_passes", "mysql.sorts", Some(("kind", "merge_passes"))),
    ("Sort_range", "mysql.sorts", Some(("kind", "range"))),
    ("Sort_rows", "mysql.sorts", Some(("kind", "rows"))),
    ("Sort_scan", "mysql.sorts", Some(("kind", "scan"))),
    ("Threads_cached", "mysql.threads", Some(("kind", "cached"))),
    ("Threads_connected", "mysql.threads", Some(("kind", "connected"))),
    ("Threads_created", "mysql.threads", Some(("kind", "created"))),
    ("Threads_running", "mysql.threads", Some(("kind", "running"))),
    ("Uptime", "mysql.uptime", None),
    ("Mysqlx_worker_threads", "mysql.mysqlx_worker_threads", Some(("kind", "available"))),
    ("Mysqlx_worker_threads_active", "mysql.mysqlx_worker_threads", Some(("kind", "active"))),
    ("Mysqlx_connections_accepted", "mysql.mysqlx_connections", Some(("status", "accepted"))),
    ("Mysqlx_connections_closed", "mysql.mysqlx_connections", Some(("status", "closed"))),
    ("Mysqlx_connections_rejected", "mysql.mysqlx_connections", Some(("status", "rejected"))),
    ("Bytes_received", "mysql.client.network.io", Some(("kind", "received"))),
    ("Bytes_sent", "mysql.client.network.io", Some(("kind", "sent"))),
    ("Table_open_cache_hits", "mysql.table_open_cache", Some(("status", "hit"))),
    ("Table_open_cache_misses", "mysql.table_open_cache", Some(("status", "miss"))),
    ("Table_open_cache_overflows", "mysql.table_open_cache", Some(("status", "overflow"))),
];

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
    fn every_field_maps_to_a_known_metric_and_names_are_unique() {
        for (_, metric, _) in STATUS_FIELDS {
            assert!(DEFS.iter().any(|d| d.name == *metric), "{metric}");
        }
        assert_eq!(CATALOG.repeated_name(), None, "a metric is listed twice");
        let defaults = DEFS
            .iter()
            .filter(|d| {
                d.enabled && d.name.starts_with("mysql.") && !d.name.starts_with("mysql.query.top.")
            })
            .filter(|d| d.name != UP)
            .count();
        assert_eq!(defaults, 25, "otelcol enables 25 mysql metrics by default");
    }
}
