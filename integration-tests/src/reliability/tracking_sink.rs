//! The tracking sink: an OTLP backend (gRPC and HTTP on one port) that records the id of every
//! item it is given, and that can go down and come back on the same port.
//!
//! "Down" means down as a crashed backend is: the listener is closed (new connections are
//! refused) and open connections are cut mid-request. It can also be slow: a throughput cap in
//! items per second (requests wait for their turn, as at a saturated backend) and a fixed delay.
//! It keeps everything in memory, so nothing survives the test process.

use crate::codec::{self, Compression};
use crate::reliability::ids::{self, IdSet};
use bytes::Bytes;
use ferrotel_core::Signal;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

type Body = BoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 256 << 20;

/// What the sink received, by run.
#[derive(Debug, Default)]
struct Ledger {
    runs: HashMap<u32, Delivered>,
    /// Items without a tracking id (not from the tracked load).
    untracked: u64,
    requests: u64,
}

/// The items of one run that reached the sink.
#[derive(Clone, Debug, Default)]
pub struct Delivered {
    pub unique: IdSet,
    /// Every delivery, duplicates included.
    pub total: u64,
}

impl Delivered {
    pub fn duplicates(&self) -> u64 {
        self.total - self.unique.len()
    }
}

#[derive(Default)]
struct Shared {
    ledger: Mutex<Ledger>,
    /// Throughput cap in items per second; 0 means none.
    rate: AtomicU64,
    /// When the capped pipe is next free.
    next_slot: Mutex<Option<Instant>>,
    delay_micros: AtomicU64,
    /// Harness self-check only: acknowledge every Nth request without recording it (0: never).
    forget_every: AtomicU64,
    seen: AtomicU64,
}

