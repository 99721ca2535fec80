//! The ring buffer's records, mirrored from `ebpf/events.h` (`#[repr(C)]`, the same fixed-width
//! fields; the sizes are asserted here and in the C header), and their parsing from raw bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const MAX_CAPTURE: usize = 4096;
const COMM_LEN: usize = 16;
const PATH_LEN: usize = 256;

pub const EV_CONNECT: u32 = 1;
pub const EV_CONNECT_FAILED: u32 = 2;
pub const EV_ACCEPT: u32 = 3;
pub const EV_CLOSE: u32 = 4;
pub const EV_LISTEN_OPEN: u32 = 5;
pub const EV_LISTEN_CLOSE: u32 = 6;
pub const EV_RETRANSMIT: u32 = 7;
pub const EV_L7: u32 = 8;
pub const EV_DISK: u32 = 9;
pub const EV_EXEC: u32 = 10;
pub const EV_EXIT: u32 = 11;
pub const EV_OOM_KILL: u32 = 12;

pub const L7_TLS: u8 = 1;
pub const L7_NO_SPAN: u8 = 2;
pub const L7_COUNTED: u8 = 4;
/// Not a span: sent for what its reply teaches user space (a MySQL prepare's statement id).
pub const L7_STATE_ONLY: u8 = 8;

pub const ROLE_CLIENT: u8 = 1;
pub const ROLE_SERVER: u8 = 2;

pub const TRANSPORT_TCP: u8 = 6;
pub const TRANSPORT_UDP: u8 = 17;

/// `enum ft_protocol` of events.h: one type for the kernel's numbers and the L7 parsers.
pub use ferrotel_l7::Protocol;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Tuple {
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub transport: u8,
    pub pad: u8,
}

impl Tuple {
    fn addr(&self, raw: &[u8; 16]) -> IpAddr {
        if self.family == 10 {
            let v6 = Ipv6Addr::from(*raw);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        } else {
            IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
        }
    }
    pub fn source(&self) -> IpAddr {
        self.addr(&self.saddr)
    }
    pub fn destination(&self) -> IpAddr {
        self.addr(&self.daddr)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub kind: u32,
    pub tgid: u32,
    pub ts_ns: u64,
    pub fd: u64,
    pub duration_ns: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub bytes: u64,
    pub error: i32,
    pub aux: u32,
    pub op: u8,
    pub role: u8,
    pub pad: [u8; 6],
    pub tuple: Tuple,
    pub comm: [u8; COMM_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct L7Header {
    pub kind: u32,
    pub tgid: u32,
    pub ts_ns: u64,
    pub fd: u64,
    pub duration_ns: u64,
    pub stream_id: u64,
    pub protocol: u32,
    pub status: u32,
    pub request_size: u32,
    pub response_size: u32,
    pub request_len: u32,
    pub response_len: u32,
    pub capture_size: u32,
    pub role: u8,
    /// `L7_TLS`, `L7_NO_SPAN`, `L7_COUNTED`, `L7_STATE_ONLY`
    pub flags: u8,
    pub pad: [u8; 2],
    pub tuple: Tuple,
    pub comm: [u8; COMM_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    pub kind: u32,
    pub tgid: u32,
    pub ts_ns: u64,
    pub ppid: u32,
    pub args_len: u32,
    pub comm: [u8; COMM_LEN],
    pub filename: [u8; PATH_LEN],
    pub args: [u8; PATH_LEN],
}

/// A value of the kernel's `sockets` map (`struct ft_sock` in ferrotel.bpf.c): a followed socket
/// and its byte counts so far, read every collection for connections that stay open.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SockEntry {
    pub sk: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub tuple: Tuple,
    pub role: u8,
    pub proto: u8,
    /// FT_SOCK_* in ferrotel.bpf.c: IGNORED 1, TLS 2, NOT_L7 4, PENDING 8, PLAIN 16
    pub flags: u8,
    pub misses: u8,
    pub request_size: u32,
    pub request_start_ns: u64,
}

pub const SOCK_IGNORED: u8 = 1;

/// `struct ft_l7_key` in events.h: one series of the kernel's L7 statistics.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct L7Key {
    pub tgid: u32,
    pub status: u32,
    pub port: u16,
    pub protocol: u8,
    pub role: u8,
    pub family: u8,
    pub flags: u8,
    pub pad: [u8; 2],
    pub addr: [u8; 16],
}

impl L7Key {
    /// The server's address.
    pub fn address(&self) -> IpAddr {
        let tuple = Tuple {
            saddr: self.addr,
            daddr: [0; 16],
            sport: 0,
            dport: 0,
            family: u16::from(self.family),
            transport: 0,
            pad: 0,
        };
        tuple.source()
    }
}

pub const L7_BUCKETS: usize = 15;

/// `struct ft_l7_stats`: a count, the sum of durations and the latency histogram's buckets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct L7Stats {
    pub count: u64,
    pub sum_ns: u64,
    pub buckets: [u64; L7_BUCKETS],
}

impl L7Stats {
    pub fn add(&mut self, other: &L7Stats) {
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
    }

