//! The relay benchmark's figures: what one measured window gives, the median over rounds, and the
//! comparison table `make bench` prints.

use std::fmt::Write as _;

/// One collector's measured window.
#[derive(Clone, Debug)]
pub struct Measured {
    pub name: String,
    pub version: String,
    /// Spans that reached the sink during the window.
    pub spans: u64,
    pub seconds: f64,
    /// utime + stime of the collector process during the window.
    pub cpu_seconds: f64,
    /// VmHWM at the end of the window.
    pub peak_rss_bytes: u64,
    pub loadgen_refused: u64,
    pub loadgen_failed: u64,
}

/// A collector's figures, each the median over its rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub name: String,
    pub version: String,
    pub rounds: usize,
    pub spans_per_second: f64,
    pub cpu_seconds_per_million: f64,
    pub spans_per_cpu_second: f64,
    pub peak_rss_mb: f64,
    /// Cores the collector kept busy: 1.0 is one core saturated.
    pub cpu_use: f64,
    pub loadgen_refused: u64,
    pub loadgen_failed: u64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// One summary per collector, in order of first appearance.
pub fn summarize(results: &[Measured]) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for r in results {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let rounds: Vec<&Measured> = results.iter().filter(|r| r.name == name).collect();
            let of = |f: &dyn Fn(&Measured) -> f64| median(rounds.iter().map(|r| f(r)).collect());
            Summary {
                name: name.to_string(),
                version: rounds[0].version.clone(),
                rounds: rounds.len(),
                spans_per_second: of(&|r| r.spans as f64 / r.seconds),
                cpu_seconds_per_million: of(&|r| r.cpu_seconds / (r.spans as f64 / 1e6)),
                spans_per_cpu_second: of(&|r| r.spans as f64 / r.cpu_seconds),
                peak_rss_mb: of(&|r| r.peak_rss_bytes as f64 / (1024.0 * 1024.0)),
                cpu_use: of(&|r| r.cpu_seconds / r.seconds),
                loadgen_refused: rounds.iter().map(|r| r.loadgen_refused).sum(),
                loadgen_failed: rounds.iter().map(|r| r.loadgen_failed).sum(),
            }
        })
        .collect()
}

/// One load setting's figures: a title (e.g. "4 requests in flight") and one summary per collector.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub title: String,
    pub summaries: Vec<Summary>,
}

