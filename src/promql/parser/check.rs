//! Type checks on a parsed tree (upstream `parser.checkAST`), run only when
//! parsing succeeded. The traversal order matches upstream's, so the first
//! error found is the one Prometheus reports. Set operators get their
//! many-to-many matching here, and operations involving scalars lose their
//! (meaningless) vector matching, as upstream does.

use super::ast::*;
use super::parse::{PErr, PResult};
use super::quote::go_quote;

struct Checker<'a> {
    input: &'a str,
}

/// Checks the syntax of a matcher's regular expression (anchored as
/// Prometheus anchors it) without compiling it.
pub(crate) fn check_regex(re: &str) -> Result<(), String> {
    let anchored = format!("^(?s:{re})$");
    let err = match regex_syntax::Parser::new().parse(&anchored) {
        Ok(_) => return Ok(()),
        Err(regex_syntax::Error::Parse(e)) => e.kind().to_string(),
        Err(regex_syntax::Error::Translate(e)) => e.kind().to_string(),
        Err(e) => e.to_string(),
    };
    // Go words it "missing closing ): `^(?s:()$`"; the wording differs.
    Err(format!("error parsing regexp: {err}: `{anchored}`"))
}

/// Whether the regular expression `re` matches the empty string.
fn regex_matches_empty(re: &str) -> bool {
    regex::Regex::new(&format!("^(?s:{re})$")).is_ok_and(|r| r.is_match(""))
}

fn matcher_matches_empty(m: &LabelMatcher) -> bool {
    match m.op {
        MatchOp::Equal => m.value.is_empty(),
        MatchOp::NotEqual => !m.value.is_empty(),
        MatchOp::Regex => regex_matches_empty(&m.value),
        MatchOp::NotRegex => !regex_matches_empty(&m.value),
    }
}

/// Checks `e`, fixing up vector matchings; the first error upstream would give.
pub(crate) fn check(input: &str, e: &mut Expr) -> PResult<()> {
    Checker { input }.check(e).map(|_| ())
}

fn fail<T>(start: usize, msg: String) -> PResult<T> {
    Err(Box::new(PErr { start, msg }))
}

