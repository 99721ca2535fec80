//! Loading the kernel programs with aya: privileges checked first (a clear error naming what is
//! missing), tracefs mounted when it is not, then each program loaded and attached on its own, so
//! that one the kernel refuses costs its signal, not the receiver.

use std::path::Path;

use anyhow::{Context, bail};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::config::{Config, SyscallProbes};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferrotel.bpf.o"));

/// The tracepoint programs by the signal they serve: (group, category, name = the C function's).
/// The syscalls are not here: one tp_btf pair serves them all (`SYSCALL_DISPATCHERS`), or, where
/// the kernel refuses tp_btf, `SYSCALL_TRACEPOINTS`.
pub const PROGRAMS: &[(&str, &str, &str)] = &[
    ("tcp", "sock", "inet_sock_set_state"),
    ("tcp", "tcp", "tcp_retransmit_skb"),
    ("disk", "block", "block_bio_queue"),
    ("disk", "block", "block_rq_issue"),
    ("disk", "block", "block_rq_complete"),
    ("process", "sched", "sched_process_exec"),
    ("process", "oom", "mark_victim"),
    // exits also let user space forget what it keeps per process
    ("exit", "sched", "sched_process_exit"),
];

/// (program, raw tracepoint) of the syscall dispatchers.
const SYSCALL_DISPATCHERS: &[(&str, &str)] = &[("ft_sys_exit", "sys_exit")];

/// The fallback: one perf-event tracepoint per followed syscall (category `syscalls`).
const SYSCALL_TRACEPOINTS: &[&str] = &[
    "sys_enter_read",
    "sys_exit_read",
    "sys_enter_write",
    "sys_exit_write",
    "sys_enter_readv",
    "sys_exit_readv",
    "sys_enter_writev",
    "sys_exit_writev",
    "sys_enter_recvfrom",
    "sys_exit_recvfrom",
    "sys_enter_sendto",
    "sys_exit_sendto",
    "sys_enter_recvmsg",
    "sys_exit_recvmsg",
    "sys_enter_sendmsg",
    "sys_exit_sendmsg",
    "sys_enter_recvmmsg",
    "sys_exit_recvmmsg",
    "sys_enter_sendmmsg",
    "sys_exit_sendmmsg",
    "sys_enter_connect",
    "sys_exit_connect",
    "sys_exit_accept",
    "sys_exit_accept4",
    "sys_enter_close",
];

pub struct Loaded {
    pub ebpf: Ebpf,
    pub attached: usize,
    /// How the syscall programs ended up attached: `tp_btf` or `tracepoint`.
    pub syscall_probes: &'static str,
    /// Programs the kernel refused: (name, why).
    pub failed: Vec<(&'static str, String)>,
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capabilities of this process (`CapEff` in /proc/self/status).
fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let hex = line.strip_prefix("CapEff:")?.trim();
                u64::from_str_radix(hex, 16).ok()
            })
        })
        .unwrap_or(0)
}

/// What this process lacks to load and attach tracepoint programs, if anything.
pub fn missing_capabilities(caps: u64) -> Vec<&'static str> {
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    let admin = has(CAP_SYS_ADMIN);
    let mut missing = Vec::new();
    if !admin && !has(CAP_BPF) {
        missing.push("CAP_BPF");
    }
    if !admin && !has(CAP_PERFMON) {
        missing.push("CAP_PERFMON");
    }
    missing
}

fn ensure_tracefs() -> anyhow::Result<()> {
    let mounted = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    if mounted {
        return Ok(());
    }
    let target = c"/sys/kernel/tracing";
    let fstype = c"tracefs";
    // SAFETY: every pointer is a NUL-terminated string that outlives the call; no data argument.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "tracefs is not mounted and mounting it at /sys/kernel/tracing failed ({err}); \
             mount it (`mount -t tracefs tracefs /sys/kernel/tracing`) or grant CAP_SYS_ADMIN"
        );
    }
    tracing::info!("ebpf: mounted tracefs at /sys/kernel/tracing");
    Ok(())
}

