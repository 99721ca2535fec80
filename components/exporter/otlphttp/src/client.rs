//! The HTTP client: hyper-util's pooled client over hyper-rustls (ring), direct or through an
//! HTTP proxy's CONNECT tunnel.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;

use crate::config::OtlpHttpConfig;

type Direct = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;
type Proxied = Client<HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>;

pub enum HttpClient {
    Direct(Direct),
    Proxied(Proxied),
}

/// HTTP/2 pings when no `http2_ping_timeout` is set (confighttp's default).
const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(15);

impl HttpClient {
    pub fn new(config: &OtlpHttpConfig) -> anyhow::Result<HttpClient> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let mut builder = Client::builder(TokioExecutor::new());
        let pool = config.pool();
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(pool.idle_timeout)
            .pool_max_idle_per_host(pool.max_idle_per_host);
        if !config.http2_read_idle_timeout.is_zero() {
            let ping_timeout = if config.http2_ping_timeout.is_zero() {
                DEFAULT_PING_TIMEOUT
            } else {
                config.http2_ping_timeout.0
            };
            builder
                .timer(TokioTimer::new())
                .http2_keep_alive_interval(config.http2_read_idle_timeout.0)
                .http2_keep_alive_timeout(ping_timeout);
        }
        if config.proxy_url.is_empty() {
            return Ok(HttpClient::Direct(builder.build(https(config, http)?)));
        }
        let (proxy, authorization) = proxy_target(&config.proxy_url)?;
        let mut tunnel = Tunnel::new(proxy, http);
        if let Some(value) = authorization {
            tunnel = tunnel.with_auth(value);
        }
        Ok(HttpClient::Proxied(builder.build(https(config, tunnel)?)))
    }

    pub async fn request(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, hyper_util::client::legacy::Error> {
        match self {
            HttpClient::Direct(client) => client.request(request).await,
            HttpClient::Proxied(client) => client.request(request).await,
        }
    }
}

/// TLS for `https://` URLs with ferrotel's rustls config, plaintext for `http://`.
fn https<H>(config: &OtlpHttpConfig, inner: H) -> anyhow::Result<HttpsConnector<H>> {
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(config.tls.client_config()?)
        .https_or_http();
    let builder = match config.tls.server_name()? {
        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name)),
        None => builder,
    };
    Ok(if config.force_attempt_http2 {
        builder.enable_all_versions().wrap_connector(inner)
    } else {
        builder.enable_http1().wrap_connector(inner)
    })
}

/// The proxy's address, and a basic `Proxy-Authorization` when the URL carries user info.
fn proxy_target(proxy_url: &str) -> anyhow::Result<(http::Uri, Option<http::HeaderValue>)> {
    let uri: http::Uri = proxy_url
        .parse()
        .map_err(|e| anyhow::anyhow!("proxy_url {proxy_url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("proxy_url {proxy_url:?}: only http:// proxies are supported");
    }
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("proxy_url {proxy_url:?} has no host"))?
        .as_str();
    let (user_info, host) = match authority.rsplit_once('@') {
        Some((user_info, host)) => (Some(user_info), host),
        None => (None, authority),
    };
    let target = format!("http://{host}").parse()?;
    let authorization = match user_info {
        Some(user_info) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(user_info);
            Some(http::HeaderValue::from_str(&format!("Basic {encoded}"))?)
        }
        None => None,
    };
    Ok((target, authorization))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_become_basic_auth() {
        let (target, auth) = proxy_target("http://bob:s3cret@proxy.local:3128").unwrap();
        assert_eq!(target, "http://proxy.local:3128");
        assert_eq!(auth.unwrap(), "Basic Ym9iOnMzY3JldA==");
        assert!(proxy_target("http://proxy.local:3128").unwrap().1.is_none());
        assert!(proxy_target("https://proxy.local:3128").is_err());
    }
}
