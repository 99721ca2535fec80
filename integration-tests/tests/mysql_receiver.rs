//! The mysql receiver against real MariaDB servers: the shared one `scripts/servers.sh start
//! mariadb` runs on loopback for known load, and a private `mariadbd` on a free port for an
//! outage. ferrotel A scrapes and exports over OTLP to ferrotel B; every assertion is on what
//! arrived behind the second collector.

mod common;
#[path = "mysql/support.rs"]
mod support;

use common::scrape::{Pipeline, WAIT, sum_kinds, up_values, upstream_receivers, validate_config};
use ferrotel_integration_tests::otlp_query::{get, max_value, points};
use ferrotel_integration_tests::procs;
use ferrotel_integration_tests::recorder::Recorded;
use support::{IdleSession, PrivateMariadb, Server, latest, private_root, shared_server, since};

fn up(recorded: &Recorded) -> Vec<f64> {
    up_values(recorded, "mysql.up")
}

#[test]
fn metrics_follow_known_load() {
    let server = shared_server();
    server.sql(
        "DROP DATABASE IF EXISTS ferrotel_it_load; CREATE DATABASE ferrotel_it_load; \
         CREATE TABLE ferrotel_it_load.items (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(32)) ENGINE=InnoDB;",
    );
    let p = Pipeline::start(&server.receiver("mysql", ""), "mysql");
    let counters = [
        ("mysql.operations", ("operation", "fsyncs")),
        ("mysql.handlers", ("kind", "write")),
        ("mysql.handlers", ("kind", "read_key")),
        ("mysql.row_operations", ("operation", "inserted")),
        ("mysql.row_operations", ("operation", "read")),
    ];
    let before: Vec<f64> = p.wait("a first scrape", |r| {
        counters
            .iter()
            .map(|(name, attr)| latest(r, name, &[*attr]))
            .collect()
    });
    const N: usize = 100;
    const K: usize = 10;
    let held: Vec<IdleSession> = (0..K).map(|_| server.idle_session()).collect();
    // one autocommit transaction per insert, so each is its own InnoDB commit
    let inserts: String = (0..N)
        .map(|i| format!("INSERT INTO ferrotel_it_load.items (v) VALUES ('value-{i}');\n"))
        .collect();
    let selects: String = (1..=N)
        .map(|i| format!("SELECT v FROM ferrotel_it_load.items WHERE id = {i};\n"))
        .collect();
    server.sql(&(inserts + &selects));
    let items = [("schema", "ferrotel_it_load"), ("table", "items")];
    let recorded = p.wait("the load in the metrics", |r| {
        let grown = counters.iter().zip(&before).all(|((name, attr), before)| {
            latest(r, name, &[*attr]).is_some_and(|now| now >= before + N as f64)
        });
        let connected = latest(r, "mysql.threads", &[("kind", "connected")])?;
        let inserted = max_value(
            r,
            "mysql.table.io.wait.count",
            &[],
            &[items[0], items[1], ("operation", "insert")],
        )?;
        (grown && connected >= (K + 1) as f64 && inserted >= N as f64).then(|| r.clone())
    });
    drop(held);
    let v = |name: &str, attrs: &[(&str, &str)]| {
        max_value(&recorded, name, &[], attrs).unwrap_or_else(|| panic!("no {name} {attrs:?}"))
    };
    // a table created by this test: performance_schema counted exactly its rows
    assert_eq!(
        v(
            "mysql.table.io.wait.count",
            &[items[0], items[1], ("operation", "insert")]
        ),
        N as f64
    );
    assert!(
        v(
            "mysql.table.io.wait.count",
            &[items[0], items[1], ("operation", "fetch")]
        ) >= N as f64
    );
    assert!(
        v(
            "mysql.table.io.wait.time",
            &[items[0], items[1], ("operation", "insert")]
        ) > 0.0
    );
    assert!(
        v(
            "mysql.index.io.wait.count",
            &[
                items[0],
                items[1],
                ("index", "PRIMARY"),
                ("operation", "fetch")
            ]
        ) >= N as f64,
        "the selects went through the primary key"
    );
    assert!(v("mysql.buffer_pool.limit", &[]) >= 1024.0 * 1024.0);
    assert!(v("mysql.uptime", &[]) > 0.0);
    assert_eq!(v("mysql.up", &[]), 1.0);
    for name in [
        "mysql.buffer_pool.data_pages",
        "mysql.buffer_pool.operations",
        "mysql.buffer_pool.page_flushes",
        "mysql.buffer_pool.pages",
        "mysql.buffer_pool.usage",
        "mysql.double_writes",
        "mysql.locks",
        "mysql.log_operations",
        "mysql.opened_resources",
        "mysql.page_operations",
        "mysql.prepared_statements",
        "mysql.row_locks",
        "mysql.sorts",
        "mysql.tmp_resources",
    ] {
        assert!(
            !points(&recorded, name).is_empty(),
            "{name} is enabled by default"
        );
    }
    for name in [
        "mysql.commands",
        "mysql.query.count",
        "mysql.query.top.calls",
    ] {
        assert!(
            points(&recorded, name).is_empty(),
            "{name} is off by default"
        );
    }
    let (resource, _, _) = points(&recorded, "mysql.uptime").pop().unwrap();
    assert_eq!(
        get(&resource, "mysql.instance.endpoint"),
        Some(format!("{}:{}", server.host, server.port))
    );
    assert_eq!(get(&resource, "db.system.version"), None, "off by default");
    // types as otelcol's metadata.yaml has them
    let sums = sum_kinds(
        &recorded,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/mysqlreceiver",
    );
    for (name, monotonic) in [
        ("mysql.handlers", true),
        ("mysql.threads", false),
        ("mysql.buffer_pool.usage", false),
        ("mysql.table.io.wait.time", true),
    ] {
        assert!(
            sums.contains(&(name.to_string(), monotonic)),
            "{name} monotonic={monotonic}"
        );
    }
    for line in ["the scrape failed", "the scrape is partial"] {
        assert_eq!(p.log_lines(&[line]), 0, "{}", p.a.proc.output());
    }
    server.sql("DROP DATABASE ferrotel_it_load;");
}

