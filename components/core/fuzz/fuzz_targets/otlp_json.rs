//! OTLP/JSON request bodies, read as each of the three signals.
#![no_main]

use ferrotel_core::signal::Signal;
use ferrotel_fuzz::check_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signal in Signal::ALL {
        check_json(signal, data);
    }
});
