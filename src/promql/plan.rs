//! The planner: turns a parsed expression into an evaluation plan bound to
//! one tenant scope.
//!
//! Every selector in a plan carries the storage matchers it will run, which
//! always end with the scope's forced matchers; the evaluator reads data only
//! through those. `@ start()` / `@ end()` are resolved here, and semantic
//! checks (selectors that match everything, unsupported syntax) fail before
//! any data is read.

use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher};
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{
    AtModifier, BinModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};

use super::error::QueryError;
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

    /// Arithmetic drops the metric name (`changesMetricSchema` upstream).
    pub(crate) fn changes_schema(self) -> bool {
        !self.is_comparison() && !self.is_set()
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

/// Query bounds the planner resolves `start()`/`end()` against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub start: i64,
    pub end: i64,
}

/// Plans `expr` for `scope`.
pub(crate) fn plan(expr: &Expr, scope: &TenantScope<'_>, b: Bounds) -> Result<Node, QueryError> {
    Planner { scope, b }.node(expr)
}

struct Planner<'s, 'a> {
    scope: &'s TenantScope<'a>,
    b: Bounds,
}

impl Planner<'_, '_> {
    fn node(&self, e: &Expr) -> Result<Node, QueryError> {
        Ok(match e {
            Expr::NumberLiteral(n) => Node::Number(n.val),
            Expr::StringLiteral(s) => Node::Str(s.val.clone()),
            Expr::Paren(p) => self.node(&p.expr)?,
            Expr::Unary(u) => Node::Neg(Box::new(self.node(&u.expr)?)),
            Expr::VectorSelector(vs) => Node::Vector(Box::new(self.selector(vs)?)),
            Expr::MatrixSelector(ms) => {
                Node::Matrix(Box::new(self.selector(&ms.vs)?), dur_ms(&ms.range))
            }
            Expr::Subquery(sq) => Node::Subquery(Box::new(Subquery {
                expr: self.node(&sq.expr)?,
                range: dur_ms(&sq.range),
                step: sq.step.as_ref().map(dur_ms),
                offset: offset_ms(sq.offset.as_ref()),
                at: self.at(sq.at.as_ref()),
            })),
            Expr::Binary(be) => {
                let op = bin_op(be.op.id())?;
                let lhs = self.node(&be.lhs)?;
                let rhs = self.node(&be.rhs)?;
                let (return_bool, matching) = match &be.modifier {
                    Some(m) => (m.return_bool, Some(matching(m, op))),
                    None => (false, None),
                };
                Node::Binary(Box::new(Binary {
                    op,
                    lhs,
                    rhs,
                    return_bool,
                    matching,
                }))
            }
            Expr::Aggregate(a) => {
                let op = agg_op(a.op.id())?;
                let (without, grouping) = match &a.modifier {
                    Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
                    Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
                    None => (false, Vec::new()),
                };
                let param = match &a.param {
                    Some(p) => Some(self.node(p)?),
                    None => None,
                };
                Node::Aggregate(Box::new(Aggregate {
                    op,
                    expr: self.node(&a.expr)?,
                    param,
                    without,
                    grouping,
                }))
            }
            Expr::Call(c) => {
                let args = c
                    .args
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
            Expr::Extension(_) => {
                return Err(QueryError::BadData(
                    "unsupported expression: extension nodes".into(),
                ))
            }
        })
    }

    fn at(&self, at: Option<&AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Start => self.b.start,
            AtModifier::End => self.b.end,
            AtModifier::At(t) => system_time_ms(*t),
        })
    }

    /// Binds a selector to the scope: user matchers, then the forced ones.
    fn selector(&self, vs: &VectorSelector) -> Result<Selector, QueryError> {
        if !vs.matchers.or_matchers.is_empty() {
            return Err(QueryError::BadData(
                "unsupported selector: 'or' between label matchers".into(),
            ));
        }
        let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
        let mut user_equal = Vec::new();
        let has_name_matcher = vs.matchers.matchers.iter().any(|m| m.name == "__name__");
        if let Some(n) = &vs.name {
            if !has_name_matcher {
                matchers.push(storage_matcher(MatchOp::Equal, "__name__", n)?);
            }
        }
        for m in &vs.matchers.matchers {
            let sm = convert(m)?;
            user_equal.push((m.name.clone(), m.value.clone(), sm.op == MatchOp::Equal));
            matchers.push(sm);
        }
        if matchers.iter().all(|m| m.matches_empty()) {
            return Err(QueryError::BadData(
                "vector selector must contain at least one non-empty matcher".into(),
            ));
        }
        let bound = self.scope.bind(matchers)?;
        let name = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && matches!(m.op, PMatchOp::Equal))
                .map(|m| m.value.clone())
        });
        Ok(Selector {
            matchers: bound.matchers,
            user_count: bound.user_count,
            tenant_matchers: bound.tenant_matchers,
            user_equal,
            name,
            offset: offset_ms(vs.offset.as_ref()),
            at: self.at(vs.at.as_ref()),
            text: vs.to_string(),
        })
    }
}

