//! TLS plaintext: finds OpenSSL and Go's crypto/tls in the node's processes and attaches the
//! uprobes of `ebpf/tls.bpf.h` to them.
//!
//! Every uprobe program is loaded once, at start. Probes are then attached per distinct file
//! (device and inode), for all processes: a library or binary seen once is covered in every process
//! that maps it, now or later, so a new process costs an attach only when it brings a new file.
//! What gets attached:
//! - a mapping whose file name starts with `libssl.so` (OpenSSL 1.1 and 3), and an executable
//!   with OpenSSL linked in: an entry uprobe and a uretprobe on each of `SSL_write`, `SSL_read`,
//!   `SSL_write_ex` and `SSL_read_ex`, and an entry uprobe on `SSL_set_fd`;
//! - a Go (≥ 1.18, amd64) executable with a symbol table: an entry uprobe on
//!   `crypto/tls.(*Conn).Write` and `.Read`, and a uprobe on every RET instruction of each (found by
//!   decoding the function), never a uretprobe, which breaks Go's stack handling.
//!
//! When: a scan of every process at start; then, on a thread of its own, every process that
//! execs (the receiver passes on the kernel's exec records), looked at again 0.2, 1 and 5 s later
//! (the dynamic loader maps libssl after the exec, Python's `ssl` module when it is imported);
//! new pids listed in /proc every second (exec records are off with `process.enabled: false`, or
//! may be lost); and every process every 30 s (libraries loaded late by long-lived processes).
//!
//! How: a tracefs `uprobe_events` probe opened as a tracepoint perf event and linked to the
//! program with a BPF cookie naming the function. Not the `uprobe` PMU (aya's way), whose
//! perf_event_open fails without CAP_SYS_ADMIN (measured on Linux 6.18, with CAP_PERFMON): after
//! start the receiver keeps only CAP_PERFMON (perf events),
//! CAP_DAC_READ_SEARCH (the files) and CAP_SYS_PTRACE (/proc/<pid>/maps and exe), and linking an
//! already-loaded program needs nothing more. The probes are removed when the receiver stops.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aya::Ebpf;
use aya::programs::{ProgramFd, UProbe};

use crate::config::Config;
use elf::{Kind, Probe, find_probes};
use perf::{link_create, perf_event_open_tracepoint};

mod elf;
mod perf;

const RECHECKS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(5),
];
const NEW_PIDS_EVERY: Duration = Duration::from_secs(1);
const RESCAN_EVERY: Duration = Duration::from_secs(30);

/// Watches processes and attaches the TLS uprobes; they stay attached while this lives.
pub struct Attacher {
    execs: SyncSender<u32>,
    thread: Option<JoinHandle<()>>,
}

impl Attacher {
    /// Loads the uprobe programs and starts watching; None (after a warning) when TLS capture is
    /// off or the programs cannot be loaded.
    pub fn start(config: &Config, ebpf: &mut Ebpf) -> Option<Attacher> {
        if !(config.l7.enabled && config.l7.tls.enabled) {
            return None;
        }
        let programs = match Programs::load(ebpf) {
            Ok(programs) => programs,
            Err(err) => {
                tracing::warn!("ebpf: TLS plaintext is not captured: {err:#}");
                return None;
            }
        };
        let (execs, pids) = mpsc::sync_channel(4096);
        let thread = std::thread::Builder::new()
            .name("ebpf-tls".into())
            .spawn(move || Watcher::new(programs).run(pids))
            .map_err(|err| tracing::warn!("ebpf: TLS plaintext is not captured: {err}"))
            .ok()?;
        Some(Attacher {
            execs,
            thread: Some(thread),
        })
    }

    /// A process exec'd: look at what it runs. Never blocks (the periodic scans catch up).
    pub fn exec(&self, pid: u32) {
        let _ = self.execs.try_send(pid);
    }
}

