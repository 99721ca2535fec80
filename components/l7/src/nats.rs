//! NATS client protocol: one text line per operation (`PUB subject [reply] size`, `HPUB ...`,
//! `SUB subject [queue] sid`, `UNSUB`, `CONNECT {json}`, `PING`, `PONG`); a payload may follow.
//!
//! The semantic conventions register no `messaging.system` value for NATS; "nats" is the
//! protocol's own name, as the conventions allow a custom value for an unlisted system.

use crate::{Options, Semantics};

/// Subjects under this prefix are the reply inboxes of request-reply, one per requester or
/// request: temporary destinations, named by their template alone.
const INBOX: &str = "_INBOX.";

/// A messaging span: `messaging.system`, operation name and type, and the destination, whose
/// template (low cardinality), else its name, also names the span. Shared by the MQTT and AMQP
/// parsers.
pub(crate) fn messaging(
    system: &'static str,
    operation: &str,
    kind: Option<&'static str>,
    destination: Destination,
) -> Semantics {
    let name = match destination.template.as_ref().or(destination.name.as_ref()) {
        Some(d) => format!("{operation} {d}"),
        None => operation.to_string(),
    };
    let mut s = Semantics {
        name,
        attributes: Vec::new(),
    };
    s.push_str("messaging.system", system);
    s.push_str("messaging.operation.name", operation);
    if let Some(kind) = kind {
        s.push_str("messaging.operation.type", kind);
    }
    if let Some(name) = destination.name {
        s.push_str("messaging.destination.name", name);
    }
    if let Some(template) = destination.template {
        s.push_str("messaging.destination.template", template);
    }
    s
}

/// `messaging.destination.name` and `.template`. The conventions want a name on metrics only when
/// it is of low cardinality: a temporary destination (a reply inbox, a server-named queue) has
/// a template and no name.
#[derive(Default)]
pub(crate) struct Destination {
    pub name: Option<String>,
    pub template: Option<String>,
}

impl Destination {
    /// `name`, with a template when some `separator`-delimited segment looks like an identifier
    /// (as HTTP routes judge them: digits, UUIDs, long hex or long mixed tokens).
    pub(crate) fn named(name: String, separator: char) -> Destination {
        let mut template = String::with_capacity(name.len());
        for (i, segment) in name.split(separator).enumerate() {
            if i > 0 {
                template.push(separator);
            }
            template.push_str(&crate::http::route(segment));
        }
        Destination {
            template: (template != name).then_some(template),
            name: Some(name),
        }
    }

    pub(crate) fn temporary(template: &str) -> Destination {
        Destination {
            name: None,
            template: Some(template.to_string()),
        }
    }
}

/// The subject that follows the operation, if the capture holds it whole.
fn subject_destination(token: Option<&&[u8]>) -> Option<Destination> {
    Some(match token {
        Some(t) => {
            let s = subject(t)?;
            if s.starts_with(INBOX) {
                Destination::temporary("_INBOX.{id}")
            } else {
                Destination::named(s, '.')
            }
        }
        None => Destination::default(),
    })
}

fn is_count(token: &[u8]) -> bool {
    !token.is_empty() && token.len() <= 10 && token.iter().all(u8::is_ascii_digit)
}

/// Subjects are printable ASCII or UTF-8 without whitespace.
fn subject(token: &[u8]) -> Option<String> {
    if token.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return None;
    }
    std::str::from_utf8(token).ok().map(str::to_string)
}

pub(crate) fn parse(request: &[u8], _options: &Options) -> Option<Semantics> {
    let (line, complete) = match request.windows(2).position(|w| w == b"\r\n") {
        Some(end) => (&request[..end], true),
        None => (request, false),
    };
    let op_end = line
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(line.len());
    // without its line end, the operation word itself may be cut ("PIN")
    if !complete && op_end == line.len() {
        return None;
    }
    let op = line[..op_end].to_ascii_uppercase();
    let args = &line[op_end..];
    // a word the capture ends in may be cut: only words followed by a separator are certain
    let mut tokens: Vec<&[u8]> = args
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|t| !t.is_empty())
        .collect();
    if !complete && !args.ends_with(b" ") && !args.ends_with(b"\t") {
        tokens.pop();
    }
    match op.as_slice() {
        b"PUB" | b"HPUB" => {
            // PUB subject [reply] size; HPUB subject [reply] header-size total-size
            let counts = if op == b"PUB" { 1 } else { 2 };
            if complete
                && (!(counts + 1..=counts + 2).contains(&tokens.len())
                    || !tokens[tokens.len() - counts..].iter().all(|t| is_count(t)))
            {
                return None;
            }
            let destination = subject_destination(tokens.first())?;
            Some(messaging("nats", "publish", Some("send"), destination))
        }
        b"SUB" => {
            if complete && (!(2..=3).contains(&tokens.len()) || !is_count(tokens[tokens.len() - 1]))
            {
                return None;
            }
            let destination = subject_destination(tokens.first())?;
            // a subscription is how a NATS consumer asks for messages: the conventions' closest
            // operation type is "receive"
            let mut s = messaging("nats", "subscribe", Some("receive"), destination);
            if tokens.len() == 3 {
                s.push_str("messaging.consumer.group.name", subject(tokens[1])?);
            }
            Some(s)
        }
        b"UNSUB" => {
            if complete && (!(1..=2).contains(&tokens.len()) || !tokens.iter().all(|t| is_count(t)))
            {
                return None;
            }
            Some(messaging(
                "nats",
                "unsubscribe",
                None,
                Destination::default(),
            ))
        }
        // CONNECT's JSON may hold a user, password, token or signed nonce: none of it is read
        b"CONNECT" if args.trim_ascii_start().first().is_none_or(|&c| c == b'{') => {
            Some(messaging("nats", "connect", None, Destination::default()))
        }
        b"PING" | b"PONG" if tokens.is_empty() => {
            let op = if op == b"PING" { "ping" } else { "pong" };
            Some(messaging("nats", op, None, Destination::default()))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "nats_tests.rs"]
mod tests;
