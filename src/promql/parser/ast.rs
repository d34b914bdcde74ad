//! The PromQL syntax tree, shaped like upstream's `promql/parser/ast.go`
//! so that printing and type checks can follow upstream node by node.
//! Every variant is boxed: an `Expr` is two words, which keeps the
//! parser's and planner's stack frames small at deep nesting.

use super::functions::Function;

/// A byte range of the input (upstream `posrange.PositionRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number, possibly written as a duration (`5m`).
    Number(Box<NumberLiteral>),
    /// A string literal.
    String(Box<StringLiteral>),
    /// An instant vector selector.
    Vector(Box<VectorSelector>),
    /// A range vector selector `sel[range]`.
    Matrix(Box<MatrixSelector>),
    /// A subquery `expr[range:step]`.
    Subquery(Box<SubqueryExpr>),
    /// A parenthesised expression.
    Paren(Box<ParenExpr>),
    /// Unary `-` or `+`.
    Unary(Box<UnaryExpr>),
    /// A binary operation.
    Binary(Box<BinaryExpr>),
    /// An aggregation.
    Aggregate(Box<AggregateExpr>),
    /// A function call.
    Call(Box<Call>),
}

/// The four value types (upstream `ValueType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// No value (a list of expressions).
    None,
    /// A scalar.
    Scalar,
    /// An instant vector.
    Vector,
    /// A range vector ("matrix").
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// Upstream's `ValueType` string ("scalar", "vector", "matrix", "string").
    pub fn name(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }

    /// Upstream `DocumentedType`: the name the docs use.
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            other => other.name(),
        }
    }
}

/// A number literal.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberLiteral {
    /// The value (seconds when written as a duration).
    pub val: f64,
    /// Written as a duration: printed as one.
    pub duration: bool,
    /// Where it was written.
    pub span: Span,
}

/// A string literal.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The unquoted value.
    pub val: String,
    /// Where it was written.
    pub span: Span,
}

/// A label matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher `name op "value"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value (a regular expression for `=~`/`!~`).
    pub value: String,
}

/// An `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// `@ <seconds>`, kept in milliseconds.
    Time(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// A duration slot (range, step, offset): a fixed value or an expression
/// computed when the query's step and range are known.
#[derive(Debug, Clone, PartialEq)]
pub enum Duration {
    /// A fixed duration in nanoseconds (upstream keeps a `time.Duration`).
    Fixed(i64),
    /// A duration expression (`[5m+1m]`, `offset step()`).
    Expr(Box<DurationExpr>),
}

/// Operators of duration expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationOp {
    /// `+` (unary when there is no left-hand side).
    Add,
    /// `-` (unary when there is no left-hand side).
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `step()`
    Step,
    /// `range()`
    Range,
    /// `min_of(a, b)`
    MinOf,
    /// `max_of(a, b)`
    MaxOf,
}

/// An operand of a duration expression (upstream uses `Expr` for both).
#[derive(Debug, Clone, PartialEq)]
pub enum DurationNode {
    /// A number or duration literal (seconds).
    Number(NumberLiteral),
    /// An operation.
    Op(Box<DurationExpr>),
}

/// A duration expression (upstream `DurationExpr`).
#[derive(Debug, Clone, PartialEq)]
pub struct DurationExpr {
    /// The operation.
    pub op: DurationOp,
    /// Left operand; `None` for unary operators, `step()` and `range()`.
    pub lhs: Option<DurationNode>,
    /// Right operand; `None` for `step()` and `range()`.
    pub rhs: Option<DurationNode>,
    /// Written in parentheses.
    pub wrapped: bool,
    /// Where it was written.
    pub span: Span,
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name written before the braces ("" when none).
    pub name: String,
    /// The matchers inside the braces, as written (the name is not among them).
    pub matchers: Vec<LabelMatcher>,
    /// `offset`, if any.
    pub offset: Option<Duration>,
    /// `@`, if any.
    pub at: Option<At>,
    /// `anchored` modifier.
    pub anchored: bool,
    /// `smoothed` modifier.
    pub smoothed: bool,
    /// The second argument of `info()`: allowed to match the empty string.
    pub bypass_empty_matcher_check: bool,
    /// Where it was written (modifiers included).
    pub span: Span,
}

/// A range vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector (its offset, `@` and anchored/smoothed apply to the range).
    pub vs: VectorSelector,
    /// The range.
    pub range: Duration,
    /// End of the written text.
    pub end: usize,
}

