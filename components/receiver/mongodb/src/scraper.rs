//! One scrape, as otelcol's `collectMetrics` runs it: `listDatabases`, the `admin` `serverStatus`
//! (which names the server for the resource), `top`, then per database `dbStats` and per
//! collection `$indexStats`. The client is made on the first scrape and kept: the driver
//! reconnects by itself, and a scrape that cannot reach the server reports it down.

use std::time::Instant;

use async_trait::async_trait;
use ferrotel_core::scraperhelper::{MetricsBuilder, ScrapeError, Scraper, Value};
use mongodb::bson::{Document, doc};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::connect::Prepared;
use crate::metadata::CATALOG;
use crate::record::{self, Problems, Rates, Reader, Version};

pub struct MongodbScraper {
    prepared: Prepared,
    /// Scrubbed from every message, should the driver ever quote it.
    password: String,
    client: Option<Client>,
    version: Option<Version>,
    rates: Rates,
    /// How the ongoing outage was reported, if the last scrape failed.
    outage: Option<String>,
}

/// Why a command failed, and whether that means the server cannot be reached at all.
struct Failure {
    message: String,
    unreachable: bool,
}

impl MongodbScraper {
    pub fn new(prepared: Prepared, password: &str) -> Self {
        MongodbScraper {
            prepared,
            password: password.to_string(),
            client: None,
            version: None,
            rates: Rates::default(),
            outage: None,
        }
    }

    fn failure(&self, what: &str, err: &Error) -> Failure {
        let unreachable = matches!(
            err.kind.as_ref(),
            ErrorKind::Io(_)
                | ErrorKind::ServerSelection { .. }
                | ErrorKind::ConnectionPoolCleared { .. }
                | ErrorKind::Authentication { .. }
                | ErrorKind::DnsResolve { .. }
                | ErrorKind::InvalidTlsConfig { .. }
                | ErrorKind::Shutdown
        );
        let mut message = format!("{what}: {}", cause(err));
        if !self.password.is_empty() {
            message = message.replace(&self.password, "[REDACTED]");
        }
        Failure {
            message,
            unreachable,
        }
    }

