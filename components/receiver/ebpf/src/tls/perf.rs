//! The two kernel calls aya has no API for here: opening a tracefs uprobe event as a perf
//! event, and linking a loaded program to it with a BPF cookie.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use aya::programs::ProgramFd;

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_PERF_EVENT: u32 = 41;

/// `struct perf_event_attr` up to PERF_ATTR_SIZE_VER7 (128 bytes), the fields used named.
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    rest: [u64; 13],
}

pub(super) fn perf_event_open_tracepoint(id: u64) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 1,
        rest: [0; 13],
    };
    // SAFETY: attr is a valid perf_event_attr of the size it declares; on success the kernel
    // returns a new fd that nothing else owns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `union bpf_attr` as BPF_LINK_CREATE reads it for a perf event (`link_create.perf_event`).
#[repr(C)]
struct LinkCreate {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    bpf_cookie: u64,
    pad: [u64; 2],
}

pub(super) fn link_create(program: &ProgramFd, perf: &OwnedFd, cookie: u64) -> io::Result<OwnedFd> {
    let attr = LinkCreate {
        prog_fd: program.as_fd().as_raw_fd() as u32,
        target_fd: perf.as_raw_fd() as u32,
        attach_type: BPF_PERF_EVENT,
        flags: 0,
        bpf_cookie: cookie,
        pad: [0; 2],
    };
    // SAFETY: attr is a zero-padded bpf_attr of the size passed; on success the kernel returns a
    // new link fd that nothing else owns (it holds its own references to the program and event).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            &attr as *const LinkCreate,
            size_of::<LinkCreate>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
