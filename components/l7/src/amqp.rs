//! AMQP 0-9-1 method frames a client sends (type 1, channel, size, class id, method id,
//! arguments, frame end 0xCE), possibly after the protocol header of a new connection. A publish
//! writes its content header and body frames after the method frame: only the method is read.
//!
//! `messaging.system` is "rabbitmq": the only AMQP 0-9-1 broker the semantic conventions list,
//! whose page defines the destination of a publish as `{exchange}:{routing key}`.

use crate::nats::{Destination, messaging};
use crate::{Options, Semantics, Value};

const HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";
const METHOD: u8 = 1;
/// The largest frame taken for real: RabbitMQ's frame_max tops out at 2^31 - 1 bytes.
const MAX_FRAME: u32 = 1 << 31;

/// The method's name: "class.method" (`queue.declare`), except the basic class's, which are the
/// messaging operations themselves (`publish`, `get`, `ack`) and go by their short name, as the
/// RabbitMQ conventions name them.
fn method_name(class: u16, method: u16) -> Option<&'static str> {
    Some(match (class, method) {
        (10, 11) => "connection.start-ok",
        (10, 21) => "connection.secure-ok",
        (10, 31) => "connection.tune-ok",
        (10, 40) => "connection.open",
        (10, 50) => "connection.close",
        (10, 51) => "connection.close-ok",
        (10, 60) => "connection.blocked",
        (10, 61) => "connection.unblocked",
        (10, 70) => "connection.update-secret",
        (20, 10) => "channel.open",
        (20, 20) => "channel.flow",
        (20, 21) => "channel.flow-ok",
        (20, 40) => "channel.close",
        (20, 41) => "channel.close-ok",
        (40, 10) => "exchange.declare",
        (40, 20) => "exchange.delete",
        (40, 30) => "exchange.bind",
        (40, 40) => "exchange.unbind",
        (50, 10) => "queue.declare",
        (50, 20) => "queue.bind",
        (50, 30) => "queue.purge",
        (50, 40) => "queue.delete",
        (50, 50) => "queue.unbind",
        (60, 10) => "qos",
        (60, 20) => "consume",
        (60, 30) => "cancel",
        (60, 40) => "publish",
        (60, 70) => "get",
        (60, 80) => "ack",
        (60, 90) => "reject",
        (60, 100) => "recover-async",
        (60, 110) => "recover",
        (60, 120) => "nack",
        (85, 10) => "confirm.select",
        (90, 10) => "tx.select",
        (90, 20) => "tx.commit",
        (90, 30) => "tx.rollback",
        _ => return None,
    })
}

/// Reads the arguments of one method as far as the capture holds them.
struct Args<'a>(&'a [u8]);

impl Args<'_> {
    fn skip(&mut self, n: usize) -> Option<()> {
        self.0 = self.0.get(n..)?;
        Some(())
    }

    /// A short string: length byte and bytes. `None` when cut short or not UTF-8.
    fn short(&mut self) -> Option<String> {
        let (&len, rest) = self.0.split_first()?;
        let bytes = rest.get(..usize::from(len))?;
        let s = std::str::from_utf8(bytes).ok()?.to_string();
        self.0 = &rest[usize::from(len)..];
        Some(s)
    }
}

/// The template of a server-named queue or of the reply queue of RPC over RabbitMQ (direct
/// reply-to): anonymous destinations, a new name per client.
fn anonymous(name: &str) -> Option<&'static str> {
    if name.starts_with("amq.gen-") {
        Some("amq.gen-{id}")
    } else if name.starts_with("amq.rabbitmq.reply-to.") {
        Some("amq.rabbitmq.reply-to.{id}")
    } else {
        None
    }
}

/// A queue or exchange, its words separated by dots by custom (as topic exchanges route them).
fn destination(name: String) -> Destination {
    match anonymous(&name) {
        Some(template) => Destination::temporary(template),
        None => Destination::named(name, '.'),
    }
}

pub(crate) fn parse(request: &[u8], _options: &Options) -> Option<Semantics> {
    let frame = match request.strip_prefix(HEADER) {
        Some(rest) => rest,
        None => request,
    };
    let head = frame.get(..7)?;
    let channel = u16::from_be_bytes([head[1], head[2]]);
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
    // heartbeats and content frames are no request of their own
    if head[0] != METHOD || !(4..MAX_FRAME).contains(&size) {
        return None;
    }
    let size = size as usize;
    if frame.get(7 + size).is_some_and(|&end| end != 0xce) {
        return None;
    }
    let payload = &frame[7..frame.len().min(7 + size)];
    let ids = payload.get(..4)?;
    let class = u16::from_be_bytes([ids[0], ids[1]]);
    let method = u16::from_be_bytes([ids[2], ids[3]]);
    let op = method_name(class, method)?;
    // connection methods go on channel 0, every other on a channel the client opened
    if (class == 10) != (channel == 0) {
        return None;
    }
    let mut args = Args(&payload[4..]);
    let system = "rabbitmq";
    Some(match op {
        "publish" => {
            let exchange = args.skip(2).and_then(|()| args.short());
            let key = exchange.as_ref().and_then(|_| args.short());
            // per the RabbitMQ conventions: {exchange}:{routing key}, either alone when the other
            // is empty, amq.default when both are
            let destination = match (exchange.as_deref(), key.as_deref()) {
                (Some(""), Some("")) => destination("amq.default".to_string()),
                (Some(e), Some("")) => destination(e.to_string()),
                (Some(""), Some(k)) => destination(k.to_string()),
                (Some(e), Some(k)) => match anonymous(k) {
                    Some(template) => Destination::temporary(&format!("{e}:{template}")),
                    None => Destination::named(format!("{e}:{k}"), '.'),
                },
                _ => Destination::default(),
            };
            let mut s = messaging(system, op, Some("send"), destination);
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                s.push_str("messaging.rabbitmq.destination.routing_key", key);
            }
            s
        }
        "get" | "consume" | "queue.declare" | "queue.bind" | "queue.purge" | "queue.delete"
        | "queue.unbind" | "exchange.declare" | "exchange.delete" => {
            // the queue or exchange comes first, after a reserved short; an empty queue name
            // means the channel's last declared queue, or a server-named one
            let name = args
                .skip(2)
                .and_then(|()| args.short())
                .filter(|n| !n.is_empty());
            // consume, like get, is the consumer asking for messages: the conventions' closest
            // operation type is "receive"
            let kind = matches!(op, "get" | "consume").then_some("receive");
            let name = name.map_or_else(Destination::default, destination);
            messaging(system, op, kind, name)
        }
        "ack" | "reject" | "nack" => {
            let mut s = messaging(system, op, Some("settle"), Destination::default());
            if let Some(tag) = args.0.get(..8) {
                let tag = u64::from_be_bytes(tag.try_into().ok()?);
                if let Ok(tag) = i64::try_from(tag) {
                    s.attributes
                        .push(("messaging.rabbitmq.message.delivery_tag", Value::Int(tag)));
                }
            }
            s
        }
        // start-ok's response and update-secret carry credentials: only the name is kept
        _ => messaging(system, op, None, Destination::default()),
    })
}

#[cfg(test)]
#[path = "amqp_tests.rs"]
mod tests;
