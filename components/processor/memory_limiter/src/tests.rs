//! The limiter with real checker tasks, the real process RSS where the brief asks for it, and a
//! controllable reading where a test must move the usage across the limit.

use async_trait::async_trait;
use ferrotel_core::component::{ComponentId, CreateSettings, Kind, Lifecycle, ProcessorFactory};
use ferrotel_core::config::{GoDuration, Node};
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::factory::build;
use crate::{MemoryLimiterConfig, MemoryLimiterProcessorFactory, MemorySource, REFUSED_REASON};

const MIB: u64 = 1024 * 1024;

fn logs(n: usize) -> Telemetry {
    ferrotel_testkit::batch(Signal::Logs, n).1
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Telemetry>>);

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().push(data);
        Ok(())
    }
}

fn settings(telemetry: &Arc<SelfTelemetry>) -> CreateSettings {
    CreateSettings::new(
        ComponentId::new("memory_limiter", None),
        Kind::Processor,
        telemetry.clone(),
    )
}

fn metric(telemetry: &SelfTelemetry, series: &str) -> f64 {
    let text = telemetry.encode();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn a_limit_far_below_the_process_rss_refuses_retryably() {
    let telemetry = SelfTelemetry::new(&[]);
    let recorder = Arc::new(Recorder::default());
    let node = Node::parse("check_interval: 2s\nlimit_mib: 1\n", "ml.yaml").unwrap();
    let limiter = MemoryLimiterProcessorFactory
        .create(settings(&telemetry), &node, Signal::Logs, recorder.clone())
        .unwrap();
    limiter.start().await.unwrap();

    let err = limiter.consume(logs(3)).await.unwrap_err();
    assert_eq!(
        err,
        ConsumeError::Refused {
            reason: REFUSED_REASON.into(),
            retry_after: Some(Duration::from_secs(2))
        }
    );
    assert!(err.is_retryable());
    assert!(recorder.0.lock().unwrap().is_empty());
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_processor_refused_log_records_total{processor=\"memory_limiter\"}"
        ),
        3.0
    );
    limiter.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_huge_limit_passes_data_through_untouched() {
    let telemetry = SelfTelemetry::new(&[]);
    let recorder = Arc::new(Recorder::default());
    let node = Node::parse("check_interval: 1s\nlimit_mib: 4000000\n", "ml.yaml").unwrap();
    let limiter = MemoryLimiterProcessorFactory
        .create(settings(&telemetry), &node, Signal::Logs, recorder.clone())
        .unwrap();
    limiter.start().await.unwrap();

    let batch = logs(4);
    let bytes = batch.to_encoded();
    limiter.consume(batch).await.unwrap();
    let received = recorder.0.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    // The very same buffer: nothing was decoded or re-encoded on the way.
    assert_eq!(received[0].to_encoded().as_ptr(), bytes.as_ptr());
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_processor_accepted_log_records_total{processor=\"memory_limiter\"}"
        ),
        4.0
    );
    limiter.shutdown().await.unwrap();
}

