//! The write-ahead log on real files: round trips, acknowledgements across reopening, segment
//! deletion, capacity in every sizer, torn and damaged tails, and a child process killed with
//! SIGKILL while it writes.

use super::recovery::{self, ACKS_FILE};
use super::*;
use crate::exporterhelper::tests::eventually;
use crate::signal::Signal;
use crate::storage::StorageLocation;
use crate::telemetry::SelfTelemetry;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

mod crash;
mod exporter;

/// A logs batch of `items` records, all stamped with `seq` (as their time) and a body of
/// `body_len` bytes, so a test can tell requests apart after a round trip through the disk.
pub(super) fn logs(seq: u64, items: usize, body_len: usize) -> Telemetry {
    let record = LogRecord {
        time_unix_nano: seq,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("x".repeat(body_len))),
        }),
        ..Default::default()
    };
    Telemetry::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record; items],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

pub(super) fn seq_of(data: &Telemetry) -> u64 {
    let mut data = data.clone();
    data.logs().unwrap().resource_logs[0].scope_logs[0].log_records[0].time_unix_nano
}

pub(super) fn options(dir: &Path, capacity: usize, sizer: Sizer) -> PersistentOptions {
    let location = StorageLocation {
        directory: dir.to_owned(),
        fsync: false,
        timeout: Duration::from_secs(1),
    };
    PersistentOptions::new(location, Signal::Logs, capacity, sizer)
}

async fn offer(q: &PersistentQueue, data: Telemetry, sizer: Sizer) -> Result<(), OfferError> {
    let size = sizer.size(&data);
    q.offer(QueuedRequest::new(data, size), false)
        .await
        .map_err(|(_, why)| why)
}

/// Everything still queued, in order (closes the queue).
async fn take_all(q: &PersistentQueue) -> Vec<QueuedRequest> {
    q.close();
    let mut taken = Vec::new();
    while let Some(request) = q.take().await {
        taken.push(request);
    }
    taken
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("segment-"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn requests_come_back_in_order_with_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let q = PersistentQueue::open(options(dir.path(), 100, Sizer::Requests))
        .await
        .unwrap();
    let sent: Vec<Telemetry> = (0..20).map(|i| logs(i, 1 + i as usize % 4, 30)).collect();
    for data in &sent {
        offer(&q, data.clone(), Sizer::Requests).await.unwrap();
    }
    assert_eq!(q.size(), 20);
    assert_eq!(
        q.pending_items(),
        sent.iter().map(|d| d.item_count() as u64).sum::<u64>()
    );
    let taken = take_all(&q).await;
    assert_eq!(taken.len(), 20);
    for (request, original) in taken.iter().zip(&sent) {
        assert_eq!(request.data.to_encoded(), original.to_encoded());
        assert_eq!(request.data.item_count(), original.item_count());
        q.done(request.ticket, request.size);
    }
    assert_eq!(q.size(), 0);
    q.shutdown().await;
}

#[tokio::test]
async fn only_unacknowledged_requests_come_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let gauge = Gauge::default();
    {
        let q = PersistentQueue::open(options(dir.path(), 100, Sizer::Requests))
            .await
            .unwrap();
        for seq in 0..10 {
            offer(&q, logs(seq, 2, 10), Sizer::Requests).await.unwrap();
        }
        // Taken but never done: as if the collector stopped while sending them.
        for _ in 0..10 {
            let request = q.take().await.unwrap();
            if seq_of(&request.data).is_multiple_of(2) {
                q.done(request.ticket, request.size);
            }
        }
        // Offered, never taken.
        offer(&q, logs(10, 2, 10), Sizer::Requests).await.unwrap();
        q.shutdown().await;
    }
    let q = PersistentQueue::open(PersistentOptions {
        size_gauge: gauge.clone(),
        ..options(dir.path(), 100, Sizer::Items)
    })
    .await
    .unwrap();
    assert_eq!(
        gauge.get(),
        12,
        "recovered data counts in the queue size (items sizer)"
    );
    assert_eq!(q.pending_items(), 12);
    let seqs: Vec<u64> = take_all(&q).await.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(seqs, [1, 3, 5, 7, 9, 10]);
    q.shutdown().await;
    // The acknowledgement log was rewritten to what the remaining segment still needs.
    let acks = std::fs::metadata(dir.path().join(ACKS_FILE)).unwrap().len();
    assert_eq!(acks, 5 * record::ACK_LEN as u64);
}

