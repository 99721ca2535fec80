//! ferrotel's `top_queries` for the database receivers: the statements that took the most time
//! between two scrapes. Servers keep running totals per statement (`pg_stat_statements`,
//! `events_statements_summary_by_digest`), so what happened within one interval is the difference
//! between two readings. The first reading only sets the baseline, so that a statement's whole
//! history is never reported as if it had just run.

use std::collections::HashMap;
use std::hash::Hash;

/// The `top_queries:` section of the database receivers (off by default).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopQueriesConfig {
    pub enabled: bool,
    /// Statements reported per scrape.
    pub limit: usize,
    /// Longer statement texts are cut (at a character boundary) to this many bytes.
    pub max_query_length: usize,
}

impl Default for TopQueriesConfig {
    fn default() -> Self {
        TopQueriesConfig {
            enabled: false,
            limit: 10,
            max_query_length: 1024,
        }
    }
}

impl TopQueriesConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.limit == 0 {
            return Err("top_queries::limit must be at least 1".into());
        }
        if self.max_query_length == 0 {
            return Err("top_queries::max_query_length must be at least 1".into());
        }
        Ok(())
    }
}

/// Which of a statement's counters are its calls and its time; any further ones ride along.
pub const CALLS: usize = 0;
pub const TIME: usize = 1;

/// The previous reading of every statement, by the server's key for it.
pub struct TopN<K> {
    previous: Option<HashMap<K, Vec<f64>>>,
}

impl<K> Default for TopN<K> {
    fn default() -> Self {
        TopN { previous: None }
    }
}

/// A counter's growth; a smaller reading means the totals were reset, so all of it is new.
fn growth(now: f64, before: f64) -> f64 {
    if now >= before { now - before } else { now }
}

impl<K: Eq + Hash> TopN<K> {
    /// Takes this scrape's running totals (key, what to report, counters with calls at [`CALLS`]
    /// and time at [`TIME`]) and returns the `limit` statements whose time grew most since the
    /// previous call, largest first, each with the growth of every counter. Statements not called
    /// in between are left out; one first seen after the baseline ran wholly in between. Empty on
    /// the first call and after [`TopN::reset`].
    pub fn next<T>(
        &mut self,
        rows: impl IntoIterator<Item = (K, T, Vec<f64>)>,
        limit: usize,
    ) -> Vec<(T, Vec<f64>)> {
        let previous = self.previous.take();
        let mut current = HashMap::new();
        let mut top = Vec::new();
        for (key, item, counters) in rows {
            if let Some(previous) = &previous {
                let grown: Vec<f64> = match previous.get(&key) {
                    Some(before) => counters
                        .iter()
                        .zip(before.iter().chain(std::iter::repeat(&0.0)))
                        .map(|(now, before)| growth(*now, *before))
                        .collect(),
                    None => counters.clone(),
                };
                if grown.get(CALLS).is_some_and(|calls| *calls > 0.0) {
                    top.push((item, grown));
                }
            }
            current.insert(key, counters);
        }
        self.previous = Some(current);
        let time = |grown: &Vec<f64>| grown.get(TIME).copied().unwrap_or(0.0);
        top.sort_by(|a, b| {
            time(&b.1)
                .total_cmp(&time(&a.1))
                .then(b.1[CALLS].total_cmp(&a.1[CALLS]))
        });
        top.truncate(limit);
        top
    }

    /// Forgets the baseline (the server may have restarted: its totals start again).
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

/// Whitespace runs become one space; the text is cut to `max_len` bytes at a character boundary.
pub fn shorten_query(text: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_len));
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() >= max_len {
            break;
        }
    }
    if out.len() > max_len {
        let mut cut = max_len;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &'static str, calls: f64, time: f64) -> (&'static str, &'static str, Vec<f64>) {
        (key, key, vec![calls, time, calls * 10.0])
    }

    #[test]
    fn the_first_reading_is_the_baseline_then_growth_ranks_by_time() {
        let mut top = TopN::default();
        assert!(
            top.next([row("a", 100.0, 90.0), row("b", 5.0, 0.01)], 10)
                .is_empty()
        );
        // a: 1 call of 5 ms; b: 2 calls of 1.5 s; c: new, 3 calls of 20 ms; d: new, never called
        let got = top.next(
            [
                row("a", 101.0, 90.005),
                row("b", 7.0, 1.51),
                row("c", 3.0, 0.02),
                row("d", 0.0, 0.0),
            ],
            10,
        );
        let order: Vec<&str> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, ["b", "c", "a"]);
        assert_eq!(got[0].1[CALLS], 2.0);
        assert!((got[0].1[TIME] - 1.5).abs() < 1e-9, "{:?}", got[0].1);
        assert_eq!(got[0].1[2], 20.0, "further counters grow alongside");
        assert_eq!(
            got[1].1[CALLS], 3.0,
            "new since the baseline: counted whole"
        );
        assert!(
            top.next([row("a", 101.0, 90.005)], 10).is_empty(),
            "nothing ran"
        );
        let got = top.next([row("a", 103.0, 90.01), row("b", 9.0, 1.6)], 1);
        assert_eq!(got.len(), 1, "the limit applies");
        assert_eq!(got[0].0, "b", "b is new again after it vanished");
    }

    #[test]
    fn a_reset_counts_from_zero_and_reset_takes_a_new_baseline() {
        let mut top = TopN::default();
        top.next([row("a", 100.0, 1.0)], 10);
        let got = top.next([row("a", 4.0, 0.04)], 10);
        assert_eq!(got[0].1[CALLS], 4.0);
        top.reset();
        assert!(top.next([row("a", 8.0, 0.08)], 10).is_empty());
    }

    #[test]
    fn texts_are_squeezed_and_cut_inside_no_character() {
        assert_eq!(
            shorten_query("SELECT  *\n FROM t\tWHERE id = ? ", 100),
            "SELECT * FROM t WHERE id = ?"
        );
        assert_eq!(shorten_query("SELECT éé", 8), "SELECT ");
        assert_eq!(shorten_query(&"x".repeat(50), 10).len(), 10);
    }

    #[test]
    fn limits_must_be_positive() {
        assert!(TopQueriesConfig::default().validate().is_ok());
        let zero = TopQueriesConfig {
            limit: 0,
            ..Default::default()
        };
        assert!(zero.validate().unwrap_err().contains("top_queries::limit"));
    }
}
