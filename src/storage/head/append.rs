//! Appending: label validation, series lookup and creation, and the
//! decide-then-apply protocol that keeps the head behind the WAL.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::series::{MemSeries, Placement};
use super::{resolve_labels, Head, SeriesEntry, SeriesHandle};
use crate::model::{LabelRef, Labels};
use crate::storage::error::Result;
use crate::storage::wal::SampleEntry;

/// Why a series' labels were refused. Each names the offending label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelError {
    /// No labels at all (after dropping empty values).
    EmptyLabelSet,
    /// The same label name appears twice.
    DuplicateLabelName(String),
    /// A label name is the empty string.
    EmptyLabelName,
    /// A label name is not valid UTF-8 (its bytes, lossily decoded).
    InvalidUtf8Name(String),
    /// The value of the named label is not valid UTF-8.
    InvalidUtf8Value(String),
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelError::EmptyLabelSet => f.write_str("empty label set"),
            LabelError::DuplicateLabelName(n) => write!(f, "duplicate label name {n:?}"),
            LabelError::EmptyLabelName => f.write_str("empty label name"),
            LabelError::InvalidUtf8Name(n) => write!(f, "label name {n:?} is not valid UTF-8"),
            LabelError::InvalidUtf8Value(n) => write!(f, "value of label {n:?} is not valid UTF-8"),
        }
    }
}

/// Checks and sorts borrowed labels into `out`, dropping empty values
/// (Prometheus treats an empty value as an absent label).
pub(crate) fn validate_labels<'a>(
    labels: &[LabelRef<'a>],
    out: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), LabelError> {
    out.clear();
    for l in labels {
        let name = std::str::from_utf8(l.name).map_err(|_| {
            LabelError::InvalidUtf8Name(String::from_utf8_lossy(l.name).into_owned())
        })?;
        if name.is_empty() {
            return Err(LabelError::EmptyLabelName);
        }
        let value = std::str::from_utf8(l.value)
            .map_err(|_| LabelError::InvalidUtf8Value(name.to_string()))?;
        if !value.is_empty() {
            out.push((name, value));
        }
    }
    if out.is_empty() {
        return Err(LabelError::EmptyLabelSet);
    }
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(LabelError::DuplicateLabelName(w[0].0.to_string()));
    }
    Ok(())
}

/// Outcome of deciding one sample against a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Store it.
    Accept(Placement),
    /// Same timestamp and same value as a stored sample: nothing to do.
    IgnoreDuplicate,
    /// Refuse it.
    Reject(SampleReject),
}

/// Why a single sample was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleReject {
    /// Older than the series' newest sample, with no out-of-order window.
    OutOfOrder,
    /// Older than the out-of-order window allows, or than persisted data.
    TooOld,
    /// A sample exists at this timestamp with another value.
    DuplicateTimestamp,
}

impl SampleReject {
    /// Prometheus' wording for the reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            SampleReject::OutOfOrder => "out of order sample",
            SampleReject::TooOld => "too old sample",
            SampleReject::DuplicateTimestamp => "duplicate sample for timestamp",
        }
    }
}

impl fmt::Display for SampleReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the sample is checked against.
pub(crate) struct DecideCtx<'b> {
    /// Newest timestamp of the series, counting samples accepted earlier in this batch.
    pub maxt: i64,
    /// Samples refused below this time.
    pub min_valid_t: i64,
    /// Out-of-order window in ms (0 = none; `i64::MAX` during replay).
    pub ooo_window: i64,
    /// The series' id, to find its entries in `pending`.
    pub series: u32,
    /// Samples accepted earlier in this batch (any series; filtered by id).
    pub pending: &'b [SampleEntry],
}

