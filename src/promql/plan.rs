//! The planner: turns a parsed expression into an evaluation plan bound to
//! one tenant scope.
//!
//! Every selector in a plan carries the storage matchers it will run, which
//! always end with the scope's forced matchers; the evaluator reads data only
//! through those. `@ start()` / `@ end()` are resolved here, and semantic
//! checks (selectors that match everything, unsupported syntax) fail before
//! any data is read.

use super::error::QueryError;
use super::parser::duration::{evaluate, DurationContext};
use super::parser::{self as ast, At, Duration, Expr, VectorSelector};
use super::TenantScope;
use crate::storage::index::{MatchOp, Matcher};

/// A selector bound to the scope: matchers (user's, then forced), time shifts.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    /// Matchers handed to storage; the last ones are the forced matchers.
    pub matchers: Vec<Matcher>,
    /// How many of `matchers` are the user's (the rest are forced).
    pub user_count: usize,
    /// Matchers on `__tenant_id__` in a federated scope: they pick tenants.
    pub tenant_matchers: Vec<Matcher>,
    /// The user's own equality matchers, for `absent()` labels.
    pub user_equal: Vec<(String, String, bool)>,
    /// The metric name, if the selector names one.
    pub name: Option<String>,
    /// `offset` in ms (negative offsets allowed).
    pub offset: i64,
    /// `@` time in ms, resolved.
    pub at: Option<i64>,
    /// The selector as written, for annotations.
    pub text: String,
    /// `anchored`: ranges take the samples just outside them as their ends.
    pub anchored: bool,
    /// `smoothed`: ranges interpolate their ends from the samples around them.
    pub smoothed: bool,
    /// Only the count and sum of its histograms are used (it sits under
    /// `histogram_count`/`histogram_sum`/`histogram_avg`): upstream reads
    /// such a selector through `HistogramStatsIterator`, which marks a
    /// detected counter reset `reset` (see [`mark_histogram_stats`]).
    pub stats_hints: bool,
}

/// A subquery `expr[range:step] offset @`.
#[derive(Debug, Clone)]
pub(crate) struct Subquery {
    pub expr: Node,
    pub range: i64,
    pub step: Option<i64>,
    pub offset: i64,
    pub at: Option<i64>,
}

/// How two vectors are matched.
#[derive(Debug, Clone)]
pub(crate) struct Matching {
    /// `on(...)` (true) or `ignoring(...)` (false).
    pub on: bool,
    pub labels: Vec<String>,
    pub card: Card,
    /// `group_left(...)` / `group_right(...)` extra labels.
    pub include: Vec<String>,
    pub fill_lhs: Option<f64>,
    pub fill_rhs: Option<f64>,
}

/// Matching cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
    /// `</`: native histograms only; float samples are dropped.
    TrimUpper,
    /// `>/`: native histograms only; float samples are dropped.
    TrimLower,
}

impl BinOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Arithmetic drops the metric name (`changesMetricSchema` upstream);
    /// comparisons, set operators and trims keep it.
    pub(crate) fn changes_schema(self) -> bool {
        !self.is_comparison()
            && !self.is_set()
            && !matches!(self, BinOp::TrimUpper | BinOp::TrimLower)
    }
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

/// A binary expression.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    pub op: BinOp,
    pub lhs: Node,
    pub rhs: Node,
    pub return_bool: bool,
    pub matching: Option<Matching>,
}

/// An aggregation.
#[derive(Debug, Clone)]
pub(crate) struct Aggregate {
    pub op: AggOp,
    pub expr: Node,
    pub param: Option<Node>,
    /// `without` (true) or `by` (false); no clause is `by ()`.
    pub without: bool,
    pub grouping: Vec<String>,
}

/// A function call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub name: &'static str,
    pub args: Vec<Node>,
    pub text: String,
}

/// A plan node. Types are already checked by the parser.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Number(f64),
    Str(String),
    Vector(Box<Selector>),
    /// A range selector and its range in ms.
    Matrix(Box<Selector>, i64),
    Subquery(Box<Subquery>),
    Neg(Box<Node>),
    Binary(Box<Binary>),
    Aggregate(Box<Aggregate>),
    Call(Box<Call>),
}

/// Query bounds the planner resolves `start()`/`end()` and duration
/// expressions (`step()`, `range()`) against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub start: i64,
    pub end: i64,
    /// The query's step in ms; 0 for instant queries.
    pub step: i64,
}

/// Plans `expr` for `scope`.
pub(crate) fn plan(expr: &Expr, scope: &TenantScope<'_>, b: Bounds) -> Result<Node, QueryError> {
    let mut node = Planner { scope, b }.node(expr)?;
    mark_histogram_stats(&mut node, false);
    Ok(node)
}

