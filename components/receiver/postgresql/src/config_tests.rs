use std::time::Duration;

use ferrotel_core::config::{Node, decode_validated};

use super::*;

fn decode(text: &str) -> Result<Config, String> {
    let node = Node::parse(text, "postgresql.yaml").map_err(|e| e.to_string())?;
    decode_validated::<Config>(&node).map_err(|e| e.to_string())
}

const CREDS: &str = "username: otel\npassword: pw\n";

#[test]
fn defaults_are_otelcols() {
    let config = decode(CREDS).unwrap();
    assert_eq!(config.endpoint, "localhost:5432");
    assert_eq!(config.transport, "tcp");
    assert_eq!(*config.collection_interval, Duration::from_secs(10));
    assert_eq!(*config.initial_delay, Duration::from_secs(1));
    assert_eq!(config.effective_timeout(), Duration::from_secs(10));
    assert!(
        !config.tls.insecure,
        "otelcol's postgresql receiver asks for TLS"
    );
    assert!(
        config.tls.insecure_skip_verify,
        "… without checking the certificate"
    );
    assert!(config.databases.is_empty() && config.exclude_databases.is_empty());
    assert!(!config.top_queries.enabled && !config.lock_waits.enabled);
    assert_eq!(config.top_queries.limit, 10);
    assert_eq!(config.top_queries.max_query_length, 1024);
    assert!(config.ignored_sections().is_empty());
}

#[test]
fn the_upstream_testdata_config_decodes() {
    let text = include_str!("../testdata/config.yaml");
    let node = Node::parse(text, "config.yaml").unwrap();
    let entries: Vec<_> = node.entries().collect();
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.name.as_str()).collect();
    assert_eq!(ids, ["postgresql", "postgresql/all"]);
    let minimal = decode_validated::<Config>(entries[0].1).unwrap();
    assert_eq!(minimal.endpoint, "localhost:5432");
    assert_eq!(minimal.username, "otel");
    assert_eq!(minimal.password.expose(), "${env:POSTGRESQL_PASSWORD}");
    assert!(
        !format!("{minimal:?}").contains("POSTGRESQL_PASSWORD"),
        "redacted"
    );
    let all = decode_validated::<Config>(entries[1].1).unwrap();
    assert_eq!(all.databases, ["otel"]);
    assert_eq!(all.exclude_databases, ["template0"]);
    assert!(!all.tls.insecure && !all.tls.insecure_skip_verify);
    assert_eq!(all.tls.ca_file, "/home/otel/authorities.crt");
    assert_eq!(all.tls.key_file, "/home/otel/mypostgreskey.key");
}

#[test]
fn tls_keeps_skip_verify_unless_it_is_written() {
    let config = decode(&format!("{CREDS}tls:\n  ca_file: /x.pem\n")).unwrap();
    assert!(!config.tls.insecure && config.tls.insecure_skip_verify);
    let config = decode(&format!("{CREDS}tls:\n  insecure_skip_verify: false\n")).unwrap();
    assert!(!config.tls.insecure_skip_verify);
    let config = decode(&format!("{CREDS}tls:\n  insecure: true\n")).unwrap();
    assert!(config.tls.insecure);
    let config = decode(&format!("{CREDS}tls:\n")).unwrap();
    assert!(config.tls.insecure_skip_verify);
}

#[test]
fn every_key_decodes_and_the_ignored_ones_are_named() {
    let config = decode(&format!(
        "{CREDS}endpoint: /var/run/postgresql:5432\ntransport: unix\ndialer:\n  timeout: 3s\n\
         collection_interval: 30s\ninitial_delay: 0s\ntimeout: 5s\ndatabases: [a, b]\n\
         exclude_databases: [c]\n\
         metrics:\n  postgresql.deadlocks:\n    enabled: true\n  postgresql.function.calls:\n    enabled: true\n\
         resource_attributes:\n  postgresql.schema.name:\n    enabled: false\n\
         events:\n  db.server.top_query:\n    enabled: true\n\
         query_sample_collection:\n  max_rows_per_query: 100\n\
         top_query_collection:\n  top_n_query: 1234\n  max_rows_per_query: 5\n  max_explain_each_interval: 2\n  \
         query_plan_cache_size: 7\n  query_plan_cache_ttl: 1h\n  collection_interval: 1m\n\
         connection_pool:\n  max_idle_time: 30s\n  max_lifetime: 1m\n  max_idle: 5\n  max_open: 10\n\
         top_queries:\n  enabled: true\n  limit: 3\n  max_query_length: 200\n\
         lock_waits:\n  enabled: true\n  limit: 4\n"
    ))
    .unwrap();
    assert!(config.is_unix());
    assert_eq!(*config.dialer.timeout, Duration::from_secs(3));
    assert_eq!(config.effective_timeout(), Duration::from_secs(5));
    assert_eq!(config.top_query_collection.top_n_query, 1234);
    assert_eq!(config.connection_pool.max_open, Some(10));
    assert_eq!(config.top_queries.limit, 3);
    assert_eq!(config.lock_waits.limit, 4);
    assert_eq!(config.lock_waits.max_query_length, 1024);
    assert_eq!(
        config.ignored_sections(),
        [
            "query_sample_collection",
            "top_query_collection (see top_queries)",
            "connection_pool",
            "events"
        ]
    );
}

#[test]
fn otelcols_validation_errors() {
    let err = |text: &str| decode(text).unwrap_err();
    let both = err("endpoint: a:1\n");
    assert!(
        both.contains("invalid config: missing username")
            && both.contains("invalid config: missing password"),
        "{both}"
    );
    let bad = "'endpoint' must be in the form <host>:<port>";
    assert!(err(&format!("{CREDS}endpoint: localhost\n")).contains(bad));
    assert!(err(&format!("{CREDS}endpoint: localhost:pg\n")).contains(bad));
    assert!(
        err(&format!("{CREDS}transport: udp\n"))
            .contains("invalid config: 'transport' must be 'tcp' or 'unix'")
    );
    assert!(
        err(&format!("{CREDS}tls:\n  min_version: \"1.3\"\n"))
            .contains("field 'MinVersion' not supported")
    );
    assert!(
        err(&format!("{CREDS}tls:\n  server_name_override: db\n"))
            .contains("field 'ServerName' not supported")
    );
    assert!(err(&format!("{CREDS}collection_interval: 0s\n")).contains("requires positive value"));
    let typo = err(&format!(
        "{CREDS}metrics:\n  postgresql.comits:\n    enabled: true\n"
    ));
    assert!(typo.contains("postgresql.commits"), "{typo}");
    assert!(err(&format!("{CREDS}pasword: x\n")).contains("pasword"));
    assert!(err(&format!("{CREDS}top_queries:\n  limit: 0\n")).contains("top_queries"));
}
