//! One scrape's rows → the receiver's data points, in otelcol's legacy resource layout: server
//! metrics on a resource without attributes, then one resource per database
//! (`postgresql.database.name`), per table (`+ postgresql.table.name`, as `schema.table`) and per
//! index (`+ postgresql.index.name`).

use std::collections::BTreeMap;

use ferrotel_core::scraperhelper::{MetricsBuilder, Value};

use crate::metadata::{CATALOG, LOCK_WAIT};
use crate::queries::{
    BLOCK_SOURCES, BgWriter, CONFLICT_TYPES, Conflicts, DbStats, IndexStats, LAG_OPERATIONS, Lock,
    LockWait, Replication, TableIo, TableStats,
};
use crate::top_queries::Delta;

/// What one database answered; None / empty where a query failed or was not needed.
#[derive(Debug, Default)]
pub struct DatabaseRows {
    pub name: String,
    pub stats: Option<DbStats>,
    pub backends: Option<i64>,
    pub size: Option<i64>,
    pub conflicts: Option<Conflicts>,
    pub execution_time: Option<f64>,
    /// None when the database's tables could not be read.
    pub tables: Option<Vec<TableStats>>,
    pub table_io: Vec<TableIo>,
    pub indexes: Vec<IndexStats>,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub databases: Vec<DatabaseRows>,
    pub database_count: Option<i64>,
    pub bgwriter: Option<BgWriter>,
    pub max_connections: Option<i64>,
    pub replication: Vec<Replication>,
    pub wal_age: Option<i64>,
    pub locks: Vec<Lock>,
    pub top_queries: Vec<Delta>,
    /// Texts already stripped of literals and shortened.
    pub lock_waits: Vec<LockWait>,
    pub replay_lag: Option<f64>,
}

fn attribute(name: &'static str, value: &str) -> (&'static str, Value, bool) {
    (name, Value::from(value), CATALOG.resource_default(name))
}

pub fn record(s: &Snapshot, out: &mut MetricsBuilder) {
    out.resource(Vec::new());
    record_server(s, out);
    for db in &s.databases {
        record_database(db, out);
    }
}

fn record_server(s: &Snapshot, out: &mut MetricsBuilder) {
    if let Some(count) = s.database_count {
        out.record_int("postgresql.database.count", count, &[]);
    }
    if let Some(max) = s.max_connections {
        out.record_int("postgresql.connection.max", max, &[]);
    }
    if let Some(bg) = &s.bgwriter {
        out.record_int(
            "postgresql.bgwriter.buffers.allocated",
            bg.buffers_allocated,
            &[],
        );
        let writes = [
            ("bgwriter", Some(bg.buffers_clean)),
            ("backend", bg.buffers_backend),
            ("backend_fsync", bg.buffers_backend_fsync),
            ("checkpoints", Some(bg.buffers_checkpoint)),
        ];
        for (source, value) in writes {
            if let Some(v) = value {
                let source = [("source", Value::from(source))];
                out.record_int("postgresql.bgwriter.buffers.writes", v, &source);
            }
        }
        for (kind, v) in [
            ("requested", bg.checkpoints_requested),
            ("scheduled", bg.checkpoints_scheduled),
        ] {
            let kind = [("type", Value::from(kind))];
            out.record_int("postgresql.bgwriter.checkpoint.count", v, &kind);
        }
        for (kind, v) in [("write", bg.write_time_ms), ("sync", bg.sync_time_ms)] {
            let kind = [("type", Value::from(kind))];
            out.record_double("postgresql.bgwriter.duration", v, &kind);
        }
        out.record_int("postgresql.bgwriter.maxwritten", bg.maxwritten, &[]);
    }
    for r in &s.replication {
        let client = ("replication_client", Value::from(r.client.as_str()));
        if let Some(bytes) = r.pending_bytes {
            out.record_int("postgresql.replication.data_delay", bytes, &[client]);
        }
        for (operation, lag) in LAG_OPERATIONS.iter().zip(r.lags) {
            let Some(lag) = lag else { continue };
            let attributes = [
                ("operation", Value::from(*operation)),
                ("replication_client", Value::from(r.client.as_str())),
            ];
            out.record_int("postgresql.wal.lag", lag as i64, &attributes);
            out.record_double("postgresql.wal.delay", lag, &attributes);
        }
    }
    if let Some(age) = s.wal_age {
        out.record_int("postgresql.wal.age", age, &[]);
    }
    for lock in &s.locks {
        let attributes = [
            ("relation", Value::from(lock.relation.as_str())),
            ("mode", Value::from(lock.mode.as_str())),
            ("lock_type", Value::from(lock.lock_type.as_str())),
        ];
        out.record_int("postgresql.database.locks", lock.count, &attributes);
    }
    if let Some(lag) = s.replay_lag {
        out.record_double("postgresql.replication.replay_lag", lag, &[]);
    }
    for q in &s.top_queries {
        let attributes = || {
            [
                ("db.namespace", Value::from(q.database.as_str())),
                ("db.query.text", Value::from(q.query.as_str())),
                ("postgresql.queryid", Value::from(q.query_id.to_string())),
            ]
        };
        out.record_int("postgresql.query.calls", q.calls, &attributes());
        out.record_double(
            "postgresql.query.total_time",
            q.total_time_ms,
            &attributes(),
        );
        out.record_double("postgresql.query.io_time", q.io_time_ms, &attributes());
    }
    for w in &s.lock_waits {
        let attributes = [
            ("db.namespace", Value::from(w.database.as_str())),
            ("postgresql.pid", Value::from(w.pid)),
            ("db.query.text", Value::from(w.query.as_str())),
            ("postgresql.blocking.pid", Value::from(w.blocking_pid)),
            (
                "postgresql.blocking.query.text",
                Value::from(w.blocking_query.as_str()),
            ),
        ];
        out.record_double(LOCK_WAIT, w.wait_seconds, &attributes);
    }
}

