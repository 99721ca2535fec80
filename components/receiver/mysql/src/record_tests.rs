//! testdata/global-status-mariadb-10.11.tsv (a real `SHOW GLOBAL STATUS`, see testdata/README.md)
//! and hand-made performance_schema rows turned into points.

use ferrotel_core::scraperhelper::testing::{self, Points, points, value};

use super::*;
use crate::metadata::{DEFS, SCOPE, UP};

fn status() -> HashMap<String, String> {
    include_str!("../testdata/global-status-mariadb-10.11.tsv")
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn scrape(
    enable: &[&str],
    fill: impl FnOnce(&mut MetricsBuilder, &mut Vec<String>),
) -> (Points, Vec<String>) {
    let mut out = testing::builder(SCOPE, DEFS, enable);
    let mut partial = Vec::new();
    resource(&mut out, "db:3306", Some("10.11.19-MariaDB-0+deb12u1"));
    fill(&mut out, &mut partial);
    (points(out.finish()), partial)
}

fn field(status: &HashMap<String, String>, name: &str) -> f64 {
    status[name].parse().unwrap()
}

#[test]
fn status_variables_map_to_otelcols_metrics() {
    let s = status();
    let (p, partial) = scrape(&[], |out, partial| record_status(&s, out, partial));
    assert!(partial.is_empty(), "{partial:?}");
    let v = |name: &str, attrs: &[(&str, &str)]| value(&p, name, attrs);
    assert_eq!(v("mysql.uptime", &[]), Some(field(&s, "Uptime")));
    assert_eq!(
        v("mysql.handlers", &[("kind", "read_rnd_next")]),
        Some(field(&s, "Handler_read_rnd_next"))
    );
    assert_eq!(
        v("mysql.threads", &[("kind", "connected")]),
        Some(field(&s, "Threads_connected"))
    );
    assert_eq!(
        v("mysql.operations", &[("operation", "fsyncs")]),
        Some(field(&s, "Innodb_data_fsyncs"))
    );
    assert_eq!(
        v("mysql.buffer_pool.pages", &[("kind", "free")]),
        Some(field(&s, "Innodb_buffer_pool_pages_free"))
    );
    let dirty = field(&s, "Innodb_buffer_pool_pages_dirty");
    let data = field(&s, "Innodb_buffer_pool_pages_data");
    assert_eq!(
        v("mysql.buffer_pool.data_pages", &[("status", "dirty")]),
        Some(dirty)
    );
    assert_eq!(
        v("mysql.buffer_pool.data_pages", &[("status", "clean")]),
        Some(data - dirty)
    );
    assert_eq!(
        v("mysql.buffer_pool.usage", &[("status", "clean")]),
        Some(
            field(&s, "Innodb_buffer_pool_bytes_data")
                - field(&s, "Innodb_buffer_pool_bytes_dirty")
        )
    );
    assert_eq!(
        v("mysql.tmp_resources", &[("resource", "files")]),
        Some(field(&s, "Created_tmp_files"))
    );
    assert!(v("mysql.commands", &[]).is_none(), "optional, not enabled");
    assert!(
        v("mysql.mysqlx_connections", &[]).is_none(),
        "MariaDB has no X plugin"
    );
    assert!(
        v("mysql.row_operations", &[]).is_none() && !has_innodb_rows(&s),
        "MariaDB 10.11 has no Innodb_rows_*"
    );
}

#[test]
fn every_default_status_metric_but_the_missing_ones_is_recorded() {
    let s = status();
    let (p, _) = scrape(&[], |out, partial| record_status(&s, out, partial));
    // the rest come from other queries, or do not exist on MariaDB
    let elsewhere = [
        "mysql.buffer_pool.limit",
        "mysql.index.io.wait.count",
        "mysql.index.io.wait.time",
        "mysql.table.io.wait.count",
        "mysql.table.io.wait.time",
        "mysql.mysqlx_connections",
        "mysql.row_operations",
    ];
    for def in DEFS.iter().filter(|d| d.enabled && d.name != UP) {
        if elsewhere.contains(&def.name) || def.name.starts_with("mysql.query.top.") {
            continue;
        }
        assert!(
            p.iter().any(|(n, _, _)| n == def.name),
            "{} is enabled by default but was not recorded",
            def.name
        );
    }
}

#[test]
fn optional_status_metrics_when_enabled() {
    let mut s = status();
    s.insert("Innodb_rows_inserted".into(), "42".into());
    let enable = [
        "mysql.commands",
        "mysql.connection.errors",
        "mysql.query.slow.count",
    ];
    let (p, _) = scrape(&enable, |out, partial| record_status(&s, out, partial));
    assert_eq!(
        value(&p, "mysql.commands", &[("command", "insert")]),
        Some(field(&s, "Com_insert"))
    );
    assert_eq!(
        value(&p, "mysql.connection.errors", &[("error", "aborted")]),
        Some(field(&s, "Aborted_connects"))
    );
    assert_eq!(
        value(&p, "mysql.query.slow.count", &[]),
        Some(field(&s, "Slow_queries"))
    );
    assert_eq!(
        value(&p, "mysql.row_operations", &[("operation", "inserted")]),
        Some(42.0),
        "MySQL's Innodb_rows_* are used where they exist"
    );
}

#[test]
fn a_value_that_is_not_a_number_is_reported_and_the_rest_kept() {
    let mut s = status();
    s.insert("Threads_running".into(), "many".into());
    let (p, partial) = scrape(&[], |out, partial| record_status(&s, out, partial));
    assert!(value(&p, "mysql.threads", &[("kind", "running")]).is_none());
    assert!(value(&p, "mysql.threads", &[("kind", "connected")]).is_some());
    assert_eq!(partial.len(), 1, "{partial:?}");
    assert!(partial[0].contains("Threads_running"), "{partial:?}");
}

fn table(schema: &str, name: &str, index: Option<&str>, counts: [u64; 4]) -> TableIo {
    TableIo {
        schema: schema.into(),
        table: name.into(),
        index: index.map(Into::into),
        counts,
        times: counts.map(|c| c * 2_000_000),
    }
}

#[test]
fn io_waits_per_table_and_index_in_nanoseconds() {
    let tables = [table("app", "t", None, [1, 10, 5, 2])];
    let indexes = [table("app", "t", Some("PRIMARY"), [0, 7, 0, 2])];
    let (p, _) = scrape(&[], |out, _| {
        record_io_waits(&tables, out);
        record_io_waits(&indexes, out);
    });
    let t = [("schema", "app"), ("table", "t"), ("operation", "fetch")];
    assert_eq!(value(&p, "mysql.table.io.wait.count", &t), Some(10.0));
    assert_eq!(
        value(&p, "mysql.table.io.wait.time", &t),
        Some(20_000.0),
        "ps → ns"
    );
    let i = [("index", "PRIMARY"), ("operation", "update")];
    assert_eq!(value(&p, "mysql.index.io.wait.count", &i), Some(2.0));
    assert!(
        value(&p, "mysql.table.io.wait.count", &[("index", "PRIMARY")]).is_none(),
        "index rows are not table rows"
    );
}

#[test]
fn row_operations_from_performance_schema_where_innodb_has_none() {
    let tables = [
        table("app", "a", None, [1, 10, 5, 2]),
        table("app", "b", None, [0, 3, 4, 0]),
    ];
    let (p, _) = scrape(&[], |out, _| {
        record_row_operations_from_tables(&tables, out)
    });
    let op = |o: &str| value(&p, "mysql.row_operations", &[("operation", o)]);
    assert_eq!(op("inserted"), Some(9.0));
    assert_eq!(op("read"), Some(13.0));
    assert_eq!(op("deleted"), Some(1.0));
    assert_eq!(op("updated"), Some(2.0));
}

#[test]
fn statement_events_and_replica_lag_when_enabled() {
    let events = [StatementEvent {
        schema: "app".into(),
        digest: "abc".into(),
        digest_text: "SELECT ?".into(),
        wait: 3_000_000,
        counts: [0, 1, 0, 5, 50, 0, 0, 0, 0, 1],
    }];
    let replica = Replica {
        seconds_behind: Some(7),
        sql_delay: None,
    };
    let enable = [
        "mysql.statement_event.count",
        "mysql.statement_event.wait.time",
        "mysql.replica.time_behind_source",
        "mysql.replica.sql_delay",
    ];
    let (p, _) = scrape(&enable, |out, _| {
        record_statement_events(&events, out);
        record_replica(&replica, out);
    });
    assert_eq!(
        value(&p, "mysql.statement_event.wait.time", &[("digest", "abc")]),
        Some(3000.0)
    );
    assert_eq!(
        value(
            &p,
            "mysql.statement_event.count",
            &[("digest_text", "SELECT ?"), ("kind", "rows_examined")]
        ),
        Some(50.0)
    );
    assert_eq!(
        value(&p, "mysql.replica.time_behind_source", &[]),
        Some(7.0)
    );
    assert!(
        value(&p, "mysql.replica.sql_delay", &[]).is_none(),
        "NULL stays out"
    );
}

#[test]
fn the_resource_names_the_endpoint_and_optionally_the_server() {
    let mut out = testing::builder(SCOPE, DEFS, &[]);
    resource(&mut out, "db:3306", Some("10.11.19-MariaDB"));
    out.record_int("mysql.uptime", 1, &[]);
    let request = out.finish();
    let attrs = &request.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["mysql.instance.endpoint"],
        "db.system.* are off by default"
    );
    let mut toggles = ferrotel_core::scraperhelper::Toggles::new();
    toggles.insert(
        "db.system.name".into(),
        ferrotel_core::scraperhelper::Toggle { enabled: true },
    );
    let mut out = MetricsBuilder::new(SCOPE, DEFS, &Default::default(), &toggles, 1, 2);
    resource(&mut out, "db:3306", Some("10.11.19-MariaDB"));
    out.record_int("mysql.uptime", 1, &[]);
    let request = out.finish();
    let attrs = &request.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    assert!(
        attrs
            .iter()
            .any(|kv| kv.key == "db.system.name" && format!("{:?}", kv.value).contains("mariadb"))
    );
}
