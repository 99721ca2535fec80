//! OTLP protobuf as a receiver gets it: the framing walk, the limit walk, prost, split, concat
//! and the JSON transcoder must agree; above all, what the receiver's walk accepts prost decodes,
//! to the same item count. Byte 0 picks the signal (low bits) and the limits (high bit: small
//! ones, so short inputs reach every limit error); the rest is the request.
#![no_main]

use ferrotel_core::signal::Signal;
use ferrotel_core::wire::Limits;
use ferrotel_fuzz::{SMALL_LIMITS, check_protobuf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, request)) = data.split_first() else {
        return;
    };
    let signal = Signal::ALL[usize::from(selector & 0x7f) % 3];
    let limits = if selector & 0x80 != 0 {
        SMALL_LIMITS
    } else {
        Limits::DEFAULT
    };
    check_protobuf(signal, request, &limits);
});
