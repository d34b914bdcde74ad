//! Decoding of a native histogram message (the same field numbers in
//! remote_write 1.0 and 2.0) into a [`Histogram`], and its validation.
//!
//! The semantic checks are [`Histogram::validate`]'s; this file adds only
//! what the wire can express and the model cannot: a message that mixes
//! integer and float oneofs, or deltas and absolute bucket counts.

use super::wire::{zigzag32, zigzag64, Reader, WireResult};
use crate::model::{CounterResetHint, Histogram, HistogramCounts, Span};

/// Most entries (spans, bucket counts, custom bounds) one histogram may
/// hold in all its lists. A packed list costs 1 byte an entry on the wire
/// and 8 in memory; this bounds what one histogram can make a request
/// allocate, and keeps its stored encoding (at most about 10 bytes an
/// entry) well inside one block chunk frame. Far above what senders use.
pub(crate) const MAX_HISTOGRAM_ENTRIES: usize = 1 << 20;

/// Pushes `x` unless the histogram is full, which is remembered in `over`.
fn bounded_push<T>(v: &mut Vec<T>, x: T, count: &mut usize, over: &mut bool) {
    if *count < MAX_HISTOGRAM_ENTRIES {
        *count += 1;
        v.push(x);
    } else {
        *over = true;
    }
}

/// One histogram as read, before it is known to be integer or float.
#[derive(Debug, Default)]
pub(crate) struct WireHistogram {
    count_int: Option<u64>,
    count_float: Option<f64>,
    zero_int: Option<u64>,
    zero_float: Option<f64>,
    sum: f64,
    schema: i32,
    zero_threshold: f64,
    reset_hint: u64,
    timestamp: i64,
    negative_spans: Vec<Span>,
    positive_spans: Vec<Span>,
    negative_deltas: Vec<i64>,
    positive_deltas: Vec<i64>,
    negative_counts: Vec<f64>,
    positive_counts: Vec<f64>,
    custom_values: Vec<f64>,
    /// Entries in all lists so far.
    entries: usize,
    /// The lists had more than [`MAX_HISTOGRAM_ENTRIES`] entries.
    over: bool,
}

impl WireHistogram {
    /// Reads one histogram message; wire errors abort the request, while
    /// semantic problems are returned later by [`Self::into_histogram`].
    /// Every vector grows by what the (already bounded) body holds.
    pub(crate) fn read(mut r: Reader<'_>) -> WireResult<WireHistogram> {
        let mut h = WireHistogram::default();
        while r.has_more() {
            let f = r.field()?;
            match f.number {
                1 => h.count_int = Some(r.read_varint(f)?),
                2 => h.count_float = Some(r.read_double(f)?),
                3 => h.sum = r.read_double(f)?,
                4 => h.schema = zigzag32(r.read_varint(f)?),
                5 => h.zero_threshold = r.read_double(f)?,
                6 => h.zero_int = Some(r.read_varint(f)?),
                7 => h.zero_float = Some(r.read_double(f)?),
                8 => {
                    let s = read_span(&mut r, f)?;
                    bounded_push(&mut h.negative_spans, s, &mut h.entries, &mut h.over);
                }
                11 => {
                    let s = read_span(&mut r, f)?;
                    bounded_push(&mut h.positive_spans, s, &mut h.entries, &mut h.over);
                }
                9 => r.read_packed_varints(f, |v| {
                    bounded_push(
                        &mut h.negative_deltas,
                        zigzag64(v),
                        &mut h.entries,
                        &mut h.over,
                    )
                })?,
                12 => r.read_packed_varints(f, |v| {
                    bounded_push(
                        &mut h.positive_deltas,
                        zigzag64(v),
                        &mut h.entries,
                        &mut h.over,
                    )
                })?,
                10 => r.read_packed_doubles(f, |c| {
                    bounded_push(&mut h.negative_counts, c, &mut h.entries, &mut h.over)
                })?,
                13 => r.read_packed_doubles(f, |c| {
                    bounded_push(&mut h.positive_counts, c, &mut h.entries, &mut h.over)
                })?,
                14 => h.reset_hint = r.read_varint(f)?,
                15 => h.timestamp = r.read_varint(f)? as i64,
                16 => r.read_packed_doubles(f, |v| {
                    bounded_push(&mut h.custom_values, v, &mut h.entries, &mut h.over)
                })?,
                // start_timestamp and anything newer are not stored.
                _ => r.skip(f)?,
            }
        }
        Ok(h)
    }

    /// The histogram's timestamp (ms).
    pub(crate) fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The validated histogram, or the reason it may not be stored.
    pub(crate) fn into_histogram(self) -> Result<Histogram, String> {
        if self.over {
            return Err(format!(
                "more than {MAX_HISTOGRAM_ENTRIES} spans, buckets and bounds"
            ));
        }
        for (which, d, c) in [
            ("negative", &self.negative_deltas, &self.negative_counts),
            ("positive", &self.positive_deltas, &self.positive_counts),
        ] {
            if !d.is_empty() && !c.is_empty() {
                return Err(format!("{which} buckets mix deltas and absolute counts"));
            }
        }
        let float = self.count_float.is_some();
        let counts = if float {
            if self.zero_int.is_some() {
                return Err("float histogram with an integer zero count".into());
            }
            if !self.negative_deltas.is_empty() || !self.positive_deltas.is_empty() {
                return Err("float histogram with integer bucket deltas".into());
            }
            HistogramCounts::Float {
                count: self.count_float.unwrap_or(0.0),
                zero_count: self.zero_float.unwrap_or(0.0),
                positive: self.positive_counts,
                negative: self.negative_counts,
            }
        } else {
            if self.zero_float.is_some() {
                return Err("integer histogram with a float zero count".into());
            }
            if !self.negative_counts.is_empty() || !self.positive_counts.is_empty() {
                return Err("integer histogram with float bucket counts".into());
            }
            HistogramCounts::Int {
                count: self.count_int.unwrap_or(0),
                zero_count: self.zero_int.unwrap_or(0),
                positive_deltas: self.positive_deltas,
                negative_deltas: self.negative_deltas,
            }
        };
        let h = Histogram {
            schema: self.schema,
            reset_hint: CounterResetHint::from_code(self.reset_hint),
            zero_threshold: self.zero_threshold,
            sum: self.sum,
            counts,
            positive_spans: self.positive_spans,
            negative_spans: self.negative_spans,
            custom_values: self.custom_values,
        };
        h.validate()?;
        Ok(h)
    }
}

fn read_span(r: &mut Reader<'_>, f: super::wire::Field) -> WireResult<Span> {
    let mut m = r.read_message(f)?;
    let mut s = Span {
        offset: 0,
        length: 0,
    };
    while m.has_more() {
        let f = m.field()?;
        match f.number {
            1 => s.offset = zigzag32(m.read_varint(f)?),
            2 => s.length = m.read_varint(f)? as u32,
            _ => m.skip(f)?,
        }
    }
    Ok(s)
}
