//! A canonical form of what an expression means, built from either
//! parser's tree: parentheses dropped, label lists sorted, durations in
//! milliseconds, numbers by their bits. Equal forms mean equal queries.

use std::time::{Duration, UNIX_EPOCH};

use promql_parser::label::{MatchOp as CMatchOp, Matchers};
use promql_parser::parser::{self as crate_ast, AtModifier, LabelModifier, Offset, VectorMatchCardinality};
use tessera::promql::parser::{self as ours, At, Cardinality, Expr};

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v:?}")
    }
}

fn sorted(mut v: Vec<String>) -> String {
    v.sort();
    v.dedup();
    v.join(",")
}

fn selector(name: Option<&str>, mut matchers: Vec<String>, offset: String, at: String) -> String {
    if let Some(n) = name {
        matchers.push(format!("__name__=\"{n}\""));
    }
    format!("sel{{{}}} off={offset} at={at}", sorted(matchers))
}

fn matching(set: bool, card: &str, on: bool, labels: Vec<String>, include: Vec<String>, fill: (Option<f64>, Option<f64>)) -> String {
    let card = if set { "n:n" } else { card };
    let f = |v: Option<f64>| v.map_or("-".into(), num);
    format!(
        "[{card} {} ({}) incl({}) fill({},{})]",
        if on { "on" } else { "ignoring" },
        sorted(labels),
        sorted(include),
        f(fill.0),
        f(fill.1)
    )
}

/// Our tree's meaning.
pub fn of_ours(e: &Expr) -> String {
    match e {
        Expr::Number(n) => num(n.val),
        Expr::String(s) => format!("{:?}", s.val),
        Expr::Vector(vs) => our_selector(vs),
        Expr::Matrix(m) => format!("{}[{}]", our_selector(&m.vs), our_duration(&m.range)),
        Expr::Subquery(s) => format!(
            "({})[{}:{}] off={} at={}",
            of_ours(&s.expr),
            our_duration(&s.range),
            s.step.as_ref().map_or("-".into(), our_duration),
            s.offset.as_ref().map_or("0".into(), our_duration),
            our_at(s.at)
        ),
        Expr::Paren(p) => of_ours(&p.expr),
        Expr::Unary(u) if u.negate => format!("neg({})", of_ours(&u.expr)),
        Expr::Unary(u) => of_ours(&u.expr),
        Expr::Binary(b) => {
            let m = b.matching.as_ref().map_or(String::new(), |m| {
                let card = match m.card {
                    Cardinality::OneToOne => "1:1",
                    Cardinality::ManyToOne => "n:1",
                    Cardinality::OneToMany => "1:n",
                    Cardinality::ManyToMany => "n:n",
                };
                matching(b.op.is_set(), card, m.on, m.labels.clone(), m.include.clone(), (m.fill_lhs, m.fill_rhs))
            });
            let bool_ = if b.return_bool { " bool" } else { "" };
            format!("({} {}{bool_}{m} {})", of_ours(&b.lhs), b.op.as_str(), of_ours(&b.rhs))
        }
        Expr::Aggregate(a) => format!(
            "{}{}({}){}({})",
            a.op.as_str(),
            if a.without { " without" } else { " by" },
            sorted(a.grouping.clone()),
            a.param.as_ref().map_or(String::new(), |p| format!("{},", of_ours(p))),
            of_ours(&a.expr)
        ),
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(of_ours).collect();
            format!("{}({})", c.func.name, args.join(", "))
        }
    }
}

fn our_duration(d: &ours::Duration) -> String {
    match d {
        ours::Duration::Fixed(ns) => (ns / 1_000_000).to_string(),
        ours::Duration::Expr(e) => {
            // Printed through the printer (as an offset), without positions.
            let Ok(Expr::Vector(mut vs)) = ours::parse("x") else {
                unreachable!("x is a selector")
            };
            vs.offset = Some(ours::Duration::Expr(e.clone()));
            format!("expr:{}", vs.to_string().trim_start_matches("x offset "))
        }
    }
}

fn our_at(at: Option<At>) -> String {
    match at {
        None => "-".into(),
        Some(At::Start) => "start".into(),
        Some(At::End) => "end".into(),
        Some(At::Time(ms)) => ms.to_string(),
    }
}

fn our_selector(vs: &ours::VectorSelector) -> String {
    let ms = vs
        .matchers
        .iter()
        .map(|m| format!("{}{}{:?}", m.name, m.op.as_str(), m.value))
        .collect();
    let name = (!vs.name.is_empty()).then_some(vs.name.as_str());
    let off = vs.offset.as_ref().map_or("0".into(), our_duration);
    let mut s = selector(name, ms, off, our_at(vs.at));
    if vs.anchored {
        s.push_str(" anchored");
    }
    if vs.smoothed {
        s.push_str(" smoothed");
    }
    s
}

