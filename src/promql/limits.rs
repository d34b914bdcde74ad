//! Limits that keep one query from taking the process down: how deeply a
//! query may nest, and the stack its evaluation thread gets.
//!
//! Prometheus accepts arbitrarily deep queries because Go grows goroutine
//! stacks; a Rust thread's stack is fixed, so parsing, planning and
//! evaluation (all recursive over the expression tree) are bounded here
//! instead. The bound is checked on the query text before anything
//! recursive runs, and the thread that evaluates a query is given
//! [`QUERY_STACK_BYTES`], which `tests` proves sufficient for queries at
//! exactly [`MAX_NESTING_DEPTH`] of every nesting kind.

use super::error::QueryError;

/// Most levels of nesting a query may have. Every node that holds a
/// sub-expression counts one level: parentheses, function calls,
/// aggregations, subqueries, range selectors, unary minus and each binary
/// operator (a chain `a + a + ... + a` of N operators is N levels deep).
/// Real dashboard queries use tens of levels; generated ones a few hundred.
pub(crate) const MAX_NESTING_DEPTH: usize = 1000;

/// Stack size of the threads that parse, plan and evaluate queries. A query
/// at [`MAX_NESTING_DEPTH`] needs well under a quarter of this (measured by
/// the tests below); the rest is margin. Only touched pages cost memory.
pub const QUERY_STACK_BYTES: usize = 64 << 20;

/// Longest label value `label_replace` and `label_join` may make (bytes).
/// Their output grows with the query text times the input labels, so it is
/// bounded before it is built; ingested values are far shorter (2 KiB by
/// default, `max_label_value_length`).
pub(crate) const MAX_LABEL_VALUE_BYTES: usize = 1 << 20;

/// Bytes of label text that count as one sample against the query's
/// budget (a sample is 16 bytes).
pub(crate) const LABEL_BYTES_PER_SAMPLE: usize = 16;

/// The error for a label value longer than [`MAX_LABEL_VALUE_BYTES`].
pub(crate) fn label_too_long(func: &str, len: usize) -> QueryError {
    QueryError::Limit(format!(
        "{func}() would make a label value of {len} bytes or more, over the limit of {MAX_LABEL_VALUE_BYTES} bytes"
    ))
}

/// The error for a query nested deeper than [`MAX_NESTING_DEPTH`].
pub(crate) fn too_deep() -> QueryError {
    QueryError::BadData(format!(
        "parse error: expression nesting exceeds the limit of {MAX_NESTING_DEPTH} levels"
    ))
}

/// Refuses query text whose expression tree could be deeper than
/// [`MAX_NESTING_DEPTH`], without building the tree.
///
/// One pass over the tokens computes an upper bound of the tree's depth:
/// each bracketed group `(...)` counts one level plus the operators
/// written directly inside it plus the deepest group it holds; a `[...]`
/// (range or subquery) counts as an operator of the group it is written in,
/// since it wraps the expression before it. Every node of the tree that has
/// children is a group or an operator, so the bound is never below the
/// real depth, and it is exact for the shapes that hurt (deep brackets,
/// long operator chains). Label matchers in `{...}`, strings and comments
/// are skipped as atoms.
pub(crate) fn check_nesting(query: &str) -> Result<(), QueryError> {
    if nesting_bound(query) > MAX_NESTING_DEPTH {
        return Err(too_deep());
    }
    Ok(())
}

/// One open bracket group during the scan.
#[derive(Default)]
struct Group {
    /// Operators written directly in this group.
    ops: usize,
    /// Largest bound of a group nested in this one.
    deepest_child: usize,
}

/// The depth bound described at [`check_nesting`].
fn nesting_bound(query: &str) -> usize {
    let b = query.as_bytes();
    let mut stack = vec![Group::default()];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'#' => i = skip_until(b, i, b'\n'),
            b'"' | b'\'' => i = skip_quoted(b, i, c),
            b'`' => i = skip_until(b, i, b'`'),
            b'{' => i = skip_braces(b, i),
            b'(' | b'[' => stack.push(Group::default()),
            b')' | b']' => {
                if stack.len() > 1 {
                    let g = stack.pop().unwrap_or_default();
                    // `[...]` makes a range selector or subquery of the
                    // expression before it: one more level over that
                    // expression, which belongs to the parent group. What is
                    // inside the brackets (a duration expression) is not
                    // under that level.
                    let is_range = c == b']';
                    let bound = usize::from(!is_range) + g.ops + g.deepest_child;
                    if let Some(parent) = stack.last_mut() {
                        parent.deepest_child = parent.deepest_child.max(bound);
                        parent.ops += usize::from(is_range);
                    }
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'=' | b'!' => {
                // `==`, `!=`, `<=`, `>=` are one operator.
                if i < b.len() && b[i] == b'=' && c != b'+' && c != b'-' {
                    i += 1;
                }
                if let Some(g) = stack.last_mut() {
                    g.ops += 1;
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' => {
                let start = i - 1;
                i = skip_word(b, start, i);
                let word = &b[start..i];
                let is_op = [&b"and"[..], b"or", b"unless", b"atan2"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w));
                if is_op {
                    if let Some(g) = stack.last_mut() {
                        g.ops += 1;
                    }
                }
            }
            _ => {}
        }
    }
    // Unclosed groups still count: the parser will refuse the text, but
    // it must not recurse through it first.
    while stack.len() > 1 {
        let g = stack.pop().unwrap_or_default();
        let bound = 1 + g.ops + g.deepest_child;
        if let Some(parent) = stack.last_mut() {
            parent.deepest_child = parent.deepest_child.max(bound);
        }
    }
    let root = stack.pop().unwrap_or_default();
    root.ops + root.deepest_child
}

/// The index just past the next `end` byte (or the end of the text).
fn skip_until(b: &[u8], mut i: usize, end: u8) -> usize {
    while i < b.len() {
        i += 1;
        if b[i - 1] == end {
            break;
        }
    }
    i
}

/// The index just past a quoted string's closing quote; `\` escapes.
fn skip_quoted(b: &[u8], mut i: usize, quote: u8) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The index just past the `}` closing a label-matcher block.
fn skip_braces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'"' | b'\'' => i = skip_quoted(b, i, c),
            b'`' => i = skip_until(b, i, b'`'),
            b'}' => break,
            _ => {}
        }
    }
    i.min(b.len())
}

/// The index just past the word that starts at `start`: an identifier, a
/// number or a duration. A sign right after an exponent (`1e-5`) belongs
/// to the number.
fn skip_word(b: &[u8], start: usize, mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' {
            i += 1;
        } else if (c == b'+' || c == b'-')
            && matches!(b[i - 1], b'e' | b'E')
            && b[start].is_ascii_digit()
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests;
