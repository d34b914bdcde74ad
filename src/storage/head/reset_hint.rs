//! The counter-reset hint the head stores with an in-order histogram.
//!
//! Prometheus's head keeps a series' histograms in chunks and cuts a new
//! chunk whenever a histogram cannot continue the previous one (a counter
//! reset, another schema, zero threshold or set of custom bounds, a change
//! between integer and float counts, a gauge); its chunk iterators then give
//! every histogram after the first of a chunk the hint `NotCounterReset`
//! (`counterResetHint` in `tsdb/chunkenc/histogram_meta.go`). The head here
//! stores that hint with the histogram when it is appended (and so in the
//! WAL and in blocks), so that a query sees it even for the first histogram
//! it reads, whose predecessor it never reads.

use crate::model::{CounterResetHint, Histogram};

/// The hint to store for `cur`, appended in order right after `prev` (the
/// series' newest sample, when that is a histogram): `NotReset` when the
/// sender gave none and `cur` continues `prev` as a counter, else the
/// sender's hint unchanged.
pub(crate) fn stored_hint(prev: Option<&Histogram>, cur: &Histogram) -> CounterResetHint {
    match prev {
        Some(p) if cur.reset_hint == CounterResetHint::Unknown && continues(p, cur) => {
            CounterResetHint::NotReset
        }
        _ => cur.reset_hint,
    }
}

/// Whether `cur` could go into `prev`'s chunk without a counter reset
/// (`appendable` of `tsdb/chunkenc/histogram.go` and
/// `float_histogram.go`): both counters and not stale markers, the same
/// kind of counts, schema, zero threshold and custom bounds, and no count,
/// zero count or bucket smaller than before.
fn continues(prev: &Histogram, cur: &Histogram) -> bool {
    use CounterResetHint::Gauge;
    let same_layout = prev.is_float() == cur.is_float()
        && prev.schema == cur.schema
        && prev.zero_threshold.to_bits() == cur.zero_threshold.to_bits()
        && prev.custom_values == cur.custom_values;
    !prev.is_stale()
        && !cur.is_stale()
        && prev.reset_hint != Gauge
        && cur.reset_hint != Gauge
        && same_layout
        && cur.count_f64() >= prev.count_f64()
        && cur.zero_count_f64() >= prev.zero_count_f64()
        && [true, false]
            .into_iter()
            .all(|side| !bucket_decreased(&indexed(prev, side), &indexed(cur, side)))
}

/// One side's buckets as `(index, count)`, index-ordered.
fn indexed(h: &Histogram, positive: bool) -> Vec<(i64, f64)> {
    let spans = if positive {
        &h.positive_spans
    } else {
        &h.negative_spans
    };
    let counts = h.bucket_counts(positive);
    let mut c = counts.iter();
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i64;
    for s in spans {
        idx = idx.saturating_add(i64::from(s.offset));
        for k in 0..s.length {
            if let Some(&v) = c.next() {
                out.push((idx.saturating_add(i64::from(k)), v));
            }
        }
        idx = idx.saturating_add(i64::from(s.length));
    }
    out
}

/// Whether some bucket of `prev` is smaller (or gone) in `cur`.
fn bucket_decreased(prev: &[(i64, f64)], cur: &[(i64, f64)]) -> bool {
    prev.iter().any(|&(i, was)| {
        let now = cur
            .binary_search_by_key(&i, |b| b.0)
            .map_or(0.0, |j| cur[j].1);
        now < was
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistogramCounts, Span};

    /// A float histogram of schema 0 with positive buckets `counts` from
    /// index `offset`.
    fn h(offset: i32, counts: &[f64]) -> Histogram {
        let mut h = Histogram::empty_int(0);
        let total: f64 = counts.iter().sum();
        h.counts = HistogramCounts::Float {
            count: total,
            zero_count: 0.0,
            positive: counts.to_vec(),
            negative: Vec::new(),
        };
        h.positive_spans = vec![Span {
            offset,
            length: counts.len() as u32,
        }];
        h
    }

    #[test]
    fn continuing_counters_are_not_resets_and_everything_else_keeps_its_hint() {
        use CounterResetHint::*;
        let prev = h(0, &[1.0, 2.0]);
        let cases: Vec<(&str, Option<Histogram>, Histogram, CounterResetHint)> = vec![
            ("first histogram", None, h(0, &[1.0, 2.0]), Unknown),
            ("grows", Some(prev.clone()), h(0, &[1.0, 3.0]), NotReset),
            (
                "new bucket",
                Some(prev.clone()),
                h(0, &[1.0, 2.0, 1.0]),
                NotReset,
            ),
            (
                "bucket drops",
                Some(prev.clone()),
                h(0, &[0.5, 3.0]),
                Unknown,
            ),
            ("bucket gone", Some(prev.clone()), h(1, &[3.0]), Unknown),
            (
                "after a stale marker",
                Some(Histogram::stale_marker()),
                h(0, &[1.0]),
                Unknown,
            ),
            (
                "sender says reset",
                Some(prev.clone()),
                {
                    let mut x = h(0, &[1.0, 3.0]);
                    x.reset_hint = Reset;
                    x
                },
                Reset,
            ),
            (
                "gauge",
                Some(prev.clone()),
                {
                    let mut x = h(0, &[1.0, 3.0]);
                    x.reset_hint = Gauge;
                    x
                },
                Gauge,
            ),
            (
                "other schema",
                Some(prev.clone()),
                {
                    let mut x = h(0, &[1.0, 3.0]);
                    x.schema = 1;
                    x
                },
                Unknown,
            ),
            (
                "integer after float",
                Some(prev),
                Histogram::empty_int(0),
                Unknown,
            ),
        ];
        for (name, prev, cur, want) in cases {
            assert_eq!(stored_hint(prev.as_ref(), &cur), want, "{name}");
        }
    }
}
