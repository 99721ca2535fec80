//! The metrics the receiver emits (documented, with their Coroot counterparts, in the crate's
//! README) and the names it gives to kernel numbers.

use crate::metrics::{Definition, Kind};

macro_rules! define {
    ($name:literal, $kind:ident, $unit:literal, $description:literal) => {
        Definition {
            name: $name,
            description: $description,
            unit: $unit,
            kind: Kind::$kind,
        }
    };
}

pub static DEFINITIONS: &[Definition] = &[
    define!(
        "tcp.connection.attempts",
        Counter,
        "{attempt}",
        "Outbound TCP connections attempted"
    ),
    define!(
        "tcp.connection.successes",
        Counter,
        "{connection}",
        "Outbound TCP connections established"
    ),
    define!(
        "tcp.connection.failures",
        Counter,
        "{attempt}",
        "Outbound TCP connections that failed, by errno"
    ),
    define!(
        "tcp.connection.duration",
        Histogram,
        "s",
        "Time from connect() to the connection being established"
    ),
    define!(
        "tcp.connections.active",
        UpDown,
        "{connection}",
        "Open TCP connections, outbound by destination and inbound by local port"
    ),
    define!("tcp.listening", Gauge, "{socket}", "Listening TCP sockets"),
    define!(
        "tcp.retransmits",
        Counter,
        "{segment}",
        "Retransmitted TCP segments"
    ),
    define!(
        "tcp.io",
        Counter,
        "By",
        "Bytes sent and received on TCP connections"
    ),
    define!(
        "l7.requests",
        Counter,
        "{request}",
        "L7 requests by protocol, server and status class"
    ),
    define!(
        "l7.request.duration",
        Histogram,
        "s",
        "Time from a request to the first bytes of its response"
    ),
    define!(
        "http.server.request.duration",
        Histogram,
        "s",
        "Duration of HTTP server requests (l7.semconv_metrics)"
    ),
    define!(
        "http.client.request.duration",
        Histogram,
        "s",
        "Duration of HTTP client requests (l7.semconv_metrics)"
    ),
    define!(
        "db.client.operation.duration",
        Histogram,
        "s",
        "Duration of database client operations (l7.semconv_metrics)"
    ),
    define!(
        "rpc.server.call.duration",
        Histogram,
        "s",
        "Duration of RPCs served (l7.semconv_metrics)"
    ),
    define!(
        "rpc.client.call.duration",
        Histogram,
        "s",
        "Duration of RPCs made (l7.semconv_metrics)"
    ),
    define!(
        "messaging.client.operation.duration",
        Histogram,
        "s",
        "Duration of messaging operations (l7.semconv_metrics)"
    ),
    define!(
        "dns.requests",
        Counter,
        "{request}",
        "DNS queries over UDP, by name, type and response code"
    ),
    define!(
        "dns.request.duration",
        Histogram,
        "s",
        "Time from a DNS query to its response"
    ),
    define!(
        "system.disk.operations",
        Counter,
        "{operation}",
        "Completed block I/O requests"
    ),
    define!(
        "system.disk.io",
        Counter,
        "By",
        "Bytes of completed block I/O requests"
    ),
    define!(
        "system.disk.operation.duration",
        Histogram,
        "s",
        "Block I/O latency, issue to completion"
    ),
    define!(
        "process.disk.io",
        Counter,
        "By",
        "Block I/O bytes issued by a process"
    ),
    define!("process.starts", Counter, "{process}", "Programs executed"),
    define!("process.exits", Counter, "{process}", "Processes exited"),
    define!(
        "process.oom_kills",
        Counter,
        "{process}",
        "Processes killed by the OOM killer"
    ),
];

pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        1 => "EPERM",
        13 => "EACCES",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

pub fn rcode_name(rcode: u32) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => return format!("RCODE{rcode}"),
    };
    name.to_string()
}

fn qtype_name(qtype: u16) -> String {
    let name = match qtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        65 => "HTTPS",
        _ => return format!("TYPE{qtype}"),
    };
    name.to_string()
}

/// The question of a DNS query: its name (without the trailing dot) and type.
pub fn dns_question(query: &[u8]) -> Option<(String, String)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        // compression pointers do not appear in a question; anything else is not a name
        if len > 63 || labels.len() > 127 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).into_owned());
        at += len;
    }
    let qtype = u16::from_be_bytes(query.get(at..at + 2)?.try_into().ok()?);
    Some((labels.join("."), qtype_name(qtype)))
}

/// `vda`, `nvme0n1`, … from /sys/dev/block; `major:minor` when sysfs does not say.
pub fn block_device_name(major: u32, minor: u32) -> String {
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent"));
    uevent
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("DEVNAME=").map(str::to_string))
        })
        .unwrap_or_else(|| format!("{major}:{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_question_of_a_query() {
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x1c\x00\x01");
        assert_eq!(
            dns_question(&query),
            Some(("www.example.com".into(), "AAAA".into()))
        );
        assert_eq!(dns_question(&query[..20]), None, "cut short");
        assert_eq!(errno_name(111), "ECONNREFUSED");
        assert_eq!(rcode_name(3), "NXDOMAIN");
    }

    #[test]
    fn every_metric_is_defined_once() {
        let mut names: Vec<_> = DEFINITIONS.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DEFINITIONS.len());
    }
}
