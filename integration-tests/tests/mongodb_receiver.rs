//! The mongodb receiver against a server speaking MongoDB's wire protocol.
//!
//! No real mongod can be installed here, so the server is SecantusDB (PyPI), a MongoDB-compatible
//! server in Python, installed once into `target/mongo-venv` and started by each test on a free
//! port with storage of its own. ferrotel A runs the receiver and exports over OTLP/gRPC to
//! ferrotel B, which relays to a recorder owned by the test: every assertion is on what arrived
//! behind the second collector. Known load comes from pymongo (in the same venv) and from TCP
//! connections the test holds open.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::scrape::{Pipeline, WAIT, up_values, upstream_receivers, validate_config};
use ferrotel_integration_tests::otlp_query::{get, max_value, points};
use ferrotel_integration_tests::procs::{self, Proc, wait_for};
use ferrotel_integration_tests::recorder::Recorded;
use opentelemetry_proto::tonic::metrics::v1::metric;

/// The SecantusDB release the tests were written against (its replies are in the crate's testdata).
const SECANTUS: &str = "SecantusDB==0.7.0b3";

/// The venv with SecantusDB and pymongo, made on first use and kept in the target folder.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = procs::target_dir().join("mongo-venv");
        let marker = dir.join(format!("installed-{SECANTUS}"));
        if marker.is_file() {
            return dir;
        }
        let _ = std::fs::remove_dir_all(&dir);
        let venv = || {
            Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&dir)
                .status()
        };
        if !venv().is_ok_and(|s| s.success()) {
            // Debian's python3 lacks ensurepip until python3-venv is installed
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-q", "python3-venv"])
                .status();
            let _ = std::fs::remove_dir_all(&dir);
            assert!(venv().is_ok_and(|s| s.success()), "python3 -m venv failed");
        }
        let pip = Command::new(dir.join("bin/pip"))
            .args([
                "install",
                "-q",
                "--disable-pip-version-check",
                SECANTUS,
                "pymongo",
            ])
            .output()
            .expect("run pip");
        assert!(
            pip.status.success(),
            "pip install {SECANTUS} failed:\n{}",
            String::from_utf8_lossy(&pip.stderr)
        );
        std::fs::write(&marker, "").expect("marker");
        dir
    })
}

/// A SecantusDB server on loopback, stopped (SIGKILL) when dropped.
struct Secantus {
    proc: Proc,
}

impl Secantus {
    fn start(port: u16, storage: &Path) -> Secantus {
        let mut command = Command::new(venv().join("bin/secantusd-py"));
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(storage)
            .args(["--standalone", "--log-level", "WARNING"]);
        let mut proc = Proc::spawn("secantusd", command);
        proc.wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), WAIT);
        Secantus { proc }
    }
}