/// Decides where sample `(t, v)` goes, without changing anything.
pub(crate) fn decide(s: &MemSeries, ctx: &DecideCtx<'_>, t: i64, v: f64) -> Result<Decision> {
    if t < ctx.min_valid_t {
        return Ok(Decision::Reject(SampleReject::TooOld));
    }
    if t > ctx.maxt {
        return Ok(Decision::Accept(Placement::InOrder));
    }
    let existing = match ctx
        .pending
        .iter()
        .rev()
        .find(|p| p.series == ctx.series && p.t == t)
    {
        Some(p) => Some(p.v.to_bits()),
        None => s.value_bits_at(t)?,
    };
    if let Some(bits) = existing {
        return Ok(if bits == v.to_bits() {
            Decision::IgnoreDuplicate
        } else {
            Decision::Reject(SampleReject::DuplicateTimestamp)
        });
    }
    if ctx.ooo_window <= 0 {
        return Ok(Decision::Reject(SampleReject::OutOfOrder));
    }
    if t < ctx.maxt.saturating_sub(ctx.ooo_window) {
        return Ok(Decision::Reject(SampleReject::TooOld));
    }
    Ok(Decision::Accept(Placement::OutOfOrder))
}

/// Applies a sample previously accepted by [`decide`].
pub(crate) fn apply(s: &mut MemSeries, p: Placement, t: i64, v: f64, block_range: i64) {
    match p {
        Placement::InOrder => s.append_in_order(t, v, block_range),
        Placement::OutOfOrder => s.insert_ooo(crate::model::Sample::new(t, v)),
    }
}

impl Head {
    /// Finds the series with these (validated, sorted) labels, or creates
    /// it. Returns its id, handle, and its owned labels when it was created
    /// (for the WAL). Only creation allocates.
    pub(crate) fn get_or_create(
        &self,
        labels: &[(&str, &str)],
    ) -> (u32, SeriesHandle, Option<Labels>) {
        let hash = self.hash_labels(labels.iter().copied());
        if let Some((id, h)) = self.lookup(hash, labels) {
            return (id, h, None);
        }
        let mut table = self.table.write();
        // Another appender may have created it between the two locks.
        if let Some(id) = self.find_in(&table, hash, labels) {
            let h = table.by_id[&id].clone();
            return (id, h, None);
        }
        let (pairs, arcs) = {
            let mut sy = self.symbols.write();
            let pairs: Box<[(u32, u32)]> = labels
                .iter()
                .map(|(n, v)| (sy.intern(n), sy.intern(v)))
                .collect();
            let arcs: Vec<_> = pairs
                .iter()
                .map(|&(n, v)| (sy.resolve(n).clone(), sy.resolve(v).clone()))
                .collect();
            (pairs, arcs)
        };
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1);
        self.insert_series(&mut table, hash, id, pairs, &arcs);
        let owned = Labels::from_pairs(labels.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        (id, table.by_id[&id].clone(), Some(owned))
    }

    /// Creates a series with a given id (WAL replay). Replaces nothing: an
    /// id already present is left as it is.
    pub(crate) fn create_with_id(&self, id: u32, labels: &Labels) {
        let pairs_str: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        let hash = self.hash_labels(pairs_str.iter().copied());
        let mut table = self.table.write();
        if table.by_id.contains_key(&id) {
            return;
        }
        let (pairs, arcs) = {
            let mut sy = self.symbols.write();
            let pairs: Box<[(u32, u32)]> = pairs_str
                .iter()
                .map(|(n, v)| (sy.intern(n), sy.intern(v)))
                .collect();
            let arcs: Vec<_> = pairs
                .iter()
                .map(|&(n, v)| (sy.resolve(n).clone(), sy.resolve(v).clone()))
                .collect();
            (pairs, arcs)
        };
        table.next_id = table.next_id.max(id.wrapping_add(1));
        self.insert_series(&mut table, hash, id, pairs, &arcs);
    }

    fn insert_series(
        &self,
        table: &mut super::SeriesTable,
        hash: u64,
        id: u32,
        pairs: Box<[(u32, u32)]>,
        arcs: &[(Arc<str>, Arc<str>)],
    ) {
        table.by_id.insert(
            id,
            Arc::new(SeriesEntry {
                labels: pairs,
                data: Mutex::new(MemSeries::new()),
            }),
        );
        if table.by_hash.contains_key(&hash) {
            table.collisions.entry(hash).or_default().push(id);
        } else {
            table.by_hash.insert(hash, id);
        }
        self.postings.write().add(id, arcs);
    }

