//! The scenarios. Each runs ferrotel (otlp receiver → memory_limiter → batch → otlp exporter with
//! retry and a sending queue) between tracked clients and the tracking sink, breaks something,
//! and reports what was sent, acknowledged, delivered and lost.

use crate::reliability::collector::{
    Collector, ExporterKind, MemoryLimit, PipelineSpec, RetrySpec,
};
use crate::reliability::harness::{Finished, Harness};
use crate::reliability::{Length, Report, Row};
use crate::transport::Protocol;
use ferrotel_core::Signal;
use std::os::unix::process::ExitStatusExt;
use std::thread::sleep;
use std::time::Duration;

/// How long ferrotel gets to stop after SIGTERM (the distro's shutdown budget).
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(20);

/// The batch processor's default timeout in these pipelines, and what an answer waits at most.
pub const BATCH_LATENCY: Duration = Duration::from_millis(200);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A pipeline as a careful user would set it up for reliability: a generous memory limit, an
/// item-sized queue, and retries with a short first interval.
pub fn reliable_spec(signal: Signal, exporter: ExporterKind, length: Length) -> PipelineSpec {
    let mut spec = PipelineSpec::new(signal, exporter);
    spec.memory_limiter = Some(MemoryLimit {
        limit_mib: 1024,
        spike_limit_mib: 256,
        check_interval: "100ms".into(),
    });
    spec.queue = vec![
        ("sizer", "items".into()),
        ("queue_size", "5000000".into()),
        ("num_consumers", "4".into()),
    ];
    spec.retry = Some(RetrySpec {
        initial_interval: length.pick("200ms", "1s").into(),
        max_interval: length.pick("1s", "5s").into(),
        max_elapsed_time: "5m".into(),
    });
    spec
}

/// The report of a scenario whose config ferrotel does not accept yet.
pub fn blocked(scenario: &str, why: String) -> Report {
    let mut report = Report {
        row: Row {
            scenario: format!("{scenario} (blocked)"),
            ..Row::default()
        },
        ..Report::default()
    };
    let first_line = why.lines().next().unwrap_or_default().to_string();
    report.check("ferrotel accepts the scenario's config", false, first_line);
    report.diagnostics = why;
    report
}

/// (a) The backend is down for a while; what was acknowledged meanwhile waits in the queue and is
/// delivered once it is back. `max_elapsed_time` covers the outage, as a user would set it.
pub fn backend_outage(length: Length) -> Report {
    let name = "backend down, then up";
    let outage = length.pick(secs(6), secs(60));
    let rate = length.pick(2000.0, 10_000.0);
    let mut h = Harness::new();
    let mut spec = reliable_spec(Signal::Traces, ExporterKind::Http, length);
    if let Some(retry) = &mut spec.retry {
        retry.max_elapsed_time = format!("{}s", 2 * outage.as_secs() + 60);
    }
    let mut collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked(name, e),
    };
    let config = h
        .load_config(&collector, Protocol::Http, Signal::Traces)
        .paced(rate, BATCH_LATENCY);
    let run = config.shape.run;
    let load = h.start_load(config);
    sleep(length.pick(secs(2), secs(5)));
    h.sink.down();
    let acknowledged_at_down = load.acknowledged_items();
    sleep(outage);
    let acknowledged_at_up = load.acknowledged_items();
    h.sink.up().expect("the sink listens again");
    sleep(length.pick(secs(2), secs(5)));
    let loads = [Finished {
        run,
        ledger: load.finish(),
    }];
    h.wait_for_delivery(&loads, length.pick(secs(60), secs(180)));
    let running = collector.running();
    let mut report = h.report(
        &format!("(a) {name} ({} s)", outage.as_secs()),
        &loads,
        &collector,
    );
    let during = acknowledged_at_up - acknowledged_at_down;
    report.check(
        "items were acknowledged while the backend was down",
        during > 0,
        "nothing was acknowledged during the outage: the queue was not exercised",
    );
    report.note(format!("{during} items acknowledged during the outage"));
    report.check("ferrotel stayed up", running, "the process exited");
    report
}

/// (b) A persistent queue with the backend down: ferrotel is killed with SIGKILL mid-stream and
/// restarted on the same config; once the backend is back, everything acknowledged before and
/// after the crash is delivered. Redelivery (duplicates) is allowed and counted.
pub fn persistent_queue_crash(length: Length) -> Report {
    crash(length, true)
}

/// The same crash with the in-memory queue: acknowledged items die with the process. The harness
/// must report them lost (a negative control, not a README row).
pub fn memory_queue_crash(length: Length) -> Report {
    crash(length, false)
}

