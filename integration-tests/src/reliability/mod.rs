//! The reliability suite: the real `ferrotel` binary between a tracked load generator and a
//! tracking sink, under outages, crashes, overload, shutdown and hostile input, proving that no
//! acknowledged item is lost.
//!
//! - `ids`: unique, identifiable items and the compact sets that hold their numbers;
//! - `tracked_load`: SDK-like clients (retrying refusals after Retry-After) with a ledger of what
//!   was acknowledged;
//! - `tracking_sink`: an in-process OTLP backend that records every delivered id, counts
//!   duplicates, and goes down (connection refused) and up on the same port;
//! - `collector`: the ferrotel process (config, kill -9, restart, SIGTERM, RSS sampling);
//! - `scenarios` and `hostile`: the scenarios, each returning a [`Report`].

pub mod collector;
pub mod harness;
pub mod hostile;
pub mod ids;
pub mod scenarios;
pub mod tracked_load;
pub mod tracking_sink;

use std::fmt::Write;
use std::time::Duration;

/// How long the scenarios run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// For `cargo test`: seconds-long outages, the whole suite in a few minutes.
    Short,
    /// For the README: a 60 s outage, a minute of overload, and so on.
    Full,
}

impl Length {
    /// `short` for a short run, `full` for a full one.
    pub fn pick<T>(self, short: T, full: T) -> T {
        match self {
            Length::Short => short,
            Length::Full => full,
        }
    }
}

/// One line of the results table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub scenario: String,
    /// Items sent (each unique; retries not counted again).
    pub sent: u64,
    pub acknowledged: u64,
    /// Distinct tracked items that reached the sink (may exceed `acknowledged`: a request can be
    /// delivered although its client saw an error).
    pub delivered: u64,
    /// Acknowledged but never delivered.
    pub lost: u64,
    /// Deliveries beyond the first of an item.
    pub duplicated: u64,
    /// "Try later" answers the clients got.
    pub refused: u64,
    pub peak_rss_mib: f64,
    pub duration: Duration,
}

/// One scenario-specific condition and whether it held.
#[derive(Clone, Debug)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    pub detail: String,
}

/// What a scenario produced: its row, the checks it made, and what to read when one failed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub row: Row,
    pub checks: Vec<Check>,
    /// Facts worth printing under the table (rates, statuses seen, exit codes).
    pub notes: Vec<String>,
    /// The collector's output and self-metrics, shown when a check failed.
    pub diagnostics: String,
}

impl Report {
    pub fn check(&mut self, what: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            what: what.into(),
            passed,
            detail: detail.into(),
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks, one per line.
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("FAILED: {} ({})\n", c.what, c.detail))
            .collect()
    }

    /// Panics with the failed checks, the row and the diagnostics unless every check held.
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!(
                "{}\n{}\n{}notes:\n{}\ndiagnostics:\n{}",
                self.row.scenario,
                markdown_table(std::slice::from_ref(&self.row)),
                self.failures(),
                self.notes.join("\n"),
                tail(&self.diagnostics, 12_000)
            );
        }
    }
}

/// The last `max` bytes of `text` (on a char boundary).
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The results as a Markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | sent | acknowledged | delivered (unique) | lost | duplicated | refused requests | peak RSS MiB | duration |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} s |",
            r.scenario,
            r.sent,
            r.acknowledged,
            r.delivered,
            r.lost,
            r.duplicated,
            r.refused,
            r.peak_rss_mib,
            r.duration.as_secs_f64()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_fails_the_report_and_the_table_has_every_column() {
        let mut report = Report::default();
        report.check("lost == 0", true, "");
        assert!(report.passed());
        report.check("peak RSS under the limit", false, "160 MiB");
        assert!(!report.passed());
        assert!(report.failures().contains("160 MiB"));
        let table = markdown_table(&[Row {
            scenario: "x".into(),
            lost: 3,
            duration: Duration::from_millis(1500),
            ..Row::default()
        }]);
        assert!(
            table
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("| x | 0 | 0 | 0 | 3 |")
        );
        assert!(table.contains("1.5 s"));
        assert_eq!(tail("héllo", 4), "llo");
    }
}