    /// The handle of series `id`.
    pub(crate) fn series(&self, id: u32) -> Option<SeriesHandle> {
        self.table.read().by_id.get(&id).cloned()
    }

    fn lookup(&self, hash: u64, labels: &[(&str, &str)]) -> Option<(u32, SeriesHandle)> {
        let table = self.table.read();
        let id = self.find_in(&table, hash, labels)?;
        Some((id, table.by_id.get(&id)?.clone()))
    }

    fn find_in(
        &self,
        table: &super::SeriesTable,
        hash: u64,
        labels: &[(&str, &str)],
    ) -> Option<u32> {
        let first = table.by_hash.get(&hash)?;
        let others = table
            .collisions
            .get(&hash)
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        let sy = self.symbols.read();
        std::iter::once(first).chain(others).copied().find(|id| {
            table.by_id.get(id).is_some_and(|s| {
                s.labels.len() == labels.len()
                    && s.labels.iter().zip(labels).all(|(&(n, v), &(ln, lv))| {
                        &**sy.resolve(n) == ln && &**sy.resolve(v) == lv
                    })
            })
        })
    }

    /// Removes a series created by an append whose WAL write then failed.
    pub(crate) fn remove_series(&self, id: u32) {
        let mut table = self.table.write();
        self.remove_locked(&mut table, id);
    }

    pub(super) fn remove_locked(&self, table: &mut super::SeriesTable, id: u32) {
        let Some(h) = table.by_id.remove(&id) else {
            return;
        };
        let pairs = &h.labels;
        let sy = self.symbols.read();
        let hash = self.hash_labels(
            pairs
                .iter()
                .map(|&(n, v)| (&**sy.resolve(n), &**sy.resolve(v))),
        );
        let arcs: Vec<_> = pairs
            .iter()
            .map(|&(n, v)| (sy.resolve(n).clone(), sy.resolve(v).clone()))
            .collect();
        drop(sy);
        if table.by_hash.get(&hash) == Some(&id) {
            table.by_hash.remove(&hash);
            if let Some(mut rest) = table.collisions.remove(&hash) {
                let promoted = rest.remove(0);
                table.by_hash.insert(hash, promoted);
                if !rest.is_empty() {
                    table.collisions.insert(hash, rest);
                }
            }
        } else if let Some(rest) = table.collisions.get_mut(&hash) {
            rest.retain(|x| *x != id);
            if rest.is_empty() {
                table.collisions.remove(&hash);
            }
        }
        self.postings.write().remove(id, &arcs);
    }

    /// Owned labels of a series.
    pub(crate) fn labels_of(&self, h: &SeriesEntry) -> Labels {
        resolve_labels(&self.symbols.read(), &h.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn lr<'a>(pairs: &'a [(&'a [u8], &'a [u8])]) -> Vec<LabelRef<'a>> {
        pairs
            .iter()
            .map(|(n, v)| LabelRef { name: n, value: v })
            .collect()
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(Vec<(&[u8], &[u8])>, Result<Vec<(&str, &str)>, LabelError>)> = vec![
            (vec![], Err(LabelError::EmptyLabelSet)),
            (vec![(b"a", b"")], Err(LabelError::EmptyLabelSet)),
            (
                vec![(b"b", b"2"), (b"a", b"1")],
                Ok(vec![("a", "1"), ("b", "2")]),
            ),
            (
                vec![(b"a", b"1"), (b"a", b"2")],
                Err(LabelError::DuplicateLabelName("a".into())),
            ),
            (vec![(b"", b"1")], Err(LabelError::EmptyLabelName)),
            (
                vec![(b"\xff", b"1")],
                Err(LabelError::InvalidUtf8Name("\u{fffd}".into())),
            ),
            (
                vec![(b"a", b"\xc3")],
                Err(LabelError::InvalidUtf8Value("a".into())),
            ),
            (
                vec![(b"a.b", b"x\ny"), (b"c", b"")],
                Ok(vec![("a.b", "x\ny")]),
            ),
        ];
        for (input, want) in cases {
            let refs = lr(&input);
            let mut out = Vec::new();
            let got = validate_labels(&refs, &mut out).map(|_| out.clone());
            assert_eq!(got, want, "input {input:?}");
        }
    }

