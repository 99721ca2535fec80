//! PostgreSQL servers for postgresql_receiver.rs: the shared one (`scripts/servers.sh start
//! postgres`, env `FERROTEL_PG_*`), databases and sessions of a test's own on it, and private
//! servers on free ports, run as the `postgres` user, that a test may stop, restart or put TLS on.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrotel_integration_tests::procs::{self, Proc, wait_for};

use crate::common::scrape::WAIT;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Server {
    pub port: u16,
    pub user: String,
    pub password: String,
}

pub fn shared() -> Server {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let host = env("FERROTEL_PG_HOST", "127.0.0.1");
    assert_eq!(
        host, "127.0.0.1",
        "the tests drive the shared server with psql on loopback"
    );
    Server {
        port: env("FERROTEL_PG_PORT", "15432")
            .parse()
            .expect("FERROTEL_PG_PORT"),
        user: env("FERROTEL_PG_USER", "postgres"),
        password: env("FERROTEL_PG_PASSWORD", "otelpass"),
    }
}

impl Server {
    pub fn psql_command(&self, db: &str) -> Command {
        let mut command = Command::new("psql");
        command
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
            ])
            .args(["-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1"])
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "10");
        command
    }

    /// Runs `sql` through psql in `db`; panics on failure, returns the output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let output = self
            .psql_command(db)
            .args(["-c", sql])
            .output()
            .expect("psql (scripts/servers.sh installs postgresql-15)");
        assert!(
            output.status.success(),
            "psql on :{} failed (is PostgreSQL up? scripts/servers.sh start postgres): {}",
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A session in `db` fed through `Session::send`, closed when dropped.
    pub fn hold(&self, db: &str) -> Session {
        let child = self
            .psql_command(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("psql");
        Session(child)
    }

    pub fn receiver(&self, id: &str, extra: &str) -> String {
        format!(
            "  {id}:\n    endpoint: 127.0.0.1:{}\n    username: {}\n    password: {}\n\
             \x20   tls:\n      insecure: true\n    collection_interval: 1s\n    initial_delay: 0s\n{extra}",
            self.port, self.user, self.password
        )
    }
}

pub struct Session(Child);

impl Session {
    /// Sends `sql` without waiting for it to finish (it may block on a lock).
    pub fn send(&self, sql: &str) {
        let mut stdin = self.0.stdin.as_ref().expect("piped stdin");
        writeln!(stdin, "{sql}").expect("psql's stdin");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A database of the test's own on the shared server, dropped (with its sessions) at the end.
pub struct TestDb<'a> {
    server: &'a Server,
    pub name: String,
}

impl<'a> TestDb<'a> {
    pub fn create(server: &'a Server, tag: &str) -> TestDb<'a> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "ferrotel_{tag}_{}_{}",
            std::process::id(),
            nanos % 1_000_000
        );
        server.psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb { server, name }
    }
}

impl Drop for TestDb<'_> {
    fn drop(&mut self) {
        let _ = self
            .server
            .psql_command("postgres")
            .args([
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A private PostgreSQL on a free port, run as the `postgres` user; killed when dropped.
pub struct PrivatePg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    proc: Option<Proc>,
    /// `-c name=value` settings added to every start.
    settings: Vec<String>,
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .expect("a postgres user")
    };
    (id("-u"), id("-g"))
}

fn as_postgres(program: PathBuf) -> Command {
    let (uid, gid) = postgres_ids();
    let mut command = Command::new(program);
    command.uid(uid).gid(gid);
    command
}

impl PrivatePg {
    pub fn init(password: &str) -> PrivatePg {
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = postgres_ids();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let pwfile = procs::write_file(dir.path(), "pw", &format!("{password}\n"));
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        let output = as_postgres(Path::new(PG_BIN).join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PrivatePg {
            dir,
            port: procs::free_port(),
            proc: None,
            settings: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        let mut command = as_postgres(Path::new(PG_BIN).join("postgres"));
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                &format!("port={}", self.port),
            ])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ));
        for setting in &self.settings {
            command.args(["-c", setting]);
        }
        let mut proc = Proc::spawn("postgres", command);
        proc.wait_for_port(([127, 0, 0, 1], self.port).into(), WAIT);
        // The port opens before recovery ends ("the database system is starting up"): a test that
        // counts failed scrapes must not see that one.
        let port = self.port.to_string();
        let ready = || {
            let status = Command::new(Path::new(PG_BIN).join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status();
            status.is_ok_and(|s| s.success()).then_some(())
        };
        wait_for(WAIT, ready).expect("postgres accepts connections within the wait");
        self.proc = Some(proc);
    }

    /// A fast shutdown (SIGINT): sessions are cut, as when a server is stopped for maintenance.
    pub fn stop(&mut self) {
        let mut proc = self.proc.take().expect("running");
        procs::signal(proc.pid(), "INT");
        wait_for(WAIT, || proc.exited()).expect("postgres stops within the wait");
    }

    /// Turns TLS on with a new certificate for 127.0.0.1 / localhost; returns its CA's
    /// certificate (for `tls::ca_file`).
    pub fn enable_tls(&mut self) -> PathBuf {
        let (ca, cert, key) = server_cert(self.dir.path());
        let (uid, gid) = postgres_ids();
        for file in [&cert, &key] {
            std::os::unix::fs::chown(file, Some(uid), Some(gid)).unwrap();
        }
        self.settings.push("ssl=on".into());
        self.settings
            .push(format!("ssl_cert_file={}", cert.display()));
        self.settings
            .push(format!("ssl_key_file={}", key.display()));
        ca
    }

    pub fn server(&self, password: &str) -> Server {
        Server {
            port: self.port,
            user: "postgres".into(),
            password: password.into(),
        }
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new P-256 certificate authority `name` in `dir`: (cert, key).
pub fn new_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{name}-ca.crt"), format!("{name}-ca.key"));
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
        dir,
    );
    (dir.join(cert), dir.join(key))
}

/// A server certificate for 127.0.0.1 and localhost signed by a new CA: (ca cert, cert, key).
pub fn server_cert(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = new_ca(dir, "server");
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let request = [&["req", "-new"][..], &p256[..], &["-subj", "/CN=localhost"]].concat();
    let request = [
        &request[..],
        &["-keyout", "server.key", "-out", "server.csr"],
    ]
    .concat();
    openssl(&request, dir);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let (ca, ca_key) = (ca.display().to_string(), ca_key.display().to_string());
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
        dir,
    );
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (PathBuf::from(ca), dir.join("server.crt"), key)
}
