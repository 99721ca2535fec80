//! What the server answered → the receiver's data points, as otelcol's mysql scraper maps them.
//! Kept apart from the queries so that canned answers can be checked without a server.

use std::collections::HashMap;

use ferrotel_core::scraperhelper::{MetricsBuilder, Value};

use crate::metadata::{CATALOG, STATUS_FIELDS};

/// performance_schema timers count picoseconds; otelcol reports nanoseconds.
const PS_PER_NS: u64 = 1000;

/// The four row operations performance_schema counts, in its column order.
pub const IO_OPERATIONS: [&str; 4] = ["delete", "fetch", "insert", "update"];

/// A row of `table_io_waits_summary_by_table` (index `None`) or `..._by_index_usage`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableIo {
    pub schema: String,
    pub table: String,
    pub index: Option<String>,
    /// Per `IO_OPERATIONS`.
    pub counts: [u64; 4],
    /// Picoseconds, per `IO_OPERATIONS`.
    pub times: [u64; 4],
}

/// The `event_state` kinds of `mysql.statement_event.count`, in the query's column order.
pub const EVENT_KINDS: [&str; 10] = [
    "errors",
    "warnings",
    "rows_affected",
    "rows_sent",
    "rows_examined",
    "created_tmp_disk_tables",
    "created_tmp_tables",
    "sort_merge_passes",
    "sort_rows",
    "no_index_used",
];

/// A row of `events_statements_summary_by_digest` for `mysql.statement_event.*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementEvent {
    pub schema: String,
    pub digest: String,
    pub digest_text: String,
    /// Picoseconds.
    pub wait: u64,
    /// Per `EVENT_KINDS`.
    pub counts: [u64; 10],
}

/// What `SHOW REPLICA STATUS` says about lag; `None` where the server reports NULL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replica {
    pub seconds_behind: Option<i64>,
    pub sql_delay: Option<i64>,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Starts the one resource every point of a scrape belongs to.
pub fn resource(out: &mut MetricsBuilder, endpoint: &str, version: Option<&str>) {
    let mut attributes = vec![(
        "mysql.instance.endpoint",
        Value::from(endpoint),
        CATALOG.resource_default("mysql.instance.endpoint"),
    )];
    if let Some(version) = version {
        let system = if version.to_ascii_lowercase().contains("mariadb") {
            "mariadb"
        } else {
            "mysql"
        };
        attributes.push((
            "db.system.name",
            Value::from(system),
            CATALOG.resource_default("db.system.name"),
        ));
        attributes.push((
            "db.system.version",
            Value::from(version),
            CATALOG.resource_default("db.system.version"),
        ));
    }
    out.resource(attributes);
}

fn parse(status: &HashMap<String, String>, name: &str) -> Option<Result<i64, String>> {
    let text = status.get(name)?;
    Some(
        text.trim()
            .parse::<i64>()
            .map_err(|_| format!("{name}: {text:?} is not an integer")),
    )
}

/// Records the `SHOW GLOBAL STATUS` metrics; variables whose values do not parse go to `partial`.
pub fn record_status(
    status: &HashMap<String, String>,
    out: &mut MetricsBuilder,
    partial: &mut Vec<String>,
) {
    for (name, metric, attribute) in STATUS_FIELDS {
        if !out.is_enabled(metric) {
            continue;
        }
        let attributes: Vec<(&str, Value)> = attribute
            .iter()
            .map(|(k, v)| (*k, Value::from(*v)))
            .collect();
        match parse(status, name) {
            Some(Ok(v)) => out.record_int(metric, v, &attributes),
            Some(Err(e)) => partial.push(e),
            None => {}
        }
    }
    // otelcol reports dirty and clean (= data - dirty), not data, for these two
    for (metric, data, dirty) in [
        (
            "mysql.buffer_pool.data_pages",
            "Innodb_buffer_pool_pages_data",
            "Innodb_buffer_pool_pages_dirty",
        ),
        (
            "mysql.buffer_pool.usage",
            "Innodb_buffer_pool_bytes_data",
            "Innodb_buffer_pool_bytes_dirty",
        ),
    ] {
        if !out.is_enabled(metric) {
            continue;
        }
        match (parse(status, data), parse(status, dirty)) {
            (Some(Ok(data)), Some(Ok(dirty))) => {
                out.record_int(metric, dirty, &[("status", Value::from("dirty"))]);
                out.record_int(metric, data - dirty, &[("status", Value::from("clean"))]);
            }
            (Some(Err(e)), _) | (_, Some(Err(e))) => partial.push(e),
            _ => {}
        }
    }
}

