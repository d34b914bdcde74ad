//! Parser tests. Error texts marked "2.42" were checked against a real
//! Prometheus 2.42 (`/api/v1/format_query`); the others (syntax 2.42 does
//! not know) follow upstream's source at the promqltest commit d15adb9.

use super::*;

fn err(q: &str) -> String {
    match parse(q) {
        Ok(e) => panic!("{q:?} parsed as {e}"),
        Err(e) => e.to_string(),
    }
}

fn text(q: &str) -> String {
    match parse(q) {
        Ok(e) => e.to_string(),
        Err(e) => panic!("{q:?}: {e}"),
    }
}

#[test]
fn syntax_errors_match_prometheus_2_42() {
    for (q, want) in [
        ("", "unknown position: parse error: no expression found in input"),
        ("sum 1", "1:5: parse error: unexpected number \"1\""),
        ("foo offset 5m offset 3m", "1:1: parse error: offset may not be set multiple times"),
        ("foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"),
        ("sum(foo) by (a) by (b)", "1:17: parse error: unexpected <by>"),
        ("foo + on bar", "1:10: parse error: unexpected identifier \"bar\" in grouping opts, expected \"(\""),
        ("foo + on(a b)", "1:12: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""),
        ("foo + on(1)", "1:10: parse error: unexpected number \"1\" in grouping opts, expected label"),
        ("rate(foo,)", "1:9: parse error: trailing commas not allowed in function call args"),
        ("foo(bar) +", "1:1: parse error: unknown function with name \"foo\""),
        ("sum(rate(foo bar))", "1:14: parse error: unexpected identifier \"bar\" in aggregation"),
        ("sum by (foo) bar", "1:14: parse error: unexpected identifier \"bar\" in aggregation"),
        ("bool", "1:1: parse error: unexpected <bool>"),
        ("1 +", "1:4: parse error: unexpected end of input"),
        ("-", "1:2: parse error: unexpected end of input"),
        ("(", "1:2: parse error: unclosed left parenthesis"),
        (")", "1:2: parse error: unexpected right parenthesis ')'"),
        ("foo + bar )", "1:12: parse error: unexpected right parenthesis ')'"),
        ("foo{,}", "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""),
        ("foo{a b}", "1:7: parse error: unexpected identifier \"b\" in label matching, expected label matching operator"),
        ("foo{a=b}", "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"),
        ("foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"),
        ("rate(foo[5m]", "1:13: parse error: unclosed left parenthesis"),
        ("foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"),
        ("x y z", "1:3: parse error: unexpected identifier \"y\""),
        ("foo[5m 1m]", "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\""),
    ] {
        assert_eq!(err(q), want, "{q}");
    }
}

#[test]
fn semantic_errors_match_prometheus_2_42() {
    for (q, want) in [
        ("rate()", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 0"),
        ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("{a=~\"x*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("foo offset 1m [5m]", "1:15: parse error: no offset modifiers allowed before range"),
        ("(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"),
        ("foo[5m][1m:]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"),
        ("-foo[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""),
        ("foo[0s]", "1:5: parse error: duration must be greater than 0"),
        ("1 and 2", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"),
        ("topk(foo)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"),
        ("count_values(1, foo)", "1:14: parse error: expected type string in aggregation parameter, got scalar"),
        ("quantile(\"a\", foo)", "1:10: parse error: expected type scalar in aggregation parameter, got string"),
        ("foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""),
        ("1 + \"a\"", "1:5: parse error: binary expression must contain only scalar and instant vector types"),
        ("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
        ("foo + bool on(a) group_left bar", "1:5: parse error: bool modifier can only be used on comparison operators"),
        ("avg_over_time(foo)", "1:15: parse error: expected type range vector in call to function \"avg_over_time\", got instant vector"),
        ("time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"),
        ("label_join(foo)", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"),
        ("round(foo, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"),
        ("1 offset 5m", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        ("foo > on(a) group_left(a) bar", "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"),
        ("1 + on(a) 2", "1:1: parse error: vector matching only allowed between instant vectors"),
        // Position as 2.42; Go's regexp package words the reason differently.
        ("foo{a=~\"(\"}", "1:5: parse error: error parsing regexp: unclosed group: `^(?s:()$`"),
    ] {
        assert_eq!(err(q), want, "{q}");
    }
}

#[test]
fn errors_of_newer_syntax_follow_upstream_source() {
    for (q, want) in [
        ("foo[5m", "1:7: parse error: unexpected end of input in duration expression"),
        ("foo[]", "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
        ("foo[step]", "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
        ("foo[5m:+]", "1:9: parse error: unexpected \"]\" in subquery selector, expected number, duration, step(), range(), or \"]\""),
        ("foo[5m:1m:2m]", "1:11: parse error: unexpected repeated colon in duration expression"),
        ("foo[:5m]", "1:6: parse error: unexpected colon before duration in duration expression"),
        ("foo[step()/0d]", "1:11: parse error: division by zero"),
        ("foo[5s%0d]", "1:7: parse error: modulo by zero"),
        ("foo offset (4d/0)", "1:15: parse error: division by zero"),
        ("foo offset 9.5e10", "1:12: parse error: duration out of range"),
        ("foo[9.5e10]", "1:5: parse error: duration out of range"),
        ("foo offset", "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"),
        ("foo[5m:1m] anchored", "1:1: parse error: anchored modifier is not supported for subqueries"),
        ("foo[5m] anchored smoothed", "1:1: parse error: anchored and smoothed modifiers cannot be used together"),
        ("sum(foo) smoothed", "1:1: parse error: smoothed modifier not implemented"),
        ("info(foo, bar)", "1:11: parse error: expected label selectors only, got vector selector instead"),
        ("info(foo, {a=\"b\"} == 1)", "1:11: parse error: expected label selectors only"),
        ("1 + fill(0) 2", "1:1: parse error: filling in missing series only allowed between instant vectors"),
        ("a and fill(0) b", "1:1: parse error: filling in missing series not allowed for set operators"),
    ] {
        assert_eq!(err(q), want, "{q}");
    }
}

#[test]
fn canonical_text_matches_prometheus() {
    for (q, want) in [
        // Checked against Prometheus 2.42.
        ("010", "8"),
        ("0x1F", "31"),
        ("1e3", "1000"),
        (".5", "0.5"),
        ("Inf", "+Inf"),
        ("-Inf", "-Inf"),
        ("- - 1", "1"),
        ("-1^2", "-1 ^ 2"),
        ("foo @ 1234.567", "foo @ 1234.567"),
        ("foo[5m:] @ 100 offset 1m", "foo[5m:] @ 100.000 offset 1m"),
        ("foo offset -5m", "foo offset -5m"),
        ("rate(foo[90s])", "rate(foo[1m30s])"),
        ("a * on(x) group_left(y) b", "a * on (x) group_left (y) b"),
        ("a * ignoring(x) group_right b", "a * ignoring (x) group_right () b"),
        ("sum(foo) without (a)", "sum without (a) (foo)"),
        ("foo{a='b'}", "foo{a=\"b\"}"),
        ("foo{a=\"b\" # c\n}", "foo{a=\"b\"}"),
        ("foo{c=\"d\",a=\"b\"}", "foo{a=\"b\",c=\"d\"}"),
        ("{__name__=\"foo\"}", "{__name__=\"foo\"}"),
        ("'it\\'s'", "\"it's\""),
        // Newer syntax, printed as upstream's printer.go does.
        ("foo[5m+1m]", "foo[5m + 1m]"),
        ("foo[(5m)]", "foo[(5m)]"),
        ("foo[step()*2] offset -step()", "foo[step() * 2] offset -step()"),
        ("foo offset max_of(step(), 1s)", "foo offset max_of(step(), 1s)"),
        ("foo[5m] anchored @ 10 offset 1m", "foo[5m] anchored @ 10.000 offset 1m"),
        ("foo smoothed", "foo smoothed"),
        ("foo[1800]", "foo[30m]"),
        ("a + fill_left(1) fill_right(2) b", "a + fill_left (1) fill_right (2) b"),
        ("a + fill(-1) b", "a + fill (-1) b"),
        ("a >/ 0.5", "a >/ 0.5"),
        ("{\"my.metric\"}", "{__name__=\"my.metric\"}"),
        ("sum by (\"a.b\") (x)", "sum by (\"a.b\") (x)"),
        ("foo * 5m", "foo * 5m"),
    ] {
        assert_eq!(text(q), want, "{q}");
    }
}

#[test]
fn precedence_and_associativity() {
    let shape = |q: &str| match parse(q).unwrap() {
        Expr::Binary(b) => (b.op, b.lhs.to_string(), b.rhs.to_string()),
        other => panic!("{q}: {other:?}"),
    };
    for (q, op, lhs, rhs) in [
        ("a - b - c", BinOp::Sub, "a - b", "c"),
        ("a ^ b ^ c", BinOp::Pow, "a", "b ^ c"),
        ("a + b * c", BinOp::Add, "a", "b * c"),
        ("a or b and c unless d", BinOp::Or, "a", "b and c unless d"),
        ("-a * b", BinOp::Mul, "-a", "b"),
        ("a == b + c", BinOp::Eql, "a", "b + c"),
        ("a >/ b + c", BinOp::TrimLower, "a", "b + c"),
        ("a atan2 b * c", BinOp::Mul, "a atan2 b", "c"),
        // `offset` ends at its literal, `step()` or `min_of()`.
        ("x offset 100 + 2", BinOp::Add, "x offset 1m40s", "2"),
        ("x offset -2 ^ 2", BinOp::Pow, "x offset -2s", "2"),
        ("x offset step() * 0", BinOp::Mul, "x offset step()", "0"),
        ("x offset -(1m) + 2", BinOp::Add, "x offset -(1m)", "2"),
    ] {
        assert_eq!(shape(q), (op, lhs.to_string(), rhs.to_string()), "{q}");
    }
    // A negated power stays one unary expression.
    assert!(matches!(parse("-a ^ b").unwrap(), Expr::Unary(_)));
    // After an unsigned parenthesis the offset expression goes on.
    assert_eq!(text("x offset (1m) + 2"), "x offset (1m) + 2");
    assert!(matches!(parse("x offset (1m) + 2").unwrap(), Expr::Vector(_)));
}

#[test]
fn keywords_are_names_where_upstream_allows_them() {
    for q in [
        "sum by (anchored) (foo)",
        "anchored",
        "smoothed{a=\"b\"}",
        "sum by (smoothed, offset, on, bool, step, range) (x)",
        "fill + fill",
        "step + range",
        "offset",
        "foo{anchored=\"1\", by=\"2\"}",
    ] {
        assert!(parse(q).is_ok(), "{q}: {:?}", parse(q));
    }
}

#[test]
fn info_selector_may_match_empty() {
    let e = parse("info(foo, {k8s_cluster_name=~\".*\"})").unwrap();
    let Expr::Call(c) = e else { panic!() };
    let Expr::Vector(vs) = &c.args[1] else { panic!() };
    assert!(vs.bypass_empty_matcher_check);
}

/// Runs `f` on a thread with a 2 MiB stack, as deep queries must fit.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// Each kind of nesting, `n` levels deep (`n` even).
fn nested(n: usize) -> Vec<(&'static str, String)> {
    let pairs = n / 2;
    vec![
        ("parentheses", format!("{}x{}", "(".repeat(n), ")".repeat(n))),
        ("calls", format!("{}x{}", "abs(".repeat(n), ")".repeat(n))),
        ("aggregations", format!("{}x{}", "sum(".repeat(n), ")".repeat(n))),
        ("unary operators", format!("{}x", "-".repeat(n))),
        ("binary chain", format!("x{}", "+x".repeat(n))),
        ("right-nested binary", format!("{}x", "x^".repeat(n))),
        (
            "subqueries in calls",
            format!("{}x{}", "max_over_time(".repeat(pairs), "[1m:])".repeat(pairs)),
        ),
        (
            "range selectors in calls",
            format!("{}rate(x[5m]){}", "abs(".repeat(n - 2), ")".repeat(n - 2)),
        ),
    ]
}

#[test]
fn nesting_at_the_limit_parses_on_a_small_stack() {
    on_small_stack(|| {
        for (kind, q) in nested(MAX_NESTING_DEPTH) {
            let e = parse(&q);
            assert!(e.is_ok(), "{kind}: {:?}", e.err());
        }
    });
}

#[test]
fn nesting_past_the_limit_is_refused() {
    on_small_stack(|| {
        for (kind, q) in nested(MAX_NESTING_DEPTH + 2) {
            let e = parse(&q).expect_err(kind);
            assert!(
                e.message == "expression nesting exceeds the limit of 1000 levels",
                "{kind}: {e}"
            );
        }
        let n = MAX_NESTING_DEPTH + 1;
        for q in [
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            format!("{}x", "-".repeat(n)),
            format!("x{}", "+x".repeat(n)),
            format!("{}x", "x^".repeat(n)),
        ] {
            assert!(parse(&q).is_err(), "1001 levels: {}", &q[..20]);
        }
        // Far past the limit: refused quickly, without recursing.
        let t = std::time::Instant::now();
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).is_err());
        let chain = format!("x{}", "+x".repeat(10_000));
        assert!(parse(&chain).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    });
}
