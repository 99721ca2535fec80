//! Canned rows, shaped like a PostgreSQL 15 server's answers, turned into points.

use ferrotel_core::scraperhelper::testing::{self, Points, points, value};
use opentelemetry_proto::tonic::common::v1::any_value;

use super::*;
use crate::metadata::{DEFS, SCOPE, UP};

fn snapshot() -> Snapshot {
    let table = TableStats {
        schema: "public".into(),
        table: "orders".into(),
        live: 50,
        dead: 3,
        inserted: 53,
        updated: 4,
        deleted: 3,
        hot_updated: 2,
        seq_scans: 7,
        size: 8192,
        vacuum_count: 1,
    };
    let db = DatabaseRows {
        name: "shop".into(),
        stats: Some(DbStats {
            name: "shop".into(),
            commits: 120,
            rollbacks: 2,
            deadlocks: 1,
            temp_files: 4,
            temp_bytes: 4096,
            blks_hit: 900,
            blks_read: 30,
            ..Default::default()
        }),
        backends: Some(3),
        size: Some(7_500_000),
        conflicts: None,
        execution_time: None,
        tables: Some(vec![table]),
        table_io: vec![TableIo {
            schema: "public".into(),
            table: "orders".into(),
            blocks: [5, 60, 1, 20, 0, 0, 0, 0],
        }],
        indexes: vec![IndexStats {
            schema: "public".into(),
            table: "orders".into(),
            index: "orders_pkey".into(),
            size: 16384,
            scans: 12,
        }],
    };
    Snapshot {
        databases: vec![db],
        database_count: Some(1),
        bgwriter: Some(BgWriter {
            checkpoints_requested: 2,
            checkpoints_scheduled: 9,
            write_time_ms: 15.5,
            sync_time_ms: 2.25,
            buffers_clean: 0,
            buffers_backend: Some(40),
            buffers_backend_fsync: Some(0),
            buffers_checkpoint: 77,
            buffers_allocated: 300,
            maxwritten: 0,
        }),
        max_connections: Some(100),
        replication: vec![Replication {
            client: "10.0.0.7".into(),
            pending_bytes: Some(2048),
            lags: [Some(0.5), None, Some(2.75)],
        }],
        wal_age: None,
        locks: vec![],
        top_queries: vec![Delta {
            database: "shop".into(),
            query_id: -42,
            query: "SELECT pg_sleep($1)".into(),
            calls: 1,
            total_time_ms: 1500.0,
            io_time_ms: 0.0,
        }],
        lock_waits: vec![],
        replay_lag: None,
    }
}

fn scrape(s: &Snapshot, enable: &[&str]) -> Points {
    let mut out = testing::builder(SCOPE, DEFS, enable);
    record(s, &mut out);
    points(out.finish())
}

