//! MQTT 3.1, 3.1.1 and 5 control packets a client sends: a fixed header (type, flags, remaining
//! length) and a variable header whose first field names the topic for PUBLISH, SUBSCRIBE and
//! UNSUBSCRIBE.
//!
//! The semantic conventions register no `messaging.system` value for MQTT; "mqtt" is the
//! protocol's name, as the conventions allow for an unlisted system. They have no QoS attribute
//! either, so the QoS is not reported. CONNECT is reported by name and protocol version only: its
//! payload holds the client id, will message, user name and password.

use crate::nats::{Destination, messaging};
use crate::{Options, Semantics};

const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const PUBREC: u8 = 5;
const PUBREL: u8 = 6;
const PUBCOMP: u8 = 7;
const SUBSCRIBE: u8 = 8;
const UNSUBSCRIBE: u8 = 10;
const PINGREQ: u8 = 12;
const DISCONNECT: u8 = 14;
const AUTH: u8 = 15;

/// A variable byte integer (remaining length, property length): at most 4 bytes. `None` when
/// malformed; `Some(None)` when the capture ends inside it.
fn varint(b: &[u8]) -> Option<Option<(usize, usize)>> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = b.get(i) else {
            return Some(None);
        };
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(Some((value, i + 1)));
        }
    }
    None
}

/// A length-prefixed UTF-8 string at the start of `b`, and what follows it. `Err(())` when it is
/// cut short, `Ok(None)` when it is not a string.
type Field<'a> = Result<Option<(&'a str, &'a [u8])>, ()>;

fn string(b: &[u8]) -> Field<'_> {
    let Some(len) = b.get(..2) else {
        return Err(());
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let Some(bytes) = b.get(2..2 + len) else {
        return Err(());
    };
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => Ok(Some((s, &b[2 + len..]))),
        _ => Ok(None),
    }
}

/// The first topic filter of a SUBSCRIBE or UNSUBSCRIBE after its packet id. Version 5 puts a
/// property length (and properties) before it, 3.1.1 does not, and only CONNECT says which version
/// the connection speaks. Read as 3.1.1, a 5 packet shows an empty filter (no properties: 0x00,
/// then the length's high byte, 0x00 for any filter under 256 bytes) or a length past the packet's
/// end (properties: their length, then a property id); read as 5, a 3.1.1 packet shows a property
/// length that runs past the packet or a filter length that does. `None` when neither reading
/// fits; `Some(None)` when the capture ends first.
fn first_filter(body: &[u8], declared: usize, subscribe: bool) -> Option<Option<String>> {
    let fits = |rest: &[u8], len: usize| declared >= body.len() - rest.len() + 2 + len;
    let filter_len = |rest: &[u8]| {
        rest.get(..2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    };
    let v3 = &body[2.min(body.len())..];
    match filter_len(v3) {
        None => return Some(None),
        Some(len) if len > 0 && fits(v3, len) => match string(v3) {
            // 3.1.1 subscription options are a QoS, 0 to 2: 5 uses the upper bits too
            Ok(Some((filter, after))) if !subscribe || after.first().is_none_or(|&o| o <= 2) => {
                return Some(Some(filter.to_string()));
            }
            Ok(_) => {}
            Err(()) => return Some(None),
        },
        Some(_) => {}
    }
    let (props, n) = match varint(v3)? {
        Some(v) => v,
        None => return Some(None),
    };
    // v3 starts after the 2-byte packet id
    if 2 + n + props > declared {
        return None;
    }
    let Some(v5) = v3.get(n + props..) else {
        return Some(None);
    };
    match filter_len(v5) {
        None => Some(None),
        Some(len) if len > 0 && fits(v5, len) => match string(v5) {
            Ok(Some((filter, _))) => Some(Some(filter.to_string())),
            Ok(None) => None,
            Err(()) => Some(None),
        },
        Some(_) => None,
    }
}

/// A topic (name or filter) as a destination: its levels are separated by `/`.
fn named(topic: Option<String>) -> Destination {
    topic.map_or_else(Destination::default, |t| Destination::named(t, '/'))
}

pub(crate) fn parse(request: &[u8], _options: &Options) -> Option<Semantics> {
    let (&first, rest) = request.split_first()?;
    let (kind, flags) = (first >> 4, first & 0x0f);
    let (declared, n) = varint(rest)??;
    // what of the packet the capture holds
    let body = &rest[n..rest.len().min(n + declared)];
    let fixed_flags = match kind {
        SUBSCRIBE | UNSUBSCRIBE | PUBREL => 0b0010,
        PUBLISH => flags,
        _ => 0,
    };
    if flags != fixed_flags {
        return None;
    }
    match kind {
        CONNECT => {
            let (protocol, after) = string(body).ok()??;
            let version = match (protocol, after.first()) {
                ("MQTT", Some(4)) => Some("3.1.1"),
                ("MQTT", Some(5)) => Some("5"),
                ("MQIsdp", Some(3)) => Some("3.1"),
                ("MQTT" | "MQIsdp", None) => None,
                _ => return None,
            };
            let mut s = messaging("mqtt", "connect", None, Destination::default());
            s.push_static("network.protocol.name", "mqtt");
            if let Some(version) = version {
                s.push_str("network.protocol.version", version);
            }
            Some(s)
        }
        PUBLISH => {
            if (flags >> 1) & 0b11 == 0b11 {
                return None; // no QoS 3
            }
            // a topic cut short is not named; with a v5 topic alias it is empty
            let topic = match string(body) {
                Ok(Some((topic, _))) if topic.contains(['+', '#']) => return None,
                Ok(Some((topic, _))) => (!topic.is_empty()).then(|| topic.to_string()),
                Ok(None) => return None,
                Err(()) => None,
            };
            Some(messaging("mqtt", "publish", Some("send"), named(topic)))
        }
        SUBSCRIBE | UNSUBSCRIBE => {
            if declared < 5 {
                return None; // packet id and at least one filter
            }
            let filter = first_filter(body, declared, kind == SUBSCRIBE)?;
            if kind == UNSUBSCRIBE {
                return Some(messaging("mqtt", "unsubscribe", None, named(filter)));
            }
            // a subscription is how an MQTT client asks for messages: the conventions' closest
            // operation type is "receive"
            Some(messaging(
                "mqtt",
                "subscribe",
                Some("receive"),
                named(filter),
            ))
        }
        // acknowledgements of a message the client received settle it
        PUBACK | PUBREC | PUBCOMP if declared >= 2 => {
            let op = match kind {
                PUBACK => "puback",
                PUBREC => "pubrec",
                _ => "pubcomp",
            };
            Some(messaging(
                "mqtt",
                op,
                Some("settle"),
                Destination::default(),
            ))
        }
        PUBREL if declared >= 2 => Some(messaging("mqtt", "pubrel", None, Destination::default())),
        PINGREQ if declared == 0 => Some(messaging("mqtt", "ping", None, Destination::default())),
        DISCONNECT => Some(messaging(
            "mqtt",
            "disconnect",
            None,
            Destination::default(),
        )),
        AUTH => Some(messaging("mqtt", "auth", None, Destination::default())),
        _ => None,
    }
}

#[cfg(test)]
#[path = "mqtt_tests.rs"]
mod tests;
