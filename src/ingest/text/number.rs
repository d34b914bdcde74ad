//! Numbers in the text formats: sample values (Go `strconv.ParseFloat`
//! syntax, as narrowed by Prometheus) and the two timestamp encodings.

/// Prometheus's canonical NaN (`value.NormalNaN` in `model/value/value.go`).
/// Every `NaN` spelled in a text body becomes exactly these bits, so a
/// parsed value can never collide with the stale marker.
pub(crate) const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Parses a sample value the way `textparse.parseFloat` does: Go's
/// `strconv.ParseFloat(s, 64)` with `p`, `P` and `_` refused.
///
/// That leaves decimal floats with an optional exponent, `Inf`/`Infinity`
/// (any case, optional sign) and `NaN` (any case, no sign). Hex floats are
/// therefore never accepted: Go requires a `p` exponent for them. Like Go,
/// a finite literal that overflows is an error, while underflow quietly
/// gives zero or a subnormal.
pub(crate) fn parse_go_float(s: &str) -> Result<f64, String> {
    if s.contains(['p', 'P', '_']) {
        return Err(format!("unsupported character in float {s:?}"));
    }
    if let Some(v) = parse_special(s) {
        return Ok(v);
    }
    if !is_decimal_literal(s.as_bytes()) {
        return Err(format!("invalid float {s:?}"));
    }
    // The grammar is checked above, so Rust's parser (correctly rounded,
    // like Go's) only ever sees input both languages agree on.
    let v: f64 = s.parse().map_err(|_| format!("invalid float {s:?}"))?;
    if v.is_infinite() {
        return Err(format!("float {s:?} is out of range"));
    }
    Ok(v)
}

/// The non-numeric spellings Go's `special` accepts as a whole string.
fn parse_special(s: &str) -> Option<f64> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Go accepts NaN only without a sign.
    if unsigned.len() == s.len() && s.eq_ignore_ascii_case("nan") {
        return Some(f64::from_bits(NORMAL_NAN_BITS));
    }
    None
}

/// `[+-]? (digits ['.' digits*] | '.' digits) ([eE] [+-]? digits)?`
fn is_decimal_literal(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_digits = count_digits(b, i);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(b, i);
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(b, i);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

fn count_digits(b: &[u8], from: usize) -> usize {
    b.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// A Prometheus-format timestamp: decimal digits only (the lexer's
/// `<sTimestamp>{D}+` in `promlex.l`), parsed with `strconv.ParseInt`.
pub(crate) fn parse_prom_timestamp(s: &str) -> Result<i64, String> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("invalid timestamp {s:?}"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("timestamp {s:?} is out of range"))
}

/// An OpenMetrics timestamp: float seconds, converted to milliseconds.
///
/// Upstream (`OpenMetricsParser.parseMetricSuffix`) refuses NaN and ±Inf
/// and then truncates with `int64(ts * 1000)`. We round to the nearest
/// millisecond instead (half away from zero, Go's `math.Round`): the
/// product carries binary error, so truncation turns `1.001` into 1000 ms
/// and loses the millisecond the writer spelled out. Out-of-range values,
/// which Go converts to a platform-defined integer, are an error here.
pub(crate) fn parse_om_timestamp(s: &str) -> Result<i64, String> {
    let secs = parse_go_float(s)?;
    if !secs.is_finite() {
        return Err(format!("invalid timestamp {s:?}"));
    }
    let ms = (secs * 1000.0).round();
    // 2^63 is exactly representable; every f64 below it fits in an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&ms) {
        return Err(format!("timestamp {s:?} is out of range"));
    }
    Ok(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_accepts() {
        let cases: &[(&str, f64)] = &[
            ("0", 0.0),
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("2.5e-1", 0.25),
            ("1.7953140081816678e+09", 1.7953140081816678e9),
            ("Inf", f64::INFINITY),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("INFINITY", f64::INFINITY),
            ("1e-400", 0.0),
            ("00012", 12.0),
            ("1.7976931348623157e308", f64::MAX),
        ];
        for (s, want) in cases {
            let got = parse_go_float(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
    }

    #[test]
    fn go_float_nan_is_canonical() {
        for s in ["NaN", "nan", "NAN"] {
            assert_eq!(parse_go_float(s).unwrap().to_bits(), NORMAL_NAN_BITS, "{s}");
        }
    }

    #[test]
    fn go_float_refuses() {
        let cases = [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "0x10",
            "0x1p4",
            "1_000",
            "+NaN",
            "-nan",
            "infin",
            "Infinityx",
            "1 ",
            " 1",
            "1,5",
            "1e400",
            "-1e400",
            "١",
            "NaNa",
        ];
        for s in cases {
            assert!(parse_go_float(s).is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn prom_timestamps() {
        assert_eq!(parse_prom_timestamp("0"), Ok(0));
        assert_eq!(parse_prom_timestamp("1700000000123"), Ok(1_700_000_000_123));
        assert_eq!(parse_prom_timestamp("9223372036854775807"), Ok(i64::MAX));
        for bad in ["", "-1", "+1", "1.5", "9223372036854775808", "1e3"] {
            assert!(parse_prom_timestamp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn om_timestamps() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("1", 1000),
            ("1.001", 1001),
            ("1700000000.123", 1_700_000_000_123),
            ("-1.5", -1500),
            ("1.0005", 1001),
            ("1.0004", 1000),
            ("1e3", 1_000_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse_om_timestamp(s), Ok(*want), "{s}");
        }
        for bad in ["NaN", "+Inf", "-Inf", "1e17", "abc", ""] {
            assert!(parse_om_timestamp(bad).is_err(), "{bad:?}");
        }
    }
}