#[test]
fn a_slow_query_leads_the_top_queries() {
    let server = shared_server();
    // history from before the receiver started: heavier in total than the query under test, so
    // that a top list of running totals instead of per-interval differences would lead with it
    server.sql("DO SLEEP(3);");
    let extra = "    top_queries:\n      enabled: true\n      limit: 5\n";
    let p = Pipeline::start(&server.receiver("mysql/top", extra), "mysql/top");
    // the receiver's own statements show up from the second scrape on: the baseline is taken
    let from = p.wait("a first top list", |r| {
        (!points(r, "mysql.query.top.calls").is_empty()).then_some(r.metrics.len())
    });
    // longer than a collection interval, so that no sequential workload can outweigh it
    server.sql("SELECT SLEEP(2);");
    let (text, seconds, calls) = p.wait("the slow query first in a top list", |r| {
        r.metrics[from.min(r.metrics.len())..]
            .iter()
            .find_map(|request| {
                let one = Recorded {
                    metrics: vec![request.clone()],
                    ..Default::default()
                };
                let (_, attrs, seconds) = points(&one, "mysql.query.top.total_time")
                    .into_iter()
                    .max_by(|a, b| a.2.total_cmp(&b.2))?;
                let text = get(&attrs, "db.query.text")?;
                text.contains("SLEEP").then(|| {
                    let calls = points(&one, "mysql.query.top.calls")
                        .into_iter()
                        .find(|(_, a, _)| get(a, "db.query.text").as_deref() == Some(text.as_str()))
                        .map(|(_, _, v)| v);
                    (text, seconds, calls)
                })
            })
    });
    assert!(
        !text.contains('2'),
        "literals are replaced in digest text: {text}"
    );
    assert!(seconds >= 1.9, "the sleep's time, in seconds: {seconds}");
    assert_eq!(calls, Some(1.0));
    let texts: Vec<String> = points(&p.snapshot(), "mysql.query.top.calls")
        .iter()
        .filter_map(|(_, a, _)| get(a, "db.query.text"))
        .collect();
    assert!(
        !texts.iter().any(|t| t.starts_with("DO SLEEP")),
        "a digest that did not run since the baseline is no top query: {texts:?}"
    );
    p.assert_log(&["the scrape is partial"], 0);
}

