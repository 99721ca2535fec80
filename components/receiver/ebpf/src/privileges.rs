//! Least privilege. Loading the kernel programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN,
//! and that to mount tracefs); running them needs almost nothing: the ring buffer is mapped and
//! the maps are open, and the kernel does not check capabilities again on an open map's fd. Once
//! the whole collector has started (so that other components' start-up — binding a port below
//! 1024, say — still has what it needs), the receiver gives up every capability but those it
//! keeps using ([`kept`]), in every thread of the process, bounding set included, so none can be
//! regained.
//!
//! Capabilities belong to a thread, not to the process: `capset` changes the calling thread only.
//! As libcap's psx does, the change is broadcast with a spare real-time signal whose handler makes
//! the (async-signal-safe) system calls in each thread, and `/proc/self/task/*/status` is read
//! until every thread, including any created meanwhile, shows the reduced sets. Threads created
//! afterwards inherit them from their creator.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferrotel_core::component::Host;
use tokio::sync::watch;

use crate::config::Config;

pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

const NAMES: &[(u32, &str)] = &[
    (CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"),
    (CAP_SETPCAP, "CAP_SETPCAP"),
    (CAP_SYS_PTRACE, "CAP_SYS_PTRACE"),
    (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    (CAP_PERFMON, "CAP_PERFMON"),
    (CAP_BPF, "CAP_BPF"),
];

const fn bit(cap: u32) -> u64 {
    1 << cap
}

/// The capabilities the running receiver still uses:
/// - CAP_SYS_PTRACE, always: reading `/proc/<pid>/exe` of another user's process is a ptrace
///   access check (`cmdline` and `cgroup`, the other files read, are world-readable);
/// - with `l7.tls`, for uprobes on processes that start later: CAP_PERFMON to open the uprobe's
///   perf event (a tracefs `uprobe_events` probe as a `PERF_TYPE_TRACEPOINT` event; the `uprobe`
///   PMU wants CAP_SYS_ADMIN on current kernels, which is not kept) and CAP_DAC_READ_SEARCH to read
///   executables and libraries (also through `/proc/<pid>/root`) that ferrotel's uid may not read.
///   Attaching an already-loaded program to the event needs no CAP_BPF.
pub fn kept(config: &Config) -> u64 {
    let mut keep = bit(CAP_SYS_PTRACE);
    if config.l7.enabled && config.l7.tls.enabled {
        keep |= bit(CAP_PERFMON) | bit(CAP_DAC_READ_SEARCH);
    }
    keep
}

/// `CAP_…` names of a mask's bits, lowest first (numbers for those without a name here).
pub fn names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|cap| mask & bit(*cap) != 0)
        .map(|cap| match NAMES.iter().find(|(n, _)| *n == cap) {
            Some((_, name)) => name.to_string(),
            None => format!("capability {cap}"),
        })
        .collect()
}

/// A thread's capability sets, as `/proc/<pid>/task/<tid>/status` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
}

impl CapSets {
    pub fn parse(status: &str) -> Option<CapSets> {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let hex = line.strip_prefix(name)?.strip_prefix(':')?.trim();
                u64::from_str_radix(hex, 16).ok()
            })
        };
        Some(CapSets {
            inheritable: field("CapInh")?,
            permitted: field("CapPrm")?,
            effective: field("CapEff")?,
            bounding: field("CapBnd")?,
            // older kernels have no ambient set
            ambient: field("CapAmb").unwrap_or(0),
        })
    }

    /// True when nothing outside `keep` is left (in the bounding set too, if `bounding`).
    pub fn within(&self, keep: u64, bounding: bool) -> bool {
        (self.effective | self.permitted) & !keep == 0
            && self.inheritable == 0
            && self.ambient == 0
            && (!bounding || self.bounding & !keep == 0)
    }
}

