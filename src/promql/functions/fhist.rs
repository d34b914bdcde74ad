//! Float histograms as the evaluator computes with them: Prometheus'
//! `histogram.FloatHistogram` with buckets held as `(index, count)` pairs
//! instead of spans. Stored histograms (integer or float) come in through
//! [`FHist::from_model`] and results go out through [`FHist::to_model`].
//!
//! The arithmetic follows `model/histogram/float_histogram.go` upstream:
//! `Add`/`Sub` (schema reduction, zero-bucket reconciliation, custom-bound
//! intersection, counter-reset hint adjustment), `Mul`/`Div`,
//! `DetectReset` and the bucket iterators.

use super::kahan;
use crate::model::histogram::{exponential_bound, Bucket, CUSTOM_BUCKETS_SCHEMA};
use crate::model::{CounterResetHint, Histogram, HistogramCounts, Span};

/// A float histogram. Bucket lists are sorted by index; an index may hold 0.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FHist {
    pub schema: i32,
    pub hint: CounterResetHint,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub pos: Vec<(i32, f64)>,
    pub neg: Vec<(i32, f64)>,
    /// Custom bucket bounds (schema -53), without +Inf.
    pub custom: Vec<f64>,
}

/// What an addition or subtraction noticed, for annotations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AddNotes {
    /// One side said counter reset, the other not (`counterResetCollision`).
    pub reset_collision: bool,
    /// Custom bounds differed and were intersected (`nhcbBoundsReconciled`).
    pub bounds_reconciled: bool,
}

/// Exponential and custom-bucket histograms cannot be combined
/// (`ErrHistogramsIncompatibleSchema`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IncompatibleSchema;

fn side(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut c = counts.iter();
    for s in spans {
        idx = idx.saturating_add(s.offset);
        for k in 0..s.length {
            if let Some(&v) = c.next() {
                out.push((idx.saturating_add(k as i32), v));
            }
        }
        idx = idx.saturating_add(s.length as i32);
    }
    out
}

fn to_spans(buckets: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next: Option<i32> = None;
    for &(i, c) in buckets.iter().filter(|b| b.1 != 0.0) {
        match (next, spans.last_mut()) {
            (Some(n), Some(s)) if n == i => s.length += 1,
            _ => spans.push(Span {
                offset: next.map_or(i, |n| i - n),
                length: 1,
            }),
        }
        counts.push(c);
        next = Some(i + 1);
    }
    (spans, counts)
}

/// Adds `k * other` into `into` by index, both sorted.
fn merge(into: &[(i32, f64)], other: &[(i32, f64)], k: f64) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(into.len() + other.len());
    let (mut a, mut b) = (into.iter().peekable(), other.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                out.push((x.0, x.1 + k * y.1));
                a.next();
                b.next();
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                out.push(**x);
                a.next();
            }
            (_, Some(y)) => {
                out.push((y.0, k * y.1));
                b.next();
            }
            (Some(x), None) => {
                out.push(**x);
                a.next();
            }
            (None, None) => return out,
        }
    }
}

