//! One scrape: the statistics queries over a connection to the `postgres` database (server-wide
//! views) and one connection per scraped database (its tables and indexes), all kept between
//! scrapes. A connection that breaks is dropped and made again on the next scrape, so a restarted
//! server is picked up without restarting the collector. A query that fails on a live connection
//! (a missing view, a permission) makes the scrape partial; the rest is still sent.

use std::collections::HashMap;

use async_trait::async_trait;
use ferrotel_core::scraperhelper::{MetricsBuilder, ScrapeError, Scraper};
use ferrotel_core::tls::TlsClientSetting;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use crate::config::{Config, LockWaits};
use crate::metadata::{LOCK_WAIT, TOP_QUERY_METRICS};
use crate::queries;
use crate::record::{self, DatabaseRows, Snapshot};
use crate::tls::MakeRustls;
use crate::top_queries::{TopQueries, obfuscate};
use ferrotel_core::scraperhelper::topn::{TopQueriesConfig, shorten_query};

/// The database server-wide views are read from, as in otelcol.
const MAIN_DB: &str = "postgres";

const TABLE_METRICS: &[&str] = &[
    "postgresql.table.count",
    "postgresql.rows",
    "postgresql.operations",
    "postgresql.table.size",
    "postgresql.table.vacuum.count",
    "postgresql.sequential_scans",
    "postgresql.blocks_read",
    "postgresql.index.scans",
    "postgresql.index.size",
];

pub struct PostgresqlScraper {
    base: tokio_postgres::Config,
    tls_setting: TlsClientSetting,
    /// Built on first use, so that `ferrotel validate` never reads certificate files.
    tls: Option<MakeRustls>,
    endpoint: String,
    /// Scrubbed from every message, should a server or the driver ever quote it.
    password: String,
    databases: Vec<String>,
    exclude: Vec<String>,
    top_config: TopQueriesConfig,
    lock_config: LockWaits,
    top: TopQueries,
    main: Option<Client>,
    per_db: HashMap<String, Client>,
}

impl PostgresqlScraper {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let (host, port) = config.host_port().map_err(anyhow::Error::msg)?;
        let mut base = tokio_postgres::Config::new();
        base.user(&config.username)
            .password(config.password.expose())
            .port(port.parse()?)
            .application_name("ferrotel");
        if config.is_unix() {
            // as otelcol's lib/pq does: the host is the socket's directory
            let dir = if host.starts_with('/') {
                host.clone()
            } else {
                format!("/{host}")
            };
            base.host_path(dir);
        } else {
            base.host(&host);
        }
        if !config.dialer.timeout.is_zero() {
            base.connect_timeout(config.dialer.timeout.as_duration());
        }
        Ok(PostgresqlScraper {
            base,
            tls_setting: config.tls.clone(),
            tls: None,
            endpoint: config.endpoint.clone(),
            password: config.password.expose().to_string(),
            databases: config.databases.clone(),
            exclude: config.exclude_databases.clone(),
            top_config: config.top_queries.clone(),
            lock_config: config.lock_waits.clone(),
            top: TopQueries::default(),
            main: None,
            per_db: HashMap::new(),
        })
    }

    fn scrub(&self, message: String) -> String {
        if self.password.is_empty() {
            message
        } else {
            message.replace(&self.password, "[REDACTED]")
        }
    }

    async fn connect(&mut self, database: &str) -> Result<Client, String> {
        let mut config = self.base.clone();
        config.dbname(database);
        // the server never offers TLS on a unix socket
        let plain = self.tls_setting.insecure
            || matches!(
                config.get_hosts().first(),
                Some(tokio_postgres::config::Host::Unix(_))
            );
        let result = if plain {
            config.ssl_mode(SslMode::Disable);
            config.connect(NoTls).await.map(|(client, connection)| {
                tokio::spawn(connection);
                client
            })
        } else {
            config.ssl_mode(SslMode::Require);
            let tls = match &self.tls {
                Some(tls) => tls.clone(),
                None => {
                    let built = self
                        .tls_setting
                        .client_config()
                        .map_err(|e| format!("tls: {e:#}"))?;
                    self.tls.insert(MakeRustls::new(built)).clone()
                }
            };
            config.connect(tls).await.map(|(client, connection)| {
                tokio::spawn(connection);
                client
            })
        };
        result.map_err(|e| {
            self.scrub(format!(
                "cannot connect to {} (database {database:?}): {}",
                self.endpoint,
                describe(&e)
            ))
        })
    }
}

/// The server's own words when it sent an error, else the driver's (with its cause).
pub fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // the driver's own text often ends with its cause already
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Collects what failed on a live connection, for the partial-scrape warning.
struct Failures<'a> {
    partial: &'a mut Vec<String>,
    password: &'a str,
}

impl Failures<'_> {
    fn keep<T>(&mut self, what: &str, result: Result<T, tokio_postgres::Error>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let mut message = format!("{what}: {}", describe(&e));
                if !self.password.is_empty() {
                    message = message.replace(self.password, "[REDACTED]");
                }
                self.partial.push(message);
                None
            }
        }
    }
}

fn any_enabled(out: &MetricsBuilder, names: &[&str]) -> bool {
    names.iter().any(|n| out.is_enabled(n))
}

