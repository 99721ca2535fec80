//! SQL shared by PostgreSQL and MySQL: a lexer that knows each dialect's literals, the sanitizer
//! that replaces them with `?`, and the operation and first collection a statement names.

use crate::{Options, Semantics, text, truncate};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Mysql,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Space,
    Word,
    /// A quoted identifier: `"Users"` (PostgreSQL), `` `users` ``.
    Quoted,
    /// A string, dollar-quoted, bit or hex literal, or (MySQL) a double-quoted string.
    Literal,
    Number,
    /// `$1`, `?`.
    Param,
    Punct,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The end of a quoted run opened at `start` by `quote`: a doubled quote is one character, and
/// with `backslash` so is a backslash and what follows it. Unterminated: the end of `b`.
fn quoted_end(b: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == quote => {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

fn lex(s: &str, dialect: Dialect) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let next = b.get(i + 1).copied();
        let kind = if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if (c == b'-' && next == Some(b'-')) || (c == b'#' && dialect == Dialect::Mysql) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Kind::Space
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 || dialect == Dialect::Mysql {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            Kind::Space
        } else if c == b'\'' {
            i = quoted_end(b, i, b'\'', dialect == Dialect::Mysql);
            Kind::Literal
        } else if c == b'"' {
            i = quoted_end(b, i, b'"', dialect == Dialect::Mysql);
            // MySQL (without ANSI_QUOTES) reads a double-quoted run as a string
            match dialect {
                Dialect::Postgres => Kind::Quoted,
                Dialect::Mysql => Kind::Literal,
            }
        } else if c == b'`' {
            i = quoted_end(b, i, b'`', false);
            Kind::Quoted
        } else if c == b'$' && dialect == Dialect::Postgres {
            i += 1;
            if next.is_some_and(|n| n.is_ascii_digit()) {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                Kind::Param
            } else {
                // $tag$ … $tag$, the tag empty or an identifier not starting with a digit
                let mut t = i;
                while t < b.len() && is_ident(b[t]) && b[t] != b'$' {
                    t += 1;
                }
                if b.get(t) == Some(&b'$') {
                    let tag = &b[start..=t];
                    i = t + 1;
                    match b[i..].windows(tag.len()).position(|w| w == tag) {
                        Some(p) => i += p + tag.len(),
                        None => i = b.len(),
                    }
                    Kind::Literal
                } else {
                    Kind::Punct
                }
            }
        } else if c.is_ascii_digit() || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit())) {
            if c == b'0' && matches!(next, Some(b'x' | b'X')) {
                i += 2;
                while i < b.len() && b[i].is_ascii_hexdigit() {
                    i += 1;
                }
            } else {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    let mut j = i + 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        i = j;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
            }
            if i < b.len() && is_ident(b[i]) {
                // MySQL allows identifiers that start with digits: `1table`
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                Kind::Word
            } else {
                Kind::Number
            }
        } else if is_ident(c) && c != b'$' {
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let word = &b[start..i];
            if b.get(i) == Some(&b'\'')
                && word.len() == 1
                && matches!(word[0].to_ascii_lowercase(), b'e' | b'x' | b'b' | b'n')
            {
                // E'…', X'ff', B'01', N'…'
                let backslash = dialect == Dialect::Mysql || word[0].eq_ignore_ascii_case(&b'e');
                i = quoted_end(b, i, b'\'', backslash);
                Kind::Literal
            } else {
                Kind::Word
            }
        } else if c == b'?' {
            i += 1;
            Kind::Param
        } else {
            i += 1;
            while i < b.len() && !s.is_char_boundary(i) {
                i += 1;
            }
            Kind::Punct
        };
        let i_end = i.min(b.len());
        i = i_end;
        tokens.push(Token {
            kind,
            text: &s[start..i_end],
        });
    }
    tokens
}

/// Words after which a `-` right before a number is the number's sign.
const SIGN_AFTER: &[&str] = &[
    "SELECT", "WHERE", "AND", "OR", "NOT", "VALUES", "SET", "THEN", "ELSE", "WHEN", "BY", "LIMIT",
    "OFFSET", "IN", "IS", "LIKE", "BETWEEN", "CASE", "ON", "HAVING", "RETURN", "DEFAULT",
];

/// `query` with literals replaced by `?`, comments dropped and whitespace collapsed.
pub(crate) fn sanitize(query: &str, dialect: Dialect) -> String {
    let tokens = lex(query, dialect);
    let mut out = String::with_capacity(query.len().min(4096));
    let mut space = false;
    let mut prev: Option<Token> = None;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        if token.kind == Kind::Space {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        let signed = token.text == "-"
            && tokens.get(i).is_some_and(|t| t.kind == Kind::Number)
            && match prev {
                None => true,
                Some(p) if p.kind == Kind::Punct => p.text != ")",
                Some(p) if p.kind == Kind::Word => {
                    SIGN_AFTER.iter().any(|w| w.eq_ignore_ascii_case(p.text))
                }
                Some(_) => false,
            };
        if signed {
            i += 1;
        }
        match token.kind {
            Kind::Literal | Kind::Number => out.push('?'),
            _ if signed => out.push('?'),
            _ => out.push_str(token.text),
        }
        prev = Some(token);
    }
    out
}

