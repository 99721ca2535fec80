use super::*;

fn pg(q: &str) -> String {
    sanitize(q, Dialect::Postgres)
}

fn my(q: &str) -> String {
    sanitize(q, Dialect::Mysql)
}

#[test]
fn literals_become_placeholders() {
    assert_eq!(
        pg("SELECT * FROM t WHERE name = 'O''Brien' AND id = 42"),
        "SELECT * FROM t WHERE name = ? AND id = ?"
    );
    assert_eq!(pg("SELECT $$body with 'quotes'$$, $f$x$f$"), "SELECT ?, ?");
    assert_eq!(
        pg("SELECT -1.5e3, 2E+10, .5, 0xFF, 1_x"),
        "SELECT ?, ?, ?, ?, 1_x"
    );
    assert_eq!(
        pg("SELECT x'ff', B'0101', E'a\\'b', N'n'"),
        "SELECT ?, ?, ?, ?"
    );
    assert_eq!(
        pg("SELECT a - 1, a-1, (-2), b = -3"),
        "SELECT a - ?, a-?, (?), b = ?"
    );
    assert_eq!(
        pg("SELECT t1.c2 FROM t1 WHERE c3 = $1"),
        "SELECT t1.c2 FROM t1 WHERE c3 = $1"
    );
    assert_eq!(
        pg("SELECT \"Col 1\" FROM \"My\"\"Table\""),
        "SELECT \"Col 1\" FROM \"My\"\"Table\""
    );
}

#[test]
fn whitespace_and_comments_collapse() {
    assert_eq!(
        pg("  SELECT\n\t a ,b -- note 'x'\nFROM /* c /* nested */ still */ t  "),
        "SELECT a ,b FROM t"
    );
    assert_eq!(my("SELECT 1 # comment\n, 2"), "SELECT ? , ?");
}

#[test]
fn mysql_strings() {
    assert_eq!(my("SELECT 'it\\'s', \"dq\", `id`"), "SELECT ?, ?, `id`");
    assert_eq!(my("SELECT _utf8mb4'x', X'0A'"), "SELECT _utf8mb4?, ?");
    // `$` is an identifier character in MySQL, not a dollar quote
    assert_eq!(my("SELECT a$b FROM t"), "SELECT a$b FROM t");
}

#[test]
fn unterminated_literals_hide_the_rest() {
    assert_eq!(pg("SELECT 'abc"), "SELECT ?");
    assert_eq!(pg("SELECT $tag$abc"), "SELECT ?");
    assert_eq!(pg("SELECT \"ab"), "SELECT \"ab");
    assert_eq!(pg("SELECT /* abc"), "SELECT");
}

fn op(q: &str) -> (Option<String>, Option<String>) {
    analyse(q, Dialect::Postgres, true)
}

fn both(op: &str, collection: Option<&str>) -> (Option<String>, Option<String>) {
    (Some(op.into()), collection.map(Into::into))
}

#[test]
fn operation_and_collection() {
    assert_eq!(op("select * from users"), both("SELECT", Some("users")));
    assert_eq!(op("SELECT 1"), both("SELECT", None));
    assert_eq!(
        op("SELECT (SELECT max(a) FROM b) FROM c"),
        both("SELECT", Some("c"))
    );
    assert_eq!(op("SELECT * FROM (SELECT 1) s"), both("SELECT", None));
    assert_eq!(
        op("SELECT * FROM generate_series(1, 3)"),
        both("SELECT", None)
    );
    assert_eq!(
        op("SELECT * FROM ONLY public.t"),
        both("SELECT", Some("public.t"))
    );
    assert_eq!(
        op("INSERT INTO \"S\".\"T\" (a) VALUES (1)"),
        both("INSERT", Some("S.T"))
    );
    assert_eq!(
        op("UPDATE accounts SET x = 1"),
        both("UPDATE", Some("accounts"))
    );
    assert_eq!(op("DELETE FROM sessions"), both("DELETE", Some("sessions")));
    assert_eq!(op("BEGIN"), both("BEGIN", None));
    assert_eq!(op("CREATE TABLE t (a int)"), both("CREATE", None));
    assert_eq!(op("(SELECT a FROM t)"), both("SELECT", Some("t")));
    assert_eq!(
        op("WITH x AS (SELECT 1 FROM a), y AS (SELECT 2) DELETE FROM b"),
        both("DELETE", Some("b"))
    );
    assert_eq!(op("WITH RECURSIVE"), both("WITH", None));
    assert_eq!(op("'lit'"), (None, None));
    assert_eq!(op(""), (None, None));
    assert_eq!(
        analyse("REPLACE INTO `db`.`t` VALUES (1)", Dialect::Mysql, true),
        both("REPLACE", Some("db.t"))
    );
    assert_eq!(
        analyse("UPDATE LOW_PRIORITY t SET a = 1", Dialect::Mysql, true),
        both("UPDATE", Some("t"))
    );
}

#[test]
fn a_cut_query_drops_its_last_token() {
    let cut = |q| analyse(q, Dialect::Postgres, false);
    assert_eq!(cut("SELECT * FROM use"), both("SELECT", None));
    assert_eq!(cut("SELECT * FROM users "), both("SELECT", Some("users")));
    assert_eq!(cut("SELECT * FROM users WH"), both("SELECT", Some("users")));
    assert_eq!(cut("SEL"), (None, None));
    assert_eq!(cut("SELECT * FROM s."), both("SELECT", None));
}

#[test]
fn adversarial_text_does_not_panic() {
    for q in [
        "'",
        "\"",
        "`",
        "$",
        "$$",
        "$a",
        "$1$",
        "/*",
        "*/",
        "--",
        "#",
        "0x",
        "1e",
        "1e+",
        ".",
        "-",
        "-1",
        "E'",
        "e'\\",
        "é'",
        "SELECT é FROM ü",
        "((((",
        "))))",
        "WITH (",
        "SELECT FROM",
        "INSERT INTO",
        "UPDATE",
        "\u{fffd}\0\u{1}",
    ] {
        for dialect in [Dialect::Postgres, Dialect::Mysql] {
            let _ = sanitize(q, dialect);
            let _ = analyse(q, dialect, false);
            let _ = analyse(q, dialect, true);
        }
    }
}
