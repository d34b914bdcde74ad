//! Matcher resolution over any postings source (head or block).
//!
//! STUB: to be implemented.

use roaring::RoaringBitmap;

use super::Matcher;
use crate::storage::error::Result;

/// Read access to postings, implemented by [`super::MemPostings`] and
/// [`super::IndexReader`].
pub(crate) trait PostingsSource {
    /// Every series id.
    fn all_series(&self) -> Result<RoaringBitmap>;
    /// Series with label `name` equal to `value` (empty bitmap if none).
    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap>;
    /// Calls `f(value, bitmap)` for each value of `name` in ascending byte
    /// order, starting at the first value `>= from`; stops when `f` returns false.
    fn scan_values(
        &self,
        name: &str,
        from: &str,
        f: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()>;
    /// All label names, in ascending order.
    fn names(&self) -> Result<Vec<String>>;
}

/// Resolves matchers to the ids of series matching all of them, with
/// Prometheus semantics (`PostingsForMatchers` in `tsdb/querier.go`).
/// Fails with `StorageError::EmptyMatchers` if every matcher matches the
/// empty string (or there are none).
pub(crate) fn select<P: PostingsSource + ?Sized>(
    p: &P,
    matchers: &[Matcher],
) -> Result<RoaringBitmap> {
    let _ = (p, matchers);
    todo!()
}

/// Label names that occur on at least one series in `candidates`
/// (all series when `None`), ascending, at most `limit` of them.
pub(crate) fn label_names<P: PostingsSource + ?Sized>(
    p: &P,
    candidates: Option<&RoaringBitmap>,
    limit: Option<usize>,
) -> Result<Vec<String>> {
    let _ = (p, candidates, limit);
    todo!()
}

/// Values of `name` that occur on at least one series in `candidates`
/// (all series when `None`), ascending, at most `limit` of them.
pub(crate) fn label_values<P: PostingsSource + ?Sized>(
    p: &P,
    name: &str,
    candidates: Option<&RoaringBitmap>,
    limit: Option<usize>,
) -> Result<Vec<String>> {
    let _ = (p, name, candidates, limit);
    todo!()
}