#[tokio::test]
async fn segments_are_deleted_once_every_record_in_them_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let q = PersistentQueue::open(PersistentOptions {
        segment_bytes: 1, // one record per segment
        ..options(dir.path(), 100, Sizer::Requests)
    })
    .await
    .unwrap();
    for seq in 0..6 {
        offer(&q, logs(seq, 1, 10), Sizer::Requests).await.unwrap();
    }
    assert_eq!(segment_files(dir.path()).len(), 6);
    let mut taken = Vec::new();
    for _ in 0..6 {
        taken.push(q.take().await.unwrap());
    }
    // Done out of order, all but the second: its segment must stay, and so must the one being
    // filled (the last).
    for request in taken.iter().filter(|r| seq_of(&r.data) != 1) {
        q.done(request.ticket, request.size);
    }
    eventually(|| segment_files(dir.path()).len() == 2).await;
    let left = segment_files(dir.path());
    assert_eq!(left[0], recovery::segment_name(taken[1].ticket));
    assert_eq!(left[1], recovery::segment_name(taken[5].ticket));
    q.done(taken[1].ticket, taken[1].size);
    q.shutdown().await;
    assert!(
        segment_files(dir.path()).is_empty(),
        "{:?}",
        segment_files(dir.path())
    );
    let q = PersistentQueue::open(options(dir.path(), 100, Sizer::Requests))
        .await
        .unwrap();
    assert!(take_all(&q).await.is_empty());
    q.shutdown().await;
    assert_eq!(
        std::fs::metadata(dir.path().join(ACKS_FILE)).unwrap().len(),
        0
    );
}

#[tokio::test]
async fn capacity_is_counted_in_the_sizers_units() {
    // requests
    let dir = tempfile::tempdir().unwrap();
    let q = PersistentQueue::open(options(dir.path(), 2, Sizer::Requests))
        .await
        .unwrap();
    offer(&q, logs(0, 5, 10), Sizer::Requests).await.unwrap();
    offer(&q, logs(1, 5, 10), Sizer::Requests).await.unwrap();
    assert_eq!(
        offer(&q, logs(2, 1, 10), Sizer::Requests).await,
        Err(OfferError::Full)
    );
    let first = q.take().await.unwrap();
    q.done(first.ticket, first.size);
    offer(&q, logs(2, 1, 10), Sizer::Requests).await.unwrap();
    q.shutdown().await;

    // items
    let dir = tempfile::tempdir().unwrap();
    let q = PersistentQueue::open(options(dir.path(), 10, Sizer::Items))
        .await
        .unwrap();
    offer(&q, logs(0, 4, 10), Sizer::Items).await.unwrap();
    offer(&q, logs(1, 4, 10), Sizer::Items).await.unwrap();
    assert_eq!(
        offer(&q, logs(2, 4, 10), Sizer::Items).await,
        Err(OfferError::Full)
    );
    assert_eq!(
        offer(&q, logs(2, 11, 10), Sizer::Items).await,
        Err(OfferError::TooLarge)
    );
    offer(&q, logs(2, 2, 10), Sizer::Items).await.unwrap();
    assert_eq!(q.size(), 10);
    q.shutdown().await;

    // bytes, and a restart under another sizer sizes the recovered requests with it
    let dir = tempfile::tempdir().unwrap();
    let one = logs(1, 3, 100).encoded_len();
    let q = PersistentQueue::open(options(dir.path(), 2 * one, Sizer::Bytes))
        .await
        .unwrap();
    offer(&q, logs(1, 3, 100), Sizer::Bytes).await.unwrap();
    offer(&q, logs(2, 3, 100), Sizer::Bytes).await.unwrap();
    assert_eq!(
        offer(&q, logs(2, 1, 1), Sizer::Bytes).await,
        Err(OfferError::Full)
    );
    assert_eq!(q.size(), 2 * one);
    q.shutdown().await;
    let q = PersistentQueue::open(options(dir.path(), 100, Sizer::Items))
        .await
        .unwrap();
    assert_eq!(q.size(), 6);
    q.shutdown().await;
}