/// Sets [`Selector::stats_hints`] as `detectHistogramStatsDecoding` does
/// upstream: for selectors with `histogram_count`, `histogram_sum` or
/// `histogram_avg` above them and no subquery, `histogram_quantile(s)`,
/// `histogram_fraction` or trim operator anywhere on the way up (those need
/// the buckets, or in a subquery the explicit reset detection).
fn mark_histogram_stats(node: &mut Node, stats: bool) {
    match node {
        Node::Number(_) | Node::Str(_) => {}
        Node::Vector(s) | Node::Matrix(s, _) => s.stats_hints = stats,
        Node::Subquery(sq) => mark_histogram_stats(&mut sq.expr, false),
        Node::Neg(inner) => mark_histogram_stats(inner, stats),
        Node::Binary(b) => {
            let stats = stats && !matches!(b.op, BinOp::TrimUpper | BinOp::TrimLower);
            mark_histogram_stats(&mut b.lhs, stats);
            mark_histogram_stats(&mut b.rhs, stats);
        }
        Node::Aggregate(a) => {
            mark_histogram_stats(&mut a.expr, stats);
            if let Some(p) = a.param.as_mut() {
                mark_histogram_stats(p, stats);
            }
        }
        Node::Call(c) => {
            let stats = match c.name {
                "histogram_count" | "histogram_sum" | "histogram_avg" => true,
                "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => false,
                _ => stats,
            };
            for a in c.args.iter_mut() {
                mark_histogram_stats(a, stats);
            }
        }
    }
}

struct Planner<'s, 'a> {
    scope: &'s TenantScope<'a>,
    b: Bounds,
}

impl Planner<'_, '_> {
    fn node(&self, e: &Expr) -> Result<Node, QueryError> {
        Ok(match e {
            Expr::Number(n) => Node::Number(n.val),
            Expr::String(s) => Node::Str(s.val.clone()),
            Expr::Paren(p) => self.node(&p.expr)?,
            Expr::Unary(u) if u.negate => Node::Neg(Box::new(self.node(&u.expr)?)),
            Expr::Unary(u) => self.node(&u.expr)?,
            Expr::Vector(vs) => Node::Vector(Box::new(self.selector(vs)?)),
            Expr::Matrix(ms) => {
                let range = self.duration(&ms.range, false)?;
                Node::Matrix(Box::new(self.selector(&ms.vs)?), range)
            }
            Expr::Subquery(sq) => Node::Subquery(Box::new(Subquery {
                expr: self.node(&sq.expr)?,
                range: self.duration(&sq.range, false)?,
                step: match &sq.step {
                    Some(d) => Some(self.duration(d, false)?),
                    None => None,
                },
                offset: self.offset(sq.offset.as_ref())?,
                at: self.at(sq.at.as_ref()),
            })),
            Expr::Binary(be) => {
                let op = bin_op(be.op);
                let lhs = self.node(&be.lhs)?;
                let rhs = self.node(&be.rhs)?;
                Node::Binary(Box::new(Binary {
                    op,
                    lhs,
                    rhs,
                    return_bool: be.return_bool,
                    matching: be.matching.as_ref().map(|m| matching(m, op)),
                }))
            }
            Expr::Aggregate(a) => {
                let param = match &a.param {
                    Some(p) => Some(self.node(p)?),
                    None => None,
                };
                Node::Aggregate(Box::new(Aggregate {
                    op: agg_op(a.op),
                    expr: self.node(&a.expr)?,
                    param,
                    without: a.without,
                    grouping: a.grouping.clone(),
                }))
            }
            Expr::Call(c) => {
                let args = c
                    .args
                    .iter()
                    .map(|a| self.node(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Node::Call(Box::new(Call {
                    name: c.func.name,
                    args,
                    text: e.to_string(),
                }))
            }
        })
    }

    /// A range, step or offset in ms; duration expressions are computed
    /// here, with the query's step and range (upstream `durationVisitor`).
    fn duration(&self, d: &Duration, allow_negative: bool) -> Result<i64, QueryError> {
        let cx = DurationContext {
            step_ms: self.b.step,
            range_ms: self.b.end - self.b.start,
        };
        evaluate(d, cx, allow_negative).map_err(QueryError::BadData)
    }

    fn offset(&self, d: Option<&Duration>) -> Result<i64, QueryError> {
        d.map_or(Ok(0), |d| self.duration(d, true))
    }

    fn at(&self, at: Option<&At>) -> Option<i64> {
        at.map(|a| match a {
            At::Start => self.b.start,
            At::End => self.b.end,
            At::Time(t) => *t,
        })
    }

    /// Binds a selector to the scope: user matchers, then the forced ones.
    fn selector(&self, vs: &VectorSelector) -> Result<Selector, QueryError> {
        let mut matchers = Vec::with_capacity(vs.matchers.len() + 1);
        let mut user_equal = Vec::new();
        if !vs.name.is_empty() {
            matchers.push(storage_matcher(MatchOp::Equal, "__name__", &vs.name)?);
        }
        for m in &vs.matchers {
            let sm = convert(m)?;
            user_equal.push((m.name.clone(), m.value.clone(), sm.op == MatchOp::Equal));
            matchers.push(sm);
        }
        if !vs.bypass_empty_matcher_check && matchers.iter().all(|m| m.matches_empty()) {
            return Err(QueryError::BadData(
                "vector selector must contain at least one non-empty matcher".into(),
            ));
        }
        let bound = self.scope.bind(matchers)?;
        let name = if vs.name.is_empty() {
            vs.matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == ast::MatchOp::Equal)
                .map(|m| m.value.clone())
        } else {
            Some(vs.name.clone())
        };
        Ok(Selector {
            matchers: bound.matchers,
            user_count: bound.user_count,
            tenant_matchers: bound.tenant_matchers,
            user_equal,
            name,
            offset: self.offset(vs.offset.as_ref())?,
            at: self.at(vs.at.as_ref()),
            text: vs.to_string(),
            anchored: vs.anchored,
            smoothed: vs.smoothed,
            stats_hints: false,
        })
    }
}

/// Parses a series selector (`match[]` of the metadata endpoints) into
/// storage matchers. It must be a plain instant selector.
pub(crate) fn parse_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    let expr = ast::parse(text).map_err(|e| QueryError::BadData(e.to_string()))?;
    let vs = match expr {
        Expr::Vector(vs) if vs.offset.is_none() && vs.at.is_none() => vs,
        _ => {
            return Err(QueryError::BadData(format!(
                "{text:?} is not a series selector (expected a series selector such as up{{job=\"api\"}})"
            )))
        }
    };
    let mut out = Vec::new();
    if !vs.name.is_empty() {
        out.push(storage_matcher(MatchOp::Equal, "__name__", &vs.name)?);
    }
    for m in &vs.matchers {
        out.push(convert(m)?);
    }
    if out.iter().all(|m| m.matches_empty()) {
        return Err(QueryError::BadData(
            "match[] must contain at least one non-empty matcher".into(),
        ));
    }
    Ok(out)
}

