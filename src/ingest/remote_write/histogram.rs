//! Streaming validation of a native histogram message (the same field
//! numbers in remote_write 1.0 and 2.0), without allocating.
//!
//! The checks follow `Histogram.Validate` and `FloatHistogram.Validate` in
//! Prometheus' `model/histogram` (with `checkHistogramSpans`,
//! `checkHistogramBuckets` and `checkHistogramCustomBounds`), except that a
//! float histogram's count is also checked against its bucket sum, with a
//! relative tolerance, because a sender that gets it wrong is as broken as
//! one that gets an integer count wrong.

use super::wire::{zigzag32, zigzag64, Reader, WireResult};

/// Schema number of native histograms with custom buckets (NHCB).
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// Valid exponential schemas.
const EXPONENTIAL_SCHEMAS: std::ops::RangeInclusive<i32> = -4..=8;
/// Relative slack allowed when a float count is compared to its buckets.
const FLOAT_COUNT_TOLERANCE: f64 = 1e-9;

/// The `count` and `zero_count` oneofs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Count {
    Int(u64),
    Float(f64),
}

/// One side (positive or negative) of the buckets, accumulated as fields
/// arrive (they may come in any order and in several runs).
#[derive(Debug, Default)]
struct Side {
    spans: u32,
    span_len: u64,
    /// Sum of span offsets plus lengths: one past the last bucket index,
    /// relative to the first span's start.
    span_end: i64,
    bad_span: Option<String>,
    deltas: u64,
    running: i128,
    int_total: i128,
    counts: u64,
    float_total: f64,
    negative: bool,
}

impl Side {
    fn span(&mut self, offset: i32, length: u32, which: &str) {
        if self.spans > 0 && offset < 0 && self.bad_span.is_none() {
            self.bad_span = Some(format!(
                "{which} span {} has negative offset {offset}",
                self.spans + 1
            ));
        }
        self.spans = self.spans.saturating_add(1);
        self.span_len = self.span_len.saturating_add(u64::from(length));
        self.span_end = self
            .span_end
            .saturating_add(i64::from(offset))
            .saturating_add(i64::from(length));
    }

    fn delta(&mut self, d: i64) {
        self.deltas = self.deltas.saturating_add(1);
        self.running = self.running.saturating_add(i128::from(d));
        if self.running < 0 {
            self.negative = true;
        }
        self.int_total = self.int_total.saturating_add(self.running);
    }

    fn count(&mut self, c: f64) {
        self.counts = self.counts.saturating_add(1);
        if c < 0.0 {
            self.negative = true;
        }
        self.float_total += c;
    }

    fn buckets(&self) -> u64 {
        self.deltas.saturating_add(self.counts)
    }

    fn check(&self, which: &str) -> Result<(), String> {
        if let Some(e) = &self.bad_span {
            return Err(e.clone());
        }
        if self.deltas > 0 && self.counts > 0 {
            return Err(format!("{which} buckets mix deltas and absolute counts"));
        }
        if self.span_len != self.buckets() {
            return Err(format!(
                "{which} spans cover {} buckets but {} are given",
                self.span_len,
                self.buckets()
            ));
        }
        if self.negative {
            return Err(format!("{which} bucket with a negative count"));
        }
        Ok(())
    }
}

/// A histogram summarised while it is read.
#[derive(Debug, Default)]
pub(crate) struct HistogramCheck {
    count: Option<Count>,
    zero: Option<Count>,
    sum: f64,
    schema: i32,
    negative: Side,
    positive: Side,
    custom_values: u64,
    custom_last: Option<f64>,
    custom_unsorted: bool,
}

impl HistogramCheck {
    /// Reads one histogram message; wire errors abort the request, while
    /// semantic problems are returned later by [`Self::verdict`].
    pub(crate) fn read(mut r: Reader<'_>) -> WireResult<HistogramCheck> {
        let mut h = HistogramCheck::default();
        while r.has_more() {
            let f = r.field()?;
            match f.number {
                1 => h.count = Some(Count::Int(r.read_varint(f)?)),
                2 => h.count = Some(Count::Float(r.read_double(f)?)),
                3 => h.sum = r.read_double(f)?,
                4 => h.schema = zigzag32(r.read_varint(f)?),
                6 => h.zero = Some(Count::Int(r.read_varint(f)?)),
                7 => h.zero = Some(Count::Float(r.read_double(f)?)),
                8 => read_span(&mut r, f, &mut h.negative, "negative")?,
                11 => read_span(&mut r, f, &mut h.positive, "positive")?,
                9 => r.read_packed_varints(f, |v| h.negative.delta(zigzag64(v)))?,
                12 => r.read_packed_varints(f, |v| h.positive.delta(zigzag64(v)))?,
                10 => r.read_packed_doubles(f, |c| h.negative.count(c))?,
                13 => r.read_packed_doubles(f, |c| h.positive.count(c))?,
                16 => r.read_packed_doubles(f, |v| h.custom_value(v))?,
                // zero_threshold, reset_hint, timestamp, start_timestamp
                // and anything newer are not needed to validate.
                _ => r.skip(f)?,
            }
        }
        Ok(h)
    }

