//! Label matchers with Prometheus semantics (`model/labels/matcher.go`,
//! `regexp.go`): regexes are fully anchored, and a matcher on an absent
//! label sees the empty string.

use std::fmt;

use super::regex_analysis::{self, Fast};
use crate::storage::error::Result;

/// The four matcher kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

impl MatchOp {
    /// Whether the operator negates its inner test (`!=`, `!~`).
    pub(crate) fn is_negative(self) -> bool {
        matches!(self, MatchOp::NotEqual | MatchOp::NotRegex)
    }

    fn symbol(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A label matcher such as `job=~"api|web"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// The literal value or the regex source.
    pub value: String,
    /// The inner (un-negated) test, analysed once at construction.
    fast: Fast,
    /// Cached `matches("")`, asked for every matcher of every selection.
    matches_empty: bool,
}

impl Matcher {
    /// Builds a matcher, compiling and analysing a regex. A bad regex is
    /// `StorageError::InvalidMatcher` naming the pattern.
    ///
    /// Mirrors `labels.NewMatcher` and `NewFastRegexMatcher` upstream.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Matcher> {
        let fast = match op {
            MatchOp::Equal | MatchOp::NotEqual => Fast::Set(vec![value.to_owned()]),
            MatchOp::Regex | MatchOp::NotRegex => regex_analysis::analyse(value)?,
        };
        let matches_empty = fast.matches("") != op.is_negative();
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            fast,
            matches_empty,
        })
    }

    /// Whether the label value `v` (empty for an absent label) matches.
    pub fn matches(&self, v: &str) -> bool {
        self.fast.matches(v) != self.op.is_negative()
    }

    /// Whether the matcher matches the empty string (and so absent labels).
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// Whether `v` passes the inner test, ignoring a `!=`/`!~` negation.
    pub(crate) fn inner_matches(&self, v: &str) -> bool {
        self.fast.matches(v)
    }

    /// The inner test's finite set of strings, when it has one (`=`, `!=`,
    /// and regexes such as `a|b|c` or `x[12]`). Ignores negation.
    pub(crate) fn set_matches(&self) -> Option<&[String]> {
        match &self.fast {
            Fast::Set(s) => Some(s),
            _ => None,
        }
    }

    /// A literal every string passing the inner test starts with, when the
    /// analysis found one (`foo.*`, `foo\d+`). Ignores negation.
    pub(crate) fn literal_prefix(&self) -> Option<&str> {
        match &self.fast {
            Fast::Prefix(p) | Fast::PrefixRegex(p, _) => Some(p),
            _ => None,
        }
    }

    /// Whether the inner test accepts every string (`.*`).
    pub(crate) fn inner_matches_all(&self) -> bool {
        matches!(self.fast, Fast::Any)
    }

    /// The analysed inner test, for diagnostics and tests.
    #[cfg(test)]
    pub(crate) fn fast(&self) -> &Fast {
        &self.fast
    }
}

impl fmt::Display for Matcher {
    /// PromQL notation, `name="value"` or `name=~"re"`, quoting like Go's
    /// `strconv.Quote` for the characters that need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.symbol())?;
        for c in self.value.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 || c == '\x7f' => write!(f, "\\x{:02x}", c as u32)?,
                c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}