    fn client(&mut self) -> Result<Client, Failure> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let options: ClientOptions = self.prepared.options.clone();
        let client = Client::with_options(options).map_err(|e| Failure {
            unreachable: true,
            ..self.failure("cannot create the client", &e)
        })?;
        self.client = Some(client.clone());
        Ok(client)
    }

    async fn command(
        &self,
        db: &Database,
        command: Document,
        what: &str,
    ) -> Result<Document, Failure> {
        db.run_command(command)
            .await
            .map_err(|e| self.failure(what, &e))
    }

    async fn scrape_all(
        &mut self,
        out: &mut MetricsBuilder,
        problems: &mut Problems,
    ) -> Result<(), Failure> {
        let client = self.client()?;
        let admin = client.database("admin");
        let names = client
            .list_database_names()
            .await
            .map_err(|e| self.failure("listDatabases", &e))?;
        let status = self
            .command(&admin, doc! {"serverStatus": 1}, "serverStatus")
            .await?;
        let version = match self.version {
            Some(v) => v,
            None => {
                let version = match self
                    .command(&admin, doc! {"buildInfo": 1}, "buildInfo")
                    .await
                {
                    Ok(info) => info.get_str("version").ok().and_then(Version::parse),
                    Err(f) if f.unreachable => return Err(f),
                    Err(f) => {
                        problems.insert(f.message);
                        None
                    }
                };
                self.version = version;
                version.unwrap_or_default()
            }
        };
        let (address, port) = match status.get_str("host").ok().and_then(split_host) {
            Some(found) => found,
            None => {
                problems.insert(
                    "serverStatus has no usable host: the resource names the configured endpoint"
                        .into(),
                );
                self.prepared.first_host.clone()
            }
        };
        let instance = crate::uuid::instance_id(&address, port);
        let on = |name| CATALOG.resource_default(name);
        out.resource(vec![
            ("server.address", Value::from(address), on("server.address")),
            ("server.port", Value::Int(port), on("server.port")),
            (
                "service.instance.id",
                Value::from(instance),
                on("service.instance.id"),
            ),
        ]);
        out.record_int("mongodb.database.count", names.len() as i64, &[]);
        crate::status::admin_stats(
            &mut Reader::new(out, problems, &status, "serverStatus"),
            &mut self.rates,
            Instant::now(),
        );
        if out.is_enabled("mongodb.operation.time") {
            match self.command(&admin, doc! {"top": 1}, "top").await {
                Ok(top) => record::operation_time(&mut Reader::new(out, problems, &top, "top")),
                Err(f) if f.unreachable => return Err(f),
                Err(f) => {
                    problems.insert(f.message);
                }
            }
        }
        for name in &names {
            let db = client.database(name);
            match self.command(&db, doc! {"dbStats": 1}, "dbStats").await {
                Ok(stats) => record::db_stats(
                    &mut Reader::new(out, problems, &stats, "dbStats"),
                    name,
                    version,
                ),
                Err(f) if f.unreachable => return Err(f),
                Err(f) => {
                    problems.insert(f.message);
                }
            }
            // serverStatus is server-wide: otelcol asks again per database and gets the same
            // answer; the one already fetched is reused
            crate::status::server_stats_of(
                &mut Reader::new(out, problems, &status, "serverStatus"),
                name,
                version,
            );
            if name != "local" && out.is_enabled("mongodb.index.access.count") {
                self.index_stats(out, problems, &db, name).await?;
            }
        }
        Ok(())
    }

    async fn index_stats(
        &self,
        out: &mut MetricsBuilder,
        problems: &mut Problems,
        db: &Database,
        name: &str,
    ) -> Result<(), Failure> {
        let collections = match db.list_collection_names().await {
            Ok(c) => c,
            Err(e) => {
                let f = self.failure("listCollections", &e);
                if f.unreachable {
                    return Err(f);
                }
                problems.insert(f.message);
                return Ok(());
            }
        };
        for collection in collections {
            let coll = db.collection::<Document>(&collection);
            let mut indexes = Vec::new();
            let result: Result<(), Error> = async {
                let mut cursor = coll.aggregate(vec![doc! {"$indexStats": {}}]).await?;
                while cursor.advance().await? {
                    indexes.push(cursor.deserialize_current()?);
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => record::index_access(out, problems, &indexes, name, &collection),
                Err(e) => {
                    let f = self.failure("$indexStats", &e);
                    if f.unreachable {
                        return Err(f);
                    }
                    problems.insert(f.message);
                }
            }
        }
        Ok(())
    }
}

/// What went wrong, in the driver's words: for a server selection that timed out, the error the
/// driver last saw from the server (refused, TLS, login), which is what the scrape ran into.
fn cause(err: &Error) -> String {
    match err.kind.as_ref() {
        ErrorKind::ServerSelection { message, .. } => selection_cause(message),
        kind => tidy(&kind.to_string()),
    }
}

fn selection_cause(message: &str) -> String {
    let Some((_, inner)) = message.split_once("Error: Kind: ") else {
        return tidy(message);
    };
    let inner = tidy(inner);
    let end = inner
        .find(", source: ")
        .or_else(|| inner.find(" } ]"))
        .unwrap_or(inner.len());
    inner[..end].to_string()
}

/// One outage seen twice: a failure for the same kind of reason (`I/O error`, `SCRAM failure`,
/// …) after the command's name. The first words are kept for the rest of the outage: a server
/// that goes away breaks the open connection, then refuses new ones, and that is one outage.
fn same_kind(told: &str, now: &str) -> bool {
    let kind = |m: &str| m.split(": ").nth(1).map(str::to_owned);
    kind(told) == kind(now)
}

