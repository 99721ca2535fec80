use super::*;
use crate::test_support::attr;

#[test]
fn request_line_as_curl_sends_it() {
    let req = b"GET /api/users/12345/orders?token=s3cr3t HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    let s = parse(req).unwrap();
    assert_eq!(s.name, "GET /api/users/{id}/orders");
    assert_eq!(attr(&s, "http.request.method"), Some("GET"));
    assert_eq!(attr(&s, "url.path"), Some("/api/users/12345/orders"));
    assert_eq!(attr(&s, "http.route"), Some("/api/users/{id}/orders"));
    assert_eq!(attr(&s, "network.protocol.name"), None);
    assert_eq!(attr(&s, "network.protocol.version"), Some("1.1"));
    assert!(!format!("{s:?}").contains("s3cr3t"));
    let s = parse(b"POST /login#frag HTTP/1.0\r\n").unwrap();
    assert_eq!(s.name, "POST /login");
    assert_eq!(attr(&s, "network.protocol.version"), Some("1.0"));
}

#[test]
fn unknown_methods_are_other() {
    let s = parse(b"PROPFIND /dav/ HTTP/1.1\r\n").unwrap();
    assert_eq!(s.name, "HTTP /dav/");
    assert_eq!(attr(&s, "http.request.method"), Some("_OTHER"));
    assert_eq!(attr(&s, "http.request.method_original"), Some("PROPFIND"));
    // methods are case-sensitive
    let s = parse(b"get / HTTP/1.1\r\n").unwrap();
    assert_eq!(attr(&s, "http.request.method"), Some("_OTHER"));
}

#[test]
fn targets_without_a_path() {
    let s = parse(b"CONNECT example.com:443 HTTP/1.1\r\n").unwrap();
    assert_eq!(s.name, "CONNECT");
    assert_eq!(s.get("url.path"), None);
    assert_eq!(parse(b"OPTIONS * HTTP/1.1\r\n").unwrap().name, "OPTIONS");
    let s = parse(b"GET http://example.com/a/42?x=1 HTTP/1.1\r\n").unwrap();
    assert_eq!(s.name, "GET /a/{id}");
    assert_eq!(
        parse(b"GET http://example.com HTTP/1.1\r\n").unwrap().name,
        "GET /"
    );
}

#[test]
fn route_templating() {
    for (path, want) in [
        ("/", "/"),
        ("/users/42", "/users/{id}"),
        ("/users/42/", "/users/{id}/"),
        ("/v1/items", "/v1/items"),
        ("/o/123e4567-e89b-12d3-a456-426614174000", "/o/{id}"),
        ("/blob/deadbeefdeadbeef", "/blob/{id}"),
        ("/blob/deadbeefdeadbee", "/blob/deadbeefdeadbee"),
        ("/s/aB3dE5gH7jK9mN1pQ3sT", "/s/{id}"),
        (
            "/s/abcdefghijklmnopqrstuvwxyz",
            "/s/abcdefghijklmnopqrstuvwxyz",
        ),
        ("/files/report-2024.pdf", "/files/report-2024.pdf"),
        ("//double", "//double"),
    ] {
        assert_eq!(route(path), want, "{path}");
    }
}

#[test]
fn truncated_request_lines() {
    let req = b"GET /api/v2/customers/98765/invoices?since=2024-01-01 HTTP/1.1\r\nHost: x\r\n";
    for end in 0..=req.len() {
        if let Some(s) = parse(&req[..end]) {
            assert!(s.name == "GET" || s.name == "GET /api/v2/customers/{id}/invoices");
            assert!(!format!("{s:?}").contains("since"));
        }
    }
    // cut inside the path: its last segment may be cut, so no path at all
    let s = parse(b"GET /api/v2/custo").unwrap();
    assert_eq!(s.name, "GET");
    assert_eq!(s.get("http.route"), None);
    // cut after the path, before the version
    let s = parse(b"GET /a?b").unwrap();
    assert_eq!(s.name, "GET /a");
    assert_eq!(s.get("network.protocol.version"), None);
    assert_eq!(parse(b"GET"), None);
}

#[test]
fn not_http() {
    for bad in [
        &b""[..],
        b" / HTTP/1.1",
        b"G(T / HTTP/1.1",
        b"GET /a\x00b HTTP/1.1",
        b"GET /a\tb HTTP/1.1",
        b"\x16\x03\x01\x02\x00 x",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}
