//! From kernel records to telemetry: metric series (cumulative), one span per L7 exchange, one
//! log record per process start, exit and OOM kill. Attribution (process, container) and the
//! include/exclude filters are applied here.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};

use crate::config::Config;
use crate::events::{self, Event, ExecEvent, Record, Tuple};
use crate::metrics::{Attributes, MetricStore};
use crate::names::{DEFINITIONS, errno_name};
use crate::otlp::{attribute, process_resource, scope};
use crate::procinfo::{ProcessInfo, ProcessTable};
use crate::spans::SpanWriter;

mod l7;

/// Spans or log records waiting for the next flush beyond this are dropped (and counted).
const MAX_PENDING: usize = 65_536;
const MAX_SERIES: usize = 100_000;

pub struct Aggregator {
    config: Arc<Config>,
    processes: ProcessTable,
    pub metrics: MetricStore,
    spans: SpanWriter,
    logs: Vec<(Arc<ProcessInfo>, LogRecord)>,
    /// CLOCK_MONOTONIC (what bpf_ktime_get_ns counts) to Unix time.
    mono_to_unix_ns: i64,
    pub host: Vec<KeyValue>,
    /// Spans and log records dropped because the pipeline fell behind.
    pub dropped_spans: u64,
    pub dropped_logs: u64,
    /// Bytes of each open connection already counted in `tcp.io`, by its struct sock.
    reported_io: HashMap<u64, (u64, u64)>,
    /// Connections closed since the last read of the open ones: a read that raced their close
    /// must not count them again.
    closed: std::collections::HashSet<u64>,
    /// Whether any pipeline takes traces: without one, no span is built.
    pub spans_wanted: bool,
    /// Records read from the ring buffer, by kind (connection/disk/process events, L7
    /// exchanges, execs): self-telemetry of what the kernel sends up.
    pub records: [u64; 3],
    /// `http.route` values kept per executable (`l7.max_routes_per_service`).
    pub routes: ferrotel_l7::RouteLimit,
    /// What each connection's earlier requests set up, until it closes.
    connections: foldhash::HashMap<l7::ConnectionKey, ferrotel_l7::Connection>,
    rng: rand::rngs::SmallRng,
}

pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the one it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn direction(role: u8) -> &'static str {
    if role == events::ROLE_SERVER {
        "inbound"
    } else {
        "outbound"
    }
}

/// Who is at the other end: the destination of an outbound connection, the local port of an
/// inbound one (its clients are too many to name).
fn peer_attributes(role: u8, t: &Tuple) -> Attributes {
    if role == events::ROLE_SERVER {
        vec![("server.port", t.sport.to_string())]
    } else {
        destination(t)
    }
}

fn destination(t: &Tuple) -> Attributes {
    vec![
        ("destination.address", t.destination().to_string()),
        ("destination.port", t.dport.to_string()),
    ]
}

impl Aggregator {
    pub fn new(config: Arc<Config>, proc_root: &str) -> Self {
        use rand::SeedableRng;
        Aggregator {
            config: config.clone(),
            processes: ProcessTable::new(proc_root, &config.process),
            metrics: MetricStore::new(DEFINITIONS, MAX_SERIES),
            spans: SpanWriter::default(),
            logs: Vec::new(),
            mono_to_unix_ns: unix_ns() as i64 - monotonic_ns() as i64,
            host: crate::otlp::host_attributes(),
            dropped_spans: 0,
            dropped_logs: 0,
            reported_io: HashMap::new(),
            closed: Default::default(),
            spans_wanted: true,
            records: [0; 3],
            routes: ferrotel_l7::RouteLimit::new(config.l7.max_routes_per_service),
            connections: Default::default(),
            rng: rand::rngs::SmallRng::from_os_rng(),
        }
    }

    pub fn unix_time(&self, mono_ns: u64) -> u64 {
        (mono_ns as i64 + self.mono_to_unix_ns).max(0) as u64
    }

