//! Tracked load: requests whose every item is unique and identifiable (see `ids`), sent by workers
//! that behave as an OpenTelemetry SDK's exporter does, with a ledger of what was acknowledged.
//!
//! A request answered with success puts its items in the acknowledged set. A "try later" answer
//! (gRPC UNAVAILABLE / RESOURCE_EXHAUSTED, HTTP 429/502/503/504) is retried after the server's
//! Retry-After / RetryInfo, or after an exponential backoff when it gave none; so are connection
//! errors and timeouts, as SDKs do. Other answers fail the request for good. A request retried
//! past its budget is given up. Nothing but a success counts as acknowledged.

use crate::codec::{self, Compression};
use crate::reliability::ids::{IdSet, TrackedShape, encode_request};
use crate::transport::{Connection, Outcome, Protocol};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct TrackedLoadConfig {
    pub endpoint: SocketAddr,
    pub protocol: Protocol,
    pub shape: TrackedShape,
    pub compression: Compression,
    pub concurrency: usize,
    /// New items per second across all workers; `None` sends flat out.
    pub rate: Option<f64>,
    pub request_timeout: Duration,
    /// How long one request may keep being retried before it is given up.
    pub retry_budget: Duration,
}

impl TrackedLoadConfig {
    /// Paces the load at `items_per_second`, with enough workers to keep that rate when each
    /// answer takes up to `latency` (a request is answered once its batch left the batch
    /// processor, so its timeout bounds the latency).
    pub fn paced(mut self, items_per_second: f64, latency: Duration) -> Self {
        let in_flight = items_per_second * latency.as_secs_f64() / self.shape.batch_size as f64;
        self.rate = Some(items_per_second);
        self.concurrency = (in_flight.ceil() as usize + 2).max(4);
        self
    }
}

/// What the clients saw.
#[derive(Clone, Debug, Default)]
pub struct LoadLedger {
    /// Requests started (each with new items), and the items in them.
    pub requests: u64,
    pub items_sent: u64,
    /// Items whose request was answered with success (and no partial rejection).
    pub acknowledged: IdSet,
    /// "Try later" answers (each one, so a request refused three times counts three).
    pub refusals: u64,
    /// Connection errors and timeouts that were retried.
    pub transport_errors: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Requests answered with a non-retryable error.
    pub failed: u64,
    /// Requests still unanswered when their retry budget ran out or the load was abandoned.
    pub gave_up: u64,
    /// Items a partial success rejected (their requests are not counted as acknowledged).
    pub rejected_items: u64,
    /// Each distinct error message and how often it came.
    pub errors: BTreeMap<String, u64>,
}

impl LoadLedger {
    fn note(&mut self, message: &str) {
        // Numbers in messages (sizes, addresses) would make every message distinct.
        let key: String = message.chars().take(120).collect();
        if self.errors.len() < 40 || self.errors.contains_key(&key) {
            *self.errors.entry(key).or_default() += 1;
        }
    }
}

struct State {
    config: TrackedLoadConfig,
    next_seq: AtomicU64,
    /// No new requests; retries of started ones go on.
    stopping: AtomicBool,
    /// No more retries either.
    abandoned: AtomicBool,
    ledger: Mutex<LoadLedger>,
    started: Instant,
}

impl State {
    fn ledger(&self) -> std::sync::MutexGuard<'_, LoadLedger> {
        self.ledger.lock().expect("no panics under the lock")
    }
}

/// Load running in the background of a runtime.
pub struct TrackedLoad {
    state: Arc<State>,
    workers: Vec<JoinHandle<()>>,
    runtime: Handle,
}

impl TrackedLoad {
    pub fn start(runtime: &Handle, config: TrackedLoadConfig) -> TrackedLoad {
        assert!(config.concurrency > 0 && config.shape.batch_size > 0);
        let state = Arc::new(State {
            next_seq: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            ledger: Mutex::new(LoadLedger::default()),
            started: {
                let _entered = runtime.enter();
                Instant::now()
            },
            config,
        });
        let workers = (0..state.config.concurrency)
            .map(|worker| runtime.spawn(work(state.clone(), worker as u64)))
            .collect();
        TrackedLoad {
            state,
            workers,
            runtime: runtime.clone(),
        }
    }

    /// A copy of the ledger as it stands.
    pub fn snapshot(&self) -> LoadLedger {
        self.state.ledger().clone()
    }

    pub fn acknowledged_items(&self) -> u64 {
        self.state.ledger().acknowledged.len()
    }

    /// Starts no new requests; those under way keep retrying within their budget.
    pub fn stop(&self) {
        self.state.stopping.store(true, Ordering::SeqCst);
    }

    /// Stops retrying too: requests still unanswered are given up.
    pub fn abandon(&self) {
        self.stop();
        self.state.abandoned.store(true, Ordering::SeqCst);
    }

    /// Stops new requests, waits for the workers (retries within budget), returns the ledger.
    /// Call from outside the runtime.
    pub fn finish(self) -> LoadLedger {
        self.stop();
        let workers = self.workers;
        self.runtime.block_on(async {
            for worker in workers {
                let _ = worker.await;
            }
        });
        self.state.ledger().clone()
    }
}

fn prepare(config: &TrackedLoadConfig, seq: u64) -> Bytes {
    let request = encode_request(&config.shape, seq);
    let body = config.compression.compress(&request);
    match config.protocol {
        Protocol::Grpc => codec::grpc_frame(&body, config.compression != Compression::None),
        Protocol::Http => Bytes::from(body),
    }
}

