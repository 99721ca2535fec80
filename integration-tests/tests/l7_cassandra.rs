//! Cassandra through the ebpf receiver: a real node (Apache Cassandra 5.0 from Maven Central,
//! started by scripts/cassandra.sh) and a real client (the Python cassandra-driver, protocol v4);
//! the receiver's client spans in default mode must carry the database semantics of the CQL the
//! driver sent.
//!
//! Needs root, Java 17 and Maven (scripts/cassandra.sh fetches the jars once per machine), and
//! cassandra-driver in the project's venv.
//!
//! Protocol v5 is not covered: past STARTUP a v5 connection sends its frames inside segments,
//! whose header the kernel's detector does not recognise, so no span is made of them.

mod common;

use std::time::Duration;

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::python;
use common::servers::{self, Scripted};

/// Measured: CQL ready 25-35 s after a cold start on two cores; leave room for a busy machine.
const NODE_START: Duration = Duration::from_secs(120);

/// Starts the node without waiting for it; `ready` waits.
fn spawn() -> Scripted {
    Scripted::spawn("cassandra.sh", |command, port, dir| {
        command.arg(dir).arg(port.to_string());
    })
}

fn ready(node: &mut Scripted) {
    let log = node.dir.path().join("system.log");
    servers::wait_for_line(
        &mut node.proc,
        NODE_START,
        "Starting listening for CQL clients",
        |_| std::fs::read_to_string(&log).unwrap_or_default(),
    );
}

/// What the driver runs: a literal query, a prepared statement and its execution, a batch, and a
/// query the server rejects. Without compression, which would hide v4 bodies.
const CLIENT: &str = r#"
import sys
from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.query import BatchStatement, SimpleStatement

cluster = Cluster(["127.0.0.1"], port=int(sys.argv[1]), protocol_version=4, compression=False,
                  load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"]))
session = cluster.connect()
session.execute("CREATE KEYSPACE IF NOT EXISTS shop WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}")
session.execute("CREATE TABLE IF NOT EXISTS shop.users (id int PRIMARY KEY, name text)")
session.execute(SimpleStatement("SELECT name FROM shop.users WHERE id = 42 AND name = 'O''Brien' "
                                "ALLOW FILTERING", consistency_level=ConsistencyLevel.QUORUM))
insert = session.prepare("INSERT INTO shop.users (id, name) VALUES (?, ?)")
session.execute(insert, (1, "hunter2"))
batch = BatchStatement()
batch.add(SimpleStatement("INSERT INTO shop.users (id, name) VALUES (2, 'x')"))
batch.add(SimpleStatement("INSERT INTO shop.users (id, name) VALUES (3, 'y')"))
session.execute(batch)
try:
    session.execute("SELECT * FROM shop.missing WHERE id = 7")
except Exception as e:
    print("rejected:", type(e).__name__)
cluster.shutdown()
print("done")
"#;

fn run_client(port: u16) {
    let (_, stdout) = python::code("cassandra-driver", CLIENT, &[&port.to_string()]);
    assert!(
        stdout.contains("done") && stdout.contains("rejected"),
        "{stdout}"
    );
}

#[test]
fn cql_requests_against_a_real_node() {
    assert_root();
    let mut node = spawn();
    // the receiver attaches while the JVM starts
    let pipeline = Pipeline::start("");
    ready(&mut node);
    run_client(node.port);
    let port = node.port;

    let select = pipeline.span_named("cassandra", port, "SELECT shop.users");
    assert_attrs(
        &select,
        &[
            ("db.system.name", "cassandra"),
            (
                "db.query.text",
                "SELECT name FROM shop.users WHERE id = ? AND name = ? ALLOW FILTERING",
            ),
            ("db.operation.name", "SELECT"),
            ("db.collection.name", "shop.users"),
            ("db.namespace", "shop"),
            ("cassandra.consistency.level", "quorum"),
        ],
    );
    assert_eq!(attr(&select, "error.type"), None, "{select:?}");

    let (_, prepare) = pipeline.client_span("the PREPARE span", "cassandra", port, |s| {
        s.name == "INSERT shop.users"
            && attr(s, "db.query.text").as_deref()
                == Some("INSERT INTO shop.users (id, name) VALUES (?, ?)")
    });
    assert_attrs(&prepare, &[("db.operation.name", "INSERT")]);

    let execute = pipeline.span_named("cassandra", port, "EXECUTE");
    assert_attrs(&execute, &[("db.operation.name", "EXECUTE")]);
    assert_eq!(attr(&execute, "db.query.text"), None);

    let batch = pipeline.span_named("cassandra", port, "BATCH INSERT shop.users");
    assert_attrs(
        &batch,
        &[
            ("db.operation.name", "BATCH INSERT"),
            ("db.operation.batch.size", "2"),
        ],
    );

    let failed = pipeline.span_named("cassandra", port, "SELECT shop.missing");
    assert_attrs(&failed, &[("error.type", "_OTHER")]);

    // set-up messages, named by their opcode
    pipeline.span_named("cassandra", port, "STARTUP");
    pipeline.assert_spans_hide("cassandra", port, &["Brien", "hunter2"]);
}
