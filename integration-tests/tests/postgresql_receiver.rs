//! The postgresql receiver against real PostgreSQL servers: the shared one `scripts/servers.sh
//! start postgres` runs on loopback for known load, and private `postgres` processes on free
//! ports for outages. ferrotel A scrapes and exports over OTLP to ferrotel B; every assertion is
//! on what arrived behind the second collector.

mod common;
#[path = "postgresql/support.rs"]
mod support;

use common::scrape::{Pipeline, sum_kinds, up_values, upstream_receivers, validate_config};
use ferrotel_integration_tests::otlp_query::{get, has, max_value, points};
use ferrotel_integration_tests::procs;
use ferrotel_integration_tests::recorder::Recorded;
use support::{PrivatePg, Server, Session, TestDb, new_ca, shared};

fn start(server: &Server, id: &str, extra: &str) -> Pipeline {
    Pipeline::start(&server.receiver(id, extra), id)
}

fn up(recorded: &Recorded) -> Vec<f64> {
    up_values(recorded, "postgresql.up")
}

#[test]
fn metrics_follow_known_load() {
    let server = shared();
    let db = TestDb::create(&server, "load");
    server.psql(
        &db.name,
        "CREATE TABLE orders (id serial PRIMARY KEY, amount int)",
    );
    // the test's database and `postgres` only: other tests create and drop databases meanwhile
    let extra = format!("    databases: [{}, postgres]\n", db.name);
    let p = start(&server, "postgresql", &extra);
    let mine = [("postgresql.database.name", db.name.as_str())];
    let before = p.wait("a first scrape of the test's database", |r| {
        max_value(r, "postgresql.commits", &mine, &[])
    });
    const N: usize = 50;
    const K: usize = 4;
    let held: Vec<Session> = (0..K).map(|_| server.hold(&db.name)).collect();
    let transactions: String = (0..N)
        .map(|i| format!("BEGIN; INSERT INTO orders (amount) VALUES ({i}); COMMIT;\n"))
        .collect();
    server.psql(&db.name, &transactions);
    let table = [
        ("postgresql.database.name", db.name.as_str()),
        ("postgresql.table.name", "public.orders"),
    ];
    let recorded = p.wait("the load in the metrics", |r| {
        let commits = max_value(r, "postgresql.commits", &mine, &[])?;
        let backends = max_value(r, "postgresql.backends", &mine, &[])?;
        let live = max_value(r, "postgresql.rows", &table, &[("state", "live")])?;
        // the held sessions and the receiver's own one in that database
        (commits >= before + N as f64 && backends > K as f64 && live >= N as f64).then(|| r.clone())
    });
    drop(held);
    let v = |name: &str, resource: &[(&str, &str)], attrs: &[(&str, &str)]| {
        max_value(&recorded, name, resource, attrs)
            .unwrap_or_else(|| panic!("no {name} {resource:?} {attrs:?}"))
    };
    assert!(
        v("postgresql.db_size", &mine, &[]) > 1_000_000.0,
        "a database is megabytes"
    );
    assert_eq!(v("postgresql.table.count", &mine, &[]), 1.0);
    assert_eq!(
        v("postgresql.operations", &table, &[("operation", "ins")]),
        N as f64
    );
    assert!(v("postgresql.table.size", &table, &[]) > 0.0);
    let index = [("postgresql.index.name", "orders_pkey")];
    assert!(v("postgresql.index.size", &index, &[]) > 0.0);
    assert!(v("postgresql.index.scans", &index, &[]) >= 0.0);
    assert!(v("postgresql.blocks_read", &table, &[("source", "heap_hit")]) > 0.0);
    let max_connections: f64 = server
        .psql("postgres", "SHOW max_connections")
        .parse()
        .unwrap();
    assert_eq!(v("postgresql.connection.max", &[], &[]), max_connections);
    assert_eq!(v("postgresql.database.count", &[], &[]), 2.0);
    let postgres = [("postgresql.database.name", "postgres")];
    assert!(
        v("postgresql.commits", &postgres, &[]) > 0.0,
        "both databases are scraped"
    );
    assert!(v("postgresql.bgwriter.buffers.allocated", &[], &[]) > 0.0);
    assert_eq!(v("postgresql.up", &[], &[]), 1.0);
    for name in [
        "postgresql.bgwriter.buffers.writes",
        "postgresql.bgwriter.checkpoint.count",
        "postgresql.bgwriter.duration",
        "postgresql.bgwriter.maxwritten",
        "postgresql.rollbacks",
        "postgresql.table.vacuum.count",
    ] {
        assert!(
            !points(&recorded, name).is_empty(),
            "{name} is enabled by default"
        );
    }
    for name in [
        "postgresql.deadlocks",
        "postgresql.query.total_time",
        "postgresql.wal.delay",
    ] {
        assert!(
            points(&recorded, name).is_empty(),
            "{name} is off by default"
        );
    }
    let sums = sum_kinds(
        &recorded,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/postgresqlreceiver",
    );
    for (name, monotonic) in [
        ("postgresql.commits", true),
        ("postgresql.backends", false),
        ("postgresql.db_size", false),
        ("postgresql.operations", true),
    ] {
        assert!(
            sums.contains(&(name.to_string(), monotonic)),
            "{name} monotonic={monotonic}"
        );
    }
    p.assert_log(&["the scrape failed"], 0);
    p.assert_log(&["the scrape is partial"], 0);
}

