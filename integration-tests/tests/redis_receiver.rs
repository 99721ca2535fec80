//! The redis receiver against real Redis servers: the shared one `scripts/servers.sh start redis`
//! runs on loopback (`make test` does it) for known load, and private `redis-server` processes on
//! free ports for outages, passwords and ACLs. ferrotel A scrapes and exports over OTLP to
//! ferrotel B; every assertion is on what arrived behind the second collector.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use common::scrape::{Pipeline, WAIT, sum_kinds, up_values, upstream_receivers, validate_config};
use ferrotel_integration_tests::otlp_query::{get, max_value, points};
use ferrotel_integration_tests::procs::{self, Proc};
use ferrotel_integration_tests::recorder::Recorded;

fn shared_redis() -> (String, u16) {
    let host = std::env::var("FERROTEL_REDIS_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("FERROTEL_REDIS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(16379);
    (host, port)
}

/// Sends each line of `commands` through `redis-cli` (one command per line); panics on failure.
fn redis_cli(port: u16, args: &[&str], commands: &str) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli (scripts/servers.sh installs redis-tools)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && !stdout.contains("ERR"),
        "redis-cli on :{port} failed (is Redis up? make servers-start): {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A private `redis-server` on loopback, killed when dropped.
struct PrivateRedis {
    proc: Proc,
}

impl PrivateRedis {
    fn start(port: u16, extra: &[&str]) -> PrivateRedis {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", "/tmp"])
            .args(extra);
        let mut proc = Proc::spawn("redis-server", command);
        proc.wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), WAIT);
        PrivateRedis { proc }
    }
}

fn receiver(id: &str, port: u16, extra: &str) -> String {
    format!(
        "  {id}:\n    endpoint: 127.0.0.1:{port}\n    collection_interval: 1s\n    initial_delay: 0s\n{extra}"
    )
}

fn up(recorded: &Recorded) -> Vec<f64> {
    up_values(recorded, "redis.up")
}

