//! Native histograms as a sample value: exponential schemas -4..=8 and
//! custom buckets (schema -53, "NHCB"), with integer or float counts.
//!
//! One type holds both of Prometheus' `histogram.Histogram` (integer
//! counts, buckets as deltas) and `histogram.FloatHistogram` (float counts,
//! absolute buckets); [`HistogramCounts`] says which. [`Histogram::validate`]
//! follows `Histogram.Validate` and `FloatHistogram.Validate` in
//! Prometheus' `model/histogram` (with `checkHistogramSpans`,
//! `checkHistogramBuckets` and `checkHistogramCustomBounds`), except that a
//! float histogram's count is also checked against its bucket sum, with a
//! relative tolerance, because a sender that gets it wrong is as broken as
//! one that gets an integer count wrong.

use super::{is_stale_nan, stale_nan, Timestamp};

/// Schema number of native histograms with custom buckets (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// Valid exponential schemas.
pub const EXPONENTIAL_SCHEMAS: std::ops::RangeInclusive<i32> = -4..=8;
/// Relative slack allowed when a float count is compared to its buckets.
const FLOAT_COUNT_TOLERANCE: f64 = 1e-9;

/// A run of consecutive buckets: `offset` buckets after the end of the
/// previous span (after index 0 for the first), `length` buckets long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Gap to the previous span (the first span's start index).
    pub offset: i32,
    /// Number of buckets.
    pub length: u32,
}

/// What the sender says about counter resets (`histogram.CounterResetHint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Nothing is known; readers detect resets themselves.
    #[default]
    Unknown,
    /// The histogram follows a counter reset.
    Reset,
    /// The histogram does not follow a counter reset.
    NotReset,
    /// A gauge histogram: resets do not apply.
    Gauge,
}

impl CounterResetHint {
    /// The number used on the wire and on disk (the protobuf enum's).
    pub fn code(self) -> u8 {
        match self {
            CounterResetHint::Unknown => 0,
            CounterResetHint::Reset => 1,
            CounterResetHint::NotReset => 2,
            CounterResetHint::Gauge => 3,
        }
    }

    /// The hint for a code; unknown codes read as [`CounterResetHint::Unknown`]
    /// (an open enum, as proto3 has it).
    pub fn from_code(c: u64) -> CounterResetHint {
        match c {
            1 => CounterResetHint::Reset,
            2 => CounterResetHint::NotReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// The counts of a histogram, integer or float.
#[derive(Debug, Clone, PartialEq)]
pub enum HistogramCounts {
    /// Integer counts; buckets are deltas to the previous bucket of the side.
    Int {
        /// Observations.
        count: u64,
        /// Observations in the zero bucket.
        zero_count: u64,
        /// Positive buckets, each as the difference to the one before.
        positive_deltas: Vec<i64>,
        /// Negative buckets, each as the difference to the one before.
        negative_deltas: Vec<i64>,
    },
    /// Float counts; buckets are absolute.
    Float {
        /// Observations.
        count: f64,
        /// Observations in the zero bucket.
        zero_count: f64,
        /// Positive bucket counts.
        positive: Vec<f64>,
        /// Negative bucket counts.
        negative: Vec<f64>,
    },
}

/// A native histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// -4..=8 (exponential) or [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// The sender's counter-reset hint.
    pub reset_hint: CounterResetHint,
    /// Width of the zero bucket (`[-threshold, threshold]`).
    pub zero_threshold: f64,
    /// Sum of observations; the stale marker makes the histogram a stale marker.
    pub sum: f64,
    /// Counts and buckets.
    pub counts: HistogramCounts,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets (none with custom buckets).
    pub negative_spans: Vec<Span>,
    /// Upper bounds of the custom buckets, ascending, without +Inf
    /// (only with [`CUSTOM_BUCKETS_SCHEMA`]).
    pub custom_values: Vec<f64>,
}

/// One bucket of a histogram, as Prometheus' bucket iterators yield it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower boundary.
    pub lower: f64,
    /// Upper boundary.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in it.
    pub count: f64,
}

/// A histogram at a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSample {
    /// Milliseconds since the epoch.
    pub t: Timestamp,
    /// The histogram.
    pub h: Histogram,
}

