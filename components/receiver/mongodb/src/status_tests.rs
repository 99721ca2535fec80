//! `serverStatus` replies of testdata/ (a real SecantusDB capture and a hand-written mongod 7.0
//! reply, see testdata/README.md) turned into data points.

use std::time::{Duration, Instant};

use mongodb::bson::Bson;

use super::*;
use crate::metadata::DEFS;
use crate::record::tests::{admin, builder, doc, points, value};
use crate::record::{Problems, Rates, Reader, Version};

#[test]
fn a_full_mongod_server_status_gives_every_default_server_metric() {
    let status = doc("mongod-serverStatus.json");
    let mut out = builder(&[]);
    let problems = admin(&mut out, &status, &mut Rates::default(), Instant::now());
    let mut per_db = Problems::new();
    server_stats_of(
        &mut Reader::new(&mut out, &mut per_db, &status, "serverStatus"),
        "shop",
        Version(7, 0),
    );
    assert!(
        problems.is_empty() && per_db.is_empty(),
        "{problems:?} {per_db:?}"
    );
    let p = points(out.finish());
    let v = |name: &str, attrs: &[(&str, &str)]| {
        value(&p, name, attrs).unwrap_or_else(|| panic!("no {name} {attrs:?}"))
    };
    assert_eq!(v("mongodb.cache.operations", &[("type", "miss")]), 1201.0);
    assert_eq!(
        v("mongodb.cache.operations", &[("type", "hit")]),
        982311.0 - 1201.0
    );
    assert_eq!(v("mongodb.cursor.count", &[]), 4.0);
    assert_eq!(v("mongodb.cursor.timeout.count", &[]), 3.0);
    assert_eq!(
        v("mongodb.global_lock.time", &[]),
        86412345.0,
        "microseconds become ms"
    );
    assert_eq!(v("mongodb.network.io.receive", &[]), 91234567.0);
    assert_eq!(v("mongodb.network.io.transmit", &[]), 612345678.0);
    assert_eq!(v("mongodb.network.request.count", &[]), 160321.0);
    assert_eq!(
        v("mongodb.operation.count", &[("operation", "insert")]),
        45012.0
    );
    assert_eq!(
        v("mongodb.operation.count", &[("operation", "command")]),
        94790.0
    );
    assert_eq!(v("mongodb.session.count", &[]), 17.0);
    let db = ("db.namespace", "shop");
    assert_eq!(
        v("mongodb.connection.count", &[("type", "active"), db]),
        6.0
    );
    assert_eq!(
        v("mongodb.connection.count", &[("type", "current"), db]),
        14.0
    );
    assert_eq!(
        v("mongodb.connection.count", &[("type", "available"), db]),
        838846.0
    );
    assert_eq!(
        v(
            "mongodb.document.operation.count",
            &[("operation", "insert"), db]
        ),
        45012.0
    );
    assert_eq!(
        v(
            "mongodb.document.operation.count",
            &[("operation", "delete"), db]
        ),
        120.0
    );
    assert_eq!(
        v("mongodb.memory.usage", &[("type", "resident"), db]),
        402.0 * 1048576.0
    );
    assert_eq!(
        v("mongodb.memory.usage", &[("type", "virtual"), db]),
        2680.0 * 1048576.0
    );
    // optional metrics stay off by default
    assert!(value(&p, "mongodb.uptime", &[]).is_none());
    assert!(value(&p, "mongodb.lock.acquire.count", &[]).is_none());
    assert!(value(&p, "mongodb.operation.repl.count", &[]).is_none());
}

