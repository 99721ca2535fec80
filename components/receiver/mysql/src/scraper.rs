//! One scrape: `SHOW GLOBAL STATUS` and, as the enabled metrics need them, the buffer pool size,
//! performance_schema's I/O and statement summaries and the replica status, over one session kept
//! between scrapes. A session that breaks is dropped and made again on the next scrape, so a
//! restarted server is picked up without restarting the collector. A query the server refuses
//! (no privilege, performance_schema off) makes the scrape partial; the other queries still count.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use ferrotel_core::scraperhelper::{MetricsBuilder, ScrapeError, Scraper};
use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, DriverError, Error, IoError, Opts, OptsBuilder, Row};

use crate::config::{Config, StatementEvents};
use crate::record::{self, Replica, StatementEvent, TableIo};
use crate::topn::{self, DigestTotals, TopN};
use ferrotel_core::scraperhelper::topn::{TopQueriesConfig, shorten_query};

const TABLE_IO: &str = "SELECT OBJECT_SCHEMA, OBJECT_NAME, NULL, \
    COUNT_DELETE, COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, \
    SUM_TIMER_DELETE, SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE \
    FROM performance_schema.table_io_waits_summary_by_table \
    WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";
const INDEX_IO: &str = "SELECT OBJECT_SCHEMA, OBJECT_NAME, COALESCE(INDEX_NAME, 'NONE'), \
    COUNT_DELETE, COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, \
    SUM_TIMER_DELETE, SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE \
    FROM performance_schema.table_io_waits_summary_by_index_usage \
    WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";

pub struct MysqlScraper {
    opts: Opts,
    /// As configured: the `mysql.instance.endpoint` resource attribute and the log's wording.
    endpoint: String,
    dial_timeout: Option<Duration>,
    /// Scrubbed from every message, should a server or the driver ever quote it.
    password: String,
    statement_events: StatementEvents,
    top_queries: TopQueriesConfig,
    top: TopN,
    session: Option<(Conn, Option<String>)>,
}

