//! The PromQL lexer, a hand-written state machine that reproduces upstream
//! `promql/parser/lex.go` (`lexStatements`, `lexInsideBraces`,
//! `lexDurationExpr`): the same tokens, the same modes (inside `{...}` every
//! word is an identifier, inside `[...]` only duration tokens exist) and the
//! same error texts at the same positions. Series descriptions and histogram
//! literals (test-script syntax) are not lexed here.

use super::token::{keyword, Kind, Token};

/// Lexer state: upstream's `Lexer` struct minus the series-description parts.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    /// Where the last scanned duration ends (before the character that ended it).
    last_pos: usize,
    /// Set once an error or EOF token was returned; every later call gives EOF.
    done: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub(crate) fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

pub(crate) fn is_alpha_numeric(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Words that `lexDurationExpr` turns into tokens inside brackets.
fn duration_keyword(word: &str) -> Option<Kind> {
    match word.to_ascii_lowercase().as_str() {
        "step" => Some(Kind::Step),
        "range" => Some(Kind::Range),
        "max_of" => Some(Kind::MaxOf),
        "min_of" => Some(Kind::MinOf),
        _ => None,
    }
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `input`.
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            got_duration: false,
            last_pos: 0,
            done: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.input[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn tok(&self, kind: Kind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    fn error(&mut self, at: usize, msg: String) -> Token {
        self.done = true;
        Token {
            kind: Kind::Error(msg.into()),
            start: at,
            end: self.input.len(),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// The next token. Comments are skipped; after an error every call
    /// returns EOF.
    pub(crate) fn next_token(&mut self) -> Token {
        loop {
            if self.done {
                return self.tok(Kind::Eof, self.input.len());
            }
            let t = if self.brace_open {
                self.inside_braces()
            } else if self.bracket_open {
                self.duration_expr()
            } else {
                self.statements()
            };
            match t {
                Some(t) if t.kind == Kind::Comment => continue,
                Some(t) => {
                    if t.kind == Kind::Eof {
                        self.done = true;
                    }
                    return t;
                }
                None => continue,
            }
        }
    }

    fn comment(&mut self, start: usize) -> Token {
        while let Some(c) = self.peek() {
            if c == '\r' || c == '\n' {
                break;
            }
            self.bump();
        }
        self.tok(Kind::Comment, start)
    }

    /// `lexStatements`: one token, or `None` after skipping spaces.
    fn statements(&mut self) -> Option<Token> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            if self.paren_depth != 0 {
                return Some(self.error(start, "unclosed left parenthesis".into()));
            }
            return Some(self.tok(Kind::Eof, start));
        };
        if let Some(k) = single_char_token(c) {
            return Some(self.tok(k, start));
        }
        let kind = match c {
            '#' => return Some(self.comment(start)),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            '@' => Kind::At,
            '=' => match self.peek() {
                Some('=') => {
                    self.bump();
                    Kind::Eqlc
                }
                Some('~') => {
                    return Some(self.error(start, "unexpected character after '=': '~'".into()))
                }
                _ => Kind::Eql,
            },
            '!' => match self.bump() {
                Some('=') => Kind::Neq,
                other => {
                    let msg = format!(
                        "unexpected character after '!': {}",
                        super::quote::go_quote_rune(other)
                    );
                    return Some(self.error(start, msg));
                }
            },
            '<' | '>' => self.comparison(c),
            c if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) => {
                self.pos = start;
                return Some(self.number_or_duration(start));
            }
            '"' | '\'' => return Some(self.string(start, c)),
            '`' => return Some(self.raw_string(start)),
            c if is_alpha(c) || c == ':' => {
                self.pos = start;
                return Some(self.keyword_or_identifier(start));
            }
            '(' | ')' => return Some(self.paren(c, start)),
            '{' => {
                self.brace_open = true;
                Kind::LeftBrace
            }
            '[' => {
                self.got_colon = false;
                self.got_duration = false;
                self.bracket_open = true;
                let t = self.tok(Kind::LeftBracket, start);
                self.skip_spaces();
                return Some(t);
            }
            ']' => return Some(self.error(start, "unexpected right bracket ']'".into())),
            '}' => return Some(self.error(start, "unexpected character: '}'".into())),
            other => {
                let msg = format!(
                    "unexpected character: {}",
                    super::quote::go_quote_rune(Some(other))
                );
                return Some(self.error(start, msg));
            }
        };
        Some(self.tok(kind, start))
    }

    fn comparison(&mut self, c: char) -> Kind {
        let (eq, trim, plain) = if c == '<' {
            (Kind::Lte, Kind::TrimUpper, Kind::Lss)
        } else {
            (Kind::Gte, Kind::TrimLower, Kind::Gtr)
        };
        match self.peek() {
            Some('=') => {
                self.bump();
                eq
            }
            Some('/') => {
                self.bump();
                trim
            }
            _ => plain,
        }
    }

    /// `lexKeywordOrIdentifier`: a word with colons; keywords by their
    /// lower-cased spelling, `fill*` only when a `(` follows.
    fn keyword_or_identifier(&mut self, start: usize) -> Token {
        while self.peek().is_some_and(|c| is_alpha_numeric(c) || c == ':') {
            self.bump();
        }
        let word = &self.input[start..self.pos];
        let kind = match keyword(&word.to_ascii_lowercase()) {
            Some(Kind::Fill | Kind::FillLeft | Kind::FillRight) if !self.followed_by_paren() => {
                Kind::Identifier
            }
            Some(k) => k,
            None if word.contains(':') => Kind::MetricIdentifier,
            None => Kind::Identifier,
        };
        self.tok(kind, start)
    }

    fn followed_by_paren(&self) -> bool {
        self.input[self.pos..]
            .chars()
            .find(|c| !is_space(*c))
            .is_some_and(|c| c == '(')
    }

    /// `lexInsideBraces`.
    fn inside_braces(&mut self) -> Option<Token> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Some(self.error(start, "unexpected end of input inside braces".into()));
        };
        let kind = match c {
            '#' => return Some(self.comment(start)),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alpha_numeric) {
                    self.bump();
                }
                Kind::Identifier
            }
            ',' => Kind::Comma,
            '"' | '\'' => return Some(self.string(start, c)),
            '`' => return Some(self.raw_string(start)),
            '=' => {
                if self.peek() == Some('~') {
                    self.bump();
                    Kind::EqlRegex
                } else {
                    Kind::Eql
                }
            }
            '!' => match self.bump() {
                Some('~') => Kind::NeqRegex,
                Some('=') => Kind::Neq,
                other => {
                    let msg = format!(
                        "unexpected character after '!' inside braces: {}",
                        super::quote::go_quote_rune(other)
                    );
                    return Some(self.error(start, msg));
                }
            },
            '{' => return Some(self.error(start, "unexpected left brace '{'".into())),
            '}' => {
                self.brace_open = false;
                Kind::RightBrace
            }
            other => {
                let msg = format!(
                    "unexpected character inside braces: {}",
                    super::quote::go_quote_rune(Some(other))
                );
                return Some(self.error(start, msg));
            }
        };
        Some(self.tok(kind, start))
    }

    /// `lexDurationExpr`: the inside of `[...]`.
    fn duration_expr(&mut self) -> Option<Token> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            let msg = "unexpected end of input in duration expression";
            return Some(self.error(start, msg.into()));
        };
        if let Some(k) = single_char_token(c) {
            return Some(self.tok(k, start));
        }
        Some(match c {
            ']' => {
                self.bracket_open = false;
                self.got_colon = false;
                self.tok(Kind::RightBracket, start)
            }
            ':' => self.colon(start),
            '(' | ')' => self.paren(c, start),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            c if matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm') => self.duration_keyword(start, c),
            c if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) => {
                self.pos = start;
                self.got_duration = true;
                self.number_or_duration(start)
            }
            other => {
                let msg = format!(
                    "unexpected character in duration expression: {}",
                    super::quote::go_quote_rune(Some(other))
                );
                self.error(start, msg)
            }
        })
    }

    /// `(` and `)`, tracking the depth; a `)` without `(` is an error
    /// positioned after it, as upstream emits the token before failing.
    fn paren(&mut self, c: char, start: usize) -> Token {
        if c == '(' {
            self.paren_depth += 1;
            return self.tok(Kind::LeftParen, start);
        }
        self.paren_depth -= 1;
        if self.paren_depth < 0 {
            let at = self.pos;
            return self.error(at, "unexpected right parenthesis ')'".into());
        }
        self.tok(Kind::RightParen, start)
    }

    /// `:` inside brackets: only once, and only after a duration; the
    /// errors come after the token, as upstream emits it first.
    fn colon(&mut self, start: usize) -> Token {
        let at = self.pos;
        if !self.got_duration {
            let msg = "unexpected colon before duration in duration expression";
            return self.error(at, msg.into());
        }
        if self.got_colon {
            return self.error(at, "unexpected repeated colon in duration expression".into());
        }
        self.got_colon = true;
        self.tok(Kind::Colon, start)
    }

    /// `step`, `range`, `max_of`, `min_of` inside brackets (`scanDurationKeyword`).
    fn duration_keyword(&mut self, start: usize, c: char) -> Token {
        while self.peek().is_some_and(is_alpha) {
            self.bump();
        }
        match duration_keyword(&self.input[start..self.pos]) {
            Some(k) => self.tok(k, start),
            None => {
                let msg = format!(
                    "unexpected character in duration expression: {}",
                    super::quote::go_quote_rune(Some(c))
                );
                self.error(start, msg)
            }
        }
    }

    /// `lexNumberOrDuration`.
    fn number_or_duration(&mut self, start: usize) -> Token {
        if self.scan_number() {
            return self.tok(Kind::Number, start);
        }
        if self.remaining_duration() {
            // The character after the duration was consumed by the check.
            self.pos = self.last_pos;
            return self.tok(Kind::Duration, start);
        }
        let msg = format!(
            "bad number or duration syntax: {}",
            super::quote::go_quote(&self.input[start..self.pos])
        );
        self.error(start, msg)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.bump();
                true
            }
            _ => false,
        }
    }

    /// `acceptRemainingDuration`: units after the digits; leaves `pos`
    /// past the character that ended it and `last_pos` before it.
    fn remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        self.last_pos = self.pos;
        match self.bump() {
            Some(c) => !is_alpha_numeric(c),
            None => true,
        }
    }

    /// `scanNumber`: decimal, hex or float with `_` separators; false when
    /// what follows makes it something else (a duration) or malformed.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.peek() == Some('0') && matches!(self.peek2(), Some('x' | 'X')) {
            self.pos += 2;
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let (mut dot, mut exp) = (false, false);
        while self.peek().is_some_and(|c| digits.contains(c) || "._eE".contains(c)) {
            if self.peek() == Some('.') && dot || matches!(self.peek(), Some('e' | 'E')) && exp {
                self.bump();
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alpha_numeric)
    }

    /// `lexString`: a quoted string, with upstream's escape checks.
    fn string(&mut self, start: usize, quote: char) -> Token {
        loop {
            match self.bump() {
                Some('\\') => {
                    if let Err(msg) = self.escape(quote) {
                        return self.error(start, msg);
                    }
                }
                None | Some('\n') => {
                    return self.error(start, "unterminated quoted string".into())
                }
                Some(c) if c == quote => break,
                Some(_) => {}
            }
        }
        self.tok(Kind::String, start)
    }

    /// `lexEscape`; the backslash has been read.
    fn escape(&mut self, quote: char) -> Result<(), String> {
        let (mut n, base, max): (u32, u32, u32) = match self.bump() {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == quote => return Ok(()),
            Some('0'..='7') => {
                self.pos -= 1;
                (3, 8, 255)
            }
            Some('x') => (2, 16, 255),
            Some('u') => (4, 16, 0x10FFFF),
            Some('U') => (8, 16, 0x10FFFF),
            None => return Err("escape sequence not terminated".into()),
            Some(c) => return Err(format!("unknown escape sequence {}", go_unicode(c))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let c = self.bump();
            let d = c.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Err(match c {
                    None => "escape sequence not terminated".into(),
                    Some(c) => format!("illegal character {} in escape sequence", go_unicode(c)),
                });
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    fn raw_string(&mut self, start: usize) -> Token {
        loop {
            match self.bump() {
                None => return self.error(start, "unterminated raw string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.tok(Kind::String, start)
    }
}

/// Operators and the comma, the same inside and outside brackets.
fn single_char_token(c: char) -> Option<Kind> {
    Some(match c {
        ',' => Kind::Comma,
        '*' => Kind::Mul,
        '/' => Kind::Div,
        '%' => Kind::Mod,
        '+' => Kind::Add,
        '-' => Kind::Sub,
        '^' => Kind::Pow,
        _ => return None,
    })
}

/// Go's `%#U` of a rune: `U+0041 'A'`.
fn go_unicode(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}
