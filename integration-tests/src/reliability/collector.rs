//! The ferrotel process under test: its YAML config written to a temp dir, started on free ports,
//! killed (-9), restarted on the same config, stopped with SIGTERM, and its resident memory
//! sampled from /proc every 50 ms while it lives.

use crate::procs::{self, Proc, free_addr, http_get};
use ferrotel_core::Signal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// `otlp_grpc` to the sink.
    Grpc,
    /// `otlp_http` to the sink.
    Http,
    /// `debug`: acknowledges and drops (the harness's negative control).
    Debug,
}

#[derive(Clone, Debug)]
pub struct MemoryLimit {
    pub limit_mib: u32,
    pub spike_limit_mib: u32,
    pub check_interval: String,
}

#[derive(Clone, Debug)]
pub struct RetrySpec {
    pub initial_interval: String,
    pub max_interval: String,
    /// Long enough to cover the outage a scenario causes, as a user would set it.
    pub max_elapsed_time: String,
}

/// The pipeline of a scenario: otlp receiver → [memory_limiter] → batch → exporter.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    pub signal: Signal,
    pub exporter: ExporterKind,
    pub memory_limiter: Option<MemoryLimit>,
    pub batch_timeout: String,
    pub send_batch_size: u32,
    pub send_batch_max_size: u32,
    pub exporter_timeout: String,
    /// The `sending_queue` keys, one `key: value` per entry.
    pub queue: Vec<(&'static str, String)>,
    /// Adds a `file_storage` extension and `sending_queue.storage` pointing at it.
    pub persistent_queue: bool,
    /// `None` turns `retry_on_failure` off.
    pub retry: Option<RetrySpec>,
    /// (`max_recv_msg_size_mib`, `max_request_body_size`) of the receiver.
    pub receiver_limits: Option<(u32, usize)>,
}

impl PipelineSpec {
    /// A pipeline with the given exporter and everything else left plain.
    pub fn new(signal: Signal, exporter: ExporterKind) -> PipelineSpec {
        PipelineSpec {
            signal,
            exporter,
            memory_limiter: None,
            batch_timeout: "200ms".into(),
            send_batch_size: 1000,
            send_batch_max_size: 2000,
            exporter_timeout: "5s".into(),
            queue: Vec::new(),
            persistent_queue: false,
            retry: None,
            receiver_limits: None,
        }
    }

    /// The config file: receiver on `grpc`/`http`, exporter to `backend`, storage under `storage`,
    /// self-metrics on `metrics`.
    pub fn yaml(
        &self,
        grpc: SocketAddr,
        http: SocketAddr,
        metrics: SocketAddr,
        backend: SocketAddr,
        storage: &std::path::Path,
    ) -> String {
        let mut y = String::new();
        let mut line = |indent: usize, text: &str| {
            y.push_str(&" ".repeat(indent));
            y.push_str(text);
            y.push('\n');
        };
        if self.persistent_queue {
            line(0, "extensions:");
            line(2, "file_storage/queue:");
            line(4, &format!("directory: {}", storage.display()));
            line(4, "create_directory: true");
        }
        line(0, "receivers:");
        line(2, "otlp:");
        line(4, "protocols:");
        line(6, "grpc:");
        line(8, &format!("endpoint: {grpc}"));
        if let Some((mib, _)) = self.receiver_limits {
            line(8, &format!("max_recv_msg_size_mib: {mib}"));
        }
        line(6, "http:");
        line(8, &format!("endpoint: {http}"));
        if let Some((_, bytes)) = self.receiver_limits {
            line(8, &format!("max_request_body_size: {bytes}"));
        }
        line(0, "processors:");
        if let Some(limit) = &self.memory_limiter {
            line(2, "memory_limiter:");
            line(4, &format!("check_interval: {}", limit.check_interval));
            line(4, &format!("limit_mib: {}", limit.limit_mib));
            line(4, &format!("spike_limit_mib: {}", limit.spike_limit_mib));
        }
        line(2, "batch:");
        line(4, &format!("timeout: {}", self.batch_timeout));
        line(4, &format!("send_batch_size: {}", self.send_batch_size));
        line(
            4,
            &format!("send_batch_max_size: {}", self.send_batch_max_size),
        );
        line(0, "exporters:");
        let exporter = match self.exporter {
            ExporterKind::Grpc => "otlp_grpc",
            ExporterKind::Http => "otlp_http",
            ExporterKind::Debug => "debug",
        };
        line(2, &format!("{exporter}:"));
        match self.exporter {
            ExporterKind::Debug => line(4, "verbosity: basic"),
            ExporterKind::Grpc | ExporterKind::Http => {
                match self.exporter {
                    ExporterKind::Grpc => {
                        line(4, &format!("endpoint: {backend}"));
                        line(4, "tls:");
                        line(6, "insecure: true");
                    }
                    _ => line(4, &format!("endpoint: http://{backend}")),
                }
                line(4, &format!("timeout: {}", self.exporter_timeout));
                line(4, "sending_queue:");
                for (key, value) in &self.queue {
                    line(6, &format!("{key}: {value}"));
                }
                if self.persistent_queue {
                    line(6, "storage: file_storage/queue");
                }
                line(4, "retry_on_failure:");
                match &self.retry {
                    None => line(6, "enabled: false"),
                    Some(retry) => {
                        line(6, "enabled: true");
                        line(6, &format!("initial_interval: {}", retry.initial_interval));
                        line(6, &format!("max_interval: {}", retry.max_interval));
                        line(6, &format!("max_elapsed_time: {}", retry.max_elapsed_time));
                    }
                }
            }
        }
        line(0, "service:");
        if self.persistent_queue {
            line(2, "extensions: [file_storage/queue]");
        }
        line(2, "telemetry:");
        line(4, "logs:");
        line(6, "level: info");
        line(4, "metrics:");
        line(6, "readers:");
        line(8, "- pull:");
        line(12, "exporter:");
        line(14, "prometheus:");
        line(16, "host: 127.0.0.1");
        line(16, &format!("port: {}", metrics.port()));
        line(2, "pipelines:");
        line(4, &format!("{}:", self.signal));
        line(6, "receivers: [otlp]");
        let processors = if self.memory_limiter.is_some() {
            "[memory_limiter, batch]"
        } else {
            "[batch]"
        };
        line(6, &format!("processors: {processors}"));
        line(6, &format!("exporters: [{exporter}]"));
        y
    }
}