impl Histogram {
    /// An empty integer histogram of `schema` (no buckets, no observations).
    pub fn empty_int(schema: i32) -> Histogram {
        Histogram {
            schema,
            reset_hint: CounterResetHint::Unknown,
            zero_threshold: 0.0,
            sum: 0.0,
            counts: HistogramCounts::Int {
                count: 0,
                zero_count: 0,
                positive_deltas: Vec::new(),
                negative_deltas: Vec::new(),
            },
            positive_spans: Vec::new(),
            negative_spans: Vec::new(),
            custom_values: Vec::new(),
        }
    }

    /// The stale marker for histograms: an empty histogram whose sum is the
    /// stale NaN (as Prometheus' `value.StaleNaN` in `Histogram.Sum`).
    pub fn stale_marker() -> Histogram {
        Histogram {
            sum: stale_nan(),
            ..Histogram::empty_int(0)
        }
    }

    /// Whether this is a stale marker (its sum is the stale NaN, bit for bit).
    pub fn is_stale(&self) -> bool {
        is_stale_nan(self.sum)
    }

    /// Whether the counts are floats.
    pub fn is_float(&self) -> bool {
        matches!(self.counts, HistogramCounts::Float { .. })
    }

    /// The total count as a float.
    pub fn count_f64(&self) -> f64 {
        match &self.counts {
            HistogramCounts::Int { count, .. } => *count as f64,
            HistogramCounts::Float { count, .. } => *count,
        }
    }

    /// The zero bucket's count as a float.
    pub fn zero_count_f64(&self) -> f64 {
        match &self.counts {
            HistogramCounts::Int { zero_count, .. } => *zero_count as f64,
            HistogramCounts::Float { zero_count, .. } => *zero_count,
        }
    }