impl MysqlScraper {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut builder = OptsBuilder::default()
            .user((!config.username.is_empty()).then(|| config.username.clone()))
            .pass((!config.password.is_empty()).then(|| config.password.expose().to_string()))
            .db_name((!config.database.is_empty()).then(|| config.database.clone()))
            .ssl_opts(crate::tls::ssl_opts(&config.tls)?)
            // a scrape is a handful of text queries: no statement cache to keep warm
            .stmt_cache_size(0);
        builder = if config.is_unix() {
            builder.socket(Some(config.endpoint.clone()))
        } else {
            let (host, port) = config.host_port().map_err(anyhow::Error::msg)?;
            // the driver would otherwise switch a loopback session to the server's own socket
            // path, which the collector may not be allowed to open
            builder
                .ip_or_hostname(host)
                .tcp_port(port)
                .prefer_socket(false)
        };
        Ok(MysqlScraper {
            opts: builder.into(),
            endpoint: config.endpoint.clone(),
            dial_timeout: (!config.dialer.timeout.is_zero())
                .then(|| config.dialer.timeout.as_duration()),
            password: config.password.expose().to_string(),
            statement_events: config.statement_events.clone(),
            top_queries: config.top_queries.clone(),
            top: TopN::default(),
            session: None,
        })
    }

    fn scrub(&self, message: String) -> String {
        if self.password.is_empty() {
            message
        } else {
            message.replace(&self.password, "[REDACTED]")
        }
    }

    async fn connect(&mut self) -> Result<(Conn, Option<String>), String> {
        let connect = Conn::new(self.opts.clone());
        let result = match self.dial_timeout {
            Some(limit) => tokio::time::timeout(limit, connect)
                .await
                .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into())),
            None => connect.await,
        };
        let mut conn =
            result.map_err(|e| format!("cannot connect to {}: {}", self.endpoint, message(&e)))?;
        // a new session may be a restarted server, whose digest totals start again
        self.top.reset();
        let version = conn
            .query_first::<String, _>("SELECT VERSION()")
            .await
            .ok()
            .flatten();
        Ok((conn, version))
    }

    async fn collect(
        &mut self,
        conn: &mut Conn,
        version: Option<&str>,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), String> {
        record::resource(out, &self.endpoint, version);
        let status: HashMap<String, String> = query(conn, "SHOW GLOBAL STATUS", partial)
            .await?
            .unwrap_or_default()
            .iter()
            .filter_map(|row| Some((text(row, 0)?, text(row, 1)?)))
            .collect();
        record::record_status(&status, out, partial);

        let sql = "SHOW GLOBAL VARIABLES LIKE 'innodb_buffer_pool_size'";
        if out.is_enabled("mysql.buffer_pool.limit")
            && let Some(rows) = query(conn, sql, partial).await?
            && let Some(value) = rows.first().and_then(|r| text(r, 1))
        {
            record::record_buffer_pool_limit(&value, out, partial);
        }

        let rows_from_tables = out.is_enabled("mysql.row_operations")
            && !status.is_empty()
            && !record::has_innodb_rows(&status);
        let table_metrics = ["mysql.table.io.wait.count", "mysql.table.io.wait.time"];
        if (rows_from_tables || any_enabled(out, &table_metrics))
            && let Some(rows) = query(conn, TABLE_IO, partial).await?
        {
            let tables: Vec<TableIo> = rows.iter().map(table_io).collect();
            record::record_io_waits(&tables, out);
            if rows_from_tables {
                record::record_row_operations_from_tables(&tables, out);
            }
        }
        let index_metrics = ["mysql.index.io.wait.count", "mysql.index.io.wait.time"];
        if any_enabled(out, &index_metrics)
            && let Some(rows) = query(conn, INDEX_IO, partial).await?
        {
            let indexes: Vec<TableIo> = rows.iter().map(table_io).collect();
            record::record_io_waits(&indexes, out);
        }

        let event_metrics = [
            "mysql.statement_event.count",
            "mysql.statement_event.wait.time",
        ];
        let sql = statement_events_sql(&self.statement_events);
        if any_enabled(out, &event_metrics)
            && let Some(rows) = query(conn, &sql, partial).await?
        {
            let events: Vec<StatementEvent> = rows.iter().map(statement_event).collect();
            record::record_statement_events(&events, out);
        }

        let replica_metrics = [
            "mysql.replica.time_behind_source",
            "mysql.replica.sql_delay",
        ];
        if any_enabled(out, &replica_metrics) {
            // MySQL before 8.0.22 and MariaDB before 10.5.1 know only the older spelling
            let mut ignored = Vec::new();
            let rows = match query(conn, "SHOW REPLICA STATUS", &mut ignored).await? {
                Some(rows) => Some(rows),
                None => query(conn, "SHOW SLAVE STATUS", partial).await?,
            };
            if let Some(row) = rows.as_ref().and_then(|r| r.first()) {
                record::record_replica(&replica(row), out);
            }
        }

        if self.top_queries.enabled {
            let sql = format!(
                "SELECT SCHEMA_NAME, DIGEST, LEFT(DIGEST_TEXT, {}), COUNT_STAR, SUM_TIMER_WAIT, \
                 SUM_ROWS_EXAMINED FROM performance_schema.events_statements_summary_by_digest \
                 WHERE DIGEST IS NOT NULL",
                self.top_queries.max_query_length
            );
            if let Some(rows) = query(conn, &sql, partial).await? {
                let max = self.top_queries.max_query_length;
                let totals = rows
                    .iter()
                    .map(|row| DigestTotals {
                        schema: text(row, 0),
                        digest: text(row, 1).unwrap_or_default(),
                        text: shorten_query(&text(row, 2).unwrap_or_default(), max),
                        calls: number(row, 3),
                        time: number(row, 4),
                        rows_examined: number(row, 5),
                    })
                    .collect();
                let top = self.top.next(totals, self.top_queries.limit);
                topn::record(&top, out);
            }
        }
        Ok(())
    }
}

fn any_enabled(out: &MetricsBuilder, names: &[&str]) -> bool {
    names.iter().any(|n| out.is_enabled(n))
}

