//! Requests recorded from real Dubbo Java consumers and providers (testdata/dubbo/README.md).

use super::*;
use crate::test_support::{HEAD, attr, each_prefix, hex_fixture, prefixes_hide, xorshift};

fn recorded(name: &str) -> Vec<u8> {
    hex_fixture(&format!("dubbo/{name}.hex"))
}

const SERVICE: &str = "org.apache.dubbo.samples.api.GreetingsService";

fn assert_call(request: &[u8], method: &str) {
    let s = parse(request, &Options::default()).unwrap();
    let full = format!("{SERVICE}/{method}");
    assert_eq!(s.name, full);
    assert_eq!(attr(&s, "rpc.system"), Some("apache_dubbo"));
    assert_eq!(attr(&s, "rpc.service"), Some(SERVICE));
    assert_eq!(attr(&s, "rpc.method"), Some(method));
    assert_eq!(s.attributes.len(), 3, "{s:?}");
}

#[test]
fn hessian2_requests_of_dubbo_2_7() {
    assert_call(&recorded("dubbo-2.7.23-hessian2-sayHi"), "sayHi");
    assert_call(&recorded("dubbo-2.7.23-hessian2-add"), "add");
    assert_call(&recorded("dubbo-2.7.23-hessian2-lookup"), "lookup");
    // no parameters: an empty type descriptor
    assert_call(&recorded("dubbo-2.7.23-hessian2-ping"), "ping");
}

#[test]
fn dubbo_3_with_a_service_version_and_fastjson2() {
    assert_call(&recorded("dubbo-3.2.16-hessian2-version-sayHi"), "sayHi");
    assert_call(&recorded("dubbo-3.2.16-fastjson2-sayHi"), "sayHi");
    assert_call(&recorded("dubbo-3.2.16-fastjson2-lookup"), "lookup");
}

#[test]
fn generic_invocation_names_the_invoked_method() {
    assert_call(&recorded("dubbo-2.7.23-hessian2-generic-invoke"), "sayHi");
}

#[test]
fn arguments_never_leak() {
    // lookup(keys, password) was called with the password "hunter2"
    for request in [
        recorded("dubbo-2.7.23-hessian2-lookup"),
        recorded("dubbo-3.2.16-fastjson2-lookup"),
    ] {
        prefixes_hide(parse, &request, &["hunter2", "java.util"]);
    }
}

#[test]
fn the_kernel_head_is_enough() {
    // FT_DETECT_BYTES: the method of this 45-character interface ends at byte 85
    for request in [
        recorded("dubbo-2.7.23-hessian2-sayHi"),
        recorded("dubbo-3.2.16-hessian2-version-sayHi"),
    ] {
        assert_call(&request[..HEAD], "sayHi");
    }
    assert_call(&recorded("dubbo-3.2.16-fastjson2-sayHi")[..HEAD], "sayHi");
}

#[test]
fn truncated_heads_keep_what_is_whole() {
    let request = recorded("dubbo-2.7.23-hessian2-sayHi");
    // header (16) + "2.0.2" (6) + the interface (47) + "0.0.0" (6) + "sayHi" (6)
    assert_call(&request[..81], "sayHi");
    let cut = parse(&request[..80], &Options::default()).unwrap();
    assert_eq!(cut.name, SERVICE);
    assert_eq!(attr(&cut, "rpc.service"), Some(SERVICE));
    assert_eq!(attr(&cut, "rpc.method"), None);
    let cut = parse(&request[..60], &Options::default()).unwrap();
    assert_eq!(cut.name, "dubbo");
    assert_eq!(attr(&cut, "rpc.system"), Some("apache_dubbo"));
    assert_eq!(parse(&request[..15], &Options::default()), None);
    each_prefix(parse, &request, &Options::default(), |_, s| {
        assert!(s.name == "dubbo" || s.name.starts_with(SERVICE), "{s:?}");
    });
}

#[test]
fn responses_events_and_strangers() {
    let response = recorded("dubbo-2.7.23-hessian2-sayHi-response");
    assert_eq!(parse(&response, &Options::default()), None);
    // a heartbeat: request, two-way, event, hessian2; the body is a null
    let mut heartbeat = vec![0xda, 0xbb, 0xe2, 0];
    heartbeat.extend(7u64.to_be_bytes());
    heartbeat.extend(1u32.to_be_bytes());
    heartbeat.push(b'N');
    assert_eq!(parse(&heartbeat, &Options::default()), None);
    let mut other = recorded("dubbo-2.7.23-hessian2-sayHi");
    other[0] = 0xdb;
    assert_eq!(parse(&other, &Options::default()), None);
    // an unknown serialization (Java's own, 3): the system alone
    let mut java = recorded("dubbo-2.7.23-hessian2-sayHi");
    java[2] = 0xc3;
    let s = parse(&java, &Options::default()).unwrap();
    assert_eq!(s.name, "dubbo");
    assert_eq!(s.attributes.len(), 1);
    let mut huge = recorded("dubbo-2.7.23-hessian2-sayHi");
    huge[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(parse(&huge, &Options::default()), None);
}

#[test]
fn hessian_strings() {
    assert_eq!(
        hessian_string(b"\x03abcX"),
        Some((Some(&b"abc"[..]), &b"X"[..]))
    );
    assert_eq!(hessian_string(b"N"), Some((None, &b""[..])));
    let medium = [&[0x30, 0x21][..], &[b'a'; 33]].concat();
    assert_eq!(hessian_string(&medium).unwrap().0.unwrap().len(), 33);
    let chunk = [&b"S\x00\x02"[..], "é€".as_bytes()].concat();
    assert_eq!(hessian_string(&chunk).unwrap().0, Some("é€".as_bytes()));
    // two units for a character outside the BMP
    let wide = [&b"\x02"[..], "😀".as_bytes()].concat();
    assert_eq!(hessian_string(&wide).unwrap().0, Some("😀".as_bytes()));
    assert_eq!(hessian_string(b"\x05abc"), None);
    assert_eq!(hessian_string(b"\x01\xff"), None);
    assert_eq!(hessian_string(b"R\x00\x01a"), None);
}

#[test]
fn garbage_is_safe() {
    let mut state = 0x2545_f491_u64;
    let base = recorded("dubbo-3.2.16-fastjson2-lookup");
    for _ in 0..3000 {
        let mut bytes = base.clone();
        for _ in 0..4 {
            let x = xorshift(&mut state);
            let at = 16 + x as usize % (bytes.len() - 16);
            bytes[at] = (x >> 8) as u8;
        }
        let _ = parse(&bytes, &Options::default());
        let _ = parse(&bytes[..HEAD], &Options::default());
    }
}