#[test]
fn metrics_follow_known_load() {
    let (host, port) = shared_redis();
    assert_eq!(
        host, "127.0.0.1",
        "the test drives the shared server with redis-cli on loopback"
    );
    // a database of this test's own, empty at the start
    redis_cli(port, &["-n", "9"], "FLUSHDB\n");
    let extra = "    metrics:\n      redis.cmd.calls:\n        enabled: true\n      redis.cmd.usec:\n        enabled: true\n\
                 \x20     redis.role:\n        enabled: true\n\
                 \x20   resource_attributes:\n      server.port:\n        enabled: true\n";
    let p = Pipeline::start(&receiver("redis", port, extra), "redis");
    let set = [("cmd", "set")];
    let before = p.wait("a first scrape", |r| {
        let processed = max_value(r, "redis.commands.processed", &[], &[])?;
        Some((
            processed,
            max_value(r, "redis.cmd.calls", &[], &set).unwrap_or(0.0),
        ))
    });
    const N: usize = 50;
    const K: usize = 8;
    let held: Vec<TcpStream> = (0..K)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let sets: String = (0..N)
        .map(|i| format!("SET load:{i} value-{i}\n"))
        .collect();
    redis_cli(port, &["-n", "9"], &(sets + "EXPIRE load:0 600\n"));
    let db9 = [("db", "9")];
    let recorded = p.wait("the load in the metrics", |r| {
        let keys = max_value(r, "redis.db.keys", &[], &db9)?;
        let processed = max_value(r, "redis.commands.processed", &[], &[])?;
        let calls = max_value(r, "redis.cmd.calls", &[], &set)?;
        let clients = max_value(r, "redis.clients.connected", &[], &[])?;
        (keys >= N as f64
            && processed >= before.0 + N as f64
            && calls >= before.1 + N as f64
            && clients >= K as f64)
            .then(|| r.clone())
    });
    drop(held);
    let v = |name: &str, attrs: &[(&str, &str)]| {
        max_value(&recorded, name, &[], attrs).unwrap_or_else(|| panic!("no {name} {attrs:?}"))
    };
    assert_eq!(v("redis.db.keys", &db9), N as f64);
    assert_eq!(v("redis.db.expires", &db9), 1.0);
    assert!(v("redis.db.avg_ttl", &db9) > 0.0);
    assert!(v("redis.memory.used", &[]) > 100_000.0);
    assert!(v("redis.memory.rss", &[]) > 0.0);
    assert!(v("redis.net.input", &[]) > (N * 10) as f64);
    assert!(v("redis.uptime", &[]) >= 0.0);
    // present for both states; a server started a moment ago may not have used a tick of CPU yet
    assert!(v("redis.cpu.time", &[("state", "user")]) >= 0.0);
    assert!(v("redis.cpu.time", &[("state", "sys")]) >= 0.0);
    assert!(v("redis.cmd.usec", &set) > 0.0);
    assert_eq!(v("redis.role", &[("role", "primary")]), 1.0);
    assert_eq!(v("redis.up", &[]), 1.0);
    for name in [
        "redis.clients.blocked",
        "redis.clients.max_input_buffer",
        "redis.clients.max_output_buffer",
        "redis.commands",
        "redis.connections.received",
        "redis.connections.rejected",
        "redis.keys.evicted",
        "redis.keys.expired",
        "redis.keyspace.hits",
        "redis.keyspace.misses",
        "redis.latest_fork",
        "redis.memory.fragmentation_ratio",
        "redis.memory.lua",
        "redis.memory.peak",
        "redis.net.output",
        "redis.rdb.changes_since_last_save",
        "redis.replication.backlog_first_byte_offset",
        "redis.replication.offset",
        "redis.slaves.connected",
    ] {
        assert!(
            !points(&recorded, name).is_empty(),
            "{name} is enabled by default"
        );
    }
    assert!(
        points(&recorded, "redis.maxmemory").is_empty(),
        "optional, not enabled"
    );
    let (resource, _, _) = points(&recorded, "redis.uptime").pop().unwrap();
    assert!(get(&resource, "redis.version").is_some_and(|v| v.contains('.')));
    assert_eq!(get(&resource, "server.port"), Some(port.to_string()));
    assert_eq!(get(&resource, "server.address"), None, "off by default");
    // types as otelcol's metadata.yaml has them
    let sums = sum_kinds(
        &recorded,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver",
    );
    for (name, monotonic) in [
        ("redis.commands.processed", true),
        ("redis.clients.connected", false),
        ("redis.cpu.time", true),
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
fn an_outage_is_logged_once_and_the_metrics_come_back() {
    let port = procs::free_port();
    let mut server = PrivateRedis::start(port, &[]);
    redis_cli(port, &[], "SET kept 1\n");
    let p = Pipeline::start(&receiver("redis/outage", port, ""), "redis/outage");
    let db0 = [("db", "0")];
    p.wait("metrics before the outage", |r| {
        max_value(r, "redis.db.keys", &[], &db0)
    });
    let before = up(&p.snapshot()).len();
    server.proc.assert_running();
    drop(server);
    p.wait("three failed scrapes", |r| {
        let zeros = up(r)[before..].iter().filter(|v| **v == 0.0).count();
        (zeros >= 3).then_some(())
    });
    p.assert_log(&["the scrape failed", "redis/outage"], 1);
    assert!(
        p.a.proc.output().contains(&format!("127.0.0.1:{port}")),
        "the log names the server"
    );
    let mut p = p;
    p.a.proc.assert_running();
    let restarted_at = p.snapshot().metrics.len();
    let _server = PrivateRedis::start(port, &[]);
    redis_cli(port, &[], "SET again 1\nSET and-again 1\n");
    p.wait("metrics after the restart", |r| {
        let later = Recorded {
            metrics: r.metrics[restarted_at..].to_vec(),
            ..Default::default()
        };
        (max_value(&later, "redis.db.keys", &[], &db0)? == 2.0).then_some(())
    });
    assert!(
        up(&p.since(restarted_at)).contains(&1.0),
        "redis.up is 1 again"
    );
    p.wait_log(&["the scrape works again", "redis/outage"], 1);
    assert_eq!(p.log_lines(&["the scrape failed", "redis/outage"]), 1);
}

#[test]
fn a_refused_password_is_an_outage_and_stays_out_of_the_log() {
    let port = procs::free_port();
    let _server = PrivateRedis::start(port, &["--requirepass", "right-pw-9f2"]);
    let creds = "    password: wr0ng-pw-77c\n";
    let p = Pipeline::start(&receiver("redis/creds", port, creds), "redis/creds");
    p.wait("redis.up 0 three times", |r| {
        (up(r).iter().filter(|v| **v == 0.0).count() >= 3).then_some(())
    });
    let recorded = p.snapshot();
    assert!(up(&recorded).iter().all(|v| *v == 0.0));
    assert!(points(&recorded, "redis.uptime").is_empty());
    assert_eq!(p.log_lines(&["the scrape failed", "redis/creds"]), 1);
    let output = p.a.proc.output();
    assert!(
        output.to_lowercase().contains("authentication failed"),
        "{output}"
    );
    assert!(
        !output.contains("wr0ng-pw-77c"),
        "the password reached the log:\n{output}"
    );
}

#[test]
fn a_user_without_the_info_permission_gets_a_partial_scrape_said_once() {
    let port = procs::free_port();
    let _server = PrivateRedis::start(port, &[]);
    redis_cli(
        port,
        &[],
        "ACL SETUSER watcher on >watch-pw-31 -@all +ping\n",
    );
    let creds = "    username: watcher\n    password: watch-pw-31\n";
    let p = Pipeline::start(&receiver("redis/acl", port, creds), "redis/acl");
    p.wait("three scrapes", |r| (up(r).len() >= 3).then_some(()));
    let recorded = p.snapshot();
    assert!(up(&recorded).iter().all(|v| *v == 1.0), "reachable, so up");
    assert!(points(&recorded, "redis.uptime").is_empty());
    p.assert_log(&["the scrape is partial", "redis/acl"], 1);
    assert!(
        p.a.proc.output().contains("NOPERM"),
        "{}",
        p.a.proc.output()
    );
    assert!(!p.a.proc.output().contains("watch-pw-31"));
}

#[test]
fn the_upstream_testdata_config_validates_and_bad_ones_are_refused() {
    let section = upstream_receivers("redis");
    let validate = |receivers: &str| validate_config(receivers, "redis", &[]);
    let good = validate(&section);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = validate("  redis:\n    endpoint: localhost\n");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("missing port in address") && stderr.contains("c.yaml"),
        "{stderr}"
    );
    let typo = validate("  redis:\n    endpoint: a:1\n    collection_intervall: 5s\n");
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        !typo.status.success() && stderr.contains("collection_interval"),
        "{stderr}"
    );
}
