//! Limits that keep one query from taking the process down: the stack its
//! evaluation thread gets, and how big a label value a query may build.
//!
//! Prometheus accepts arbitrarily deep queries because Go grows goroutine
//! stacks; a Rust thread's stack is fixed, so parsing, planning and
//! evaluation (all recursive over the expression tree) are bounded: the
//! parser refuses more than [`MAX_NESTING_DEPTH`](super::parser::MAX_NESTING_DEPTH) levels before it recurses
//! past them, and the thread that evaluates a query is given
//! [`QUERY_STACK_BYTES`], which `tests/promql_limits.rs` proves sufficient
//! for queries at exactly that depth of every nesting kind.

use super::error::QueryError;

/// Stack size of the threads that parse, plan and evaluate queries. A query
/// at [`MAX_NESTING_DEPTH`](super::parser::MAX_NESTING_DEPTH) runs on a quarter of this
/// (`tests/promql_limits.rs`); the rest is margin. Only touched pages cost
/// memory.
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
