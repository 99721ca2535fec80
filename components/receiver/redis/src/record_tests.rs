//! testdata/info-7.0.txt (a real Redis 7.0 reply, see testdata/README.md) turned into points.

use ferrotel_core::scraperhelper::testing::{self, Points, points, value};

use super::*;
use crate::metadata::{DEFS, SCOPE};

fn reply() -> Info {
    Info::parse(include_str!("../testdata/info-7.0.txt"))
}

fn scrape(info: &Info, enable: &[&str]) -> (Points, Vec<String>) {
    let mut out = testing::builder(SCOPE, DEFS, enable);
    let mut partial = Vec::new();
    let server = ServerAddress {
        address: "127.0.0.1".into(),
        port: "16379".into(),
    };
    record(info, &server, &mut out, &mut partial);
    (points(out.finish()), partial)
}

#[test]
fn every_default_metric_of_a_real_reply_is_recorded() {
    let (p, partial) = scrape(&reply(), &[]);
    assert!(partial.is_empty(), "{partial:?}");
    for def in DEFS
        .iter()
        .filter(|d| d.enabled && d.name != crate::metadata::UP)
    {
        assert!(
            p.iter().any(|(n, _, _)| n == def.name),
            "{} is enabled by default but was not recorded",
            def.name
        );
    }
    assert!(
        p.iter().all(|(n, _, _)| !n.starts_with("redis.cmd.")),
        "optional metrics stay off"
    );
}

#[test]
fn values_match_the_reply() {
    let info = reply();
    let (p, _) = scrape(&info, &[]);
    let field = |f: &str| info.get(f).unwrap().parse::<f64>().unwrap();
    assert_eq!(
        value(&p, "redis.clients.connected", &[]),
        Some(field("connected_clients"))
    );
    assert_eq!(value(&p, "redis.keyspace.hits", &[]), Some(1.0));
    assert_eq!(value(&p, "redis.keyspace.misses", &[]), Some(1.0));
    assert_eq!(
        value(&p, "redis.cpu.time", &[("state", "user")]),
        Some(field("used_cpu_user"))
    );
    let db0 = info.keyspace().into_iter().next().unwrap().unwrap();
    assert_eq!(
        value(&p, "redis.db.keys", &[("db", "0")]),
        Some(db0.keys as f64)
    );
    assert_eq!(value(&p, "redis.db.keys", &[("db", "3")]), Some(1.0));
    assert_eq!(value(&p, "redis.db.expires", &[("db", "3")]), Some(1.0));
}

#[test]
fn command_stats_when_enabled() {
    let (p, _) = scrape(
        &reply(),
        &[
            "redis.cmd.calls",
            "redis.cmd.usec",
            "redis.cmd.latency",
            "redis.role",
        ],
    );
    assert_eq!(value(&p, "redis.cmd.calls", &[("cmd", "set")]), Some(22.0));
    assert_eq!(value(&p, "redis.cmd.calls", &[("cmd", "get")]), Some(2.0));
    assert!(value(&p, "redis.cmd.usec", &[("cmd", "set")]).is_some_and(|v| v > 0.0));
    let p50 = value(
        &p,
        "redis.cmd.latency",
        &[("cmd", "get"), ("percentile", "p50")],
    )
    .unwrap();
    assert!(p50 > 0.0 && p50 < 1.0, "seconds, not microseconds: {p50}");
    assert_eq!(value(&p, "redis.role", &[("role", "primary")]), Some(1.0));
}

#[test]
fn a_field_that_is_not_a_number_is_reported_and_the_rest_kept() {
    let text = include_str!("../testdata/info-7.0.txt")
        .replace("connected_clients:", "connected_clients:x");
    let (p, partial) = scrape(&Info::parse(&text), &[]);
    assert!(value(&p, "redis.clients.connected", &[]).is_none());
    assert!(value(&p, "redis.uptime", &[]).is_some());
    assert_eq!(partial.len(), 1, "{partial:?}");
    assert!(partial[0].contains("connected_clients"), "{partial:?}");
}
