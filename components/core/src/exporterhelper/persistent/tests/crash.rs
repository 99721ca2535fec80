//! Crash safety: a child process (this test binary, re-run with an environment variable) offers
//! requests from several tasks and prints each sequence number once its `offer` returned `Ok`;
//! the parent kills it with SIGKILL mid-stream, reopens the directory and checks that every
//! acknowledged request is there, once.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_DIR: &str = "FERROTEL_TEST_PERSISTENT_QUEUE_CHILD_DIR";
const CHILD_TEST: &str = "exporterhelper::persistent::tests::crash::child_offers_until_killed";
const PRODUCERS: u64 = 4;
/// The parent kills a child once it has seen this many acknowledged offers (one child each).
const KILL_AFTER: [usize; 3] = [150, 600, 1200];

/// Does nothing unless run as the child of the test below.
#[test]
fn child_offers_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let q = Arc::new(
            PersistentQueue::open(PersistentOptions {
                segment_bytes: 1 << 20,
                ..options(Path::new(&dir), usize::MAX, Sizer::Requests)
            })
            .await
            .unwrap(),
        );
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let q = q.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let seq = i * PRODUCERS + p;
                        // Large enough that a kill often lands inside a write.
                        let data = logs(
                            seq,
                            1 + (seq % 7) as usize,
                            4096 + (seq % 13) as usize * 977,
                        );
                        q.offer(QueuedRequest::new(data, 1), false).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "acked {seq}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.unwrap();
        }
    });
}

#[tokio::test]
async fn every_acknowledged_offer_survives_sigkill() {
    if std::env::var_os(CHILD_DIR).is_some() {
        return;
    }
    for kill_after in KILL_AFTER {
        kill_and_recover(kill_after).await;
    }
}

async fn kill_and_recover(kill_after: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    for line in lines.by_ref() {
        if let Some(seq) = line.unwrap().strip_prefix("acked ") {
            acked.push(seq.parse::<u64>().unwrap());
            if acked.len() == kill_after {
                break;
            }
        }
    }
    assert_eq!(acked.len(), kill_after, "the child stopped early");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines printed before the kill that were still in the pipe are acknowledgements too.
    for line in lines {
        if let Some(seq) = line.unwrap().strip_prefix("acked ") {
            acked.push(seq.parse().unwrap());
        }
    }

    let corrupt = Counter::default();
    let q = PersistentQueue::open(PersistentOptions {
        corrupt_records: corrupt.clone(),
        ..options(dir.path(), usize::MAX, Sizer::Requests)
    })
    .await
    .unwrap();
    let recovered: Vec<u64> = take_all(&q).await.iter().map(|r| seq_of(&r.data)).collect();
    q.shutdown().await;
    let unique: HashSet<u64> = recovered.iter().copied().collect();
    assert_eq!(unique.len(), recovered.len(), "a request came back twice");
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !unique.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged requests lost: {missing:?}",
        missing.len()
    );
    for p in 0..PRODUCERS {
        let own: Vec<u64> = recovered
            .iter()
            .copied()
            .filter(|s| s % PRODUCERS == p)
            .collect();
        assert!(
            own.windows(2).all(|w| w[0] < w[1]),
            "producer {p} reordered"
        );
        // Each producer waits for its write, so what it wrote is a prefix of its sequence.
        assert!(
            own.iter()
                .enumerate()
                .all(|(i, s)| *s == i as u64 * PRODUCERS + p),
            "producer {p} has a gap: {own:?}"
        );
    }
    eprintln!(
        "crash test: {} acknowledged, {} recovered, torn tails repaired: {}",
        acked.len(),
        recovered.len(),
        corrupt.get()
    );
}