/// Whether the server reports InnoDB row operations itself (MySQL does; MariaDB 10.6+ does not).
pub fn has_innodb_rows(status: &HashMap<String, String>) -> bool {
    status.contains_key("Innodb_rows_read")
}

/// `innodb_buffer_pool_size`, as `mysql.buffer_pool.limit`.
pub fn record_buffer_pool_limit(value: &str, out: &mut MetricsBuilder, partial: &mut Vec<String>) {
    match value.trim().parse::<i64>() {
        Ok(v) => out.record_int("mysql.buffer_pool.limit", v, &[]),
        Err(_) => partial.push(format!(
            "innodb_buffer_pool_size: {value:?} is not an integer"
        )),
    }
}

/// `mysql.table.io.wait.*` (rows without an index) or `mysql.index.io.wait.*` (rows with one).
pub fn record_io_waits(rows: &[TableIo], out: &mut MetricsBuilder) {
    for row in rows {
        let (count, time) = match row.index {
            None => ("mysql.table.io.wait.count", "mysql.table.io.wait.time"),
            Some(_) => ("mysql.index.io.wait.count", "mysql.index.io.wait.time"),
        };
        for (i, operation) in IO_OPERATIONS.iter().enumerate() {
            let mut attributes = vec![
                ("operation", Value::from(*operation)),
                ("table", Value::from(row.table.as_str())),
                ("schema", Value::from(row.schema.as_str())),
            ];
            if let Some(index) = &row.index {
                attributes.push(("index", Value::from(index.as_str())));
            }
            out.record_int(count, int(row.counts[i]), &attributes);
            out.record_int(time, int(row.times[i] / PS_PER_NS), &attributes);
        }
    }
}

/// `mysql.row_operations` where the server lacks `Innodb_rows_*` (MariaDB 10.6+): the rows that
/// performance_schema saw each table's handler delete, fetch, insert and update, summed.
pub fn record_row_operations_from_tables(tables: &[TableIo], out: &mut MetricsBuilder) {
    let names = ["deleted", "read", "inserted", "updated"];
    for (i, operation) in names.iter().enumerate() {
        let total = tables
            .iter()
            .map(|t| t.counts[i])
            .fold(0u64, u64::saturating_add);
        out.record_int(
            "mysql.row_operations",
            int(total),
            &[("operation", Value::from(*operation))],
        );
    }
}

pub fn record_statement_events(rows: &[StatementEvent], out: &mut MetricsBuilder) {
    for row in rows {
        let key = [
            ("schema", Value::from(row.schema.as_str())),
            ("digest", Value::from(row.digest.as_str())),
            ("digest_text", Value::from(row.digest_text.as_str())),
        ];
        out.record_int(
            "mysql.statement_event.wait.time",
            int(row.wait / PS_PER_NS),
            &key,
        );
        for (kind, count) in EVENT_KINDS.iter().zip(row.counts) {
            let attributes = [
                ("schema", Value::from(row.schema.as_str())),
                ("digest", Value::from(row.digest.as_str())),
                ("digest_text", Value::from(row.digest_text.as_str())),
                ("kind", Value::from(*kind)),
            ];
            out.record_int("mysql.statement_event.count", int(count), &attributes);
        }
    }
}

pub fn record_replica(replica: &Replica, out: &mut MetricsBuilder) {
    if let Some(v) = replica.seconds_behind {
        out.record_int("mysql.replica.time_behind_source", v, &[]);
    }
    if let Some(v) = replica.sql_delay {
        out.record_int("mysql.replica.sql_delay", v, &[]);
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