fn statement_events_sql(config: &StatementEvents) -> String {
    format!(
        "SELECT IFNULL(SCHEMA_NAME, 'NONE'), IFNULL(DIGEST, 'NONE'), \
         IFNULL(LEFT(DIGEST_TEXT, {}), 'NONE'), SUM_TIMER_WAIT, SUM_ERRORS, SUM_WARNINGS, \
         SUM_ROWS_AFFECTED, SUM_ROWS_SENT, SUM_ROWS_EXAMINED, SUM_CREATED_TMP_DISK_TABLES, \
         SUM_CREATED_TMP_TABLES, SUM_SORT_MERGE_PASSES, SUM_SORT_ROWS, SUM_NO_INDEX_USED \
         FROM performance_schema.events_statements_summary_by_digest \
         WHERE SCHEMA_NAME NOT IN ('mysql', 'performance_schema', 'information_schema') \
         AND LAST_SEEN > DATE_SUB(NOW(), INTERVAL {} SECOND) \
         ORDER BY SUM_TIMER_WAIT DESC LIMIT {}",
        config.digest_text_limit,
        config.time_limit.as_duration().as_secs(),
        config.limit
    )
}

/// The driver's text without the prefixes it repeats ("Input/output error: Input/output error:").
fn message(err: &Error) -> String {
    match err {
        Error::Io(IoError::Io(e)) => e.to_string(),
        Error::Server(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// Errors after which the session cannot be trusted for the next query; the server's own
/// refusals (and values of an unexpected type) leave it usable.
fn broken(err: &Error) -> bool {
    !matches!(
        err,
        Error::Server(_)
            | Error::Driver(DriverError::FromValue { .. } | DriverError::FromRow { .. })
    )
}

/// Runs `sql`: `Ok(None)` when the server refused it (said in `partial`), `Err` when the
/// session broke.
async fn query(
    conn: &mut Conn,
    sql: &str,
    partial: &mut Vec<String>,
) -> Result<Option<Vec<Row>>, String> {
    match conn.query::<Row, _>(sql).await {
        Ok(rows) => Ok(Some(rows)),
        Err(e) if broken(&e) => Err(format!("{e}")),
        Err(e) => {
            let what: String = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
            partial.push(format!("{what}… refused: {e}"));
            Ok(None)
        }
    }
}

fn value<T: FromValue>(row: &Row, index: usize) -> Option<T> {
    row.get_opt::<Option<T>, _>(index)
        .and_then(Result::ok)
        .flatten()
}

/// Text of a column, whatever its bytes; `None` for NULL.
fn text(row: &Row, index: usize) -> Option<String> {
    value::<Vec<u8>>(row, index).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn number(row: &Row, index: usize) -> u64 {
    value::<u64>(row, index).unwrap_or(0)
}

fn table_io(row: &Row) -> TableIo {
    TableIo {
        schema: text(row, 0).unwrap_or_default(),
        table: text(row, 1).unwrap_or_default(),
        index: text(row, 2),
        counts: std::array::from_fn(|i| number(row, 3 + i)),
        times: std::array::from_fn(|i| number(row, 7 + i)),
    }
}

fn statement_event(row: &Row) -> StatementEvent {
    StatementEvent {
        schema: text(row, 0).unwrap_or_default(),
        digest: text(row, 1).unwrap_or_default(),
        digest_text: text(row, 2).unwrap_or_default(),
        wait: number(row, 3),
        counts: std::array::from_fn(|i| number(row, 4 + i)),
    }
}

/// Lag columns by name: their position differs between MySQL and MariaDB.
fn replica(row: &Row) -> Replica {
    let column = |names: &[&str]| {
        row.columns_ref()
            .iter()
            .position(|c| names.contains(&c.name_str().as_ref()))
            .and_then(|i| value::<i64>(row, i))
    };
    Replica {
        seconds_behind: column(&["Seconds_Behind_Source", "Seconds_Behind_Master"]),
        sql_delay: column(&["SQL_Delay"]),
    }
}

#[async_trait]
impl Scraper for MysqlScraper {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        // taken out for the scrape: a scrape cut off by its deadline drops the session with it
        let (mut conn, version) = match self.session.take() {
            Some(session) => session,
            None => self
                .connect()
                .await
                .map_err(|e| ScrapeError::Down(self.scrub(e)))?,
        };
        match self
            .collect(&mut conn, version.as_deref(), out, partial)
            .await
        {
            Ok(()) => {
                self.session = Some((conn, version));
                for message in partial.iter_mut() {
                    *message = self.scrub(std::mem::take(message));
                }
                Ok(())
            }
            Err(e) => {
                let message = format!("the session with {} broke: {e}", self.endpoint);
                Err(ScrapeError::Down(self.scrub(message)))
            }
        }
    }
}
