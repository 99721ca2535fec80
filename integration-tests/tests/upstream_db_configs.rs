//! otelcol-contrib's own example configs of the four database receivers (each crate's
//! `testdata/config.yaml`, copied verbatim from upstream) run unchanged in one ferrotel: every id
//! starts, the ones whose server is absent (upstream points at the default ports, where nothing
//! listens here) report `<type>.up` = 0 behind a second collector and log the outage once, the
//! process stays up, and SIGTERM stops it promptly even while mongodb's scrape (upstream's 1 minute
//! timeout) is still waiting for a server.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::scrape::{Pipeline, WAIT, up_values, upstream_receivers};
use ferrotel_integration_tests::procs;

const RECEIVERS: &[&str] = &["postgresql", "mysql", "redis", "mongodb"];

/// Upstream points every receiver at its default port on localhost; the test means "no server".
fn default_port_is_free(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_err()
}

#[test]
fn the_upstream_example_configs_run_unchanged() {
    for port in [5432, 3306, 6379, 27017] {
        assert!(
            default_port_is_free(port),
            "something listens on :{port}; this test needs the default ports free"
        );
    }
    // The only test in this binary, so no other thread reads the environment meanwhile;
    // ferrotel A inherits these for the configs' ${env:…} references.
    unsafe {
        std::env::set_var("POSTGRESQL_PASSWORD", "upstream-pg-secret");
        std::env::set_var("MYSQL_PASSWORD", "upstream-my-secret");
    }
    let mut sections = String::new();
    let mut ids = Vec::new();
    for receiver in RECEIVERS {
        let text = upstream_receivers(receiver);
        for line in text.lines() {
            // ids sit at the section's first level, two spaces in
            if let Some(id) = line
                .strip_prefix("  ")
                .filter(|l| !l.starts_with([' ', '#']) && l.ends_with(':'))
            {
                ids.push(id.trim_end_matches(':').to_string());
            }
        }
        sections.push_str(&text);
    }
    assert_eq!(ids.len(), 6, "ids found: {ids:?}");
    let mut p = Pipeline::start(&sections, &ids.join(", "));

    // upstream's initial_delay is otelcol's default 1 s: the first scrapes fail within seconds
    for up in ["postgresql.up", "mysql.up", "redis.up"] {
        p.wait(&format!("{up} = 0"), |r| {
            let values = up_values(r, up);
            (!values.is_empty() && values.iter().all(|v| *v == 0.0)).then_some(())
        });
    }
    let failures = |id: &str| {
        let tag = format!("receiver={id}");
        let output = p.a.proc.output();
        output
            .lines()
            .filter(|l| l.contains("the scrape failed") && l.ends_with(&tag))
            .count()
    };
    let ids_with_server_absent = [
        "postgresql",
        "postgresql/all",
        "mysql",
        "mysql/default_tls",
        "redis",
    ];
    procs::wait_for(WAIT, || {
        ids_with_server_absent
            .iter()
            .all(|id| failures(id) == 1)
            .then_some(())
    })
    .unwrap_or_else(|| panic!("one failure line per id expected:\n{}", p.a.proc.output()));
    // a second scrape (10 s later) must not log the same outage again
    std::thread::sleep(Duration::from_secs(11));
    for id in ids_with_server_absent {
        assert_eq!(failures(id), 1, "{id}:\n{}", p.a.proc.output());
    }
    let output = p.a.proc.output();
    for secret in ["upstream-pg-secret", "upstream-my-secret"] {
        assert!(
            !output.contains(secret),
            "a password reached the log:\n{output}"
        );
    }
    p.a.proc.assert_running();
    let status =
        p.a.proc.terminate(Duration::from_secs(15)).expect(
            "ferrotel stops within 15 s of SIGTERM although mongodb's scrape is still waiting",
        );
    assert!(status.success(), "exit {status}:\n{}", p.a.proc.output());
}