/// The report: `header` lines, each collector's version, then per section a table with one row per
/// collector, the ratios of ferrotel to each other collector, and notes.
pub fn table(header: &[String], sections: &[Section], pinned: bool) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "{line}");
    }
    let mut named: Vec<&str> = Vec::new();
    for s in sections.iter().flat_map(|section| &section.summaries) {
        if named.contains(&s.name.as_str()) {
            continue;
        }
        named.push(&s.name);
        let version = if s.version.is_empty() {
            "version unknown"
        } else {
            &s.version
        };
        let _ = writeln!(out, "{}: {version}", s.name);
    }
    let rounds = sections
        .iter()
        .flat_map(|section| &section.summaries)
        .map(|s| s.rounds)
        .max()
        .unwrap_or(0);
    if rounds > 1 {
        let _ = writeln!(
            out,
            "figures: median of {rounds} rounds, collectors alternating"
        );
    }
    let mut any_ratio = false;
    for section in sections {
        let summaries = &section.summaries;
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", section.title);
        let _ = writeln!(
            out,
            "{:<16} {:>12} {:>14} {:>14} {:>12} {:>9}",
            "collector", "spans/s", "CPU-s/M spans", "spans/CPU-s", "peak RSS MB", "CPU use"
        );
        for s in summaries {
            let _ = writeln!(
                out,
                "{:<16} {:>12.0} {:>14.3} {:>14.0} {:>12.1} {:>9.2}",
                s.name,
                s.spans_per_second,
                s.cpu_seconds_per_million,
                s.spans_per_cpu_second,
                s.peak_rss_mb,
                s.cpu_use
            );
        }
        if let Some(f) = summaries.iter().find(|s| s.name == "ferrotel") {
            for other in summaries.iter().filter(|s| s.name != "ferrotel") {
                any_ratio = true;
                let _ = writeln!(
                    out,
                    "{:<16} {:>12.2} {:>14.2} {:>14.2} {:>12.2}",
                    format!("ferrotel/{}", other.name),
                    f.spans_per_second / other.spans_per_second,
                    f.cpu_seconds_per_million / other.cpu_seconds_per_million,
                    f.spans_per_cpu_second / other.spans_per_cpu_second,
                    f.peak_rss_mb / other.peak_rss_mb,
                );
            }
        }
        for s in summaries {
            if pinned && s.cpu_use < 0.9 {
                let _ = writeln!(
                    out,
                    "note: {} kept {:.2} of its core busy: the load, not the collector, set its spans/s; compare CPU-s/M spans",
                    s.name, s.cpu_use
                );
            }
            if s.loadgen_refused + s.loadgen_failed > 0 {
                let _ = writeln!(
                    out,
                    "note: {} refused {} and failed {} loadgen requests",
                    s.name, s.loadgen_refused, s.loadgen_failed
                );
            }
        }
    }
    if any_ratio {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "(spans/s and spans/CPU-s: higher is better; CPU-s/M spans and peak RSS: lower is better)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(name: &str, spans: u64, cpu_seconds: f64) -> Measured {
        Measured {
            name: name.to_string(),
            version: format!("{name} 1.0"),
            spans,
            seconds: 10.0,
            cpu_seconds,
            peak_rss_bytes: 50 << 20,
            loadgen_refused: 0,
            loadgen_failed: 0,
        }
    }

    #[test]
    fn summaries_take_the_median_of_each_figure() {
        let results = [
            measured("ferrotel", 3_000_000, 10.0),
            measured("rotel", 1_000_000, 10.0),
            measured("ferrotel", 2_000_000, 8.0),
            measured("rotel", 500_000, 9.0),
            measured("ferrotel", 9_000_000, 9.0),
            measured("rotel", 700_000, 10.0),
        ];
        let summaries = summarize(&results);
        assert_eq!(summaries.len(), 2);
        let f = &summaries[0];
        assert_eq!((f.name.as_str(), f.rounds), ("ferrotel", 3));
        assert_eq!(f.spans_per_second, 300_000.0);
        assert_eq!(f.cpu_use, 0.9);
        assert_eq!(f.peak_rss_mb, 50.0);
        // Per round: 10/3, 8/2, 9/9 CPU-s per million spans; the median is 10/3.
        assert!((f.cpu_seconds_per_million - 10.0 / 3.0).abs() < 1e-9);
        assert_eq!(summaries[1].spans_per_second, 70_000.0);
    }

    #[test]
    fn the_table_has_a_section_per_setting_with_rows_ratios_and_notes() {
        let section = |title: &str, results: &[Measured]| Section {
            title: title.to_string(),
            summaries: summarize(results),
        };
        let sections = [
            section(
                "4 in flight",
                &[
                    measured("ferrotel", 4_000_000, 6.0),
                    measured("rotel", 1_000_000, 10.0),
                    measured("otelcol", 2_000_000, 10.0),
                ],
            ),
            section(
                "512 in flight",
                &[
                    measured("ferrotel", 8_000_000, 10.0),
                    measured("rotel", 2_000_000, 10.0),
                    measured("otelcol", 1_000_000, 8.0),
                ],
            ),
        ];
        let text = table(&["header line".to_string()], &sections, true);
        assert!(text.starts_with(
            "header line\nferrotel: ferrotel 1.0\nrotel: rotel 1.0\notelcol: otelcol 1.0\n\n4 in flight\n"
        ));
        let ratios = |name: &str| -> Vec<Vec<String>> {
            text.lines()
                .filter(|l| l.starts_with(name))
                .map(|l| l.split_whitespace().skip(1).map(String::from).collect())
                .collect()
        };
        assert_eq!(
            ratios("ferrotel/rotel"),
            [
                ["4.00", "0.15", "6.67", "1.00"],
                ["4.00", "0.25", "4.00", "1.00"]
            ]
        );
        assert_eq!(
            ratios("ferrotel/otelcol"),
            [
                ["2.00", "0.30", "3.33", "1.00"],
                ["8.00", "0.16", "6.40", "1.00"]
            ]
        );
        let first = &text[..text.find("512 in flight").expect("a second section")];
        assert!(first.contains("note: ferrotel kept 0.60 of its core busy"));
        assert!(!text.contains("note: rotel kept"));
        assert_eq!(text.matches("higher is better").count(), 1);
    }
}