    /// Absolute bucket counts of one side (deltas resolved), as floats.
    pub fn bucket_counts(&self, positive: bool) -> Vec<f64> {
        match &self.counts {
            HistogramCounts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                let d = if positive {
                    positive_deltas
                } else {
                    negative_deltas
                };
                let mut run = 0i64;
                d.iter()
                    .map(|x| {
                        run = run.saturating_add(*x);
                        run as f64
                    })
                    .collect()
            }
            HistogramCounts::Float {
                positive: p,
                negative: n,
                ..
            } => {
                if positive {
                    p.clone()
                } else {
                    n.clone()
                }
            }
        }
    }

    /// Every bucket with a count, lowest first: negative buckets, the zero
    /// bucket, positive buckets. Reproduces what `MarshalHistogram` in
    /// Prometheus' `util/jsonutil` sees: `FloatHistogram.AllBucketIterator`
    /// (bounds from `getBound`, inclusivity from `baseBucketIterator.at`,
    /// bounds next to the zero bucket clamped to its threshold) with empty
    /// buckets skipped.
    pub fn nonempty_buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        let thr = self.zero_threshold;
        let mut neg = self.side_buckets(false);
        neg.reverse();
        for mut b in neg {
            if b.upper < 0.0 && b.upper > -thr {
                b.upper = -thr;
            } else if b.lower > 0.0 && b.lower < thr {
                b.lower = thr;
            }
            out.push(b);
        }
        if self.zero_count_f64() > 0.0 {
            out.push(Bucket {
                lower: -thr,
                upper: thr,
                lower_inclusive: true,
                upper_inclusive: true,
                count: self.zero_count_f64(),
            });
        }
        for mut b in self.side_buckets(true) {
            if b.lower > 0.0 && b.lower < thr {
                b.lower = thr;
            } else if b.upper < 0.0 && b.upper > -thr {
                b.upper = -thr;
            }
            out.push(b);
        }
        out.retain(|b| b.count != 0.0);
        out
    }

    /// One side's buckets in index order, with their bounds.
    pub(crate) fn side_buckets(&self, positive: bool) -> Vec<Bucket> {
        let spans = if positive {
            &self.positive_spans
        } else {
            &self.negative_spans
        };
        let counts = self.bucket_counts(positive);
        let custom = self.schema == CUSTOM_BUCKETS_SCHEMA;
        let mut out = Vec::with_capacity(counts.len());
        let mut idx = 0i64;
        let mut c = counts.iter();
        for s in spans {
            idx = idx.saturating_add(i64::from(s.offset));
            for k in 0..s.length {
                let Some(&count) = c.next() else {
                    return out;
                };
                let at = idx.saturating_add(i64::from(k));
                let (hi, lo) = (self.bound(at), self.bound(at.saturating_sub(1)));
                let (lower, upper) = if positive { (lo, hi) } else { (-hi, -lo) };
                let (lower_inclusive, upper_inclusive) = if custom {
                    (at == 0, true)
                } else {
                    (lower < 0.0, upper > 0.0)
                };
                out.push(Bucket {
                    lower,
                    upper,
                    lower_inclusive,
                    upper_inclusive,
                    count,
                });
            }
            idx = idx.saturating_add(i64::from(s.length));
        }
        out
    }

    /// The upper bound of bucket `idx` (`getBound` upstream), saturating
    /// to ±Inf outside the range instead of failing.
    fn bound(&self, idx: i64) -> f64 {
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            let len = self.custom_values.len() as i64;
            return match idx {
                i if i >= len => f64::INFINITY,
                i if i < 0 => f64::NEG_INFINITY,
                i => self.custom_values[i as usize],
            };
        }
        exponential_bound(idx, self.schema)
    }

    /// Bit-exact equality (NaN sums and stale markers compare by bits), the
    /// equality a duplicate sample is judged by.
    pub fn bit_eq(&self, other: &Histogram) -> bool {
        let floats_eq = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        let counts_eq = match (&self.counts, &other.counts) {
            (HistogramCounts::Int { .. }, HistogramCounts::Int { .. }) => {
                self.counts == other.counts
            }
            (
                HistogramCounts::Float {
                    count: c1,
                    zero_count: z1,
                    positive: p1,
                    negative: n1,
                },
                HistogramCounts::Float {
                    count: c2,
                    zero_count: z2,
                    positive: p2,
                    negative: n2,
                },
            ) => {
                c1.to_bits() == c2.to_bits()
                    && z1.to_bits() == z2.to_bits()
                    && floats_eq(p1, p2)
                    && floats_eq(n1, n2)
            }
            _ => false,
        };
        self.schema == other.schema
            && self.reset_hint == other.reset_hint
            && self.zero_threshold.to_bits() == other.zero_threshold.to_bits()
            && self.sum.to_bits() == other.sum.to_bits()
            && counts_eq
            && self.positive_spans == other.positive_spans
            && self.negative_spans == other.negative_spans
            && floats_eq(&self.custom_values, &other.custom_values)
    }

    /// Number of buckets and values held, a measure of its size in memory
    /// (used to bound what a request or a decoder may build).
    pub fn num_values(&self) -> usize {
        let (p, n) = match &self.counts {
            HistogramCounts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => (positive_deltas.len(), negative_deltas.len()),
            HistogramCounts::Float {
                positive, negative, ..
            } => (positive.len(), negative.len()),
        };
        p + n + self.positive_spans.len() + self.negative_spans.len() + self.custom_values.len()
    }

    /// `Ok` if the histogram may be stored, or the reason it may not.
    pub fn validate(&self) -> Result<(), String> {
        self.check_layout()?;
        check_spans(&self.negative_spans, "negative")?;
        check_spans(&self.positive_spans, "positive")?;
        match &self.counts {
            HistogramCounts::Int {
                count,
                zero_count,
                positive_deltas,
                negative_deltas,
            } => {
                let neg = side_total_int(&self.negative_spans, negative_deltas, "negative")?;
                let pos = side_total_int(&self.positive_spans, positive_deltas, "positive")?;
                let (count, zero) = (i128::from(*count), i128::from(*zero_count));
                let buckets = zero.saturating_add(neg).saturating_add(pos);
                let ok = if self.sum.is_nan() {
                    buckets <= count
                } else {
                    buckets == count
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "count {count} does not match the bucket sum {buckets} \
                         (zero {zero}, negative {neg}, positive {pos})"
                    ))
                }
            }
            HistogramCounts::Float {
                count,
                zero_count,
                positive,
                negative,
            } => {
                let neg = side_total_float(&self.negative_spans, negative, "negative")?;
                let pos = side_total_float(&self.positive_spans, positive, "positive")?;
                if *count < 0.0 || *zero_count < 0.0 || count.is_nan() || zero_count.is_nan() {
                    return Err("negative count in float histogram".into());
                }
                let buckets = zero_count + neg + pos;
                if buckets - count > FLOAT_COUNT_TOLERANCE * buckets.abs() {
                    return Err(format!("count {count} is below the bucket sum {buckets}"));
                }
                Ok(())
            }
        }
    }

    fn check_layout(&self) -> Result<(), String> {
        if self.zero_threshold.is_nan() || self.zero_threshold < 0.0 {
            return Err(format!("invalid zero threshold {}", self.zero_threshold));
        }
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            return self.check_custom_buckets();
        }
        if !EXPONENTIAL_SCHEMAS.contains(&self.schema) {
            return Err(format!("invalid histogram schema {}", self.schema));
        }
        if !self.custom_values.is_empty() {
            return Err("exponential histogram with custom_values".into());
        }
        Ok(())
    }

    fn check_custom_buckets(&self) -> Result<(), String> {
        let neg_buckets = match &self.counts {
            HistogramCounts::Int {
                negative_deltas, ..
            } => negative_deltas.len(),
            HistogramCounts::Float { negative, .. } => negative.len(),
        };
        if !self.negative_spans.is_empty() || neg_buckets > 0 {
            return Err("custom-bucket histogram with negative buckets".into());
        }
        if self.positive_spans.first().is_some_and(|s| s.offset < 0) {
            return Err("custom-bucket histogram with a negative first span offset".into());
        }
        let sorted = self.custom_values.first().is_none_or(|v| !v.is_nan())
            && self
                .custom_values
                .windows(2)
                .all(|w| w[1].partial_cmp(&w[0]) == Some(std::cmp::Ordering::Greater));
        if !sorted {
            return Err("custom_values not strictly ascending".into());
        }
        if self.custom_values.last() == Some(&f64::INFINITY) {
            return Err("custom_values must not list +Inf".into());
        }
        // Bucket index len(custom_values) is the implicit +Inf bucket.
        let end = span_end(&self.positive_spans);
        let limit = i64::try_from(self.custom_values.len()).unwrap_or(i64::MAX);
        if end > limit.saturating_add(1) {
            return Err(format!(
                "spans reach bucket {} beyond the {} custom_values",
                end - 1,
                self.custom_values.len()
            ));
        }
        Ok(())
    }
}