#[tokio::test]
async fn a_blocked_offer_gets_in_when_room_frees_and_close_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let q = Arc::new(
        PersistentQueue::open(options(dir.path(), 1, Sizer::Requests))
            .await
            .unwrap(),
    );
    offer(&q, logs(0, 1, 1), Sizer::Requests).await.unwrap();
    let waiting = tokio::spawn({
        let q = q.clone();
        async move {
            q.offer(QueuedRequest::new(logs(1, 1, 1), 1), true)
                .await
                .map_err(|e| e.1)
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    let first = q.take().await.unwrap();
    q.done(first.ticket, first.size);
    waiting.await.unwrap().unwrap();
    q.close();
    assert_eq!(
        offer(&q, logs(2, 1, 1), Sizer::Requests).await,
        Err(OfferError::Closed)
    );
    q.shutdown().await;
}

/// Writes records of assorted sizes, stops cleanly, and returns the segment's name, its bytes
/// and where each record ends.
async fn written_segment(dir: &Path, count: u64) -> (String, Vec<u8>, Vec<usize>) {
    let q = PersistentQueue::open(options(dir, 100, Sizer::Requests))
        .await
        .unwrap();
    let mut ends = Vec::new();
    let mut end = 0;
    for seq in 0..count {
        let data = logs(seq, 1 + seq as usize, 3 + 7 * seq as usize);
        end += record::HEADER_LEN + data.encoded_len();
        ends.push(end);
        offer(&q, data, Sizer::Requests).await.unwrap();
    }
    q.shutdown().await;
    let name = segment_files(dir).pop().unwrap();
    let bytes = std::fs::read(dir.join(&name)).unwrap();
    assert_eq!(bytes.len(), end);
    (name, bytes, ends)
}

#[tokio::test]
async fn a_torn_tail_cut_at_any_byte_keeps_every_whole_record() {
    let source = tempfile::tempdir().unwrap();
    let (name, bytes, ends) = written_segment(source.path(), 4).await;
    for cut in 0..=bytes.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&name);
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let recovered = recovery::recover(dir.path(), Signal::Logs, usize::MAX, false).unwrap();
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        let boundary = if whole == 0 { 0 } else { ends[whole - 1] };
        let seqs: Vec<u64> = recovered
            .records
            .iter()
            .map(|r| {
                let payload = r.payload.clone().unwrap();
                seq_of(&Telemetry::from_encoded(Signal::Logs, payload).unwrap())
            })
            .collect();
        assert_eq!(seqs, (0..whole as u64).collect::<Vec<_>>(), "cut at {cut}");
        if cut == boundary {
            assert!(
                recovered.damage.is_empty(),
                "cut at {cut}: {:?}",
                recovered.damage
            );
        } else {
            assert_eq!(recovered.damage.len(), 1, "cut at {cut}");
            assert_eq!(recovered.damage[0].offset, boundary as u64);
            assert_eq!(recovered.damage[0].dropped_bytes, (cut - boundary) as u64);
        }
        // The tail is cut off (a segment with nothing left to send is deleted).
        match std::fs::metadata(&path) {
            Ok(meta) => assert_eq!(meta.len(), boundary as u64, "cut at {cut}"),
            Err(_) => assert_eq!(whole, 0, "cut at {cut}"),
        }
    }
}

