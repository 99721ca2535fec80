//! Redis commands: a RESP array of bulk strings (what every client sends) or an inline command
//! (`PING\r\n`). A pipeline's first command stands for the write.

use crate::{Options, Semantics, text, truncate};

/// Commands whose first argument is not a key but may be a secret or a payload.
const NO_KEY: &[&str] = &["AUTH", "HELLO", "ECHO", "PING"];
/// The most arguments looked at.
const MAX_ARGS: usize = 4096;

/// A command's arguments as far as the capture holds them, and how many it has in all.
struct Command<'a> {
    args: Vec<&'a [u8]>,
    /// The last of `args` is cut short.
    cut: bool,
    total: usize,
}

/// `\r\n`-terminated line at the start of `b`, and what follows it.
fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    Some((&b[..end], &b[end + 2..]))
}

fn number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn resp(request: &[u8]) -> Option<Command<'_>> {
    let (head, mut rest) = line(request.strip_prefix(b"*")?)?;
    let total = number(head)?;
    if total == 0 {
        return None;
    }
    let mut args = Vec::new();
    while args.len() < total.min(MAX_ARGS) {
        let Some(after) = rest.strip_prefix(b"$") else {
            if rest.is_empty() || b"$".starts_with(rest) {
                break; // cut before this argument
            }
            return None;
        };
        let Some((head, data)) = line(after) else {
            if after.iter().all(u8::is_ascii_digit) && after.len() <= 10 {
                break; // cut inside the length
            }
            return None;
        };
        let len = number(head)?;
        if data.len() < len + 2 {
            args.push(&data[..len.min(data.len())]);
            return Some(Command {
                args,
                cut: data.len() < len,
                total,
            });
        }
        if &data[len..len + 2] != b"\r\n" {
            return None;
        }
        args.push(&data[..len]);
        rest = &data[len + 2..];
    }
    Some(Command {
        args,
        cut: false,
        total,
    })
}

fn inline(request: &[u8]) -> Option<Command<'_>> {
    let (line, cut) = match line(request) {
        Some((line, _)) => (line, false),
        None => (request, true),
    };
    if line.iter().any(|&c| !(b' '..0x7f).contains(&c)) {
        return None;
    }
    let args: Vec<&[u8]> = line
        .split(|&c| c == b' ')
        .filter(|a| !a.is_empty())
        .collect();
    // without its line end, the last word may be cut
    let cut = cut && !line.ends_with(b" ");
    let total = args.len();
    Some(Command { args, cut, total })
}

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let command = if request.first() == Some(&b'*') {
        resp(request)?
    } else {
        inline(request)?
    };
    let name = *command.args.first()?;
    if (command.cut && command.args.len() == 1)
        || name.is_empty()
        || name.len() > 32
        || !name[0].is_ascii_alphabetic()
        || !name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'|'))
    {
        return None;
    }
    let op = String::from_utf8_lossy(name).to_ascii_uppercase();
    let mut shown = op.clone();
    let keeps_key = !NO_KEY.contains(&op.as_str());
    for i in 1..command.total {
        if shown.len() > options.max_query_len {
            break;
        }
        shown.push(' ');
        let arg = command.args.get(i);
        let whole = !(command.cut && i + 1 == command.args.len());
        match arg {
            Some(arg) if !options.sanitize => shown.push_str(&text(arg)),
            Some(arg) if i == 1 && keeps_key && whole => shown.push_str(&text(arg)),
            _ if options.sanitize => shown.push('?'),
            _ => {
                shown.pop();
                break;
            }
        }
    }
    let mut semantics = Semantics {
        name: op.clone(),
        attributes: Vec::new(),
    };
    semantics.push_static("db.system.name", "redis");
    semantics.push_str("db.operation.name", op);
    semantics.push_str("db.query.text", truncate(shown, options.max_query_len));
    Some(semantics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn query_text(s: &Semantics) -> &str {
        match s.get("db.query.text") {
            Some(Value::Str(v)) => v,
            _ => panic!("no query text"),
        }
    }

    const SET: &[u8] = b"*3\r\n$3\r\nset\r\n$6\r\nuser:1\r\n$6\r\nsecret\r\n";

    #[test]
    fn resp_command_as_redis_cli_sends_it() {
        let s = parse(SET, &Options::default()).unwrap();
        assert_eq!(s.name, "SET");
        assert_eq!(query_text(&s), "SET user:1 ?");
        assert_eq!(s.get("db.system.name"), Some(&Value::Str("redis".into())));
        let raw = Options {
            sanitize: false,
            ..Options::default()
        };
        assert_eq!(query_text(&parse(SET, &raw).unwrap()), "SET user:1 secret");
        let auth = b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$4\r\npass\r\n";
        assert_eq!(
            query_text(&parse(auth, &Options::default()).unwrap()),
            "AUTH ? ?"
        );
        let config = b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nmaxmemory*\r\n";
        let s = parse(config, &Options::default()).unwrap();
        assert_eq!(s.name, "CONFIG");
        assert_eq!(query_text(&s), "CONFIG GET ?");
    }

    #[test]
    fn pipeline_takes_the_first_command() {
        let mut p = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n".to_vec();
        p.extend(SET);
        let s = parse(&p, &Options::default()).unwrap();
        assert_eq!((s.name.as_str(), query_text(&s)), ("GET", "GET a"));
    }

    #[test]
    fn inline_commands() {
        let s = parse(b"PING\r\n", &Options::default()).unwrap();
        assert_eq!((s.name.as_str(), query_text(&s)), ("PING", "PING"));
        let s = parse(b"set k v\r\n", &Options::default()).unwrap();
        assert_eq!(query_text(&s), "SET k ?");
        assert_eq!(parse(b"PIN", &Options::default()), None);
        assert_eq!(parse(b"PING ", &Options::default()).unwrap().name, "PING");
    }

    #[test]
    fn every_prefix_is_safe() {
        for end in 0..=SET.len() {
            if let Some(s) = parse(&SET[..end], &Options::default()) {
                assert_eq!(s.name, "SET");
                assert!(!query_text(&s).contains("sec"), "{}", query_text(&s));
            }
        }
        // cut in the key: the key is not shown whole, so not at all
        assert_eq!(
            query_text(&parse(&SET[..20], &Options::default()).unwrap()),
            "SET ? ?"
        );
        assert_eq!(parse(&SET[..10], &Options::default()), None);
    }

    #[test]
    fn not_redis() {
        for bad in [
            &b"*0\r\n"[..],
            b"*x\r\n",
            b"*1\r\n:3\r\n",
            b"*1\r\n$3\r\nGETX\r\n",
            b"*1\r\n$99999999999\r\n",
            b"*1\r\n$4\r\n1GET\r\n",
            b"\x00\x01\x02",
            b"GET \xff\r\n",
        ] {
            assert_eq!(parse(bad, &Options::default()), None, "{bad:?}");
        }
    }
}
