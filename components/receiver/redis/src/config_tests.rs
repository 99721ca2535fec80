use std::time::Duration;

use ferrotel_core::config::{Node, decode_validated};

use super::*;

fn decode(text: &str) -> Result<Config, String> {
    let node = Node::parse(text, "redis.yaml").map_err(|e| e.to_string())?;
    decode_validated::<Config>(&node).map_err(|e| e.to_string())
}

#[test]
fn defaults_are_otelcols_and_an_endpoint_is_required() {
    let err = decode("").unwrap_err();
    assert!(err.contains("endpoint must be specified"), "{err}");
    let config = decode("endpoint: localhost:6379\n").unwrap();
    assert_eq!(config.transport, "tcp");
    assert_eq!(*config.collection_interval, Duration::from_secs(10));
    assert_eq!(*config.initial_delay, Duration::from_secs(1));
    assert_eq!(config.effective_timeout(), Duration::from_secs(10));
    assert!(
        config.tls.insecure,
        "otelcol's redis receiver dials in clear text by default"
    );
    assert_eq!(
        config.host_port().unwrap(),
        ("localhost".into(), "6379".into())
    );
}

#[test]
fn the_upstream_testdata_config_decodes() {
    let text = include_str!("../testdata/config.yaml");
    let node = Node::parse(text, "config.yaml").unwrap();
    let entries: Vec<_> = node.entries().collect();
    assert_eq!(entries.len(), 1);
    let (id, section) = entries[0];
    assert_eq!(id.name, "redis");
    let config = decode_validated::<Config>(section).unwrap();
    assert_eq!(config.endpoint, "localhost:6379");
    assert_eq!(config.username, "test");
    assert_eq!(config.password.expose(), "test");
    assert!(config.tls.insecure);
    assert!(
        !format!("{:?}", config.password).contains("test"),
        "the password is redacted"
    );
}

#[test]
fn tls_turns_on_only_when_insecure_is_false() {
    let config = decode("endpoint: a:1\ntls:\n  ca_file: /x.pem\n").unwrap();
    assert!(
        config.tls.insecure,
        "keys under tls: without insecure: false keep TLS off"
    );
    assert_eq!(config.tls.ca_file, "/x.pem");
    let config = decode("endpoint: a:1\ntls:\n  insecure: false\n").unwrap();
    assert!(!config.tls.insecure);
    let config = decode("endpoint: a:1\ntls:\n").unwrap();
    assert!(config.tls.insecure);
}

#[test]
fn every_key_decodes() {
    let config = decode(
        "endpoint: /run/redis.sock\ntransport: unix\ndialer:\n  timeout: 3s\n\
         collection_interval: 30s\ninitial_delay: 0s\ntimeout: 5s\nusername: u\npassword: p\n\
         metrics:\n  redis.cmd.calls:\n    enabled: true\n  redis.cluster.state:\n    enabled: true\n\
         resource_attributes:\n  server.address:\n    enabled: true\n",
    )
    .unwrap();
    assert!(config.is_unix());
    assert_eq!(*config.dialer.timeout, Duration::from_secs(3));
    assert_eq!(config.effective_timeout(), Duration::from_secs(5));
    assert!(config.metrics["redis.cmd.calls"].enabled);
    assert!(config.resource_attributes["server.address"].enabled);
}

#[test]
fn bad_values_are_refused_with_what_was_expected() {
    let err = |text: &str| decode(text).unwrap_err();
    assert!(err("endpoint: localhost\n").contains("missing port in address"));
    assert!(err("endpoint: localhost:http\n").contains("invalid port"));
    assert!(err("endpoint: a:1\ntransport: quic\n").contains("invalid transport type"));
    assert!(err("endpoint: a:1\ntransport: udp\n").contains("cannot reach a Redis server"));
    assert!(err("endpoint: a:1\ncollection_interval: 0s\n").contains("requires positive value"));
    let typo = err("endpoint: a:1\nmetrics:\n  redis.uptme:\n    enabled: true\n");
    assert!(typo.contains("redis.uptime"), "{typo}");
    assert!(
        err("endpoint: a:1\nresource_attributes:\n  redis.mode:\n    enabled: true\n")
            .contains("redis.mode")
    );
    assert!(err("endpoint: a:1\npasword: x\n").contains("pasword"));
    assert!(err("endpoint: a:1\ntls:\n  min_version: \"0.9\"\n").contains("tls"));
}