/// A tracking sink serving on a runtime; stops when dropped.
pub struct TrackingSink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Handle,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl TrackingSink {
    /// Starts on an ephemeral loopback port, serving on `runtime`.
    pub fn start(runtime: &Handle) -> anyhow::Result<TrackingSink> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared::default());
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let server = runtime.spawn(serve(listener, shared.clone()));
        Ok(TrackingSink {
            addr,
            shared,
            runtime: runtime.clone(),
            server: Mutex::new(Some(server)),
        })
    }

    pub fn is_up(&self) -> bool {
        self.server
            .lock()
            .expect("no panics under the lock")
            .is_some()
    }

    /// Closes the port and cuts every open connection. Call from outside the runtime.
    pub fn down(&self) {
        let server = self.server.lock().expect("no panics under the lock").take();
        if let Some(server) = server {
            server.abort();
            // The task owns the listener and the connections: once it is gone, so are they.
            let _ = self.runtime.block_on(server);
        }
    }

    /// Listens on the same port again. Call from outside the runtime.
    pub fn up(&self) -> anyhow::Result<()> {
        let mut server = self.server.lock().expect("no panics under the lock");
        if server.is_some() {
            return Ok(());
        }
        let addr = self.addr;
        let listener = self.runtime.block_on(async move {
            // The port may linger for a moment after the close; keep trying briefly.
            let mut tries = 0;
            loop {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.set_reuseaddr(true)?;
                match socket.bind(addr).and_then(|()| socket.listen(1024)) {
                    Ok(listener) => return Ok::<_, std::io::Error>(listener),
                    Err(e) if tries >= 100 => return Err(e),
                    Err(_) => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })?;
        *server = Some(self.runtime.spawn(serve(listener, self.shared.clone())));
        Ok(())
    }

    /// Caps throughput at `items_per_second` (None lifts the cap).
    pub fn set_rate(&self, items_per_second: Option<f64>) {
        let rate = items_per_second.map_or(0, |r| r.max(1.0) as u64);
        self.shared.rate.store(rate, Ordering::Relaxed);
        *self
            .shared
            .next_slot
            .lock()
            .expect("no panics under the lock") = None;
    }

    /// Delays every answer by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.shared
            .delay_micros
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// For the harness's own negative control: acknowledge every `n`th request without recording
    /// what it carried, as a backend that loses data would.
    pub fn forget_every(&self, n: u64) {
        self.shared.forget_every.store(n, Ordering::Relaxed);
    }

    /// What run `run` delivered so far.
    pub fn delivered(&self, run: u32) -> Delivered {
        let ledger = self.shared.ledger.lock().expect("no panics under the lock");
        ledger.runs.get(&run).cloned().unwrap_or_default()
    }

    /// How many of `acknowledged` have not arrived.
    pub fn lost(&self, run: u32, acknowledged: &IdSet) -> u64 {
        let ledger = self.shared.ledger.lock().expect("no panics under the lock");
        match ledger.runs.get(&run) {
            Some(delivered) => acknowledged.missing_from(&delivered.unique),
            None => acknowledged.len(),
        }
    }

    /// Items without a tracking id, and export requests answered.
    pub fn untracked_and_requests(&self) -> (u64, u64) {
        let ledger = self.shared.ledger.lock().expect("no panics under the lock");
        (ledger.untracked, ledger.requests)
    }
}

impl Drop for TrackingSink {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().ok().and_then(|mut s| s.take()) {
            server.abort();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    // Dropping this set (when the task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(request, &shared).await) }
                    });
                    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    builder.http2().max_concurrent_streams(1024);
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn grpc_status(code: u16, message: &str) -> Response<Body> {
    let mut response = respond(StatusCode::OK, "application/grpc", Bytes::new());
    response
        .headers_mut()
        .insert("grpc-status", HeaderValue::from(code));
    let message = message.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), " ");
    if let Ok(value) = HeaderValue::from_str(&message) {
        response.headers_mut().insert("grpc-message", value);
    }
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's payload, uncompressed, or why it cannot be read.
async fn payload(request: Request<Incoming>, grpc: bool) -> Result<Bytes, String> {
    let encoding_header = if grpc {
        "grpc-encoding"
    } else {
        "content-encoding"
    };
    let compression = Compression::from_header(header_str(request.headers(), encoding_header))?;
    let body = Limited::new(request.into_body(), MAX_BODY + 5)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let (compressed, message) = if grpc {
        let mut frames = codec::grpc_unframe(body)?;
        if frames.len() != 1 {
            return Err(format!("unary call with {} messages", frames.len()));
        }
        frames.remove(0)
    } else {
        (compression != Compression::None, body)
    };
    if compressed {
        compression.decompress(&message, MAX_BODY).map(Bytes::from)
    } else {
        Ok(message)
    }
}

async fn handle(request: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let Some(signal) = codec::signal_for_path(request.uri().path()) else {
        return respond(StatusCode::NOT_FOUND, "text/plain", "no OTLP endpoint here");
    };
    if request.method() != Method::POST {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "POST only");
    }
    let grpc = header_str(request.headers(), "content-type")
        .is_some_and(|t| t.starts_with("application/grpc"));
    let bad = |message: String| {
        if grpc {
            grpc_status(3, &message)
        } else {
            respond(StatusCode::BAD_REQUEST, "text/plain", message)
        }
    };
    let payload = match payload(request, grpc).await {
        Ok(payload) => payload,
        Err(message) => return bad(message),
    };
    let items = match ids::items_in(signal, &payload) {
        Ok(items) => items,
        Err(e) => return bad(format!("cannot decode the {signal} request: {e}")),
    };
    pace(shared, items.len()).await;
    record(shared, signal, &items);
    if grpc {
        crate::sink::grpc_ok()
    } else {
        respond(StatusCode::OK, "application/x-protobuf", Bytes::new())
    }
}

/// Waits for this request's turn under the throughput cap, then for the fixed delay.
async fn pace(shared: &Shared, items: usize) {
    let rate = shared.rate.load(Ordering::Relaxed);
    if rate > 0 {
        let cost = Duration::from_secs_f64(items as f64 / rate as f64);
        let done = {
            let mut next = shared.next_slot.lock().expect("no panics under the lock");
            let now = Instant::now();
            let start = next.filter(|n| *n > now).unwrap_or(now);
            *next = Some(start + cost);
            start + cost
        };
        tokio::time::sleep_until(done).await;
    }
    let delay = shared.delay_micros.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
}