    fn process(&mut self, tgid: u32, comm: &[u8]) -> Arc<ProcessInfo> {
        // the kernel's comm names only a process never seen before: not copied for every event
        match self.processes.cached(tgid) {
            Some(process) => process,
            None => self.processes.get(tgid, &events::c_str(comm)),
        }
    }

    /// Whether the name and cgroup filters let this process be observed: every list set in
    /// `include` matches, and nothing in `exclude` does.
    fn process_passes(&self, process: &ProcessInfo) -> bool {
        let in_cgroup = |prefixes: &[String]| {
            prefixes
                .iter()
                .any(|prefix| process.cgroup_path.starts_with(prefix.as_str()))
        };
        let (include, exclude) = (&self.config.include, &self.config.exclude);
        let included = (include.process_names.is_empty()
            || include.process_names.contains(&process.executable_name))
            && (include.cgroup_paths.is_empty() || in_cgroup(&include.cgroup_paths));
        let excluded = exclude.process_names.contains(&process.executable_name)
            || in_cgroup(&exclude.cgroup_paths);
        included && !excluded
    }

    /// Whether the include/exclude filters let this process (and these ports) be observed.
    pub fn allowed(&self, process: &ProcessInfo, ports: &[u16]) -> bool {
        let (include, exclude) = (&self.config.include.ports, &self.config.exclude.ports);
        let ports_pass = (include.is_empty() || ports.iter().any(|p| include.contains(p)))
            && !ports.iter().any(|p| exclude.contains(p));
        ports_pass && self.process_passes(process)
    }

    /// The name and cgroup filters' verdict on a process, for the kernel (which applies the port
    /// filters itself, per socket).
    pub fn process_allowed(&mut self, tgid: u32) -> bool {
        let process = self.processes.get(tgid, "");
        self.process_passes(&process)
    }

    pub fn observe(&mut self, record: Record) {
        let kind = match record {
            Record::Event(_) => 0,
            Record::L7(_) => 1,
            Record::Exec(_) => 2,
        };
        self.records[kind] += 1;
        match record {
            Record::Event(event) => self.event(&event),
            Record::L7(event) => self.l7(event),
            Record::Exec(event) => self.exec(&event),
        }
    }

    fn event(&mut self, e: &Event) {
        use events::*;
        match e.kind {
            EV_DISK => return self.disk(e),
            EV_EXIT => return self.exit(e),
            EV_OOM_KILL => return self.oom_kill(e),
            _ => {}
        }
        let process = self.process(e.tgid, &e.comm);
        if !self.allowed(&process, &[e.tuple.sport, e.tuple.dport]) {
            return;
        }
        let p = Some(&process);
        let m = &mut self.metrics;
        match e.kind {
            EV_CONNECT => {
                let dst = destination(&e.tuple);
                m.add("tcp.connection.attempts", p, dst.clone(), 1);
                m.add("tcp.connection.successes", p, dst.clone(), 1);
                m.record(
                    "tcp.connection.duration",
                    p,
                    dst.clone(),
                    secs(e.duration_ns),
                );
                let mut active = dst;
                active.push(("network.connection.direction", "outbound".into()));
                m.add("tcp.connections.active", p, active, 1);
            }
            EV_CONNECT_FAILED => {
                let dst = destination(&e.tuple);
                m.add("tcp.connection.attempts", p, dst.clone(), 1);
                let mut failed = dst;
                failed.push(("error.type", errno_name(e.error)));
                m.add("tcp.connection.failures", p, failed, 1);
            }
            EV_ACCEPT => {
                let local = vec![
                    ("server.port", e.tuple.sport.to_string()),
                    ("network.connection.direction", "inbound".into()),
                ];
                m.add("tcp.connections.active", p, local, 1);
            }
            EV_CLOSE => {
                let mut active = peer_attributes(e.role, &e.tuple);
                active.push(("network.connection.direction", direction(e.role).into()));
                m.add("tcp.connections.active", p, active, -1);
                let totals = (e.bytes_sent, e.bytes_received);
                self.add_io(&process, e.bytes, e.role, &e.tuple, totals);
                self.reported_io.remove(&e.bytes);
                self.closed.insert(e.bytes);
                self.connections
                    .remove(&l7::connection_key(e.tgid, &e.tuple));
            }
            EV_LISTEN_OPEN | EV_LISTEN_CLOSE => {
                let listen = vec![
                    ("server.address", e.tuple.source().to_string()),
                    ("server.port", e.tuple.sport.to_string()),
                ];
                let delta = if e.kind == EV_LISTEN_OPEN { 1 } else { -1 };
                m.add("tcp.listening", p, listen, delta);
            }
            EV_RETRANSMIT => {
                m.add("tcp.retransmits", p, destination(&e.tuple), 1);
            }
            _ => {}
        }
    }

