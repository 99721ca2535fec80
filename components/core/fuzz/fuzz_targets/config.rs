//! Config files: `Node::parse`, then `load` against a registry with the real OTLP receiver and
//! stand-ins for the distro's other components. Either gives a value or a `ConfigError`, never a
//! panic, a hang or a blow-up.
#![no_main]

use std::sync::Arc;

use ferrotel_core::component::Registry;
use ferrotel_core::config::{Node, load};
use ferrotel_core::testing::NopFactory;
use libfuzzer_sys::fuzz_target;

fn registry() -> Registry {
    let nop = |name| Arc::new(NopFactory::new(name).with_any_settings());
    Registry {
        receivers: vec![
            Arc::new(ferrotel_receiver_otlp::OtlpReceiverFactory),
            nop("nop"),
        ],
        processors: vec![nop("batch"), nop("memory_limiter"), nop("nop")],
        exporters: vec![
            nop("otlp"),
            nop("otlphttp"),
            nop("otlp_http"),
            nop("debug"),
            nop("nop"),
        ],
        connectors: vec![nop("forward"), nop("nop")],
        extensions: vec![nop("health_check"), nop("file_storage"), nop("nop")],
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `${file:…}` reads the named file: not what a fuzzer should be pointed at.
    if text.contains("file:") {
        return;
    }
    let _ = Node::parse(text, "fuzz.yaml");
    let _ = load(&[], &[], &registry(), Some(("fuzz.yaml", text)));
});