#[test]
fn optional_metrics_when_enabled_including_locks_and_rates() {
    let status = doc("mongod-serverStatus.json");
    let optional: Vec<&str> = DEFS.iter().filter(|d| !d.enabled).map(|d| d.name).collect();
    let mut out = builder(&optional);
    let mut rates = Rates::default();
    let t0 = Instant::now();
    assert!(admin(&mut out, &status, &mut rates, t0).is_empty());
    // a second scrape 2 s later with 100 more inserts gives the rate
    let mut later = status.clone();
    later
        .get_document_mut("opcounters")
        .unwrap()
        .insert("insert", 45112i64);
    let mut out2 = builder(&optional);
    assert!(admin(&mut out2, &later, &mut rates, t0 + Duration::from_secs(2)).is_empty());
    let mut per_db = Problems::new();
    server_stats_of(
        &mut Reader::new(&mut out2, &mut per_db, &later, "serverStatus"),
        "shop",
        Version(7, 0),
    );
    assert!(per_db.is_empty(), "{per_db:?}");
    let first = points(out.finish());
    assert!(
        value(&first, "mongodb.inserts.rate", &[]).is_none(),
        "no rate on the first scrape"
    );
    let p = points(out2.finish());
    let v = |name: &str, attrs: &[(&str, &str)]| {
        value(&p, name, attrs).unwrap_or_else(|| panic!("no {name} {attrs:?}"))
    };
    assert_eq!(v("mongodb.inserts.rate", &[]), 50.0);
    assert_eq!(v("mongodb.queries.rate", &[]), 0.0);
    assert_eq!(v("mongodb.flushes.rate", &[]), 0.0);
    assert_eq!(v("mongodb.uptime", &[]), 86412345.0);
    assert_eq!(v("mongodb.health", &[]), 1.0);
    assert_eq!(v("mongodb.active.reads", &[]), 2.0);
    assert_eq!(v("mongodb.active.writes", &[]), 1.0);
    assert_eq!(v("mongodb.page_faults", &[]), 117.0);
    assert_eq!(v("mongodb.wtcache.bytes.read", &[]), 21234567.0);
    assert_eq!(
        v("mongodb.operation.latency.time", &[("operation", "read")]),
        9123456.0
    );
    assert_eq!(
        v("mongodb.operation.repl.count", &[("operation", "insert")]),
        10.0
    );
    let lock = |t: &'static str, m: &'static str| {
        [("lock_type", t), ("lock_mode", m), ("db.namespace", "shop")]
    };
    assert_eq!(
        v("mongodb.lock.acquire.count", &lock("global", "exclusive")),
        5.0
    );
    assert_eq!(
        v(
            "mongodb.lock.acquire.count",
            &lock("parallel_batch_write_mode", "intent_shared")
        ),
        2301.0
    );
    assert_eq!(
        v(
            "mongodb.lock.acquire.wait_count",
            &lock("global", "exclusive")
        ),
        1.0
    );
    assert_eq!(
        v("mongodb.lock.acquire.time", &lock("global", "exclusive")),
        812.0
    );
    assert!(
        value(&p, "mongodb.lock.deadlock.count", &[]).is_none(),
        "no deadlock counts in the reply"
    );
    let locks = p
        .iter()
        .filter(|(n, _, _)| n == "mongodb.lock.acquire.count")
        .count();
    assert_eq!(
        locks, 13,
        "one point per lock type and mode the server listed"
    );
}

#[test]
fn secantus_server_status_gives_what_it_has_and_names_what_it_lacks() {
    let status = doc("secantus-serverStatus.json");
    let mut out = builder(&[]);
    let problems = admin(&mut out, &status, &mut Rates::default(), Instant::now());
    let mut per_db = Problems::new();
    server_stats_of(
        &mut Reader::new(&mut out, &mut per_db, &status, "serverStatus"),
        "shop",
        Version(8, 2),
    );
    let p = points(out.finish());
    assert!(value(&p, "mongodb.operation.count", &[("operation", "insert")]).is_some());
    assert!(value(&p, "mongodb.network.request.count", &[]).unwrap() > 0.0);
    assert!(value(&p, "mongodb.connection.count", &[("type", "current")]).unwrap() >= 1.0);
    assert_eq!(value(&p, "mongodb.cursor.count", &[]), Some(0.0));
    assert!(value(&p, "mongodb.global_lock.time", &[]).is_none());
    assert!(value(&p, "mongodb.connection.count", &[("type", "active")]).is_none());
    let all: Vec<String> = problems.into_iter().chain(per_db).collect();
    for expected in [
        "mongodb.cache.operations: serverStatus has no wiredTiger.cache.pages read into cache",
        "mongodb.session.count: serverStatus has no wiredTiger.session.open session count",
        "mongodb.global_lock.time: serverStatus has no globalLock.totalTime",
        "mongodb.cursor.timeout.count: serverStatus has no metrics.cursor.timedOut",
        "mongodb.connection.count: serverStatus has no connections.active",
        "mongodb.document.operation.count: serverStatus has no metrics.document.inserted",
    ] {
        assert!(
            all.iter().any(|m| m == expected),
            "missing {expected:?} in {all:#?}"
        );
    }
    assert!(
        !all.iter().any(|m| m.contains("lock.acquire")),
        "optional metrics complained: {all:#?}"
    );
}

#[test]
fn odd_values_are_problems_not_panics() {
    let mut status = doc("mongod-serverStatus.json");
    status.insert("connections", "lots");
    status
        .get_document_mut("mem")
        .unwrap()
        .insert("resident", Bson::Double(f64::NAN));
    status
        .get_document_mut("network")
        .unwrap()
        .insert("bytesIn", Bson::Null);
    status.insert("storageEngine", Bson::Int32(3));
    let mut out = builder(&[]);
    let mut problems = admin(&mut out, &status, &mut Rates::default(), Instant::now());
    server_stats_of(
        &mut Reader::new(&mut out, &mut problems, &status, "serverStatus"),
        "x",
        Version(7, 0),
    );
    let all: Vec<String> = problems.into_iter().collect();
    assert!(
        all.contains(
            &"mongodb.memory.usage: serverStatus field mem.resident is not a number".to_string()
        ),
        "{all:#?}"
    );
    assert!(
        all.contains(
            &"mongodb.network.io.receive: serverStatus has no network.bytesIn".to_string()
        ),
        "{all:#?}"
    );
    assert!(
        all.contains(
            &"mongodb.connection.count: serverStatus has no connections.current".to_string()
        ),
        "{all:#?}"
    );
    assert!(
        all.contains(&"mongodb.session.count: serverStatus has no storageEngine.name".to_string()),
        "{all:#?}"
    );
    let p = points(out.finish());
    assert!(
        value(&p, "mongodb.memory.usage", &[("type", "virtual")]).is_some(),
        "the rest is still read"
    );
}
