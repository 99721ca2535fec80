//! One INFO reply → the receiver's data points, as otelcol's redis scraper maps the fields.

use ferrotel_core::scraperhelper::{MetricsBuilder, Value};

use crate::info::Info;
use crate::metadata::{CATALOG, DOUBLE_FIELDS, INT_FIELDS, PERCENTILES};

/// Where the receiver points, for the (disabled by default) `server.*` resource attributes.
#[derive(Debug, Clone, Default)]
pub struct ServerAddress {
    pub address: String,
    /// Empty for a unix socket.
    pub port: String,
}

/// Records everything `info` holds; fields whose values do not parse go to `partial`.
pub fn record(
    info: &Info,
    server: &ServerAddress,
    out: &mut MetricsBuilder,
    partial: &mut Vec<String>,
) {
    let version = info.get("redis_version").unwrap_or("unknown").to_string();
    let mut resource = vec![
        (
            "redis.version",
            Value::from(version),
            CATALOG.resource_default("redis.version"),
        ),
        (
            "server.address",
            Value::from(server.address.clone()),
            CATALOG.resource_default("server.address"),
        ),
    ];
    if !server.port.is_empty() {
        resource.push((
            "server.port",
            Value::from(server.port.clone()),
            CATALOG.resource_default("server.port"),
        ));
    }
    out.resource(resource);

    for (field, metric) in INT_FIELDS {
        match info.int(field) {
            Some(Ok(v)) => out.record_int(metric, v, &[]),
            Some(Err(e)) => partial.push(e),
            None => {}
        }
    }
    for (field, metric, state) in DOUBLE_FIELDS {
        let attributes: Vec<(&str, Value)> =
            state.iter().map(|s| ("state", Value::from(*s))).collect();
        match info.double(field) {
            Some(Ok(v)) => out.record_double(metric, v, &attributes),
            Some(Err(e)) => partial.push(e),
            None => {}
        }
    }
    for keyspace in info.keyspace() {
        match keyspace {
            Ok(ks) => {
                let db = [("db", Value::from(ks.db.as_str()))];
                out.record_int("redis.db.keys", ks.keys, &db);
                out.record_int("redis.db.expires", ks.expires, &db);
                out.record_int("redis.db.avg_ttl", ks.avg_ttl, &db);
            }
            Err(e) => partial.push(e),
        }
    }
    if let Some(role) = info.get("role") {
        let role = if role == "master" {
            "primary"
        } else {
            "replica"
        };
        out.record_int("redis.role", 1, &[("role", Value::from(role))]);
    }
    record_commands(info, out);
}

fn record_commands(info: &Info, out: &mut MetricsBuilder) {
    let wanted = ["redis.cmd.calls", "redis.cmd.usec", "redis.cmd.latency"];
    if !wanted.iter().any(|m| out.is_enabled(m)) {
        return;
    }
    for stats in info.command_stats() {
        let cmd = [("cmd", Value::from(stats.command.as_str()))];
        if let Some(calls) = stats.calls {
            out.record_int("redis.cmd.calls", calls, &cmd);
        }
        if let Some(usec) = stats.usec {
            out.record_int("redis.cmd.usec", usec, &cmd);
        }
    }
    for (command, percentiles) in info.latency_stats() {
        for (percentile, usec) in percentiles {
            if PERCENTILES.contains(&percentile.as_str()) {
                out.record_double(
                    "redis.cmd.latency",
                    usec / 1e6,
                    &[
                        ("cmd", Value::from(command.as_str())),
                        ("percentile", Value::from(percentile)),
                    ],
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