/// Waits until the collector has started, then drops what is not [`kept`]; a failure is logged,
/// never fatal. Ends early when the receiver stops first.
pub async fn drop_when_started(
    config: Arc<Config>,
    host: Arc<Host>,
    mut stopped: watch::Receiver<bool>,
) {
    while !host.is_ready() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stopped.changed() => return,
        }
    }
    let keep = kept(&config);
    match tokio::task::spawn_blocking(move || drop_in_every_thread(keep)).await {
        Ok(Ok(Dropped::Nothing)) => tracing::debug!("ebpf: no capabilities to drop"),
        Ok(Ok(Dropped::Done {
            kept,
            threads,
            bounding,
        })) => {
            let kept = names(kept);
            let kept = if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            };
            tracing::info!(
                threads,
                "ebpf: capabilities dropped; kept {kept}{}",
                if bounding {
                    " (bounding set reduced to the same)"
                } else {
                    " (bounding set unchanged: no CAP_SETPCAP)"
                }
            );
        }
        Ok(Err(err)) => tracing::warn!(
            "ebpf: could not drop the capabilities no longer needed ({err:#}); running with them"
        ),
        Err(err) => tracing::warn!("ebpf: could not drop capabilities ({err})"),
    }
}

pub enum Dropped {
    /// The process had nothing outside `keep` (not root, or already reduced).
    Nothing,
    Done {
        kept: u64,
        threads: usize,
        /// Whether the bounding set was reduced too (that takes CAP_SETPCAP).
        bounding: bool,
    },
}

// What the signal handler reads and reports. One broadcast at a time (`BROADCAST`).
static KEEP: AtomicU64 = AtomicU64::new(u64::MAX);
static DROP_BOUNDING: AtomicBool = AtomicBool::new(false);
static LAST_CAP: AtomicU32 = AtomicU32::new(40);
static ACKS: AtomicUsize = AtomicUsize::new(0);
static FAILED_ERRNO: AtomicI32 = AtomicI32::new(0);
static BROADCAST: Mutex<()> = Mutex::new(());

/// Reduces every thread of this process to `keep` (what each thread already has of it).
pub fn drop_in_every_thread(keep: u64) -> anyhow::Result<Dropped> {
    let _one_at_a_time = BROADCAST.lock().unwrap_or_else(|p| p.into_inner());
    let mine = read_caps("/proc/thread-self/status")?;
    if (mine.effective | mine.permitted | mine.inheritable | mine.ambient) & !keep == 0 {
        return Ok(Dropped::Nothing);
    }
    // without CAP_SETPCAP the bounding set cannot be changed (a non-root process granted file
    // capabilities): the other sets still are
    let bounding = mine.effective & bit(CAP_SETPCAP) != 0;
    let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(63u32)
        .min(63);
    KEEP.store(keep, Ordering::SeqCst);
    DROP_BOUNDING.store(bounding, Ordering::SeqCst);
    LAST_CAP.store(last_cap, Ordering::SeqCst);
    FAILED_ERRNO.store(0, Ordering::SeqCst);

    let signal = install_handler()?;
    let result = broadcast(signal, keep, bounding);
    uninstall_handler(signal);
    let threads = result?;
    Ok(Dropped::Done {
        kept: keep & mine.permitted,
        threads,
        bounding,
    })
}