/// Buckets mapped to a lower schema (`targetIdx` upstream), merged.
fn reduce(buckets: &[(i32, f64)], from: i32, to: i32) -> Vec<(i32, f64)> {
    let shift = (from - to).clamp(0, 31);
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(buckets.len());
    for &(i, c) in buckets {
        let t = ((i - 1) >> shift) + 1;
        match out.last_mut() {
            Some(l) if l.0 == t => l.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

impl FHist {
    /// A stored histogram as floats.
    pub(crate) fn from_model(h: &Histogram) -> FHist {
        FHist {
            schema: h.schema,
            hint: h.reset_hint,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count_f64(),
            count: h.count_f64(),
            sum: h.sum,
            pos: side(&h.positive_spans, &h.bucket_counts(true)),
            neg: side(&h.negative_spans, &h.bucket_counts(false)),
            custom: h.custom_values.clone(),
        }
    }

    /// The result as a float histogram, empty buckets left out.
    pub(crate) fn to_model(&self) -> Histogram {
        let (positive_spans, positive) = to_spans(&self.pos);
        let (negative_spans, negative) = to_spans(&self.neg);
        Histogram {
            schema: self.schema,
            reset_hint: self.hint,
            zero_threshold: self.zero_threshold,
            sum: self.sum,
            counts: HistogramCounts::Float {
                count: self.count,
                zero_count: self.zero_count,
                positive,
                negative,
            },
            positive_spans,
            negative_spans,
            custom_values: self.custom.clone(),
        }
    }

    /// Whether the buckets are custom (NHCB).
    pub(crate) fn is_custom(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The upper bound of bucket `idx` (`getBound`).
    pub(crate) fn bound(&self, idx: i32) -> f64 {
        if self.is_custom() {
            return match usize::try_from(idx) {
                Ok(i) if i < self.custom.len() => self.custom[i],
                Ok(_) => f64::INFINITY,
                Err(_) => f64::NEG_INFINITY,
            };
        }
        exponential_bound(i64::from(idx), self.schema)
    }

    /// `Mul`: scales every count and the sum; a negative factor makes it a gauge.
    pub(crate) fn mul(&mut self, k: f64) {
        self.zero_count *= k;
        self.count *= k;
        self.sum *= k;
        self.pos.iter_mut().for_each(|b| b.1 *= k);
        self.neg.iter_mut().for_each(|b| b.1 *= k);
        if k < 0.0 {
            self.hint = CounterResetHint::Gauge;
        }
    }

    /// `Div`: dividing by zero drops every bucket.
    pub(crate) fn div(&mut self, k: f64) {
        self.zero_count /= k;
        self.count /= k;
        self.sum /= k;
        if k == 0.0 {
            self.pos.clear();
            self.neg.clear();
            return;
        }
        self.pos.iter_mut().for_each(|b| b.1 /= k);
        self.neg.iter_mut().for_each(|b| b.1 /= k);
        if k < 0.0 {
            self.hint = CounterResetHint::Gauge;
        }
    }

    /// `Add`.
    pub(crate) fn add(&mut self, o: &FHist) -> Result<AddNotes, IncompatibleSchema> {
        self.add_scaled(o, 1.0)
    }

    /// `Sub`.
    pub(crate) fn sub(&mut self, o: &FHist) -> Result<AddNotes, IncompatibleSchema> {
        self.add_scaled(o, -1.0)
    }

    fn add_scaled(&mut self, o: &FHist, k: f64) -> Result<AddNotes, IncompatibleSchema> {
        if self.is_custom() != o.is_custom() {
            return Err(IncompatibleSchema);
        }
        let mut notes = AddNotes {
            reset_collision: self.adjust_hint(o),
            ..AddNotes::default()
        };
        self.count += k * o.count;
        self.sum += k * o.sum;
        if self.is_custom() {
            if self.custom == o.custom {
                self.pos = merge(&self.pos, &o.pos, k);
            } else {
                notes.bounds_reconciled = true;
                let common = intersect(&self.custom, &o.custom);
                let mine = self.map_custom(&common);
                let theirs = o.map_custom(&common);
                self.pos = merge(&mine, &theirs, k);
                self.custom = common;
            }
            return Ok(notes);
        }
        let mut o = o.clone();
        if o.schema < self.schema {
            self.pos = reduce(&self.pos, self.schema, o.schema);
            self.neg = reduce(&self.neg, self.schema, o.schema);
            self.schema = o.schema;
        } else if o.schema > self.schema {
            o.pos = reduce(&o.pos, o.schema, self.schema);
            o.neg = reduce(&o.neg, o.schema, self.schema);
            o.schema = self.schema;
        }
        self.reconcile_zero(&mut o);
        self.zero_count += k * o.zero_count;
        self.pos = merge(&self.pos, &o.pos, k);
        self.neg = merge(&self.neg, &o.neg, k);
        Ok(notes)
    }

    /// `KahanAdd`: adds `o` with a compensation histogram `c` holding the
    /// lost low-order parts (same layout as `self`); the result is
    /// `self + c` once every input is in ([`FHist::kahan_finish`]).
    pub(crate) fn kahan_add(
        &mut self,
        o: &FHist,
        c: &mut FHist,
    ) -> Result<AddNotes, IncompatibleSchema> {
        if self.is_custom() != o.is_custom() {
            return Err(IncompatibleSchema);
        }
        let mut o = o.clone();
        let mut notes = AddNotes {
            reset_collision: self.adjust_hint(&o),
            ..AddNotes::default()
        };
        if self.is_custom() {
            if self.custom != o.custom {
                notes.bounds_reconciled = true;
                let common = intersect(&self.custom, &o.custom);
                self.pos = self.map_custom(&common);
                c.pos = c.map_custom(&common);
                o.pos = o.map_custom(&common);
                self.custom = common.clone();
                c.custom = common;
            }
        } else {
            if o.schema < self.schema {
                for h in [&mut *self, &mut *c] {
                    h.pos = reduce(&h.pos, h.schema, o.schema);
                    h.neg = reduce(&h.neg, h.schema, o.schema);
                    h.schema = o.schema;
                }
            } else if o.schema > self.schema {
                o.pos = reduce(&o.pos, o.schema, self.schema);
                o.neg = reduce(&o.neg, o.schema, self.schema);
                o.schema = self.schema;
            }
            self.reconcile_zero(&mut o);
            c.widen_zero(self.zero_threshold);
            (self.zero_count, c.zero_count) =
                kahan::inc(o.zero_count, self.zero_count, c.zero_count);
        }
        (self.count, c.count) = kahan::inc(o.count, self.count, c.count);
        (self.sum, c.sum) = kahan::inc(o.sum, self.sum, c.sum);
        kahan_side(&mut self.pos, &mut c.pos, &o.pos);
        kahan_side(&mut self.neg, &mut c.neg, &o.neg);
        Ok(notes)
    }

    /// A compensation histogram for [`FHist::kahan_add`] into `self`.
    pub(crate) fn kahan_zero(&self) -> FHist {
        FHist {
            zero_count: 0.0,
            count: 0.0,
            sum: 0.0,
            pos: Vec::new(),
            neg: Vec::new(),
            ..self.clone()
        }
    }

    /// `self + c`, the compensated result.
    pub(crate) fn kahan_finish(&mut self, c: &FHist) {
        let hint = self.hint;
        self.count += c.count;
        self.sum += c.sum;
        self.zero_count += c.zero_count;
        self.pos = merge(&self.pos, &c.pos, 1.0);
        self.neg = merge(&self.neg, &c.neg, 1.0);
        self.hint = hint;
    }

    /// Whether a count, the sum or a bucket is infinite (`HasOverflow`).
    pub(crate) fn has_overflow(&self) -> bool {
        [self.count, self.sum, self.zero_count]
            .iter()
            .chain(self.pos.iter().map(|b| &b.1))
            .chain(self.neg.iter().map(|b| &b.1))
            .any(|v| v.is_infinite())
    }

    /// `adjustCounterReset`: the hint of a sum or difference; `true` on a
    /// reset/not-reset collision.
    fn adjust_hint(&mut self, o: &FHist) -> bool {
        use CounterResetHint::*;
        match (self.hint, o.hint) {
            (a, b) if a == b => false,
            (Gauge, _) => false,
            (_, Gauge) => {
                self.hint = Gauge;
                false
            }
            (Unknown, _) => false,
            (_, Unknown) => {
                self.hint = Unknown;
                false
            }
            _ => {
                self.hint = Unknown;
                true
            }
        }
    }

    /// Buckets re-indexed onto the `common` custom bounds (each bucket goes
    /// to the first common bound at or above its own upper bound).
    fn map_custom(&self, common: &[f64]) -> Vec<(i32, f64)> {
        let mut out: Vec<(i32, f64)> = Vec::new();
        for &(i, c) in &self.pos {
            let upper = self.bound(i);
            let t = common.partition_point(|b| *b < upper) as i32;
            match out.last_mut() {
                Some(l) if l.0 == t => l.1 += c,
                _ => out.push((t, c)),
            }
        }
        out
    }

    /// `reconcileZeroBuckets`: both get the larger zero bucket, widened
    /// until it does not end inside a populated bucket of either.
    fn reconcile_zero(&mut self, o: &mut FHist) {
        let mut guard = 0;
        while self.zero_threshold != o.zero_threshold && guard < 64 {
            guard += 1;
            if self.zero_threshold > o.zero_threshold {
                o.widen_zero(self.zero_threshold);
            }
            if o.zero_threshold > self.zero_threshold {
                self.widen_zero(o.zero_threshold);
            }
        }
    }

    /// `zeroCountForLargerThreshold` followed by `trimBucketsInZeroBucket`.
    pub(crate) fn widen_zero(&mut self, threshold: f64) {
        if threshold <= self.zero_threshold {
            return;
        }
        let (zero, t) = self.zero_for_threshold(threshold);
        self.zero_count = zero;
        self.zero_threshold = t;
        let (pos, neg) = (std::mem::take(&mut self.pos), std::mem::take(&mut self.neg));
        self.pos = pos
            .into_iter()
            .filter(|b| self.bound(b.0 - 1) >= t)
            .collect();
        self.neg = neg
            .into_iter()
            .filter(|b| self.bound(b.0 - 1) >= t)
            .collect();
    }

    /// The zero count and threshold this histogram has with its zero bucket
    /// widened to at least `threshold` (`zeroCountForLargerThreshold`).
    pub(crate) fn zero_for_threshold(&self, mut threshold: f64) -> (f64, f64) {
        if threshold <= self.zero_threshold {
            return (self.zero_count, self.zero_threshold);
        }
        'outer: loop {
            let mut zero = self.zero_count;
            for &(i, c) in &self.pos {
                let (lower, upper) = (self.bound(i - 1), self.bound(i));
                if lower >= threshold {
                    break;
                }
                zero += c;
                if upper > threshold {
                    if c != 0.0 {
                        threshold = upper;
                    }
                    break;
                }
            }
            for &(i, c) in &self.neg {
                let (lower, upper) = (-self.bound(i), -self.bound(i - 1));
                if upper <= -threshold {
                    break;
                }
                zero += c;
                if lower < -threshold {
                    if c != 0.0 {
                        threshold = -lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (zero, threshold);
        }
    }

    /// `DetectReset`: whether `self` follows a counter reset after `prev`.
    pub(crate) fn detect_reset(&self, prev: &FHist) -> bool {
        match self.hint {
            CounterResetHint::Reset => return true,
            CounterResetHint::NotReset => return false,
            _ => {}
        }
        if self.count < prev.count {
            return true;
        }
        if self.is_custom() != prev.is_custom() {
            return true;
        }
        if self.is_custom() {
            if self.custom != prev.custom {
                let common = intersect(&self.custom, &prev.custom);
                return bucket_decreased(&self.map_custom(&common), &prev.map_custom(&common));
            }
            return bucket_decreased(&self.pos, &prev.pos);
        }
        if self.schema > prev.schema || self.zero_threshold < prev.zero_threshold {
            return true;
        }
        let (prev_zero, t) = prev.zero_for_threshold(self.zero_threshold);
        if t != self.zero_threshold || self.zero_count < prev_zero {
            return true;
        }
        let mut p = prev.clone();
        p.widen_zero(self.zero_threshold);
        let (pp, pn) = if p.schema > self.schema {
            (
                reduce(&p.pos, p.schema, self.schema),
                reduce(&p.neg, p.schema, self.schema),
            )
        } else {
            (p.pos, p.neg)
        };
        bucket_decreased(&self.pos, &pp) || bucket_decreased(&self.neg, &pn)
    }

    /// Exact equality, floats by bit pattern (`FloatHistogram.Equals`).
    pub(crate) fn bit_eq(&self, o: &FHist) -> bool {
        let eq = |a: f64, b: f64| a.to_bits() == b.to_bits();
        let side_eq = |a: &[(i32, f64)], b: &[(i32, f64)]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && eq(x.1, y.1))
        };
        self.schema == o.schema
            && eq(self.zero_threshold, o.zero_threshold)
            && eq(self.zero_count, o.zero_count)
            && eq(self.count, o.count)
            && eq(self.sum, o.sum)
            && side_eq(&self.pos, &o.pos)
            && side_eq(&self.neg, &o.neg)
            && self.custom.len() == o.custom.len()
            && self.custom.iter().zip(&o.custom).all(|(a, b)| eq(*a, *b))
    }

    /// Every bucket, lowest first, as `AllBucketIterator` yields them
    /// (the zero bucket between the sides, bounds next to it clamped).
    pub(crate) fn all_buckets(&self) -> Vec<Bucket> {
        self.to_model().nonempty_buckets()
    }
}

/// Adds `o`'s buckets into `sum` with compensation terms in `c`, creating
/// buckets in both as needed.
fn kahan_side(sum: &mut Vec<(i32, f64)>, c: &mut Vec<(i32, f64)>, o: &[(i32, f64)]) {
    let zeros: Vec<(i32, f64)> = o.iter().map(|b| (b.0, 0.0)).collect();
    *sum = merge(sum, &zeros, 1.0);
    *c = merge(c, &zeros, 1.0);
    let mut ci = 0;
    for &(i, v) in o {
        let Ok(si) = sum.binary_search_by_key(&i, |b| b.0) else {
            continue;
        };
        while ci < c.len() && c[ci].0 < i {
            ci += 1;
        }
        let (s, cc) = kahan::inc(v, sum[si].1, c[ci].1);
        sum[si].1 = s;
        c[ci].1 = cc;
    }
}

/// Whether some populated bucket of `prev` is smaller (or missing) in `cur`.
fn bucket_decreased(cur: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    prev.iter().any(|&(i, c)| {
        let now = cur.iter().find(|b| b.0 == i).map_or(0.0, |b| b.1);
        now < c
    })
}

/// `intersectCustomBucketBounds`.
fn intersect(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().filter(|x| b.contains(x)).copied().collect()
}
