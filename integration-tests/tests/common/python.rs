//! Running the real Python clients of the protocol tests from the project's venv.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use ferrotel_integration_tests::procs::venv_python;

/// Runs the venv's Python with `args` (a script and its arguments); its pid and what it printed.
/// Panics with everything it printed unless it exits 0, asking whether `package` (the pip
/// package the client needs) is installed.
pub fn run<S: AsRef<OsStr>>(package: &str, args: impl IntoIterator<Item = S>) -> (u32, String) {
    let child = Command::new(venv_python())
        .args(args)
        // not the crate's directory: nothing there shadows the client's modules
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the {package} client failed ({}; is {package} in .venv?):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, stdout)
}

/// As `run`, for `code` given with `-c`, then `args` (its `sys.argv[1:]`).
pub fn code(package: &str, code: &str, args: &[&str]) -> (u32, String) {
    run(package, ["-c", code].iter().chain(args))
}
