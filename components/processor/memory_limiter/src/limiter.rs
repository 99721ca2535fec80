//! The limiter: a checker task samples the process's resident memory every `check_interval`; while
//! it is at or above the soft limit every consume is refused, retryably, so receivers answer "try
//! later" and the memory held in flight can drain. Below it, data passes through untouched.
//!
//! A flood can bring in more than the spike headroom between two ticks, so the limiter also
//! samples at once whenever a quarter of the headroom has arrived since the last sample: memory
//! can never outrun the measurement by more than that, whatever the interval. Above the soft limit
//! it asks the allocator to hand freed memory back to the system (`malloc_trim`), as otelcol
//! forces a garbage collection, so memory that was freed does not keep the limiter refusing. The
//! trim can take milliseconds, so it runs on a blocking thread of the checker task, never inside a
//! consume.

use async_trait::async_trait;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ProcessorMetrics;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::memory::{Thresholds, mib};

/// otelcol's refusal message, which senders and dashboards may match on.
pub const REFUSED_REASON: &str = "data refused due to high memory usage";

/// Reads the memory in use, in bytes; `None` when it cannot be read.
pub type Sampler = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

pub fn process_rss() -> Sampler {
    Arc::new(ferrotel_core::process::rss_bytes)
}

/// The measurement side, shared by the limiter and its checker task.
pub(crate) struct Checker {
    thresholds: Thresholds,
    sample: Sampler,
    refusing: AtomicBool,
    /// Bytes consumed since the last sample, and how many may arrive before the next one is due.
    since_sample: AtomicU64,
    sample_every_bytes: u64,
    /// Wakes the checker task to trim and measure again, off the consuming task.
    trim_wanted: tokio::sync::Notify,
    id: String,
}

impl Checker {
    pub fn new(thresholds: Thresholds, sample: Sampler, id: String) -> Checker {
        let headroom = thresholds.hard.saturating_sub(thresholds.soft);
        Checker {
            thresholds,
            sample,
            refusing: AtomicBool::new(false),
            since_sample: AtomicU64::new(0),
            sample_every_bytes: (headroom / 4).max(1 << 20),
            trim_wanted: tokio::sync::Notify::new(),
            id,
        }
    }

    /// Counts `bytes` coming in and samples at once when enough has arrived since the last sample.
    pub fn note_incoming(&self, bytes: u64) {
        let total = self.since_sample.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total >= self.sample_every_bytes && self.measure(false) {
            self.trim_wanted.notify_one();
        }
    }

    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }

    /// One measurement, trimming the allocator first when above the soft limit; blocking.
    pub fn check(&self) {
        self.measure(true);
    }

    /// One measurement; logs when the limiter starts or stops refusing. True when above the soft
    /// limit (refusing).
    fn measure(&self, trim: bool) -> bool {
        self.since_sample.store(0, Ordering::Relaxed);
        let Some(mut used) = (self.sample)() else {
            // Without a reading, keep the last decision rather than guess either way.
            tracing::debug!(processor = %self.id, "memory usage could not be read");
            return self.refusing();
        };
        if trim && used >= self.thresholds.soft && release_free_memory() {
            used = (self.sample)().unwrap_or(used);
        }
        let above = used >= self.thresholds.soft;
        let was = self.refusing.swap(above, Ordering::Relaxed);
        match (was, above) {
            (false, true) => tracing::warn!(
                processor = %self.id,
                cur_mem_mib = mib(used),
                soft_limit_mib = mib(self.thresholds.soft),
                above_hard_limit = used >= self.thresholds.hard,
                "Memory usage is above soft limit. Refusing data."
            ),
            (true, false) => tracing::info!(
                processor = %self.id,
                cur_mem_mib = mib(used),
                "Memory usage back within limits. Resuming normal operation."
            ),
            _ => {
                tracing::debug!(processor = %self.id, cur_mem_mib = mib(used), "Currently used memory.")
            }
        }
        above
    }
}

/// Returns memory the allocator holds but no longer uses to the system; true if it could try.
fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
        unsafe { libc::malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

pub struct MemoryLimiter {
    checker: Arc<Checker>,
    check_interval: Duration,
    signal: Signal,
    next: ConsumerRef,
    metrics: ProcessorMetrics,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl MemoryLimiter {
    pub(crate) fn new(
        checker: Checker,
        check_interval: Duration,
        signal: Signal,
        next: ConsumerRef,
        metrics: ProcessorMetrics,
    ) -> MemoryLimiter {
        MemoryLimiter {
            checker: Arc::new(checker),
            check_interval,
            signal,
            next,
            metrics,
            stop: watch::channel(false).0,
            task: Mutex::new(None),
        }
    }

    fn task(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn run_checker(checker: Arc<Checker>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = checker.trim_wanted.notified() => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        let checker = checker.clone();
        // /proc reads and malloc_trim block: never on an async worker.
        let _ = tokio::task::spawn_blocking(move || checker.check()).await;
    }
}

#[async_trait]
impl Consumer for MemoryLimiter {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let items = data.item_count();
        self.metrics.incoming(self.signal, items);
        self.checker.note_incoming(data.encoded_len() as u64);
        if self.checker.refusing() {
            self.metrics.refused(self.signal, items);
            return Err(ConsumeError::Refused {
                reason: REFUSED_REASON.into(),
                retry_after: Some(self.check_interval),
            });
        }
        // Counted as accepted even if the next component fails, as otelcol does.
        self.metrics.accepted(self.signal, items);
        self.metrics.outgoing(self.signal, items);
        self.next.consume(data).await
    }
}

#[async_trait]
impl Lifecycle for MemoryLimiter {
    /// Measures once at once, so a process already over its limit refuses from the first batch.
    async fn start(&self) -> anyhow::Result<()> {
        let mut task = self.task();
        if task.is_none() && !*self.stop.borrow() {
            self.checker.check();
            *task = Some(tokio::spawn(run_checker(
                self.checker.clone(),
                self.check_interval,
                self.stop.subscribe(),
            )));
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        let task = self.task().take();
        if let Some(task) = task {
            task.await?;
        }
        Ok(())
    }
}