/// `2^(idx * 2^-schema)`, the upper bound of exponential bucket `idx`, with
/// the bucket below the ±Inf bucket ending at `f64::MAX` as
/// `getBoundExponential` upstream has it.
pub(crate) fn exponential_bound(idx: i64, schema: i32) -> f64 {
    let (frac, exp) = if schema < 0 {
        let exp = idx.saturating_mul(1i64 << (-schema).clamp(0, 8));
        if exp == 1024 {
            return f64::MAX;
        }
        (1.0, exp)
    } else {
        let per = 1i64 << schema.clamp(0, 8);
        let frac_idx = idx.rem_euclid(per);
        let exp = idx.div_euclid(per).saturating_add(1);
        if frac_idx == 0 && exp == 1025 {
            return f64::MAX;
        }
        ((frac_idx as f64 / per as f64).exp2() / 2.0, exp)
    };
    // ldexp without overflow in between: two halves of the exponent.
    let e = exp.clamp(-2200, 2200) as i32;
    frac * 2f64.powi(e / 2) * 2f64.powi(e - e / 2)
}

/// One past the last bucket index the spans reach (offsets plus lengths).
fn span_end(spans: &[Span]) -> i64 {
    spans.iter().fold(0i64, |e, s| {
        e.saturating_add(i64::from(s.offset))
            .saturating_add(i64::from(s.length))
    })
}

