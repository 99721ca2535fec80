//! Components are joined by direct async calls: a receiver awaits its pipeline, a processor awaits the
//! next one. Awaiting is the backpressure; a refusal travels back to the receiver, which answers with
//! its protocol's "try again later".

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use crate::signal::Telemetry;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// Temporary: the sender should retry later (gRPC UNAVAILABLE, HTTP 503 + Retry-After).
    #[error("data refused, retry later: {reason}")]
    Refused {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The data can never be accepted (gRPC INVALID_ARGUMENT, HTTP 400).
    #[error("data rejected: {0}")]
    Permanent(String),
}

impl ConsumeError {
    pub fn refused(reason: impl Into<String>) -> Self {
        ConsumeError::Refused {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, ConsumeError::Refused { .. })
    }
}

#[async_trait]
pub trait Consumer: Send + Sync {
    /// Whether this consumer changes the data it is handed (otelcol's `MutatesData`). A fan-out only
    /// needs to know this to decide who gets the original; every consumer owns what it receives.
    fn mutates_data(&self) -> bool {
        false
    }

    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError>;
}

pub type ConsumerRef = Arc<dyn Consumer>;

/// Hands one batch to several consumers. Every consumer but one gets a clone (cheap while the batch
/// is still encoded bytes); the original goes to a consumer that mutates, if there is one.
pub struct FanOut {
    consumers: Vec<ConsumerRef>,
}

impl FanOut {
    /// Returns the single consumer itself when there is only one: no fan-out layer on the hot path.
    pub fn build(mut consumers: Vec<ConsumerRef>) -> ConsumerRef {
        if consumers.len() == 1 {
            return consumers.pop().expect("one consumer");
        }
        // The mutating consumer goes last so it receives the original rather than a clone.
        consumers.sort_by_key(|c| c.mutates_data());
        Arc::new(FanOut { consumers })
    }
}

#[async_trait]
impl Consumer for FanOut {
    fn mutates_data(&self) -> bool {
        false
    }

    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let Some((last, rest)) = self.consumers.split_last() else {
            return Ok(());
        };
        let sends = rest.iter().map(|c| c.consume(data.clone()));
        let (results, last_result) =
            futures::join!(futures::future::join_all(sends), last.consume(data));
        // A permanent error wins over a refusal: retrying cannot help the consumer that rejected.
        let mut refused = None;
        for result in results.into_iter().chain(std::iter::once(last_result)) {
            match result {
                Err(e @ ConsumeError::Permanent(_)) => return Err(e),
                Err(e) => refused = Some(e),
                Ok(()) => {}
            }
        }
        refused.map_or(Ok(()), Err)
    }
}

/// A consumer that accepts and forgets everything; for components that need a sink in tests.
pub struct Discard;

#[async_trait]
impl Consumer for Discard {
    async fn consume(&self, _data: Telemetry) -> Result<(), ConsumeError> {
        Ok(())
    }
}