    /// What was added since `earlier` (the kernel's values only grow while the key exists).
    pub fn since(&self, earlier: &L7Stats) -> L7Stats {
        let mut delta = L7Stats {
            count: self.count.saturating_sub(earlier.count),
            sum_ns: self.sum_ns.saturating_sub(earlier.sum_ns),
            buckets: [0; L7_BUCKETS],
        };
        for (i, bucket) in delta.buckets.iter_mut().enumerate() {
            *bucket = self.buckets[i].saturating_sub(earlier.buckets[i]);
        }
        delta
    }
}

/// `struct ft_request_key` and the start of `struct ft_request_meta`: requests awaiting responses.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RequestKey {
    pub sock_key: u64,
    pub stream: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    pub start_ns: u64,
    pub proto: u32,
    pub size: u32,
    pub len: u32,
    pub sampled: u32,
    pub head: [u8; 128],
}

// SAFETY: #[repr(C)] structs of integers and byte arrays with explicit padding: every bit
// pattern is a valid value, as aya requires of map keys and values.
unsafe impl aya::Pod for L7Key {}
unsafe impl aya::Pod for L7Stats {}
unsafe impl aya::Pod for RequestKey {}
unsafe impl aya::Pod for RequestMeta {}

const _: () = assert!(size_of::<L7Key>() == 32);
const _: () = assert!(size_of::<L7Stats>() == 136);
const _: () = assert!(size_of::<RequestMeta>() == 152);

// SAFETY: a #[repr(C)] struct of integers and byte arrays with explicit padding: every bit
// pattern is a valid value, as aya requires of map values.
unsafe impl aya::Pod for SockEntry {}

const _: () = assert!(size_of::<SockEntry>() == 80);

// The same numbers as FT_EVENT_SIZE, FT_L7_HEADER_SIZE and FT_EXEC_EVENT_SIZE in events.h.
const _: () = assert!(size_of::<Event>() == 128);
const _: () = assert!(size_of::<L7Header>() == 128);
const _: () = assert!(size_of::<ExecEvent>() == 552);

/// One L7 exchange with its captured bytes.
#[derive(Clone)]
pub struct L7Event {
    pub header: L7Header,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
}

pub enum Record {
    Event(Event),
    L7(L7Event),
    Exec(Box<ExecEvent>),
}

/// Reads a `T` from the front of `bytes` (the ring buffer makes no alignment promise to us).
fn read<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked, T is a plain-old-data #[repr(C)] struct of integers and
    // byte arrays (every bit pattern is valid), and read_unaligned has no alignment requirement.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

impl Record {
    /// Parses one ring buffer record; None for a record too short for its type.
    pub fn parse(bytes: &[u8]) -> Option<Record> {
        let kind = u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?);
        match kind {
            EV_L7 => {
                let header: L7Header = read(bytes)?;
                let payload = &bytes[size_of::<L7Header>()..];
                let cap = (header.capture_size as usize).min(MAX_CAPTURE);
                let request_len = (header.request_len as usize).min(cap);
                let response_len = (header.response_len as usize).min(MAX_CAPTURE);
                let request = payload.get(..request_len)?.to_vec();
                let response = if response_len == 0 {
                    Vec::new()
                } else {
                    payload.get(cap..cap + response_len)?.to_vec()
                };
                Some(Record::L7(L7Event {
                    header,
                    request,
                    response,
                }))
            }
            EV_EXEC => read(bytes).map(|e| Record::Exec(Box::new(e))),
            _ => read(bytes).map(Record::Event),
        }
    }
}

/// A NUL-terminated C string from a fixed array, lossily as UTF-8.
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// argv as the kernel keeps it (NUL-separated), joined by spaces.
pub fn args_line(bytes: &[u8]) -> String {
    bytes
        .split(|&b| b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_l7_record_splits_into_request_and_response_at_the_capture_size() {
        let mut header: L7Header = unsafe { std::mem::zeroed() };
        header.kind = EV_L7;
        header.capture_size = 8;
        header.request_len = 4;
        header.response_len = 3;
        let mut bytes = vec![0u8; size_of::<L7Header>()];
        // SAFETY: L7Header is plain old data and bytes has its size.
        unsafe { std::ptr::write_unaligned(bytes.as_mut_ptr().cast::<L7Header>(), header) };
        bytes.extend_from_slice(b"GET ....HTT");
        let Some(Record::L7(event)) = Record::parse(&bytes) else {
            panic!("not parsed as L7")
        };
        assert_eq!(event.request, b"GET ");
        assert_eq!(event.response, b"HTT");
        // a record cut short is refused, not read past its end
        assert!(Record::parse(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn addresses_read_as_the_kernel_writes_them() {
        let mut tuple: Tuple = unsafe { std::mem::zeroed() };
        tuple.family = 2;
        tuple.daddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(tuple.destination().to_string(), "127.0.0.1");
        tuple.family = 10;
        tuple.daddr = Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped().octets();
        assert_eq!(tuple.destination().to_string(), "10.1.2.3");
        assert_eq!(args_line(b"psql\0-c\0select 1\0"), "psql -c select 1");
        assert_eq!(Protocol::Http.status_class(404), "4xx");
        assert_eq!(Protocol::Redis.status_class(1), "error");
    }
}