fn dur_ms(d: &Duration) -> i64 {
    d.as_millis() as i64
}

fn crate_offset(o: Option<&Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => dur_ms(d),
        Some(Offset::Neg(d)) => -dur_ms(d),
        None => 0,
    }
}

fn crate_at(a: Option<&AtModifier>) -> String {
    match a {
        None => "-".into(),
        Some(AtModifier::Start) => "start".into(),
        Some(AtModifier::End) => "end".into(),
        Some(AtModifier::At(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => dur_ms(&d).to_string(),
            Err(e) => (-dur_ms(&e.duration())).to_string(),
        },
    }
}

fn crate_matchers(ms: &Matchers) -> Vec<String> {
    ms.matchers
        .iter()
        .map(|m| {
            let op = match m.op {
                CMatchOp::Equal => "=",
                CMatchOp::NotEqual => "!=",
                CMatchOp::Re(_) => "=~",
                CMatchOp::NotRe(_) => "!~",
            };
            format!("{}{op}{:?}", m.name, m.value)
        })
        .collect()
}

fn crate_selector(vs: &crate_ast::VectorSelector) -> String {
    selector(
        vs.name.as_deref(),
        crate_matchers(&vs.matchers),
        crate_offset(vs.offset.as_ref()).to_string(),
        crate_at(vs.at.as_ref()),
    )
}

fn labels(m: &Option<LabelModifier>) -> (bool, Vec<String>) {
    match m {
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    }
}

/// The crate's tree's meaning; `None` for constructs ours has no
/// counterpart of (`or` between matcher groups, extension nodes).
pub fn of_crate(e: &crate_ast::Expr) -> Option<String> {
    use crate_ast::Expr as C;
    Some(match e {
        C::NumberLiteral(n) => num(n.val),
        C::StringLiteral(s) => format!("{:?}", s.val),
        C::VectorSelector(vs) if !vs.matchers.or_matchers.is_empty() => return None,
        C::VectorSelector(vs) => crate_selector(vs),
        C::MatrixSelector(m) => format!("{}[{}]", crate_selector(&m.vs), dur_ms(&m.range)),
        C::Subquery(s) => format!(
            "({})[{}:{}] off={} at={}",
            of_crate(&s.expr)?,
            dur_ms(&s.range),
            s.step.as_ref().map_or("-".into(), |d| dur_ms(d).to_string()),
            crate_offset(s.offset.as_ref()),
            crate_at(s.at.as_ref())
        ),
        C::Paren(p) => of_crate(&p.expr)?,
        C::Unary(u) => format!("neg({})", of_crate(&u.expr)?),
        C::Binary(b) => {
            let op = b.op.to_string();
            let set = matches!(op.as_str(), "and" | "or" | "unless");
            let m = match &b.modifier {
                Some(m) if both_vectors(&b.lhs, &b.rhs) => {
                    let (on, ls) = labels(&m.matching);
                    let (card, include) = match &m.card {
                        VectorMatchCardinality::OneToOne => ("1:1", Vec::new()),
                        VectorMatchCardinality::ManyToOne(l) => ("n:1", l.labels.clone()),
                        VectorMatchCardinality::OneToMany(l) => ("1:n", l.labels.clone()),
                        VectorMatchCardinality::ManyToMany => ("n:n", Vec::new()),
                    };
                    matching(set, card, on, ls, include, (m.fill_values.lhs, m.fill_values.rhs))
                }
                None if both_vectors(&b.lhs, &b.rhs) => {
                    matching(set, "1:1", false, Vec::new(), Vec::new(), (None, None))
                }
                _ => String::new(),
            };
            let bool_ = if b.modifier.as_ref().is_some_and(|m| m.return_bool) { " bool" } else { "" };
            format!("({} {op}{bool_}{m} {})", of_crate(&b.lhs)?, of_crate(&b.rhs)?)
        }
        C::Aggregate(a) => {
            let (without, ls) = match &a.modifier {
                Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
                Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
                None => (false, Vec::new()),
            };
            let param = match &a.param {
                Some(p) => format!("{},", of_crate(p)?),
                None => String::new(),
            };
            format!(
                "{}{}({}){param}({})",
                a.op,
                if without { " without" } else { " by" },
                sorted(ls),
                of_crate(&a.expr)?
            )
        }
        C::Call(c) => {
            let args: Option<Vec<String>> = c.args.args.iter().map(|a| of_crate(a)).collect();
            format!("{}({})", c.func.name, args?.join(", "))
        }
        C::Extension(_) => return None,
    })
}

fn both_vectors(l: &crate_ast::Expr, r: &crate_ast::Expr) -> bool {
    use promql_parser::parser::value::ValueType;
    l.value_type() == ValueType::Vector && r.value_type() == ValueType::Vector
}
