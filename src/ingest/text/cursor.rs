//! A cursor over one line of a text body, with the lexical pieces both
//! formats share (names, quoted strings, escapes).
//!
//! The cursor only ever stops on ASCII delimiters or at the end of a
//! quoted string, so its position is always a `char` boundary; even so,
//! every slice goes through `str::get` so a mistake cannot panic.

/// Read position within a single line (no `\n` inside).
pub(crate) struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

/// A quoted string whose closing `"` never came.
pub(crate) struct Unterminated;

impl<'a> Cursor<'a> {
    pub(crate) fn new(line: &'a str) -> Self {
        Cursor { line, pos: 0 }
    }

    /// The unread part of the line.
    pub(crate) fn rest(&self) -> &'a str {
        self.line.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `s` if the rest of the line starts with it.
    pub(crate) fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs (the Prometheus lexer's `[ \t]+`) and says
    /// how many there were.
    pub(crate) fn skip_blanks(&mut self) -> usize {
        self.take_while(|b| b == b' ' || b == b'\t').len()
    }

    /// Consumes bytes while `pred` holds. Callers pass predicates that
    /// treat all non-ASCII bytes alike, so the stop is a char boundary.
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let n = self.rest().bytes().take_while(|&b| pred(b)).count();
        self.pos = start.saturating_add(n);
        self.line.get(start..self.pos).unwrap_or("")
    }

    /// What is at the cursor, for error messages: `'}'` or `end of line`.
    pub(crate) fn found(&self) -> String {
        match self.rest().chars().next() {
            None => "end of line".to_string(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// A legacy metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub(crate) fn metric_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {
                Some(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'))
            }
            _ => None,
        }
    }

    /// A legacy label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub(crate) fn label_name(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                Some(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_'))
            }
            _ => None,
        }
    }

    /// A double-quoted string, `"(\\.|[^\\"])*"`; returns the raw text
    /// between the quotes (still escaped), `Ok(None)` if no `"` is next.
    pub(crate) fn quoted(&mut self) -> Result<Option<&'a str>, Unterminated> {
        if self.peek() != Some(b'"') {
            return Ok(None);
        }
        let bytes = self.rest().as_bytes();
        let mut i = 1;
        while let Some(&b) = bytes.get(i) {
            match b {
                // A backslash takes the next byte with it, whatever it is;
                // a lone trailing one leaves the string open.
                b'\\' => i += 2,
                b'"' => {
                    let raw = self.rest().get(1..i).unwrap_or("");
                    self.pos += i + 1;
                    return Ok(Some(raw));
                }
                _ => i += 1,
            }
        }
        Err(Unterminated)
    }
}

/// Which escapes a piece of text honours.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `\\`, `\n` and `\"` (label values, quoted names, OpenMetrics help):
    /// `lvalReplacer` in `promparse.go`.
    Quoted,
    /// `\\` and `\n` only (Prometheus-format help): `helpReplacer`.
    Help,
}

/// Undoes escapes the way Go's `strings.Replacer` does in upstream: a
/// backslash not starting a known escape stays as it is.
pub(crate) fn unescape(raw: &str, escapes: Escapes) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut lookahead = chars.clone();
        match lookahead.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if escapes == Escapes::Quoted => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars = lookahead;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_cases() {
        let cases: &[(&str, Escapes, &str)] = &[
            ("", Escapes::Quoted, ""),
            ("plain", Escapes::Quoted, "plain"),
            (r#"a\"b"#, Escapes::Quoted, "a\"b"),
            (r#"a\"b"#, Escapes::Help, r#"a\"b"#),
            (r"a\\b", Escapes::Help, r"a\b"),
            (r"a\nb", Escapes::Help, "a\nb"),
            (r"a\\nb", Escapes::Quoted, r"a\nb"),
            (r"a\tb", Escapes::Quoted, r"a\tb"),
            (r"trailing\", Escapes::Quoted, r"trailing\"),
            (r"\\\\", Escapes::Quoted, r"\\"),
            ("é\\nü", Escapes::Quoted, "é\nü"),
        ];
        for (raw, esc, want) in cases {
            assert_eq!(unescape(raw, *esc), *want, "{raw:?}");
        }
    }

    #[test]
    fn quoted_strings() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (r#""""#, Some(""), ""),
            (r#""abc" rest"#, Some("abc"), " rest"),
            (r#""a\"b"}"#, Some(r#"a\"b"#), "}"),
            (r#""a\\"x"#, Some(r"a\\"), "x"),
            (r#""€""#, Some("€"), ""),
            ("abc", None, "abc"),
        ];
        for (line, want, rest) in cases {
            let mut c = Cursor::new(line);
            let got = c.quoted().ok().flatten();
            assert_eq!(got, *want, "{line:?}");
            assert_eq!(c.rest(), *rest, "{line:?}");
        }
        for open in [r#"""#, r#""abc"#, r#""abc\""#, r#""abc\"#] {
            assert!(Cursor::new(open).quoted().is_err(), "{open:?}");
        }
    }

    #[test]
    fn names() {
        let mut c = Cursor::new("a:b_1{x");
        assert_eq!(c.metric_name(), Some("a:b_1"));
        assert_eq!(c.found(), "'{'");
        assert_eq!(Cursor::new("1abc").metric_name(), None);
        assert_eq!(Cursor::new(":x").metric_name(), Some(":x"));
        assert_eq!(Cursor::new(":x").label_name(), None);
        assert_eq!(Cursor::new("_a:b").label_name(), Some("_a"));
        assert_eq!(Cursor::new("").found(), "end of line");
    }
}
