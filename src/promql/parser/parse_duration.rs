//! Duration expressions in ranges, steps and offsets (`duration_expr`,
//! `positive_duration_expr` and `offset_duration_expr` in upstream's
//! grammar, with `applyUnaryOpToDurationExpr` and `wrapParenDurationExpr`).
//!
//! After `offset` the grammar resolves its conflicts so that a literal,
//! a signed literal, `step()`, `range()`, `min_of(..)`/`max_of(..)` or a
//! signed parenthesis ends the offset (`x offset 100 + 2` adds 2 to the
//! selector), while an unsigned parenthesis continues as a duration
//! expression (`x offset (1m) + 2` is an offset of 1m2s).

use super::ast::*;
use super::parse::{PResult, Parser};
use super::parse_parts::OFFSET_CONTEXT;
use super::token::{Kind, Token};

/// Largest duration literal in seconds (`durationLiteralOutOfRange`).
const MAX_DURATION_SECONDS: f64 = 9_223_372_036.854_776;

type Ctx = (&'static str, &'static str);

fn dur_op(k: &Kind) -> Option<(DurationOp, u8)> {
    Some(match k {
        Kind::Add => (DurationOp::Add, 4),
        Kind::Sub => (DurationOp::Sub, 4),
        Kind::Mul => (DurationOp::Mul, 5),
        Kind::Div => (DurationOp::Div, 5),
        Kind::Mod => (DurationOp::Mod, 5),
        Kind::Pow => (DurationOp::Pow, 6),
        _ => return None,
    })
}

fn merge(a: &DurationNode, b: &DurationNode) -> Span {
    Span {
        start: a.span().start,
        end: b.span().end,
    }
}