impl Drop for Attacher {
    fn drop(&mut self) {
        // the watcher ends when the channel closes, detaching everything
        let (closed, _) = mpsc::sync_channel(1);
        self.execs = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Programs {
    fds: [ProgramFd; 4],
}

impl Programs {
    const NAMES: [&str; 4] = [
        "ft_ssl_enter",
        "ft_ssl_return",
        "ft_go_tls_enter",
        "ft_go_tls_return",
    ];

    fn load(ebpf: &mut Ebpf) -> anyhow::Result<Programs> {
        if !cfg!(target_arch = "x86_64") {
            bail!("the TLS uprobes read x86-64 registers");
        }
        let mut load = |name: &str| -> anyhow::Result<ProgramFd> {
            let program: &mut UProbe = ebpf
                .program_mut(name)
                .with_context(|| format!("no program {name} in the object"))?
                .try_into()?;
            program
                .load()
                .with_context(|| format!("verifier, {name}"))?;
            Ok(program.fd()?.try_clone()?)
        };
        Ok(Programs {
            fds: [
                load(Self::NAMES[0])?,
                load(Self::NAMES[1])?,
                load(Self::NAMES[2])?,
                load(Self::NAMES[3])?,
            ],
        })
    }

    fn of(&self, kind: Kind) -> &ProgramFd {
        &self.fds[kind as usize]
    }
}

struct Watcher {
    programs: Programs,
    tracefs: Option<PathBuf>,
    group: String,
    /// Files looked at (device, inode), attached to or not.
    seen: HashSet<(u64, u64)>,
    /// Link fds (closing one detaches it), and the tracefs probes to remove after them.
    links: Vec<OwnedFd>,
    events: Vec<String>,
    pids: HashSet<u32>,
    self_pid: u32,
}

impl Watcher {
    fn new(programs: Programs) -> Watcher {
        let tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.join("uprobe_events").exists());
        Watcher {
            programs,
            tracefs,
            group: format!("ferrotel_{}", std::process::id()),
            seen: HashSet::new(),
            links: Vec::new(),
            events: Vec::new(),
            pids: HashSet::new(),
            self_pid: std::process::id(),
        }
    }

    fn run(mut self, execs: mpsc::Receiver<u32>) {
        if self.tracefs.is_none() {
            tracing::warn!(
                "ebpf: TLS plaintext is not captured: tracefs (uprobe_events) is not mounted"
            );
            return;
        }
        remove_stale_probes(self.tracefs.as_deref());
        self.scan(true);
        let mut due: Vec<(Instant, u32)> = Vec::new();
        let mut next_pids = Instant::now() + NEW_PIDS_EVERY;
        let mut next_rescan = Instant::now() + RESCAN_EVERY;
        loop {
            let wake = due.iter().map(|d| d.0).fold(next_pids, Instant::min);
            match execs.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(pid) => self.arrived(pid, &mut due),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            due.retain(|&(at, pid)| {
                let ready = at <= now;
                if ready {
                    self.check(pid);
                }
                !ready
            });
            if now >= next_pids {
                next_pids = now + NEW_PIDS_EVERY;
                let full = now >= next_rescan;
                if full {
                    next_rescan = now + RESCAN_EVERY;
                }
                for pid in self.scan(full) {
                    self.arrived(pid, &mut due);
                }
            }
        }
        self.detach_all();
    }

    fn arrived(&mut self, pid: u32, due: &mut Vec<(Instant, u32)>) {
        self.check(pid);
        if due.len() < 30_000 {
            let now = Instant::now();
            due.extend(RECHECKS.iter().map(|d| (now + *d, pid)));
        }
    }

    /// Lists /proc: checks every process when `full`, and returns the pids not listed before.
    fn scan(&mut self, full: bool) -> Vec<u32> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        let now: HashSet<u32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        let new = now.difference(&self.pids).copied().collect();
        if full {
            for &pid in &now {
                self.check(pid);
            }
        }
        self.pids = now;
        if full { Vec::new() } else { new }
    }

