//! The metrics of `serverStatus`: the server-wide ones (otelcol's `recordAdminStats`) and those
//! otelcol records once per database (`recordNormalServerStats`).

use std::time::Instant;

use ferrotel_core::scraperhelper::Value;
use mongodb::bson::Bson;

use crate::metadata::{DOCUMENT_OPERATIONS, LOCK_METRICS, LOCK_MODES, LOCK_TYPES, OPCOUNTERS};
use crate::record::{Rates, Reader, Version, as_int, attrs, dig, int_at};

fn is_wired_tiger(r: &mut Reader, what: &str) -> bool {
    match dig(r.doc, &["storageEngine", "name"]) {
        Some(Bson::String(name)) => name == "wiredTiger",
        _ => {
            r.problem(what, "serverStatus has no storageEngine.name".into());
            false
        }
    }
}

/// The server-wide metrics of the `admin` `serverStatus` (otelcol's `recordAdminStats`).
pub fn admin_stats(r: &mut Reader, rates: &mut Rates, now: Instant) {
    let cache = "mongodb.cache.operations";
    if r.out.is_enabled(cache) && is_wired_tiger(r, cache) {
        let miss = int_at(
            r.doc,
            &["wiredTiger", "cache", "pages read into cache"],
            r.source,
        );
        let requested = ["wiredTiger", "cache", "pages requested from the cache"];
        match miss.and_then(|miss| Ok((miss, int_at(r.doc, &requested, r.source)?))) {
            Ok((miss, requested)) => {
                r.out.record_int(cache, miss, &[("type", "miss".into())]);
                r.out
                    .record_int(cache, requested - miss, &[("type", "hit".into())]);
            }
            Err(why) => r.problem(cache, why),
        }
    }
    r.int(
        "mongodb.cursor.count",
        &["metrics", "cursor", "open", "total"],
        &[],
    );
    r.int(
        "mongodb.cursor.timeout.count",
        &["metrics", "cursor", "timedOut"],
        &[],
    );
    // totalTime is in microseconds
    let to_ms = |v| v / 1000;
    r.scaled(
        "mongodb.global_lock.time",
        &["globalLock", "totalTime"],
        to_ms,
        &[],
    );
    if r.out.is_enabled("mongodb.network.request.count") {
        r.int("mongodb.network.io.receive", &["network", "bytesIn"], &[]);
        r.int("mongodb.network.io.transmit", &["network", "bytesOut"], &[]);
        r.int(
            "mongodb.network.request.count",
            &["network", "numRequests"],
            &[],
        );
    }
    opcounters(
        r,
        rates,
        now,
        "opcounters",
        "mongodb.operation.count",
        false,
    );
    opcounters(
        r,
        rates,
        now,
        "opcountersRepl",
        "mongodb.operation.repl.count",
        true,
    );
    let sessions = "mongodb.session.count";
    if r.out.is_enabled(sessions) && is_wired_tiger(r, sessions) {
        r.int(
            sessions,
            &["wiredTiger", "session", "open session count"],
            &[],
        );
    }
    for (operation, key) in [
        ("read", "reads"),
        ("write", "writes"),
        ("command", "commands"),
    ] {
        let a = [("operation", Value::from(operation))];
        r.int(
            "mongodb.operation.latency.time",
            &["opLatencies", key, "latency"],
            &a,
        );
    }
    r.int("mongodb.uptime", &["uptimeMillis"], &[]);
    r.int("mongodb.health", &["ok"], &[]);
    r.int(
        "mongodb.active.writes",
        &["globalLock", "activeClients", "writers"],
        &[],
    );
    r.int(
        "mongodb.active.reads",
        &["globalLock", "activeClients", "readers"],
        &[],
    );
    let flushes = "mongodb.flushes.rate";
    if r.out.is_enabled(flushes) {
        let path = [
            "wiredTiger",
            "checkpoint",
            "total succeed number of checkpoints",
        ];
        match int_at(r.doc, &path, r.source) {
            Ok(v) => {
                if let Some(rate) = rates.rate(flushes, now, v) {
                    r.out.record_double(flushes, rate, &[]);
                }
            }
            Err(why) => r.problem(flushes, why),
        }
    }
    let read_into_cache = ["wiredTiger", "cache", "bytes read into cache"];
    r.int("mongodb.wtcache.bytes.read", &read_into_cache, &[]);
    r.int("mongodb.page_faults", &["extra_info", "page_faults"], &[]);
}

/// `opcounters` (or `opcountersRepl`): the counter per operation and its per-second gauge.
fn opcounters(
    r: &mut Reader,
    rates: &mut Rates,
    now: Instant,
    section: &'static str,
    counter: &'static str,
    replicated: bool,
) {
    for (operation, rate_name, repl_rate_name) in OPCOUNTERS {
        let rate_name = if replicated {
            *repl_rate_name
        } else {
            *rate_name
        };
        if !r.out.is_enabled(counter) && !r.out.is_enabled(rate_name) {
            continue;
        }
        match int_at(r.doc, &[section, operation], r.source) {
            Ok(v) => {
                r.out
                    .record_int(counter, v, &[("operation", Value::from(*operation))]);
                if let Some(rate) = rates.rate(rate_name, now, v) {
                    r.out.record_double(rate_name, rate, &[]);
                }
            }
            Err(why) if r.out.is_enabled(counter) => r.problem(counter, why),
            Err(_) => {}
        }
    }
}

/// The metrics otelcol records per database from `serverStatus` (`recordNormalServerStats`):
/// connections, document operations, memory and locks, each with `db.namespace`.
pub fn server_stats_of(r: &mut Reader, db: &str, version: Version) {
    for kind in ["active", "available", "current"] {
        let a = attrs(&[("type", kind), ("db.namespace", db)]);
        r.int("mongodb.connection.count", &["connections", kind], &a);
    }
    for (key, operation) in DOCUMENT_OPERATIONS {
        let a = attrs(&[("operation", operation), ("db.namespace", db)]);
        r.int(
            "mongodb.document.operation.count",
            &["metrics", "document", key],
            &a,
        );
    }
    for kind in ["resident", "virtual"] {
        let a = attrs(&[("type", kind), ("db.namespace", db)]);
        // reported in mebibytes
        let to_bytes = |v: i64| v.saturating_mul(1 << 20);
        r.scaled("mongodb.memory.usage", &["mem", kind], to_bytes, &a);
    }
    if version < Version(3, 2) {
        return;
    }
    for (name, field) in LOCK_METRICS {
        if !r.out.is_enabled(name) {
            continue;
        }
        for (lock, lock_type) in LOCK_TYPES {
            let newer = matches!(
                *lock,
                "ParallelBatchWriterMode" | "ReplicationStateTransition"
            );
            if newer && version < Version(4, 2) {
                continue;
            }
            for (mode, lock_mode) in LOCK_MODES {
                // the server lists only the locks it has taken: absence is not a problem
                let Some(value) = dig(r.doc, &["locks", lock, field, mode]) else {
                    continue;
                };
                match as_int(value) {
                    Some(v) => {
                        let pairs = [("lock_type", *lock_type), ("lock_mode", *lock_mode)];
                        let mut a = attrs(&pairs);
                        a.push(("db.namespace", Value::from(db)));
                        r.out.record_int(name, v, &a);
                    }
                    None => {
                        let path = format!("locks.{lock}.{field}.{mode}");
                        r.problem(name, format!("serverStatus field {path} is not a number"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