fn record(shared: &Shared, _signal: Signal, items: &[ids::FoundItem]) {
    let n = shared.seen.fetch_add(1, Ordering::Relaxed) + 1;
    let forget = shared.forget_every.load(Ordering::Relaxed);
    let mut ledger = shared.ledger.lock().expect("no panics under the lock");
    ledger.requests += 1;
    if forget > 0 && n.is_multiple_of(forget) {
        return;
    }
    for item in items {
        match item {
            Some((run, item)) => {
                let delivered = ledger.runs.entry(*run).or_default();
                delivered.total += 1;
                delivered.unique.insert(*item);
            }
            None => ledger.untracked += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::ids::{TrackedShape, encode_request};
    use crate::transport::{Connection, Outcome, Protocol};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    async fn send(addr: SocketAddr, protocol: Protocol, body: Vec<u8>) -> Outcome {
        let mut connection = match Connection::open_retrying(
            protocol,
            &addr.to_string(),
            Compression::None,
            Duration::ZERO,
        )
        .await
        {
            Ok(connection) => connection,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let body = match protocol {
            Protocol::Grpc => codec::grpc_frame(&body, false),
            Protocol::Http => Bytes::from(body),
        };
        connection.export(Signal::Traces, body).await
    }

    #[test]
    fn records_ids_counts_duplicates_and_goes_down_and_up_on_the_same_port() {
        let runtime = runtime();
        let sink = TrackingSink::start(runtime.handle()).unwrap();
        let shape = TrackedShape {
            signal: Signal::Traces,
            run: 9,
            batch_size: 10,
            attributes: 1,
            attribute_bytes: 8,
        };
        let ok = Outcome::Acknowledged { rejected: 0 };
        assert_eq!(
            runtime.block_on(send(sink.addr, Protocol::Grpc, encode_request(&shape, 0))),
            ok
        );
        assert_eq!(
            runtime.block_on(send(sink.addr, Protocol::Http, encode_request(&shape, 0))),
            ok
        );
        assert_eq!(
            runtime.block_on(send(sink.addr, Protocol::Http, encode_request(&shape, 1))),
            ok
        );
        let delivered = sink.delivered(9);
        assert_eq!(
            (
                delivered.unique.len(),
                delivered.total,
                delivered.duplicates()
            ),
            (20, 30, 10)
        );

        sink.down();
        let refused = runtime.block_on(send(sink.addr, Protocol::Http, encode_request(&shape, 2)));
        assert!(
            matches!(&refused, Outcome::Failed(m) if m.contains("refused")),
            "{refused:?}"
        );
        sink.up().unwrap();
        assert_eq!(
            runtime.block_on(send(sink.addr, Protocol::Grpc, encode_request(&shape, 2))),
            ok
        );
        assert_eq!(sink.delivered(9).unique.len(), 30);

        let mut acknowledged = IdSet::default();
        (0..40).for_each(|i| {
            acknowledged.insert(i);
        });
        assert_eq!(sink.lost(9, &acknowledged), 10);
        assert_eq!(sink.lost(10, &acknowledged), 40);
    }

    #[test]
    fn a_rate_cap_makes_requests_wait_their_turn() {
        let runtime = runtime();
        let sink = TrackingSink::start(runtime.handle()).unwrap();
        sink.set_rate(Some(1000.0));
        let shape = TrackedShape {
            signal: Signal::Traces,
            run: 1,
            batch_size: 100,
            attributes: 0,
            attribute_bytes: 0,
        };
        let started = std::time::Instant::now();
        runtime.block_on(async {
            let sends =
                (0..5).map(|seq| send(sink.addr, Protocol::Grpc, encode_request(&shape, seq)));
            futures::future::join_all(sends).await
        });
        // 500 items at 1000 items/s: the last answer comes no sooner than 0.5 s after the first request.
        assert!(
            started.elapsed() >= Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(sink.delivered(1).unique.len(), 500);
    }
}
