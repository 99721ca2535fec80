//! The reply to `INFO all`: `# Section` headers and `field:value` lines (CRLF or LF), with three
//! kinds of compound values — keyspace (`db0:keys=1,expires=0,avg_ttl=0`), command stats
//! (`cmdstat_get:calls=3,usec=9,...`) and latency percentiles
//! (`latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=2.007`). Nothing here panics on odd
//! input: lines that do not fit are skipped, numbers that do not parse are reported.

use std::collections::BTreeMap;

/// The `field:value` pairs of one INFO reply.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Info {
    fields: BTreeMap<String, String>,
}

impl Info {
    pub fn parse(text: &str) -> Info {
        let fields = text
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Info { fields }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// An integer field: `None` when absent, `Some(Err)` when it is not a number.
    pub fn int(&self, field: &str) -> Option<Result<i64, String>> {
        self.get(field).map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("INFO field {field} is {v:?}, not an integer"))
        })
    }

    pub fn double(&self, field: &str) -> Option<Result<f64, String>> {
        self.get(field).map(|v| {
            v.parse::<f64>()
                .map_err(|_| format!("INFO field {field} is {v:?}, not a number"))
        })
    }

    /// The keyspace lines, by database number, in numeric order.
    pub fn keyspace(&self) -> Vec<Result<Keyspace, String>> {
        let mut out: Vec<(u32, Result<Keyspace, String>)> = self
            .fields
            .iter()
            .filter_map(|(k, v)| {
                let db = k.strip_prefix("db")?.parse::<u32>().ok()?;
                Some((
                    db,
                    Keyspace::parse(db, v).map_err(|e| format!("INFO {k}: {e}")),
                ))
            })
            .collect();
        out.sort_by_key(|(db, _)| *db);
        out.into_iter().map(|(_, ks)| ks).collect()
    }

    /// `cmdstat_<command>` lines: (command, calls, usec); entries that do not parse are skipped,
    /// as otelcol skips them.
    pub fn command_stats(&self) -> Vec<CommandStats> {
        self.with_prefix("cmdstat_")
            .map(|(command, value)| {
                let pairs = pairs(value);
                let number = |key: &str| {
                    pairs
                        .iter()
                        .find(|(k, _)| *k == key)
                        .and_then(|(_, v)| v.parse::<i64>().ok())
                };
                CommandStats {
                    command: command.to_string(),
                    calls: number("calls"),
                    usec: number("usec"),
                }
            })
            .collect()
    }

    /// `latency_percentiles_usec_<command>` lines: (command, [(percentile, microseconds)]).
    /// A line with a malformed pair is skipped whole, as otelcol does.
    pub fn latency_stats(&self) -> Vec<(String, Vec<(String, f64)>)> {
        self.with_prefix("latency_percentiles_usec_")
            .filter_map(|(command, value)| {
                let mut out = Vec::new();
                for (k, v) in pairs(value) {
                    out.push((k.to_string(), v.parse::<f64>().ok()?));
                }
                (!out.is_empty()).then(|| (command.to_string(), out))
            })
            .collect()
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields.iter().filter_map(move |(k, v)| {
            let command = k.strip_prefix(prefix)?;
            (!command.is_empty()).then_some((command, v.as_str()))
        })
    }
}

/// `a=1,b=2` as pairs; an element without `=` is kept with an empty value so callers see it.
fn pairs(value: &str) -> Vec<(&str, &str)> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keyspace {
    /// The database number as text, as otelcol's `db` attribute has it ("0").
    pub db: String,
    pub keys: i64,
    pub expires: i64,
    pub avg_ttl: i64,
}