/// Signals every thread not yet reduced, until all are (or it takes too long). Returns how many
/// threads the process has.
fn broadcast(signal: libc::c_int, keep: u64, bounding: bool) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    loop {
        let mut pending = Vec::new();
        let mut threads = 0;
        for tid in thread_ids()? {
            let Ok(caps) = read_caps(&format!("/proc/self/task/{tid}/status")) else {
                continue; // exited meanwhile
            };
            threads += 1;
            if !caps.within(keep, bounding) {
                pending.push(tid);
            }
        }
        let errno = FAILED_ERRNO.load(Ordering::SeqCst);
        if errno != 0 {
            bail!(
                "a thread could not change its capabilities: {}",
                std::io::Error::from_raw_os_error(errno)
            );
        }
        if pending.is_empty() {
            return Ok(threads);
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {threads} threads did not take the reduced capabilities",
                pending.len()
            );
        }
        let before = ACKS.load(Ordering::SeqCst);
        let mut sent = 0;
        for tid in pending {
            // SAFETY: tgkill only sends a signal; a tid that has exited meanwhile fails with ESRCH.
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal) } == 0 {
                sent += 1;
            }
        }
        let wait_until = Instant::now() + Duration::from_millis(200);
        while ACKS.load(Ordering::SeqCst) < before + sent && Instant::now() < wait_until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn thread_ids() -> anyhow::Result<Vec<libc::pid_t>> {
    let entries = std::fs::read_dir("/proc/self/task").context("listing /proc/self/task")?;
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

fn read_caps(path: &str) -> anyhow::Result<CapSets> {
    let status = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    CapSets::parse(&status).with_context(|| format!("no capability sets in {path}"))
}

/// Installs the handler on the highest real-time signal nobody handles; returns that signal.
fn install_handler() -> anyhow::Result<libc::c_int> {
    for signal in (libc::SIGRTMIN() + 1..=libc::SIGRTMAX()).rev() {
        // SAFETY: a zeroed sigaction is a valid "default" action; the handler is an
        // `extern "C" fn(c_int)` that only makes async-signal-safe calls; `old` is written by the
        // kernel.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, &action, &mut old) != 0 {
                continue;
            }
            if old.sa_sigaction == libc::SIG_DFL {
                return Ok(signal);
            }
            // taken by someone else: put theirs back
            libc::sigaction(signal, &old, std::ptr::null_mut());
        }
    }
    bail!("no spare real-time signal to reach every thread with")
}

