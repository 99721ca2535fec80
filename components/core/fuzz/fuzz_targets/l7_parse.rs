//! L7 semantics (`ferrotel_l7::parse`) on the first bytes of a request as the eBPF receiver
//! captures them, for every protocol. Byte 0 picks the options (bit 0: sanitize; the rest: the
//! query length limit), the rest is the request. Never a panic, and the query text stays within
//! the limit. Then the same bytes, split in two at byte 1's pick, as a request and its response's
//! first bytes through one connection (`parse_exchange`: HTTP/2 header blocks, MySQL replies).
#![no_main]

use ferrotel_l7::{Connection, Exchange, Options, Protocol, Value, parse, parse_exchange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, request)) = data.split_first() else {
        return;
    };
    let options = Options {
        sanitize: pick & 1 == 0,
        max_query_len: usize::from(pick >> 1) * 8,
    };
    for protocol in Protocol::ALL {
        for status in [0, 1, 200, 503] {
            let Some(semantics) = parse(protocol, request, status, &options) else {
                continue;
            };
            assert!(!semantics.name.is_empty());
            if let Some((_, Value::Str(text))) = semantics
                .attributes
                .iter()
                .find(|(key, _)| *key == "db.query.text")
            {
                assert!(text.len() <= options.max_query_len, "{text:?}");
            }
        }
    }
    let Some((&split, rest)) = request.split_first() else {
        return;
    };
    let (request, response) = rest.split_at(usize::from(split).min(rest.len()));
    for protocol in Protocol::ALL {
        let mut connection = Connection::default();
        for server in [false, true] {
            // twice: the second exchange reads what the first left in the connection
            let exchange = Exchange {
                request,
                response,
                status: 0,
                server,
            };
            if let Some(semantics) = parse_exchange(&mut connection, protocol, &exchange, &options)
            {
                assert!(!semantics.name.is_empty());
            }
        }
    }
});
