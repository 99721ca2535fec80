//! The `memory_limiter` factory.

use anyhow::Context;
use ferrotel_core::component::{
    CreateSettings, Factory, PipeRef, ProcessorFactory, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::consumer::ConsumerRef;
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::{DEFAULT_MIN_GC_INTERVAL_WHEN_SOFT_LIMITED, MemoryLimiterConfig};
use crate::limiter::{Checker, MemoryLimiter, Sampler, process_rss};
use crate::memory::{MemorySource, Thresholds, mib};

pub struct MemoryLimiterProcessorFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Beta);

impl Factory for MemoryLimiterProcessorFactory {
    fn type_name(&self) -> &'static str {
        "memory_limiter"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<MemoryLimiterConfig>(node).map(|_| ())
    }
}

impl ProcessorFactory for MemoryLimiterProcessorFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        signal: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<MemoryLimiterConfig>(node)?;
        Ok(Arc::new(build(
            &set,
            &config,
            signal,
            next,
            &MemorySource::system(),
            process_rss(),
        )?))
    }
}

/// The thresholds `config` asks for: fixed MiB take precedence over percentages of `source`.
pub fn thresholds(
    config: &MemoryLimiterConfig,
    source: &MemorySource,
    id: &str,
) -> anyhow::Result<Thresholds> {
    if config.limit_mib != 0 {
        return Ok(Thresholds::fixed_mib(
            config.limit_mib,
            config.spike_limit_mib,
        ));
    }
    let total = source
        .total_memory()
        .context("failed to get total memory, use fixed memory settings (limit_mib)")?;
    tracing::info!(
        processor = %id,
        total_memory_mib = mib(total),
        limit_percentage = config.limit_percentage,
        spike_limit_percentage = config.spike_limit_percentage,
        "Using percentage memory limiter"
    );
    Ok(Thresholds::percentage(
        total,
        config.limit_percentage,
        config.spike_limit_percentage,
    ))
}

pub(crate) fn build(
    set: &CreateSettings,
    config: &MemoryLimiterConfig,
    signal: Signal,
    next: ConsumerRef,
    source: &MemorySource,
    sample: Sampler,
) -> anyhow::Result<MemoryLimiter> {
    let id = set.id.to_string();
    if config.min_gc_interval_when_soft_limited != DEFAULT_MIN_GC_INTERVAL_WHEN_SOFT_LIMITED
        || !config.min_gc_interval_when_hard_limited.is_zero()
    {
        tracing::warn!(
            processor = %id,
            "min_gc_interval_when_soft_limited and min_gc_interval_when_hard_limited pace Go's garbage collector; \
             they are accepted but have no effect here"
        );
    }
    let thresholds = thresholds(config, source, &id)?;
    tracing::info!(
        processor = %id,
        limit_mib = mib(thresholds.hard),
        spike_limit_mib = mib(thresholds.hard - thresholds.soft),
        check_interval = %config.check_interval,
        "Memory limiter configured"
    );
    let metrics = set.telemetry.processor(&set.id, &id);
    let checker = Checker::new(thresholds, sample, id);
    Ok(MemoryLimiter::new(
        checker,
        config.check_interval.as_duration(),
        signal,
        next,
        metrics,
    ))
}
