//! The kernel's protocol detectors (`ebpf/protocols.h`), compiled for the host by build.rs: the
//! unit tests run the very C the BPF programs run.

use crate::events::{Protocol, TRANSPORT_TCP, TRANSPORT_UDP};

/// What the kernel reads of a buffer to detect and parse it (`FT_DETECT_BYTES` in
/// ferrotel.bpf.c): the tests see exactly that much, however long the buffer they give.
pub const DETECT_BYTES: usize = 128;

unsafe extern "C" {
    fn ft_host_detect_request(
        b: *const u8,
        len: u32,
        size: u32,
        transport: u8,
        prev: u32,
        stream: *mut u64,
    ) -> u32;
    fn ft_host_detect_request_of(
        proto: u32,
        b: *const u8,
        len: u32,
        size: u32,
        stream: *mut u64,
    ) -> u32;
    fn ft_host_tls_record(b: *const u8, len: u32) -> i32;
    fn ft_host_http2_request_frame(b: *const u8, len: u32) -> u32;
    fn ft_host_parse_response(
        proto: u32,
        b: *const u8,
        len: u32,
        size: u32,
        stream: *mut u64,
        status: *mut u32,
    ) -> i32;
}

fn raw(protocol: Option<Protocol>) -> u32 {
    protocol.map_or(0, Protocol::raw)
}

/// What the kernel makes of a buffer written (client) or read (server) as a request: its
/// protocol and stream id. `prev` is what the socket spoke before.
pub fn request(bytes: &[u8], udp: bool, prev: Option<Protocol>) -> Option<(Protocol, u64)> {
    let mut stream = 0u64;
    let transport = if udp { TRANSPORT_UDP } else { TRANSPORT_TCP };
    let len = bytes.len().min(DETECT_BYTES) as u32;
    // SAFETY: the C reads at most `len` bytes of `bytes` and writes one u64 through `stream`.
    let proto = unsafe {
        ft_host_detect_request(
            bytes.as_ptr(),
            len,
            bytes.len() as u32,
            transport,
            raw(prev),
            &mut stream,
        )
    };
    Protocol::from_raw(proto).map(|p| (p, stream))
}

/// Whether a buffer is a response of `protocol`: its stream id and status.
pub fn response(protocol: Protocol, bytes: &[u8]) -> Option<(u64, u32)> {
    let (mut stream, mut status) = (0u64, 0u32);
    let len = bytes.len().min(DETECT_BYTES) as u32;
    // SAFETY: as in `request`; `status` is one u32.
    let found = unsafe {
        ft_host_parse_response(
            raw(Some(protocol)),
            bytes.as_ptr(),
            len,
            bytes.len() as u32,
            &mut stream,
            &mut status,
        )
    };
    (found != 0).then_some((stream, status))
}

/// What the kernel makes of a request-side buffer on a socket already known to speak `protocol`:
/// only that protocol's detector runs. Its stream id if it is a request.
pub fn request_of(protocol: Protocol, bytes: &[u8]) -> Option<u64> {
    let mut stream = 0u64;
    let len = bytes.len().min(DETECT_BYTES) as u32;
    // SAFETY: as in `request`.
    let proto = unsafe {
        ft_host_detect_request_of(
            raw(Some(protocol)),
            bytes.as_ptr(),
            len,
            bytes.len() as u32,
            &mut stream,
        )
    };
    (proto != 0).then_some(stream)
}

/// Whether a socket's first request-side bytes are a TLS record (its bytes are then not parsed).
pub fn tls_record(bytes: &[u8]) -> bool {
    let len = bytes.len().min(DETECT_BYTES) as u32;
    // SAFETY: the C reads at most `len` bytes of `bytes`.
    unsafe { ft_host_tls_record(bytes.as_ptr(), len) != 0 }
}

/// Where an HTTP/2 request's HEADERS frame starts in a buffer (past a preface and the SETTINGS or
/// WINDOW_UPDATE frames read with it): the head the kernel sends user space starts there.
pub fn http2_request_frame(bytes: &[u8]) -> usize {
    let len = bytes.len().min(DETECT_BYTES) as u32;
    // SAFETY: the C reads at most `len` bytes of `bytes`.
    unsafe { ft_host_http2_request_frame(bytes.as_ptr(), len) as usize }
}