fn record_database(db: &DatabaseRows, out: &mut MetricsBuilder) {
    out.resource(vec![attribute("postgresql.database.name", &db.name)]);
    if let Some(n) = db.backends {
        out.record_int("postgresql.backends", n, &[]);
    }
    if let Some(size) = db.size {
        out.record_int("postgresql.db_size", size, &[]);
    }
    if let Some(st) = &db.stats {
        for (metric, v) in [
            ("postgresql.commits", st.commits),
            ("postgresql.rollbacks", st.rollbacks),
            ("postgresql.deadlocks", st.deadlocks),
            ("postgresql.temp_files", st.temp_files),
            ("postgresql.temp.io", st.temp_bytes),
            ("postgresql.tup_updated", st.tup_updated),
            ("postgresql.tup_returned", st.tup_returned),
            ("postgresql.tup_fetched", st.tup_fetched),
            ("postgresql.tup_inserted", st.tup_inserted),
            ("postgresql.tup_deleted", st.tup_deleted),
            ("postgresql.blks_hit", st.blks_hit),
            ("postgresql.blks_read", st.blks_read),
        ] {
            out.record_int(metric, v, &[]);
        }
    }
    if let Some(c) = &db.conflicts {
        for (kind, v) in CONFLICT_TYPES.iter().zip(c.counts) {
            let kind = [("postgresql.conflict.type", Value::from(*kind))];
            out.record_int("postgresql.query.conflicts", v, &kind);
        }
    }
    if let Some(seconds) = db.execution_time {
        out.record_double("postgresql.query.execution.time", seconds, &[]);
    }
    let Some(tables) = &db.tables else { return };
    out.record_int("postgresql.table.count", tables.len() as i64, &[]);

    let mut by_table: BTreeMap<String, (Option<&TableStats>, Option<&TableIo>)> = BTreeMap::new();
    for t in tables {
        by_table
            .entry(format!("{}.{}", t.schema, t.table))
            .or_default()
            .0 = Some(t);
    }
    for io in &db.table_io {
        by_table
            .entry(format!("{}.{}", io.schema, io.table))
            .or_default()
            .1 = Some(io);
    }
    for (name, (stats, io)) in by_table {
        out.resource(vec![
            attribute("postgresql.database.name", &db.name),
            attribute("postgresql.table.name", &name),
        ]);
        if let Some(t) = stats {
            for (state, v) in [("live", t.live), ("dead", t.dead)] {
                out.record_int("postgresql.rows", v, &[("state", Value::from(state))]);
            }
            for (operation, v) in [
                ("ins", t.inserted),
                ("upd", t.updated),
                ("del", t.deleted),
                ("hot_upd", t.hot_updated),
            ] {
                let operation = [("operation", Value::from(operation))];
                out.record_int("postgresql.operations", v, &operation);
            }
            out.record_int("postgresql.table.size", t.size, &[]);
            out.record_int("postgresql.table.vacuum.count", t.vacuum_count, &[]);
            out.record_int("postgresql.sequential_scans", t.seq_scans, &[]);
        }
        if let Some(io) = io {
            for (source, v) in BLOCK_SOURCES.iter().zip(io.blocks) {
                let source = [("source", Value::from(*source))];
                out.record_int("postgresql.blocks_read", v, &source);
            }
        }
    }
    for ix in &db.indexes {
        out.resource(vec![
            attribute("postgresql.database.name", &db.name),
            attribute(
                "postgresql.table.name",
                &format!("{}.{}", ix.schema, ix.table),
            ),
            attribute("postgresql.index.name", &ix.index),
        ]);
        out.record_int("postgresql.index.scans", ix.scans, &[]);
        out.record_int("postgresql.index.size", ix.size, &[]);
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
