//! Appending: label validation, series lookup and creation, and the
//! decide-then-apply protocol that keeps the head behind the WAL.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::series::{MemSeries, Placement};
use super::{resolve_labels, Head, SeriesEntry, SeriesHandle, SeriesKey};
use crate::model::{Histogram, HistogramSample, LabelRef, Labels};
use crate::storage::error::Result;
use crate::storage::limits::SeriesLimits;
use crate::storage::outcome::RejectReason;
use crate::storage::wal::{HistogramEntry, SampleEntry};

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

/// Checks borrowed labels and writes their name order, as indexes into
/// `labels`, into `order`, leaving out empty values (Prometheus treats an
/// empty value as an absent label). Indexes rather than slices let the
/// caller keep `order` in a buffer that outlives the input. UTF-8 is not
/// checked here: a label set that matches a stored series was checked when
/// that series was created, so [`check_utf8`] runs only before creation.
/// Byte order equals string order for UTF-8, so sorting bytes sorts names.
pub(crate) fn normalize_label_order(
    labels: &[LabelRef<'_>],
    order: &mut Vec<u32>,
) -> Result<(), LabelError> {
    order.clear();
    for (i, l) in labels.iter().enumerate() {
        if l.name.is_empty() {
            return Err(LabelError::EmptyLabelName);
        }
        if !l.value.is_empty() {
            order.push(i as u32);
        }
    }
    if order.is_empty() {
        return Err(LabelError::EmptyLabelSet);
    }
    let name = |i: u32| labels[i as usize].name;
    // Senders almost always send sorted labels: one pass checks order and
    // duplicates together, and only unsorted input pays for a sort.
    if order.windows(2).all(|w| name(w[0]) < name(w[1])) {
        return Ok(());
    }
    order.sort_unstable_by(|&a, &b| name(a).cmp(name(b)));
    if let Some(w) = order.windows(2).find(|w| name(w[0]) == name(w[1])) {
        return Err(LabelError::DuplicateLabelName(
            String::from_utf8_lossy(labels[w[0] as usize].name).into_owned(),
        ));
    }
    Ok(())
}

/// Checks that every name and value of normalized labels is UTF-8.
pub(crate) fn check_utf8<'a>(
    labels: &[(&'a [u8], &'a [u8])],
) -> Result<Vec<(&'a str, &'a str)>, LabelError> {
    labels
        .iter()
        .map(|&(n, v)| {
            let name = std::str::from_utf8(n).map_err(|_| {
                LabelError::InvalidUtf8Name(String::from_utf8_lossy(n).into_owned())
            })?;
            let value = std::str::from_utf8(v)
                .map_err(|_| LabelError::InvalidUtf8Value(name.to_string()))?;
            Ok((name, value))
        })
        .collect()
}

/// Normalizes and fully validates labels (used where a series is always new).
#[cfg(test)]
pub(crate) fn validate_labels<'a>(
    labels: &[LabelRef<'a>],
) -> Result<Vec<(&'a str, &'a str)>, LabelError> {
    let mut order = Vec::new();
    normalize_label_order(labels, &mut order)?;
    let pairs: Vec<(&[u8], &[u8])> = order
        .iter()
        .map(|&i| (labels[i as usize].name, labels[i as usize].value))
        .collect();
    check_utf8(&pairs)
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
    /// Histograms accepted earlier in this batch (any series; filtered by id).
    pub pending_hists: &'b [HistogramEntry],
}

/// What already sits at the timestamp a new sample is for.
enum Existing {
    Float(u64),
    Histogram(Histogram),
}

/// The sample or histogram a series already has at `t`: from this batch
/// first, then from the head.
fn existing_at(s: &MemSeries, ctx: &DecideCtx<'_>, t: i64) -> Result<Option<Existing>> {
    let mine = |series: u32, at: i64| series == ctx.series && at == t;
    if let Some(p) = ctx.pending.iter().rev().find(|p| mine(p.series, p.t)) {
        return Ok(Some(Existing::Float(p.v.to_bits())));
    }
    if let Some(p) = ctx.pending_hists.iter().rev().find(|p| mine(p.series, p.t)) {
        return Ok(Some(Existing::Histogram(p.h.clone())));
    }
    if let Some(bits) = s.value_bits_at(t)? {
        return Ok(Some(Existing::Float(bits)));
    }
    Ok(s.histogram_at(t)?.map(Existing::Histogram))
}