/// Runs `script` with pymongo against the server on `port`; panics with its output on failure.
fn pymongo(port: u16, script: &str) {
    let prelude = format!(
        "import pymongo\nclient = pymongo.MongoClient('mongodb://127.0.0.1:{port}/?directConnection=true', serverSelectionTimeoutMS=10000)\n"
    );
    let output = Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(prelude + script)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "pymongo script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A receiver section for the server on `port`.
fn receiver(id: &str, port: u16, extra: &str) -> String {
    format!(
        "  {id}:\n    hosts:\n      - endpoint: 127.0.0.1:{port}\n    direct_connection: true\n\
         \x20   collection_interval: 1s\n    initial_delay: 0s\n    timeout: 2s\n\
         \x20   tls:\n      insecure: true\n{extra}"
    )
}

fn up(recorded: &Recorded) -> Vec<f64> {
    up_values(recorded, "mongodb.up")
}

#[test]
fn metrics_follow_known_load() {
    let storage = tempfile::tempdir().unwrap();
    let port = procs::free_port();
    let _server = Secantus::start(port, storage.path());
    // a database before the first scrape, so that every scrape meets the same gaps
    pymongo(port, "client.warmup.things.insert_one({'w': 1})");
    let extra = "    metrics:\n      mongodb.uptime:\n        enabled: true\n\
                 \x20   resource_attributes:\n      server.port:\n        enabled: true\n";
    let p = Pipeline::start(&receiver("mongodb", port, extra), "mongodb");
    let insert = [("operation", "insert")];
    let before = p.wait("a first scrape", |r| {
        max_value(r, "mongodb.operation.count", &[], &insert)
    });
    // known load: N single inserts into a new database, K connections held open
    const N: f64 = 40.0;
    const K: usize = 6;
    let held: Vec<TcpStream> = (0..K)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    pymongo(
        port,
        "for i in range(40): client.loadtest.items.insert_one({'i': i, 'pad': 'x' * 100})",
    );
    let db = [("db.namespace", "loadtest")];
    let recorded = p.wait("the load in the metrics", |r| {
        let objects = max_value(r, "mongodb.object.count", &[], &db)?;
        let inserts = max_value(r, "mongodb.operation.count", &[], &insert)?;
        let current = [("type", "current"), ("db.namespace", "loadtest")];
        let connections = max_value(r, "mongodb.connection.count", &[], &current)?;
        (objects >= N && inserts >= before + N && connections >= K as f64).then(|| r.clone())
    });
    drop(held);
    let v = |name: &str, attrs: &[(&str, &str)]| {
        max_value(&recorded, name, &[], attrs).unwrap_or_else(|| panic!("no {name} {attrs:?}"))
    };
    assert!(
        v("mongodb.database.count", &[]) >= 2.0,
        "warmup and loadtest"
    );
    assert_eq!(v("mongodb.collection.count", &db), 1.0);
    assert!(v("mongodb.index.count", &db) >= 1.0);
    assert!(
        v("mongodb.data.size", &db) >= N * 100.0,
        "40 documents of 100+ bytes"
    );
    assert!(v("mongodb.storage.size", &db) > 0.0);
    assert!(v("mongodb.index.size", &db) > 0.0);
    let items = [("collection", "items"), ("db.namespace", "loadtest")];
    assert!(v("mongodb.index.access.count", &items) >= 0.0);
    assert!(
        v("mongodb.operation.time", &insert) > 0.0,
        "top timed the inserts"
    );
    assert!(v("mongodb.memory.usage", &[("type", "resident")]) > 1_000_000.0);
    assert!(v("mongodb.network.request.count", &[]) >= N);
    assert!(v("mongodb.cursor.count", &[]) >= 0.0);
    assert!(
        v("mongodb.uptime", &[]) > 0.0,
        "an optional metric that was enabled"
    );
    assert_eq!(v("mongodb.up", &[]), 1.0);
    assert!(
        max_value(&recorded, "mongodb.global_lock.time", &[], &[]).is_none(),
        "SecantusDB has no globalLock"
    );
    // the resource names the server as its serverStatus does
    let (resource, _, _) = points(&recorded, "mongodb.object.count").pop().unwrap();
    assert_eq!(
        get(&resource, "server.address").as_deref(),
        Some("secantus")
    );
    assert_eq!(get(&resource, "server.port").as_deref(), Some("27017"));
    let instance = get(&resource, "service.instance.id").expect("service.instance.id");
    assert_eq!(instance.len(), 36);
    assert_eq!(instance.as_bytes()[14], b'5', "a UUID v5: {instance}");
    // types as otelcol's metadata.yaml has them
    let kinds: Vec<(String, bool)> = recorded
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .inspect(|sm| {
            assert_eq!(
                sm.scope.as_ref().unwrap().name,
                "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/mongodbreceiver"
            )
        })
        .flat_map(|sm| &sm.metrics)
        .filter_map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => Some((m.name.clone(), s.is_monotonic)),
            _ => None,
        })
        .collect();
    for (name, monotonic) in [
        ("mongodb.operation.count", true),
        ("mongodb.storage.size", true),
        ("mongodb.object.count", false),
    ] {
        assert!(
            kinds.contains(&(name.to_string(), monotonic)),
            "{name} monotonic={monotonic}"
        );
    }
    // what SecantusDB lacks makes the scrape partial, said once; nothing failed
    p.assert_log(&["the scrape is partial"], 1);
    assert_eq!(p.log_lines(&["mongodb.session.count"]), 1);
    assert_eq!(p.log_lines(&["the scrape failed"]), 0);
}

