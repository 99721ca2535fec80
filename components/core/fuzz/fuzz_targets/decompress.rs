//! The OTLP/HTTP receiver's Content-Encoding decoders under its size limit. Byte 0 picks the
//! encoding, bytes 1-2 the limit; the rest is the body. The output must stay within the limit,
//! and so must the memory taken on the way (beyond each decoder's fixed state); the same bytes
//! compressed by us must come back unchanged, or be refused as too large.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrotel_receiver_otlp::fuzzing::{BodyError, Encoding, decompress_blocking};
use libfuzzer_sys::fuzz_target;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    /// Counted as growth in place, as glibc does for blocks this large (mremap): the default
    /// would count the old and the new block at once, which the process never holds.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What a decoder may hold besides the output: one read chunk and its own state (zstd's window
/// is capped at 32 MiB by `window_log_max(25)`).
fn overhead(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gzip | Encoding::Zlib => 512 << 10,
        Encoding::Zstd => (32 << 20) + (1 << 20),
    }
}

fn inflate_within(encoding: Encoding, body: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = decompress_blocking(encoding, body, limit).map(|b| b.to_vec());
    let taken = PEAK.load(Ordering::Relaxed) - before;
    let out = result.as_ref().map_or(0, Vec::len);
    assert!(out <= limit, "{out} bytes out of a {limit}-byte limit");
    // The output is counted twice here (the decoder's buffer and our copy of it).
    assert!(
        taken <= limit + out + overhead(encoding),
        "{encoding:?} took {taken} bytes for a {limit}-byte limit"
    );
    result
}

fn compress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Encoding::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Encoding::Zstd => zstd::bulk::compress(data, 1).unwrap(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let encoding = [Encoding::Gzip, Encoding::Zlib, Encoding::Zstd][usize::from(data[0]) % 3];
    // Up to 16 MiB, in steps that make small limits likely.
    let limit = usize::from(u16::from_le_bytes([data[1], data[2]])) * 256;
    let body = &data[3..];
    let _ = inflate_within(encoding, body, limit);
    match inflate_within(encoding, &compress(encoding, body), limit) {
        Ok(out) => assert_eq!(out, body),
        Err(BodyError::TooLarge { .. }) => assert!(body.len() > limit),
        Err(e) => panic!("our own {encoding:?} output did not inflate: {e}"),
    }
});
