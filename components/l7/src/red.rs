//! Which semantic-convention duration metric an exchange belongs to, and with which of its
//! span's attributes: those the conventions list for the metric, never the high-cardinality ones
//! (`url.path`, `db.query.text`).

use crate::{Semantics, Value};

const HTTP_SERVER: &[&str] = &[
    "http.request.method",
    "http.response.status_code",
    "http.route",
    "network.protocol.name",
    "network.protocol.version",
    "url.scheme",
    "error.type",
];
const HTTP_CLIENT: &[&str] = &[
    "http.request.method",
    "http.response.status_code",
    "network.protocol.name",
    "network.protocol.version",
    "url.scheme",
    "url.template",
    "error.type",
];
const DB_CLIENT: &[&str] = &[
    "db.system.name",
    "db.namespace",
    "db.operation.name",
    "db.collection.name",
    "db.response.status_code",
    "network.protocol.name",
    "error.type",
];
const RPC: &[&str] = &[
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
    "network.protocol.name",
    "error.type",
];
const MESSAGING_CLIENT: &[&str] = &[
    "messaging.system",
    "messaging.operation.name",
    "messaging.operation.type",
    "messaging.destination.name",
    "messaging.destination.template",
    "error.type",
];

/// A duration metric of the conventions: its name and attributes.
#[derive(Debug, PartialEq)]
pub struct RedMetric {
    pub name: &'static str,
    pub attributes: Vec<(&'static str, String)>,
}

/// The metric an exchange with these semantics is recorded in, `server` telling which side of
/// the connection observed it. Client metrics also carry `server.address`/`server.port` (the
/// caller adds them: they come from the connection, not the request). `None` where the
/// conventions define no metric (a database's own side of a query, say).
pub fn red_metric(semantics: &Semantics, server: bool) -> Option<RedMetric> {
    let has = |key| semantics.get(key).is_some();
    let (name, keys) = if has("http.request.method") {
        if server {
            ("http.server.request.duration", HTTP_SERVER)
        } else {
            ("http.client.request.duration", HTTP_CLIENT)
        }
    } else if has("rpc.system") {
        if server {
            ("rpc.server.call.duration", RPC)
        } else {
            ("rpc.client.call.duration", RPC)
        }
    } else if server {
        return None;
    } else if has("db.system.name") {
        ("db.client.operation.duration", DB_CLIENT)
    } else if has("messaging.system") {
        ("messaging.client.operation.duration", MESSAGING_CLIENT)
    } else {
        return None;
    };
    // a destination with ids in it has a template, which is what a metric may carry
    let templated = semantics.get("messaging.destination.template").is_some();
    let attributes = semantics
        .attributes
        .iter()
        .filter(|(key, _)| keys.contains(key))
        .filter(|(key, _)| !(templated && *key == "messaging.destination.name"))
        .map(|(key, value)| {
            let value = match value {
                Value::Str(s) => s.to_string(),
                Value::Int(i) => i.to_string(),
            };
            (*key, value)
        })
        .collect();
    Some(RedMetric { name, attributes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Protocol, parse};

    #[test]
    fn http_exchanges_go_to_the_http_duration_metrics_without_the_path() {
        let request = b"GET /users/42?q=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        let semantics = parse(Protocol::Http, request, 503, &Options::default()).unwrap();
        let server = red_metric(&semantics, true).unwrap();
        assert_eq!(server.name, "http.server.request.duration");
        let get = |m: &RedMetric, key: &str| {
            m.attributes
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(&server, "http.route").as_deref(), Some("/users/{id}"));
        assert_eq!(get(&server, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(
            get(&server, "http.response.status_code").as_deref(),
            Some("503")
        );
        assert_eq!(get(&server, "error.type").as_deref(), Some("503"));
        assert_eq!(get(&server, "url.path"), None);
        let client = red_metric(&semantics, false).unwrap();
        assert_eq!(client.name, "http.client.request.duration");
        assert_eq!(get(&client, "http.route"), None);
    }

    #[test]
    fn database_queries_are_client_operations_and_never_carry_their_text() {
        let query = b"Q\0\0\0\x20select * from orders where id=7\0";
        let semantics = parse(Protocol::Postgres, query, 0, &Options::default()).unwrap();
        let metric = red_metric(&semantics, false).unwrap();
        assert_eq!(metric.name, "db.client.operation.duration");
        assert!(
            metric
                .attributes
                .contains(&("db.operation.name", "SELECT".into()))
        );
        assert!(
            metric
                .attributes
                .contains(&("db.system.name", "postgresql".into()))
        );
        assert!(metric.attributes.iter().all(|(k, _)| *k != "db.query.text"));
        // what the database server itself observed has no metric in the conventions
        assert_eq!(red_metric(&semantics, true), None);
    }
}