#[test]
fn an_outage_is_logged_once_and_the_metrics_come_back() {
    let storage = tempfile::tempdir().unwrap();
    let port = procs::free_port();
    let mut server = Secantus::start(port, storage.path());
    pymongo(
        port,
        "client.kept.docs.insert_many([{'k': i} for i in range(5)])",
    );
    // without the metrics SecantusDB cannot give, each scrape is whole and the recovery is told
    let gaps: String = [
        "cache.operations",
        "connection.count",
        "cursor.timeout.count",
        "document.operation.count",
        "global_lock.time",
        "session.count",
    ]
    .iter()
    .map(|m| format!("      mongodb.{m}:\n        enabled: false\n"))
    .collect();
    let extra = format!("    metrics:\n{gaps}");
    let p = Pipeline::start(&receiver("mongodb/outage", port, &extra), "mongodb/outage");
    let kept = [("db.namespace", "kept")];
    p.wait("metrics before the outage", |r| {
        max_value(r, "mongodb.object.count", &[], &kept)
    });
    let seen = p.recorder.recorder.snapshot();
    let before = up(&seen).len();
    server.proc.assert_running();
    drop(server); // SIGKILL
    // several scrapes fail: mongodb.up 0 each time, the failure logged once
    p.wait("three failed scrapes", |r| {
        let zeros = up(r)[before..].iter().filter(|v| **v == 0.0).count();
        (zeros >= 3).then_some(())
    });
    let failed = p.log_lines(&["the scrape failed", "mongodb/outage"]);
    assert_eq!(failed, 1, "{}", p.a.proc.output());
    let mut p = p;
    p.a.proc.assert_running();
    let restarted_at = p.recorder.recorder.snapshot().metrics.len();
    let _server = Secantus::start(port, storage.path());
    let recorded = p.wait("metrics after the restart", |r| {
        let later = Recorded {
            metrics: r.metrics[restarted_at..].to_vec(),
            ..Default::default()
        };
        let objects = max_value(&later, "mongodb.object.count", &[], &kept)?;
        (objects == 5.0).then_some(later)
    });
    assert!(up(&recorded).contains(&1.0), "mongodb.up is 1 again");
    wait_for(WAIT, || {
        (p.log_lines(&["the scrape works again", "mongodb/outage"]) == 1).then_some(())
    })
    .unwrap_or_else(|| panic!("no recovery logged:\n{}", p.a.proc.output()));
    assert_eq!(p.log_lines(&["the scrape failed", "mongodb/outage"]), 1);
    p.assert_log(&["the scrape is partial"], 0);
    let all = p.recorder.recorder.snapshot();
    assert!(
        points(&all, "mongodb.session.count").is_empty(),
        "a disabled metric was sent"
    );
    assert!(!points(&all, "mongodb.network.request.count").is_empty());
}

#[test]
fn a_refused_login_is_an_outage_and_the_password_stays_out_of_the_log() {
    let storage = tempfile::tempdir().unwrap();
    let port = procs::free_port();
    let _server = Secantus::start(port, storage.path());
    let creds = "    username: watcher\n    password: s3cr3t-pw\n";
    let p = Pipeline::start(&receiver("mongodb/creds", port, creds), "mongodb/creds");
    p.wait("mongodb.up 0 three times", |r| {
        let zeros = up(r).iter().filter(|v| **v == 0.0).count();
        (zeros >= 3).then_some(())
    });
    let recorded = p.recorder.recorder.snapshot();
    assert!(up(&recorded).iter().all(|v| *v == 0.0));
    assert!(points(&recorded, "mongodb.object.count").is_empty());
    assert_eq!(p.log_lines(&["the scrape failed", "mongodb/creds"]), 1);
    let output = p.a.proc.output();
    assert!(output.to_lowercase().contains("authentication"), "{output}");
    assert!(
        !output.contains("s3cr3t-pw"),
        "the password reached the log:\n{output}"
    );
}

#[test]
fn the_upstream_testdata_config_validates_and_bad_ones_are_refused() {
    let section = upstream_receivers("mongodb");
    let validate = |receivers: &str| {
        validate_config(
            receivers,
            "mongodb",
            &[("MONGO_PASSWORD", Some("from-env"))],
        )
    };
    let good = validate(&section);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = validate("  mongodb:\n    username: otel\n");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("username provided without password"),
        "{stderr}"
    );
    let typo = validate("  mongodb:\n    host: [localhost]\n");
    assert!(!typo.status.success() && String::from_utf8_lossy(&typo.stderr).contains("hosts"));
}
