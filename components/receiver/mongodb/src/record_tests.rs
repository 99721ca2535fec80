//! The replies of testdata/ (real SecantusDB captures and hand-written mongod replies, see
//! testdata/README.md) turned into data points.

use std::time::{Duration, Instant};

use ferrotel_core::scraperhelper::testing;
pub(crate) use ferrotel_core::scraperhelper::testing::{points, value};

use super::*;
use crate::metadata::{DEFS, SCOPE};

pub(crate) fn load(name: &str) -> Bson {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    Bson::try_from(json).expect("Extended JSON")
}

pub(crate) fn doc(name: &str) -> Document {
    match load(name) {
        Bson::Document(d) => d,
        other => panic!("{name} is not a document: {other:?}"),
    }
}

pub(crate) fn builder(enable: &[&str]) -> MetricsBuilder {
    testing::builder(SCOPE, DEFS, enable)
}

pub(crate) fn admin(
    out: &mut MetricsBuilder,
    status: &Document,
    rates: &mut Rates,
    now: Instant,
) -> Problems {
    let mut problems = Problems::new();
    crate::status::admin_stats(
        &mut Reader::new(out, &mut problems, status, "serverStatus"),
        rates,
        now,
    );
    problems
}

#[test]
fn db_stats_and_the_extent_count_of_old_servers() {
    let mut out = builder(&[]);
    let mut problems = Problems::new();
    let stats = doc("secantus-dbStats.json");
    db_stats(
        &mut Reader::new(&mut out, &mut problems, &stats, "dbStats"),
        "shop",
        Version(8, 2),
    );
    let old = doc("mongod42-dbStats.json");
    db_stats(
        &mut Reader::new(&mut out, &mut problems, &old, "dbStats"),
        "legacy",
        Version(4, 2),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let p = points(out.finish());
    let shop = [("db.namespace", "shop")];
    assert_eq!(value(&p, "mongodb.object.count", &shop), Some(25.0));
    assert_eq!(value(&p, "mongodb.collection.count", &shop), Some(1.0));
    assert_eq!(value(&p, "mongodb.index.count", &shop), Some(2.0));
    assert_eq!(value(&p, "mongodb.data.size", &shop), Some(1300.0));
    assert_eq!(value(&p, "mongodb.index.size", &shop), Some(721.0));
    assert_eq!(value(&p, "mongodb.storage.size", &shop), Some(1300.0));
    assert!(
        value(&p, "mongodb.extent.count", &shop).is_none(),
        "no extents after 4.4"
    );
    let legacy = [("db.namespace", "legacy")];
    assert_eq!(value(&p, "mongodb.extent.count", &legacy), Some(0.0));
    assert_eq!(
        value(&p, "mongodb.data.size", &legacy),
        Some(2433528.0),
        "doubles are truncated"
    );
}

#[test]
fn top_is_summed_over_namespaces_and_refused_when_incomplete() {
    let top = doc("secantus-top.json");
    let mut out = builder(&[]);
    let mut problems = Problems::new();
    operation_time(&mut Reader::new(&mut out, &mut problems, &top, "top"));
    assert!(problems.is_empty(), "{problems:?}");
    let p = points(out.finish());
    let totals = top.get_document("totals").unwrap();
    let expected: i64 = totals
        .iter()
        .filter(|(k, _)| *k != "note")
        .map(|(_, v)| v.as_document().unwrap().get_document("insert").unwrap())
        .map(|d| as_int(d.get("time").unwrap()).unwrap())
        .sum();
    assert!(expected > 0, "the capture holds inserts");
    assert_eq!(
        value(&p, "mongodb.operation.time", &[("operation", "insert")]),
        Some(expected as f64)
    );
    assert_eq!(
        p.iter()
            .filter(|(n, _, _)| n == "mongodb.operation.time")
            .count(),
        6
    );

    let mut broken = top.clone();
    let totals = broken.get_document_mut("totals").unwrap();
    let ns = totals.keys().find(|k| *k != "note").unwrap().clone();
    totals.get_document_mut(&ns).unwrap().remove("remove");
    let mut out = builder(&[]);
    let mut problems = Problems::new();
    operation_time(&mut Reader::new(&mut out, &mut problems, &broken, "top"));
    assert_eq!(out.point_count(), 0);
    assert_eq!(
        problems.into_iter().collect::<Vec<_>>(),
        ["mongodb.operation.time: top has no remove.time for a namespace"]
    );
}

#[test]
fn index_accesses_are_summed_per_collection() {
    let Bson::Array(captured) = load("secantus-indexStats.json") else {
        panic!("not a list")
    };
    let mut indexes: Vec<Document> = captured
        .into_iter()
        .filter_map(|b| b.as_document().cloned())
        .collect();
    assert_eq!(indexes.len(), 2);
    indexes[1]
        .get_document_mut("accesses")
        .unwrap()
        .insert("ops", 7i64);
    let mut out = builder(&[]);
    let mut problems = Problems::new();
    index_access(&mut out, &mut problems, &indexes, "shop", "orders");
    indexes[0].remove("accesses");
    index_access(&mut out, &mut problems, &indexes, "shop", "broken");
    let p = points(out.finish());
    let attrs = [("collection", "orders"), ("db.namespace", "shop")];
    assert_eq!(value(&p, "mongodb.index.access.count", &attrs), Some(7.0));
    assert!(
        value(
            &p,
            "mongodb.index.access.count",
            &[("collection", "broken")]
        )
        .is_none()
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn versions_and_rates() {
    assert_eq!(Version::parse("8.2.11"), Some(Version(8, 2)));
    assert_eq!(Version::parse("4"), Some(Version(4, 0)));
    assert_eq!(Version::parse("x.1"), None);
    assert!(Version(4, 2) < Version(4, 4) && Version(3, 10) > Version(3, 2));
    let mut rates = Rates::default();
    let t = Instant::now();
    assert_eq!(rates.rate("k", t, 10), None);
    assert_eq!(rates.rate("k", t + Duration::from_secs(5), 20), Some(2.0));
    assert_eq!(
        rates.rate("k", t + Duration::from_secs(6), 3),
        None,
        "a restarted server"
    );
}