/// Transport trouble a client retries: the server may be restarting or overloaded.
fn transport_trouble(message: &str) -> bool {
    [
        "connect:",
        "transport:",
        "no answer within",
        "reading the answer",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
}

/// Sleeps `wait`, waking early when the load is abandoned.
async fn pause(state: &State, wait: Duration) {
    let until = Instant::now() + wait;
    while Instant::now() < until && !state.abandoned.load(Ordering::Relaxed) {
        tokio::time::sleep_until(until.min(Instant::now() + Duration::from_millis(100))).await;
    }
}

async fn work(state: Arc<State>, worker: u64) {
    let config = &state.config;
    let authority = config.endpoint.to_string();
    let mut connection = loop {
        match Connection::open_retrying(
            config.protocol,
            &authority,
            config.compression,
            Duration::from_secs(30),
        )
        .await
        {
            Ok(connection) => break connection,
            Err(e) => {
                state.ledger().note(&format!("connect: {e}"));
                if state.stopping.load(Ordering::SeqCst) {
                    return;
                }
            }
        }
    };
    let interval = config
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(config.shape.batch_size as f64 / rate));
    let mut jitter = 0x9e37_79b9_7f4a_7c15u64 ^ worker.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    while !state.stopping.load(Ordering::SeqCst) {
        let seq = state.next_seq.fetch_add(1, Ordering::SeqCst);
        if let Some(interval) = interval {
            tokio::time::sleep_until(state.started + interval.mul_f64(seq as f64)).await;
            if state.stopping.load(Ordering::SeqCst) {
                break;
            }
        }
        let body = prepare(config, seq);
        {
            let mut ledger = state.ledger();
            ledger.requests += 1;
            ledger.items_sent += config.shape.batch_size as u64;
        }
        let began = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let (outcome, hint) = match tokio::time::timeout(
                config.request_timeout,
                connection.export_with_hint(config.shape.signal, body.clone()),
            )
            .await
            {
                Ok(answer) => answer,
                Err(_) => {
                    connection.reset();
                    let timeout = config.request_timeout;
                    (
                        Outcome::Failed(format!("no answer within {timeout:?}")),
                        None,
                    )
                }
            };
            let wait = {
                let mut ledger = state.ledger();
                match outcome {
                    Outcome::Acknowledged { rejected: 0 } => {
                        for item in config.shape.items_of(seq) {
                            ledger.acknowledged.insert(item);
                        }
                        break;
                    }
                    Outcome::Acknowledged { rejected } => {
                        ledger.rejected_items += rejected;
                        break;
                    }
                    Outcome::Refused(message) => {
                        ledger.refusals += 1;
                        ledger.note(&message);
                        hint.unwrap_or(backoff).min(Duration::from_secs(30))
                    }
                    Outcome::Failed(message) if transport_trouble(&message) => {
                        ledger.transport_errors += 1;
                        ledger.note(&message);
                        backoff
                    }
                    Outcome::Failed(message) => {
                        ledger.failed += 1;
                        ledger.note(&message);
                        break;
                    }
                }
            };
            // ±25% jitter, so that refused workers do not come back in lockstep.
            jitter ^= jitter << 13;
            jitter ^= jitter >> 7;
            jitter ^= jitter << 17;
            let wait = wait.mul_f64(0.75 + (jitter % 1000) as f64 / 2000.0);
            if state.abandoned.load(Ordering::SeqCst)
                || began.elapsed() + wait > config.retry_budget
            {
                state.ledger().gave_up += 1;
                break;
            }
            pause(&state, wait).await;
            if state.abandoned.load(Ordering::SeqCst) {
                state.ledger().gave_up += 1;
                break;
            }
            state.ledger().retries += 1;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::tracking_sink::TrackingSink;
    use ferrotel_core::Signal;

    fn config(endpoint: SocketAddr, protocol: Protocol) -> TrackedLoadConfig {
        TrackedLoadConfig {
            endpoint,
            protocol,
            shape: TrackedShape {
                signal: Signal::Logs,
                run: 77,
                batch_size: 20,
                attributes: 2,
                attribute_bytes: 16,
            },
            compression: Compression::Gzip,
            concurrency: 3,
            rate: Some(4000.0),
            request_timeout: Duration::from_secs(5),
            retry_budget: Duration::from_secs(30),
        }
    }

    #[test]
    fn straight_to_the_sink_nothing_is_lost_and_an_outage_is_retried_through() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sink = TrackingSink::start(runtime.handle()).unwrap();
        for protocol in [Protocol::Grpc, Protocol::Http] {
            let load = TrackedLoad::start(runtime.handle(), config(sink.addr, protocol));
            std::thread::sleep(Duration::from_millis(300));
            sink.down();
            std::thread::sleep(Duration::from_millis(500));
            sink.up().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let ledger = load.finish();
            assert!(
                ledger.transport_errors > 0,
                "the outage was seen: {ledger:?}"
            );
            assert_eq!(
                (ledger.failed, ledger.gave_up),
                (0, 0),
                "{:?}",
                ledger.errors
            );
            assert_eq!(ledger.acknowledged.len(), ledger.items_sent, "{protocol:?}");
            assert_eq!(sink.lost(77, &ledger.acknowledged), 0, "{protocol:?}");
        }
    }

    /// The negative control of the harness itself: a backend that acknowledges and forgets.
    #[test]
    fn a_backend_that_forgets_acknowledged_items_shows_as_loss() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sink = TrackingSink::start(runtime.handle()).unwrap();
        sink.forget_every(4);
        let load = TrackedLoad::start(runtime.handle(), config(sink.addr, Protocol::Grpc));
        std::thread::sleep(Duration::from_millis(500));
        let ledger = load.finish();
        let lost = sink.lost(77, &ledger.acknowledged);
        let requests = ledger.requests;
        assert_eq!(ledger.acknowledged.len(), requests * 20);
        assert_eq!(
            lost,
            requests / 4 * 20,
            "every 4th request of 20 items is forgotten"
        );
    }
}
