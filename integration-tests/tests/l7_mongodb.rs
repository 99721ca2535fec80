//! MongoDB through the ebpf receiver: a server speaking the real wire protocol (SecantusDB, the
//! only one installable here) and a real client (pymongo); the receiver's client spans, in its
//! default mode (no payload export, 128-byte heads), must carry the database semantics of what
//! the client sent.
//!
//! Needs root, and SecantusDB and pymongo in the project's venv.

mod common;

use std::process::Command;

use common::ebpf::{Pipeline, WAIT, assert_attrs, assert_root, attr};
use common::{python, servers};
use ferrotel_integration_tests::procs::{Proc, free_port, venv_python};
use opentelemetry_proto::tonic::trace::v1::Span;

/// SecantusDB on loopback with storage of its own, killed when dropped.
struct Secantus {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Secantus {
    fn start() -> Secantus {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let server = venv_python().with_file_name("secantusd-py");
        assert!(
            server.is_file(),
            "{} not found: SecantusDB belongs in the project's venv",
            server.display()
        );
        let mut command = Command::new(server);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(dir.path())
            .args(["--standalone", "--log-level", "WARNING"]);
        let proc = servers::listening("secantusd", command, port, WAIT);
        Secantus {
            _proc: proc,
            port,
            _dir: dir,
        }
    }
}

/// Runs `script` with a pymongo `client` connected to `port`.
fn pymongo(port: u16, script: &str) {
    let prelude = format!(
        "import pymongo\n\
         client = pymongo.MongoClient('mongodb://127.0.0.1:{port}/?directConnection=true', \
         serverSelectionTimeoutMS=10000)\n"
    );
    python::code("pymongo", &(prelude + script), &[]);
}

/// The first client span named `name`, checked for the common attributes.
fn span_named(p: &Pipeline, port: u16, name: &str, op: &str, collection: Option<&str>) -> Span {
    let span = p.span_named("mongodb", port, name);
    assert_attrs(
        &span,
        &[("db.system.name", "mongodb"), ("db.operation.name", op)],
    );
    assert_eq!(attr(&span, "db.collection.name").as_deref(), collection);
    span
}

#[test]
fn pymongo_against_a_wire_compatible_server() {
    assert_root();
    let server = Secantus::start();
    let pipeline = Pipeline::start("");
    let port = server.port;
    // the names of the unit-test fixtures, so the heads cut where theirs do
    pymongo(
        port,
        "db = client['shop']\n\
         db.orders.insert_one({'customer': 'alice@example.com', 'total': 42.5})\n\
         assert len(list(db.orders.find({'customer': 'alice@example.com', 'total': {'$gt': 10}}))) == 1\n\
         db.orders.update_one({'customer': 'alice@example.com'}, {'$set': {'total': 7}})\n\
         list(db.orders.aggregate([{'$match': {'customer': 'bob'}}, {'$group': {'_id': '$customer', 'n': {'$sum': 1}}}]))\n\
         db.orders.delete_many({'total': {'$lt': 1}})\n\
         db.command('ping')\n",
    );

    let shop = Some("shop".to_string());
    let orders = Some("orders");
    // an insert's command document fits the head, `$db` included
    let insert = span_named(&pipeline, port, "insert orders", "insert", orders);
    assert_eq!(attr(&insert, "db.namespace"), shop);
    assert_eq!(attr(&insert, "db.query.text"), None);
    // a find's filter fits; its `$db` lies past the head, after the session id
    let find = span_named(&pipeline, port, "find orders", "find", orders);
    assert_eq!(
        attr(&find, "db.query.text").as_deref(),
        Some(r#"{"customer": "?", "total": {"$gt": "?"}}"#)
    );
    let update = span_named(&pipeline, port, "update orders", "update", orders);
    assert_eq!(attr(&update, "db.namespace"), shop);
    let aggregate = span_named(&pipeline, port, "aggregate orders", "aggregate", orders);
    let pipeline_text = attr(&aggregate, "db.query.text").unwrap_or_default();
    assert!(
        pipeline_text.starts_with(r#"[{"$match": {"customer": "?"}}"#),
        "{pipeline_text}"
    );
    let delete = span_named(&pipeline, port, "delete orders", "delete", orders);
    assert_eq!(attr(&delete, "db.namespace"), shop);
    let ping = span_named(&pipeline, port, "ping", "ping", None);
    assert_eq!(attr(&ping, "db.namespace"), shop);

    // no value reaches an attribute in the default mode
    pipeline.assert_spans_hide("mongodb", port, &["alice", "bob"]);
}
