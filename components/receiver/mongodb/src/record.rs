//! Turning the server's replies into data points, field by field as otelcol's `metrics.go` reads
//! them: the shared reading helpers, and `dbStats`, `top` and `$indexStats` (`serverStatus` is in
//! `status.rs`). A field the server does not send is skipped and named in `problems` (the scrape
//! is then partial); a field of the wrong type is never a panic.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use ferrotel_core::scraperhelper::{MetricsBuilder, Value};
use mongodb::bson::{Bson, Document};

use crate::metadata::TOP_OPERATIONS;

/// What went missing in one scrape, each message once.
pub type Problems = BTreeSet<String>;

/// The server's version from `buildInfo` (major, minor); 0.0 when unknown, as otelcol does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.');
        let major = parts.next()?.trim().parse().ok()?;
        let minor = parts
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        Some(Version(major, minor))
    }
}

/// The value at `path`, through nested documents.
pub fn dig<'a>(doc: &'a Document, path: &[&str]) -> Option<&'a Bson> {
    let (first, rest) = path.split_first()?;
    let value = doc.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Bson::Document(inner) => dig(inner, rest),
        _ => None,
    }
}

/// A number as otelcol's `parseInt` takes it (int32, int64, double truncated).
pub fn as_int(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

/// The integer at `path`, or why not (`source` names the reply, e.g. `serverStatus`).
pub fn int_at(doc: &Document, path: &[&str], source: &str) -> Result<i64, String> {
    match dig(doc, path) {
        None | Some(Bson::Null) => Err(format!("{source} has no {}", path.join("."))),
        Some(value) => as_int(value)
            .ok_or_else(|| format!("{source} field {} is not a number", path.join("."))),
    }
}

/// Reads one reply into the builder: each metric is recorded when enabled, or the field it
/// needs is named in `problems`.
pub struct Reader<'a> {
    pub out: &'a mut MetricsBuilder,
    pub problems: &'a mut Problems,
    pub doc: &'a Document,
    pub source: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(
        out: &'a mut MetricsBuilder,
        problems: &'a mut Problems,
        doc: &'a Document,
        source: &'static str,
    ) -> Self {
        Reader {
            out,
            problems,
            doc,
            source,
        }
    }

    pub fn int(&mut self, name: &'static str, path: &[&str], attributes: &[(&str, Value)]) {
        self.scaled(name, path, |v| v, attributes);
    }

    pub fn scaled(
        &mut self,
        name: &'static str,
        path: &[&str],
        scale: fn(i64) -> i64,
        attributes: &[(&str, Value)],
    ) {
        if !self.out.is_enabled(name) {
            return;
        }
        match int_at(self.doc, path, self.source) {
            Ok(v) => self.out.record_int(name, scale(v), attributes),
            Err(why) => self.problem(name, why),
        }
    }

    pub fn problem(&mut self, name: &str, why: String) {
        self.problems.insert(format!("{name}: {why}"));
    }
}

pub fn attrs(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, Value)> {
    pairs.iter().map(|(k, v)| (*k, Value::from(*v))).collect()
}

/// Counters seen at the previous scrape, for otelcol's per-second gauges.
#[derive(Default)]
pub struct Rates {
    previous: HashMap<&'static str, (Instant, i64)>,
}

impl Rates {
    /// The rate of `key` since it was last seen (none the first time, or after a reset).
    pub fn rate(&mut self, key: &'static str, now: Instant, value: i64) -> Option<f64> {
        let previous = self.previous.insert(key, (now, value));
        let (then, before) = previous?;
        let seconds = now.duration_since(then).as_secs_f64();
        (seconds > 0.0 && value >= before).then(|| (value - before) as f64 / seconds)
    }
}

/// `dbStats` of one database (otelcol's `recordDBStats`).
pub fn db_stats(r: &mut Reader, db: &str, version: Version) {
    let a = attrs(&[("db.namespace", db)]);
    r.int("mongodb.collection.count", &["collections"], &a);
    r.int("mongodb.data.size", &["dataSize"], &a);
    r.int("mongodb.index.size", &["indexSize"], &a);
    r.int("mongodb.index.count", &["indexes"], &a);
    r.int("mongodb.object.count", &["objects"], &a);
    r.int("mongodb.storage.size", &["storageSize"], &a);
    // MMAPv1 only: gone since MongoDB 4.4
    if version < Version(4, 4) {
        r.int("mongodb.extent.count", &["numExtents"], &a);
    }
}

/// `top`: the time spent per operation, summed over every namespace. Like otelcol, the value is
/// `top`'s own number (which MongoDB gives in microseconds) under the unit `ms`.
pub fn operation_time(r: &mut Reader) {
    let name = "mongodb.operation.time";
    if !r.out.is_enabled(name) {
        return;
    }
    let Some(Bson::Document(totals)) = r.doc.get("totals") else {
        return r.problem(name, "top has no totals".into());
    };
    let mut sums = [0i64; TOP_OPERATIONS.len()];
    for (namespace, value) in totals {
        if namespace == "note" {
            continue;
        }
        let Bson::Document(ops) = value else {
            return r.problem(name, format!("top totals.{namespace} is not a document"));
        };
        for (sum, (key, _)) in sums.iter_mut().zip(TOP_OPERATIONS) {
            match int_at(ops, &[key, "time"], "top") {
                Ok(v) => *sum = sum.saturating_add(v),
                Err(why) => return r.problem(name, format!("{why} for a namespace")),
            }
        }
    }
    for (sum, (_, operation)) in sums.iter().zip(TOP_OPERATIONS) {
        r.out
            .record_int(name, *sum, &[("operation", Value::from(*operation))]);
    }
}

/// `$indexStats` of one collection: the accesses of all its indexes, summed.
pub fn index_access(
    out: &mut MetricsBuilder,
    problems: &mut Problems,
    indexes: &[Document],
    db: &str,
    collection: &str,
) {
    let name = "mongodb.index.access.count";
    let mut total = 0i64;
    for index in indexes {
        match int_at(index, &["accesses", "ops"], "$indexStats") {
            Ok(v) => total = total.saturating_add(v),
            Err(why) => {
                problems.insert(format!("{name}: {why}"));
                return;
            }
        }
    }
    let a = attrs(&[("collection", collection), ("db.namespace", db)]);
    out.record_int(name, total, &a);
}

#[cfg(test)]
#[path = "record_tests.rs"]
pub(crate) mod tests;