/// The placement rules shared by floats and histograms, once it is known
/// whether an identical (`Some(true)`) or a different (`Some(false)`)
/// value is already at `t`.
fn place(
    ctx: &DecideCtx<'_>,
    t: i64,
    same: impl FnOnce() -> Result<Option<bool>>,
) -> Result<Decision> {
    if t < ctx.min_valid_t {
        return Ok(Decision::Reject(SampleReject::TooOld));
    }
    if t > ctx.maxt {
        return Ok(Decision::Accept(Placement::InOrder));
    }
    match same()? {
        Some(true) => return Ok(Decision::IgnoreDuplicate),
        Some(false) => return Ok(Decision::Reject(SampleReject::DuplicateTimestamp)),
        None => {}
    }
    if ctx.ooo_window <= 0 {
        return Ok(Decision::Reject(SampleReject::OutOfOrder));
    }
    if t < ctx.maxt.saturating_sub(ctx.ooo_window) {
        return Ok(Decision::Reject(SampleReject::TooOld));
    }
    Ok(Decision::Accept(Placement::OutOfOrder))
}

/// Decides where histogram `h` at `t` goes, without changing anything: the
/// rules of [`decide`], where a float at the same time is a different value.
pub(crate) fn decide_histogram(
    s: &MemSeries,
    ctx: &DecideCtx<'_>,
    t: i64,
    h: &Histogram,
) -> Result<Decision> {
    place(ctx, t, || {
        Ok(existing_at(s, ctx, t)?.map(|e| match e {
            Existing::Histogram(old) => old.bit_eq(h),
            Existing::Float(_) => false,
        }))
    })
}

/// Applies a decided histogram.
pub(crate) fn apply_histogram(
    s: &mut MemSeries,
    p: Placement,
    e: &HistogramEntry,
    block_range: i64,
) {
    let hs = HistogramSample {
        t: e.t,
        h: e.h.clone(),
    };
    match p {
        Placement::InOrder => s.append_histogram_in_order(hs, block_range),
        Placement::OutOfOrder => s.insert_histogram_ooo(hs),
    }
    // One start-timestamp stream per series, whatever the sample kind: a
    // series never holds a float and a histogram at one time.
    if e.st != 0 {
        s.set_start_time(e.t, e.st);
    }
}

/// Decides where sample `(t, v)` goes, without changing anything.
pub(crate) fn decide(s: &MemSeries, ctx: &DecideCtx<'_>, t: i64, v: f64) -> Result<Decision> {
    place(ctx, t, || {
        Ok(existing_at(s, ctx, t)?.map(|e| match e {
            Existing::Float(bits) => bits == v.to_bits(),
            Existing::Histogram(_) => false,
        }))
    })
}

pub(crate) fn apply(s: &mut MemSeries, p: Placement, e: &SampleEntry, block_range: i64) {
    match p {
        Placement::InOrder => s.append_in_order(e.t, e.v, block_range),
        Placement::OutOfOrder => s.insert_ooo(crate::model::Sample::new(e.t, e.v)),
    }
    if e.st != 0 {
        s.set_start_time(e.t, e.st);
    }
}

/// The label holding the metric name.
const METRIC_NAME: &str = "__name__";

/// The metric name of validated labels ("" when there is none).
fn metric_name<'a>(labels: &[(&'a str, &'a str)]) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| *n == METRIC_NAME)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

impl Head {
    /// Finds or creates the series for `labels` (test convenience over
    /// the batch path's [`Head::series_key`], [`Head::lookup_keys`] and
    /// [`Head::create_series`]).
    #[cfg(test)]
    pub(crate) fn get_or_create(
        &self,
        labels: &[(&[u8], &[u8])],
    ) -> Result<(SeriesHandle, Option<Labels>), LabelError> {
        let refs: Vec<LabelRef> = labels
            .iter()
            .map(|&(name, value)| LabelRef { name, value })
            .collect();
        let mut order = Vec::new();
        normalize_label_order(&refs, &mut order)?;
        let key = self.series_key(&refs, &order);
        let mut found = Vec::new();
        self.lookup_keys(&[key], &mut found);
        match found.pop().flatten() {
            Some(h) => Ok((h, None)),
            None => self
                .create_series(&refs, &order, key, &SeriesLimits::default())
                .map_err(|e| match e {
                    RejectReason::Labels(e) => e,
                    other => panic!("no limits set, got {other}"),
                }),
        }
    }