/// Statements whose keyword names a WITH query's main statement.
const MAIN: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"];
/// Words that may sit between a statement's keyword and its table.
const BEFORE_TABLE: &[&str] = &[
    "ONLY",
    "LOW_PRIORITY",
    "IGNORE",
    "DELAYED",
    "QUICK",
    "LATERAL",
];

/// The operation and first collection of `query`; `complete` is false when the query was cut, so
/// its last token may be too.
fn analyse(query: &str, dialect: Dialect, complete: bool) -> (Option<String>, Option<String>) {
    let all = lex(query, dialect);
    let n = all.iter().filter(|t| t.kind != Kind::Space).count();
    // a cut query's last token may be cut too: leave it out
    let usable = if complete || all.last().is_some_and(|t| t.kind == Kind::Space) {
        n
    } else {
        n.saturating_sub(1)
    };
    let everything: Vec<Token> = all.into_iter().filter(|t| t.kind != Kind::Space).collect();
    let tokens = &everything[..usable];
    let Some(first) = tokens.iter().position(|t| t.text != "(") else {
        return (None, None);
    };
    let token = tokens[first];
    if token.kind != Kind::Word || !token.text.bytes().all(|c| c.is_ascii_alphabetic()) {
        return (None, None);
    }
    let mut op = token.text.to_ascii_uppercase();
    let mut at = first;
    if op == "WITH" {
        let mut depth = 0i32;
        for (j, t) in tokens.iter().enumerate().skip(first + 1) {
            match t.text {
                "(" => depth += 1,
                ")" => depth -= 1,
                w if depth == 0 && MAIN.iter().any(|m| m.eq_ignore_ascii_case(w)) => {
                    op = w.to_ascii_uppercase();
                    at = j;
                    break;
                }
                _ => {}
            }
        }
        if at == first {
            return (Some(op), None);
        }
    }
    let keyword = match op.as_str() {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" | "REPLACE" | "MERGE" => "INTO",
        "UPDATE" => "UPDATE",
        _ => return (Some(op), None),
    };
    let mut depth = 0i32;
    let mut start = None;
    for (j, t) in tokens.iter().enumerate().skip(at) {
        match t.text {
            "(" => depth += 1,
            ")" if depth == 0 => break,
            ")" => depth -= 1,
            ";" if depth == 0 => break,
            w if depth == 0 && t.kind == Kind::Word && w.eq_ignore_ascii_case(keyword) => {
                start = Some(j + 1);
                break;
            }
            _ => {}
        }
    }
    let collection = start.and_then(|s| table(&everything[s..], usable - s, keyword == "FROM"));
    (Some(op), collection)
}

/// The (possibly schema-qualified) table name `tokens` begin with, unquoted; only the first
/// `usable` tokens are whole, the one after them may be cut.
fn table(tokens: &[Token], usable: usize, from: bool) -> Option<String> {
    let mut j = 0;
    while let Some(t) = tokens[..usable].get(j) {
        if t.kind == Kind::Word && BEFORE_TABLE.iter().any(|w| w.eq_ignore_ascii_case(t.text)) {
            j += 1;
        } else {
            break;
        }
    }
    let mut name = String::new();
    loop {
        let t = tokens[..usable].get(j)?;
        match t.kind {
            Kind::Word if !is_keyword(t.text) => name.push_str(t.text),
            Kind::Quoted => {
                // the lexer opens a quoted token with its (ASCII) quote; unterminated: no name
                let q = &t.text[..1];
                let inner = t.text[1..].strip_suffix(q)?;
                if inner.ends_with(q) && !inner.ends_with(&q.repeat(2)) {
                    return None;
                }
                name.push_str(&inner.replace(&q.repeat(2), q));
            }
            _ => return None,
        }
        j += 1;
        match tokens.get(j) {
            Some(t) if t.text == "." => {
                name.push('.');
                j += 1;
            }
            // a function in FROM (`generate_series(1, 3)`) is not a table
            Some(t) if from && t.text == "(" => return None,
            _ => break,
        }
    }
    (!name.is_empty()).then_some(name)
}

fn is_keyword(word: &str) -> bool {
    const KEYWORDS: &[&str] = &["SELECT", "VALUES", "SET", "WHERE", "DEFAULT", "UNNEST"];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// The semantics of a SQL query for `system` ("postgresql", "mysql").
pub(crate) fn semantics(
    system: &'static str,
    dialect: Dialect,
    query: &[u8],
    complete: bool,
    options: &Options,
) -> Semantics {
    let query = text(query);
    let (op, collection) = analyse(&query, dialect, complete);
    let name = match (&op, &collection) {
        (Some(op), Some(collection)) => format!("{op} {collection}"),
        (Some(op), None) => op.clone(),
        (None, _) => system.to_string(),
    };
    let mut semantics = Semantics {
        name,
        attributes: Vec::with_capacity(5),
    };
    semantics.push_static("db.system.name", system);
    let shown = if options.sanitize {
        sanitize(&query, dialect)
    } else {
        query
    };
    let shown = truncate(shown, options.max_query_len);
    if !shown.is_empty() {
        semantics.push_str("db.query.text", shown);
    }
    if let Some(op) = op {
        semantics.push_str("db.operation.name", op);
    }
    if let Some(collection) = collection {
        semantics.push_str("db.collection.name", collection);
    }
    semantics
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
