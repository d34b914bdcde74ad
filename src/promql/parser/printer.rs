//! The canonical text of an expression (upstream `promql/parser/printer.go`,
//! the `String` methods): what `format_query` prints for short queries and
//! what annotations and the conformance runner's rewritten queries use.

use std::fmt::{self, Write};

use super::ast::*;
use super::duration::format_duration;
use super::quote::go_quote;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// A label name as printed in grouping clauses: quoted unless it is a
/// legacy (`[a-zA-Z_][a-zA-Z0-9_]*`) name.
fn write_label(out: &mut String, l: &str) {
    let legacy = !l.is_empty()
        && l.chars().enumerate().all(|(i, c)| {
            c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
        });
    if legacy {
        out.push_str(l);
    } else {
        out.push_str(&go_quote(l));
    }
}

pub(crate) fn write_labels(out: &mut String, labels: &[String]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_label(out, l);
    }
}

/// `labels.Matcher.String`.
fn matcher_string(m: &LabelMatcher) -> String {
    let mut s = String::new();
    write_label(&mut s, &m.name);
    s.push_str(m.op.as_str());
    s.push_str(&go_quote(&m.value));
    s
}

fn number_string(n: &NumberLiteral) -> String {
    if n.duration {
        if n.val < 0.0 {
            return format!("-{}", format_duration((-n.val * 1e9) as i64));
        }
        return format_duration((n.val * 1e9) as i64);
    }
    format_float(n.val)
}

fn write_duration_node(out: &mut String, n: &DurationNode) {
    match n {
        DurationNode::Number(n) => out.push_str(&number_string(n)),
        DurationNode::Op(e) => write_duration_expr(out, e),
    }
}

/// `DurationExpr.writeTo`.
pub(crate) fn write_duration_expr(out: &mut String, e: &DurationExpr) {
    if e.wrapped {
        out.push('(');
    }
    let side = |out: &mut String, n: &Option<DurationNode>| {
        if let Some(n) = n {
            write_duration_node(out, n);
        }
    };
    match e.op {
        DurationOp::Step => out.push_str("step()"),
        DurationOp::Range => out.push_str("range()"),
        DurationOp::MinOf | DurationOp::MaxOf => {
            out.push_str(if e.op == DurationOp::MinOf { "min_of(" } else { "max_of(" });
            side(out, &e.lhs);
            out.push_str(", ");
            side(out, &e.rhs);
            out.push(')');
        }
        op if e.lhs.is_none() => {
            if op == DurationOp::Sub {
                out.push('-');
            }
            side(out, &e.rhs);
        }
        op => {
            side(out, &e.lhs);
            out.push(' ');
            out.push_str(duration_op_str(op));
            out.push(' ');
            side(out, &e.rhs);
        }
    }
    if e.wrapped {
        out.push(')');
    }
}

fn duration_op_str(op: DurationOp) -> &'static str {
    match op {
        DurationOp::Add => "+",
        DurationOp::Sub => "-",
        DurationOp::Mul => "*",
        DurationOp::Div => "/",
        DurationOp::Mod => "%",
        DurationOp::Pow => "^",
        DurationOp::Step => "step",
        DurationOp::Range => "range",
        DurationOp::MinOf => "min_of",
        DurationOp::MaxOf => "max_of",
    }
}

fn write_range(out: &mut String, d: &Duration) {
    match d {
        Duration::Fixed(ns) => out.push_str(&format_duration(*ns)),
        Duration::Expr(e) => write_duration_expr(out, e),
    }
}

fn write_offset(out: &mut String, d: &Option<Duration>) {
    match d {
        Some(Duration::Expr(e)) => {
            out.push_str(" offset ");
            write_duration_expr(out, e);
        }
        Some(Duration::Fixed(ns)) if *ns > 0 => {
            out.push_str(" offset ");
            out.push_str(&format_duration(*ns));
        }
        Some(Duration::Fixed(ns)) if *ns < 0 => {
            out.push_str(" offset -");
            out.push_str(&format_duration(-*ns));
        }
        _ => {}
    }
}

fn write_at(out: &mut String, at: &Option<At>) {
    match at {
        Some(At::Time(ms)) => {
            let _ = write!(out, " @ {:.3}", *ms as f64 / 1000.0);
        }
        Some(At::Start) => out.push_str(" @ start()"),
        Some(At::End) => out.push_str(" @ end()"),
        None => {}
    }
}

/// The selector's name and sorted matchers, without modifiers.
fn write_selector_body(out: &mut String, vs: &VectorSelector) {
    let mut labels: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| {
            !(m.name == "__name__" && m.op == MatchOp::Equal && m.value == vs.name && !m.value.is_empty())
        })
        .map(matcher_string)
        .collect();
    out.push_str(&vs.name);
    if !labels.is_empty() {
        labels.sort();
        out.push('{');
        out.push_str(&labels.join(","));
        out.push('}');
    }
}

