//! The mysql receiver tests' helpers: the `mariadb` client, idle sessions, a private `mariadbd`,
//! and queries over what the recorder holds.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use ferrotel_integration_tests::otlp_query::{has, points};
use ferrotel_integration_tests::procs::Proc;
use ferrotel_integration_tests::recorder::Recorded;

use crate::common::scrape::WAIT;

pub struct Server {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

pub fn shared_server() -> Server {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    Server {
        host: env("FERROTEL_MYSQL_HOST", "127.0.0.1"),
        port: env("FERROTEL_MYSQL_PORT", "13306")
            .parse()
            .expect("FERROTEL_MYSQL_PORT"),
        user: env("FERROTEL_MYSQL_USER", "root"),
        password: env("FERROTEL_MYSQL_PASSWORD", "otelpass"),
    }
}

impl Server {
    pub fn client(&self) -> Command {
        let mut command = Command::new("mariadb");
        command
            .args(["--no-defaults", "--batch", "--skip-column-names"])
            .args([
                "-h",
                &self.host,
                "-P",
                &self.port.to_string(),
                "-u",
                &self.user,
            ]);
        if !self.password.is_empty() {
            // the environment, not argv, so that the password stays out of `ps`
            command.env("MYSQL_PWD", &self.password);
        }
        command
    }

    /// Runs `sql` through the `mariadb` client; panics on failure.
    pub fn sql(&self, sql: &str) -> String {
        let mut child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mariadb client (scripts/servers.sh installs mariadb-client)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "mariadb on {}:{} failed (is it up? scripts/servers.sh start mariadb): {}",
            self.host,
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// An authenticated session that stays idle (the client waits on its stdin) until dropped.
    pub fn idle_session(&self) -> IdleSession {
        let child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the mariadb client");
        IdleSession(child)
    }

    pub fn receiver(&self, id: &str, extra: &str) -> String {
        format!(
            "  {id}:\n    endpoint: {}:{}\n    username: {}\n    password: {}\n\
             \x20   collection_interval: 1s\n    initial_delay: 0s\n{extra}",
            self.host, self.port, self.user, self.password
        )
    }
}

pub struct IdleSession(Child);

impl Drop for IdleSession {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sum of every point of `name` with `attrs` in the latest request that has any.
pub fn latest(recorded: &Recorded, name: &str, attrs: &[(&str, &str)]) -> Option<f64> {
    recorded.metrics.iter().rev().find_map(|request| {
        let one = Recorded {
            metrics: vec![request.clone()],
            ..Default::default()
        };
        let values: Vec<f64> = points(&one, name)
            .into_iter()
            .filter(|(_, a, _)| has(a, attrs))
            .map(|(_, _, v)| v)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    })
}

/// What arrived after the first `from` requests of `recorded`.
pub fn since(recorded: &Recorded, from: usize) -> Recorded {
    Recorded {
        metrics: recorded.metrics[from.min(recorded.metrics.len())..].to_vec(),
        ..Default::default()
    }
}

/// A private `mariadbd` on loopback with its own data directory, killed when dropped. Started
/// without --skip-name-resolve, so a client from 127.0.0.1 is `root@localhost`, password-less.
pub struct PrivateMariadb {
    pub proc: Proc,
}

impl PrivateMariadb {
    pub fn install(dir: &Path) {
        let status = Command::new("chown")
            .args(["-R", "mysql:mysql"])
            .arg(dir)
            .status()
            .expect("chown");
        assert!(
            status.success(),
            "chown the data directory to mysql (needs root)"
        );
        let output = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=mysql",
                "--auth-root-authentication-method=normal",
            ])
            .args(["--skip-test-db"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .output()
            .expect("mariadb-install-db (scripts/servers.sh installs mariadb-server)");
        assert!(
            output.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts (or restarts) the server installed in `dir`, with `extra` options.
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> PrivateMariadb {
        let mut command = Command::new("mariadbd");
        command
            .args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", dir.join("s.sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .args(["--innodb-buffer-pool-size=16M", "--performance-schema=OFF"])
            .args(extra);
        let mut proc = Proc::spawn("mariadbd", command);
        proc.wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), WAIT);
        PrivateMariadb { proc }
    }
}

/// `root` of a private server over TCP.
pub fn private_root(port: u16) -> Server {
    Server {
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        password: String::new(),
    }
}
