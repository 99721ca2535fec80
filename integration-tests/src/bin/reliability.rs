//! ferrotel-reliability: runs the reliability scenarios against a ferrotel binary and prints the
//! results as a Markdown table (for the README), with notes and any failed checks below it.
//!
//! ```text
//! cargo build --release -p ferrotel -p ferrotel-integration-tests
//! target/release/ferrotel-reliability --full --ferrotel target/release/ferrotel
//! ```
//! Exits 1 when a check failed (a lost item, RSS over the limit, a bad exit code, ...).

use clap::Parser;
use ferrotel_integration_tests::reliability::{self, Length, Report, hostile, scenarios};
use std::path::PathBuf;

type Scenario = fn(Length) -> Report;

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel-reliability",
    version,
    about = "Proves that ferrotel loses no acknowledged item under outages, crashes, overload, shutdown and hostile input"
)]
struct Args {
    /// Full-length scenarios (a 60 s outage, a minute of overload, ...); short ones otherwise.
    #[arg(long)]
    full: bool,
    /// The ferrotel binary to test (default: $FERROTEL_BIN, else target/debug/ferrotel).
    #[arg(long)]
    ferrotel: Option<PathBuf>,
    /// Run only these scenarios (letters a-e, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<char>,
    /// Also print each scenario's diagnostics (ferrotel's output, self-metrics) when it fails.
    #[arg(long)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    if let Some(path) = &args.ferrotel {
        // procs::ferrotel_bin() reads it.
        // SAFETY: nothing else runs yet: no thread has been started that could read the environment.
        unsafe { std::env::set_var("FERROTEL_BIN", path) };
    }
    let length = if args.full {
        Length::Full
    } else {
        Length::Short
    };
    let all: [(char, Scenario); 5] = [
        ('a', scenarios::backend_outage),
        ('b', scenarios::persistent_queue_crash),
        ('c', scenarios::overload),
        ('d', scenarios::sigterm_under_load),
        ('e', hostile::hostile_input),
    ];
    let binary = ferrotel_integration_tests::procs::ferrotel_bin();
    eprintln!("ferrotel under test: {}", binary.display());
    let mut reports = Vec::new();
    for (letter, scenario) in all {
        if !args.only.is_empty() && !args.only.contains(&letter) {
            continue;
        }
        eprintln!("running scenario ({letter}) ...");
        let report = scenario(length);
        eprintln!(
            "{}",
            reliability::markdown_table(std::slice::from_ref(&report.row))
                .lines()
                .last()
                .unwrap_or_default()
        );
        reports.push(report);
    }
    let rows: Vec<_> = reports.iter().map(|r| r.row.clone()).collect();
    println!("{}", reliability::markdown_table(&rows));
    for report in &reports {
        println!("{}:", report.row.scenario);
        for note in &report.notes {
            println!("  - {note}");
        }
        print!("{}", report.failures());
        if args.verbose && !report.passed() {
            println!("{}", reliability::tail(&report.diagnostics, 20_000));
        }
    }
    if reports.iter().any(|r| !r.passed()) {
        std::process::exit(1);
    }
}