    fn ctx(maxt: i64, window: i64, pending: &[SampleEntry]) -> DecideCtx<'_> {
        DecideCtx {
            maxt,
            min_valid_t: 100,
            ooo_window: window,
            series: 1,
            pending,
        }
    }

    #[test]
    fn decisions() {
        let mut s = MemSeries::new();
        s.append_in_order(200, 2.0, i64::MAX);
        s.append_in_order(300, 3.0, i64::MAX);
        let d = |c: &DecideCtx, t, v| decide(&s, c, t, v).unwrap();
        use Decision::*;
        assert_eq!(d(&ctx(300, 0, &[]), 301, 1.0), Accept(Placement::InOrder));
        assert_eq!(d(&ctx(300, 0, &[]), 300, 3.0), IgnoreDuplicate);
        assert_eq!(
            d(&ctx(300, 0, &[]), 300, 4.0),
            Reject(SampleReject::DuplicateTimestamp)
        );
        assert_eq!(
            d(&ctx(300, 0, &[]), 250, 1.0),
            Reject(SampleReject::OutOfOrder)
        );
        assert_eq!(d(&ctx(300, 0, &[]), 99, 1.0), Reject(SampleReject::TooOld));
        assert_eq!(
            d(&ctx(300, 60, &[]), 250, 1.0),
            Accept(Placement::OutOfOrder)
        );
        assert_eq!(
            d(&ctx(300, 60, &[]), 240, 1.0),
            Accept(Placement::OutOfOrder)
        );
        assert_eq!(
            d(&ctx(300, 60, &[]), 239, 1.0),
            Reject(SampleReject::TooOld)
        );
        assert_eq!(d(&ctx(300, 60, &[]), 200, 2.0), IgnoreDuplicate);
        assert_eq!(
            d(&ctx(300, 60, &[]), 200, 2.5),
            Reject(SampleReject::DuplicateTimestamp)
        );
        // Samples accepted earlier in the same batch count too.
        let pending = [
            SampleEntry {
                series: 1,
                t: 310,
                v: 7.0,
            },
            SampleEntry {
                series: 2,
                t: 305,
                v: 1.0,
            },
        ];
        assert_eq!(d(&ctx(310, 0, &pending), 310, 7.0), IgnoreDuplicate);
        assert_eq!(
            d(&ctx(310, 0, &pending), 310, 8.0),
            Reject(SampleReject::DuplicateTimestamp)
        );
        assert_eq!(
            d(&ctx(310, 0, &pending), 305, 1.0),
            Reject(SampleReject::OutOfOrder),
            "other series' pending sample"
        );
        let _ = Sample::new(0, 0.0);
    }

    #[test]
    fn get_or_create_is_keyed_by_label_set() {
        let h = Head::new(7_200_000);
        let (a, _, created) = h.get_or_create(&[("__name__", "up"), ("job", "x")]);
        assert!(created.is_some());
        let (b, _, created) = h.get_or_create(&[("__name__", "up"), ("job", "x")]);
        assert!(created.is_none());
        assert_eq!(a, b);
        let (c, _, _) = h.get_or_create(&[("__name__", "up"), ("job", "y")]);
        assert_ne!(a, c);
        assert_eq!(h.num_series(), 2);
        h.remove_series(a);
        assert_eq!(h.num_series(), 1);
        let (d, _, created) = h.get_or_create(&[("__name__", "up"), ("job", "x")]);
        assert!(created.is_some());
        assert_ne!(d, a, "ids are not reused");
    }
}
