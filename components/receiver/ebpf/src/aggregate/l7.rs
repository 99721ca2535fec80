//! The aggregator's L7 part: an exchange's metrics (unless the kernel counted it) and its span,
//! and the exchanges the kernel counted itself.

use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::span;

use super::{Aggregator, MAX_PENDING, secs};
use crate::events::{self, L7Event, Protocol};
use crate::metrics::Attributes;
use crate::names::{dns_question, rcode_name};
use crate::procinfo::ProcessInfo;
use crate::spans::{AddrText, SpanFields};

/// Connections whose L7 state (prepared statements, HPACK tables) is kept at once.
const MAX_CONNECTIONS: usize = 16_384;

/// A connection's key for its L7 state: the process and the socket's addresses and ports.
pub(super) type ConnectionKey = (u32, [u8; 16], [u8; 16], u16, u16);

pub(super) fn connection_key(tgid: u32, t: &events::Tuple) -> ConnectionKey {
    (tgid, t.saddr, t.daddr, t.sport, t.dport)
}

impl Aggregator {
    pub(super) fn l7(&mut self, event: L7Event) {
        let h = &event.header;
        let Some(protocol) = Protocol::from_raw(h.protocol) else {
            return;
        };
        let process = self.process(h.tgid, &h.comm);
        if !self.allowed(&process, &[h.tuple.sport, h.tuple.dport]) {
            return;
        }
        let server = h.role == events::ROLE_SERVER;
        let (server_addr, server_port) = if server {
            (h.tuple.source(), h.tuple.sport)
        } else {
            (h.tuple.destination(), h.tuple.dport)
        };
        let p = Some(&process);
        let seconds = secs(h.duration_ns);
        let tls = h.flags & events::L7_TLS != 0;
        if protocol == Protocol::Dns {
            let (name, qtype) = dns_question(&event.request).unwrap_or_default();
            let attrs = vec![
                ("dns.question.name", name),
                ("dns.question.type", qtype),
                ("dns.response.code", rcode_name(h.status)),
            ];
            self.metrics.add("dns.requests", p, attrs.clone(), 1);
            self.metrics
                .record("dns.request.duration", p, attrs, seconds);
        } else if h.flags & events::L7_COUNTED == 0 {
            // the kernel counted it otherwise (l7_stats), unless its statistics were full
            let attrs = l7_attributes(protocol, server, server_addr, server_port, h.status, tls);
            self.metrics.add("l7.requests", p, attrs.clone(), 1);
            self.metrics
                .record("l7.request.duration", p, attrs, seconds);
        }
        // the kernel sampled this exchange (l7.sampling_ratio) for a span, unless it came only
        // because the kernel's statistics were full; DNS always comes, and is sampled here, as is
        // everything when the semconv metrics have the kernel send every exchange
        let semconv = self.config.l7.semconv_metrics && protocol != Protocol::Dns;
        let ratio = self.config.l7.sampling_ratio;
        // a MySQL prepare comes for its statement id even when not sampled: state, no span
        let state_only = h.flags & events::L7_STATE_ONLY != 0;
        let wants_span = self.spans_wanted
            && h.flags & (events::L7_NO_SPAN | events::L7_STATE_ONLY) == 0
            && (ratio >= 1.0
                || (protocol != Protocol::Dns && !semconv)
                || rand::Rng::random::<f64>(&mut self.rng) < ratio);
        let semantics = (self.config.l7.semantics && (wants_span || semconv || state_only))
            .then(|| self.semantics(&process, protocol, &event))
            .flatten();
        if semconv
            && let Some(red) = semantics
                .as_ref()
                .and_then(|s| ferrotel_l7::red_metric(s, server))
        {
            let mut attrs = red.attributes;
            if !server {
                attrs.push(("server.address", server_addr.to_string()));
                attrs.push(("server.port", server_port.to_string()));
            }
            self.metrics.record(red.name, p, attrs, seconds);
        }
        if !wants_span {
            return;
        }
        if self.spans.len() >= MAX_PENDING {
            self.dropped_spans += 1;
            return;
        }
        self.span(&process, protocol, &event, server, semantics.as_ref());
    }

    /// What the request means, by the conventions, its route bounded per executable.
    fn semantics(
        &mut self,
        process: &ProcessInfo,
        protocol: Protocol,
        event: &L7Event,
    ) -> Option<ferrotel_l7::Semantics> {
        let options = ferrotel_l7::Options {
            sanitize: self.config.l7.sanitize,
            ..Default::default()
        };
        let h = &event.header;
        // a connection's earlier requests explain its later ones only if all of them come here;
        // MySQL's statement ids come from its prepares, which the kernel always sends
        let every_exchange = self.config.l7.semconv_metrics || self.config.l7.sampling_ratio >= 1.0;
        let exchange = ferrotel_l7::Exchange {
            request: &event.request,
            response: &event.response,
            status: h.status,
            server: h.role == events::ROLE_SERVER,
        };
        let stateful =
            protocol.has_connection_state() && (every_exchange || protocol == Protocol::Mysql);
        let mut semantics = if stateful {
            let key = connection_key(h.tgid, &h.tuple);
            if !self.connections.contains_key(&key) && self.connections.len() >= MAX_CONNECTIONS {
                // a connection whose close went unseen (ring buffer full) must not stay forever
                let evicted = self.connections.keys().next().copied();
                evicted.map(|k| self.connections.remove(&k));
            }
            let connection = self.connections.entry(key).or_default();
            ferrotel_l7::parse_exchange(connection, protocol, &exchange, &options)?
        } else {
            let connection = &mut ferrotel_l7::Connection::default();
            ferrotel_l7::parse_exchange(connection, protocol, &exchange, &options)?
        };
        self.routes.admit(&process.executable_name, &mut semantics);
        Some(semantics)
    }

