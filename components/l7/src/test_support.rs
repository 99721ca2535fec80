//! What the parsers' unit tests share: reading recorded fixtures, reading attributes, and the
//! checks every parser owes (each prefix of a request is safe to parse and shows no secret).

use crate::{Options, Semantics, Value};

/// A protocol's `parse`, as the parsers that need no connection state have it.
pub(crate) type Parser = fn(&[u8], &Options) -> Option<Semantics>;

/// How much of a request the kernel hands over (FT_DETECT_BYTES).
pub(crate) const HEAD: usize = 128;

/// The options that keep values: literals and the like stay in `db.query.text`.
pub(crate) const RAW: Options = Options {
    sanitize: false,
    max_query_len: 1024,
};

/// The first `HEAD` bytes of `request`, as the kernel would hand them over.
pub(crate) fn head(request: &[u8]) -> &[u8] {
    &request[..request.len().min(HEAD)]
}

/// The string attribute `key`. An integer there is a test's mistake, not an absence: it panics.
pub(crate) fn attr<'a>(s: &'a Semantics, key: &str) -> Option<&'a str> {
    match s.get(key)? {
        Value::Str(v) => Some(v),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

/// The bytes a hex string spells (white space around it ignored).
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A file under testdata/ as text.
pub(crate) fn testdata_text(path: &str) -> String {
    let full = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A file under testdata/, whole.
pub(crate) fn testdata(path: &str) -> Vec<u8> {
    let full = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A recorded request kept as hex under testdata/.
pub(crate) fn hex_fixture(path: &str) -> Vec<u8> {
    hex(&testdata_text(path))
}

/// One step of xorshift64: random enough for mutating fixtures, and the same every run.
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Parses every prefix of `request`, from empty to whole, with `options`, and hands `check` each
/// result with the prefix's length. Returns the shortest length from which every longer prefix
/// parses (`request.len() + 1` when the whole does not), for tests that bound what is unreadable.
pub(crate) fn each_prefix(
    parse: Parser,
    request: &[u8],
    options: &Options,
    mut check: impl FnMut(usize, Semantics),
) -> usize {
    let mut parsed_from = 0;
    for end in 0..=request.len() {
        match parse(&request[..end], options) {
            Some(s) => check(end, s),
            None => parsed_from = end + 1,
        }
    }
    parsed_from
}

/// No prefix of `request` parses to anything that shows one of `secrets`, anywhere.
pub(crate) fn prefixes_hide(parse: Parser, request: &[u8], secrets: &[&str]) {
    each_prefix(parse, request, &Options::default(), |end, s| {
        let shown = format!("{s:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} at {end}: {shown}");
        }
    });
}

/// A prefix of each request is named as a beginning of the whole's `name`, or as `name` with
/// more: what the capture cut is never named otherwise.
pub(crate) fn prefixes_agree(parse: Parser, all: &[(&[u8], &str)]) {
    for &(request, name) in all {
        each_prefix(parse, request, &Options::default(), |end, s| {
            assert!(
                name.starts_with(&s.name) || s.name.starts_with(name),
                "{} at {end} for {name}",
                s.name
            );
        });
    }
}

/// `parse` reads none of `bad`.
pub(crate) fn rejects(parse: Parser, bad: &[&[u8]]) {
    for bad in bad {
        assert_eq!(parse(bad, &Options::default()), None, "{bad:?}");
    }
}

/// Each whole request of `all` is named as its name says (or that and more, where the test
/// abbreviates a long one) and carries `system`: an attribute and its value.
pub(crate) fn names_and_system(parse: Parser, all: &[(&[u8], &str)], system: (&str, &str)) {
    for &(request, name) in all {
        let s = parse(request, &Options::default()).unwrap_or_else(|| panic!("{name}: none"));
        assert!(s.name.starts_with(name), "{} for {name}", s.name);
        assert_eq!(attr(&s, system.0), Some(system.1), "{name}");
    }
}
