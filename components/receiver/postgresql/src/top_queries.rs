//! Top-N statements between two scrapes: `pg_stat_statements` counts since its last reset, so
//! the receiver keeps the previous counters and ranks the differences by execution time. The
//! first scrape only sets the baseline. Statement texts are shortened and their whitespace
//! squeezed; texts from `pg_stat_activity` (lock waits) also lose their literals, which
//! `pg_stat_statements` already replaced with `$n`.

use ferrotel_core::scraperhelper::topn::{self, shorten_query};

use crate::queries::Statement;

/// (database, user, query id): how `pg_stat_statements` keys its entries.
type Key = (String, i64, i64);

#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub database: String,
    pub query_id: i64,
    pub query: String,
    pub calls: i64,
    pub total_time_ms: f64,
    pub io_time_ms: f64,
}

/// The baseline between scrapes, kept by the shared top-N helper.
#[derive(Default)]
pub struct TopQueries(topn::TopN<Key>);

impl TopQueries {
    /// The `limit` statements that ran longest since the previous call, longest first.
    pub fn update(&mut self, current: Vec<Statement>, limit: usize, max_len: usize) -> Vec<Delta> {
        let rows = current.into_iter().map(|s| {
            let key = (s.database.clone(), s.user_id, s.query_id);
            let counters = vec![s.calls as f64, s.total_time_ms, s.io_time_ms];
            (key, s, counters)
        });
        self.0
            .next(rows, limit)
            .into_iter()
            .map(|(s, grown)| Delta {
                database: s.database,
                query_id: s.query_id,
                query: shorten_query(&s.query, max_len),
                calls: grown[topn::CALLS] as i64,
                total_time_ms: grown[topn::TIME],
                io_time_ms: grown[2],
            })
            .collect()
    }
}

/// Replaces string and number literals with `?`, so that a raw statement carries no values.
/// Quoted identifiers, `$n` parameters and names with digits (`t1`) stay as they are.
pub fn obfuscate(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    let mut previous: Option<char> = None;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // '' inside a literal is an escaped quote
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        Some('\'') | None => break,
                        Some(_) => {}
                    }
                }
                out.push('?');
                previous = Some('?');
            }
            '0'..='9' if !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '$') => {
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_digit() || *n == '.')
                {
                    chars.next();
                }
                out.push('?');
                previous = Some('?');
            }
            _ => {
                out.push(c);
                previous = Some(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(query_id: i64, calls: i64, total: f64) -> Statement {
        Statement {
            database: "app".into(),
            user_id: 10,
            query_id,
            query: format!("SELECT   {query_id}\n  FROM t"),
            calls,
            total_time_ms: total,
            io_time_ms: total / 10.0,
        }
    }

    #[test]
    fn the_first_scrape_is_a_baseline_and_later_ones_rank_differences() {
        let mut top = TopQueries::default();
        assert!(
            top.update(vec![statement(1, 5, 100.0), statement(2, 1, 1.0)], 10, 100)
                .is_empty()
        );
        // 1 ran 2 more times for 10 ms; 2 once more for 500 ms; 3 is new; 4 was unchanged
        let deltas = top.update(
            vec![
                statement(1, 7, 110.0),
                statement(2, 2, 501.0),
                statement(3, 1, 50.0),
                statement(4, 0, 0.0),
            ],
            2,
            100,
        );
        let ids: Vec<i64> = deltas.iter().map(|d| d.query_id).collect();
        assert_eq!(ids, [2, 3], "longest first, cut to the limit");
        assert_eq!(deltas[0].calls, 1);
        assert_eq!(deltas[0].total_time_ms, 500.0);
        assert_eq!(deltas[0].query, "SELECT 2 FROM t");
        // a reset (calls went down) counts what is there as new
        let deltas = top.update(vec![statement(2, 1, 20.0)], 10, 100);
        assert_eq!(deltas[0].calls, 1);
        assert_eq!(deltas[0].total_time_ms, 20.0);
    }

    #[test]
    fn literals_are_stripped() {
        assert_eq!(
            obfuscate("UPDATE t1 SET a = 'it''s', b = 42.5 WHERE id = $1 AND c = -7"),
            "UPDATE t1 SET a = ?, b = ? WHERE id = $1 AND c = -?"
        );
    }
}
