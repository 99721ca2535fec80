//! Parse throughput: exchanges per CPU-second for each protocol, over the requests recorded from
//! real clients in testdata/<protocol>/ (each cut to the 128 bytes the kernel hands over), one
//! `Connection` per protocol as the ebpf receiver keeps one per socket.
//!
//!     cargo bench -p ferrotel-l7 --bench parse [-- --seconds 1]

use std::time::Duration;

use ferrotel_l7::{Connection, Options, Protocol, parse_on};

/// The kernel's request head (FT_DETECT_BYTES).
const HEAD: usize = 128;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The recorded requests under `dir` and its subdirectories, in the helpers' three forms: raw
/// `.bin` files, `.hex` files (a write per line) and `.txt` listings whose lines end in a hex
/// field.
fn requests(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            requests(&path, out);
            continue;
        }
        let found: Vec<Vec<u8>> = match path.extension().and_then(|e| e.to_str()) {
            Some("bin") => std::fs::read(&path).into_iter().collect(),
            Some("hex" | "txt") => std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| hex(line.split_whitespace().last()?))
                .collect(),
            _ => Vec::new(),
        };
        out.extend(found.into_iter().map(|mut b| {
            b.truncate(HEAD);
            b
        }));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(0.5);
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let options = Options::default();
    println!(
        "{:<12} {:>9} {:>9} {:>16} {:>12}",
        "protocol", "requests", "parsed", "exchanges/cpu-s", "ns/exchange"
    );
    // DNS questions are read by the receiver itself, not by ferrotel-l7
    for protocol in Protocol::ALL.into_iter().filter(|&p| p != Protocol::Dns) {
        let mut requests = Vec::new();
        self::requests(&testdata.join(protocol.as_str()), &mut requests);
        if requests.is_empty() {
            println!("{:<12} (no recorded requests)", protocol.as_str());
            continue;
        }
        let mut connection = Connection::default();
        let parsed = requests
            .iter()
            .filter(|r| parse_on(&mut connection, protocol, r, 0, &options).is_some())
            .count();
        let budget = Duration::from_secs_f64(seconds);
        let start = thread_cpu();
        let mut exchanges = 0u64;
        let mut connection = Connection::default();
        while thread_cpu() - start < budget {
            for _ in 0..100 {
                for request in &requests {
                    let s = parse_on(&mut connection, protocol, request, 0, &options);
                    std::hint::black_box(s);
                }
            }
            exchanges += 100 * requests.len() as u64;
        }
        let cpu = (thread_cpu() - start).as_secs_f64();
        println!(
            "{:<12} {:>9} {:>9} {:>16.0} {:>12.0}",
            protocol.as_str(),
            requests.len(),
            parsed,
            exchanges as f64 / cpu,
            cpu * 1e9 / exchanges as f64
        );
    }
}
