//! The recursive-descent (Pratt) parser for expressions. It accepts what
//! upstream's yacc grammar (`promql/parser/generated_parser.y`) accepts,
//! with the same precedence and associativity, and stops at the first
//! error upstream would report, worded the same way (upstream collects
//! several errors but shows only the first one).
//!
//! Modifiers, selectors, grouping clauses and durations are in
//! `parse_parts.rs` and `parse_duration.rs`.

use super::ast::*;
use super::functions;
use super::lexer::Lexer;
use super::token::{Kind, Token};
use super::MAX_NESTING_DEPTH;

/// An error at a byte range of the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PErr {
    pub start: usize,
    pub msg: String,
}

pub(crate) type PResult<T> = Result<T, Box<PErr>>;

/// Parser state: the lexer, one token of lookahead, and how deep the
/// recursion is.
pub(crate) struct Parser<'a> {
    pub input: &'a str,
    lex: Lexer<'a>,
    pub tok: Token,
    /// End of the last consumed token.
    pub prev_end: usize,
    /// Recursion depth (nesting levels entered so far).
    depth: usize,
    /// Open aggregations: an error inside one is reported "in aggregation".
    pub in_aggregation: usize,
}

/// Binary operator precedence (higher binds tighter) and associativity,
/// as the `%left`/`%right` lines of the grammar.
fn binary_op(k: &Kind) -> Option<(BinOp, u8)> {
    Some(match k {
        Kind::Lor => (BinOp::Or, 1),
        Kind::Land => (BinOp::And, 2),
        Kind::Lunless => (BinOp::Unless, 2),
        Kind::Eqlc => (BinOp::Eql, 3),
        Kind::Neq => (BinOp::Neq, 3),
        Kind::Gtr => (BinOp::Gtr, 3),
        Kind::Lss => (BinOp::Lss, 3),
        Kind::Gte => (BinOp::Gte, 3),
        Kind::Lte => (BinOp::Lte, 3),
        Kind::TrimUpper => (BinOp::TrimUpper, 3),
        Kind::TrimLower => (BinOp::TrimLower, 3),
        Kind::Add => (BinOp::Add, 4),
        Kind::Sub => (BinOp::Sub, 4),
        Kind::Mul => (BinOp::Mul, 5),
        Kind::Div => (BinOp::Div, 5),
        Kind::Mod => (BinOp::Mod, 5),
        Kind::Atan2 => (BinOp::Atan2, 5),
        Kind::Pow => (BinOp::Pow, 6),
        _ => return None,
    })
}

/// Unary operators bind like `*` (`%prec MUL`): only `^` binds tighter.
const UNARY_OPERAND_PREC: u8 = 6;

