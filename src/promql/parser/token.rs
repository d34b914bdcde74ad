//! Tokens and the way upstream names them in error messages
//! (`Item.desc` and `Item.String` in `promql/parser/lex.go`).

use super::quote::go_quote;

/// A token kind. Keywords, operators and aggregators carry no text: the
/// token's span gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Eof,
    Error(Box<str>),
    Comment,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    Eql,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eqlc,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    Land,
    Lor,
    Lunless,
    At,
    // Aggregators.
    Avg,
    Bottomk,
    Count,
    CountValues,
    Group,
    Max,
    Min,
    Quantile,
    Stddev,
    Stdvar,
    Sum,
    Topk,
    Limitk,
    LimitRatio,
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

/// A token: its kind and byte span in the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// The keyword a lower-cased word lexes to (upstream's `key` map),
/// `inf` and `nan` included as numbers.
pub(crate) fn keyword(lower: &str) -> Option<Kind> {
    Some(match lower {
        "and" => Kind::Land,
        "or" => Kind::Lor,
        "unless" => Kind::Lunless,
        "atan2" => Kind::Atan2,
        "sum" => Kind::Sum,
        "avg" => Kind::Avg,
        "count" => Kind::Count,
        "min" => Kind::Min,
        "max" => Kind::Max,
        "group" => Kind::Group,
        "stddev" => Kind::Stddev,
        "stdvar" => Kind::Stdvar,
        "topk" => Kind::Topk,
        "bottomk" => Kind::Bottomk,
        "count_values" => Kind::CountValues,
        "quantile" => Kind::Quantile,
        "limitk" => Kind::Limitk,
        "limit_ratio" => Kind::LimitRatio,
        "offset" => Kind::Offset,
        "smoothed" => Kind::Smoothed,
        "anchored" => Kind::Anchored,
        "by" => Kind::By,
        "without" => Kind::Without,
        "on" => Kind::On,
        "ignoring" => Kind::Ignoring,
        "group_left" => Kind::GroupLeft,
        "group_right" => Kind::GroupRight,
        "fill" => Kind::Fill,
        "fill_left" => Kind::FillLeft,
        "fill_right" => Kind::FillRight,
        "bool" => Kind::Bool,
        "start" => Kind::Start,
        "end" => Kind::End,
        "step" => Kind::Step,
        "range" => Kind::Range,
        "max_of" => Kind::MaxOf,
        "min_of" => Kind::MinOf,
        "inf" | "nan" => Kind::Number,
        _ => return None,
    })
}

impl Kind {
    /// Operators (`IsOperator` upstream).
    pub(crate) fn is_operator(&self) -> bool {
        use Kind::*;
        matches!(
            self,
            Add | Sub
                | Mul
                | Div
                | Mod
                | Pow
                | Atan2
                | Eqlc
                | Neq
                | Lss
                | Lte
                | Gtr
                | Gte
                | TrimUpper
                | TrimLower
                | EqlRegex
                | NeqRegex
                | Land
                | Lor
                | Lunless
                | At
        )
    }

    /// Aggregation operators (`IsAggregator`).
    pub(crate) fn is_aggregator(&self) -> bool {
        use Kind::*;
        matches!(
            self,
            Avg | Bottomk
                | Count
                | CountValues
                | Group
                | Max
                | Min
                | Quantile
                | Stddev
                | Stdvar
                | Sum
                | Topk
                | Limitk
                | LimitRatio
        )
    }

    fn is_keyword(&self) -> bool {
        use Kind::*;
        matches!(
            self,
            Bool | By
                | GroupLeft
                | GroupRight
                | Fill
                | FillLeft
                | FillRight
                | Ignoring
                | Offset
                | Smoothed
                | Anchored
                | On
                | Without
        )
    }

    fn is_preprocessor(&self) -> bool {
        matches!(
            self,
            Kind::Start | Kind::End | Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf
        )
    }

    /// Tokens that may name a metric (`metric_identifier` in the grammar).
    pub(crate) fn is_metric_identifier(&self) -> bool {
        use Kind::*;
        (self.is_aggregator() || self.is_preprocessor())
            || matches!(
                self,
                By | Fill
                    | FillLeft
                    | FillRight
                    | Identifier
                    | Land
                    | Lor
                    | Lunless
                    | MetricIdentifier
                    | Offset
                    | Without
                    | Anchored
                    | Smoothed
            )
    }

    /// Tokens that may name a label in grouping clauses (`maybe_label`).
    pub(crate) fn is_maybe_label(&self) -> bool {
        use Kind::*;
        (self.is_metric_identifier() && *self != Without)
            || matches!(
                self,
                Bool | GroupLeft | GroupRight | Ignoring | On | Atan2
            )
    }
}

impl Token {
    /// The token's text.
    pub(crate) fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }

    /// How upstream names the token after "unexpected " (`Item.desc`).
    pub(crate) fn describe(&self, input: &str) -> String {
        let val = self.text(input);
        let k = &self.kind;
        match k {
            Kind::Eof => "end of input".into(),
            Kind::Error(m) => m.to_string(),
            Kind::Identifier => format!("identifier {}", go_quote(val)),
            Kind::MetricIdentifier => format!("metric identifier {}", go_quote(val)),
            Kind::Number => format!("number {}", short_quote(val)),
            Kind::Duration => format!("duration {}", short_quote(val)),
            Kind::String => format!("string {}", short_quote(val)),
            Kind::Comment => format!("comment {}", short_quote(val)),
            _ if k.is_keyword() => format!("<{val}>"),
            _ if k.is_operator() => format!("<op:{val}>"),
            _ if k.is_aggregator() => format!("<aggr:{val}>"),
            _ => short_quote(val),
        }
    }
}

/// Go's `%q`, or `%.10q...` for values longer than ten bytes.
fn short_quote(val: &str) -> String {
    if val.len() > 10 {
        let cut: String = val.chars().take(10).collect();
        format!("{}...", go_quote(&cut))
    } else {
        go_quote(val)
    }
}