    fn custom_value(&mut self, v: f64) {
        // Anything but "greater" (equal, smaller, NaN) breaks the order.
        if let Some(last) = self.custom_last {
            if v.partial_cmp(&last) != Some(std::cmp::Ordering::Greater) {
                self.custom_unsorted = true;
            }
        } else if v.is_nan() {
            self.custom_unsorted = true;
        }
        self.custom_values = self.custom_values.saturating_add(1);
        self.custom_last = Some(v);
    }

    /// `Ok` if the histogram may be stored, or the reason it may not.
    pub(crate) fn verdict(&self) -> Result<(), String> {
        self.check_layout()?;
        self.negative.check("negative")?;
        self.positive.check("positive")?;
        let float = matches!(self.count, Some(Count::Float(_)));
        match (float, self.zero) {
            (true, Some(Count::Int(_))) => {
                return Err("float histogram with an integer zero count".into())
            }
            (false, Some(Count::Float(_))) => {
                return Err("integer histogram with a float zero count".into())
            }
            _ => {}
        }
        if float {
            self.check_float_count()
        } else {
            self.check_int_count()
        }
    }

    fn check_layout(&self) -> Result<(), String> {
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            return self.check_custom_buckets();
        }
        if !EXPONENTIAL_SCHEMAS.contains(&self.schema) {
            return Err(format!("invalid histogram schema {}", self.schema));
        }
        if self.custom_values > 0 {
            return Err("exponential histogram with custom_values".into());
        }
        Ok(())
    }

    fn check_custom_buckets(&self) -> Result<(), String> {
        if self.negative.spans > 0 || self.negative.buckets() > 0 {
            return Err("custom-bucket histogram with negative buckets".into());
        }
        if self.custom_unsorted {
            return Err("custom_values not strictly ascending".into());
        }
        if self.custom_last == Some(f64::INFINITY) {
            return Err("custom_values must not list +Inf".into());
        }
        // Bucket index len(custom_values) is the implicit +Inf bucket.
        let limit = i64::try_from(self.custom_values).unwrap_or(i64::MAX);
        if self.positive.span_end > limit.saturating_add(1) {
            return Err(format!(
                "spans reach bucket {} beyond the {} custom_values",
                self.positive.span_end - 1,
                self.custom_values
            ));
        }
        Ok(())
    }

    /// Integer counts must add up exactly, unless the sum is NaN (NaN
    /// observations are counted but land in no bucket).
    fn check_int_count(&self) -> Result<(), String> {
        if self.negative.counts > 0 || self.positive.counts > 0 {
            return Err("integer histogram with float bucket counts".into());
        }
        let count = match self.count {
            Some(Count::Int(c)) => i128::from(c),
            _ => 0,
        };
        let zero = match self.zero {
            Some(Count::Int(c)) => i128::from(c),
            _ => 0,
        };
        let buckets = zero
            .saturating_add(self.negative.int_total)
            .saturating_add(self.positive.int_total);
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
                 (zero {zero}, negative {}, positive {})",
                self.negative.int_total, self.positive.int_total
            ))
        }
    }

    fn check_float_count(&self) -> Result<(), String> {
        if self.negative.deltas > 0 || self.positive.deltas > 0 {
            return Err("float histogram with integer bucket deltas".into());
        }
        let count = match self.count {
            Some(Count::Float(c)) => c,
            _ => 0.0,
        };
        let zero = match self.zero {
            Some(Count::Float(c)) => c,
            _ => 0.0,
        };
        if count < 0.0 || zero < 0.0 {
            return Err("negative count in float histogram".into());
        }
        let buckets = zero + self.negative.float_total + self.positive.float_total;
        if buckets - count > FLOAT_COUNT_TOLERANCE * buckets.abs() {
            return Err(format!("count {count} is below the bucket sum {buckets}"));
        }
        Ok(())
    }
}

fn read_span(
    r: &mut Reader<'_>,
    f: super::wire::Field,
    side: &mut Side,
    which: &str,
) -> WireResult<()> {
    let mut m = r.read_message(f)?;
    let (mut offset, mut length) = (0i32, 0u32);
    while m.has_more() {
        let f = m.field()?;
        match f.number {
            1 => offset = zigzag32(m.read_varint(f)?),
            2 => length = m.read_varint(f)? as u32,
            _ => m.skip(f)?,
        }
    }
    side.span(offset, length, which);
    Ok(())
}