fn agg_op(k: &Kind) -> Option<AggOp> {
    Some(match k {
        Kind::Sum => AggOp::Sum,
        Kind::Avg => AggOp::Avg,
        Kind::Count => AggOp::Count,
        Kind::Min => AggOp::Min,
        Kind::Max => AggOp::Max,
        Kind::Group => AggOp::Group,
        Kind::Stddev => AggOp::Stddev,
        Kind::Stdvar => AggOp::Stdvar,
        Kind::Topk => AggOp::Topk,
        Kind::Bottomk => AggOp::Bottomk,
        Kind::CountValues => AggOp::CountValues,
        Kind::Quantile => AggOp::Quantile,
        Kind::Limitk => AggOp::Limitk,
        Kind::LimitRatio => AggOp::LimitRatio,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Parser<'a> {
        let mut lex = Lexer::new(input);
        let tok = lex.next_token();
        Parser {
            input,
            lex,
            tok,
            prev_end: 0,
            depth: 0,
            in_aggregation: 0,
        }
    }

    /// Consumes the current token and returns it.
    pub(crate) fn advance(&mut self) -> Token {
        let next = self.lex.next_token();
        let t = std::mem::replace(&mut self.tok, next);
        self.prev_end = t.end;
        t
    }

    pub(crate) fn at(&self, k: &Kind) -> bool {
        self.tok.kind == *k
    }

    /// An error at `start`.
    pub(crate) fn err<T>(&self, start: usize, msg: String) -> PResult<T> {
        Err(Box::new(PErr { start, msg }))
    }

    /// "unexpected <token>[ in <context>][, expected <what>]" at the
    /// current token (upstream `parser.unexpected`); a lexer error is
    /// reported as itself.
    pub(crate) fn unexpected<T>(&self, context: &str, expected: &str) -> PResult<T> {
        if let Kind::Error(m) = &self.tok.kind {
            return self.err(self.tok.start, m.to_string());
        }
        let mut msg = format!("unexpected {}", self.tok.describe(self.input));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.err(self.tok.start, msg)
    }

    /// The error yacc's recovery gives outside any specific rule: inside an
    /// aggregation "in aggregation", elsewhere none.
    pub(crate) fn unexpected_here<T>(&self) -> PResult<T> {
        if self.in_aggregation > 0 {
            self.unexpected("aggregation", "")
        } else {
            self.unexpected("", "")
        }
    }

    /// Enters one nesting level; refuses the 1001st before recursing.
    pub(crate) fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING_DEPTH {
            return self.err(self.tok.start, nesting_message());
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The whole input as one expression.
    pub(crate) fn parse_top(&mut self) -> PResult<Expr> {
        if self.at(&Kind::Eof) {
            return self.err(0, "no expression found in input".into());
        }
        let (e, _) = self.expr(0)?;
        if !self.at(&Kind::Eof) {
            return self.unexpected_here();
        }
        Ok(e)
    }

    /// An expression whose binary operators all bind at least as tightly
    /// as `min_prec`, with its nesting height.
    pub(crate) fn expr(&mut self, min_prec: u8) -> PResult<(Expr, usize)> {
        // A unary sign is handled here rather than in a function of its
        // own: one stack frame fewer per nesting level.
        let (mut lhs, mut height) = if matches!(self.tok.kind, Kind::Add | Kind::Sub) {
            let start = self.tok.start;
            let negate = self.advance().kind == Kind::Sub;
            self.enter()?;
            let (operand, h) = self.expr(UNARY_OPERAND_PREC)?;
            self.leave();
            apply_sign(operand, h, negate, start)
        } else {
            let (e, h) = self.primary()?;
            self.postfix(e, h)?
        };
        while let Some((op, prec)) = binary_op(&self.tok.kind) {
            if prec < min_prec {
                break;
            }
            let (e, h) = self.binary_rhs(lhs, height, op, prec)?;
            lhs = e;
            height = h;
        }
        Ok((lhs, height))
    }

    /// The operator at the current token, its modifiers and right operand.
    fn binary_rhs(&mut self, lhs: Expr, lh: usize, op: BinOp, prec: u8) -> PResult<(Expr, usize)> {
        let op_start = self.tok.start;
        self.advance();
        let mut b = self.bin_modifiers(op, lhs)?;
        // `^` is right-associative, the others left-associative.
        let next = if op == BinOp::Pow { prec } else { prec + 1 };
        self.enter()?;
        let (rhs, rh) = self.expr(next)?;
        self.leave();
        let height = lh.max(rh) + 1;
        if height > MAX_NESTING_DEPTH {
            return self.err(op_start, nesting_message());
        }
        b.rhs = rhs;
        Ok((Expr::Binary(b), height))
    }

    /// Literals, selectors, calls, aggregations and parentheses.
    fn primary(&mut self) -> PResult<(Expr, usize)> {
        match &self.tok.kind {
            Kind::Number | Kind::Duration | Kind::String | Kind::LeftBrace => self.leaf(),
            Kind::LeftParen => self.paren(),
            k if agg_op(k).is_some() => self.aggregate_or_metric(),
            Kind::Identifier | Kind::Start | Kind::End | Kind::Step | Kind::Range
            | Kind::MaxOf | Kind::MinOf => self.call_or_metric(),
            k if k.is_metric_identifier() => self.leaf(),
            _ => self.unexpected_here(),
        }
    }

    /// A literal or a selector: no sub-expressions.
    #[inline(never)]
    fn leaf(&mut self) -> PResult<(Expr, usize)> {
        let e = match self.tok.kind {
            Kind::Number | Kind::Duration => Expr::Number(Box::new(self.number_literal()?)),
            Kind::String => {
                let t = self.advance();
                let val = self.unquote(&t)?;
                let span = Span {
                    start: t.start,
                    end: t.end,
                };
                Expr::String(Box::new(StringLiteral { val, span }))
            }
            Kind::LeftBrace => Expr::Vector(Box::new(self.selector(None)?)),
            _ => {
                let name = self.advance();
                Expr::Vector(Box::new(self.selector(Some(name))?))
            }
        };
        Ok((e, 0))
    }

    /// A function call, or the word as a metric name.
    fn call_or_metric(&mut self) -> PResult<(Expr, usize)> {
        let name = self.advance();
        if !self.at(&Kind::LeftParen) {
            return self.name_selector(name);
        }
        let func = functions::function(name.text(self.input));
        let (args, height, end) = self.call_args()?;
        let Some(func) = func else {
            return self.unknown_function(&name);
        };
        let span = Span {
            start: name.start,
            end,
        };
        Ok((Expr::Call(Box::new(Call { func, args, span })), height))
    }

    #[inline(never)]
    fn name_selector(&mut self, name: Token) -> PResult<(Expr, usize)> {
        let vs = self.selector(Some(name))?;
        Ok((Expr::Vector(Box::new(vs)), 0))
    }

    /// A `NUMBER` or `DURATION` token as a number literal.
    pub(crate) fn number_literal(&mut self) -> PResult<NumberLiteral> {
        let t = self.advance();
        let text = t.text(self.input);
        let span = Span {
            start: t.start,
            end: t.end,
        };
        if t.kind == Kind::Duration {
            let ns = match super::duration::parse_duration(text) {
                Ok(ns) => ns,
                Err(m) => return self.err(t.start, m),
            };
            return Ok(NumberLiteral {
                val: super::duration::nanos_to_seconds(ns),
                duration: true,
                span,
            });
        }
        match super::number::parse_number(text) {
            Some(val) => Ok(NumberLiteral {
                val,
                duration: false,
                span,
            }),
            None => self.err(
                t.start,
                format!("error parsing number: strconv.ParseFloat: parsing {}: invalid syntax", super::quote::go_quote(text)),
            ),
        }
    }

    pub(crate) fn unquote(&self, t: &Token) -> PResult<String> {
        super::quote::unquote(t.text(self.input)).or_else(|m| self.err(t.start, m))
    }

    fn paren(&mut self) -> PResult<(Expr, usize)> {
        let start = self.advance().start;
        self.enter()?;
        let (expr, h) = self.expr(0)?;
        self.leave();
        if !self.at(&Kind::RightParen) {
            return self.unexpected_here();
        }
        let end = self.advance().end;
        let span = Span { start, end };
        Ok((Expr::Paren(Box::new(ParenExpr { expr, span })), h + 1))
    }

    /// `( args )` of a call or aggregation; a trailing comma is an error.
    fn call_args(&mut self) -> PResult<(Vec<Expr>, usize, usize)> {
        self.advance(); // (
        let mut args = Vec::new();
        let mut height = 0;
        self.enter()?;
        if !self.at(&Kind::RightParen) {
            loop {
                let (e, h) = self.expr(0)?;
                height = height.max(h);
                args.push(e);
                if !self.at(&Kind::Comma) {
                    break;
                }
                let comma = self.advance().start;
                if self.at(&Kind::RightParen) {
                    return self.trailing_comma(comma);
                }
            }
        }
        self.leave();
        if !self.at(&Kind::RightParen) {
            return self.unexpected_here();
        }
        let end = self.advance().end;
        Ok((args, height + 1, end))
    }

    #[inline(never)]
    fn trailing_comma<T>(&self, at: usize) -> PResult<T> {
        self.err(at, "trailing commas not allowed in function call args".into())
    }

    #[inline(never)]
    fn unknown_function<T>(&self, name: &Token) -> PResult<T> {
        let text = name.text(self.input);
        self.err(
            name.start,
            format!("unknown function with name {}", super::quote::go_quote(text)),
        )
    }

    /// An aggregation, or the operator's name used as a metric name (yacc
    /// reduces the word to a metric name unless `(`, `by` or `without` follows).
    fn aggregate_or_metric(&mut self) -> PResult<(Expr, usize)> {
        let op_tok = self.advance();
        if !matches!(self.tok.kind, Kind::LeftParen | Kind::By | Kind::Without) {
            return self.name_selector(op_tok);
        }
        let mut a = new_aggregate(&op_tok);
        self.in_aggregation += 1;
        let has_modifier = matches!(self.tok.kind, Kind::By | Kind::Without);
        if has_modifier {
            self.aggregate_modifier(&mut a)?;
        }
        if !self.at(&Kind::LeftParen) {
            return self.unexpected_here();
        }
        let (args, height, end) = self.call_args()?;
        self.in_aggregation -= 1;
        if !has_modifier && matches!(self.tok.kind, Kind::By | Kind::Without) {
            self.aggregate_modifier(&mut a)?;
        }
        a.span.end = end;
        self.aggregate_args(&mut a, args)?;
        Ok((Expr::Aggregate(a), height))
    }

    /// `newAggregateExpr` upstream: the parameter and the aggregated expression.
    #[inline(never)]
    fn aggregate_args(&self, a: &mut AggregateExpr, mut args: Vec<Expr>) -> PResult<()> {
        if args.is_empty() {
            return self.err(
                a.span.start,
                "no arguments for aggregate expression provided".into(),
            );
        }
        let want = if a.op.has_param() { 2 } else { 1 };
        if args.len() != want {
            return self.err(
                a.span.start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            );
        }
        a.expr = args.pop().expect("one argument");
        a.param = args.pop();
        Ok(())
    }

    #[inline(never)]
    fn aggregate_modifier(&mut self, a: &mut AggregateExpr) -> PResult<()> {
        a.without = self.advance().kind == Kind::Without;
        a.grouping = self.grouping_labels()?;
        Ok(())
    }
}

/// An aggregation of `op` with no arguments yet.
#[inline(never)]
fn new_aggregate(op: &Token) -> Box<AggregateExpr> {
    Box::new(AggregateExpr {
        op: agg_op(&op.kind).unwrap_or(AggOp::Sum),
        expr: Expr::Number(Box::new(NumberLiteral {
            val: 0.0,
            duration: false,
            span: Span::default(),
        })),
        param: None,
        grouping: Vec::new(),
        without: false,
        span: Span {
            start: op.start,
            end: op.end,
        },
    })
}

/// A unary sign applied to an operand: folded into a number literal,
/// otherwise a unary node (one more level).
fn apply_sign(operand: Expr, h: usize, negate: bool, start: usize) -> (Expr, usize) {
    match operand {
        Expr::Number(mut n) => {
            if negate {
                n.val = -n.val;
            }
            n.span.start = start;
            (Expr::Number(n), h)
        }
        expr => (
            Expr::Unary(Box::new(UnaryExpr {
                negate,
                expr,
                start,
            })),
            h + 1,
        ),
    }
}

/// The text of the nesting-limit error.
pub(crate) fn nesting_message() -> String {
    format!("expression nesting exceeds the limit of {MAX_NESTING_DEPTH} levels")
}
