//! The servers the protocol tests start: on loopback, from a process whose output shows when it is
//! ready.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferrotel_integration_tests::procs::{Proc, free_port, wait_for, workspace_root};

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts `command` as `name` and waits up to `timeout` for it to listen on loopback `port`.
pub fn listening(name: &str, command: Command, port: u16, timeout: Duration) -> Proc {
    let mut proc = Proc::spawn(name, command);
    proc.wait_for_port(loopback(port), timeout);
    proc
}

/// A server a script of scripts/ runs on a free loopback port, in a temp dir of its own; killed
/// when dropped.
pub struct Scripted {
    pub proc: Proc,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Scripted {
    /// `bash scripts/<script> fetch` (which downloads the server once per machine), then starts
    /// `bash scripts/<script> run` with the arguments `args` adds for the port and the dir, without
    /// waiting for it.
    pub fn spawn(script: &str, args: impl FnOnce(&mut Command, u16, &Path)) -> Scripted {
        fetch(script);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut command = Command::new("bash");
        command
            .arg(workspace_root().join("scripts").join(script))
            .arg("run");
        args(&mut command, port, dir.path());
        let proc = Proc::spawn(script.trim_end_matches(".sh"), command);
        Scripted { proc, port, dir }
    }
}

/// Runs `bash scripts/<script> fetch`.
pub fn fetch(script: &str) {
    let started = Instant::now();
    let fetch = Command::new("bash")
        .arg(workspace_root().join("scripts").join(script))
        .arg("fetch")
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        fetch.status.success(),
        "scripts/{script} fetch failed:\n{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    eprintln!("{script} fetch done in {:?}", started.elapsed());
}

/// Waits up to `timeout` for `line` in what `log` reads of `proc`; panics with the process's
/// output and the log's last lines if the process ends first or the line does not come.
pub fn wait_for_line(
    proc: &mut Proc,
    timeout: Duration,
    line: &str,
    log: impl Fn(&Proc) -> String,
) {
    let started = Instant::now();
    let up = wait_for(timeout, || {
        if proc.exited().is_some() {
            return Some(false);
        }
        log(proc).contains(line).then_some(true)
    });
    if up != Some(true) {
        let log = log(proc);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "`{line}` did not come within {timeout:?} ({:?}):\n{}\n--- the log ends:\n{}",
            proc.exited(),
            proc.output(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    eprintln!("`{line}` {:?} after the wait began", started.elapsed());
}