impl Parser<'_> {
    /// A range or step: a duration expression, which must be positive when
    /// it is a literal.
    pub(crate) fn positive_duration(&mut self, ctx: Ctx) -> PResult<Duration> {
        let node = self.dur_expr(0, ctx)?;
        match node {
            DurationNode::Number(n) if n.val <= 0.0 => {
                self.err(n.span.start, "duration must be greater than 0".into())
            }
            DurationNode::Number(n) => Ok(Duration::Fixed(seconds_to_nanos(n.val))),
            DurationNode::Op(e) => Ok(Duration::Expr(e)),
        }
    }

    /// The duration after `offset`.
    pub(crate) fn offset_duration(&mut self) -> PResult<Duration> {
        let node = match self.tok.kind {
            Kind::Add | Kind::Sub => {
                let op = self.advance();
                let inner = match self.tok.kind {
                    Kind::Number | Kind::Duration => DurationNode::Number(self.number_literal()?),
                    Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                        let call = self.dur_call(OFFSET_CONTEXT)?;
                        return Ok(Duration::Expr(Box::new(unary_of(&op, call))));
                    }
                    Kind::LeftParen => {
                        let p = self.dur_paren(OFFSET_CONTEXT)?;
                        self.apply_unary(&op, p)?
                    }
                    _ => return self.unexpected(OFFSET_CONTEXT.0, OFFSET_CONTEXT.1),
                };
                match inner {
                    DurationNode::Number(_) => self.apply_unary(&op, inner)?,
                    other => other,
                }
            }
            Kind::Number | Kind::Duration => self.dur_literal()?,
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                self.dur_call(OFFSET_CONTEXT)?
            }
            Kind::LeftParen => {
                let p = self.dur_paren(OFFSET_CONTEXT)?;
                self.dur_tail(p, 0, OFFSET_CONTEXT)?
            }
            _ => return self.unexpected(OFFSET_CONTEXT.0, OFFSET_CONTEXT.1),
        };
        Ok(match node {
            DurationNode::Number(n) => Duration::Fixed(seconds_to_nanos(n.val)),
            DurationNode::Op(e) => Duration::Expr(e),
        })
    }

    /// A duration expression whose operators bind at least as tightly as
    /// `min_prec`.
    fn dur_expr(&mut self, min_prec: u8, ctx: Ctx) -> PResult<DurationNode> {
        let lhs = if matches!(self.tok.kind, Kind::Add | Kind::Sub) {
            let op = self.advance();
            self.enter()?;
            let operand = self.dur_expr(6, ctx)?;
            self.leave();
            self.apply_unary(&op, operand)?
        } else {
            self.dur_atom(ctx)?
        };
        self.dur_tail(lhs, min_prec, ctx)
    }

    /// Binary duration operators after `lhs`.
    fn dur_tail(&mut self, mut lhs: DurationNode, min_prec: u8, ctx: Ctx) -> PResult<DurationNode> {
        while let Some((op, prec)) = dur_op(&self.tok.kind) {
            if prec < min_prec {
                break;
            }
            let op_tok = self.advance();
            let next = if op == DurationOp::Pow { prec } else { prec + 1 };
            self.enter()?;
            let rhs = self.dur_expr(next, ctx)?;
            self.leave();
            if let DurationNode::Number(n) = &rhs {
                if n.val == 0.0 && op == DurationOp::Div {
                    return self.err(op_tok.start, "division by zero".into());
                }
                if n.val == 0.0 && op == DurationOp::Mod {
                    return self.err(op_tok.start, "modulo by zero".into());
                }
            }
            let span = merge(&lhs, &rhs);
            lhs = DurationNode::Op(Box::new(DurationExpr {
                op,
                lhs: Some(lhs),
                rhs: Some(rhs),
                wrapped: false,
                span,
            }));
        }
        Ok(lhs)
    }

    fn dur_atom(&mut self, ctx: Ctx) -> PResult<DurationNode> {
        match self.tok.kind {
            Kind::Number | Kind::Duration => self.dur_literal(),
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => self.dur_call(ctx),
            Kind::LeftParen => self.dur_paren(ctx),
            _ => self.unexpected(ctx.0, ctx.1),
        }
    }

    fn dur_literal(&mut self) -> PResult<DurationNode> {
        let n = self.number_literal()?;
        if out_of_range(n.val) {
            return self.err(n.span.start, "duration out of range".into());
        }
        Ok(DurationNode::Number(n))
    }

    fn expect(&mut self, k: Kind, ctx: Ctx) -> PResult<Token> {
        if self.tok.kind != k {
            return self.unexpected(ctx.0, ctx.1);
        }
        Ok(self.advance())
    }

    /// `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)`.
    fn dur_call(&mut self, ctx: Ctx) -> PResult<DurationNode> {
        let name = self.advance();
        let op = match name.kind {
            Kind::Step => DurationOp::Step,
            Kind::Range => DurationOp::Range,
            Kind::MaxOf => DurationOp::MaxOf,
            _ => DurationOp::MinOf,
        };
        self.expect(Kind::LeftParen, ctx)?;
        let (lhs, rhs) = if matches!(op, DurationOp::MaxOf | DurationOp::MinOf) {
            self.enter()?;
            let a = self.dur_expr(0, ctx)?;
            self.expect(Kind::Comma, ctx)?;
            let b = self.dur_expr(0, ctx)?;
            self.leave();
            (Some(a), Some(b))
        } else {
            (None, None)
        };
        let close = self.expect(Kind::RightParen, ctx)?;
        Ok(DurationNode::Op(Box::new(DurationExpr {
            op,
            lhs,
            rhs,
            wrapped: false,
            span: Span {
                start: name.start,
                end: close.end,
            },
        })))
    }

    /// `( duration )`, marked as wrapped so it prints with its parentheses.
    fn dur_paren(&mut self, ctx: Ctx) -> PResult<DurationNode> {
        let open = self.advance();
        self.enter()?;
        let inner = self.dur_expr(0, ctx)?;
        self.leave();
        let close = self.expect(Kind::RightParen, ctx)?;
        let span = Span {
            start: open.start,
            end: close.end,
        };
        Ok(DurationNode::Op(Box::new(match inner {
            DurationNode::Op(mut e) => {
                e.wrapped = true;
                *e
            }
            n @ DurationNode::Number(_) => DurationExpr {
                op: DurationOp::Add,
                lhs: None,
                rhs: Some(n),
                wrapped: true,
                span,
            },
        })))
    }

    /// A unary sign on a duration (`applyUnaryOpToDurationExpr`): folded
    /// into a literal, dropped when `+`, a unary node when `-`.
    fn apply_unary(&self, op: &Token, node: DurationNode) -> PResult<DurationNode> {
        let negate = op.kind == Kind::Sub;
        match node {
            DurationNode::Number(mut n) => {
                if negate {
                    n.val = -n.val;
                }
                if out_of_range(n.val) {
                    return self.err(op.start, "duration out of range".into());
                }
                n.span.start = op.start;
                Ok(DurationNode::Number(n))
            }
            e @ DurationNode::Op(_) if !negate => Ok(e),
            e => Ok(DurationNode::Op(Box::new(unary_of(op, e)))),
        }
    }
}

/// `durationLiteralOutOfRange` upstream (NaN passes).
fn out_of_range(v: f64) -> bool {
    v > MAX_DURATION_SECONDS || v < -MAX_DURATION_SECONDS
}

/// `-x` or `+x` as a unary duration node (kept even for `+`).
fn unary_of(op: &Token, rhs: DurationNode) -> DurationExpr {
    let end = rhs.span().end;
    DurationExpr {
        op: if op.kind == Kind::Sub {
            DurationOp::Sub
        } else {
            DurationOp::Add
        },
        lhs: None,
        rhs: Some(rhs),
        wrapped: false,
        span: Span {
            start: op.start,
            end,
        },
    }
}

/// Seconds to nanoseconds as upstream converts literals
/// (`time.Duration(math.Round(v * float64(time.Second)))`).
pub(crate) fn seconds_to_nanos(v: f64) -> i64 {
    (v * 1e9).round() as i64
}