/// Peak resident memory of whichever process `pid` names, sampled every 50 ms.
struct RssSampler {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl RssSampler {
    fn start(pid: Arc<AtomicU32>) -> RssSampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak_kib, stop) = (peak_kib.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let pid = pid.load(Ordering::Relaxed);
                    if let Some(kib) = (pid != 0).then(|| rss_kib(pid)).flatten() {
                        peak_kib.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssSampler {
            peak_kib,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A ferrotel process (or its absence, between a kill and a restart).
pub struct Collector {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub metrics: SocketAddr,
    config: PathBuf,
    proc: Option<Proc>,
    pid: Arc<AtomicU32>,
    rss: RssSampler,
    /// Output of the processes that ended, kept for diagnostics.
    past_output: String,
    _dir: tempfile::TempDir,
}

/// Asks `ferrotel validate` whether a config is runnable; `Err` carries its complaint.
pub fn validate(yaml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = procs::write_file(dir.path(), "validate.yaml", yaml);
    let output = Command::new(procs::ferrotel_bin())
        .arg("validate")
        .arg("--config")
        .arg(&path)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

impl Collector {
    /// Writes the config, checks it with `ferrotel validate`, starts ferrotel and waits for its ports.
    pub fn start(spec: &PipelineSpec, backend: SocketAddr) -> Result<Collector, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (grpc, http, metrics) = (free_addr(), free_addr(), free_addr());
        let yaml = spec.yaml(grpc, http, metrics, backend, &dir.path().join("queue"));
        validate(&yaml)
            .map_err(|e| format!("ferrotel refuses the scenario's config: {e}\n{yaml}"))?;
        let config = procs::write_file(dir.path(), "ferrotel.yaml", &yaml);
        let pid = Arc::new(AtomicU32::new(0));
        let mut collector = Collector {
            grpc,
            http,
            metrics,
            config,
            proc: None,
            rss: RssSampler::start(pid.clone()),
            pid,
            past_output: String::new(),
            _dir: dir,
        };
        collector.restart();
        Ok(collector)
    }

    /// Starts ferrotel (again) on the same config and ports.
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "ferrotel is already running");
        let mut command = Command::new(procs::ferrotel_bin());
        command.arg("--config").arg(&self.config);
        let mut proc = Proc::spawn("ferrotel", command);
        self.pid.store(proc.pid(), Ordering::Relaxed);
        for addr in [self.grpc, self.http, self.metrics] {
            proc.wait_for_port(addr, START_TIMEOUT);
        }
        self.proc = Some(proc);
    }

    fn ended(&mut self) {
        self.pid.store(0, Ordering::Relaxed);
        if let Some(proc) = self.proc.take() {
            self.past_output.push_str(&proc.output());
            self.past_output.push_str("---- (process ended) ----\n");
        }
    }

    /// SIGKILL: no shutdown, no flush; returns once the process is gone.
    pub fn kill9(&mut self) -> Option<ExitStatus> {
        let proc = self.proc.as_mut()?;
        procs::signal(proc.pid(), "KILL");
        let status = procs::wait_for(Duration::from_secs(10), || proc.exited());
        self.ended();
        status
    }

    /// SIGTERM; the exit status (None if it did not exit within `timeout`) and how long it took.
    pub fn terminate(&mut self, timeout: Duration) -> (Option<ExitStatus>, Duration) {
        let Some(proc) = self.proc.as_mut() else {
            return (None, Duration::ZERO);
        };
        let began = Instant::now();
        let status = proc.terminate(timeout);
        let took = began.elapsed();
        if status.is_some() {
            self.ended();
        }
        (status, took)
    }

    /// Whether the process is alive.
    pub fn running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(|p| p.exited().is_none())
    }

    pub fn peak_rss_mib(&self) -> f64 {
        self.rss.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }

    /// Everything every ferrotel process of this collector printed.
    pub fn output(&self) -> String {
        let current = self.proc.as_ref().map(Proc::output).unwrap_or_default();
        format!("{}{current}", self.past_output)
    }

    /// The `otelcol_*` counters that tell where data went, for diagnostics.
    pub fn flow_metrics(&self) -> String {
        let Ok((200, text)) = http_get(self.metrics, "/metrics") else {
            return "(self-metrics unavailable)".into();
        };
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                [
                    "_sent_",
                    "_failed_",
                    "accepted_",
                    "refused_",
                    "dropped_",
                    "queue_size",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .map(|l| format!("  {l}\n"))
            .collect()
    }
}
