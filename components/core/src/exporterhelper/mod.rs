//! otelcol's exporterhelper: the sending queue, retries and the per-attempt timeout that every
//! network exporter shares, with otelcol's keys, defaults and self-metrics.
//!
//! An exporter implements [`Sender`] (one attempt to deliver one batch) and wraps it in an
//! [`Exporter`], which is the component the pipeline sees (a `Consumer` + `Lifecycle`):
//!
//! ```ignore
//! let auth = client_authenticator(&set.host, config.auth.as_ref())?;
//! let settings =
//!     ExporterSettings::from_config(config.timeout, &config.sending_queue, &config.retry_on_failure);
//! let exporter = Exporter::new(&set, settings, MySender::new(&config)?)?;
//! Ok(Arc::new(exporter))
//! ```
//!
//! `consume` puts the batch in a bounded queue (refusing with a retryable error when it is full,
//! unless `block_on_overflow`); `num_consumers` workers per signal take batches, send them with
//! the timeout, and retry retryable failures with backoff. `otelcol_exporter_sent_*`,
//! `otelcol_exporter_send_failed_*` and `otelcol_exporter_enqueue_failed_*` count every item;
//! `shutdown` stops accepting and stops retrying (as otelcol does), lets the workers give every
//! queued batch one attempt within a deadline, and counts whatever is left as failed. With
//! `sending_queue::storage` the queue is [`persistent`]: it opens at `start` (sending what the
//! last run left), and what is left at shutdown stays on disk for the next start, not counted.

mod batcher;
pub mod client;
pub mod config;
mod exporter;
pub mod persistent;
pub mod queue;
pub mod response;
pub mod retry;
mod setup;

use async_trait::async_trait;
use bytes::Bytes;
use std::time::Duration;

use crate::signal::Telemetry;

pub use client::{Compression, CompressionParams, Headers};
pub use config::{BatchConfig, QueueConfig, RetryConfig, Sizer};
pub use exporter::{Exporter, ExporterSettings};
pub use setup::{
    AuthConfig, DEFAULT_WRITE_BUFFER_SIZE, MiddlewareConfig, client_authenticator,
    warn_inactive_keys,
};

/// Why one attempt to send a batch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again; `retry_after` is the server's wish (a floor for the next wait).
    #[error("{msg}")]
    Retryable {
        msg: String,
        retry_after: Option<Duration>,
    },
    /// The destination will never accept this batch: dropped at once.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn retryable(msg: impl Into<String>) -> Self {
        SendError::Retryable {
            msg: msg.into(),
            retry_after: None,
        }
    }

    pub fn permanent(msg: impl Into<String>) -> Self {
        SendError::Permanent(msg.into())
    }
}

/// A batch the destination took, maybe only in part (OTLP partial success).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Items the destination rejected; counted as failed.
    pub rejected: usize,
    /// The destination's explanation, if it gave one.
    pub message: String,
}

impl Delivered {
    /// Everything was accepted.
    pub fn all() -> Self {
        Delivered::default()
    }

    pub fn partial(rejected: usize, message: impl Into<String>) -> Self {
        Delivered {
            rejected,
            message: message.into(),
        }
    }
}

/// One exporter's way to deliver a batch: a single attempt, without retrying or timing out
/// (the [`Exporter`] around it does both). The batch is lent, so a retry costs no copy.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Called once from the exporter's `start`, before any `send`.
    async fn start(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError>;

    /// The request body for `data` (encoded, compressed), made once per batch before the first
    /// attempt — on a blocking thread when the batch is large — and handed to every attempt
    /// through [`Sender::send_prepared`], so a retry costs no second compression. `None`: this
    /// sender works from the data alone and `send` is called.
    fn prepare(&self, _data: &Telemetry) -> Result<Option<Bytes>, SendError> {
        Ok(None)
    }

    /// One attempt with the body [`Sender::prepare`] made.
    async fn send_prepared(&self, data: &Telemetry, _body: &Bytes) -> Result<Delivered, SendError> {
        self.send(data).await
    }

    /// Called once from the exporter's `shutdown`, after the queue has drained.
    async fn shutdown(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