pub(crate) fn storage_matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, QueryError> {
    Matcher::new(op, name, value).map_err(|e| QueryError::BadData(e.to_string()))
}

pub(crate) fn convert(m: &ast::LabelMatcher) -> Result<Matcher, QueryError> {
    let op = match m.op {
        ast::MatchOp::Equal => MatchOp::Equal,
        ast::MatchOp::NotEqual => MatchOp::NotEqual,
        ast::MatchOp::Regex => MatchOp::Regex,
        ast::MatchOp::NotRegex => MatchOp::NotRegex,
    };
    storage_matcher(op, &m.name, &m.value)
}

fn matching(m: &ast::VectorMatching, op: BinOp) -> Matching {
    let (card, include) = match m.card {
        ast::Cardinality::OneToOne => (Card::OneToOne, Vec::new()),
        ast::Cardinality::ManyToOne => (Card::ManyToOne, m.include.clone()),
        ast::Cardinality::OneToMany => (Card::OneToMany, m.include.clone()),
        ast::Cardinality::ManyToMany => (Card::ManyToMany, Vec::new()),
    };
    let card = if op.is_set() { Card::ManyToMany } else { card };
    Matching {
        on: m.on,
        labels: m.labels.clone(),
        card,
        include,
        fill_lhs: m.fill_lhs,
        fill_rhs: m.fill_rhs,
    }
}

fn bin_op(op: ast::BinOp) -> BinOp {
    use ast::BinOp as A;
    match op {
        A::Add => BinOp::Add,
        A::Sub => BinOp::Sub,
        A::Mul => BinOp::Mul,
        A::Div => BinOp::Div,
        A::Mod => BinOp::Mod,
        A::Pow => BinOp::Pow,
        A::Atan2 => BinOp::Atan2,
        A::Eql => BinOp::Eq,
        A::Neq => BinOp::Ne,
        A::Gtr => BinOp::Gt,
        A::Lss => BinOp::Lt,
        A::Gte => BinOp::Ge,
        A::Lte => BinOp::Le,
        A::TrimUpper => BinOp::TrimUpper,
        A::TrimLower => BinOp::TrimLower,
        A::And => BinOp::And,
        A::Or => BinOp::Or,
        A::Unless => BinOp::Unless,
    }
}

fn agg_op(op: ast::AggOp) -> AggOp {
    use ast::AggOp as A;
    match op {
        A::Sum => AggOp::Sum,
        A::Avg => AggOp::Avg,
        A::Count => AggOp::Count,
        A::Min => AggOp::Min,
        A::Max => AggOp::Max,
        A::Group => AggOp::Group,
        A::Stddev => AggOp::Stddev,
        A::Stdvar => AggOp::Stdvar,
        A::Topk => AggOp::Topk,
        A::Bottomk => AggOp::Bottomk,
        A::CountValues => AggOp::CountValues,
        A::Quantile => AggOp::Quantile,
        A::Limitk => AggOp::Limitk,
        A::LimitRatio => AggOp::LimitRatio,
    }
}