#[test]
fn rows_map_to_otelcols_metrics_and_attributes() {
    let p = scrape(&snapshot(), &[]);
    let v = |name: &str, attrs: &[(&str, &str)]| {
        value(&p, name, attrs).unwrap_or_else(|| panic!("no {name} {attrs:?} in {p:?}"))
    };
    assert_eq!(v("postgresql.commits", &[]), 120.0);
    assert_eq!(v("postgresql.rollbacks", &[]), 2.0);
    assert_eq!(v("postgresql.backends", &[]), 3.0);
    assert_eq!(v("postgresql.db_size", &[]), 7_500_000.0);
    assert_eq!(v("postgresql.database.count", &[]), 1.0);
    assert_eq!(v("postgresql.connection.max", &[]), 100.0);
    assert_eq!(v("postgresql.table.count", &[]), 1.0);
    assert_eq!(v("postgresql.rows", &[("state", "dead")]), 3.0);
    assert_eq!(v("postgresql.operations", &[("operation", "hot_upd")]), 2.0);
    assert_eq!(v("postgresql.blocks_read", &[("source", "heap_hit")]), 60.0);
    assert_eq!(v("postgresql.blocks_read", &[("source", "idx_read")]), 1.0);
    assert_eq!(v("postgresql.table.size", &[]), 8192.0);
    assert_eq!(v("postgresql.table.vacuum.count", &[]), 1.0);
    assert_eq!(v("postgresql.index.scans", &[]), 12.0);
    assert_eq!(v("postgresql.index.size", &[]), 16384.0);
    assert_eq!(
        v(
            "postgresql.bgwriter.buffers.writes",
            &[("source", "backend")]
        ),
        40.0
    );
    assert_eq!(
        v(
            "postgresql.bgwriter.checkpoint.count",
            &[("type", "scheduled")]
        ),
        9.0
    );
    assert_eq!(v("postgresql.bgwriter.duration", &[("type", "sync")]), 2.25);
    assert_eq!(v("postgresql.bgwriter.buffers.allocated", &[]), 300.0);
    let client = ("replication_client", "10.0.0.7");
    assert_eq!(v("postgresql.replication.data_delay", &[client]), 2048.0);
    assert_eq!(
        v("postgresql.wal.lag", &[client, ("operation", "replay")]),
        2.0
    );
    assert!(
        value(&p, "postgresql.wal.lag", &[("operation", "flush")]).is_none(),
        "an unknown lag is left out"
    );
    for off in [
        "postgresql.deadlocks",
        "postgresql.wal.delay",
        "postgresql.sequential_scans",
        "postgresql.query.total_time",
        UP,
    ] {
        assert!(
            p.iter().all(|(n, _, _)| n != off),
            "{off} is off by default"
        );
    }
    assert!(
        value(&p, "postgresql.wal.age", &[]).is_none(),
        "nothing archived yet"
    );
}

#[test]
fn optional_and_ferrotel_metrics_when_enabled() {
    let p = scrape(
        &snapshot(),
        &[
            "postgresql.deadlocks",
            "postgresql.temp.io",
            "postgresql.wal.delay",
            "postgresql.query.total_time",
            "postgresql.query.calls",
        ],
    );
    assert_eq!(value(&p, "postgresql.deadlocks", &[]), Some(1.0));
    assert_eq!(value(&p, "postgresql.temp.io", &[]), Some(4096.0));
    assert_eq!(
        value(&p, "postgresql.wal.delay", &[("operation", "replay")]),
        Some(2.75)
    );
    let query = [
        ("db.query.text", "SELECT pg_sleep($1)"),
        ("postgresql.queryid", "-42"),
    ];
    assert_eq!(
        value(&p, "postgresql.query.total_time", &query),
        Some(1500.0)
    );
    assert_eq!(
        value(&p, "postgresql.query.calls", &[("db.namespace", "shop")]),
        Some(1.0)
    );
}

#[test]
fn resources_follow_otelcols_legacy_layout() {
    let mut out = testing::builder(SCOPE, DEFS, &[]);
    record(&snapshot(), &mut out);
    let request = out.finish();
    let resources: Vec<Vec<(String, String)>> = request
        .resource_metrics
        .iter()
        .map(|rm| {
            rm.resource
                .as_ref()
                .unwrap()
                .attributes
                .iter()
                .map(|kv| {
                    let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (kv.key.clone(), v)
                })
                .collect()
        })
        .collect();
    let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        resources,
        [
            kv(&[]),
            kv(&[("postgresql.database.name", "shop")]),
            kv(&[
                ("postgresql.database.name", "shop"),
                ("postgresql.table.name", "public.orders")
            ]),
            kv(&[
                ("postgresql.database.name", "shop"),
                ("postgresql.table.name", "public.orders"),
                ("postgresql.index.name", "orders_pkey")
            ]),
        ]
    );
    let commits = &request.resource_metrics[1].scope_metrics[0].metrics;
    assert!(commits.iter().any(|m| m.name == "postgresql.commits"));
}

#[test]
fn a_database_whose_tables_could_not_be_read_has_no_table_count() {
    let mut s = snapshot();
    s.databases[0].tables = None;
    s.databases[0].table_io.clear();
    s.databases[0].indexes.clear();
    let p = scrape(&s, &[]);
    assert!(value(&p, "postgresql.table.count", &[]).is_none());
    assert_eq!(value(&p, "postgresql.commits", &[]), Some(120.0));
}
