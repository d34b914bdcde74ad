//! Tessera's own PromQL parser: a hand-written lexer and a recursive-descent
//! (Pratt) parser that accept what upstream Prometheus's parser accepts at
//! the promqltest commit (duration expressions, `anchored`/`smoothed`,
//! `>/` and `</`, `fill` modifiers, quoted metric names), with the same
//! precedence, type checks and error messages (`1:14: parse error: ...`).
//!
//! The public face is [`parse`], the [`ast`] types, [`prettify`] (what
//! `format_query` returns) and [`Expr`]'s `Display` (upstream's
//! `String()`). Nesting is limited to [`MAX_NESTING_DEPTH`] levels, checked
//! before each recursion, so no input can exhaust the stack.

pub mod ast;
mod check;
pub mod duration;
pub mod functions;
mod lexer;
mod number;
mod parse;
mod parse_duration;
mod parse_parts;
mod prettier;
mod printer;
mod quote;
mod token;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_format;

pub use ast::*;
pub use prettier::{prettify, prettify_width};

/// The deepest nesting a query may have: every node with a sub-expression
/// (parentheses, calls, aggregations, subqueries, range selectors, unary
/// and binary operators) is one level.
pub const MAX_NESTING_DEPTH: usize = 1000;

/// A syntax or type error, positioned as upstream positions it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: parse error: {message}")]
pub struct ParseError {
    /// `line:col` of the error's start (1-based, columns in bytes), or
    /// "unknown position" for an empty query.
    pub position: String,
    /// Byte offset of the error's start.
    pub offset: usize,
    /// The message without position.
    pub message: String,
}

/// `line:col` as upstream's `PositionRange.StartPosInput` computes it.
fn position(input: &str, pos: usize) -> String {
    if input.is_empty() {
        return "unknown position".into();
    }
    let Some(before) = input.get(..pos.min(input.len())) else {
        return "invalid position".into();
    };
    let line = before.matches('\n').count() + 1;
    let col = pos - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

/// Parses and type-checks a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = parse::Parser::new(input);
    let result = p.parse_top().and_then(|mut e| {
        check::check(input, &mut e)?;
        Ok(e)
    });
    result.map_err(|e| ParseError {
        position: position(input, e.start),
        offset: e.start,
        message: e.msg,
    })
}

/// Parses a series selector such as `up{job="api"}` (the `match[]`
/// parameter of the metadata endpoints): the expression must be a plain
/// instant vector selector.
pub fn parse_selector(input: &str) -> Result<VectorSelector, ParseError> {
    match parse(input)? {
        Expr::Vector(vs) if vs.offset.is_none() && vs.at.is_none() && !vs.anchored && !vs.smoothed => {
            Ok(*vs)
        }
        other => Err(ParseError {
            position: position(input, 0),
            offset: 0,
            message: format!(
                "unexpected {}, expected a series selector",
                describe_kind(&other)
            ),
        }),
    }
}

fn describe_kind(e: &Expr) -> &'static str {
    match e {
        Expr::Number(_) => "number",
        Expr::String(_) => "string",
        Expr::Vector(_) => "modifier",
        Expr::Matrix(_) => "range selector",
        Expr::Subquery(_) => "subquery",
        Expr::Paren(_) => "parenthesis",
        Expr::Unary(_) | Expr::Binary(_) => "operator",
        Expr::Aggregate(_) => "aggregation",
        Expr::Call(_) => "function call",
    }
}