#[async_trait]
impl Scraper for PostgresqlScraper {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        // taken for the scrape: one cut off by the deadline leaves no half-used connection behind
        let main = match self.main.take() {
            Some(c) if !c.is_closed() => c,
            _ => self.connect(MAIN_DB).await.map_err(ScrapeError::Down)?,
        };
        let password = self.password.clone();
        let mut failed = Failures {
            partial,
            password: &password,
        };
        let mut snapshot = Snapshot::default();
        let names = failed.keep(
            "listing databases",
            queries::databases(&main, &self.databases, &self.exclude).await,
        );
        if main.is_closed() {
            // gone between connecting and the first query: an outage, not a partial scrape
            failed.partial.clear();
            return Err(ScrapeError::Down(format!(
                "lost the connection to {}",
                self.endpoint
            )));
        }
        snapshot.database_count = names.as_ref().map(|n| n.len() as i64);
        let names = names.unwrap_or_default();
        let stats = failed
            .keep("pg_stat_database", queries::db_stats(&main).await)
            .unwrap_or_default();
        let backends = failed.keep("pg_stat_activity", queries::backends(&main).await);
        let sizes = failed
            .keep("pg_database_size", queries::db_sizes(&main).await)
            .unwrap_or_default();
        let conflicts = if out.is_enabled("postgresql.query.conflicts") {
            failed
                .keep(
                    "pg_stat_database_conflicts",
                    queries::conflicts(&main).await,
                )
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let execution = if out.is_enabled("postgresql.query.execution.time") {
            failed
                .keep("pg_stat_statements", queries::execution_time(&main).await)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let version = failed.keep("server_version_num", queries::server_version(&main).await);
        if let Some(version) = version {
            snapshot.bgwriter =
                failed.keep("pg_stat_bgwriter", queries::bgwriter(&main, version).await);
        }
        snapshot.max_connections =
            failed.keep("max_connections", queries::max_connections(&main).await);
        snapshot.replication = failed
            .keep("pg_stat_replication", queries::replication(&main).await)
            .unwrap_or_default();
        snapshot.wal_age = failed
            .keep("pg_stat_archiver", queries::wal_age(&main).await)
            .flatten();
        if out.is_enabled("postgresql.database.locks") {
            snapshot.locks = failed
                .keep("pg_locks", queries::locks(&main).await)
                .unwrap_or_default();
        }
        if out.is_enabled("postgresql.replication.replay_lag") {
            snapshot.replay_lag = failed
                .keep("replay lag", queries::replay_lag(&main).await)
                .flatten();
        }
        if any_enabled(out, TOP_QUERY_METRICS)
            && let Some(statements) = failed.keep(
                "top queries: pg_stat_statements",
                queries::statements(&main).await,
            )
        {
            let TopQueriesConfig {
                limit,
                max_query_length,
                ..
            } = self.top_config;
            snapshot.top_queries = self.top.update(statements, limit, max_query_length);
        }
        if out.is_enabled(LOCK_WAIT) {
            let max = self.lock_config.max_query_length;
            snapshot.lock_waits = failed
                .keep(
                    "lock waits",
                    queries::lock_waits(&main, self.lock_config.limit).await,
                )
                .unwrap_or_default()
                .into_iter()
                .map(|mut w| {
                    w.query = shorten_query(&obfuscate(&w.query), max);
                    w.blocking_query = shorten_query(&obfuscate(&w.blocking_query), max);
                    w
                })
                .collect();
        }
        if main.is_closed() {
            failed.partial.clear();
            return Err(ScrapeError::Down(format!(
                "lost the connection to {} during the scrape",
                self.endpoint
            )));
        }

        let want_tables = any_enabled(out, TABLE_METRICS);
        self.per_db
            .retain(|name, c| names.contains(name) && !c.is_closed());
        for name in &names {
            let mut rows = DatabaseRows {
                name: name.clone(),
                stats: stats.iter().find(|s| &s.name == name).cloned(),
                // a database without a backend is missing from pg_stat_activity's groups
                backends: backends.as_ref().map(|b| lookup(b, name).unwrap_or(0)),
                size: lookup(&sizes, name),
                conflicts: conflicts.iter().find(|c| &c.database == name).cloned(),
                execution_time: execution.iter().find(|(d, _)| d == name).map(|(_, t)| *t),
                ..Default::default()
            };
            if want_tables {
                let client = if name == MAIN_DB {
                    Some(&main)
                } else {
                    if !self.per_db.contains_key(name) {
                        match self.connect(name).await {
                            Ok(c) => {
                                self.per_db.insert(name.clone(), c);
                            }
                            Err(e) => failed.partial.push(e),
                        }
                    }
                    self.per_db.get(name)
                };
                if let Some(client) = client {
                    let what = |view: &str| format!("database {name:?}: {view}");
                    rows.tables =
                        failed.keep(&what("pg_stat_user_tables"), queries::tables(client).await);
                    rows.table_io = failed
                        .keep(
                            &what("pg_statio_user_tables"),
                            queries::table_io(client).await,
                        )
                        .unwrap_or_default();
                    rows.indexes = failed
                        .keep(
                            &what("pg_stat_user_indexes"),
                            queries::indexes(client).await,
                        )
                        .unwrap_or_default();
                }
            }
            snapshot.databases.push(rows);
        }
        record::record(&snapshot, out);
        self.main = Some(main);
        Ok(())
    }
}

fn lookup(pairs: &[(String, i64)], name: &str) -> Option<i64> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}