fn crash(length: Length, persistent: bool) -> Report {
    let name = if persistent {
        "kill -9 with a persistent queue, backend down"
    } else {
        "kill -9 with the in-memory queue, backend down (control)"
    };
    let rate = length.pick(2000.0, 10_000.0);
    let mut h = Harness::new();
    h.sink.down();
    let mut spec = reliable_spec(Signal::Logs, ExporterKind::Grpc, length);
    spec.persistent_queue = persistent;
    spec.queue = vec![
        ("queue_size", "100000".into()),
        ("num_consumers", "4".into()),
    ];
    let mut collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked(name, e),
    };
    let config = h
        .load_config(&collector, Protocol::Grpc, Signal::Logs)
        .paced(rate, BATCH_LATENCY);
    let run = config.shape.run;
    let load = h.start_load(config);
    sleep(length.pick(secs(3), secs(10)));
    let acknowledged_at_kill = load.acknowledged_items();
    let killed = collector.kill9();
    sleep(length.pick(secs(1), secs(3)));
    collector.restart();
    sleep(length.pick(secs(3), secs(10)));
    load.stop();
    let ledger = load.finish();
    sleep(secs(1));
    h.sink.up().expect("the sink listens again");
    let loads = [Finished { run, ledger }];
    // The control loses items for good: waiting long for them would only slow the suite.
    let patience = if persistent {
        length.pick(secs(60), secs(180))
    } else {
        secs(10)
    };
    h.wait_for_delivery(&loads, patience);
    // Duplicates may still be on their way once every item arrived; let them land to count them.
    sleep(secs(1));
    let running = collector.running();
    let mut report = h.report(&format!("(b) {name}"), &loads, &collector);
    report.check(
        "ferrotel was killed by SIGKILL",
        killed.is_some_and(|s| s.signal() == Some(9)),
        format!("exit status {killed:?}"),
    );
    report.check(
        "items were acknowledged before the kill",
        acknowledged_at_kill > 0,
        "nothing was acknowledged before the kill",
    );
    report.note(format!(
        "{acknowledged_at_kill} items acknowledged before the kill"
    ));
    report.check(
        "the restarted ferrotel stayed up",
        running,
        "the process exited",
    );
    report
}

/// (c) Ten times more load than the pipeline can export (a backend capped in items per second;
/// a queue big enough that memory, not the queue, is the limit). The memory_limiter must keep the
/// resident memory under `limit_mib` by refusing, the clients see "try later", nothing
/// acknowledged is lost.
pub fn overload(length: Length) -> Report {
    let name = "10x overload, memory_limiter";
    let capacity = length.pick(1000.0, 5000.0);
    let limit_mib = length.pick(128, 150);
    let mut h = Harness::new();
    let mut spec = reliable_spec(Signal::Traces, ExporterKind::Grpc, length);
    spec.memory_limiter = Some(MemoryLimit {
        limit_mib,
        spike_limit_mib: limit_mib / 4,
        check_interval: "50ms".into(),
    });
    spec.queue = vec![
        ("sizer", "items".into()),
        ("queue_size", "10000000".into()),
        ("num_consumers", "4".into()),
    ];
    spec.send_batch_size = 500;
    spec.send_batch_max_size = 1000;
    spec.exporter_timeout = "30s".into();
    h.sink.set_rate(Some(capacity));
    let mut collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked(name, e),
    };
    let mut config = h.load_config(&collector, Protocol::Grpc, Signal::Traces);
    config.rate = Some(10.0 * capacity);
    // Unthrottled SDK-like clients: refused requests come back after the RetryInfo delay.
    config.concurrency = length.pick(24, 48);
    config.shape.batch_size = 100;
    config.shape.attributes = 8;
    config.shape.attribute_bytes = 256;
    config.retry_budget = length.pick(secs(120), secs(300));
    config.request_timeout = secs(30);
    let run = config.shape.run;
    let overload_for = length.pick(secs(12), secs(60));
    let load = h.start_load(config);
    sleep(overload_for);
    load.stop();
    let offered = load.snapshot();
    let exported = h.sink.delivered(run).unique.len();
    let peak_under_load = collector.peak_rss_mib();
    // The backend recovers, so that the backlog drains in seconds rather than minutes.
    h.sink.set_rate(None);
    let loads = [Finished {
        run,
        ledger: load.finish(),
    }];
    h.wait_for_delivery(&loads, length.pick(secs(90), secs(300)));
    let running = collector.running();
    let mut report = h.report(&format!("(c) {name} ({limit_mib} MiB)"), &loads, &collector);
    let seconds = overload_for.as_secs_f64();
    let batch = report_batch_size(&offered);
    let attempted = (offered.requests + offered.retries) as f64 * batch / seconds;
    report.note(format!(
        "offered {attempted:.0} items/s (first attempts and retries; {:.0} new items/s) against an export capacity of {capacity:.0} items/s; exported {:.0} items/s under overload; peak RSS under load {peak_under_load:.1} MiB",
        offered.items_sent as f64 / seconds,
        exported as f64 / seconds,
    ));
    report.check(
        "peak RSS stays under limit_mib",
        report.row.peak_rss_mib < f64::from(limit_mib),
        format!(
            "peak RSS {:.1} MiB, limit {limit_mib} MiB",
            report.row.peak_rss_mib
        ),
    );
    report.check(
        "clients received retryable refusals",
        report.row.refused > 0,
        "no refusal: the overload never reached the limiter",
    );
    report.check(
        "the offered load was at least 5x the export capacity",
        attempted >= 5.0 * capacity,
        format!("only {attempted:.0} items/s offered"),
    );
    report.check("ferrotel stayed up", running, "the process exited");
    report
}