    /// The key of labels given in sorted `order` (see [`normalize_label_order`]).
    pub(crate) fn series_key(&self, labels: &[LabelRef<'_>], order: &[u32]) -> SeriesKey {
        self.keys.key(
            order
                .iter()
                .map(|&i| (labels[i as usize].name, labels[i as usize].value)),
        )
    }

    /// Looks up many keys under one lock; `out[i]` is the series for `keys[i]`.
    /// The lookups are independent, so their cache misses overlap.
    pub(crate) fn lookup_keys(&self, keys: &[SeriesKey], out: &mut Vec<Option<SeriesHandle>>) {
        let table = self.table.read();
        out.extend(keys.iter().map(|k| table.by_key.get(k).cloned()));
        drop(table);
        // The batch will lock and read each series next; start those loads
        // now, all at once, instead of one cache miss at a time.
        for h in out.iter().flatten() {
            super::prefetch(&h.data, std::mem::size_of_val(&h.data));
        }
    }

    /// Validates (UTF-8) and creates the series for labels in sorted
    /// `order`, unless another appender created it meanwhile. The series
    /// limits are checked under the table lock, so concurrent creators
    /// cannot both slip under a limit.
    pub(crate) fn create_series(
        &self,
        labels: &[LabelRef<'_>],
        order: &[u32],
        key: SeriesKey,
        limits: &SeriesLimits,
    ) -> Result<(SeriesHandle, Option<Labels>), RejectReason> {
        let pairs: Vec<(&[u8], &[u8])> = order
            .iter()
            .map(|&i| (labels[i as usize].name, labels[i as usize].value))
            .collect();
        let strs = check_utf8(&pairs).map_err(RejectReason::Labels)?;
        let mut table = self.table.write();
        if let Some(h) = table.by_key.get(&key) {
            return Ok((h.clone(), None));
        }
        let metric = metric_name(&strs);
        let metric_series = table.per_metric.get(metric).copied().unwrap_or(0);
        limits.check_new_series(table.by_key.len() as u64, metric, metric_series)?;
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1);
        let h = self.insert_series(&mut table, key, id, &strs);
        let owned = Labels::from_pairs(strs.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        Ok((h, Some(owned)))
    }

    /// Creates a series with a given id (WAL replay). An id already present
    /// is left as it is. If the label set is present under another id, that
    /// older series was garbage-collected in the run that wrote the log (so
    /// it is empty here) and is replaced; should it hold samples after all,
    /// the new id becomes an alias of it so no sample is lost.
    pub(crate) fn create_with_id(&self, id: u32, labels: &Labels) {
        let strs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        let key = self
            .keys
            .key(strs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        let mut table = self.table.write();
        if table.by_id.contains_key(&id) {
            return;
        }
        table.next_id = table.next_id.max(id.wrapping_add(1));
        if let Some(old) = table.by_key.get(&key).cloned() {
            if old.data.lock().is_empty() {
                self.remove_locked(&mut table, old.id);
            } else {
                tracing::warn!(
                    old = old.id,
                    new = id,
                    "WAL redefines a live series; keeping both ids for it"
                );
                table.by_id.insert(id, old);
                return;
            }
        }
        self.insert_series(&mut table, key, id, &strs);
    }

    fn insert_series(
        &self,
        table: &mut super::SeriesTable,
        key: SeriesKey,
        id: u32,
        labels: &[(&str, &str)],
    ) -> SeriesHandle {
        let (pairs, arcs) = {
            let mut sy = self.symbols.write();
            let pairs: Box<[(u32, u32)]> = labels
                .iter()
                .map(|(n, v)| (sy.intern(n), sy.intern(v)))
                .collect();
            let arcs: Vec<_> = pairs
                .iter()
                .map(|&(n, v)| (sy.shared(n).clone(), sy.shared(v).clone()))
                .collect();
            (pairs, arcs)
        };
        let h = Arc::new(SeriesEntry {
            id,
            labels: pairs,
            data: Mutex::new(MemSeries::new()),
        });
        table.by_id.insert(id, h.clone());
        if table.by_key.insert(key, h.clone()).is_none() {
            *table
                .per_metric
                .entry(metric_name(labels).to_string())
                .or_default() += 1;
        }
        self.postings.write().add(id, &arcs);
        h
    }

    /// The handle of series `id`.
    pub(crate) fn series(&self, id: u32) -> Option<SeriesHandle> {
        self.table.read().by_id.get(&id).cloned()
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
        let sy = self.symbols.read();
        let key = self.key_of_pairs(&h.labels, &sy);
        let arcs: Vec<_> = h
            .labels
            .iter()
            .map(|&(n, v)| (sy.shared(n).clone(), sy.shared(v).clone()))
            .collect();
        let metric = h
            .labels
            .iter()
            .find(|&&(n, _)| sy.resolve(n) == METRIC_NAME)
            .map(|&(_, v)| sy.resolve(v).to_string())
            .unwrap_or_default();
        drop(sy);
        if table.by_key.remove(&key).is_some() {
            if let Some(n) = table.per_metric.get_mut(&metric) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    table.per_metric.remove(&metric);
                }
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
            assert_eq!(validate_labels(&refs), want, "input {input:?}");
        }
    }

    fn ctx(maxt: i64, window: i64, pending: &[SampleEntry]) -> DecideCtx<'_> {
        DecideCtx {
            maxt,
            min_valid_t: 100,
            ooo_window: window,
            series: 1,
            pending,
            pending_hists: &[],
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
                st: 0,
            },
            SampleEntry {
                series: 2,
                t: 305,
                v: 1.0,
                st: 0,
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
    fn histogram_decisions_share_the_float_rules() {
        let h = |sum: f64| Histogram {
            sum,
            ..Histogram::empty_int(0)
        };
        let mut s = MemSeries::new();
        s.append_in_order(200, 2.0, i64::MAX);
        s.append_histogram_in_order(HistogramSample { t: 300, h: h(1.0) }, i64::MAX);
        use Decision::*;
        let d = |c: &DecideCtx, t, x: &Histogram| decide_histogram(&s, c, t, x).unwrap();
        assert_eq!(
            d(&ctx(300, 0, &[]), 301, &h(1.0)),
            Accept(Placement::InOrder)
        );
        assert_eq!(d(&ctx(300, 0, &[]), 300, &h(1.0)), IgnoreDuplicate);
        assert_eq!(
            d(&ctx(300, 0, &[]), 300, &h(2.0)),
            Reject(SampleReject::DuplicateTimestamp)
        );
        // A histogram where a float is, and a float where a histogram is.
        assert_eq!(
            d(&ctx(300, 60, &[]), 200, &h(2.0)),
            Reject(SampleReject::DuplicateTimestamp)
        );
        assert_eq!(
            decide(&s, &ctx(300, 60, &[]), 300, 1.0).unwrap(),
            Reject(SampleReject::DuplicateTimestamp)
        );
        assert_eq!(
            d(&ctx(300, 0, &[]), 250, &h(1.0)),
            Reject(SampleReject::OutOfOrder)
        );
        assert_eq!(
            d(&ctx(300, 60, &[]), 250, &h(1.0)),
            Accept(Placement::OutOfOrder)
        );
        assert_eq!(
            d(&ctx(300, 60, &[]), 239, &h(1.0)),
            Reject(SampleReject::TooOld)
        );
        assert_eq!(
            d(&ctx(300, 60, &[]), 99, &h(1.0)),
            Reject(SampleReject::TooOld)
        );
        // Histograms accepted earlier in the batch count too.
        let pending = [HistogramEntry {
            st: 0,
            series: 1,
            t: 310,
            h: h(5.0),
        }];
        let c = DecideCtx {
            pending_hists: &pending,
            ..ctx(310, 0, &[])
        };
        assert_eq!(d(&c, 310, &h(5.0)), IgnoreDuplicate);
        assert_eq!(
            d(&c, 310, &h(6.0)),
            Reject(SampleReject::DuplicateTimestamp)
        );
        assert_eq!(
            decide(&s, &c, 310, 5.0).unwrap(),
            Reject(SampleReject::DuplicateTimestamp)
        );
    }

    #[test]
    fn get_or_create_is_keyed_by_label_set() {
        let h = Head::new(7_200_000);
        let x: &[(&[u8], &[u8])] = &[(b"__name__", b"up"), (b"job", b"x")];
        let y: &[(&[u8], &[u8])] = &[(b"__name__", b"up"), (b"job", b"y")];
        let (a, created) = h.get_or_create(x).unwrap();
        assert!(created.is_some());
        let (b, created) = h.get_or_create(x).unwrap();
        assert!(created.is_none());
        assert_eq!(a.id, b.id);
        let (c, _) = h.get_or_create(y).unwrap();
        assert_ne!(a.id, c.id);
        assert_eq!(h.num_series(), 2);
        h.remove_series(a.id);
        assert_eq!(h.num_series(), 1);
        let (d, created) = h.get_or_create(x).unwrap();
        assert!(created.is_some());
        assert_ne!(d.id, a.id, "ids are not reused");
        let bad: &[(&[u8], &[u8])] = &[(b"__name__", b"ok"), (b"a", b"\xc3")];
        assert_eq!(
            h.get_or_create(bad).err(),
            Some(LabelError::InvalidUtf8Value("a".into()))
        );
    }
}
