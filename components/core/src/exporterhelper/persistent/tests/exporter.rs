//! The exporter over a persistent queue: what a failing or hanging backend leaves at shutdown
//! stays on disk, is neither dropped nor counted as failed, and is sent exactly once by the next
//! exporter on the same directory, with nothing new arriving.

use super::*;
use crate::component::{ComponentId, CreateSettings, ExtensionServices, Kind, Lifecycle};
use crate::config::GoDuration;
use crate::consumer::Consumer;
use crate::exporterhelper::{
    Delivered, Exporter, ExporterSettings, RetryConfig, SendError, Sender,
};
use crate::storage::Storage;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A storage extension reduced to its directory naming.
struct DirStorage(PathBuf);

impl Storage for DirStorage {
    fn location(
        &self,
        owner_kind: Kind,
        owner: &ComponentId,
        name: &str,
    ) -> anyhow::Result<StorageLocation> {
        let directory = self.0.join(format!(
            "{owner_kind}_{}_{}_{name}",
            owner.type_name,
            owner.name.as_deref().unwrap_or("")
        ));
        std::fs::create_dir_all(&directory)?;
        Ok(StorageLocation {
            directory,
            fsync: false,
            timeout: Duration::from_secs(1),
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Up,
    Down,
    Hang,
}

struct Backend {
    mode: Mode,
    attempts: AtomicUsize,
    delivered: Mutex<Vec<u64>>,
}

#[async_trait]
impl Sender for Backend {
    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        match self.mode {
            Mode::Up => {
                self.delivered.lock().unwrap().push(seq_of(data));
                Ok(Delivered::all())
            }
            Mode::Down => Err(SendError::retryable("backend down")),
            Mode::Hang => std::future::pending().await,
        }
    }
}

fn exporter(dir: &Path, mode: Mode) -> (Exporter<Backend>, Arc<SelfTelemetry>) {
    let telemetry = SelfTelemetry::new(&[]);
    let set = CreateSettings::new(
        ComponentId::parse("otlp/disk").unwrap(),
        Kind::Exporter,
        telemetry.clone(),
    );
    set.host.register_extension(
        &ComponentId::parse("file_storage").unwrap(),
        ExtensionServices {
            storage: Some(Arc::new(DirStorage(dir.to_owned()))),
            ..Default::default()
        },
    );
    let mut settings = ExporterSettings {
        timeout: Duration::ZERO,
        retry: RetryConfig {
            initial_interval: GoDuration::from_millis(10),
            randomization_factor: 0.0,
            max_interval: GoDuration::from_millis(20),
            max_elapsed_time: GoDuration::ZERO,
            ..RetryConfig::default()
        },
        drain_timeout: Duration::from_millis(300),
        ..ExporterSettings::default()
    };
    settings.queue.storage = Some("file_storage".into());
    settings.queue.num_consumers = 2;
    let backend = Backend {
        mode,
        attempts: AtomicUsize::new(0),
        delivered: Mutex::new(Vec::new()),
    };
    (Exporter::new(&set, settings, backend).unwrap(), telemetry)
}

fn metric(telemetry: &SelfTelemetry, name: &str) -> f64 {
    telemetry
        .encode()
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains("exporter=\"otlp/disk\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn consume_five(e: &Exporter<Backend>) {
    for seq in 0..5 {
        e.consume(logs(seq, seq as usize + 1, 20)).await.unwrap();
    }
}

/// Starts an exporter with a healthy backend on `dir`, waits for `items`, and checks each of
/// the five batches arrived once.
async fn resend_all(dir: &Path, items: f64) {
    let (e, t) = exporter(dir, Mode::Up);
    e.start().await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == items).await;
    e.shutdown().await.unwrap();
    let mut delivered = e.sender().delivered.lock().unwrap().clone();
    delivered.sort();
    assert_eq!(delivered, [0, 1, 2, 3, 4], "each batch exactly once");
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        0.0
    );
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 0.0);

    let (e, _) = exporter(dir, Mode::Up);
    e.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    e.shutdown().await.unwrap();
    assert_eq!(
        e.sender().attempts.load(Ordering::SeqCst),
        0,
        "nothing is sent twice"
    );
}

#[tokio::test]
async fn a_failing_backend_leaves_the_data_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t) = exporter(dir.path(), Mode::Down);
    e.start().await.unwrap();
    consume_five(&e).await;
    eventually(|| e.sender().attempts.load(Ordering::SeqCst) >= 10).await;
    e.shutdown().await.unwrap();
    assert_eq!(metric(&t, "otelcol_exporter_sent_log_records_total"), 0.0);
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        0.0
    );
    assert_eq!(
        metric(&t, "otelcol_exporter_enqueue_failed_log_records_total"),
        0.0
    );
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 5.0);
    let text = t.encode();
    let family = "otelcol_exporter_persistent_queue_corrupt_records";
    assert_eq!(
        text.matches(&format!("# TYPE {family} counter")).count(),
        1,
        "{text}"
    );
    for signal in ["traces", "metrics", "logs"] {
        let series = format!("{family}_total{{exporter=\"otlp/disk\",data_type=\"{signal}\"}} 0");
        assert!(text.contains(&series), "{series} missing:\n{text}");
    }
    resend_all(dir.path(), 15.0).await;
}

#[tokio::test]
async fn batches_in_flight_at_the_drain_deadline_stay_queued_and_count_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (e, t) = exporter(dir.path(), Mode::Hang);
    e.start().await.unwrap();
    consume_five(&e).await;
    let started = std::time::Instant::now();
    e.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        0.0
    );

    // Recovered data is in the queue size from the start.
    let (e, t) = exporter(dir.path(), Mode::Hang);
    e.start().await.unwrap();
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 5.0);
    assert_eq!(e.queue_size(Signal::Logs), 5);
    e.shutdown().await.unwrap();

    resend_all(dir.path(), 15.0).await;
}

#[tokio::test]
async fn a_missing_storage_extension_is_named() {
    let set = CreateSettings::new(
        ComponentId::parse("otlp").unwrap(),
        Kind::Exporter,
        SelfTelemetry::new(&[]),
    );
    let mut settings = ExporterSettings::default();
    settings.queue.storage = Some("file_storage/missing".into());
    let backend = Backend {
        mode: Mode::Up,
        attempts: AtomicUsize::new(0),
        delivered: Mutex::new(Vec::new()),
    };
    let err = Exporter::new(&set, settings, backend)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("\"file_storage/missing\""), "{err}");
    assert!(err.contains("not found"), "{err}");
}
