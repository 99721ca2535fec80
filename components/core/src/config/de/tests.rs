use serde::Deserialize;
use std::collections::BTreeMap;

use super::*;
use crate::config::GoDuration;

fn node(text: &str) -> Node {
    Node::parse(text, "c.yaml").unwrap()
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Grpc {
    endpoint: String,
    max_recv_msg_size_mib: u64,
    keepalive: Option<Keepalive>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Keepalive {
    time: GoDuration,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Protocols {
    grpc: Option<Grpc>,
    http: Option<Grpc>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Receiver {
    protocols: Protocols,
    port: u16,
    enabled: bool,
    ratio: f64,
    tags: Vec<String>,
    headers: BTreeMap<String, String>,
    verbosity: Verbosity,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

fn err<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    decode::<T>(&node(text)).unwrap_err().to_string()
}

#[test]
fn decodes_typed_values_from_plain_and_quoted_scalars() {
    let r: Receiver = decode(&node(
        "protocols:\n  grpc:\n    endpoint: 0.0.0.0:4317\n    max_recv_msg_size_mib: \"16\"\n\
         port: 0x1F90\nenabled: true\nratio: 5\ntags: [a, 12]\nheaders: {x: 1}\nverbosity: detailed\n",
    ))
    .unwrap();
    let grpc = r.protocols.grpc.unwrap();
    assert_eq!(grpc.endpoint, "0.0.0.0:4317");
    assert_eq!(grpc.max_recv_msg_size_mib, 16);
    assert_eq!(r.port, 8080);
    assert!(r.enabled);
    assert_eq!(r.ratio, 5.0);
    assert_eq!(r.tags, ["a", "12"]);
    assert_eq!(r.headers["x"], "1");
    assert_eq!(r.verbosity, Verbosity::Detailed);
    assert_eq!(r.protocols.http, None);
}

#[test]
fn present_empty_sections_are_some_with_defaults() {
    for text in [
        "protocols:\n  http:\n",
        "protocols:\n  http: null\n",
        "protocols:\n  http: {}\n",
    ] {
        let r: Receiver = decode(&node(text)).unwrap();
        assert_eq!(r.protocols.http, Some(Grpc::default()), "{text}");
    }
    let r: Receiver = decode(&node("protocols:\n")).unwrap();
    assert_eq!(r.protocols, Protocols::default());
    let r: Receiver = decode(&Node::null(crate::config::Mark::new("x", 1, 1))).unwrap();
    assert_eq!(r, Receiver::default());
}

#[test]
fn unknown_keys_name_the_section_and_suggest() {
    assert_eq!(
        err::<Receiver>("protocols:\n  htttp:\n"),
        "c.yaml:2:3: 'protocols' has invalid keys: htttp (did you mean \"http\"?)"
    );
    assert_eq!(
        err::<Receiver>("enabeld: true\n"),
        "c.yaml:1:1: has invalid keys: enabeld (did you mean \"enabled\"?)"
    );
    assert_eq!(
        err::<Receiver>("zzzzzz: 1\n"),
        "c.yaml:1:1: has invalid keys: zzzzzz"
    );
    assert_eq!(
        err::<Receiver>("protocols:\n  grpc:\n    keepalive:\n      tim: 1s\n"),
        "c.yaml:4:7: 'protocols.grpc.keepalive' has invalid keys: tim (did you mean \"time\"?)"
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_where() {
    assert_eq!(
        err::<Receiver>(
            "protocols:\n  grpc:\n    keepalive:\n      time: 10\n\n    max_recv_msg_size_mib: lots\n"
        ),
        "c.yaml:6:28: protocols::grpc::max_recv_msg_size_mib: expected an integer, got \"lots\""
    );
    assert_eq!(
        err::<Receiver>("protocols:\n  grpc:\n    keepalive:\n      time: \"10\"\n"),
        "c.yaml:4:13: protocols::grpc::keepalive::time: expected a duration such as \"5s\", got \"10\" (missing unit)"
    );
    assert_eq!(
        err::<Receiver>("port: 70000\n"),
        "c.yaml:1:7: port: expected an integer from 0 to 65535, got 70000"
    );
    assert_eq!(
        err::<Receiver>("enabled: yes\n"),
        "c.yaml:1:10: enabled: expected a boolean (true or false), got \"yes\""
    );
    assert_eq!(
        err::<Receiver>("tags: a\n"),
        "c.yaml:1:7: tags: expected a list, got \"a\""
    );
    assert_eq!(
        err::<Receiver>("protocols: [grpc]\n"),
        "c.yaml:1:12: protocols: expected a map, got a list"
    );
    assert_eq!(
        err::<Receiver>("tags: [a, {b: 1}]\n"),
        "c.yaml:1:11: tags[1]: expected a string, got a map"
    );
    assert_eq!(
        err::<Receiver>("verbosity: detaled\n"),
        "c.yaml:1:12: verbosity: unknown value \"detaled\" (valid values: [basic, normal, detailed]) (did you mean \"detailed\"?)"
    );
}

#[test]
fn durations_accept_go_strings_and_bare_nanoseconds() {
    let k: Keepalive = decode(&node("time: 1h30m\n")).unwrap();
    assert_eq!(k.time, GoDuration::from_secs(5400));
    let k: Keepalive = decode(&node("time: 1500\n")).unwrap();
    assert_eq!(k.time.0, std::time::Duration::from_nanos(1500));
    let k: Keepalive = decode(&node("time:\n")).unwrap();
    assert_eq!(k.time, GoDuration::ZERO);
}

#[test]
fn any_values_keep_yaml_types() {
    let value: serde_json::Value = decode(&node(
        "a: 1\nb: '1'\nc: [true, 1.5, ~, 0123]\nd: {e: text}\nf:\nbig: 18446744073709551615\n",
    ))
    .unwrap();
    assert_eq!(
        value,
        serde_json::json!({"a": 1, "b": "1", "c": [true, 1.5, null, 83], "d": {"e": "text"}, "f": null, "big": 18446744073709551615u64})
    );
}

#[test]
fn decode_at_names_the_whole_path() {
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Telemetry {
        #[allow(dead_code)]
        logs: Option<Keepalive>,
    }
    let n = node("logs: {}\nunknown: key\n");
    let e = decode_at::<Telemetry>(&n, "service::telemetry").unwrap_err();
    assert_eq!(
        e.to_string(),
        "c.yaml:2:1: 'service.telemetry' has invalid keys: unknown"
    );
    let n = node("logs:\n  time: x\n");
    let e = decode_at::<Telemetry>(&n, "service::telemetry").unwrap_err();
    assert_eq!(e.path, "service::telemetry::logs::time");
}
