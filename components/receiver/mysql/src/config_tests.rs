use std::time::Duration;

use ferrotel_core::config::{Node, decode_validated};

use super::*;

fn decode(text: &str) -> Result<Config, String> {
    let node = Node::parse(text, "mysql.yaml").map_err(|e| e.to_string())?;
    decode_validated::<Config>(&node).map_err(|e| e.to_string())
}

#[test]
fn defaults_are_otelcols() {
    let config = decode("").unwrap();
    assert_eq!(config.endpoint, "localhost:3306");
    assert_eq!(config.username, "root");
    assert!(config.password.is_empty());
    assert!(config.allow_native_passwords);
    assert_eq!(config.transport, "tcp");
    assert_eq!(*config.collection_interval, Duration::from_secs(10));
    assert_eq!(*config.initial_delay, Duration::from_secs(1));
    assert_eq!(config.effective_timeout(), Duration::from_secs(10));
    assert!(config.tls.insecure, "no tls section: clear text");
    assert_eq!(config.statement_events.digest_text_limit, 120);
    assert_eq!(config.statement_events.limit, 250);
    assert_eq!(
        *config.statement_events.time_limit,
        Duration::from_secs(24 * 3600)
    );
    assert!(!config.top_queries.enabled);
    assert_eq!(config.top_queries.limit, 10);
    assert_eq!(config.top_queries.max_query_length, 1024);
    assert_eq!(config.host_port().unwrap(), ("localhost".into(), 3306));
}

#[test]
fn the_upstream_testdata_config_decodes_with_its_tls_quirk() {
    let text = include_str!("../testdata/config.yaml");
    let node = Node::parse(text, "config.yaml").unwrap();
    let entries: Vec<_> = node.entries().collect();
    assert_eq!(entries.len(), 2);
    let mut seen = Vec::new();
    for (id, section) in entries {
        let config = decode_validated::<Config>(section).unwrap();
        assert_eq!(config.endpoint, "localhost:3306");
        assert_eq!(config.username, "otel");
        assert_eq!(config.password.expose(), "${env:MYSQL_PASSWORD}");
        assert_eq!(config.database, "otel");
        assert_eq!(*config.collection_interval, Duration::from_secs(10));
        match id.name.as_str() {
            "mysql" => assert!(config.tls.insecure, "tls omitted: clear text"),
            "mysql/default_tls" => {
                assert!(!config.tls.insecure, "a tls section turns TLS on");
                assert_eq!(config.tls.server_name_override, "localhost");
                let opts = crate::tls::ssl_opts(&config.tls).unwrap().unwrap();
                assert_eq!(opts.tls_hostname_override(), Some("localhost"));
            }
            other => panic!("unexpected id {other:?}"),
        }
        seen.push(id.name.clone());
    }
    seen.sort();
    assert_eq!(seen, ["mysql", "mysql/default_tls"]);
}

#[test]
fn every_key_decodes() {
    let config = decode(
        "endpoint: /run/mysqld/mysqld.sock\ntransport: unix\ndialer:\n  timeout: 3s\n\
         collection_interval: 30s\ninitial_delay: 0s\ntimeout: 5s\nusername: u\npassword: p\n\
         database: app\nallow_native_passwords: true\n\
         statement_events:\n  digest_text_limit: 60\n  limit: 10\n  time_limit: 1h\n\
         query_sample_collection:\n  max_rows_per_query: 5\n\
         top_query_collection:\n  lookback_time: 30\n  max_query_sample_count: 10\n  top_query_count: 5\n\
         \x20 collection_interval: 1m\n  query_plan_cache_size: 10\n  query_plan_cache_ttl: 1m\n\
         metrics:\n  mysql.commands:\n    enabled: true\n  mysql.table.size:\n    enabled: true\n\
         resource_attributes:\n  db.system.version:\n    enabled: true\n\
         events:\n  db.server.top_query:\n    enabled: false\n\
         top_queries:\n  enabled: true\n  limit: 3\n  max_query_length: 200\n",
    )
    .unwrap();
    assert!(config.is_unix());
    assert_eq!(*config.dialer.timeout, Duration::from_secs(3));
    assert_eq!(config.effective_timeout(), Duration::from_secs(5));
    assert_eq!(config.statement_events.limit, 10);
    assert!(config.metrics["mysql.commands"].enabled);
    assert!(config.resource_attributes["db.system.version"].enabled);
    assert!(config.top_queries.enabled);
    assert_eq!(config.top_queries.limit, 3);
    assert!(
        !format!("{config:?}").contains("password: \"p\""),
        "the password is redacted"
    );
}

#[test]
fn bad_values_are_refused_with_what_was_expected() {
    let err = |text: &str| decode(text).unwrap_err();
    assert!(err("endpoint: localhost\n").contains("missing port in address"));
    assert!(err("endpoint: localhost:mysql\n").contains("invalid port"));
    assert!(err("endpoint: \"\"\n").contains("endpoint must be specified"));
    assert!(err("transport: quic\n").contains("invalid transport type"));
    assert!(err("transport: udp\n").contains("cannot reach a MySQL server"));
    assert!(err("collection_interval: 0s\n").contains("requires positive value"));
    assert!(err("allow_native_passwords: false\n").contains("allow_native_passwords"));
    assert!(err("db_auth: vault\n").contains("db_auth"));
    assert!(err("top_queries:\n  enabled: true\n  limit: 0\n").contains("top_queries::limit"));
    let typo = err("metrics:\n  mysql.uptme:\n    enabled: true\n");
    assert!(typo.contains("mysql.uptime"), "{typo}");
    assert!(
        err("resource_attributes:\n  redis.version:\n    enabled: true\n")
            .contains("redis.version")
    );
    assert!(err("events:\n  db.server.slow_query:\n    enabled: true\n").contains("slow_query"));
    assert!(err("pasword: x\n").contains("pasword"));
    assert!(err("statement_events:\n  limt: 3\n").contains("limt"));
    assert!(err("tls:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n").contains("cipher_suites"));
    assert!(err("tls:\n  min_version: \"0.9\"\n").contains("tls"));
}