/// Ignoring first discards any of our signals still queued (a thread that blocks it), so none can
/// later meet the default action, which ends the process.
fn uninstall_handler(signal: libc::c_int) {
    for disposition in [libc::SIG_IGN, libc::SIG_DFL] {
        // SAFETY: as in install_handler; the actions are the predefined ones.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = disposition;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    // SAFETY: errno is thread-local; the handler restores it for the code it interrupted.
    let errno = unsafe { *libc::__errno_location() };
    let result = reduce_this_thread(
        KEEP.load(Ordering::SeqCst),
        DROP_BOUNDING.load(Ordering::SeqCst),
        LAST_CAP.load(Ordering::SeqCst),
    );
    if let Err(failed) = result {
        FAILED_ERRNO.store(failed, Ordering::SeqCst);
    }
    ACKS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The calling thread keeps only `keep` of what it has, in every set. Async-signal-safe: raw
/// system calls on the stack, no allocation, no locks. Returns the errno of a failed call.
fn reduce_this_thread(keep: u64, bounding: bool, last_cap: u32) -> Result<(), i32> {
    let errno = || {
        // SAFETY: reading this thread's errno.
        unsafe { *libc::__errno_location() }
    };
    if bounding {
        // the bounding set first: dropping from it needs CAP_SETPCAP, which capset removes
        for cap in (0..=last_cap).filter(|cap| keep & bit(*cap) == 0) {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
                return Err(errno());
            }
        }
    }
    // SAFETY: prctl with integer arguments only; EINVAL on kernels without ambient capabilities.
    let cleared = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if cleared != 0 && errno() != libc::EINVAL {
        return Err(errno());
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes a header and two data structs, which live on this stack frame.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(errno());
    }
    for (half, word) in data.iter_mut().enumerate() {
        let keep = (keep >> (32 * half)) as u32;
        word.effective &= keep;
        word.permitted &= keep;
        word.inheritable = 0; // nothing passes to a program ferrotel might run
    }
    // SAFETY: as for capget; pid 0 is the calling thread.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(errno());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ptrace_always_and_what_tls_uprobes_need_only_with_tls() {
        let mut config = Config::default();
        assert_eq!(
            names(kept(&config)),
            ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_PERFMON"]
        );
        assert_eq!(kept(&config) & (bit(CAP_SYS_ADMIN) | bit(CAP_BPF)), 0);
        config.l7.tls.enabled = false;
        assert_eq!(kept(&config), bit(CAP_SYS_PTRACE));
        config.l7.tls.enabled = true;
        config.l7.enabled = false; // no L7, no TLS uprobes
        assert_eq!(kept(&config), bit(CAP_SYS_PTRACE));
        assert_eq!(names(1 << 7), ["capability 7"]);
    }

    #[test]
    fn parses_the_capability_lines_of_a_status_file() {
        let status = "Name:\tferrotel\nUmask:\t0022\nCapInh:\t0000000000000000\n\
                      CapPrm:\t000001fffeffffff\nCapEff:\t000000c000080004\n\
                      CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";
        let caps = CapSets::parse(status).unwrap();
        assert_eq!(caps.permitted, 0x1fffeffffff);
        assert_eq!(caps.effective, 0xc000080004);
        assert_eq!(caps.bounding, 0x1ffffffffff);
        assert_eq!(CapSets::parse("Name:\tx\nCapEff:\t0\n"), None);
        // CapAmb is absent before Linux 4.3
        let old = status.replace("CapAmb:\t0000000000000000\n", "");
        assert_eq!(CapSets::parse(&old).unwrap().ambient, 0);
    }

    #[test]
    fn a_thread_is_reduced_only_when_every_set_is() {
        let keep = bit(CAP_SYS_PTRACE) | bit(CAP_PERFMON);
        let reduced = CapSets {
            permitted: keep,
            effective: bit(CAP_SYS_PTRACE),
            bounding: keep,
            ..CapSets::default()
        };
        assert!(reduced.within(keep, true));
        let cases = [
            CapSets {
                effective: keep | bit(CAP_SYS_ADMIN),
                ..reduced
            },
            CapSets {
                permitted: keep | bit(CAP_BPF),
                ..reduced
            },
            CapSets {
                inheritable: bit(CAP_SYS_PTRACE),
                ..reduced
            },
            CapSets {
                ambient: bit(CAP_SYS_PTRACE),
                ..reduced
            },
        ];
        for caps in cases {
            assert!(!caps.within(keep, true), "{caps:?}");
        }
        let full_bounding = CapSets {
            bounding: u64::MAX >> 23,
            ..reduced
        };
        assert!(!full_bounding.within(keep, true));
        assert!(full_bounding.within(keep, false));
    }

    /// In a child process (the drop would cripple this one): threads that exist before the drop,
    /// the one that drops, and one created after all end up with `keep` in every set.
    #[test]
    fn every_thread_of_a_process_is_reduced() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // nothing to drop
        }
        const CHILD: &str = "FERROTEL_PRIVILEGES_CHILD";
        let keep = bit(CAP_SYS_PTRACE) | bit(CAP_PERFMON);
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "privileges::tests::every_thread_of_a_process_is_reduced",
                ])
                .args(["--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && text.contains("reduced:"), "{text}");
            return;
        }
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let sleepers: Vec<_> = (0..6)
            .map(|_| {
                let wait = wait.clone();
                std::thread::spawn(move || {
                    let _ = wait.lock().unwrap().recv();
                })
            })
            .collect();
        let Dropped::Done {
            kept,
            threads,
            bounding: true,
        } = drop_in_every_thread(keep).unwrap()
        else {
            panic!("root had nothing to drop");
        };
        assert_eq!(kept, keep);
        assert!(threads >= 7, "{threads}"); // the test runner, six sleepers
        let later = std::thread::spawn(|| read_caps("/proc/thread-self/status").unwrap());
        assert!(later.join().unwrap().within(keep, true));
        for tid in thread_ids().unwrap() {
            let caps = read_caps(&format!("/proc/self/task/{tid}/status")).unwrap();
            assert!(caps.within(keep, true), "{tid}: {caps:?}");
            assert_eq!(caps.effective, keep, "{tid}");
        }
        // a second drop finds nothing left to do
        assert!(matches!(drop_in_every_thread(keep), Ok(Dropped::Nothing)));
        drop(done);
        sleepers.into_iter().for_each(|t| t.join().unwrap());
        println!("reduced: {threads} threads");
    }

    #[test]
    fn this_process_has_capability_sets() {
        let caps = read_caps("/proc/self/status").unwrap();
        assert_eq!(caps.effective & !caps.permitted, 0);
    }
}
