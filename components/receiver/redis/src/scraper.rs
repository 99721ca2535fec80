//! One scrape: `INFO` over a connection kept between scrapes. A connection that breaks is dropped
//! and made again on the next scrape, so a restarted server is picked up without a restart of the
//! collector. Connecting (TCP or unix socket, then TLS with ferrotel's rustls settings) is done
//! here rather than by the redis crate so that `tls:` means exactly what it means elsewhere.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrotel_core::scraperhelper::{MetricsBuilder, ScrapeError, Scraper};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::{RedisConnectionInfo, RedisError};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::config::Config;
use crate::info::Info;
use crate::record::{self, ServerAddress};

/// Where to connect, decided once from the config.
enum Target {
    Tcp { host: String, port: u16 },
    Unix(String),
}

pub struct RedisScraper {
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    login: RedisConnectionInfo,
    dial_timeout: Option<Duration>,
    /// Scrubbed from every message, should a server or the driver ever quote it.
    password: String,
    server: ServerAddress,
    /// `INFO all` (command and latency stats) only when a metric needs it: it is several times
    /// the size of the default sections on a busy server.
    want_command_stats: bool,
    connection: Option<MultiplexedConnection>,
}

impl RedisScraper {
    pub fn new(config: &Config, want_command_stats: bool) -> anyhow::Result<Self> {
        let (target, server) = if config.is_unix() {
            let server = ServerAddress {
                address: config.endpoint.clone(),
                port: String::new(),
            };
            (Target::Unix(config.endpoint.clone()), server)
        } else {
            let (host, port) = config.host_port().map_err(anyhow::Error::msg)?;
            let server = ServerAddress {
                address: host.clone(),
                port: port.clone(),
            };
            let port = port.parse()?;
            (Target::Tcp { host, port }, server)
        };
        let tls = if config.tls.insecure {
            None
        } else {
            let name = match config.tls.server_name()? {
                Some(name) => name,
                None => ServerName::try_from(server.address.trim_matches(['[', ']']).to_string())
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "endpoint host {:?} cannot be checked against a certificate; set tls::server_name_override",
                            server.address
                        )
                    })?,
            };
            let connector = TlsConnector::from(Arc::new(config.tls.client_config()?));
            Some((connector, name))
        };
        let mut login = RedisConnectionInfo::default().set_skip_set_lib_name();
        if !config.username.is_empty() {
            login = login.set_username(&config.username);
        }
        if !config.password.expose().is_empty() {
            login = login.set_password(config.password.expose());
        }
        Ok(RedisScraper {
            target,
            tls,
            login,
            dial_timeout: (!config.dialer.timeout.is_zero())
                .then(|| config.dialer.timeout.as_duration()),
            password: config.password.expose().to_string(),
            server,
            want_command_stats,
            connection: None,
        })
    }

    fn scrub(&self, message: String) -> String {
        if self.password.is_empty() {
            message
        } else {
            message.replace(&self.password, "[REDACTED]")
        }
    }

    fn endpoint(&self) -> String {
        match &self.target {
            Target::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Target::Tcp { host, port } => format!("{host}:{port}"),
            Target::Unix(path) => path.clone(),
        }
    }

    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let dial = async {
            match &self.target {
                Target::Tcp { host, port } => {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                    tcp.set_nodelay(true)?;
                    match &self.tls {
                        None => Ok(Box::new(tcp) as Box<dyn Stream>),
                        Some((connector, name)) => {
                            let tls = connector.connect(name.clone(), tcp).await?;
                            Ok(Box::new(tls) as Box<dyn Stream>)
                        }
                    }
                }
                Target::Unix(path) => {
                    let unix = tokio::net::UnixStream::connect(path).await?;
                    Ok(Box::new(unix) as Box<dyn Stream>)
                }
            }
        };
        let stream: std::io::Result<Box<dyn Stream>> = match self.dial_timeout {
            Some(limit) => tokio::time::timeout(limit, dial)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
            None => dial.await,
        };
        let stream = stream.map_err(|e| format!("cannot connect to {}: {e}", self.endpoint()))?;
        let config = AsyncConnectionConfig::default();
        let (connection, driver) =
            MultiplexedConnection::new_with_config(&self.login, stream, config)
                .await
                .map_err(|e| {
                    format!("{} refused the session: {}", self.endpoint(), describe(&e))
                })?;
        tokio::spawn(driver);
        Ok(connection)
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The driver's text without its kind prefix when it only repeats the code ("WRONGPASS: ...").
fn describe(err: &RedisError) -> String {
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => err.to_string(),
    }
}

/// Errors after which the connection cannot be trusted for the next command.
fn broken(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
        || err.is_timeout()
}

#[async_trait]
impl Scraper for RedisScraper {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        let mut connection = match self.connection.clone() {
            Some(c) => c,
            None => {
                let c = self
                    .connect()
                    .await
                    .map_err(|e| ScrapeError::Down(self.scrub(e)))?;
                self.connection = Some(c.clone());
                c
            }
        };
        let mut command = redis::cmd("INFO");
        if self.want_command_stats {
            command.arg("all");
        }
        let text: String = match command.query_async(&mut connection).await {
            Ok(text) => text,
            Err(e) if broken(&e) => {
                self.connection = None;
                let message = format!("INFO on {} failed: {}", self.endpoint(), describe(&e));
                return Err(ScrapeError::Down(self.scrub(message)));
            }
            // reachable but refused, e.g. an ACL user without +info: say so and keep `up` at 1
            Err(e) => {
                partial.push(self.scrub(format!("INFO refused: {}", describe(&e))));
                return Ok(());
            }
        };
        let info = Info::parse(&text);
        if info.is_empty() {
            partial.push("INFO returned no fields".into());
        }
        record::record(&info, &self.server, out, partial);
        Ok(())
    }
}
