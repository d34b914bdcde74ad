//! OTLP exponential histograms into native histograms.
//!
//! Reproduces `exponentialToNativeHistogram` and `convertBucketsLayout` in
//! Prometheus's `storage/remote/otlptranslator/prometheusremotewrite/
//! histograms.go`: the OTLP scale is the schema; scales above 8 are
//! downscaled to 8 by merging neighbouring buckets, scales below -4 are
//! refused; OTLP bucket `i` of offset `o` is Prometheus bucket `o + i + 1`
//! (OTLP buckets are lower-exclusive, upper-inclusive from index 0);
//! gaps of more than two empty buckets start a new span.

use super::proto::{Buckets, ExponentialHistogramDataPoint, FLAG_NO_RECORDED_VALUE};
use crate::model::{CounterResetHint, Histogram, HistogramCounts, Span};

/// Smallest exponential schema.
const SCHEMA_MIN: i32 = -4;
/// Largest exponential schema.
const SCHEMA_MAX: i32 = 8;
/// The zero threshold upstream gives every converted histogram
/// (`defaultZeroThreshold`).
const ZERO_THRESHOLD: f64 = 1e-128;

/// The native histogram of a cumulative exponential data point, or why
/// there is none.
pub fn exponential_to_native(p: &ExponentialHistogramDataPoint) -> Result<Histogram, String> {
    if p.scale < SCHEMA_MIN {
        return Err(format!(
            "cannot convert exponential to native histogram: scale must be >= {SCHEMA_MIN}, was {}",
            p.scale
        ));
    }
    let (schema, scale_down) = if p.scale > SCHEMA_MAX {
        (SCHEMA_MAX, (p.scale - SCHEMA_MAX) as u32)
    } else {
        (p.scale, 0)
    };
    let empty = Buckets::default();
    let (pos_spans, pos_deltas) = layout(p.positive.as_ref().unwrap_or(&empty), scale_down)?;
    let (neg_spans, neg_deltas) = layout(p.negative.as_ref().unwrap_or(&empty), scale_down)?;
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(Histogram::stale_marker());
    }
    let h = Histogram {
        schema,
        reset_hint: CounterResetHint::Unknown,
        zero_threshold: ZERO_THRESHOLD,
        sum: p.sum.unwrap_or(0.0),
        counts: HistogramCounts::Int {
            count: p.count,
            zero_count: p.zero_count,
            positive_deltas: pos_deltas,
            negative_deltas: neg_deltas,
        },
        positive_spans: pos_spans,
        negative_spans: neg_spans,
        custom_values: Vec::new(),
    };
    h.validate()
        .map_err(|e| format!("invalid exponential histogram: {e}"))?;
    Ok(h)
}

/// `convertBucketsLayout` with the offset adjusted: spans and delta-coded
/// counts of one side, merging `2^scale_down` buckets into one.
fn layout(b: &Buckets, scale_down: u32) -> Result<(Vec<Span>, Vec<i64>), String> {
    let counts = &b.bucket_counts;
    if counts.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let offset = i64::from(b.offset);
    // Indices in i64: the offset plus the bucket count cannot overflow it.
    let index = |i: usize| ((i as i64 + offset) >> scale_down) + 1;
    let as_i32 =
        |v: i64| i32::try_from(v).map_err(|_| format!("bucket offset {v} is out of range"));
    let mut spans = vec![Span {
        offset: as_i32((offset >> scale_down) + 1)?,
        length: 0,
    }];
    let mut deltas: Vec<i64> = Vec::with_capacity(counts.len());
    let mut prev: i64 = 0;
    let mut push = |spans: &mut Vec<Span>, deltas: &mut Vec<i64>, c: i64| {
        if let Some(last) = spans.last_mut() {
            last.length += 1;
        }
        deltas.push(c.wrapping_sub(prev));
        prev = c;
    };
    let mut bucket_idx = (offset >> scale_down) + 1;
    let mut count: i64 = 0;
    for (i, &n) in counts.iter().enumerate() {
        let n = i64::try_from(n).map_err(|_| format!("bucket count {n} is too large"))?;
        let next = index(i);
        if next == bucket_idx {
            count = count.saturating_add(n);
            continue;
        }
        if count == 0 {
            count = n;
            continue;
        }
        gap(
            &mut spans,
            &mut deltas,
            next - bucket_idx - 1,
            &mut push,
            as_i32,
        )?;
        push(&mut spans, &mut deltas, count);
        count = n;
        bucket_idx = next;
    }
    let last_gap = index(counts.len() - 1) - bucket_idx;
    gap(&mut spans, &mut deltas, last_gap, &mut push, as_i32)?;
    push(&mut spans, &mut deltas, count);
    Ok((spans, deltas))
}

/// A gap of more than two empty buckets starts a new span; a smaller one
/// is filled with empty buckets.
fn gap(
    spans: &mut Vec<Span>,
    deltas: &mut Vec<i64>,
    gap: i64,
    push: &mut impl FnMut(&mut Vec<Span>, &mut Vec<i64>, i64),
    as_i32: impl Fn(i64) -> Result<i32, String>,
) -> Result<(), String> {
    if gap > 2 {
        spans.push(Span {
            offset: as_i32(gap)?,
            length: 0,
        });
    } else {
        for _ in 0..gap.max(0) {
            push(spans, deltas, 0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn layouts_match_prometheus() {
        // Cases from upstream's TestConvertBucketsLayout: (offset, counts,
        // scale_down, spans, deltas).
        type Case = (i32, Vec<u64>, u32, Vec<Span>, Vec<i64>);
        let cases: Vec<Case> = vec![
            (
                0,
                vec![4, 3, 2, 1],
                0,
                vec![span(1, 4)],
                vec![4, -1, -1, -1],
            ),
            (0, vec![], 0, vec![], vec![]),
            (0, vec![4, 3, 2, 1], 1, vec![span(1, 2)], vec![7, -4]),
            (
                5,
                vec![4, 0, 0, 0, 0, 3],
                0,
                vec![span(6, 1), span(4, 1)],
                vec![4, -1],
            ),
            (-2, vec![1, 0, 2], 0, vec![span(-1, 3)], vec![1, -1, 2]),
        ];
        for (offset, counts, down, want_spans, want_deltas) in cases {
            let b = Buckets {
                offset,
                bucket_counts: counts.clone(),
            };
            let (spans, deltas) = layout(&b, down).unwrap();
            assert_eq!(spans, want_spans, "{offset} {counts:?} {down}");
            assert_eq!(deltas, want_deltas, "{offset} {counts:?} {down}");
        }
    }

    #[test]
    fn scales_are_clamped_or_refused() {
        let mut p = ExponentialHistogramDataPoint {
            scale: 10,
            count: 6,
            sum: Some(10.0),
            zero_count: 1,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![1, 1, 1, 1, 1],
            }),
            ..Default::default()
        };
        let h = exponential_to_native(&p).unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(h.zero_threshold, ZERO_THRESHOLD);
        assert_eq!(h.bucket_counts(true).iter().sum::<f64>(), 5.0);
        p.scale = -5;
        let e = exponential_to_native(&p).unwrap_err();
        assert!(e.contains("scale must be >= -4, was -5"), "{e}");
        p.scale = 0;
        p.flags = FLAG_NO_RECORDED_VALUE;
        assert!(exponential_to_native(&p).unwrap().is_stale());
    }
}
