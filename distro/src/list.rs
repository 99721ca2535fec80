//! `ferrotel components`: the shipped components in otelcol's YAML layout.

use ferrotel_core::component::{Factory, Registry};
use ferrotel_core::{Signal, Stability};
use std::fmt::Write;

fn entry(out: &mut String, factory: &dyn Factory, stability: &[(String, Stability)]) {
    let _ = writeln!(out, "    - name: {}", factory.type_name());
    if !factory.aliases().is_empty() {
        let _ = writeln!(
            out,
            "      deprecated_aliases: [{}]",
            factory.aliases().join(", ")
        );
    }
    let _ = writeln!(out, "      stability:");
    for (what, level) in stability {
        let _ = writeln!(out, "        {what}: {}", level.as_str());
    }
}

fn per_signal(signals: &[(Signal, Stability)]) -> Vec<(String, Stability)> {
    let mut list: Vec<_> = signals
        .iter()
        .map(|(s, l)| (s.as_str().to_owned(), *l))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

pub fn components_yaml(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "buildinfo:\n    command: ferrotel\n    description: ferrotel, an OpenTelemetry Collector distribution in Rust\n    version: {}",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("receivers:\n");
    for f in &registry.receivers {
        entry(&mut out, f.as_ref(), &per_signal(f.signals()));
    }
    out.push_str("processors:\n");
    for f in &registry.processors {
        entry(&mut out, f.as_ref(), &per_signal(f.signals()));
    }
    out.push_str("exporters:\n");
    for f in &registry.exporters {
        entry(&mut out, f.as_ref(), &per_signal(f.signals()));
    }
    out.push_str("connectors:\n");
    for f in &registry.connectors {
        let pairs: Vec<_> = f
            .pairs()
            .iter()
            .map(|(from, to, l)| (format!("{from}_to_{to}"), *l))
            .collect();
        entry(&mut out, f.as_ref(), &pairs);
    }
    out.push_str("extensions:\n");
    for f in &registry.extensions {
        entry(
            &mut out,
            f.as_ref(),
            &[("extension".to_owned(), f.stability())],
        );
    }
    out.push_str("providers:\n    - scheme: env\n    - scheme: file\n    - scheme: yaml\n");
    out
}
