//! Kafka through the ebpf receiver: a real broker (Apache Kafka 4.1 from Maven Central, a single
//! KRaft node started by scripts/kafka.sh) and a real client (kafka-python); the receiver's client
//! spans must carry the messaging semantics of what the client sent.
//!
//! Needs root, Java 17 and Maven (scripts/kafka.sh fetches the jars once per machine), and
//! kafka-python in the project's venv. The client is Python, not the broker's Java console tools:
//! the Java client reads a response's 4-byte length apart from the rest, and the kernel's Kafka
//! detection pairs a response only when one read holds its length and correlation id.

mod common;

use std::time::Duration;

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::python;
use common::servers::{self, Scripted};
use ferrotel_integration_tests::procs::{Proc, free_port, workspace_root};

/// A cold JVM on two busy cores formats storage and starts in 5-15 s.
const BROKER_START: Duration = Duration::from_secs(90);

/// Starts the broker without waiting for it; `ready` waits.
fn spawn() -> Scripted {
    Scripted::spawn("kafka.sh", |command, port, dir| {
        command
            .arg(port.to_string())
            .arg(dir)
            .env("KAFKA_CONTROLLER_PORT", free_port().to_string());
    })
}

fn ready(broker: &mut Scripted) {
    servers::wait_for_line(
        &mut broker.proc,
        BROKER_START,
        "Transition from STARTING to STARTED",
        Proc::output,
    );
}

/// kafka-python produces one record to `topic` and fetches it back (the recording script of the
/// unit-test fixtures, so both see the same client).
fn produce_and_fetch(port: u16, topic: &str) {
    let script = workspace_root().join("components/l7/testdata/kafka/clients.py");
    let port = port.to_string();
    let args = [
        script.as_os_str(),
        "kafka-python".as_ref(),
        port.as_ref(),
        topic.as_ref(),
    ];
    let (_, stdout) = python::run("kafka-python", args);
    assert!(stdout.contains("hello kafka"), "{stdout}");
}

#[test]
fn produce_and_fetch_against_a_real_broker() {
    assert_root();
    let mut broker = spawn();
    // the receiver attaches while the JVM starts
    let pipeline = Pipeline::start("");
    ready(&mut broker);
    let topic = format!("ferrotel-{}", std::process::id());
    produce_and_fetch(broker.port, &topic);

    let produce = pipeline.span_named("kafka", broker.port, &format!("Produce {topic}"));
    assert_attrs(
        &produce,
        &[
            ("messaging.system", "kafka"),
            ("messaging.destination.name", &topic),
            ("messaging.operation.type", "send"),
            ("messaging.operation.name", "Produce"),
            ("messaging.destination.partition.id", "0"),
            ("messaging.client.id", "kp-recorder"),
        ],
    );
    assert_eq!(attr(&produce, "error.type"), None, "{produce:?}");

    let fetch = pipeline.span_named("kafka", broker.port, &format!("Fetch {topic}"));
    assert_attrs(
        &fetch,
        &[
            ("messaging.destination.name", &topic),
            ("messaging.operation.type", "receive"),
        ],
    );

    // the consumer group's calls name the group
    let join = pipeline.span_named("kafka", broker.port, "JoinGroup");
    assert_attrs(&join, &[("messaging.consumer.group.name", "kp-group")]);
}
