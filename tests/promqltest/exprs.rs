//! What the runner needs to know about an expression: which series its
//! selectors can match, the `@`-pinned variant upstream also runs, and a
//! name for constructs the parser cannot parse.

use tessera::promql::parser::{At, Expr, LabelMatcher, MatchOp, VectorSelector};

use super::values::LabelSet;

/// Calls `f` on every vector selector (plain or inside a matrix selector).
fn for_each_selector(e: &Expr, f: &mut dyn FnMut(&VectorSelector)) {
    match e {
        Expr::Vector(vs) => f(vs),
        Expr::Matrix(ms) => f(&ms.vs),
        Expr::Aggregate(a) => {
            for_each_selector(&a.expr, f);
            if let Some(p) = &a.param {
                for_each_selector(p, f);
            }
        }
        Expr::Unary(u) => for_each_selector(&u.expr, f),
        Expr::Binary(b) => {
            for_each_selector(&b.lhs, f);
            for_each_selector(&b.rhs, f);
        }
        Expr::Paren(p) => for_each_selector(&p.expr, f),
        Expr::Subquery(s) => for_each_selector(&s.expr, f),
        Expr::Call(c) => c.args.iter().for_each(|a| for_each_selector(a, f)),
        Expr::Number(_) | Expr::String(_) => {}
    }
}

fn label<'a>(set: &'a LabelSet, name: &str) -> &'a str {
    set.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn matcher_matches(m: &LabelMatcher, value: &str) -> bool {
    let op = match m.op {
        MatchOp::Equal => tessera::storage::MatchOp::Equal,
        MatchOp::NotEqual => tessera::storage::MatchOp::NotEqual,
        MatchOp::Regex => tessera::storage::MatchOp::Regex,
        MatchOp::NotRegex => tessera::storage::MatchOp::NotRegex,
    };
    tessera::storage::Matcher::new(op, &m.name, &m.value).is_ok_and(|sm| sm.matches(value))
}

/// Whether `vs` would select a series with labels `set`.
pub fn selector_matches(vs: &VectorSelector, set: &LabelSet) -> bool {
    if !vs.name.is_empty() && label(set, "__name__") != vs.name {
        return false;
    }
    vs.matchers
        .iter()
        .all(|m| matcher_matches(m, label(set, &m.name)))
}

/// Whether any selector of `e` matches any of `sets`.
pub fn selects_any(e: &Expr, sets: &[LabelSet]) -> bool {
    if sets.is_empty() {
        return false;
    }
    let mut hit = false;
    for_each_selector(e, &mut |vs| {
        hit = hit || sets.iter().any(|s| selector_matches(vs, s));
    });
    hit
}

/// Functions whose result depends on the evaluation time even when their
/// arguments do not (upstream `promql.AtModifierUnsafeFunctions`).
const AT_UNSAFE_FUNCTIONS: [&str; 15] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// Pins a selector or subquery to `t` unless it has a fixed timestamp.
/// Upstream checks only its `Timestamp` field, which `@ start()`/`@ end()`
/// leave unset, so those are pinned too.
fn pin(at: &mut Option<At>, t_ms: i64) {
    if !matches!(at, Some(At::Time(_))) {
        *at = Some(At::Time(t_ms));
    }
}

/// Adds `@ t` to every selector and subquery outside subqueries, and reports
/// whether a time-dependent function was seen on the way (then upstream
/// skips the `@` variants). Reproduces upstream `atModifierTestCases`,
/// which stops descending at any subquery once it carries a timestamp.
fn pin_all(e: &mut Expr, t_ms: i64, unsafe_fn: &mut bool) {
    match e {
        Expr::Vector(vs) => pin(&mut vs.at, t_ms),
        Expr::Matrix(ms) => pin(&mut ms.vs.at, t_ms),
        Expr::Subquery(s) => pin(&mut s.at, t_ms),
        Expr::Aggregate(a) => {
            pin_all(&mut a.expr, t_ms, unsafe_fn);
            if let Some(p) = &mut a.param {
                pin_all(p, t_ms, unsafe_fn);
            }
        }
        Expr::Unary(u) => pin_all(&mut u.expr, t_ms, unsafe_fn),
        Expr::Binary(b) => {
            pin_all(&mut b.lhs, t_ms, unsafe_fn);
            pin_all(&mut b.rhs, t_ms, unsafe_fn);
        }
        Expr::Paren(p) => pin_all(&mut p.expr, t_ms, unsafe_fn),
        Expr::Call(c) => {
            *unsafe_fn |= AT_UNSAFE_FUNCTIONS.contains(&c.func.name);
            for a in c.args.iter_mut() {
                pin_all(a, t_ms, unsafe_fn);
            }
        }
        Expr::Number(_) | Expr::String(_) => {}
    }
}

/// The `@`-pinned variant of `e` and the times to run it at, or `None`
/// when upstream skips the variants. Upstream `atModifierTestCases`.
pub fn at_variants(e: &Expr, t_ms: i64) -> Option<(Expr, Vec<i64>)> {
    let mut pinned = e.clone();
    let mut unsafe_fn = false;
    pin_all(&mut pinned, t_ms, &mut unsafe_fn);
    if unsafe_fn {
        return None;
    }
    let times = if t_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t_ms, 0, t_ms / 5, t_ms, 10 * t_ms]
    };
    Some((pinned, times))
}

/// Whether upstream skips the range-mode check: the query text mentions
/// `start()`, `end()`, `range()` or `step()` (upstream `reQueryContextFuncs`).
pub fn uses_query_context(text: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| text.contains(f))
}

/// Names the construct that made the crate refuse `expr`, for skip reasons.
pub fn unparsed_reason(expr: &str, err: &str) -> String {
    let has_word = |w: &str| {
        expr.match_indices(w).any(|(i, _)| {
            let before = expr[..i].chars().next_back();
            let after = expr[i + w.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    if has_word("anchored") || has_word("smoothed") {
        return "extended range selector (anchored/smoothed)".into();
    }
    if expr.contains(">/") || expr.contains("</") {
        return "trim operator (>/ or </)".into();
    }
    if ["fill(", "fill_left(", "fill_right("]
        .iter()
        .any(|f| expr.contains(f))
    {
        return "binop fill modifier".into();
    }
    if has_duration_expression(expr) {
        return "duration expression".into();
    }
    if expr.contains("info(") {
        return format!("info(): {}", short_error(err));
    }
    format!("unparsed: {}", short_error(err))
}

/// A parser error without its position details, so equal errors group.
fn short_error(err: &str) -> String {
    let first = err.lines().next().unwrap_or(err);
    let cut = first.find(" at ").map_or(first, |i| &first[..i]);
    cut.chars().take(80).collect()
}

/// Whether a `[...]` range or an `offset` holds more than a plain duration.
fn has_duration_expression(expr: &str) -> bool {
    let plain = |s: &str| {
        let s = s.trim();
        s.is_empty()
            || s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                && s.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut rest = expr;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        if !inner.split(':').all(plain) {
            return true;
        }
        rest = &rest[open + close + 1..];
    }
    expr.match_indices("offset").any(|(i, _)| {
        let after = expr[i + 6..].trim_start();
        let after = after.strip_prefix('-').unwrap_or(after);
        let tok: String = after
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ')')
            .collect();
        !plain(&tok) || after.starts_with('(')
    })
}
