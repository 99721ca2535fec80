//! otelcol's `confignet` rules, shared by every component with an `endpoint` and a `transport`.

/// Transport names Go's `net` package knows; `confignet` accepts any of them.
pub const TRANSPORTS: &[&str] = &[
    "tcp",
    "tcp4",
    "tcp6",
    "udp",
    "udp4",
    "udp6",
    "ip",
    "ip4",
    "ip6",
    "unix",
    "unixgram",
    "unixpacket",
    "npipe",
];

/// The transports that carry a client's stream to a database server.
pub const STREAM_TRANSPORTS: &[&str] = &["tcp", "tcp4", "tcp6", "unix"];

/// otelcol's check: any name Go knows.
pub fn validate_transport(transport: &str) -> Result<(), String> {
    if TRANSPORTS.contains(&transport) {
        Ok(())
    } else {
        Err(format!("invalid transport type {transport:?}"))
    }
}

/// otelcol's check, then ours: `server` (e.g. "a Redis server") can only be reached over a stream,
/// which otelcol would find out only when dialling.
pub fn validate_stream_transport(transport: &str, server: &str) -> Result<(), String> {
    validate_transport(transport)?;
    if STREAM_TRANSPORTS.contains(&transport) {
        Ok(())
    } else {
        Err(format!(
            "transport {transport:?} cannot reach {server} (use tcp, tcp4, tcp6 or unix)"
        ))
    }
}

/// (host, port) as Go's `net.SplitHostPort` splits `host:port` and `[v6]:port`, with its messages.
pub fn split_host_port(endpoint: &str) -> Result<(String, String), String> {
    let missing = || format!("address {endpoint}: missing port in address");
    if let Some(rest) = endpoint.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {endpoint}: missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(missing)?;
        return Ok((host.to_string(), port.to_string()));
    }
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(missing)?;
    if host.contains(':') {
        return Err(format!("address {endpoint}: too many colons in address"));
    }
    Ok((host.to_string(), port.to_string()))
}

/// [`split_host_port`] with the port as a number.
pub fn host_and_port(endpoint: &str) -> Result<(String, u16), String> {
    let (host, port) = split_host_port(endpoint)?;
    let number = port
        .parse::<u16>()
        .map_err(|_| format!("address {endpoint}: invalid port {port:?}"))?;
    Ok((host, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_go_does() {
        assert_eq!(
            split_host_port("localhost:6379").unwrap(),
            ("localhost".into(), "6379".into())
        );
        assert_eq!(
            split_host_port("[::1]:5432").unwrap(),
            ("::1".into(), "5432".into())
        );
        assert!(
            split_host_port("localhost")
                .unwrap_err()
                .contains("missing port")
        );
        assert!(
            split_host_port("::1:5")
                .unwrap_err()
                .contains("too many colons")
        );
        assert!(split_host_port("[::1").unwrap_err().contains("missing ']'"));
        assert!(
            host_and_port("h:99999")
                .unwrap_err()
                .contains("invalid port")
        );
        assert_eq!(host_and_port("h:1").unwrap(), ("h".into(), 1));
    }

    #[test]
    fn transports() {
        assert!(validate_transport("udp").is_ok());
        assert!(
            validate_transport("tcpx")
                .unwrap_err()
                .contains("invalid transport type")
        );
        let err = validate_stream_transport("udp", "a Redis server").unwrap_err();
        assert!(err.contains("cannot reach a Redis server"), "{err}");
        assert!(validate_stream_transport("unix", "x").is_ok());
    }
}
