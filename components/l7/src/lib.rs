//! L7 semantics: OpenTelemetry semantic-convention span names and attributes from the first bytes
//! of a request as an eBPF probe captured it (at most a few hundred bytes, possibly cut mid-token)
//! and the status the kernel parsed from the response.
//!
//! Nothing here allocates more than the input's size warrants or panics, whatever the bytes: every
//! parser returns `None` for what it cannot read, and a sensible partial result for a truncated
//! request whose beginning it can read.

mod amqp;
mod cassandra;
mod clickhouse;
mod connection;
mod dubbo;
mod http;
mod http2;
mod kafka;
mod memcached;
mod mongo;
mod mqtt;
mod mysql;
mod nats;
mod postgres;
mod red;
mod redis;
mod routes;
mod sql;
mod zookeeper;

use std::borrow::Cow;

pub use connection::Connection;
pub use red::{RedMetric, red_metric};
pub use routes::{DEFAULT_MAX_ROUTES_PER_SERVICE, RouteLimit};

/// The protocols the kernel detects, numbered as its `enum ft_protocol` (ebpf/events.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Http = 1,
    Http2 = 2,
    Postgres = 3,
    Mysql = 4,
    Redis = 5,
    Mongo = 6,
    Memcached = 7,
    Kafka = 8,
    Cassandra = 9,
    Dns = 10,
    Amqp = 11,
    Nats = 12,
    Mqtt = 13,
    Zookeeper = 14,
    Clickhouse = 15,
    Dubbo = 16,
}

impl Protocol {
    /// Every protocol, in the kernel's order.
    pub const ALL: [Protocol; 16] = [
        Protocol::Http,
        Protocol::Http2,
        Protocol::Postgres,
        Protocol::Mysql,
        Protocol::Redis,
        Protocol::Mongo,
        Protocol::Memcached,
        Protocol::Kafka,
        Protocol::Cassandra,
        Protocol::Dns,
        Protocol::Amqp,
        Protocol::Nats,
        Protocol::Mqtt,
        Protocol::Zookeeper,
        Protocol::Clickhouse,
        Protocol::Dubbo,
    ];

    /// From the kernel's `enum ft_protocol`.
    pub fn from_raw(raw: u32) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|&p| p.raw() == raw)
    }

    /// The kernel's number for it.
    pub fn raw(self) -> u32 {
        self as u32
    }

    /// Whether a request can refer to what its connection set up earlier (named prepared
    /// statements, HPACK table entries): only these need `parse_on` and a `Connection`.
    pub fn has_connection_state(self) -> bool {
        matches!(self, Protocol::Postgres | Protocol::Http2 | Protocol::Mysql)
    }

    /// From its name (`as_str`), as the ebpf receiver writes it in `l7.protocol`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Postgres => "postgresql",
            Protocol::Mysql => "mysql",
            Protocol::Redis => "redis",
            Protocol::Mongo => "mongodb",
            Protocol::Memcached => "memcached",
            Protocol::Kafka => "kafka",
            Protocol::Cassandra => "cassandra",
            Protocol::Dns => "dns",
            Protocol::Amqp => "amqp",
            Protocol::Nats => "nats",
            Protocol::Mqtt => "mqtt",
            Protocol::Zookeeper => "zookeeper",
            Protocol::Clickhouse => "clickhouse",
            Protocol::Dubbo => "dubbo",
        }
    }

    /// HTTP reports a status code; DNS an RCODE; the rest 0 for success and 1 for an error.
    pub fn status_class(self, status: u32) -> &'static str {
        match self {
            Protocol::Http | Protocol::Http2 => match status {
                100..=199 => "1xx",
                200..=299 => "2xx",
                300..=399 => "3xx",
                400..=499 => "4xx",
                500..=599 => "5xx",
                _ => "unknown",
            },
            _ if status == 0 => "ok",
            _ => "error",
        }
    }
}

/// An attribute value. Most are constants (a method, a system name): those are not copied.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Cow<'static, str>),
    Int(i64),
}

/// What a request means, in the vocabulary of the semantic conventions.
#[derive(Clone, Debug, PartialEq)]
pub struct Semantics {
    /// The span name per the conventions: "GET /users/{id}" (HTTP: method + templated route;
    /// method alone when no path), "SELECT users" / "SELECT" (DB: db.operation.name +
    /// db.collection.name when known), "GET" (Redis command).
    pub name: String,
    pub attributes: Vec<(&'static str, Value)>,
}

impl Semantics {
    /// The value of the attribute `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn push_str(&mut self, key: &'static str, value: impl Into<String>) {
        self.attributes
            .push((key, Value::Str(Cow::Owned(value.into()))));
    }