    /// Exchanges the kernel counted and timed itself (`l7_stats`), since the last collection.
    pub fn l7_counted(&mut self, key: &events::L7Key, delta: &events::L7Stats) {
        let Some(protocol) = Protocol::from_raw(u32::from(key.protocol)) else {
            return;
        };
        if delta.count == 0 {
            return;
        }
        let process = self.processes.get(key.tgid, "");
        if !self.allowed(&process, &[key.port]) {
            return;
        }
        let server = key.role == events::ROLE_SERVER;
        let tls = key.flags & events::L7_TLS != 0;
        let attrs = l7_attributes(protocol, server, key.address(), key.port, key.status, tls);
        let p = Some(&process);
        self.metrics
            .add("l7.requests", p, attrs.clone(), delta.count as i64);
        self.metrics.merge_histogram(
            "l7.request.duration",
            p,
            attrs,
            &delta.buckets,
            secs(delta.sum_ns),
        );
    }

    fn span(
        &mut self,
        process: &Arc<ProcessInfo>,
        protocol: Protocol,
        event: &L7Event,
        server: bool,
        semantics: Option<&ferrotel_l7::Semantics>,
    ) {
        use crate::spans::Value::{Bool, Bytes, Int, Str};
        use rand::RngCore;
        let h = &event.header;
        let end = self.unix_time(h.ts_ns);
        let (client, server_side) = if server {
            (
                (h.tuple.destination(), h.tuple.dport),
                (h.tuple.source(), h.tuple.sport),
            )
        } else {
            (
                (h.tuple.source(), h.tuple.sport),
                (h.tuple.destination(), h.tuple.dport),
            )
        };
        let transport = if h.tuple.transport == events::TRANSPORT_UDP {
            "udp"
        } else {
            "tcp"
        };
        let (client_address, server_address) =
            (AddrText::new(client.0), AddrText::new(server_side.0));
        let question = (protocol == Protocol::Dns)
            .then(|| dns_question(&event.request))
            .flatten();
        // on the stack: a span's attributes are written out before this returns
        let mut attributes: smallvec::SmallVec<[_; 24]> = smallvec::SmallVec::new();
        attributes.extend([
            ("l7.protocol", Str(protocol.as_str())),
            ("network.transport", Str(transport)),
            (
                "network.type",
                Str(if client.0.is_ipv4() { "ipv4" } else { "ipv6" }),
            ),
            ("client.address", Str(client_address.as_str())),
            ("client.port", Int(i64::from(client.1))),
            ("server.address", Str(server_address.as_str())),
            ("server.port", Int(i64::from(server_side.1))),
            ("process.pid", Int(i64::from(h.tgid))),
            ("l7.status", Int(i64::from(h.status))),
            ("l7.request.size", Int(i64::from(h.request_size))),
            ("l7.response.size", Int(i64::from(h.response_size))),
        ]);
        if h.stream_id != 0 {
            attributes.push(("l7.stream_id", Int(h.stream_id as i64)));
        }
        if h.flags & events::L7_TLS != 0 {
            attributes.push(("tls", Bool(true)));
        }
        // semantic conventions from the request's first bytes, which stay in this process
        if let Some(semantics) = semantics {
            for (key, value) in &semantics.attributes {
                attributes.push((
                    key,
                    match value {
                        ferrotel_l7::Value::Str(s) => Str(s),
                        ferrotel_l7::Value::Int(i) => Int(*i),
                    },
                ));
            }
        }
        if let Some((name, qtype)) = &question {
            attributes.push(("dns.question.name", Str(name)));
            attributes.push(("dns.question.type", Str(qtype)));
        }
        if self.config.l7.export_payload {
            attributes.push(("l7.request.payload", Bytes(&event.request)));
            attributes.push(("l7.response.payload", Bytes(&event.response)));
        }
        // the semantics know failures the kernel's status does not (a gRPC status in trailers)
        let failed = semantics.is_some_and(|s| s.get("error.type").is_some())
            || match protocol {
                Protocol::Http | Protocol::Http2 => h.status >= 500 || (!server && h.status >= 400),
                Protocol::Dns => h.status != 0 && h.status != 3,
                _ => h.status != 0,
            };
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        self.rng.fill_bytes(&mut trace_id);
        self.rng.fill_bytes(&mut span_id);
        let kind = if server {
            span::SpanKind::Server
        } else {
            span::SpanKind::Client
        };
        self.spans.push(
            process,
            &SpanFields {
                trace_id,
                span_id,
                name: semantics
                    .as_ref()
                    .map_or(protocol.as_str(), |s| s.name.as_str()),
                kind: kind as i32,
                start_unix_nano: end.saturating_sub(h.duration_ns),
                end_unix_nano: end,
                attributes: &attributes,
                error: failed,
            },
        );
    }
}

/// The attributes of `l7.requests` and `l7.request.duration`.
fn l7_attributes(
    protocol: Protocol,
    server: bool,
    server_addr: std::net::IpAddr,
    server_port: u16,
    status: u32,
    tls: bool,
) -> Attributes {
    let mut attrs = vec![
        ("l7.protocol", protocol.as_str().to_string()),
        (
            "l7.role",
            if server { "server" } else { "client" }.to_string(),
        ),
        ("server.address", server_addr.to_string()),
        ("server.port", server_port.to_string()),
        ("l7.status_class", protocol.status_class(status).to_string()),
    ];
    if tls {
        attrs.push(("tls", "true".to_string()));
    }
    attrs
}
