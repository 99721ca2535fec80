//! The receiver's lifecycle. `start` loads the kernel side; when it cannot (no privileges, an old
//! kernel) it logs one error saying what is missing and stays idle, so the rest of the collector
//! runs on. Two tasks then run: one drains the ring buffer into the aggregator, one hands spans
//! and log records to the pipelines every `flush_interval` (or as soon as a batch's worth of spans
//! waits) and metrics every `collection_interval`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aya::maps::{MapData, PerCpuArray, RingBuf};
use ferrotel_core::component::{CreateSettings, Lifecycle, SignalConsumers};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ReceiverMetrics;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::aggregate::{Aggregator, unix_ns};
use crate::config::Config;
use crate::events::Record;
use crate::kernel_maps::KernelMaps;
use crate::loader;
use crate::selfmetrics::KernelCounters;

/// Spans that make the flusher hand them on before `flush_interval` is up: a busy node makes
/// 100k+ spans a second, and holding a whole second of them as decoded spans costs hundreds of
/// MB and, past the aggregator's cap, drops them. otelcol's batch processor sends at this size too.
const SPANS_PER_FLUSH: usize = 8192;

pub struct EbpfReceiver {
    config: Arc<Config>,
    set: CreateSettings,
    next: SignalConsumers,
    running: Mutex<Option<Running>>,
}

/// What the ring reader and the flusher share.
struct Shared {
    aggregator: Mutex<Aggregator>,
    /// Woken when `SPANS_PER_FLUSH` spans wait.
    spans_ready: Notify,
    /// TLS uprobes (l7.tls), told of every exec; they stay attached while this lives.
    tls: Option<crate::tls::Attacher>,
}

struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EbpfReceiver {
    pub fn new(config: Config, set: CreateSettings, next: SignalConsumers) -> Self {
        EbpfReceiver {
            config: Arc::new(config),
            set,
            next,
            running: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Lifecycle for EbpfReceiver {
    async fn start(&self) -> anyhow::Result<()> {
        let id = self.set.id.to_string();
        let config = self.config.clone();
        let spans_wanted = self.next.get(Signal::Traces).is_some();
        let loaded =
            tokio::task::spawn_blocking(move || loader::load(&config, spans_wanted)).await?;
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(
                    receiver = %id,
                    "{err:#}. The ebpf receiver is off; the rest of the collector keeps running."
                );
                return Ok(());
            }
        };
        for (program, why) in &loaded.failed {
            tracing::warn!(receiver = %id, program, "ebpf program not attached, its signal is missing: {why}");
        }
        tracing::info!(
            receiver = %id,
            programs = loaded.attached,
            syscall_probes = loaded.syscall_probes,
            "ebpf programs attached"
        );
        let ring = RingBuf::try_from(loaded.ebpf.take_map("events").expect("events map"))?;
        let maps = KernelMaps::new(&mut loaded.ebpf, "/proc")?;
        let counters: PerCpuArray<MapData, u64> =
            PerCpuArray::try_from(loaded.ebpf.take_map("counters").expect("counters map"))?;
        // SAFETY: the ring buffer owns its fd and is moved into the AsyncFd, which deregisters it
        // before dropping it: the fd stays open for as long as it is registered.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        let mut aggregator = Aggregator::new(self.config.clone(), "/proc");
        aggregator.spans_wanted = self.next.get(Signal::Traces).is_some();
        let shared = Arc::new(Shared {
            aggregator: Mutex::new(aggregator),
            spans_ready: Notify::new(),
            tls: crate::tls::Attacher::start(&self.config, &mut loaded.ebpf),
        });
        let kernel = KernelCounters::new(&self.set, counters);
        let (stop, stopped) = watch::channel(false);
        // least privilege: once every component has started, keep only what running needs
        tokio::spawn(crate::privileges::drop_when_started(
            self.config.clone(),
            self.set.host.clone(),
            stopped.clone(),
        ));
        // the programs stay attached as long as `ebpf` lives: the reader task owns it
        let ebpf = loaded.ebpf;
        let reader = tokio::spawn(read_ring(ring, shared.clone(), stopped.clone(), ebpf));
        let flusher = tokio::spawn(flush_loop(
            self.config.clone(),
            shared,
            self.next.clone(),
            self.set.telemetry.receiver(&self.set.id, "ebpf"),
            kernel,
            maps,
            stopped,
        ));
        *self.running.lock().unwrap() = Some(Running {
            stop,
            tasks: vec![reader, flusher],
        });
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            let _ = running.stop.send(true);
            for task in running.tasks {
                let _ = task.await;
            }
        }
        Ok(())
    }
}