#[test]
fn a_refused_password_is_an_outage_and_stays_out_of_the_log() {
    let mut server = shared_server();
    server.password = "wr0ng-pw-77c".into();
    let p = Pipeline::start(&server.receiver("mysql/creds", ""), "mysql/creds");
    p.wait("mysql.up 0 three times", |r| {
        (up(r).iter().filter(|v| **v == 0.0).count() >= 3).then_some(())
    });
    let recorded = p.snapshot();
    assert!(up(&recorded).iter().all(|v| *v == 0.0));
    assert!(points(&recorded, "mysql.uptime").is_empty());
    assert_eq!(p.log_lines(&["the scrape failed", "mysql/creds"]), 1);
    let output = p.a.proc.output();
    assert!(output.contains("Access denied"), "{output}");
    assert!(
        !output.contains("wr0ng-pw-77c"),
        "the password reached the log:\n{output}"
    );
}

#[test]
fn a_user_without_performance_schema_gets_a_partial_scrape_said_once() {
    let root = shared_server();
    root.sql(
        "DROP USER IF EXISTS 'ferrotel_watch'@'%'; \
         CREATE USER 'ferrotel_watch'@'%' IDENTIFIED BY 'watch-pw-31';",
    );
    let watcher = Server {
        user: "ferrotel_watch".into(),
        password: "watch-pw-31".into(),
        ..shared_server()
    };
    let p = Pipeline::start(&watcher.receiver("mysql/nopriv", ""), "mysql/nopriv");
    p.wait("three scrapes", |r| (up(r).len() >= 3).then_some(()));
    let recorded = p.snapshot();
    root.sql("DROP USER 'ferrotel_watch'@'%';");
    assert!(up(&recorded).iter().all(|v| *v == 1.0), "reachable, so up");
    assert!(
        !points(&recorded, "mysql.uptime").is_empty(),
        "SHOW GLOBAL STATUS needs no grant"
    );
    assert!(points(&recorded, "mysql.table.io.wait.count").is_empty());
    p.assert_log(&["the scrape is partial", "mysql/nopriv"], 1);
    let output = p.a.proc.output();
    assert!(output.contains("performance_schema"), "{output}");
    assert!(!output.contains("watch-pw-31"));
}

#[test]
fn an_outage_is_logged_once_and_the_metrics_come_back() {
    let dir = tempfile::tempdir().unwrap();
    PrivateMariadb::install(dir.path());
    let port = procs::free_port();
    let mut db = PrivateMariadb::start(dir.path(), port, &[]);
    let server = private_root(port);
    let receiver = format!(
        "  mysql/outage:\n    endpoint: 127.0.0.1:{port}\n    username: root\n\
         \x20   collection_interval: 1s\n    initial_delay: 0s\n"
    );
    let p = Pipeline::start(&receiver, "mysql/outage");
    p.wait("metrics before the outage", |r| {
        max_value(r, "mysql.uptime", &[], &[])
    });
    assert!(up(&p.snapshot()).iter().all(|v| *v == 1.0));
    let before = up(&p.snapshot()).len();
    db.proc.assert_running();
    assert!(db.proc.terminate(WAIT).is_some(), "mariadbd did not stop");
    drop(db);
    p.wait("three failed scrapes", |r| {
        let zeros = up(r)[before..].iter().filter(|v| **v == 0.0).count();
        (zeros >= 3).then_some(())
    });
    p.assert_log(&["the scrape failed", "mysql/outage"], 1);
    assert!(
        p.a.proc.output().contains(&format!("127.0.0.1:{port}")),
        "the log names the server"
    );
    let mut p = p;
    p.a.proc.assert_running();
    let restarted_at = p.snapshot().metrics.len();
    let _db = PrivateMariadb::start(dir.path(), port, &[]);
    server.sql("SELECT 1;");
    p.wait("metrics after the restart", |r| {
        max_value(&since(r, restarted_at), "mysql.uptime", &[], &[])
    });
    assert!(
        up(&p.since(restarted_at)).contains(&1.0),
        "mysql.up is 1 again"
    );
    p.wait_log(&["the scrape works again", "mysql/outage"], 1);
    assert_eq!(p.log_lines(&["the scrape failed", "mysql/outage"]), 1);
}