/// A subquery.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression.
    pub expr: Expr,
    /// The range.
    pub range: Duration,
    /// The step, if written.
    pub step: Option<Duration>,
    /// `offset`, if any.
    pub offset: Option<Duration>,
    /// `@`, if any.
    pub at: Option<At>,
    /// End of the written text.
    pub end: usize,
}

/// A parenthesised expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Expr,
    /// Where it was written.
    pub span: Span,
}

/// Unary operator: `-` negates, `+` does nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// True for `-`.
    pub negate: bool,
    /// The operand.
    pub expr: Expr,
    /// Position of the operator.
    pub start: usize,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `</` (trim upper native histogram buckets)
    TrimUpper,
    /// `>/` (trim lower native histogram buckets)
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Atan2 => "atan2",
            Eql => "==",
            Neq => "!=",
            Gtr => ">",
            Lss => "<",
            Gte => ">=",
            Lte => "<=",
            TrimUpper => "</",
            TrimLower => ">/",
            And => "and",
            Or => "or",
            Unless => "unless",
        }
    }

    /// Comparison operators (`IsComparisonOperator`); the trims are not.
    pub fn is_comparison(self) -> bool {
        use BinOp::*;
        matches!(self, Eql | Neq | Gtr | Lss | Gte | Lte)
    }

    /// `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Vector matching cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// One-to-one.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// How the two sides of a binary operation between vectors are matched.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// Cardinality.
    pub card: Cardinality,
    /// `on(...)` or `ignoring(...)` labels.
    pub labels: Vec<String>,
    /// `on` (true) or `ignoring` (false).
    pub on: bool,
    /// `group_left(...)`/`group_right(...)` labels.
    pub include: Vec<String>,
    /// `fill`/`fill_left` value.
    pub fill_lhs: Option<f64>,
    /// `fill`/`fill_right` value.
    pub fill_rhs: Option<f64>,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// Operator.
    pub op: BinOp,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand.
    pub rhs: Expr,
    /// The matching, present only between two instant vectors.
    pub matching: Option<VectorMatching>,
    /// `bool` modifier.
    pub return_bool: bool,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `count_values`
    CountValues,
    /// `quantile`
    Quantile,
    /// `limitk`
    Limitk,
    /// `limit_ratio`
    LimitRatio,
}

impl AggOp {
    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        use AggOp::*;
        match self {
            Sum => "sum",
            Avg => "avg",
            Count => "count",
            Min => "min",
            Max => "max",
            Group => "group",
            Stddev => "stddev",
            Stdvar => "stdvar",
            Topk => "topk",
            Bottomk => "bottomk",
            CountValues => "count_values",
            Quantile => "quantile",
            Limitk => "limitk",
            LimitRatio => "limit_ratio",
        }
    }

    /// Takes a parameter before the vector (`IsAggregatorWithParam`).
    pub fn has_param(self) -> bool {
        use AggOp::*;
        matches!(
            self,
            Topk | Bottomk | CountValues | Quantile | Limitk | LimitRatio
        )
    }
}

/// An aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// Operator.
    pub op: AggOp,
    /// The aggregated expression.
    pub expr: Expr,
    /// The parameter (`topk`'s k, ...).
    pub param: Option<Expr>,
    /// `by`/`without` labels.
    pub grouping: Vec<String>,
    /// `without` (true) or `by`.
    pub without: bool,
    /// Where it was written.
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function.
    pub func: &'static Function,
    /// Arguments.
    pub args: Vec<Expr>,
    /// Where it was written.
    pub span: Span,
}

impl Expr {
    /// The expression's value type (upstream `Expr.Type`).
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Vector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(p) => p.expr.value_type(),
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.return_type,
        }
    }

    /// Where the expression was written (upstream `PositionRange`).
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(n) => n.span,
            Expr::String(s) => s.span,
            Expr::Vector(v) => v.span,
            Expr::Matrix(m) => Span {
                start: m.vs.span.start,
                end: m.end,
            },
            Expr::Subquery(s) => Span {
                start: s.expr.span().start,
                end: s.end,
            },
            Expr::Paren(p) => p.span,
            Expr::Unary(u) => Span {
                start: u.start,
                end: u.expr.span().end,
            },
            Expr::Binary(b) => Span {
                start: b.lhs.span().start,
                end: b.rhs.span().end,
            },
            Expr::Aggregate(a) => a.span,
            Expr::Call(c) => c.span,
        }
    }
}

impl DurationNode {
    /// Where the operand was written.
    pub fn span(&self) -> Span {
        match self {
            DurationNode::Number(n) => n.span,
            DurationNode::Op(e) => e.span,
        }
    }
}