#[test]
fn a_slow_statement_leads_the_top_queries() {
    let server = shared();
    let db = TestDb::create(&server, "top");
    let extra =
        "    databases: [postgres]\n    top_queries:\n      enabled: true\n      limit: 5\n";
    let p = start(&server, "postgresql/top", extra);
    // two scrapes: the first only sets the baseline the next ones are measured against
    p.wait("two scrapes", |r| (up(r).len() >= 2).then_some(()));
    server.psql(&db.name, "SELECT pg_sleep(2.5)");
    let (text, total, calls) = p.wait("pg_sleep at the top", |r| {
        r.metrics.iter().find_map(|request| {
            let one = Recorded {
                metrics: vec![request.clone()],
                ..Default::default()
            };
            let totals = points(&one, "postgresql.query.total_time");
            let (_, attrs, total) = totals.first()?.clone();
            let text = get(&attrs, "db.query.text")?;
            if !text.contains("pg_sleep") {
                return None;
            }
            assert!(
                totals.iter().all(|(_, _, v)| *v <= total),
                "the first point is the longest: {totals:?}"
            );
            let calls = max_value(
                &one,
                "postgresql.query.calls",
                &[],
                &[("db.query.text", &text)],
            )?;
            assert!(
                has(&attrs, &[("db.namespace", db.name.as_str())]),
                "{attrs:?}"
            );
            assert!(get(&attrs, "postgresql.queryid").is_some());
            Some((text, total, calls))
        })
    });
    assert_eq!(
        text, "SELECT pg_sleep($1)",
        "pg_stat_statements' normalized text"
    );
    assert!((2500.0..60_000.0).contains(&total), "{total} ms");
    assert_eq!(calls, 1.0);
    p.assert_log(&["the scrape is partial"], 0);
}

#[test]
fn a_lock_wait_names_the_blocking_query() {
    let server = shared();
    let db = TestDb::create(&server, "lock");
    server.psql(&db.name, "CREATE TABLE accounts (id int, owner text)");
    let holder = server.hold(&db.name);
    holder.send("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;");
    let locked = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                  WHERE c.relname = 'accounts' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    procs::wait_for(common::scrape::WAIT, || {
        (server.psql(&db.name, locked) == "1").then_some(())
    })
    .expect("the holder takes the lock");
    let waiter = server.hold(&db.name);
    waiter.send("SELECT owner FROM accounts WHERE id = 4711 AND owner <> 'alice';");
    let extra = "    databases: [postgres]\n    lock_waits:\n      enabled: true\n";
    let p = start(&server, "postgresql/locks", extra);
    let mine = [("db.namespace", db.name.as_str())];
    let recorded = p.wait("the lock wait", |r| {
        points(r, "postgresql.lock.wait_time")
            .into_iter()
            .find(|(_, attrs, _)| has(attrs, &mine))
    });
    let (_, attrs, waited) = recorded;
    assert_eq!(
        get(&attrs, "db.query.text").as_deref(),
        Some("SELECT owner FROM accounts WHERE id = ? AND owner <> ?;"),
        "the waiting query, without its literals"
    );
    assert_eq!(
        get(&attrs, "postgresql.blocking.query.text").as_deref(),
        Some("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;"),
        "psql sends the statements one by one: the lock's is the holder's last"
    );
    assert!(get(&attrs, "postgresql.blocking.pid").is_some());
    assert!(waited >= 0.0);
    drop((holder, waiter));
}