/// A limiter over a reading the test controls, with limits from a fake cgroup of 1 GiB.
struct Controlled {
    limiter: crate::MemoryLimiter,
    usage: Arc<AtomicU64>,
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

fn controlled(config: &str) -> Controlled {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memory.max"), format!("{}\n", 1024 * MIB)).unwrap();
    std::fs::write(dir.path().join("meminfo"), "MemTotal: 1 kB\n").unwrap();
    let source = MemorySource {
        cgroup_root: dir.path().into(),
        meminfo: dir.path().join("meminfo"),
        self_cgroup: dir.path().join("no_self_cgroup"),
    };
    let config: MemoryLimiterConfig =
        ferrotel_core::config::decode_validated(&Node::parse(config, "ml.yaml").unwrap()).unwrap();
    let usage = Arc::new(AtomicU64::new(0));
    let reading = usage.clone();
    let recorder = Arc::new(Recorder::default());
    let telemetry = SelfTelemetry::new(&[]);
    let sample = Arc::new(move || Some(reading.load(Ordering::SeqCst)));
    let limiter = build(
        &settings(&telemetry),
        &config,
        Signal::Logs,
        recorder.clone(),
        &source,
        sample,
    )
    .unwrap();
    Controlled {
        limiter,
        usage,
        recorder,
        _dir: dir,
    }
}

#[tokio::test(start_paused = true)]
async fn the_checker_follows_usage_across_the_soft_limit_of_a_cgroup_percentage() {
    // 50% of 1 GiB is the hard limit (512 MiB); 10% (102.4 MiB) below it is the soft limit.
    let c = controlled("check_interval: 100ms\nlimit_percentage: 50\nspike_limit_percentage: 10\n");
    let soft = 512 * MIB - 1024 * MIB / 10;
    c.usage.store(soft - 1, Ordering::SeqCst);
    c.limiter.start().await.unwrap();
    c.limiter.consume(logs(1)).await.unwrap();

    c.usage.store(soft, Ordering::SeqCst);
    c.limiter.consume(logs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        matches!(
            c.limiter.consume(logs(1)).await,
            Err(ConsumeError::Refused { .. })
        ),
        "at the soft limit"
    );

    c.usage.store(300 * MIB, Ordering::SeqCst);
    assert!(
        c.limiter.consume(logs(1)).await.is_err(),
        "still refusing until the next check"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.limiter.consume(logs(1)).await.unwrap();
    assert_eq!(c.recorder.0.lock().unwrap().len(), 3);

    c.limiter.shutdown().await.unwrap();
    c.usage.store(1024 * MIB, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.limiter.consume(logs(1)).await.unwrap();
}

#[tokio::test]
async fn a_flood_is_measured_before_the_next_tick() {
    // Soft limit 80 MiB; headroom 20 MiB, so a sample is due every 5 MiB that comes in.
    let c = controlled("check_interval: 1h\nlimit_mib: 100\n");
    c.usage.store(10 * MIB, Ordering::SeqCst);
    c.limiter.start().await.unwrap();
    let big = ferrotel_testkit::batch(Signal::Logs, 40_000).1;
    let per_sample = (5 * MIB).div_ceil(big.encoded_len() as u64);
    c.limiter.consume(big.clone()).await.unwrap();
    c.usage.store(95 * MIB, Ordering::SeqCst);
    // The hourly tick is far away; the bytes coming in force the sample.
    let mut refused = false;
    for _ in 0..per_sample + 1 {
        if c.limiter.consume(big.clone()).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the flood was not measured until the next tick");
    c.limiter.shutdown().await.unwrap();
}

#[tokio::test]
async fn start_measures_at_once() {
    let c = controlled("check_interval: 1h\nlimit_mib: 100\n");
    c.usage.store(90 * MIB, Ordering::SeqCst);
    c.limiter.start().await.unwrap();
    assert!(
        c.limiter.consume(logs(1)).await.is_err(),
        "90 MiB is over the 80 MiB soft limit"
    );
    c.limiter.shutdown().await.unwrap();
}

#[test]
fn percentage_thresholds_come_from_the_injected_cgroup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("memory")).unwrap();
    std::fs::write(
        dir.path().join("memory").join("memory.limit_in_bytes"),
        format!("{}\n", 2048 * MIB),
    )
    .unwrap();
    let source = MemorySource {
        cgroup_root: dir.path().into(),
        meminfo: dir.path().join("absent"),
        self_cgroup: dir.path().join("no_self_cgroup"),
    };
    let config = MemoryLimiterConfig {
        check_interval: GoDuration::from_secs(1),
        limit_percentage: 80,
        spike_limit_percentage: 25,
        ..Default::default()
    };
    let t = crate::thresholds(&config, &source, "memory_limiter").unwrap();
    assert_eq!(
        (t.hard, t.soft),
        (2048 * MIB * 80 / 100, 2048 * MIB * 55 / 100)
    );

    // Fixed MiB win over percentages and need no memory source at all.
    let fixed = MemoryLimiterConfig {
        limit_mib: 100,
        ..config
    };
    assert_eq!(
        crate::thresholds(&fixed, &source, "m").unwrap().hard,
        100 * MIB
    );

    let nothing = MemorySource {
        cgroup_root: dir.path().join("none"),
        meminfo: dir.path().join("absent"),
        self_cgroup: dir.path().join("no_self_cgroup"),
    };
    let err = format!(
        "{:#}",
        crate::thresholds(&config, &nothing, "m").unwrap_err()
    );
    assert!(
        err.starts_with("failed to get total memory, use fixed memory settings (limit_mib)"),
        "{err}"
    );
}
