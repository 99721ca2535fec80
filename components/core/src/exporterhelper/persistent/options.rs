//! What a persistent queue is opened with, and its self-metric.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::{Arc, Mutex, Weak};

use crate::exporterhelper::config::Sizer;
use crate::signal::Signal;
use crate::storage::StorageLocation;
use crate::telemetry::{Labels, SelfTelemetry};

/// Segments roll over at this size.
pub const DEFAULT_SEGMENT_BYTES: u64 = 32 << 20;
/// Payload bytes a queue keeps in memory for the workers; beyond it requests are read back from
/// disk when taken.
pub const DEFAULT_RESIDENT_BYTES: usize = 16 << 20;

const CORRUPT_RECORDS: &str = "otelcol_exporter_persistent_queue_corrupt_records";

/// Everything a persistent queue needs to open.
#[derive(Debug, Clone)]
pub struct PersistentOptions {
    pub location: StorageLocation,
    pub signal: Signal,
    /// In sizer units.
    pub capacity: usize,
    /// Sizes recovered requests (a restart may change the sizer).
    pub sizer: Sizer,
    /// `otelcol_exporter_queue_size`.
    pub size_gauge: Gauge,
    /// Torn or damaged records found on open or read back (see [`corrupt_records_counter`]).
    pub corrupt_records: Counter,
    /// Who owns the queue, for logs (the exporter id).
    pub owner: String,
    pub segment_bytes: u64,
    pub resident_bytes: usize,
}

impl PersistentOptions {
    pub fn new(location: StorageLocation, signal: Signal, capacity: usize, sizer: Sizer) -> Self {
        PersistentOptions {
            location,
            signal,
            capacity,
            sizer,
            size_gauge: Gauge::default(),
            corrupt_records: Counter::default(),
            owner: String::new(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            resident_bytes: DEFAULT_RESIDENT_BYTES,
        }
    }
}

/// `otelcol_exporter_persistent_queue_corrupt_records{exporter, data_type}`: records cut away or
/// skipped because they were torn or failed their checksum. The family is registered once per
/// telemetry instance, however many queues report into it.
pub fn corrupt_records_counter(
    telemetry: &Arc<SelfTelemetry>,
    exporter: &str,
    signal: Signal,
) -> Counter {
    type Families = Vec<(Weak<SelfTelemetry>, Family<Labels, Counter>)>;
    static FAMILIES: Mutex<Families> = Mutex::new(Vec::new());
    let mut families = FAMILIES.lock().unwrap_or_else(|p| p.into_inner());
    families.retain(|(owner, _)| owner.strong_count() > 0);
    let family = match families
        .iter()
        .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(telemetry)))
    {
        Some((_, family)) => family.clone(),
        None => {
            let family = Family::<Labels, Counter>::default();
            telemetry.register(
                CORRUPT_RECORDS,
                "Records of the persistent sending queue dropped because they were torn or failed their checksum",
                family.clone(),
            );
            families.push((Arc::downgrade(telemetry), family.clone()));
            family
        }
    };
    let labels = vec![
        ("exporter".to_string(), exporter.to_string()),
        ("data_type".to_string(), signal.as_str().to_string()),
    ];
    family.get_or_create(&labels).clone()
}