/// `spans_wanted`: a pipeline takes the receiver's traces, so sampled exchanges leave the kernel
/// as records; otherwise every exchange is only counted there.
pub fn load(config: &Config, spans_wanted: bool) -> anyhow::Result<Loaded> {
    let missing = missing_capabilities(effective_capabilities());
    if !missing.is_empty() {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        bail!(
            "the ebpf receiver cannot load its kernel programs: this process (uid {uid}) lacks {} \
             (run ferrotel as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and, for mounting \
             tracefs, CAP_SYS_ADMIN, e.g. `setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_sys_admin+ep ferrotel`)",
            missing.join(" and ")
        );
    }
    ensure_tracefs()?;
    let self_tgid = std::process::id();
    let capture_size = config.l7.payload_size;
    let l7_enabled = u8::from(config.l7.enabled);
    let send_payload = u8::from(config.l7.export_payload);
    let tcp_enabled = u8::from(config.tcp.enabled);
    let tls_enabled = u8::from(config.l7.enabled && config.l7.tls.enabled);
    // the semconv metrics need every exchange's request; spans are then sampled in user space
    let span_threshold = if config.l7.semconv_metrics {
        span_threshold(true, 1.0)
    } else {
        span_threshold(spans_wanted, config.l7.sampling_ratio)
    };
    let port_include_set = u8::from(!config.include.ports.is_empty());
    let mut ebpf = EbpfLoader::new()
        .override_global("self_tgid", &self_tgid, true)
        .override_global("capture_size", &capture_size, true)
        .override_global("l7_enabled", &l7_enabled, true)
        .override_global("send_payload", &send_payload, true)
        .override_global("tcp_enabled", &tcp_enabled, true)
        .override_global("tls_enabled", &tls_enabled, true)
        .override_global("span_threshold", &span_threshold, true)
        .override_global("port_include_set", &port_include_set, true)
        // task storage (`tasks`) has no typed wrapper in aya 0.14; only the kernel uses it
        .allow_unsupported_maps()
        .map_max_entries("events", config.ring_buffer_size_mib << 20)
        .map_max_entries("requests", config.l7.max_pending_requests)
        .map_max_entries("request_payloads", config.l7.max_pending_requests)
        .load(OBJECT)
        .context("loading the ebpf receiver's maps")?;
    fill_ports(&mut ebpf, "port_include", &config.include.ports)?;
    fill_ports(&mut ebpf, "port_exclude", &config.exclude.ports)?;

    let wanted = |group: &str| match group {
        "tcp" => config.tcp.enabled,
        "disk" => config.disk.enabled,
        "process" => config.process.enabled,
        "exit" => true,
        _ => false,
    };
    let mut attached = 0;
    let mut failed = Vec::new();
    let mut syscall_probes = "none";
    if config.tcp.enabled || config.l7.enabled {
        let (how, n, refused) = attach_syscalls(&mut ebpf, config.syscall_probes)?;
        syscall_probes = how;
        attached += n;
        failed.extend(refused);
    }
    for &(group, category, name) in PROGRAMS {
        if !wanted(group) {
            continue;
        }
        match attach(&mut ebpf, category, name) {
            Ok(()) => attached += 1,
            Err(err) => failed.push((name, format!("{err:#}"))),
        }
    }
    if attached == 0 {
        let first = failed.first().map(|(n, e)| format!("{n}: {e}"));
        bail!(
            "the kernel refused every ebpf program ({})",
            first.unwrap_or_default()
        );
    }
    Ok(Loaded {
        ebpf,
        attached,
        syscall_probes,
        failed,
    })
}

/// l7.sampling_ratio as the kernel compares it with a random u32; 0 (never) without spans.
pub fn span_threshold(spans_wanted: bool, ratio: f64) -> u64 {
    if !spans_wanted {
        return 0;
    }
    (ratio.clamp(0.0, 1.0) * (1u64 << 32) as f64) as u64
}

fn fill_ports(ebpf: &mut Ebpf, map: &str, ports: &[u16]) -> anyhow::Result<()> {
    let mut map: aya::maps::HashMap<_, u16, u8> =
        aya::maps::HashMap::try_from(ebpf.map_mut(map).context("port filter map")?)?;
    for port in ports {
        map.insert(port, 1, 0)
            .with_context(|| format!("adding port {port} to the kernel's filter"))?;
    }
    Ok(())
}

type Refused = Vec<(&'static str, String)>;

/// The syscall programs: the tp_btf dispatchers, or one tracepoint per syscall where tp_btf is
/// refused (or asked for).
fn attach_syscalls(
    ebpf: &mut Ebpf,
    mode: SyscallProbes,
) -> anyhow::Result<(&'static str, usize, Refused)> {
    if mode != SyscallProbes::Tracepoint {
        match attach_dispatchers(ebpf) {
            Ok(()) => return Ok(("tp_btf", SYSCALL_DISPATCHERS.len(), Vec::new())),
            Err(err) if mode == SyscallProbes::TpBtf => {
                return Err(err.context("syscall_probes: tp_btf"));
            }
            Err(err) => tracing::warn!(
                "ebpf: the kernel refused the tp_btf syscall programs ({err:#}); falling back to \
                 one tracepoint per syscall, which costs every syscall more"
            ),
        }
    }
    let mut attached = 0;
    let mut failed = Vec::new();
    for &name in SYSCALL_TRACEPOINTS {
        match attach(ebpf, "syscalls", name) {
            Ok(()) => attached += 1,
            Err(err) => failed.push((name, format!("{err:#}"))),
        }
    }
    Ok(("tracepoint", attached, failed))
}

fn attach_dispatchers(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    let btf = Btf::from_sys_fs().context("reading the kernel's BTF")?;
    for &(name, tracepoint) in SYSCALL_DISPATCHERS {
        let program: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .with_context(|| format!("no program {name} in the object"))?
            .try_into()?;
        program
            .load(tracepoint, &btf)
            .with_context(|| format!("verifier, {name}"))?;
        program
            .attach()
            .with_context(|| format!("attaching {name} to {tracepoint}"))?;
    }
    Ok(())
}

fn attach(ebpf: &mut Ebpf, category: &str, name: &str) -> anyhow::Result<()> {
    let program: &mut TracePoint = ebpf
        .program_mut(name)
        .with_context(|| format!("no program {name} in the object"))?
        .try_into()?;
    program.load().context("verifier")?;
    program
        .attach(category, name)
        .with_context(|| format!("attaching to {category}:{name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_capabilities_that_are_missing() {
        assert_eq!(missing_capabilities(0), vec!["CAP_BPF", "CAP_PERFMON"]);
        assert!(missing_capabilities(1 << CAP_SYS_ADMIN).is_empty());
        assert_eq!(missing_capabilities(1 << CAP_BPF), vec!["CAP_PERFMON"]);
        assert!(missing_capabilities((1 << CAP_BPF) | (1 << CAP_PERFMON)).is_empty());
    }

    #[test]
    fn the_sampling_ratio_becomes_a_threshold_on_a_random_u32() {
        assert_eq!(span_threshold(false, 1.0), 0);
        assert_eq!(span_threshold(true, 1.0), 1 << 32);
        assert_eq!(span_threshold(true, 0.25), 1 << 30);
        assert_eq!(span_threshold(true, 0.0), 0);
    }
}
