//! What one connection's earlier requests taught, for requests that only refer to it: HTTP/2's
//! HPACK dynamic table, PostgreSQL's named prepared statements. Every part
//! is bounded, so a connection costs at most a few hundred KiB whatever its peer sends.

use std::collections::{HashMap, VecDeque};

/// Prepared statements remembered per connection; the oldest is forgotten past it.
pub(crate) const MAX_STATEMENTS: usize = 256;

/// The state of one connection (one per socket; drop it when the socket closes).
#[derive(Default)]
pub struct Connection {
    pub(crate) http2: crate::http2::State,
    pub(crate) statements: Statements,
}

/// Prepared statements by their key (PostgreSQL: `pg:` and the statement name), with their query
/// text as captured.
#[derive(Default)]
pub(crate) struct Statements {
    by_key: HashMap<Vec<u8>, Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl Statements {
    pub(crate) fn remember(&mut self, key: &[u8], query: &[u8]) {
        if self.by_key.insert(key.to_vec(), query.to_vec()).is_none() {
            self.order.push_back(key.to_vec());
            if self.order.len() > MAX_STATEMENTS
                && let Some(oldest) = self.order.pop_front()
            {
                self.by_key.remove(&oldest);
            }
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.by_key.get(key).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_statement_goes_first() {
        let mut s = Statements::default();
        for i in 0..=MAX_STATEMENTS {
            s.remember(format!("s{i}").as_bytes(), b"select 1");
        }
        assert_eq!(s.get(b"s0"), None);
        assert_eq!(s.get(b"s1"), Some(&b"select 1"[..]));
        assert_eq!(s.by_key.len(), MAX_STATEMENTS);
        // remembering a known key again does not count it twice
        s.remember(b"s1", b"select 2");
        assert_eq!(s.order.len(), MAX_STATEMENTS);
        assert_eq!(s.get(b"s1"), Some(&b"select 2"[..]));
    }
}
