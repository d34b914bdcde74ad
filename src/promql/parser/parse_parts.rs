//! Parts of expressions: selectors and their label matchers, binary
//! operator modifiers, grouping clauses, and the postfix modifiers
//! (`[range]`, `[range:step]`, `offset`, `@`, `anchored`, `smoothed`) with
//! upstream's checks (`addOffset`, `setTimestamp`, `setAnchored`, ... in
//! `promql/parser/parse.go`).

use super::ast::*;
use super::parse::{PResult, Parser};
use super::token::{Kind, Token};
use super::MAX_NESTING_DEPTH;

/// Error contexts of the duration slots, as the grammar's error rules word them.
pub(crate) const RANGE_CONTEXT: (&str, &str) = (
    "subquery or range selector",
    "number, duration, step(), or range()",
);
const STEP_CONTEXT: (&str, &str) = (
    "subquery selector",
    "number, duration, step(), range(), or \"]\"",
);
pub(crate) const OFFSET_CONTEXT: (&str, &str) =
    ("offset", "number, duration, step(), or range()");

impl Parser<'_> {
    /// A vector selector: an optional name (already consumed) and optional
    /// `{matchers}`.
    pub(crate) fn selector(&mut self, name: Option<Token>) -> PResult<VectorSelector> {
        let mut vs = VectorSelector {
            name: String::new(),
            matchers: Vec::new(),
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            span: Span::default(),
        };
        if let Some(n) = &name {
            vs.name = n.text(self.input).to_string();
            vs.span = Span {
                start: n.start,
                end: n.end,
            };
        }
        if self.at(&Kind::LeftBrace) {
            let open = self.advance();
            vs.matchers = self.label_matchers()?;
            if name.is_none() {
                vs.span.start = open.start;
            }
            vs.span.end = self.prev_end;
        }
        Ok(vs)
    }

    /// The matchers up to and including `}` (`label_match_list` upstream).
    fn label_matchers(&mut self) -> PResult<Vec<LabelMatcher>> {
        let mut out = Vec::new();
        loop {
            if self.at(&Kind::RightBrace) {
                self.advance();
                return Ok(out);
            }
            out.push(self.label_matcher()?);
            match self.tok.kind {
                Kind::Comma => {
                    self.advance();
                }
                Kind::RightBrace => {}
                _ => return self.unexpected("label matching", "\",\" or \"}\""),
            }
        }
    }

    fn label_matcher(&mut self) -> PResult<LabelMatcher> {
        let name_tok = self.tok.clone();
        let name = match name_tok.kind {
            Kind::Identifier => name_tok.text(self.input).to_string(),
            Kind::String => self.unquote(&name_tok)?,
            _ => return self.unexpected("label matching", "identifier or \"}\""),
        };
        self.advance();
        let op = match self.tok.kind {
            Kind::Eql => MatchOp::Equal,
            Kind::Neq => MatchOp::NotEqual,
            Kind::EqlRegex => MatchOp::Regex,
            Kind::NeqRegex => MatchOp::NotRegex,
            _ if name_tok.kind == Kind::String => {
                // A quoted name alone is a metric name (`{"my.metric"}`).
                return Ok(LabelMatcher {
                    name: "__name__".into(),
                    op: MatchOp::Equal,
                    value: name,
                });
            }
            _ => return self.unexpected("label matching", "label matching operator"),
        };
        self.advance();
        if !self.at(&Kind::String) {
            return self.unexpected("label matching", "string");
        }
        let value_tok = self.advance();
        let value = self.unquote(&value_tok)?;
        if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
            if let Err(e) = super::check::check_regex(&value) {
                return self.err(name_tok.start, e);
            }
        }
        Ok(LabelMatcher { name, op, value })
    }

    /// `bool`, `on`/`ignoring`, `group_left`/`group_right` and `fill`
    /// modifiers after a binary operator.
    #[inline(never)]
    pub(crate) fn bin_modifiers(&mut self, op: BinOp, lhs: Expr) -> PResult<Box<BinaryExpr>> {
        let mut m = VectorMatching {
            card: Cardinality::OneToOne,
            labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill_lhs: None,
            fill_rhs: None,
        };
        let return_bool = self.at(&Kind::Bool);
        if return_bool {
            self.advance();
        }
        if matches!(self.tok.kind, Kind::On | Kind::Ignoring) {
            m.on = self.advance().kind == Kind::On;
            m.labels = self.grouping_labels()?;
            if matches!(self.tok.kind, Kind::GroupLeft | Kind::GroupRight) {
                let left = self.advance().kind == Kind::GroupLeft;
                m.card = if left {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                if self.at(&Kind::LeftParen) {
                    m.include = self.grouping_labels()?;
                } else if !starts_operand(&self.tok.kind) {
                    // yacc's recovery finds `grouping_labels: error` here.
                    return self.unexpected("grouping opts", "\"(\"");
                }
            }
        }
        self.fill_modifiers(&mut m)?;
        Ok(Box::new(BinaryExpr {
            op,
            lhs,
            rhs: Expr::Number(Box::new(NumberLiteral {
                val: 0.0,
                duration: false,
                span: Span::default(),
            })),
            matching: Some(m),
            return_bool,
        }))
    }

    fn fill_modifiers(&mut self, m: &mut VectorMatching) -> PResult<()> {
        match self.tok.kind {
            Kind::Fill => {
                self.advance();
                let v = self.fill_value()?;
                m.fill_lhs = Some(v);
                m.fill_rhs = Some(v);
            }
            Kind::FillLeft | Kind::FillRight => {
                let first_left = self.advance().kind == Kind::FillLeft;
                let v = self.fill_value()?;
                if first_left {
                    m.fill_lhs = Some(v);
                } else {
                    m.fill_rhs = Some(v);
                }
                let other = if first_left {
                    Kind::FillRight
                } else {
                    Kind::FillLeft
                };
                if self.at(&other) {
                    self.advance();
                    let v = self.fill_value()?;
                    if first_left {
                        m.fill_rhs = Some(v);
                    } else {
                        m.fill_lhs = Some(v);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `( [+|-] number )`.
    fn fill_value(&mut self) -> PResult<f64> {
        if !self.at(&Kind::LeftParen) {
            return self.unexpected_here();
        }
        self.advance();
        let mut sign = 1.0;
        if matches!(self.tok.kind, Kind::Add | Kind::Sub) {
            if self.advance().kind == Kind::Sub {
                sign = -1.0;
            }
        }
        if !matches!(self.tok.kind, Kind::Number | Kind::Duration) {
            return self.unexpected_here();
        }
        let n = self.number_literal()?;
        if !self.at(&Kind::RightParen) {
            return self.unexpected_here();
        }
        self.advance();
        Ok(sign * n.val)
    }

    /// `( label, ... )` of `by`, `without`, `on`, `ignoring`, `group_*`.
    pub(crate) fn grouping_labels(&mut self) -> PResult<Vec<String>> {
        if !self.at(&Kind::LeftParen) {
            return self.unexpected("grouping opts", "\"(\"");
        }
        self.advance();
        let mut out = Vec::new();
        loop {
            // Empty, or after a trailing comma.
            if self.at(&Kind::RightParen) {
                self.advance();
                return Ok(out);
            }
            let t = self.tok.clone();
            let label = match &t.kind {
                Kind::String => {
                    let v = self.unquote(&t)?;
                    if v.is_empty() {
                        return self.err(
                            t.start,
                            format!(
                                "invalid label name for grouping: {}",
                                super::quote::go_quote(&v)
                            ),
                        );
                    }
                    v
                }
                k if k.is_maybe_label() => t.text(self.input).to_string(),
                _ => return self.unexpected("grouping opts", "label"),
            };
            self.advance();
            out.push(label);
            match self.tok.kind {
                Kind::Comma => {
                    self.advance();
                }
                Kind::RightParen => {
                    self.advance();
                    return Ok(out);
                }
                _ => return self.unexpected("grouping opts", "\",\" or \")\""),
            }
        }
    }

    /// Postfix modifiers after an operand: ranges, subqueries, `offset`,
    /// `@`, `anchored`, `smoothed`. They bind tighter than any operator.
    #[inline(never)]
    pub(crate) fn postfix(&mut self, mut e: Expr, mut height: usize) -> PResult<(Expr, usize)> {
        loop {
            match self.tok.kind {
                Kind::LeftBracket => {
                    e = self.bracket(e)?;
                    height += 1;
                    if height > MAX_NESTING_DEPTH {
                        return self.err(e.span().start, super::parse::nesting_message());
                    }
                }
                Kind::Offset => e = self.offset(e)?,
                Kind::At => e = self.at_modifier(e)?,
                Kind::Anchored | Kind::Smoothed => {
                    let anchored = self.advance().kind == Kind::Anchored;
                    self.extended(&mut e, anchored)?;
                }
                _ => return Ok((e, height)),
            }
        }
    }

    /// `[range]` or `[range:step]`.
    fn bracket(&mut self, e: Expr) -> PResult<Expr> {
        let open = self.advance();
        let range = self.positive_duration(RANGE_CONTEXT)?;
        match self.tok.kind {
            Kind::RightBracket => {
                let close = self.advance();
                let msg = match &e {
                    Expr::Vector(vs) if vs.offset.is_some() => {
                        Some("no offset modifiers allowed before range")
                    }
                    Expr::Vector(vs) if vs.at.is_some() => Some("no @ modifiers allowed before range"),
                    Expr::Vector(_) => None,
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(m) = msg {
                    return self.err(open.start, m.into());
                }
                let Expr::Vector(vs) = e else {
                    unreachable!("checked above")
                };
                Ok(Expr::Matrix(Box::new(MatrixSelector {
                    vs: *vs,
                    range,
                    end: close.end,
                })))
            }
            Kind::Colon => {
                self.advance();
                let step = if self.at(&Kind::RightBracket) {
                    None
                } else {
                    let s = self.positive_duration(STEP_CONTEXT)?;
                    if !self.at(&Kind::RightBracket) {
                        return self.unexpected("subquery selector", "\"]\"");
                    }
                    Some(s)
                };
                let close = self.advance();
                Ok(Expr::Subquery(Box::new(SubqueryExpr {
                    expr: e,
                    range,
                    step,
                    offset: None,
                    at: None,
                    end: close.end,
                })))
            }
            _ => self.unexpected("subquery or range", "\":\" or \"]\""),
        }
    }

    /// `offset <duration>` (`addOffset`/`addOffsetExpr` upstream).
    fn offset(&mut self, mut e: Expr) -> PResult<Expr> {
        self.advance();
        let d = self.offset_duration()?;
        let end = self.prev_end;
        let (slot, end_slot) = match &mut e {
            Expr::Vector(vs) => (&mut vs.offset, &mut vs.span.end),
            Expr::Matrix(m) => (&mut m.vs.offset, &mut m.end),
            Expr::Subquery(s) => (&mut s.offset, &mut s.end),
            _ => {
                return self.err(
                    e.span().start,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery".into(),
                )
            }
        };
        if matches!(slot, Some(Duration::Expr(_))) || matches!(slot, Some(Duration::Fixed(n)) if *n != 0)
        {
            return self.err(e.span().start, "offset may not be set multiple times".into());
        }
        *slot = Some(d);
        *end_slot = end;
        Ok(e)
    }

    /// `@ <timestamp>`, `@ start()`, `@ end()`.
    fn at_modifier(&mut self, mut e: Expr) -> PResult<Expr> {
        self.advance();
        let at = match self.tok.kind {
            Kind::Start | Kind::End => {
                let start = self.advance().kind == Kind::Start;
                if !self.at(&Kind::LeftParen) {
                    return self.unexpected("@", "timestamp");
                }
                self.advance();
                if !self.at(&Kind::RightParen) {
                    return self.unexpected("@", "timestamp");
                }
                self.advance();
                if start {
                    At::Start
                } else {
                    At::End
                }
            }
            _ => {
                let ts = self.signed_number(("@", "timestamp"))?;
                if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                    return self.err(
                        e.span().start,
                        format!("timestamp out of bounds for @ modifier: {ts:.6}"),
                    );
                }
                At::Time((ts * 1000.0).round() as i64)
            }
        };
        let end = self.prev_end;
        let (slot, end_slot) = match &mut e {
            Expr::Vector(vs) => (&mut vs.at, &mut vs.span.end),
            Expr::Matrix(m) => (&mut m.vs.at, &mut m.end),
            Expr::Subquery(s) => (&mut s.at, &mut s.end),
            _ => {
                return self.err(
                    e.span().start,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery".into(),
                )
            }
        };
        if slot.is_some() {
            return self.err(
                e.span().start,
                "@ <timestamp> may not be set multiple times".into(),
            );
        }
        *slot = Some(at);
        *end_slot = end;
        Ok(e)
    }

    /// `[+|-] (number|duration)` (`signed_or_unsigned_number`).
    fn signed_number(&mut self, ctx: (&str, &str)) -> PResult<f64> {
        let mut sign = 1.0;
        if matches!(self.tok.kind, Kind::Add | Kind::Sub) {
            if self.advance().kind == Kind::Sub {
                sign = -1.0;
            }
        }
        if !matches!(self.tok.kind, Kind::Number | Kind::Duration) {
            return self.unexpected(ctx.0, ctx.1);
        }
        Ok(sign * self.number_literal()?.val)
    }

    /// `anchored` / `smoothed` (`setAnchored`/`setSmoothed` upstream).
    fn extended(&mut self, e: &mut Expr, anchored: bool) -> PResult<()> {
        let word = if anchored { "anchored" } else { "smoothed" };
        let start = e.span().start;
        let vs = match e {
            Expr::Vector(vs) => vs.as_mut(),
            Expr::Matrix(m) => &mut m.vs,
            Expr::Subquery(_) => {
                return self.err(start, format!("{word} modifier is not supported for subqueries"))
            }
            _ => return self.err(start, format!("{word} modifier not implemented")),
        };
        if anchored {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        if vs.anchored && vs.smoothed {
            return self.err(
                start,
                "anchored and smoothed modifiers cannot be used together".into(),
            );
        }
        Ok(())
    }
}

/// Tokens that can follow `group_left`/`group_right` without labels: a
/// `fill` modifier or the start of the right-hand operand.
fn starts_operand(k: &Kind) -> bool {
    k.is_metric_identifier()
        || matches!(
            k,
            Kind::Number
                | Kind::Duration
                | Kind::String
                | Kind::LeftBrace
                | Kind::Add
                | Kind::Sub
                | Kind::Fill
                | Kind::FillLeft
                | Kind::FillRight
        )
}