fn check_spans(spans: &[Span], which: &str) -> Result<(), String> {
    for (i, s) in spans.iter().enumerate().skip(1) {
        if s.offset < 0 {
            return Err(format!(
                "{which} span {} has negative offset {}",
                i + 1,
                s.offset
            ));
        }
    }
    Ok(())
}

fn check_bucket_count(spans: &[Span], buckets: usize, which: &str) -> Result<(), String> {
    let covered: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
    if covered != buckets as u64 {
        return Err(format!(
            "{which} spans cover {covered} buckets but {buckets} are given"
        ));
    }
    Ok(())
}

fn side_total_int(spans: &[Span], deltas: &[i64], which: &str) -> Result<i128, String> {
    check_bucket_count(spans, deltas.len(), which)?;
    let (mut run, mut total) = (0i128, 0i128);
    for d in deltas {
        run = run.saturating_add(i128::from(*d));
        if run < 0 {
            return Err(format!("{which} bucket with a negative count"));
        }
        total = total.saturating_add(run);
    }
    Ok(total)
}

fn side_total_float(spans: &[Span], counts: &[f64], which: &str) -> Result<f64, String> {
    check_bucket_count(spans, counts.len(), which)?;
    if counts.iter().any(|c| *c < 0.0 || c.is_nan()) {
        return Err(format!("{which} bucket with a negative count"));
    }
    Ok(counts.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(count: u64, zero: u64, spans: &[(i32, u32)], deltas: &[i64]) -> Histogram {
        Histogram {
            zero_threshold: 0.001,
            sum: 10.0,
            counts: HistogramCounts::Int {
                count,
                zero_count: zero,
                positive_deltas: deltas.to_vec(),
                negative_deltas: Vec::new(),
            },
            positive_spans: spans
                .iter()
                .map(|&(offset, length)| Span { offset, length })
                .collect(),
            ..Histogram::empty_int(0)
        }
    }

    #[test]
    fn validation_table() {
        let nhcb = |bounds: &[f64], spans: &[(i32, u32)], deltas: &[i64], count| Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: bounds.to_vec(),
            zero_threshold: 0.0,
            ..int(count, 0, spans, deltas)
        };
        let float = |count: f64, buckets: &[f64]| Histogram {
            counts: HistogramCounts::Float {
                count,
                zero_count: 0.0,
                positive: buckets.to_vec(),
                negative: Vec::new(),
            },
            ..int(0, 0, &[(0, buckets.len() as u32)], &[])
        };
        let cases: Vec<(&str, Histogram, Option<&str>)> = vec![
            ("empty", Histogram::empty_int(0), None),
            ("stale marker", Histogram::stale_marker(), None),
            ("one bucket", int(3, 1, &[(0, 1)], &[2]), None),
            ("two spans", int(9, 1, &[(-2, 1), (3, 2)], &[2, 0, 2]), None),
            (
                "count mismatch",
                int(4, 1, &[(0, 1)], &[2]),
                Some("count 4"),
            ),
            (
                "negative bucket",
                int(0, 0, &[(0, 2)], &[1, -2]),
                Some("negative count"),
            ),
            (
                "span too short",
                int(2, 0, &[(0, 1)], &[1, 0]),
                Some("cover 1 buckets but 2"),
            ),
            (
                "negative 2nd offset",
                int(2, 0, &[(0, 1), (-1, 1)], &[1, 0]),
                Some("negative offset"),
            ),
            (
                "schema 9",
                Histogram {
                    schema: 9,
                    ..int(0, 0, &[], &[])
                },
                Some("schema 9"),
            ),
            (
                "schema -5",
                Histogram {
                    schema: -5,
                    ..int(0, 0, &[], &[])
                },
                Some("schema -5"),
            ),
            (
                "NaN threshold",
                Histogram {
                    zero_threshold: f64::NAN,
                    ..int(0, 0, &[], &[])
                },
                Some("zero threshold"),
            ),
            ("nhcb", nhcb(&[1.0, 2.0], &[(0, 3)], &[1, 0, 0], 3), None),
            (
                "nhcb beyond",
                nhcb(&[1.0], &[(0, 3)], &[1, 0, 0], 3),
                Some("beyond the 1 custom_values"),
            ),
            (
                "nhcb unsorted",
                nhcb(&[2.0, 1.0], &[], &[], 0),
                Some("ascending"),
            ),
            (
                "nhcb NaN",
                nhcb(&[f64::NAN], &[], &[], 0),
                Some("ascending"),
            ),
            (
                "nhcb +Inf",
                nhcb(&[1.0, f64::INFINITY], &[], &[], 0),
                Some("+Inf"),
            ),
            (
                "exp with custom",
                Histogram {
                    custom_values: vec![1.0],
                    ..int(0, 0, &[], &[])
                },
                Some("custom_values"),
            ),
            ("float ok", float(6.0, &[1.0, 2.0, 3.0]), None),
            (
                "float below",
                float(5.0, &[1.0, 2.0, 3.0]),
                Some("below the bucket sum"),
            ),
            (
                "float negative",
                float(1.0, &[2.0, -1.0]),
                Some("negative count"),
            ),
            (
                "float NaN bucket",
                float(1.0, &[f64::NAN]),
                Some("negative count"),
            ),
            (
                "float NaN count",
                float(f64::NAN, &[]),
                Some("negative count"),
            ),
        ];
        for (name, h, want) in cases {
            match (h.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn buckets_as_prometheus_iterates_them() {
        // Schema 0: positive bucket i is (2^(i-1), 2^i]; negative mirrored.
        let h = Histogram {
            zero_threshold: 0.001,
            counts: HistogramCounts::Int {
                count: 10,
                zero_count: 1,
                positive_deltas: vec![2, -2, 3],
                negative_deltas: vec![4],
            },
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            ..Histogram::empty_int(0)
        };
        let got: Vec<_> = h
            .nonempty_buckets()
            .iter()
            .map(|b| {
                (
                    b.lower_inclusive,
                    b.upper_inclusive,
                    b.lower,
                    b.upper,
                    b.count,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (true, false, -2.0, -1.0, 4.0),
                (true, true, -0.001, 0.001, 1.0),
                (false, true, 0.5, 1.0, 2.0),
                (false, true, 2.0, 4.0, 3.0),
            ]
        );
        // Schema 2 and -2 bounds, and the bucket below the Inf bucket.
        assert_eq!(exponential_bound(2, 2), 2f64.sqrt());
        assert_eq!(exponential_bound(-4, 2), 0.5);
        assert_eq!(exponential_bound(1, -2), 16.0);
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
        assert_eq!(exponential_bound(i64::MAX, 8), f64::INFINITY);
        assert_eq!(exponential_bound(i64::MIN, -4), 0.0);
        // Custom buckets: the first includes its lower bound, -Inf.
        let n = Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 5.0],
            counts: HistogramCounts::Float {
                count: 6.0,
                zero_count: 0.0,
                positive: vec![1.0, 0.0, 5.0],
                negative: vec![],
            },
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            ..Histogram::empty_int(0)
        };
        let got: Vec<_> = n
            .nonempty_buckets()
            .iter()
            .map(|b| (b.lower_inclusive, b.lower, b.upper, b.count))
            .collect();
        assert_eq!(
            got,
            [
                (true, f64::NEG_INFINITY, 1.0, 1.0),
                (false, 5.0, f64::INFINITY, 5.0)
            ]
        );
    }

    #[test]
    fn huge_spans_do_not_allocate_and_are_refused() {
        let h = int(0, 0, &[(i32::MAX, u32::MAX), (i32::MAX, u32::MAX)], &[]);
        assert!(h.validate().unwrap_err().contains("cover"));
    }

    #[test]
    fn stale_markers_and_bit_equality() {
        let s = Histogram::stale_marker();
        assert!(s.is_stale() && s.validate().is_ok());
        assert!(s.bit_eq(&Histogram::stale_marker()));
        assert!(!Histogram::empty_int(0).is_stale());
        let nan = Histogram {
            sum: f64::NAN,
            ..Histogram::empty_int(0)
        };
        assert!(!nan.is_stale() && !nan.bit_eq(&s));
        let h = int(3, 1, &[(0, 1)], &[2]);
        assert_eq!(h.bucket_counts(true), [2.0]);
        assert_eq!(h.count_f64(), 3.0);
    }
}
