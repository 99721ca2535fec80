//! The limiter: a checker task samples the process's resident memory every `check_interval`; while
//! it is at or above the soft limit every consume is refused, retryably, so receivers answer "try
//! later" and the memory held in flight can drain. Below it, data passes through untouched.

use async_trait::async_trait;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ProcessorMetrics;
use std::sync::atomic::{AtomicBool, Ordering};
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
    id: String,
}

impl Checker {
    pub fn new(thresholds: Thresholds, sample: Sampler, id: String) -> Checker {
        Checker {
            thresholds,
            sample,
            refusing: AtomicBool::new(false),
            id,
        }
    }

    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }

    /// One measurement; logs when the limiter starts or stops refusing.
    pub fn check(&self) {
        let Some(used) = (self.sample)() else {
            // Without a reading, keep the last decision rather than guess either way.
            tracing::debug!(processor = %self.id, "memory usage could not be read");
            return;
        };
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
            _ = ticks.tick() => checker.check(),
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
    }
}

#[async_trait]
impl Consumer for MemoryLimiter {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let items = data.item_count();
        self.metrics.incoming(self.signal, items);
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