    /// As `push_str`, for a constant: nothing is copied.
    pub(crate) fn push_static(&mut self, key: &'static str, value: &'static str) {
        self.attributes
            .push((key, Value::Str(Cow::Borrowed(value))));
    }
}

/// How much of a query to keep.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Replace literals (SQL) and values (Redis) with `?` in `db.query.text`.
    pub sanitize: bool,
    /// The longest `db.query.text`, in bytes (cut on a character boundary).
    pub max_query_len: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sanitize: true,
            max_query_len: 1024,
        }
    }
}

/// `request`: the first bytes of the request as the client sent it (may be truncated). `status`:
/// what the kernel parsed (HTTP status code; DB: 0 ok, 1 error). A request that refers to what
/// its connection set up earlier (a prepared statement, an HPACK table entry) is read as far as
/// it goes alone: `parse_on` reads it in full.
pub fn parse(
    protocol: Protocol,
    request: &[u8],
    status: u32,
    options: &Options,
) -> Option<Semantics> {
    parse_on(
        &mut Connection::default(),
        protocol,
        request,
        status,
        options,
    )
}

/// As `parse`, for the next request of `connection`, whose state it reads and updates.
pub fn parse_on(
    connection: &mut Connection,
    protocol: Protocol,
    request: &[u8],
    status: u32,
    options: &Options,
) -> Option<Semantics> {
    let exchange = Exchange {
        request,
        response: &[],
        status,
        server: false,
    };
    parse_exchange(connection, protocol, &exchange, options)
}

/// One request and what came of it, as the kernel saw them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exchange<'a> {
    /// The request's first bytes.
    pub request: &'a [u8],
    /// The response's first bytes, when captured (HTTP/2, a MySQL prepare), or empty.
    pub response: &'a [u8],
    /// What the kernel parsed of the response (see `parse`).
    pub status: u32,
    /// Seen from the server's side (it decides which gRPC codes are the call's failure).
    pub server: bool,
}

/// As `parse_on`, with what the response's first bytes add: HTTP/2's status and gRPC's
/// `rpc.grpc.status_code` (read with the server's HPACK table, so the connection's responses
/// must all come here, in order), and the id a MySQL server gave a prepared statement, which
/// later executions of it name.
pub fn parse_exchange(
    connection: &mut Connection,
    protocol: Protocol,
    exchange: &Exchange,
    options: &Options,
) -> Option<Semantics> {
    let (request, status) = (exchange.request, exchange.status);
    let mut semantics = match protocol {
        Protocol::Http => {
            let mut semantics = http::parse(request)?;
            if status != 0 {
                let code = i64::from(status);
                semantics
                    .attributes
                    .push(("http.response.status_code", Value::Int(code)));
                if status >= 500 {
                    semantics.push_str("error.type", status.to_string());
                }
            }
            return Some(semantics);
        }
        Protocol::Postgres => postgres::parse(request, &mut connection.statements, options)?,
        Protocol::Mysql => {
            mysql::prepared(request, exchange.response, &mut connection.statements);
            mysql::parse(request, &connection.statements, options)?
        }
        Protocol::Http2 => {
            let state = &mut connection.http2;
            let (response, server) = (exchange.response, exchange.server);
            return http2::parse_exchange(request, response, state, status, server, options);
        }
        Protocol::Redis => redis::parse(request, options)?,
        Protocol::Mongo => mongo::parse(request, options)?,
        Protocol::Memcached => memcached::parse(request, options)?,
        Protocol::Kafka => kafka::parse(request, options)?,
        Protocol::Cassandra => cassandra::parse(request, options)?,
        Protocol::Amqp => amqp::parse(request, options)?,
        Protocol::Nats => nats::parse(request, options)?,
        Protocol::Mqtt => mqtt::parse(request, options)?,
        Protocol::Zookeeper => zookeeper::parse(request, options)?,
        Protocol::Clickhouse => clickhouse::parse(request, options)?,
        Protocol::Dubbo => dubbo::parse(request, options)?,
        Protocol::Dns => return None,
    };
    if status == 1 {
        semantics.push_static("error.type", "_OTHER");
    }
    Some(semantics)
}

/// gRPC's status codes by number.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The name of gRPC status `code` (`NOT_FOUND`), if it has one.
pub fn grpc_code_name(code: u32) -> Option<&'static str> {
    GRPC_CODES.get(code as usize).copied()
}

/// `bytes` as text: a multi-byte character cut at the end is dropped, other invalid bytes become
/// U+FFFD.
pub(crate) fn text(bytes: &[u8]) -> String {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes,
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        Err(_) => bytes,
    };
    String::from_utf8_lossy(valid).into_owned()
}

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
