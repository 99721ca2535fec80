//! ClickHouse's native protocol through the ebpf receiver: a real ClickHouse server (the native
//! listener of the chdb-core wheel) and a real client (clickhouse-driver, the client of the
//! unit-test fixtures). The receiver's client spans, in its default mode (no payload export), must
//! carry the database semantics of what the client sent from the 128-byte head the kernel reads,
//! literals and the password dropped.
//!
//! Needs root, and chdb-core and clickhouse-driver in the project's venv.

mod common;

use std::process::Command;
use std::time::Duration;

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::{python, servers};
use ferrotel_integration_tests::procs::{Proc, free_port, venv_python};
use opentelemetry_proto::tonic::trace::v1::Span;

/// chdb can only listen while a query runs: it starts the listeners, then sleeps in a query.
const SERVER: &str = "import chdb._chdb as c\n\
c.query('SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT sleepEachRow(1) FROM numbers(604800) \
SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0 FORMAT Null', 'TabSeparated', path='data')\n";

const PASSWORD: &str = "s3cret-pw";

/// A ClickHouse server on loopback with the user `alice`, killed when dropped.
struct Clickhouse {
    _proc: Proc,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Clickhouse {
    fn start() -> Clickhouse {
        let dir = tempfile::tempdir().expect("temp dir");
        let (port, http) = (free_port(), free_port());
        std::fs::write(
            dir.path().join("config.xml"),
            format!(
                "<clickhouse><listen_host>127.0.0.1</listen_host><http_port>{http}</http_port>\
                 <tcp_port>{port}</tcp_port><users_config>users.xml</users_config></clickhouse>\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("users.xml"),
            format!(
                "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users>\
                 <default><password></password><networks><ip>127.0.0.1</ip></networks>\
                 <profile>default</profile><quota>default</quota></default>\
                 <alice><password>{PASSWORD}</password><networks><ip>127.0.0.1</ip></networks>\
                 <profile>default</profile><quota>default</quota></alice></users></clickhouse>\n"
            ),
        )
        .unwrap();
        let mut command = Command::new(venv_python());
        command.arg("-c").arg(SERVER).current_dir(dir.path());
        // the first start unpacks and initializes: several seconds on a busy machine
        let proc = servers::listening("chdb", command, port, Duration::from_secs(90));
        Clickhouse {
            _proc: proc,
            _dir: dir,
            port,
        }
    }
}

/// Runs `script` with clickhouse-driver's `client` connected to `port` as alice.
fn driver(port: u16, script: &str) {
    let prelude = format!(
        "from clickhouse_driver import Client\n\
         client = Client(host='127.0.0.1', port={port}, user='alice', password='{PASSWORD}', \
         database='default')\n"
    );
    python::code("clickhouse-driver", &(prelude + script), &[]);
}

/// The client span named `name`, checked for the system.
fn span_named(p: &Pipeline, port: u16, name: &str) -> Span {
    let span = p.span_named("clickhouse", port, name);
    assert_attrs(&span, &[("db.system.name", "clickhouse")]);
    span
}

#[test]
fn clickhouse_driver_against_a_real_clickhouse() {
    assert_root();
    let server = Clickhouse::start();
    let pipeline = Pipeline::start("");
    let port = server.port;
    // short statements: clickhouse-driver's text starts 72 bytes into its Query packet plus the
    // host name's length (user root), so the kernel's 128-byte head holds about 50 bytes of it
    driver(
        port,
        "client.execute('CREATE DATABASE IF NOT EXISTS shop')\n\
         client.execute('CREATE TABLE IF NOT EXISTS shop.orders (id UInt64, note String) \
         ENGINE = MergeTree ORDER BY id')\n\
         client.execute('INSERT INTO shop.orders (id, note) VALUES', [(1, 'secret-note')])\n\
         assert client.execute(\"SELECT note FROM shop.orders WHERE id = 1\") == [('secret-note',)]\n\
         try:\n    client.execute(\"SELECT * FROM missing WHERE k = 'x'\")\n    raise SystemExit('no error')\n\
         except Exception as e:\n    assert 'UNKNOWN_TABLE' in str(e) or '60' in str(e), e\n",
    );

    let hello = span_named(&pipeline, port, "Hello");
    assert_attrs(
        &hello,
        &[("db.namespace", "default"), ("db.operation.name", "Hello")],
    );

    let create = span_named(&pipeline, port, "CREATE");
    assert_attrs(&create, &[("db.operation.name", "CREATE")]);

    let insert = span_named(&pipeline, port, "INSERT shop.orders");
    assert_attrs(&insert, &[("db.collection.name", "shop.orders")]);
    assert_eq!(attr(&insert, "error.type"), None, "{insert:?}");

    let select = span_named(&pipeline, port, "SELECT shop.orders");
    let text = attr(&select, "db.query.text").unwrap_or_default();
    assert!(
        "SELECT note FROM shop.orders WHERE id = ?".starts_with(&text) && text.len() > 20,
        "{select:?}"
    );
    assert_eq!(attr(&select, "error.type"), None, "{select:?}");

    // the server answered with an Exception
    let failed = span_named(&pipeline, port, "SELECT missing");
    assert_attrs(&failed, &[("error.type", "_OTHER")]);

    // neither the password nor a literal leaves the process in the default mode
    pipeline.assert_spans_hide("clickhouse", port, &[PASSWORD, "secret-note", "alice"]);
}