impl Checker<'_> {
    /// Checks `e` and returns its type, computed from its children's so
    /// that a chain of operators is checked in linear time.
    fn check(&self, e: &mut Expr) -> PResult<ValueType> {
        Ok(match e {
            Expr::Aggregate(a) => {
                self.aggregate(a)?;
                ValueType::Vector
            }
            Expr::Binary(b) => self.binary(b)?,
            Expr::Call(c) => {
                self.call(c)?;
                c.func.return_type
            }
            Expr::Paren(p) => self.check(&mut p.expr)?,
            Expr::Unary(u) => self.unary(u)?,
            Expr::Subquery(s) => {
                self.subquery(s)?;
                ValueType::Matrix
            }
            Expr::Matrix(m) => {
                self.selector(&m.vs)?;
                ValueType::Matrix
            }
            Expr::Vector(vs) => {
                self.selector(vs)?;
                ValueType::Vector
            }
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
        })
    }

    fn unary(&self, u: &mut UnaryExpr) -> PResult<ValueType> {
        let t = self.check(&mut u.expr)?;
        if t != ValueType::Scalar && t != ValueType::Vector {
            return unary_error(u.start, t).map(|_| t);
        }
        Ok(t)
    }

    fn subquery(&self, s: &mut SubqueryExpr) -> PResult<()> {
        let t = self.check(&mut s.expr)?;
        if t != ValueType::Vector {
            return subquery_error(s.expr.span().start, t);
        }
        Ok(())
    }

    fn expect(&self, e: &mut Expr, want: ValueType, context: &str) -> PResult<()> {
        let t = self.check(e)?;
        if t != want {
            return type_error(e.span().start, want, context, t);
        }
        Ok(())
    }

    fn aggregate(&self, a: &mut AggregateExpr) -> PResult<()> {
        self.expect(&mut a.expr, ValueType::Vector, "aggregation expression")?;
        let want = match a.op {
            AggOp::Topk | AggOp::Bottomk | AggOp::Quantile | AggOp::Limitk | AggOp::LimitRatio => {
                ValueType::Scalar
            }
            AggOp::CountValues => ValueType::String,
            _ => return Ok(()),
        };
        match &mut a.param {
            Some(p) => self.expect(p, want, "aggregation parameter"),
            None => Ok(()),
        }
    }

    /// Start of the operator between `lhs` and `rhs` (upstream `opRange`).
    fn op_start(&self, b: &BinaryExpr) -> usize {
        let mut i = b.lhs.span().end;
        let bytes = self.input.as_bytes();
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    fn binary(&self, b: &mut BinaryExpr) -> PResult<ValueType> {
        let lt = self.check(&mut b.lhs)?;
        let rt = self.check(&mut b.rhs)?;
        self.binary_rules(b, lt, rt)?;
        Ok(if lt == ValueType::Scalar && rt == ValueType::Scalar {
            ValueType::Scalar
        } else {
            ValueType::Vector
        })
    }

    /// Upstream's checks of one binary operation, children already checked.
    fn binary_rules(&self, b: &mut BinaryExpr, lt: ValueType, rt: ValueType) -> PResult<()> {
        if b.return_bool && !b.op.is_comparison() {
            let msg = "bool modifier can only be used on comparison operators";
            return fail(self.op_start(b), msg.into());
        }
        if b.op.is_comparison() && !b.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            let msg = "comparisons between scalars must use BOOL modifier";
            return fail(self.op_start(b), msg.into());
        }
        if let Some(m) = &mut b.matching {
            if b.op.is_set() && m.card == Cardinality::OneToOne {
                m.card = Cardinality::ManyToMany;
            }
            if m.on {
                if let Some(l) = m.labels.iter().find(|l| m.include.contains(l)) {
                    let msg = format!("label {} must not occur in ON and GROUP clause at once", go_quote(l));
                    return fail(self.op_start(b), msg);
                }
            }
        }
        let both_ok = |t: ValueType| t == ValueType::Scalar || t == ValueType::Vector;
        if !both_ok(lt) {
            return fail(b.lhs.span().start, "binary expression must contain only scalar and instant vector types".into());
        }
        if !both_ok(rt) {
            return fail(
                b.rhs.span().start,
                "binary expression must contain only scalar and instant vector types".into(),
            );
        }
        let op = go_quote(b.op.as_str());
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if let Some(m) = b.matching.take() {
                if !m.labels.is_empty() {
                    return fail(b.lhs.span().start, "vector matching only allowed between instant vectors".into());
                }
                if m.fill_lhs.is_some() || m.fill_rhs.is_some() {
                    return fail(b.lhs.span().start, "filling in missing series only allowed between instant vectors".into());
                }
            }
        } else if b.op.is_set() {
            if let Some(m) = &b.matching {
                if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                    return fail(b.lhs.span().start, format!("no grouping allowed for {op} operation"));
                }
                if m.fill_lhs.is_some() || m.fill_rhs.is_some() {
                    return fail(b.lhs.span().start, "filling in missing series not allowed for set operators".into());
                }
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
            return fail(b.lhs.span().start, format!("set operator {op} not allowed in binary scalar expression"));
        }
        Ok(())
    }

    fn call(&self, c: &mut Call) -> PResult<()> {
        let f = c.func;
        arity(c)?;
        if f.name == "info" && c.args.len() > 1 {
            self.info_selector(c)?;
        }
        let nargs = f.arg_types.len();
        for (i, arg) in c.args.iter_mut().enumerate() {
            let i = if i >= nargs {
                if f.variadic == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            let t = self.check(arg)?;
            if t != f.arg_types[i] {
                return arg_type_error(arg.span().start, f.arg_types[i], f.name, t);
            }
        }
        Ok(())
    }

    /// `info()`'s second argument: label matchers only, which may all
    /// match the empty string.
    fn info_selector(&self, c: &mut Call) -> PResult<()> {
        let t = c.args[1].value_type();
        if t != ValueType::Vector {
            return fail(
                c.span.start,
                format!(
                    "expected type instant vector in call to function \"info\", got {}",
                    t.documented()
                ),
            );
        }
        let start = c.args[1].span().start;
        match &mut c.args[1] {
            Expr::Vector(vs) if !vs.name.is_empty() => fail(
                start,
                "expected label selectors only, got vector selector instead".into(),
            ),
            Expr::Vector(vs) => {
                vs.bypass_empty_matcher_check = true;
                Ok(())
            }
            _ => fail(start, "expected label selectors only".into()),
        }
    }

    fn selector(&self, vs: &VectorSelector) -> PResult<()> {
        if !vs.name.is_empty() {
            if let Some(m) = vs.matchers.iter().find(|m| m.name == "__name__") {
                return fail(
                    vs.span.start,
                    format!(
                        "metric name must not be set twice: {} or {}",
                        go_quote(&vs.name),
                        go_quote(&m.value)
                    ),
                );
            }
            return Ok(());
        }
        if !vs.bypass_empty_matcher_check && vs.matchers.iter().all(matcher_matches_empty) {
            return fail(
                vs.span.start,
                "vector selector must contain at least one non-empty matcher".into(),
            );
        }
        Ok(())
    }
}

#[inline(never)]
fn type_error(start: usize, want: ValueType, context: &str, got: ValueType) -> PResult<()> {
    fail(
        start,
        format!(
            "expected type {} in {context}, got {}",
            want.documented(),
            got.documented()
        ),
    )
}

#[inline(never)]
fn arg_type_error(start: usize, want: ValueType, func: &str, got: ValueType) -> PResult<()> {
    let context = format!("call to function {}", go_quote(func));
    type_error(start, want, &context, got)
}

#[inline(never)]
fn unary_error(start: usize, t: ValueType) -> PResult<()> {
    fail(
        start,
        format!(
            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
            go_quote(t.documented())
        ),
    )
}

#[inline(never)]
fn subquery_error(start: usize, t: ValueType) -> PResult<()> {
    fail(
        start,
        format!("subquery is only allowed on instant vector, got {} instead", t.name()),
    )
}

/// The argument count checks of a call.
#[inline(never)]
fn arity(c: &Call) -> PResult<()> {
    let f = c.func;
    let nargs = f.arg_types.len();
    let name = go_quote(f.name);
    let got = c.args.len();
    if f.variadic == 0 {
        if nargs != got {
            return fail(c.span.start, format!("expected {nargs} argument(s) in call to {name}, got {got}"));
        }
        return Ok(());
    }
    let na = nargs - 1;
    if na > got {
        return fail(c.span.start, format!("expected at least {na} argument(s) in call to {name}, got {got}"));
    }
    let max = na + f.variadic.max(0) as usize;
    if f.variadic > 0 && max < got {
        return fail(c.span.start, format!("expected at most {max} argument(s) in call to {name}, got {got}"));
    }
    Ok(())
}
