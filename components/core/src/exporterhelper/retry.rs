//! Retrying with exponential backoff and jitter, as otelcol's retry sender does: the wait starts
//! at `initial_interval`, grows by `multiplier` up to `max_interval`, is drawn from
//! `interval * (1 ± randomization_factor)`, is never shorter than the server asked for
//! (gRPC RetryInfo, HTTP Retry-After), and the batch is dropped once `max_elapsed_time` would be
//! passed.

use rand::Rng;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::config::RetryConfig;
use super::{Delivered, SendError};

/// The waits between attempts for one batch.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: RetryConfig,
    interval: Duration,
}

impl Backoff {
    pub fn new(config: &RetryConfig) -> Self {
        Backoff {
            config: config.clone(),
            interval: config.initial_interval.0,
        }
    }

    /// The wait before the next attempt, or `None` when it would end past `max_elapsed_time`.
    pub fn next(&mut self, elapsed: Duration, server_delay: Option<Duration>) -> Option<Duration> {
        let factor = self.config.randomization_factor;
        let base = self.interval.as_secs_f64();
        let jittered = if factor > 0.0 {
            rand::rng().random_range(base * (1.0 - factor)..=base * (1.0 + factor))
        } else {
            base
        };
        let grown = (base * self.config.multiplier).min(self.config.max_interval.as_secs_f64());
        self.interval = Duration::try_from_secs_f64(grown).unwrap_or(self.config.max_interval.0);
        let wait = Duration::try_from_secs_f64(jittered).unwrap_or(self.config.max_interval.0);
        let wait = wait.max(server_delay.unwrap_or_default());
        let limit = self.config.max_elapsed_time.0;
        if !limit.is_zero() && elapsed + wait > limit {
            return None;
        }
        Some(wait)
    }
}

/// Where the exporter is in its life, as the retry loop needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// Shutting down: each batch gets its attempt, but failures are no longer retried (as in
    /// otelcol, whose shutdown stops the retry sender first so the queue drains quickly).
    Draining,
    /// The drain deadline passed: attempts in flight are abandoned.
    Aborted,
}

/// Why a batch was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The destination rejected it for good.
    Permanent,
    /// It failed and `retry_on_failure` is disabled.
    RetryDisabled,
    /// Retrying would pass `max_elapsed_time`.
    NoMoreRetries,
    /// The exporter was stopped before the batch could be sent.
    Shutdown,
}

impl GaveUp {
    pub fn describe(self) -> &'static str {
        match self {
            GaveUp::Permanent => "the error is not retryable",
            GaveUp::RetryDisabled => "retry_on_failure is disabled",
            GaveUp::NoMoreRetries => "no more retries left",
            GaveUp::Shutdown => "interrupted due to shutdown",
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good or runs out of retries. Once `phase` is
/// `Draining` a failure is not retried (a wait under way ends), and at `Aborted` the attempt in
/// flight is dropped. Each failure that will be retried is logged with the wait.
pub async fn with_retry<F, Fut>(
    config: &RetryConfig,
    phase: &mut watch::Receiver<Phase>,
    exporter: &str,
    mut attempt: F,
) -> Result<Delivered, (SendError, GaveUp)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Delivered, SendError>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::new(config);
    loop {
        let result = tokio::select! {
            biased;
            _ = phase.wait_for(|p| *p == Phase::Aborted) => {
                return Err((SendError::retryable("shutdown deadline reached while sending"), GaveUp::Shutdown));
            }
            result = attempt() => result,
        };
        let error = match result {
            Ok(delivered) => return Ok(delivered),
            Err(error @ SendError::Permanent(_)) => return Err((error, GaveUp::Permanent)),
            Err(error) => error,
        };
        if !config.enabled {
            return Err((error, GaveUp::RetryDisabled));
        }
        if *phase.borrow() != Phase::Running {
            return Err((error, GaveUp::Shutdown));
        }
        let server_delay = match &error {
            SendError::Retryable { retry_after, .. } => *retry_after,
            SendError::Permanent(_) => None,
        };
        let Some(wait) = backoff.next(started.elapsed(), server_delay) else {
            return Err((error, GaveUp::NoMoreRetries));
        };
        tracing::info!(
            exporter,
            error = %error,
            interval = ?wait,
            "Exporting failed. Will retry the request after interval."
        );
        tokio::select! {
            biased;
            _ = phase.wait_for(|p| *p != Phase::Running) => return Err((error, GaveUp::Shutdown)),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GoDuration;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn config(initial_ms: u64, factor: f64, max_elapsed_ms: u64) -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::from_millis(initial_ms),
            randomization_factor: factor,
            multiplier: 2.0,
            max_interval: GoDuration::from_millis(initial_ms * 4),
            max_elapsed_time: GoDuration::from_millis(max_elapsed_ms),
        }
    }

    #[test]
    fn intervals_grow_to_the_cap_and_stay_within_jitter() {
        let mut exact = Backoff::new(&config(100, 0.0, 0));
        let waits: Vec<u128> = (0..5)
            .map(|_| exact.next(Duration::ZERO, None).unwrap().as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 400, 400]);
        let mut jittered = Backoff::new(&config(100, 0.5, 0));
        for _ in 0..50 {
            let w = jittered.next(Duration::ZERO, None).unwrap().as_millis();
            assert!((50..=600).contains(&w), "{w}");
        }
    }