    /// Counts what a connection sent and received since it was last counted.
    fn add_io(
        &mut self,
        process: &Arc<ProcessInfo>,
        key: u64,
        role: u8,
        tuple: &Tuple,
        (sent, received): (u64, u64),
    ) {
        let last = self.reported_io.entry(key).or_insert((0, 0));
        let (new_sent, new_received) =
            (sent.saturating_sub(last.0), received.saturating_sub(last.1));
        *last = (sent.max(last.0), received.max(last.1));
        let mut peer = peer_attributes(role, tuple);
        peer.push(("network.connection.direction", direction(role).into()));
        let p = Some(process);
        if new_sent > 0 {
            let mut attrs = peer.clone();
            attrs.push(("network.io.direction", "transmit".into()));
            self.metrics.add("tcp.io", p, attrs, new_sent as i64);
        }
        if new_received > 0 {
            peer.push(("network.io.direction", "receive".into()));
            self.metrics.add("tcp.io", p, peer, new_received as i64);
        }
    }

    /// The byte counts of connections still open (the kernel's `sockets` map), so that a
    /// long-lived connection's traffic is counted while it lasts, not only when it closes.
    pub fn open_sockets(&mut self, sockets: impl IntoIterator<Item = (u64, events::SockEntry)>) {
        let closed = std::mem::take(&mut self.closed);
        for (key, entry) in sockets {
            if entry.tuple.transport != events::TRANSPORT_TCP || closed.contains(&entry.sk) {
                continue;
            }
            let tgid = (key >> 32) as u32;
            let process = self.processes.get(tgid, "");
            if !self.allowed(&process, &[entry.tuple.sport, entry.tuple.dport]) {
                continue;
            }
            let totals = (entry.bytes_sent, entry.bytes_received);
            self.add_io(&process, entry.sk, entry.role, &entry.tuple, totals);
        }
    }

    fn disk(&mut self, e: &Event) {
        let direction = match e.op {
            b'R' => "read",
            b'W' => "write",
            _ => "discard",
        };
        // the dev_t of the block tracepoints is the kernel's: major << 20 | minor
        let device = crate::names::block_device_name(e.aux >> 20, e.aux & 0xfffff);
        let attrs = vec![
            ("system.device", device),
            ("disk.io.direction", direction.into()),
        ];
        self.metrics
            .add("system.disk.operations", None, attrs.clone(), 1);
        self.metrics
            .add("system.disk.io", None, attrs.clone(), e.bytes as i64);
        self.metrics.record(
            "system.disk.operation.duration",
            None,
            attrs,
            secs(e.duration_ns),
        );
        if e.tgid != 0 {
            let process = self.process(e.tgid, &e.comm);
            let attrs = vec![("disk.io.direction", direction.to_string())];
            self.metrics
                .add("process.disk.io", Some(&process), attrs, e.bytes as i64);
        }
    }

    fn exec(&mut self, e: &ExecEvent) {
        if !self.config.process.enabled {
            return;
        }
        let args_len = (e.args_len as usize).min(e.args.len());
        let process = self.processes.exec(
            e.tgid,
            &events::c_str(&e.filename),
            &events::args_line(&e.args[..args_len]),
        );
        if !self.allowed(&process, &[]) {
            return;
        }
        let exe = vec![("process.executable.name", process.executable_name.clone())];
        self.metrics.add("process.starts", None, exe, 1);
        let mut attributes = vec![
            attribute("event.name", "process.start"),
            attribute("process.parent_pid", i64::from(e.ppid)),
        ];
        attributes.extend(process_attributes(&process));
        self.log(process, e.ts_ns, "process started", attributes);
    }