#[test]
fn replica_lag_over_a_unix_socket() {
    let (primary_dir, replica_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    PrivateMariadb::install(primary_dir.path());
    PrivateMariadb::install(replica_dir.path());
    let (primary_port, replica_port) = (procs::free_port(), procs::free_port());
    let _primary = PrivateMariadb::start(
        primary_dir.path(),
        primary_port,
        &["--server-id=1", "--log-bin=primary-bin"],
    );
    let _replica = PrivateMariadb::start(replica_dir.path(), replica_port, &["--server-id=2"]);
    private_root(primary_port).sql(
        "CREATE USER 'repl'@'localhost' IDENTIFIED BY 'repl-pw'; \
         GRANT REPLICATION SLAVE ON *.* TO 'repl'@'localhost';",
    );
    private_root(replica_port).sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary_port}, \
         MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_DELAY=7; START SLAVE;"
    ));
    let socket = replica_dir.path().join("s.sock").display().to_string();
    let receiver = format!(
        "  mysql/replica:\n    endpoint: {socket}\n    transport: unix\n    username: root\n\
         \x20   collection_interval: 1s\n    initial_delay: 0s\n    metrics:\n\
         \x20     mysql.replica.time_behind_source:\n        enabled: true\n\
         \x20     mysql.replica.sql_delay:\n        enabled: true\n"
    );
    let p = Pipeline::start(&receiver, "mysql/replica");
    let recorded = p.wait("replica lag", |r| {
        max_value(r, "mysql.replica.time_behind_source", &[], &[]).map(|_| r.clone())
    });
    assert_eq!(
        max_value(&recorded, "mysql.replica.sql_delay", &[], &[]),
        Some(7.0),
        "MASTER_DELAY"
    );
    let lag = max_value(&recorded, "mysql.replica.time_behind_source", &[], &[]).unwrap();
    assert!(
        (0.0..60.0).contains(&lag),
        "an idle replica is caught up: {lag}"
    );
    let (resource, _, _) = points(&recorded, "mysql.uptime").pop().unwrap();
    assert_eq!(get(&resource, "mysql.instance.endpoint"), Some(socket));
    // the primary is no replica: nothing to report there
    let primary = Pipeline::start(
        &format!(
            "  mysql/primary:\n    endpoint: 127.0.0.1:{primary_port}\n    collection_interval: 1s\n\
             \x20   initial_delay: 0s\n    metrics:\n      mysql.replica.sql_delay:\n        enabled: true\n"
        ),
        "mysql/primary",
    );
    let recorded = primary.wait("two scrapes of the primary", |r| {
        (up(r).len() >= 2).then(|| r.clone())
    });
    assert!(points(&recorded, "mysql.replica.sql_delay").is_empty());
    primary.assert_log(&["the scrape is partial"], 0);
}

#[test]
fn the_upstream_testdata_config_validates_and_bad_ones_are_refused() {
    let section = upstream_receivers("mysql");
    let validate = |receivers: &str, ids: &str| {
        validate_config(
            receivers,
            ids,
            &[("MYSQL_PASSWORD", Some("from-the-environment"))],
        )
    };
    let good = validate(&section, "mysql, mysql/default_tls");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = validate("  mysql:\n    endpoint: localhost\n", "mysql");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("missing port in address") && stderr.contains("c.yaml"),
        "{stderr}"
    );
    let tls = validate(
        "  mysql:\n    tls:\n      curve_preferences: [X25519]\n",
        "mysql",
    );
    let stderr = String::from_utf8_lossy(&tls.stderr);
    assert!(
        !tls.status.success() && stderr.contains("curve_preferences"),
        "{stderr}"
    );
    let typo = validate("  mysql:\n    collection_intervall: 5s\n", "mysql");
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        !typo.status.success() && stderr.contains("collection_interval"),
        "{stderr}"
    );
}