    #[test]
    fn server_delay_is_a_floor_and_max_elapsed_a_ceiling() {
        let mut b = Backoff::new(&config(100, 0.0, 0));
        assert_eq!(
            b.next(Duration::ZERO, Some(Duration::from_secs(3)))
                .unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.next(Duration::ZERO, Some(Duration::from_millis(1)))
                .unwrap(),
            Duration::from_millis(200)
        );
        let mut limited = Backoff::new(&config(100, 0.0, 1000));
        assert!(limited.next(Duration::from_millis(950), None).is_none());
        let mut limited = Backoff::new(&config(100, 0.0, 1000));
        assert!(
            limited
                .next(Duration::ZERO, Some(Duration::from_secs(2)))
                .is_none()
        );
    }

    #[tokio::test]
    async fn retries_until_success_and_stops_on_permanent_errors() {
        let (_tx, mut abort) = watch::channel(Phase::Running);
        let calls = AtomicUsize::new(0);
        let result = with_retry(&config(1, 0.0, 0), &mut abort, "t", || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(SendError::retryable("busy"))
                } else {
                    Ok(Delivered::all())
                }
            }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let result = with_retry(&config(1, 0.0, 0), &mut abort, "t", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(SendError::permanent("bad data")) }
        })
        .await;
        assert_eq!(result.unwrap_err().1, GaveUp::Permanent);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let disabled = RetryConfig {
            enabled: false,
            ..config(1, 0.0, 0)
        };
        let result = with_retry(&disabled, &mut abort, "t", || async {
            Err(SendError::retryable("busy"))
        })
        .await;
        assert_eq!(result.unwrap_err().1, GaveUp::RetryDisabled);
    }

    #[tokio::test]
    async fn draining_ends_the_wait_and_stops_retrying() {
        let (tx, mut phase) = watch::channel(Phase::Running);
        let task = tokio::spawn(async move {
            with_retry(&config(60_000, 0.0, 0), &mut phase, "t", || async {
                Err(SendError::retryable("down"))
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        tx.send(Phase::Draining).unwrap();
        assert_eq!(task.await.unwrap().unwrap_err().1, GaveUp::Shutdown);

        // While draining, a batch still gets its attempt.
        let (_tx, mut draining) = watch::channel(Phase::Draining);
        let result = with_retry(&config(1, 0.0, 0), &mut draining, "t", || async {
            Ok(Delivered::all())
        })
        .await;
        assert!(result.is_ok());
    }
}