impl Keyspace {
    fn parse(db: u32, value: &str) -> Result<Keyspace, String> {
        let mut ks = Keyspace {
            db: db.to_string(),
            keys: 0,
            expires: 0,
            avg_ttl: 0,
        };
        for (key, v) in pairs(value) {
            let field = match key {
                "keys" => &mut ks.keys,
                "expires" => &mut ks.expires,
                "avg_ttl" => &mut ks.avg_ttl,
                _ => continue,
            };
            *field = v
                .parse()
                .map_err(|_| format!("{key}={v:?} is not an integer"))?;
        }
        Ok(ks)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandStats {
    pub command: String,
    pub calls: Option<i64>,
    pub usec: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = include_str!("../testdata/info-7.0.txt");

    #[test]
    fn a_real_redis_7_reply_parses_with_crlf_line_ends() {
        assert!(
            CAPTURED.contains("\r\n"),
            "the sample keeps the wire's CRLF"
        );
        let info = Info::parse(CAPTURED);
        assert_eq!(info.get("redis_version"), Some("7.0.15"));
        assert_eq!(info.get("role"), Some("master"));
        assert_eq!(info.int("connected_clients"), Some(Ok(1)));
        assert!(info.int("used_memory").unwrap().unwrap() > 0);
        assert!(info.double("used_cpu_sys").unwrap().unwrap() > 0.0);
        assert!(info.double("mem_fragmentation_ratio").unwrap().is_ok());
        assert_eq!(info.int("keyspace_hits"), Some(Ok(1)));
        assert_eq!(info.int("keyspace_misses"), Some(Ok(1)));
        assert_eq!(info.get("config_file"), Some(""), "empty values are kept");
        assert_eq!(info.int("nonexistent_field"), None);
        let keyspace: Vec<Keyspace> = info.keyspace().into_iter().map(Result::unwrap).collect();
        assert_eq!(keyspace.len(), 2);
        assert_eq!(
            (
                keyspace[0].db.as_str(),
                keyspace[0].keys,
                keyspace[0].expires
            ),
            ("0", 21, 1)
        );
        assert!(keyspace[0].avg_ttl > 3_000_000 && keyspace[0].avg_ttl <= 3_600_000);
        assert_eq!((keyspace[1].db.as_str(), keyspace[1].keys), ("3", 1));
        let set = info
            .command_stats()
            .into_iter()
            .find(|c| c.command == "set")
            .expect("cmdstat_set");
        assert_eq!(set.calls, Some(22));
        assert!(set.usec.unwrap() > 0);
        let latency = info.latency_stats();
        let (_, set) = latency
            .iter()
            .find(|(c, _)| c == "set")
            .expect("set latency");
        let names: Vec<&str> = set.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["p50", "p99", "p99.9"]);
        assert!(set.iter().all(|(_, v)| *v > 0.0));
    }

    #[test]
    fn odd_lines_are_skipped_and_bad_numbers_reported() {
        let info = Info::parse(
            "# Server\nno colon here\n:\nused_memory:12abc\nuptime_in_seconds: 42 \n\
             db0:keys=x,expires=0\ndbfoo:keys=1\ndb2:keys=5,weird,avg_ttl=7\n\
             cmdstat_get:calls=oops,usec=5\ncmdstat_:calls=1\n\
             latency_percentiles_usec_get:p50=1.0,p99\nlatency_percentiles_usec_set:p50=2.5\n",
        );
        assert_eq!(info.int("uptime_in_seconds"), Some(Ok(42)));
        let err = info.int("used_memory").unwrap().unwrap_err();
        assert!(
            err.contains("used_memory") && err.contains("12abc"),
            "{err}"
        );
        let keyspace = info.keyspace();
        assert_eq!(keyspace.len(), 2, "dbfoo is not a database");
        assert!(keyspace[0].as_ref().unwrap_err().contains("db0"));
        let db2 = keyspace[1].as_ref().unwrap();
        assert_eq!((db2.keys, db2.expires, db2.avg_ttl), (5, 0, 7));
        let stats = info.command_stats();
        assert_eq!(stats.len(), 1);
        assert_eq!((stats[0].calls, stats[0].usec), (None, Some(5)));
        let latency = info.latency_stats();
        assert_eq!(
            latency,
            vec![("set".to_string(), vec![("p50".to_string(), 2.5)])]
        );
        assert!(Info::parse("").is_empty());
        assert!(Info::parse("\u{0}\u{ffff}:::\r\r\n").fields.len() <= 1);
    }
}
