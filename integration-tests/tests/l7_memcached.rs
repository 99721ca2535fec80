//! Memcached through the ebpf receiver: Debian's memcached and a real client (pymemcache, the
//! client of the unit-test fixtures); the receiver's client spans, in its default mode (no
//! payload export), must carry the database semantics of what the client sent, values dropped.
//!
//! Needs root, the memcached binary (Debian `memcached`) and pymemcache in the project's venv.

mod common;

use std::process::Command;
use std::time::Duration;

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::{python, servers};
use ferrotel_integration_tests::procs::{Proc, free_port};
use opentelemetry_proto::tonic::trace::v1::Span;

/// memcached on loopback, killed when dropped.
struct Memcached {
    _proc: Proc,
    port: u16,
}

impl Memcached {
    fn start() -> Memcached {
        let port = free_port();
        let mut command = Command::new("memcached");
        // -U 0: no UDP; -u: memcached refuses to run as root without a user
        command.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-u",
            "nobody",
        ]);
        let proc = servers::listening("memcached", command, port, Duration::from_secs(10));
        Memcached { _proc: proc, port }
    }
}

/// Runs `script` with pymemcache's `client` (replies awaited: no `noreply`) connected to `port`.
fn pymemcache(port: u16, script: &str) {
    let prelude = format!(
        "from pymemcache.client.base import Client\n\
         client = Client(('127.0.0.1', {port}), default_noreply=False)\n"
    );
    python::code("pymemcache", &(prelude + script), &[]);
}

/// The client span whose sanitised query text is `query`, checked for the common attributes.
fn span_with_query(p: &Pipeline, port: u16, op: &str, query: &str) -> Span {
    let (_, span) = p.client_span(&format!("the span of `{query}`"), "memcached", port, |s| {
        attr(s, "db.query.text").as_deref() == Some(query)
    });
    assert_eq!(span.name, op, "{span:?}");
    assert_attrs(
        &span,
        &[("db.system.name", "memcached"), ("db.operation.name", op)],
    );
    assert_eq!(attr(&span, "db.collection.name"), None);
    assert_eq!(attr(&span, "error.type"), None, "{span:?}");
    span
}

#[test]
fn pymemcache_against_a_real_memcached() {
    assert_root();
    let server = Memcached::start();
    let pipeline = Pipeline::start("");
    let port = server.port;
    let k = format!("ft{}", std::process::id());
    pymemcache(
        port,
        &format!(
            "client.set('{k}:user', 'secret-value', expire=300)\n\
             assert client.get('{k}:user') == b'secret-value'\n\
             found = client.get_many(['{k}:user', '{k}:other', '{k}:user2'])\n\
             assert list(found) == ['{k}:user']\n\
             client.set('{k}:n', '10')\n\
             assert client.incr('{k}:n', 5) == 15\n\
             client.set_many({{'{k}:a': 'one', '{k}:b': 'two'}})\n\
             client.delete('{k}:user')\n"
        ),
    );

    let set = span_with_query(&pipeline, port, "set", &format!("set {k}:user 0 300 12 ?"));
    span_with_query(&pipeline, port, "get", &format!("get {k}:user"));
    // a multi-get: one command, every key
    span_with_query(
        &pipeline,
        port,
        "get",
        &format!("get {k}:user {k}:other {k}:user2"),
    );
    span_with_query(&pipeline, port, "incr", &format!("incr {k}:n ?"));
    // set_many pipelines both commands in one write: the first stands for it
    let batch = span_with_query(&pipeline, port, "set", &format!("set {k}:a 0 0 3 ?"));
    let written = format!("set {k}:a 0 0 3\r\none\r\nset {k}:b 0 0 3\r\ntwo\r\n").len();
    assert_eq!(
        attr(&batch, "l7.request.size"),
        Some(written.to_string()),
        "one write, both commands"
    );
    span_with_query(&pipeline, port, "delete", &format!("delete {k}:user"));

    // values never leave the process in the default mode
    pipeline.assert_spans_hide("memcached", port, &["secret-value", "\"one\""]);
    assert!(set.end_time_unix_nano >= set.start_time_unix_nano);
}