/// The driver's message without what changes from one failure to the next (error labels, kept
/// in a hash set, print in any order), so that the same outage reads the same every scrape.
fn tidy(message: &str) -> String {
    let mut out = message.to_string();
    while let Some(start) = out.find(", labels: {") {
        let open = start + ", labels: ".len();
        let mut depth = 0usize;
        let mut end = out.len();
        for (i, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(start..end, "");
    }
    out.replace(", source: None", "")
        .replace(", server response: None", "")
}

/// `serverStatus.host` as otelcol splits it: `name` (port 27017) or `name:port`.
pub fn split_host(host: &str) -> Option<(String, i64)> {
    let parts: Vec<&str> = host.split(':').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() => Some((name.to_string(), 27017)),
        [name, port] if !name.is_empty() => Some((name.to_string(), port.parse().ok()?)),
        _ => None,
    }
}

#[async_trait]
impl Scraper for MongodbScraper {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        let mut problems = Problems::new();
        match self.scrape_all(out, &mut problems).await {
            Ok(()) => {
                self.outage = None;
                partial.extend(problems);
                Ok(())
            }
            Err(failure) => {
                // the server may come back as another version
                self.version = None;
                let message = match &self.outage {
                    Some(told) if same_kind(told, &failure.message) => told.clone(),
                    _ => failure.message,
                };
                self.outage = Some(message.clone());
                Err(ScrapeError::Down(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_lose_their_unordered_labels() {
        let raw = "Server selection timeout: No available servers. Topology: { Type: Single, \
                   Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: \
                   Connection refused (os error 111), labels: {\"RetryableError\", \"B\"}, \
                   source: None, server response: None } ] }, labels: {}";
        assert_eq!(
            tidy(raw),
            "Server selection timeout: No available servers. Topology: { Type: Single, \
             Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: \
             Connection refused (os error 111) } ] }"
        );
        assert_eq!(tidy("Command failed: x"), "Command failed: x");
    }

    #[test]
    fn a_timed_out_selection_is_told_by_what_the_server_last_did() {
        // as the driver words them (captured from ferrotel's log)
        let refused = "Server selection timeout: No available servers. Topology: { Type: Single, \
                       Servers: [ { Address: 127.0.0.1:38211, Type: Unknown, Error: Kind: I/O \
                       error: Connection refused (os error 111), labels: {\"RetryableError\", \
                       \"SystemOverloadedError\"}, source: None, server response: None } ] }, \
                       labels: {}, source: None, server response: None";
        assert_eq!(
            selection_cause(refused),
            "I/O error: Connection refused (os error 111)"
        );
        let login = "Server selection timeout: No available servers. Topology: { Type: Single, \
                     Servers: [ { Address: 127.0.0.1:42877, Type: Unknown, Error: Kind: SCRAM \
                     failure: authentication failed, labels: {}, source: Some(Error { kind: \
                     Command(CommandError { code: 18 }), labels: {} }), server response: None \
                     } ] }, labels: {}";
        assert_eq!(
            selection_cause(login),
            "SCRAM failure: authentication failed"
        );
        let io = Error::from(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "eof",
        ));
        assert_eq!(cause(&io), "I/O error: eof");
        assert!(same_kind(
            "dbStats: I/O error: eof",
            "listDatabases: I/O error: refused"
        ));
        assert!(!same_kind(
            "listDatabases: I/O error: x",
            "listDatabases: SCRAM failure: y"
        ));
    }

    #[test]
    fn the_host_is_split_as_otelcol_does() {
        assert_eq!(split_host("secantus"), Some(("secantus".into(), 27017)));
        assert_eq!(split_host("db1:27018"), Some(("db1".into(), 27018)));
        assert_eq!(split_host("db1:x"), None);
        assert_eq!(split_host("::1"), None);
        assert_eq!(split_host(""), None);
    }
}
