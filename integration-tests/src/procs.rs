//! Running collector processes in tests and benchmarks: where the binaries are, free loopback
//! ports, children that are killed when dropped, and bounded waits.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The cargo workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits inside the workspace")
        .to_path_buf()
}

/// cargo's target folder: `$CARGO_TARGET_DIR` (relative to the workspace), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The ferrotel binary under test: `$FERROTEL_BIN`, else the debug build in the target folder.
pub fn ferrotel_bin() -> PathBuf {
    let path = std::env::var_os("FERROTEL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/ferrotel"));
    assert!(
        path.is_file(),
        "ferrotel binary not found at {} (build it with `cargo build -p ferrotel`, or set FERROTEL_BIN)",
        path.display()
    );
    path
}

/// The Python interpreter of the project's venv, which has the OpenTelemetry SDK and rotel.
pub fn venv_python() -> PathBuf {
    let path = workspace_root().join(".venv/bin/python");
    assert!(
        path.is_file(),
        "{} not found: run scripts/setup.sh (`make test` does)",
        path.display()
    );
    path
}

/// rotel's collector binary: `$ROTEL_AGENT`, else the one the `rotel` package put in the venv.
pub fn rotel_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(path);
    }
    let lib = workspace_root().join(".venv/lib");
    let found = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|entry| {
            let candidate = entry.path().join("site-packages/rotel/rotel-agent");
            candidate.is_file().then_some(candidate)
        });
    found.unwrap_or_else(|| {
        panic!(
            "rotel-agent not found under {}: run scripts/setup.sh",
            lib.display()
        )
    })
}

/// The folder of the Python helper scripts.
pub fn python_scripts() -> PathBuf {
    workspace_root().join("integration-tests/python")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("bound").port()
}

pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    wait_for(timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
    })
    .is_some()
}

/// A child process whose output goes to a log file, killed when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proc {
    /// Starts `command` with stdout and stderr captured to one log file.
    pub fn spawn(name: &str, mut command: Command) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Panics with the process output unless it is still running.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited with {status}; output:\n{}",
                self.name,
                self.output()
            );
        }
    }

    /// Waits for `addr` to accept connections, panicking with the output if the process dies or
    /// the port stays closed past `timeout`.
    pub fn wait_for_port(&mut self, addr: SocketAddr, timeout: Duration) {
        let ready = wait_for(timeout, || {
            if self.exited().is_some() {
                return Some(false);
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(|_| true)
        });
        if ready != Some(true) {
            self.assert_running();
            panic!(
                "{} did not listen on {addr} within {timeout:?}; output:\n{}",
                self.name,
                self.output()
            );
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        signal(self.pid(), "TERM");
        wait_for(timeout, || self.exited())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- {} output ----\n{}", self.name, self.output());
        }
    }
}

/// Sends a signal by name with kill(1), so that no libc binding is needed.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// Writes `text` to a new file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// A plain HTTP/1.1 GET on loopback: (status code, body). Enough for `/count`, `/metrics` and health checks.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        body = after.trim_start_matches("\r\n");
    }
    out
}
