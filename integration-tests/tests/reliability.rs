//! The reliability suite, short: the real ferrotel binary between tracked clients and a tracking
//! sink, under a backend outage, a crash with a persistent queue, 10x overload, SIGTERM under
//! load and hostile input; each must lose no acknowledged item. Controls check that the harness
//! does see loss when a collector drops acknowledged data.
//!
//! Scenarios run one at a time (they share two cores and measure memory); the full-length run is
//! `ferrotel-reliability --full`.

use ferrotel_integration_tests::reliability::{Length, Report, hostile, scenarios};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(scenario: fn(Length) -> Report) -> Report {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let report = scenario(Length::Short);
    eprintln!(
        "{}",
        ferrotel_integration_tests::reliability::markdown_table(std::slice::from_ref(&report.row))
    );
    for note in &report.notes {
        eprintln!("  - {note}");
    }
    report
}

#[test]
fn a_backend_outage_loses_nothing_acknowledged() {
    run(scenarios::backend_outage).assert_passed();
}

#[test]
fn a_crash_with_a_persistent_queue_loses_nothing_acknowledged() {
    run(scenarios::persistent_queue_crash).assert_passed();
}

#[test]
fn overload_is_refused_within_the_memory_limit_and_loses_nothing_acknowledged() {
    run(scenarios::overload).assert_passed();
}

#[test]
fn sigterm_under_load_delivers_everything_acknowledged_and_exits_0() {
    run(scenarios::sigterm_under_load).assert_passed();
}

#[test]
fn hostile_input_is_refused_and_good_load_loses_nothing() {
    run(hostile::hostile_input).assert_passed();
}

/// The debug exporter acknowledges and drops: every acknowledged item must be reported lost.
#[test]
fn control_the_harness_reports_loss_when_the_exporter_drops_everything() {
    let report = run(scenarios::dropping_exporter);
    let row = &report.row;
    assert!(row.acknowledged > 0, "{row:?}");
    assert_eq!(row.lost, row.acknowledged, "{row:?}");
    assert_eq!(row.delivered, 0, "{row:?}");
    assert!(!report.passed(), "the lost == 0 check must fail");
}

/// Without retries, what was acknowledged while the backend was down is dropped and the rest is
/// delivered: loss must be seen item by item, neither none nor all.
#[test]
fn control_the_harness_counts_partial_loss_when_retries_are_off() {
    let report = run(scenarios::no_retry_outage);
    let row = &report.row;
    assert!(row.lost > 0, "the outage dropped nothing? {row:?}");
    assert!(row.delivered > 0 && row.lost < row.acknowledged, "{row:?}");
}

/// kill -9 with the in-memory queue and the backend down: acknowledged items die with the process.
#[test]
fn control_the_harness_reports_loss_when_an_in_memory_queue_dies() {
    let report = run(scenarios::memory_queue_crash);
    let row = &report.row;
    assert!(row.acknowledged > 0, "{row:?}");
    assert!(
        row.lost > 0,
        "a kill -9 of an in-memory queue lost nothing? {row:?}"
    );
}
