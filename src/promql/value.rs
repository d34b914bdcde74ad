//! Query results as the API returns them.

use crate::model::{Histogram, HistogramSample, Labels, Sample};

use super::error::Annotations;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// Series labels.
    pub labels: Labels,
    /// Evaluation timestamp (ms).
    pub t: i64,
    /// Value (0 when the element is a histogram).
    pub v: f64,
    /// The element's native histogram, when it is one.
    pub histogram: Option<Histogram>,
}

/// One series of a range result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Series labels.
    pub labels: Labels,
    /// Float points in time order.
    pub samples: Vec<Sample>,
    /// Histogram points in time order.
    pub histograms: Vec<HistogramSample>,
}

/// A query result, in the four PromQL value types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: String,
    },
    /// An instant vector, in the order the query produced it (sorted by
    /// labels unless the query orders it, e.g. with `sort` or `topk`).
    Vector(Vec<InstantSample>),
    /// A range result (range queries, or an instant query of a range
    /// selector), sorted by labels.
    Matrix(Vec<RangeSeries>),
}

/// A result with its warnings and infos.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// The value.
    pub value: Value,
    /// Annotations raised while evaluating.
    pub annotations: Annotations,
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: how Prometheus writes
/// values in API responses and `count_values` labels.
pub(crate) fn format_value(f: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, f);
    s
}

/// [`format_value`] appended to `out`.
///
/// The digits are `ryu`'s: the shortest that read back as `f`, and of two
/// equally short and equally close the even one, as Go's `FormatFloat`
/// picks (`-2017607504578062.25` is written `…062.2`; Rust's `Display`
/// would write `…062.3`). `ryu` writes plain decimals between about 1e-5
/// and 1e16 and an exponent outside; Go's `'f'` never uses one, so those
/// digits are placed around the point here.
pub(crate) fn write_value(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f == f64::INFINITY {
        out.push_str("+Inf");
    } else if f == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let mut buf = ryu::Buffer::new();
        let s = buf.format_finite(f);
        match s.split_once('e') {
            None => out.push_str(s.strip_suffix(".0").unwrap_or(s)),
            Some((mantissa, exp)) => plain_decimal(out, mantissa, exp),
        }
    }
}

/// `mantissa` × 10^`exp` (ryu's `-1.25e-7` split at the `e`) without an
/// exponent: `-0.000000125`.
fn plain_decimal(out: &mut String, mantissa: &str, exp: &str) {
    let (neg, m) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = m.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    // Digits before the point: one in the mantissa, moved by the exponent.
    let point = exp.parse::<i64>().unwrap_or(0) + 1;
    if neg {
        out.push('-');
    }
    let n = digits.len() as i64;
    if point >= n {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (point - n) as usize));
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Checks `format_value(f)` against Rust's `Display` (the same shortest
    /// round-trip digits, never an exponent): equal, or, where two
    /// candidates tie, as long and as close, differing only in the last
    /// digit, which is then even.
    fn check(f: f64) -> Result<(), String> {
        let got = format_value(f);
        if f.is_nan() || f.is_infinite() {
            let want = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return if got == want {
                Ok(())
            } else {
                Err(format!("{got} for {f}"))
            };
        }
        let display = format!("{f}");
        if got.contains(['e', 'E']) {
            return Err(format!("{got}: exponent"));
        }
        if got.parse::<f64>().map(f64::to_bits) != Ok(f.to_bits()) {
            return Err(format!("{got} does not read back as {display}"));
        }
        if got == display {
            return Ok(());
        }
        let (a, b) = (got.as_bytes(), display.as_bytes());
        let same_but_last = a.len() == b.len() && a[..a.len() - 1] == b[..b.len() - 1];
        let last = a[a.len() - 1];
        if same_but_last && (last - b'0') % 2 == 0 {
            Ok(())
        } else {
            Err(format!("{got} where Display writes {display}"))
        }
    }

    #[test]
    fn write_value_edges() {
        for f in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-5,
            1e-7,
            -1.25e-7,
            1e15,
            1e16,
            1e17,
            1e21,
            1.5e300,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            123456789.125,
            9007199254740993.0,
        ] {
            check(f).unwrap();
        }
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(1.5e22), "15000000000000000000000");
        assert_eq!(format_value(-1.25e-7), "-0.000000125");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(-0.0), "-0");
        assert_eq!(format_value(2.0), "2");
        assert_eq!(format_value(0.3), "0.3");
        // What Prometheus 2.42 answers for these scalars (ties go to the
        // even digit).
        assert_eq!(format_value(-2017607504578062.25), "-2017607504578062.2");
        assert_eq!(format_value(2017607504578062.75), "2017607504578062.8");
        assert_eq!(format_value(1e15 + 0.125), "1000000000000000.1");
    }

    proptest! {
        #[test]
        fn write_value_is_shortest_plain_decimal(bits in any::<u64>()) {
            prop_assert_eq!(check(f64::from_bits(bits)), Ok(()));
        }

        #[test]
        fn write_value_for_dashboard_numbers(v in -1e12f64..1e12, scale in -8i32..8) {
            prop_assert_eq!(check(v * 10f64.powi(scale)), Ok(()));
        }
    }
}
