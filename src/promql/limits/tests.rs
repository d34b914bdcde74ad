use promql_parser::parser::Expr;
use proptest::prelude::*;

use super::*;

/// The depth of a parsed expression: one level per node with children,
/// as [`MAX_NESTING_DEPTH`] counts them.
fn depth(e: &Expr) -> usize {
    match e {
        Expr::Aggregate(a) => {
            1 + depth(&a.expr).max(a.param.as_deref().map_or(0, depth))
        }
        Expr::Unary(u) => 1 + depth(&u.expr),
        Expr::Binary(b) => 1 + depth(&b.lhs).max(depth(&b.rhs)),
        Expr::Paren(p) => 1 + depth(&p.expr),
        Expr::Subquery(s) => 1 + depth(&s.expr),
        Expr::MatrixSelector(_) => 1,
        Expr::Call(c) => 1 + c.args.args.iter().map(|a| depth(a)).max().unwrap_or(0),
        _ => 0,
    }
}

fn nested(kind: &str, n: usize) -> String {
    match kind {
        "parens" => format!("{}x{}", "(".repeat(n), ")".repeat(n)),
        "calls" => format!("{}x{}", "abs(".repeat(n), ")".repeat(n)),
        "aggregations" => format!("{}x{}", "sum(".repeat(n), ")".repeat(n)),
        "operators" => format!("x{}", " + x".repeat(n)),
        "right-assoc" => format!("x{}", "^x".repeat(n)),
        "set operators" => format!("x{}", " or x".repeat(n)),
        "unary" => format!("{}x", "-".repeat(n)),
        // Each level is a call holding a subquery of a parenthesis: three levels.
        "subqueries" => {
            let mut q = "x".to_string();
            for _ in 0..n / 3 {
                q = format!("max_over_time(({q})[5m:1m])");
            }
            q
        }
        _ => unreachable!("{kind}"),
    }
}

const KINDS: [&str; 8] = [
    "parens",
    "calls",
    "aggregations",
    "operators",
    "right-assoc",
    "set operators",
    "unary",
    "subqueries",
];

#[test]
fn every_kind_of_nesting_is_accepted_at_the_limit_and_refused_beyond() {
    for kind in KINDS {
        let at = nested(kind, MAX_NESTING_DEPTH);
        let parsed = promql_parser::parser::parse(&at).unwrap();
        // Exact for every kind (subqueries come in steps of three levels).
        assert_eq!(nesting_bound(&at), depth(&parsed), "{kind}");
        assert!(MAX_NESTING_DEPTH - depth(&parsed) < 3, "{kind}");
        assert!(check_nesting(&at).is_ok(), "{kind} at the limit");
        let beyond = nested(kind, MAX_NESTING_DEPTH + 3);
        let err = check_nesting(&beyond).unwrap_err();
        assert_eq!(err.error_type(), "bad_data", "{kind}");
        assert_eq!(
            err.to_string(),
            "parse error: expression nesting exceeds the limit of 1000 levels"
        );
    }
}

#[test]
fn bounds_of_small_shapes() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("x", 0),
        ("1", 0),
        ("-1", 1),
        ("1e-5", 0),
        ("1E+5 + 2", 1),
        ("x + 1e-3", 1),
        ("rate(x[5m])", 2),
        ("max_over_time((x)[5m:1m])", 3),
        ("sum by (a, b) (rate(x{a=\"(((\"}[5m]))", 3),
        ("x{a=~\"a+b+c\", b!=\"-\"}", 0),
        ("x # ((((( + + +\n", 0),
        ("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)+\")", 1),
        ("`((((`", 0),
        ("x and y or z unless w", 3),
        ("x >= 1 <= 2 == 3 != 4", 4),
        ("a atan2 b", 1),
        ("x offset -5m", 1),
        ("(((", 3),
        (")))", 0),
    ];
    for (q, want) in cases {
        assert_eq!(nesting_bound(q), *want, "{q:?}");
    }
}

#[test]
fn the_bound_is_never_below_the_parsed_depth_on_the_conformance_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peer-tests/promqltest");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("promqltest dir") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "test") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("eval") else {
                continue;
            };
            // `eval[_fail|_warn|...] instant|range ... <expr>`: the expression
            // follows the last keyword argument; try every suffix.
            let words: Vec<&str> = rest.split(' ').collect();
            for i in 1..words.len() {
                let q = words[i..].join(" ");
                if let Ok(e) = promql_parser::parser::parse(&q) {
                    assert!(nesting_bound(&q) >= depth(&e), "{q}");
                    checked += 1;
                    break;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} expressions checked");
}

/// Random expressions built from the grammar's nesting forms.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("1".to_string()),
        Just("y{a=\"(\"}".to_string()),
        Just("2e-3".to_string()),
    ];
    leaf.prop_recursive(8, 64, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("abs({e})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("sum by (a) ({e})")),
            inner.clone().prop_map(|e| format!("rate(({e})[5m:1m])")),
            (inner.clone(), inner.clone(), 0..6usize).prop_map(|(a, b, op)| {
                let op = ["+", "*", "^", "and", "or", ">="][op];
                format!("{a} {op} {b}")
            }),
            (inner.clone(), inner).prop_map(|(a, b)| format!("clamp_min({a}, {b})")),
        ]
    })
}

proptest! {
    #[test]
    fn the_bound_is_never_below_the_parsed_depth(q in expr()) {
        if let Ok(e) = promql_parser::parser::parse(&q) {
            prop_assert!(nesting_bound(&q) >= depth(&e), "{} < {}", nesting_bound(&q), depth(&e));
        }
    }

    #[test]
    fn any_text_is_scanned_without_panicking(q in ".{0,200}") {
        let _ = nesting_bound(&q);
    }
}
