//! Label matchers with Prometheus semantics (`model/labels/matcher.go`,
//! `regexp.go`): regexes are fully anchored, and a matcher on an absent
//! label sees the empty string.
//!
//! STUB: to be implemented.

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

/// A label matcher such as `job=~"api|web"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// The literal value or the regex source.
    pub value: String,
}

impl Matcher {
    /// Builds a matcher, compiling and analysing a regex. A bad regex is
    /// `StorageError::InvalidMatcher` naming the pattern.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Matcher> {
        let _ = (op, name, value);
        todo!()
    }

    /// Whether the label value `v` (empty for an absent label) matches.
    pub fn matches(&self, v: &str) -> bool {
        let _ = v;
        todo!()
    }

    /// Whether the matcher matches the empty string (and so absent labels).
    pub fn matches_empty(&self) -> bool {
        todo!()
    }
}