/// `VectorSelector.String`.
pub(crate) fn write_vector_selector(out: &mut String, vs: &VectorSelector) {
    write_selector_body(out, vs);
    write_at(out, &vs.at);
    if vs.anchored {
        out.push_str(" anchored");
    } else if vs.smoothed {
        out.push_str(" smoothed");
    }
    write_offset(out, &vs.offset);
}

fn write_matrix(out: &mut String, m: &MatrixSelector) {
    write_selector_body(out, &m.vs);
    out.push('[');
    write_range(out, &m.range);
    out.push(']');
    if m.vs.anchored {
        out.push_str(" anchored");
    } else if m.vs.smoothed {
        out.push_str(" smoothed");
    }
    write_at(out, &m.vs.at);
    write_offset(out, &m.vs.offset);
}

/// `[range:step] @ t offset d` of a subquery.
pub(crate) fn subquery_suffix(s: &SubqueryExpr) -> String {
    let mut out = String::from("[");
    write_range(&mut out, &s.range);
    out.push(':');
    match &s.step {
        Some(Duration::Fixed(ns)) if *ns != 0 => out.push_str(&format_duration(*ns)),
        Some(Duration::Expr(e)) => write_duration_expr(&mut out, e),
        _ => {}
    }
    out.push(']');
    write_at(&mut out, &s.at);
    write_offset(&mut out, &s.offset);
    out
}

/// `AggregateExpr.ShortString`: the operator and its grouping clause.
pub(crate) fn aggregate_head(a: &AggregateExpr) -> String {
    let mut out = String::from(a.op.as_str());
    if a.without {
        out.push_str(" without (");
        write_labels(&mut out, &a.grouping);
        out.push_str(") ");
    } else if !a.grouping.is_empty() {
        out.push_str(" by (");
        write_labels(&mut out, &a.grouping);
        out.push_str(") ");
    }
    out
}

/// `BinaryExpr.getMatchingStr`.
pub(crate) fn matching_string(b: &BinaryExpr) -> String {
    let mut out = String::new();
    let Some(vm) = &b.matching else {
        return out;
    };
    let grouped = matches!(vm.card, Cardinality::ManyToOne | Cardinality::OneToMany);
    if !vm.labels.is_empty() || vm.on || grouped {
        out.push_str(if vm.on { " on (" } else { " ignoring (" });
        write_labels(&mut out, &vm.labels);
        out.push(')');
    }
    if grouped {
        out.push_str(if vm.card == Cardinality::ManyToOne {
            " group_left ("
        } else {
            " group_right ("
        });
        write_labels(&mut out, &vm.include);
        out.push(')');
    }
    match (vm.fill_lhs, vm.fill_rhs) {
        (Some(l), Some(r)) if l == r => {
            let _ = write!(out, " fill ({})", go_value(l));
        }
        (l, r) => {
            if let Some(l) = l {
                let _ = write!(out, " fill_left ({})", go_value(l));
            }
            if let Some(r) = r {
                let _ = write!(out, " fill_right ({})", go_value(r));
            }
        }
    }
    out
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`).
fn go_value(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_float(v);
    }
    let exp = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
    if (-4..21).contains(&exp) {
        return format!("{v}");
    }
    let s = format!("{v:e}");
    let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// `BinaryExpr` operator with `bool` and matching, as printed between operands.
pub(crate) fn binary_op_string(b: &BinaryExpr) -> String {
    let mut s = String::from(b.op.as_str());
    if b.return_bool {
        s.push_str(" bool");
    }
    s.push_str(&matching_string(b));
    s
}

/// Appends `e`'s canonical text.
pub(crate) fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Number(n) => out.push_str(&number_string(n)),
        Expr::String(s) => out.push_str(&go_quote(&s.val)),
        Expr::Vector(vs) => write_vector_selector(out, vs),
        Expr::Matrix(m) => write_matrix(out, m),
        Expr::Subquery(s) => {
            write_expr(out, &s.expr);
            out.push_str(&subquery_suffix(s));
        }
        Expr::Paren(p) => {
            out.push('(');
            write_expr(out, &p.expr);
            out.push(')');
        }
        Expr::Unary(u) => {
            out.push(if u.negate { '-' } else { '+' });
            write_expr(out, &u.expr);
        }
        Expr::Binary(b) => {
            write_expr(out, &b.lhs);
            out.push(' ');
            out.push_str(&binary_op_string(b));
            out.push(' ');
            write_expr(out, &b.rhs);
        }
        Expr::Aggregate(a) => {
            out.push_str(&aggregate_head(a));
            out.push('(');
            if let Some(p) = &a.param {
                write_expr(out, p);
                out.push_str(", ");
            }
            write_expr(out, &a.expr);
            out.push(')');
        }
        Expr::Call(c) => {
            out.push_str(c.func.name);
            out.push('(');
            for (i, a) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_expr(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for VectorSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_vector_selector(&mut s, self);
        f.write_str(&s)
    }
}
