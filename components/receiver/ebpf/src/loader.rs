//! Loading the kernel programs with aya: privileges checked first (a clear error naming what is
//! missing), tracefs mounted when it is not, then each program loaded and attached on its own, so
//! that one the kernel refuses costs its signal, not the receiver.

use std::path::Path;

use anyhow::{Context, bail};
use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader};

use crate::config::Config;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferrotel.bpf.o"));

/// Which signal a program serves, its tracepoint category and name (= the C function's name).
pub const PROGRAMS: &[(&str, &str, &str)] = &[
    ("tcp", "syscalls", "sys_enter_connect"),
    ("tcp", "syscalls", "sys_exit_connect"),
    ("tcp", "sock", "inet_sock_set_state"),
    ("tcp", "syscalls", "sys_exit_accept4"),
    ("tcp", "syscalls", "sys_exit_accept"),
    ("tcp", "syscalls", "sys_enter_close"),
    ("tcp", "tcp", "tcp_retransmit_skb"),
    ("io", "syscalls", "sys_enter_read"),
    ("io", "syscalls", "sys_exit_read"),
    ("io", "syscalls", "sys_enter_write"),
    ("io", "syscalls", "sys_exit_write"),
    ("io", "syscalls", "sys_enter_readv"),
    ("io", "syscalls", "sys_exit_readv"),
    ("io", "syscalls", "sys_enter_writev"),
    ("io", "syscalls", "sys_exit_writev"),
    ("io", "syscalls", "sys_enter_recvfrom"),
    ("io", "syscalls", "sys_exit_recvfrom"),
    ("io", "syscalls", "sys_enter_sendto"),
    ("io", "syscalls", "sys_exit_sendto"),
    ("io", "syscalls", "sys_enter_recvmsg"),
    ("io", "syscalls", "sys_exit_recvmsg"),
    ("io", "syscalls", "sys_enter_sendmsg"),
    ("io", "syscalls", "sys_exit_sendmsg"),
    ("io", "syscalls", "sys_enter_recvmmsg"),
    ("io", "syscalls", "sys_exit_recvmmsg"),
    ("io", "syscalls", "sys_enter_sendmmsg"),
    ("io", "syscalls", "sys_exit_sendmmsg"),
    ("disk", "block", "block_bio_queue"),
    ("disk", "block", "block_rq_issue"),
    ("disk", "block", "block_rq_complete"),
    ("process", "sched", "sched_process_exec"),
    ("process", "sched", "sched_process_exit"),
    ("process", "oom", "mark_victim"),
];

pub struct Loaded {
    pub ebpf: Ebpf,
    pub attached: usize,
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

pub fn load(config: &Config) -> anyhow::Result<Loaded> {
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
    let mut ebpf = EbpfLoader::new()
        .override_global("self_tgid", &self_tgid, true)
        .override_global("capture_size", &capture_size, true)
        .override_global("l7_enabled", &l7_enabled, true)
        .override_global("send_payload", &send_payload, true)
        .map_max_entries("events", config.ring_buffer_size_mib << 20)
        .map_max_entries("requests", config.l7.max_pending_requests)
        .map_max_entries("request_payloads", config.l7.max_pending_requests)
        .load(OBJECT)
        .context("loading the ebpf receiver's maps")?;

    let wanted = |group: &str| match group {
        "tcp" => config.tcp.enabled,
        "io" => config.tcp.enabled || config.l7.enabled,
        "disk" => config.disk.enabled,
        "process" => true, // exits also release what is kept per process
        _ => false,
    };
    let mut attached = 0;
    let mut failed = Vec::new();
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
        failed,
    })
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
}