    fn exit(&mut self, e: &Event) {
        let process = self.processes.exit(e.tgid, &events::c_str(&e.comm));
        self.metrics.process_exited(e.tgid);
        if !self.config.process.enabled || !self.allowed(&process, &[]) {
            return;
        }
        let exe = vec![("process.executable.name", process.executable_name.clone())];
        self.metrics.add("process.exits", None, exe, 1);
        // the kernel's exit_code: status << 8, or the terminating signal in the low 7 bits
        let code = e.error;
        let mut attributes = vec![attribute("event.name", "process.exit")];
        if code & 0x7f != 0 {
            attributes.push(attribute("process.exit.signal", i64::from(code & 0x7f)));
        } else {
            attributes.push(attribute(
                "process.exit.code",
                i64::from((code >> 8) & 0xff),
            ));
        }
        attributes.extend(process_attributes(&process));
        self.log(process, e.ts_ns, "process exited", attributes);
    }

    fn oom_kill(&mut self, e: &Event) {
        let process = self.process(e.tgid, &e.comm);
        let exe = vec![("process.executable.name", process.executable_name.clone())];
        self.metrics.add("process.oom_kills", None, exe, 1);
        let mut attributes = vec![attribute("event.name", "process.oom_kill")];
        attributes.extend(process_attributes(&process));
        self.log(
            process,
            e.ts_ns,
            "process killed by the OOM killer",
            attributes,
        );
    }

    fn log(&mut self, process: Arc<ProcessInfo>, ts: u64, body: &str, attributes: Vec<KeyValue>) {
        if self.logs.len() >= MAX_PENDING {
            self.dropped_logs += 1;
            return;
        }
        let time = self.unix_time(ts);
        let record = LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: unix_ns(),
            severity_number: SeverityNumber::Info as i32,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.to_string())),
            }),
            attributes,
            ..Default::default()
        };
        self.logs.push((process, record));
    }

    /// Spans built and not yet taken.
    pub fn pending_spans(&self) -> usize {
        self.spans.len()
    }

    /// The spans built so far, as an encoded `ExportTraceServiceRequest`.
    /// The spans since the last call, as one export request, and how many.
    pub fn take_spans(&mut self) -> Option<(bytes::Bytes, usize)> {
        let count = self.spans.len();
        self.spans.take(&self.host).map(|bytes| (bytes, count))
    }

    pub fn take_logs(&mut self) -> Vec<ResourceLogs> {
        group(std::mem::take(&mut self.logs), &self.host)
            .into_iter()
            .map(|(resource, log_records)| ResourceLogs {
                resource: Some(resource),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect()
    }
}

fn process_attributes(process: &ProcessInfo) -> Vec<KeyValue> {
    let mut out = vec![
        attribute("process.pid", i64::from(process.pid)),
        attribute("process.executable.name", process.executable_name.as_str()),
    ];
    if !process.command_line.is_empty() {
        out.push(attribute(
            "process.command_line",
            process.command_line.as_str(),
        ));
    }
    out
}

fn group<T>(
    items: Vec<(Arc<ProcessInfo>, T)>,
    host: &[KeyValue],
) -> Vec<(opentelemetry_proto::tonic::resource::v1::Resource, Vec<T>)> {
    let mut by_pid: HashMap<u32, (Arc<ProcessInfo>, Vec<T>)> = HashMap::new();
    for (process, item) in items {
        by_pid
            .entry(process.pid)
            .or_insert_with(|| (process.clone(), Vec::new()))
            .1
            .push(item);
    }
    by_pid
        .into_values()
        .map(|(process, items)| (process_resource(&process, host), items))
        .collect()
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}
