//! Known fields with the wrong wire type, packed fields, varints and keys: what prost refuses.

use super::*;

/// A request whose one element (a span, a log record or a histogram data point, encoded by prost)
/// gets `extra` appended: a later field, as a decoder would read it.
fn with_extra(element: &str, extra: &[u8]) -> (Signal, Vec<u8>) {
    match element {
        "span" => {
            let span = Span {
                name: "s".into(),
                attributes: vec![kv("k", string("v"))],
                ..Default::default()
            };
            let bytes = [span.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2], bytes))
        }
        "attribute" => {
            let bytes = [kv("k", string("v")).encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2, 9], bytes))
        }
        "value" => {
            let bytes = [string("v").encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2, 9, 2], bytes))
        }
        "log record" => {
            let record = LogRecord {
                severity_text: "INFO".into(),
                ..Default::default()
            };
            let bytes = [record.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Logs, wrap(&[1, 2, 2], bytes))
        }
        "histogram point" => {
            let point = HistogramDataPoint {
                count: 3,
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![1.5],
                ..Default::default()
            };
            let bytes = [point.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Metrics, wrap(&[1, 2, 2, 9, 1], bytes))
        }
        "buckets" => {
            let buckets = Buckets {
                offset: -3,
                bucket_counts: vec![1, 300, 70_000, u64::MAX],
            };
            let bytes = [buckets.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Metrics, wrap(&[1, 2, 2, 10, 1, 8], bytes))
        }
        _ => unreachable!(),
    }
}

#[test]
fn known_fields_with_a_wrong_wire_type_are_refused_naming_the_field() {
    for (element, extra, message) in [
        (
            "span",
            vec![0x38, 0x01], // start_time_unix_nano (7) as a varint
            "a span's start_time_unix_nano has wire type 0 (varint), not 1 (64-bit)",
        ),
        (
            "span",
            vec![0x0d, 0, 0, 0, 0], // trace_id (1) as 32 bits
            "a span's trace_id has wire type 5 (32-bit), not 2 (length-delimited)",
        ),
        (
            "span",
            vec![0x78, 0x01], // status (15) as a varint
            "a span's status has wire type 0 (varint), not 2 (length-delimited)",
        ),
        (
            "span",
            vec![0x31, 0, 0, 0, 0, 0, 0, 0, 0], // kind (6) as 64 bits
            "a span's kind has wire type 1 (64-bit), not 0 (varint)",
        ),
        (
            "attribute",
            vec![0x08, 0x01], // key (1) as a varint
            "a span's attribute key has wire type 0 (varint), not 2 (length-delimited)",
        ),
        (
            "value",
            vec![0x12, 0x00], // bool_value (2) length-delimited
            "a span's attribute value (bool_value) has wire type 2 (length-delimited), not 0 (varint)",
        ),
        (
            "value",
            vec![0x19, 0, 0, 0, 0, 0, 0, 0, 0], // int_value (3) as 64 bits
            "a span's attribute value (int_value) has wire type 1 (64-bit), not 0 (varint)",
        ),
        (
            "log record",
            vec![0x40, 0x01], // flags (8) as a varint
            "a log record's flags has wire type 0 (varint), not 5 (32-bit)",
        ),
        (
            "histogram point",
            vec![0x30, 0x01], // bucket_counts (6) as a varint
            "a data point's bucket_counts has wire type 0 (varint), not 1 (64-bit) or 2 (packed)",
        ),
        (
            "buckets",
            vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0], // bucket_counts (2) as 64 bits
            "a data point's buckets.bucket_counts has wire type 1 (64-bit), not 0 (varint) or 2 (packed)",
        ),
    ] {
        let (signal, bytes) = with_extra(element, &[]);
        assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1));
        let (signal, bytes) = with_extra(element, &extra);
        assert!(decoded(signal, &bytes).is_err(), "prost refuses: {message}");
        assert_eq!(
            check(&bytes, signal, &Limits::DEFAULT)
                .unwrap_err()
                .to_string(),
            format!("invalid data: {message}")
        );
    }
}

#[test]
fn packed_fields_hold_whole_values_and_unpacked_ones_pass() {
    // Unpacked (one value per field) as well as packed: prost takes both.
    let fine: [(&str, Vec<u8>); 5] = [
        (
            "histogram point",
            [vec![0x31], 7u64.to_le_bytes().to_vec()].concat(),
        ),
        (
            "histogram point",
            [vec![0x39], 2.5f64.to_le_bytes().to_vec()].concat(),
        ),
        ("histogram point", len_field(7, &[])),
        ("buckets", [vec![0x10], varint(u64::MAX)].concat()),
        (
            "buckets",
            len_field(2, &[varint(1), varint(1 << 40)].concat()),
        ),
    ];
    for (element, extra) in fine {
        let (signal, bytes) = with_extra(element, &extra);
        assert_eq!(decoded(signal, &bytes), Ok(1));
        assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1), "{extra:?}");
    }
    for (element, extra, message) in [
        (
            "histogram point",
            len_field(6, &[0; 13]),
            "a data point's bucket_counts is a packed field of 13 bytes, not a whole number of 8-byte values",
        ),
        (
            "histogram point",
            len_field(7, &[0; 4]),
            "a data point's explicit_bounds is a packed field of 4 bytes, not a whole number of 8-byte values",
        ),
        (
            "buckets",
            len_field(2, &[0x01, 0x80, 0x80]), // ends inside a varint
            "a data point's buckets.bucket_counts is a packed field holding a malformed varint",
        ),
        (
            "buckets",
            len_field(2, &[[0xff; 9].as_slice(), &[0x02]].concat()), // past 64 bits
            "a data point's buckets.bucket_counts is a packed field holding a malformed varint",
        ),
    ] {
        let (signal, bytes) = with_extra(element, &extra);
        assert!(decoded(signal, &bytes).is_err(), "prost refuses: {message}");
        assert_eq!(
            check(&bytes, signal, &Limits::DEFAULT)
                .unwrap_err()
                .to_string(),
            format!("invalid data: {message}")
        );
    }
}

#[test]
fn varints_past_64_bits_and_keys_past_32_bits_are_malformed() {
    // kind (6) = u64::MAX: a 10th byte of 1 holds bit 63; 2 or more overflow, and prost refuses.
    let max = [vec![0x30], vec![0xff; 9], vec![0x01]].concat();
    let (signal, bytes) = with_extra("span", &max);
    assert_eq!(decoded(signal, &bytes), Ok(1));
    assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1));
    for extra in [
        [vec![0x30], vec![0xff; 9], vec![0x02]].concat(),
        [vec![0xf8, 0x07], vec![0xff; 9], vec![0x7f]].concat(), // unknown field 127
        // A key past 32 bits: field number 2^29 as prost reads the low 32 bits, but refused.
        vec![0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
    ] {
        let (signal, bytes) = with_extra("span", &extra);
        assert!(decoded(signal, &bytes).is_err());
        assert!(
            matches!(
                check(&bytes, signal, &Limits::DEFAULT),
                Err(CheckError::Wire(_))
            ),
            "{extra:?}"
        );
        let request = [vec![0x0a, 0x00], extra].concat(); // also at the top level
        assert!(decoded(Signal::Traces, &request).is_err());
        assert!(count_items(&request, TRACES).is_err());
        assert!(check(&request, Signal::Traces, &Limits::DEFAULT).is_err());
    }
}