async fn read_ring(
    mut ring: AsyncFd<RingBuf<MapData>>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    _ebpf: aya::Ebpf,
) {
    // the kernel wakes this task only once 64 KiB wait (see emit() in ferrotel.bpf.c): the timer
    // drains what trickles in below that
    let mut drain = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let Ok(mut guard) = guard else { break };
                drain_ring(guard.get_inner_mut(), &shared);
                guard.clear_ready();
            }
            _ = drain.tick() => drain_ring(ring.get_mut(), &shared),
            _ = stopped.changed() => break,
        }
    }
}

/// Decodes and aggregates what the kernel wrote. A process seen for the first time is looked up in
/// /proc under the aggregator's lock: on a multi-threaded runtime the worker hands its other tasks
/// to another thread for the duration, so receivers keep answering clients meanwhile.
fn drain_ring(ring: &mut RingBuf<MapData>, shared: &Shared) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| drain(ring, shared)),
        _ => drain(ring, shared),
    }
}

fn drain(ring: &mut RingBuf<MapData>, shared: &Shared) {
    let mut aggregator = shared.aggregator.lock().unwrap();
    while let Some(item) = ring.next() {
        if let Some(record) = Record::parse(&item) {
            if let (Record::Exec(exec), Some(tls)) = (&record, &shared.tls) {
                tls.exec(exec.tgid);
            }
            aggregator.observe(record);
        }
    }
    if aggregator.pending_spans() >= SPANS_PER_FLUSH {
        shared.spans_ready.notify_one();
    }
}

async fn flush_loop(
    config: Arc<Config>,
    shared: Arc<Shared>,
    next: SignalConsumers,
    metrics: ReceiverMetrics,
    mut kernel: KernelCounters,
    mut maps: KernelMaps,
    mut stopped: watch::Receiver<bool>,
) {
    let aggregator = &shared.aggregator;
    let start_ns = unix_ns();
    let mut flush = tokio::time::interval(config.flush_interval.as_duration());
    let mut collect = tokio::time::interval(config.collection_interval.as_duration());
    collect.tick().await; // the first tick is immediate: nothing to report yet
    loop {
        let stopping = tokio::select! {
            _ = flush.tick() => { send_spans_and_logs(aggregator, &next, &metrics).await; false }
            _ = shared.spans_ready.notified() => { send_spans_and_logs(aggregator, &next, &metrics).await; false }
            _ = collect.tick() => {
                maps.collect(&mut aggregator.lock().unwrap());
                kernel.update(aggregator, maps.expired_requests);
                send_metrics(aggregator, &next, &metrics, start_ns).await;
                false
            }
            _ = stopped.changed() => true,
        };
        if stopping {
            send_spans_and_logs(aggregator, &next, &metrics).await;
            send_metrics(aggregator, &next, &metrics, start_ns).await;
            return;
        }
    }
}

async fn deliver(next: &SignalConsumers, metrics: &ReceiverMetrics, data: Telemetry) {
    let signal = data.signal();
    let items = data.item_count();
    if items == 0 {
        return;
    }
    let Some(consumer) = next.get(signal) else {
        return;
    };
    match consumer.consume(data).await {
        Ok(()) => metrics.accepted(signal, items),
        Err(err) => {
            // kernel data cannot be asked for again: what the pipeline refuses is counted as lost
            metrics.refused(signal, items);
            tracing::warn!(
                "ebpf: the pipeline refused {items} {}: {err}",
                signal.item_name()
            );
        }
    }
}

async fn send_spans_and_logs(
    aggregator: &Mutex<Aggregator>,
    next: &SignalConsumers,
    metrics: &ReceiverMetrics,
) {
    let (spans, logs) = {
        let mut aggregator = aggregator.lock().unwrap();
        (aggregator.take_spans(), aggregator.take_logs())
    };
    if let Some((spans, count)) = spans {
        // written here (spans.rs), counted as written: no walk over the bytes to count them
        deliver(
            next,
            metrics,
            Telemetry::from_encoded_counted(Signal::Traces, spans, count),
        )
        .await;
    }
    if !logs.is_empty() {
        let request = ExportLogsServiceRequest {
            resource_logs: logs,
        };
        deliver(next, metrics, Telemetry::from_logs(request)).await;
    }
}

async fn send_metrics(
    aggregator: &Mutex<Aggregator>,
    next: &SignalConsumers,
    metrics: &ReceiverMetrics,
    start_ns: u64,
) {
    if next.get(Signal::Metrics).is_none() {
        return;
    }
    let resource_metrics = {
        let mut aggregator = aggregator.lock().unwrap();
        let host = aggregator.host.clone();
        aggregator.metrics.collect(start_ns, unix_ns(), &host)
    };
    let request = ExportMetricsServiceRequest { resource_metrics };
    deliver(next, metrics, Telemetry::from_metrics(request)).await;
}