/// Parses a series selector (`match[]` of the metadata endpoints) into
/// storage matchers. It must be a plain instant selector.
pub(crate) fn parse_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    let expr = super::parse_query(text)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(QueryError::BadData(format!(
            "{text:?} is not a series selector (expected a series selector such as up{{job=\"api\"}})"
        )));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::BadData(
            "unsupported selector: 'or' between label matchers".into(),
        ));
    }
    let mut out = Vec::new();
    if let Some(n) = &vs.name {
        if !vs.matchers.matchers.iter().any(|m| m.name == "__name__") {
            out.push(storage_matcher(MatchOp::Equal, "__name__", n)?);
        }
    }
    for m in &vs.matchers.matchers {
        out.push(convert(m)?);
    }
    if out.iter().all(|m| m.matches_empty()) {
        return Err(QueryError::BadData(
            "match[] must contain at least one non-empty matcher".into(),
        ));
    }
    Ok(out)
}

fn storage_matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, QueryError> {
    Matcher::new(op, name, value).map_err(|e| QueryError::BadData(e.to_string()))
}

fn convert(m: &PMatcher) -> Result<Matcher, QueryError> {
    let op = match m.op {
        PMatchOp::Equal => MatchOp::Equal,
        PMatchOp::NotEqual => MatchOp::NotEqual,
        PMatchOp::Re(_) => MatchOp::Regex,
        PMatchOp::NotRe(_) => MatchOp::NotRegex,
    };
    storage_matcher(op, &m.name, &m.value)
}

fn matching(m: &BinModifier, op: BinOp) -> Matching {
    let (on, labels) = match &m.matching {
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    };
    let (card, include) = match &m.card {
        VectorMatchCardinality::OneToOne => (Card::OneToOne, Vec::new()),
        VectorMatchCardinality::ManyToOne(l) => (Card::ManyToOne, l.labels.clone()),
        VectorMatchCardinality::OneToMany(l) => (Card::OneToMany, l.labels.clone()),
        VectorMatchCardinality::ManyToMany => (Card::ManyToMany, Vec::new()),
    };
    let card = if op.is_set() { Card::ManyToMany } else { card };
    Matching {
        on,
        labels,
        card,
        include,
        fill_lhs: m.fill_values.lhs,
        fill_rhs: m.fill_values.rhs,
    }
}

fn bin_op(id: TokenId) -> Result<BinOp, QueryError> {
    Ok(match id {
        token::T_ADD => BinOp::Add,
        token::T_SUB => BinOp::Sub,
        token::T_MUL => BinOp::Mul,
        token::T_DIV => BinOp::Div,
        token::T_MOD => BinOp::Mod,
        token::T_POW => BinOp::Pow,
        token::T_ATAN2 => BinOp::Atan2,
        token::T_EQLC => BinOp::Eq,
        token::T_NEQ => BinOp::Ne,
        token::T_GTR => BinOp::Gt,
        token::T_LSS => BinOp::Lt,
        token::T_GTE => BinOp::Ge,
        token::T_LTE => BinOp::Le,
        token::T_LAND => BinOp::And,
        token::T_LOR => BinOp::Or,
        token::T_LUNLESS => BinOp::Unless,
        other => {
            return Err(QueryError::BadData(format!(
                "unsupported binary operator (token {other})"
            )))
        }
    })
}

fn agg_op(id: TokenId) -> Result<AggOp, QueryError> {
    Ok(match id {
        token::T_SUM => AggOp::Sum,
        token::T_AVG => AggOp::Avg,
        token::T_COUNT => AggOp::Count,
        token::T_MIN => AggOp::Min,
        token::T_MAX => AggOp::Max,
        token::T_GROUP => AggOp::Group,
        token::T_STDDEV => AggOp::Stddev,
        token::T_STDVAR => AggOp::Stdvar,
        token::T_TOPK => AggOp::Topk,
        token::T_BOTTOMK => AggOp::Bottomk,
        token::T_COUNT_VALUES => AggOp::CountValues,
        token::T_QUANTILE => AggOp::Quantile,
        token::T_LIMITK => AggOp::Limitk,
        token::T_LIMIT_RATIO => AggOp::LimitRatio,
        other => {
            return Err(QueryError::BadData(format!(
                "unsupported aggregation (token {other})"
            )))
        }
    })
}

fn dur_ms(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => dur_ms(d),
        Some(Offset::Neg(d)) => dur_ms(d).saturating_neg(),
        None => 0,
    }
}

fn system_time_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => dur_ms(&d),
        Err(e) => dur_ms(&e.duration()).saturating_neg(),
    }
}