#[test]
fn tls_is_on_by_default_and_verifies_when_asked() {
    let mut pg = PrivatePg::init("tls-pw-61b");
    let cert = pg.enable_tls();
    pg.start();
    let server = pg.server("tls-pw-61b");
    let tls = |lines: &str| {
        format!(
            "  {{id}}:\n    endpoint: 127.0.0.1:{}\n    username: postgres\n    password: tls-pw-61b\n\
             \x20   collection_interval: 1s\n    initial_delay: 0s\n{lines}",
            pg.port
        )
    };
    // otelcol's default: TLS without checking the certificate
    let default = tls("").replace("{id}", "postgresql/tls");
    let verified = tls(&format!(
        "    tls:\n      insecure_skip_verify: false\n      ca_file: {}\n",
        cert.display()
    ))
    .replace("{id}", "postgresql/verified");
    let p = Pipeline::start(
        &(default + &verified),
        "postgresql/tls, postgresql/verified",
    );
    let postgres = [("postgresql.database.name", "postgres")];
    p.wait("metrics over TLS", |r| {
        max_value(r, "postgresql.commits", &postgres, &[])
    });
    p.wait("several scrapes", |r| (up(r).len() >= 4).then_some(()));
    assert!(
        up(&p.snapshot()).iter().all(|v| *v == 1.0),
        "{}",
        p.a.proc.output()
    );
    let encrypted: u32 = server
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'ferrotel'",
        )
        .parse()
        .unwrap();
    assert!(
        encrypted >= 2,
        "both receivers' sessions are encrypted: {encrypted}"
    );
    drop(p);

    // a certificate from another authority is refused when verification is on
    let other = tempfile::tempdir().unwrap();
    let (stranger, _) = new_ca(other.path(), "stranger");
    let wrong = tls(&format!(
        "    tls:\n      insecure_skip_verify: false\n      ca_file: {}\n",
        stranger.display()
    ))
    .replace("{id}", "postgresql/wrongca");
    let p = Pipeline::start(&wrong, "postgresql/wrongca");
    p.wait("postgresql.up 0 twice", |r| {
        (up(r).iter().filter(|v| **v == 0.0).count() >= 2).then_some(())
    });
    assert!(up(&p.snapshot()).iter().all(|v| *v == 0.0));
    assert_eq!(p.log_lines(&["the scrape failed", "postgresql/wrongca"]), 1);
    let output = p.a.proc.output();
    assert!(
        output.contains("TLS") || output.contains("certificate"),
        "{output}"
    );

    // plain text to a TLS-capable server only when asked for
    let plain = tls("    tls:\n      insecure: true\n").replace("{id}", "postgresql/plain");
    let p = Pipeline::start(&plain, "postgresql/plain");
    p.wait("metrics in plain text", |r| {
        max_value(r, "postgresql.commits", &postgres, &[])
    });
    let plain_sessions: u32 = server
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE NOT ssl AND application_name = 'ferrotel'",
        )
        .parse()
        .unwrap();
    assert!(plain_sessions >= 1);
}

#[test]
fn a_refused_password_is_an_outage_and_stays_out_of_the_log() {
    let mut server = shared();
    server.password = "wr0ng-pg-pw-5d1".into();
    let p = start(&server, "postgresql/creds", "");
    p.wait("postgresql.up 0 three times", |r| {
        (up(r).iter().filter(|v| **v == 0.0).count() >= 3).then_some(())
    });
    let recorded = p.snapshot();
    assert!(up(&recorded).iter().all(|v| *v == 0.0));
    assert!(points(&recorded, "postgresql.commits").is_empty());
    assert_eq!(p.log_lines(&["the scrape failed", "postgresql/creds"]), 1);
    let output = p.a.proc.output();
    assert!(
        output.contains("password authentication failed"),
        "{output}"
    );
    assert!(
        !output.contains("wr0ng-pg-pw-5d1"),
        "the password reached the log:\n{output}"
    );
}

