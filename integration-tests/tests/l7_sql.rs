//! SQL drivers that prepare statements, through the ebpf receiver in its default mode (no
//! payload leaves the process): PostgreSQL's Bind of a named statement alone still gets its
//! query's semantics, from the Parse the same connection sent earlier; MySQL's executions get
//! theirs from the prepare whose reply gave the statement id they name. Real drivers (psycopg 3,
//! mysql-connector-python) against the PostgreSQL and MariaDB of `scripts/servers.sh start`.

mod common;

use std::process::Command;

use common::ebpf::{Pipeline, WAIT, assert_root};
use ferrotel_integration_tests::otlp_query::get;
use ferrotel_integration_tests::procs::{venv_python, wait_for};
use opentelemetry_proto::tonic::trace::v1::Span;

/// Runs `script` with the venv's Python; its pid and what it printed.
fn python(script: &str) -> (u32, String) {
    let child = Command::new(venv_python())
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits for `n` client spans of `pid` to `server_port` whose query mentions `marker`; on a
/// timeout, says what the spans of that process were.
fn prepared_spans(
    p: &Pipeline,
    protocol: &str,
    server_port: u16,
    pid: u32,
    marker: &str,
    n: usize,
) -> Vec<Span> {
    let of_pid = || -> Vec<Span> {
        p.client_spans(protocol, server_port)
            .into_iter()
            .filter(|s| get(&s.attributes, "process.pid") == Some(pid.to_string()))
            .collect()
    };
    let found = wait_for(WAIT, || {
        let spans: Vec<Span> = of_pid()
            .into_iter()
            .filter(|s| get(&s.attributes, "db.query.text").is_some_and(|q| q.contains(marker)))
            .collect();
        (spans.len() >= n).then_some(spans)
    });
    found.unwrap_or_else(|| {
        let seen: Vec<_> = of_pid()
            .iter()
            .map(|s| (s.name.clone(), get(&s.attributes, "db.query.text")))
            .collect();
        panic!("{n} {protocol} spans mentioning {marker} not seen in {WAIT:?}; the client's spans: {seen:?}")
    })
}

#[test]
fn prepared_statements_executed_by_reference_keep_their_query() {
    assert_root();
    let p = Pipeline::start("");

    let pg = common::env_port("FERROTEL_PG_PORT", 15432);
    // prepare=True: a Parse under a name, then a Bind of that name alone for each execution
    let (pid, out) = python(&format!(
        "import psycopg\n\
         with psycopg.connect('host=127.0.0.1 port={pg} user=postgres password=otelpass dbname=postgres sslmode=disable') as c:\n\
         \x20   for i in range(3):\n\
         \x20       print(c.execute(\"select %s::int as pg_prepared, 'x' as y\", (i,), prepare=True).fetchone()[0])\n"
    ));
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);
    let spans = prepared_spans(&p, "postgresql", pg, pid, "pg_prepared", 3);
    for span in &spans {
        assert_eq!(span.name, "SELECT", "{span:?}");
        assert_eq!(
            get(&span.attributes, "db.query.text").as_deref(),
            Some("select $1::int as pg_prepared, ? as y"),
            "{span:?}"
        );
    }

    let my = common::env_port("FERROTEL_MYSQL_PORT", 13306);
    // two prepared cursors on one connection: a COM_STMT_PREPARE each, then COM_STMT_EXECUTEs,
    // alternating, that name their statement only by the id the server gave it
    let (pid, out) = python(&format!(
        "import mysql.connector\n\
         c = mysql.connector.connect(host='127.0.0.1', port={my}, user='root', password='otelpass')\n\
         a = c.cursor(prepared=True)\n\
         b = c.cursor(prepared=True)\n\
         for i in range(3):\n\
         \x20   a.execute(\"SELECT ? AS my_prepared, 'x' AS y\", (i,))\n\
         \x20   print(a.fetchone()[0])\n\
         \x20   b.execute(\"SELECT ? + 1 AS my_other\", (i,))\n\
         \x20   print(b.fetchone()[0])\n\
         c.close()\n"
    ));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "1", "2", "2", "3"]
    );
    // the receiver reads each id from the server's reply to the prepare
    // (components/l7/src/mysql.rs): a prepare and three executions carry each statement
    for (marker, query) in [
        ("my_prepared", "SELECT ? AS my_prepared, ? AS y"),
        ("my_other", "SELECT ? + ? AS my_other"),
    ] {
        let spans = prepared_spans(&p, "mysql", my, pid, marker, 4);
        for span in &spans {
            assert_eq!(span.name, "SELECT", "{span:?}");
            assert_eq!(
                get(&span.attributes, "db.query.text").as_deref(),
                Some(query),
                "{span:?}"
            );
            assert_eq!(
                get(&span.attributes, "db.system.name").as_deref(),
                Some("mysql")
            );
        }
    }
    let unnamed: Vec<Span> = p
        .client_spans("mysql", my)
        .into_iter()
        .filter(|s| get(&s.attributes, "process.pid") == Some(pid.to_string()))
        .filter(|s| s.name == "EXECUTE")
        .collect();
    assert!(
        unnamed.is_empty(),
        "executions without their statement: {unnamed:?}"
    );
}