/// Items per request of a ledger (the load's batch size).
fn report_batch_size(ledger: &crate::reliability::tracked_load::LoadLedger) -> f64 {
    if ledger.requests == 0 {
        0.0
    } else {
        ledger.items_sent as f64 / ledger.requests as f64
    }
}

/// (d) SIGTERM under load with the backend up: everything acknowledged before and during the
/// shutdown is delivered, and the process exits 0 within its shutdown budget.
pub fn sigterm_under_load(length: Length) -> Report {
    let name = "SIGTERM under load";
    let rate = length.pick(2000.0, 10_000.0);
    let mut h = Harness::new();
    let mut spec = reliable_spec(Signal::Metrics, ExporterKind::Grpc, length);
    // A long batch timeout leaves data in the batch processor when the signal comes.
    spec.batch_timeout = "1s".into();
    spec.send_batch_size = 20_000;
    spec.send_batch_max_size = 40_000;
    let mut collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked(name, e),
    };
    let mut config = h
        .load_config(&collector, Protocol::Http, Signal::Metrics)
        .paced(rate, secs(1) + BATCH_LATENCY);
    config.retry_budget = secs(30);
    let run = config.shape.run;
    let load = h.start_load(config);
    sleep(length.pick(secs(4), secs(20)));
    let acknowledged_at_signal = load.acknowledged_items();
    let (status, took) = collector.terminate(SHUTDOWN_BUDGET + secs(10));
    let acknowledged_at_exit = load.acknowledged_items();
    load.abandon();
    let loads = [Finished {
        run,
        ledger: load.finish(),
    }];
    h.wait_for_delivery(&loads, secs(5));
    let mut report = h.report(&format!("(d) {name}"), &loads, &collector);
    report.note(format!(
        "exit status {status:?} after {:.1} s; {} items acknowledged after SIGTERM",
        took.as_secs_f64(),
        acknowledged_at_exit.saturating_sub(acknowledged_at_signal)
    ));
    report.check(
        "ferrotel exits 0",
        status.is_some_and(|s| s.success()),
        format!("exit status {status:?}"),
    );
    report.check(
        "within the shutdown budget",
        took <= SHUTDOWN_BUDGET + secs(1),
        format!(
            "took {:.1} s, budget {} s",
            took.as_secs_f64(),
            SHUTDOWN_BUDGET.as_secs()
        ),
    );
    report
}

/// A control: the debug exporter acknowledges everything and delivers nothing, so the harness must
/// report every acknowledged item lost.
pub fn dropping_exporter(length: Length) -> Report {
    let mut h = Harness::new();
    let spec = reliable_spec(Signal::Traces, ExporterKind::Debug, length);
    let collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked("debug exporter (control)", e),
    };
    let config = h.load_config(&collector, Protocol::Grpc, Signal::Traces);
    let run = config.shape.run;
    let load = h.start_load(config);
    sleep(secs(2));
    let loads = [Finished {
        run,
        ledger: load.finish(),
    }];
    h.wait_for_delivery(&loads, secs(2));
    h.report(
        "debug exporter in place of otlp (control)",
        &loads,
        &collector,
    )
}

/// A control: no retries and the backend down for the first seconds: what was acknowledged then is
/// dropped by the exporter, what came later is delivered. The harness must count exactly the
/// former as lost.
pub fn no_retry_outage(length: Length) -> Report {
    let mut h = Harness::new();
    h.sink.down();
    let mut spec = reliable_spec(Signal::Logs, ExporterKind::Http, length);
    spec.retry = None;
    spec.batch_timeout = "100ms".into();
    let collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked("no retry, backend down (control)", e),
    };
    let config = h.load_config(&collector, Protocol::Http, Signal::Logs);
    let run = config.shape.run;
    let load = h.start_load(config);
    sleep(secs(2));
    h.sink.up().expect("the sink listens again");
    sleep(secs(2));
    let loads = [Finished {
        run,
        ledger: load.finish(),
    }];
    h.wait_for_delivery(&loads, secs(3));
    h.report(
        "no retry, backend down then up (control)",
        &loads,
        &collector,
    )
}