    /// Attaches to what `pid` runs and maps, where not done before.
    fn check(&mut self, pid: u32) {
        if pid == self.self_pid {
            return;
        }
        let exe = format!("/proc/{pid}/exe");
        if let Ok(meta) = fs::metadata(&exe)
            && !self.seen.contains(&(meta.dev(), meta.ino()))
        {
            let shown = fs::read_link(&exe).map_or(exe.clone(), |p| p.display().to_string());
            self.inspect((meta.dev(), meta.ino()), &exe, &shown);
        }
        let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) else {
            return;
        };
        for path in libssl_paths(&maps) {
            let file = format!("/proc/{pid}/root{path}");
            if let Ok(meta) = fs::metadata(&file)
                && !self.seen.contains(&(meta.dev(), meta.ino()))
            {
                self.inspect((meta.dev(), meta.ino()), &file, path);
            }
        }
    }

    fn inspect(&mut self, id: (u64, u64), file: &str, shown: &str) {
        let Ok(handle) = fs::File::open(file) else {
            return; // gone already, or not readable: tried again with the next process
        };
        self.seen.insert(id);
        let (what, probes) = match find_probes(handle) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(err) => {
                tracing::debug!("ebpf: TLS: nothing attached to {shown}: {err:#}");
                return;
            }
        };
        let mut attached = 0;
        for probe in &probes {
            match self.attach(id, file, probe) {
                Ok(()) => attached += 1,
                Err(err) => tracing::warn!(
                    "ebpf: TLS uprobe on {} ({kind:?}) in {shown} not attached: {err:#}",
                    probe.function,
                    kind = probe.kind
                ),
            }
        }
        if attached > 0 {
            tracing::info!(
                path = shown,
                what,
                probes = attached,
                "ebpf: TLS uprobes attached"
            );
        }
    }

    fn attach(&mut self, id: (u64, u64), file: &str, probe: &Probe) -> anyhow::Result<()> {
        if file.contains(char::is_whitespace) {
            bail!("a path with spaces cannot be written to uprobe_events");
        }
        let tracefs = self.tracefs.as_ref().context("no tracefs")?;
        let ret = probe.kind == Kind::SslReturn;
        let name = format!(
            "{}{:x}_{:x}_{:x}",
            if ret { 'r' } else { 'p' },
            id.0,
            id.1,
            probe.offset
        );
        let event = format!("{}/{name}", self.group);
        let definition = format!(
            "{}:{event} {file}:{:#x}\n",
            if ret { 'r' } else { 'p' },
            probe.offset
        );
        fs::OpenOptions::new()
            .append(true)
            .open(tracefs.join("uprobe_events"))
            .and_then(|mut f| f.write_all(definition.as_bytes()))
            .context("adding the probe to uprobe_events")?;
        self.events.push(event.clone());
        let id: u64 = fs::read_to_string(tracefs.join("events").join(&event).join("id"))
            .context("reading the probe's id")?
            .trim()
            .parse()
            .context("the probe's id")?;
        let perf = perf_event_open_tracepoint(id).context("perf_event_open")?;
        let link = link_create(self.programs.of(probe.kind), &perf, probe.cookie)
            .context("linking the program (BPF_LINK_CREATE)")?;
        self.links.push(link);
        Ok(())
    }

    fn detach_all(&mut self) {
        self.links.clear();
        let Some(tracefs) = &self.tracefs else { return };
        if let Ok(mut file) = fs::OpenOptions::new()
            .append(true)
            .open(tracefs.join("uprobe_events"))
        {
            for event in &self.events {
                let _ = file.write_all(format!("-:{event}\n").as_bytes());
            }
        }
    }
}

/// Removes the uprobe_events probes of ferrotel processes that are gone without removing them.
fn remove_stale_probes(tracefs: Option<&std::path::Path>) {
    let Some(tracefs) = tracefs else { return };
    let Ok(defined) = fs::read_to_string(tracefs.join("uprobe_events")) else {
        return;
    };
    let stale: String = defined
        .lines()
        .filter_map(|line| {
            // "p:ferrotel_<pid>/<name> <path>:<offset>"
            let event = line.split_whitespace().next()?.split_once(':')?.1;
            let pid = event.strip_prefix("ferrotel_")?.split('/').next()?;
            let gone = !std::path::Path::new("/proc").join(pid).exists();
            gone.then(|| format!("-:{event}\n"))
        })
        .collect();
    if !stale.is_empty()
        && let Ok(mut file) = fs::OpenOptions::new()
            .append(true)
            .open(tracefs.join("uprobe_events"))
    {
        for line in stale.lines() {
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// The distinct paths of the mappings of `libssl.so*` in a /proc/<pid>/maps.
fn libssl_paths(maps: &str) -> Vec<&str> {
    let mut paths: Vec<&str> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| {
            path.starts_with('/')
                && path
                    .rsplit('/')
                    .next()
                    .is_some_and(|name| name.starts_with("libssl.so"))
        })
        .collect();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_libssl_mappings() {
        let maps = "7f00-7f01 r--p 00000000 fd:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3\n\
                    7f01-7f02 r-xp 00001000 fd:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3\n\
                    7f02-7f03 r-xp 00000000 fd:01 124 /usr/lib/x86_64-linux-gnu/libcrypto.so.3\n\
                    7f03-7f04 rw-p 00000000 00:00 0 [heap]\n";
        assert_eq!(
            libssl_paths(maps),
            vec!["/usr/lib/x86_64-linux-gnu/libssl.so.3"]
        );
    }
}
