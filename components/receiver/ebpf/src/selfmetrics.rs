//! The receiver's own health in self-telemetry (:8888): what the kernel could not record (ring
//! buffer full, maps full) and what user space could not keep (series, pending spans and logs).

use std::sync::Mutex;

use aya::maps::{MapData, PerCpuArray};
use ferrotel_core::component::CreateSettings;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::aggregate::Aggregator;

type Labels = Vec<(String, String)>;

/// Indexes of `enum ft_counter` in events.h, with the reason label each is reported under.
const KERNEL: [(u32, &str); 4] = [
    (0, "ring_buffer_full"),
    (1, "sockets_map_full"),
    (2, "requests_map_full"),
    (3, "pending_map_full"),
];

/// `requests_unanswered`: requests the kernel kept 60 s without seeing their response, removed.
/// `route_limit`: routes not kept because their executable had `l7.max_routes_per_service`.
const USER: [&str; 5] = [
    "series_limit",
    "pending_spans_limit",
    "pending_logs_limit",
    "requests_unanswered",
    "route_limit",
];

/// Record kinds, in the order of `Aggregator::records`.
const RECORDS: [&str; 3] = ["event", "l7", "exec"];

pub struct KernelCounters {
    map: PerCpuArray<MapData, u64>,
    lost: Family<Labels, Counter>,
    records: Family<Labels, Counter>,
    seen_records: [u64; 3],
    receiver: String,
    seen: [u64; 4],
    seen_user: [u64; 5],
}

impl KernelCounters {
    pub fn new(set: &CreateSettings, map: PerCpuArray<MapData, u64>) -> Self {
        let lost = Family::<Labels, Counter>::default();
        set.telemetry.register(
            "otelcol_receiver_ebpf_lost_events",
            "Kernel events and user-space items the ebpf receiver could not keep, by reason",
            lost.clone(),
        );
        let records = Family::<Labels, Counter>::default();
        set.telemetry.register(
            "otelcol_receiver_ebpf_records",
            "Records the kernel side sent to the ebpf receiver, by type (exchanges that are not \
             spans are counted in the kernel and send none)",
            records.clone(),
        );
        let counters = KernelCounters {
            map,
            lost,
            records,
            seen_records: [0; 3],
            receiver: set.id.to_string(),
            seen: [0; 4],
            seen_user: [0; 5],
        };
        // every reason is reported from the start, at 0: "nothing lost" is an answer too
        for reason in KERNEL.iter().map(|(_, r)| *r).chain(USER) {
            counters.inc(reason, 0);
        }
        counters
    }

    fn inc(&self, reason: &str, by: u64) {
        let labels = vec![
            ("receiver".to_string(), self.receiver.clone()),
            ("reason".to_string(), reason.to_string()),
        ];
        self.lost.get_or_create(&labels).inc_by(by);
    }

    /// Adds what was lost since the last call.
    pub fn update(&mut self, aggregator: &Mutex<Aggregator>, expired_requests: u64) {
        for (slot, (index, reason)) in KERNEL.iter().enumerate() {
            let Ok(values) = self.map.get(index, 0) else {
                continue;
            };
            let total: u64 = values.iter().sum();
            self.inc(reason, total.saturating_sub(self.seen[slot]));
            self.seen[slot] = total;
        }
        let aggregator = aggregator.lock().unwrap();
        let totals = [
            aggregator.metrics.dropped,
            aggregator.dropped_spans,
            aggregator.dropped_logs,
            expired_requests,
            aggregator.routes.overflowed,
        ];
        for (slot, (reason, total)) in USER.iter().zip(totals).enumerate() {
            self.inc(reason, total.saturating_sub(self.seen_user[slot]));
            self.seen_user[slot] = total;
        }
        for (slot, kind) in RECORDS.iter().enumerate() {
            let total = aggregator.records[slot];
            let labels = vec![
                ("receiver".to_string(), self.receiver.clone()),
                ("type".to_string(), kind.to_string()),
            ];
            self.records
                .get_or_create(&labels)
                .inc_by(total.saturating_sub(self.seen_records[slot]));
            self.seen_records[slot] = total;
        }
    }
}