#[tokio::test]
async fn a_torn_tail_is_reported_and_counted_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (name, bytes, ends) = written_segment(dir.path(), 3).await;
    std::fs::write(dir.path().join(&name), &bytes[..ends[1] + 5]).unwrap();
    let corrupt = Counter::default();
    let q = PersistentQueue::open(PersistentOptions {
        corrupt_records: corrupt.clone(),
        ..options(dir.path(), 100, Sizer::Requests)
    })
    .await
    .unwrap();
    assert_eq!(corrupt.get(), 1);
    let seqs: Vec<u64> = take_all(&q).await.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(seqs, [0, 1]);
    q.shutdown().await;
}

#[tokio::test]
async fn a_flipped_byte_is_caught_on_open_and_when_read_back() {
    // On open: a byte of the second record's checksum.
    let dir = tempfile::tempdir().unwrap();
    let (name, mut bytes, ends) = written_segment(dir.path(), 4).await;
    bytes[ends[0] + 5] ^= 0x01;
    std::fs::write(dir.path().join(&name), &bytes).unwrap();
    let recovered = recovery::recover(dir.path(), Signal::Logs, usize::MAX, false).unwrap();
    assert_eq!(recovered.records.len(), 1);
    assert_eq!(recovered.damage[0].reason, "checksum mismatch");
    assert_eq!(recovered.damage[0].offset, ends[0] as u64);
    assert_eq!(
        std::fs::metadata(dir.path().join(&name)).unwrap().len(),
        ends[0] as u64
    );

    // Read back: nothing is kept in memory, and a payload byte changes on disk meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let corrupt = Counter::default();
    let q = PersistentQueue::open(PersistentOptions {
        corrupt_records: corrupt.clone(),
        resident_bytes: 0,
        ..options(dir.path(), 100, Sizer::Requests)
    })
    .await
    .unwrap();
    let mut ends = Vec::new();
    let mut end = 0;
    for seq in 0..3 {
        let data = logs(seq, 2, 50);
        end += record::HEADER_LEN + data.encoded_len();
        ends.push(end);
        offer(&q, data, Sizer::Requests).await.unwrap();
    }
    let path = dir.path().join(segment_files(dir.path()).pop().unwrap());
    let mut on_disk = std::fs::read(&path).unwrap();
    on_disk[ends[1] - 3] ^= 0x40;
    std::fs::write(&path, &on_disk).unwrap();
    let taken = take_all(&q).await;
    let seqs: Vec<u64> = taken.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(
        seqs,
        [0, 2],
        "the damaged request is dropped, the others read back"
    );
    assert_eq!(corrupt.get(), 1);
    for request in &taken {
        q.done(request.ticket, request.size);
    }
    assert_eq!(q.size(), 0, "the dropped request released its capacity");
    q.shutdown().await;
}

#[tokio::test]
async fn many_producers_share_writes_and_nothing_is_lost_or_reordered_per_producer() {
    let dir = tempfile::tempdir().unwrap();
    let q = Arc::new(
        PersistentQueue::open(PersistentOptions {
            segment_bytes: 64 << 10,
            resident_bytes: 32 << 10,
            ..options(dir.path(), 10_000, Sizer::Requests)
        })
        .await
        .unwrap(),
    );
    let producers: Vec<_> = (0..8u64)
        .map(|p| {
            let q = q.clone();
            tokio::spawn(async move {
                for i in 0..100u64 {
                    offer(&q, logs(p * 1000 + i, 1, 200), Sizer::Requests)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    q.shutdown().await;
    let q = PersistentQueue::open(options(dir.path(), 10_000, Sizer::Requests))
        .await
        .unwrap();
    let seqs: Vec<u64> = take_all(&q).await.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(seqs.len(), 800);
    assert_eq!(seqs.iter().collect::<HashSet<_>>().len(), 800);
    for p in 0..8 {
        let own: Vec<u64> = seqs.iter().copied().filter(|s| s / 1000 == p).collect();
        assert!(
            own.windows(2).all(|w| w[0] < w[1]),
            "producer {p} reordered"
        );
    }
    assert!(segment_files(dir.path()).len() > 1, "segments rolled over");
    q.shutdown().await;
}