#[test]
fn a_missing_view_or_database_makes_a_partial_scrape() {
    // a private server: pg_stat_statements is neither preloaded nor created there
    let mut pg = PrivatePg::init("part-pw-2c7");
    pg.start();
    let server = pg.server("part-pw-2c7");
    let extra =
        "    databases: [postgres, ferrotel_no_such_db]\n    top_queries:\n      enabled: true\n";
    let p = start(&server, "postgresql/part", extra);
    let postgres = [("postgresql.database.name", "postgres")];
    p.wait("the reachable database's metrics", |r| {
        max_value(r, "postgresql.table.count", &postgres, &[])
    });
    p.wait("three scrapes", |r| (up(r).len() >= 3).then_some(()));
    assert!(
        up(&p.snapshot()).iter().all(|v| *v == 1.0),
        "reachable, so up"
    );
    p.wait_log(
        &[
            "the scrape is partial",
            "postgresql/part",
            "ferrotel_no_such_db",
            "pg_stat_statements",
        ],
        1,
    );
    assert_eq!(
        p.log_lines(&["the scrape is partial"]),
        1,
        "said once, not every scrape"
    );
}

#[test]
fn an_outage_is_logged_once_and_the_metrics_come_back() {
    let mut pg = PrivatePg::init("private-pw-8e4");
    pg.start();
    let server = pg.server("private-pw-8e4");
    let p = start(&server, "postgresql/outage", "");
    let postgres = [("postgresql.database.name", "postgres")];
    p.wait("metrics before the outage", |r| {
        max_value(r, "postgresql.commits", &postgres, &[])
    });
    pg.stop();
    let before = up(&p.snapshot()).len();
    p.wait("three failed scrapes", |r| {
        let zeros = up(r)[before..].iter().filter(|v| **v == 0.0).count();
        (zeros >= 3).then_some(())
    });
    p.assert_log(&["the scrape failed", "postgresql/outage"], 1);
    assert!(
        p.log_lines(&["the scrape failed", &format!("127.0.0.1:{}", pg.port)]) == 1,
        "the log names the server:\n{}",
        p.a.proc.output()
    );
    let mut p = p;
    p.a.proc.assert_running();
    let restarted_at = p.snapshot().metrics.len();
    pg.start();
    server.psql("postgres", "CREATE TABLE after_restart (id int)");
    p.wait("metrics after the restart", |r| {
        let later = Recorded {
            metrics: r.metrics[restarted_at..].to_vec(),
            ..Default::default()
        };
        (max_value(&later, "postgresql.table.count", &postgres, &[])? == 1.0).then_some(())
    });
    assert!(
        up(&p.since(restarted_at)).contains(&1.0),
        "postgresql.up is 1 again"
    );
    p.wait_log(&["the scrape works again", "postgresql/outage"], 1);
    assert_eq!(p.log_lines(&["the scrape failed", "postgresql/outage"]), 1);
    assert!(
        !p.a.proc.output().contains("private-pw-8e4"),
        "the password reached the log"
    );
}

#[test]
fn the_upstream_testdata_config_validates_and_bad_ones_are_refused() {
    let section = upstream_receivers("postgresql");
    let validate = |receivers: &str, password: Option<&str>| {
        let env = [("POSTGRESQL_PASSWORD", password)];
        validate_config(receivers, "postgresql, postgresql/all", &env)
    };
    let good = validate(&section, Some("s3cret"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let no_password = validate(&section, None);
    let stderr = String::from_utf8_lossy(&no_password.stderr);
    assert!(
        !no_password.status.success() && stderr.contains("missing password"),
        "an unset ${{env:POSTGRESQL_PASSWORD}} is an empty password: {stderr}"
    );
    let bad_endpoint = section.replacen("endpoint: localhost:5432", "endpoint: localhost", 1);
    let bad = validate(&bad_endpoint, Some("s3cret"));
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("'endpoint' must be in the form <host>:<port>")
            && stderr.contains("c.yaml"),
        "{stderr}"
    );
    let typo = validate(
        &section.replacen("username:", "usrname:", 1),
        Some("s3cret"),
    );
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        !typo.status.success() && stderr.contains("usrname"),
        "{stderr}"
    );
}
