//! ferrotel's `top_queries`: the statement digests that took the most time since the previous
//! scrape. performance_schema keeps running totals per digest since the server started (or the
//! table was truncated), so what happened within one interval is the difference between two
//! readings; the first scrape only takes the baseline, so that a digest's whole history is never
//! reported as if it had just run.

use ferrotel_core::scraperhelper::topn;
use ferrotel_core::scraperhelper::{MetricsBuilder, Value};

use crate::metadata::{TOP_CALLS, TOP_ROWS, TOP_TIME};

/// One row of `events_statements_summary_by_digest`: running totals.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestTotals {
    pub schema: Option<String>,
    pub digest: String,
    pub text: String,
    pub calls: u64,
    /// Picoseconds.
    pub time: u64,
    pub rows_examined: u64,
}

/// What one digest did within the last interval.
#[derive(Debug, Clone, PartialEq)]
pub struct TopQuery {
    pub schema: Option<String>,
    pub digest: String,
    pub text: String,
    pub calls: u64,
    pub seconds: f64,
    pub rows_examined: u64,
}

type Key = (Option<String>, String);

/// The baseline between scrapes, kept by the shared top-N helper.
#[derive(Default)]
pub struct TopN(topn::TopN<Key>);

impl TopN {
    /// The `limit` digests with the most time since the last call, largest first; empty on the
    /// first call.
    pub fn next(&mut self, rows: Vec<DigestTotals>, limit: usize) -> Vec<TopQuery> {
        let rows = rows.into_iter().map(|row| {
            let key = (row.schema.clone(), row.digest.clone());
            // picoseconds become seconds before the subtraction: f64 keeps them exact enough
            let counters = vec![
                row.calls as f64,
                row.time as f64 / 1e12,
                row.rows_examined as f64,
            ];
            (key, row, counters)
        });
        self.0
            .next(rows, limit)
            .into_iter()
            .map(|(row, grown)| TopQuery {
                schema: row.schema,
                digest: row.digest,
                text: row.text,
                calls: grown[topn::CALLS] as u64,
                seconds: grown[topn::TIME],
                rows_examined: grown[2] as u64,
            })
            .collect()
    }

    /// Forgets the baseline (the server may have restarted: its totals start again).
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

pub fn record(top: &[TopQuery], out: &mut MetricsBuilder) {
    for q in top {
        let mut attributes = vec![
            ("db.query.text", Value::from(q.text.as_str())),
            ("digest", Value::from(q.digest.as_str())),
        ];
        if let Some(schema) = &q.schema {
            attributes.push(("schema", Value::from(schema.as_str())));
        }
        out.record_int(
            TOP_CALLS,
            i64::try_from(q.calls).unwrap_or(i64::MAX),
            &attributes,
        );
        out.record_double(TOP_TIME, q.seconds, &attributes);
        out.record_int(
            TOP_ROWS,
            i64::try_from(q.rows_examined).unwrap_or(i64::MAX),
            &attributes,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(digest: &str, calls: u64, ms: u64) -> DigestTotals {
        DigestTotals {
            schema: Some("app".into()),
            digest: digest.into(),
            text: format!("SELECT {digest}"),
            calls,
            time: ms * 1_000_000_000,
            rows_examined: calls * 10,
        }
    }

    #[test]
    fn the_first_scrape_is_the_baseline_then_deltas_rank_by_time() {
        let mut top = TopN::default();
        assert!(
            top.next(vec![row("a", 100, 90_000), row("b", 5, 10)], 10)
                .is_empty()
        );
        // a: 1 call of 5 ms; b: 2 calls of 1.5 s in all; c: new, 3 calls of 20 ms
        let got = top.next(
            vec![row("a", 101, 90_005), row("b", 7, 1_510), row("c", 3, 20)],
            10,
        );
        let order: Vec<&str> = got.iter().map(|q| q.digest.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
        assert_eq!(got[0].calls, 2);
        assert!((got[0].seconds - 1.5).abs() < 1e-9, "{}", got[0].seconds);
        assert_eq!(got[0].rows_examined, 20);
        assert_eq!(
            got[1].calls, 3,
            "a digest new since the baseline counts whole"
        );
        // nothing ran: nothing to report; the limit applies
        assert!(top.next(vec![row("a", 101, 90_005)], 10).is_empty());
        let got = top.next(vec![row("a", 103, 90_010), row("b", 9, 1_600)], 1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].digest, "b", "b is new again after vanishing");
    }

    #[test]
    fn a_reset_counter_counts_from_zero() {
        let mut top = TopN::default();
        top.next(vec![row("a", 100, 1000)], 10);
        let got = top.next(vec![row("a", 4, 40)], 10);
        assert_eq!(got[0].calls, 4);
    }
}
