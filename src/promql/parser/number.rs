//! Number literals as upstream reads them (`parser.number`): Go's
//! `strconv.ParseInt(s, 0, 64)` (hex `0x..`, octal `0..`, `_` separators)
//! and, when that fails, `strconv.ParseFloat` (decimals, exponents, `Inf`,
//! `NaN`).

/// The value of a `NUMBER` token, or `None` when neither reading works.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    parse_int(text).map(|v| v as f64).or_else(|| parse_float(text))
}

/// Whether `_` only separates digits (or follows a base prefix), Go's
/// `underscoreOK` rule.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut prev_digit = false;
    let mut i = 0;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') {
        i = 2;
        prev_digit = true;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            if !prev_digit || i + 1 >= b.len() || !b[i + 1].is_ascii_hexdigit() {
                return false;
            }
            prev_digit = false;
        } else {
            prev_digit = c.is_ascii_hexdigit();
        }
        i += 1;
    }
    true
}

fn parse_int(text: &str) -> Option<i64> {
    if text.contains('_') && !underscores_ok(text) {
        return None;
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (digits, radix) = if let Some(h) = clean.strip_prefix("0x").or(clean.strip_prefix("0X")) {
        (h.to_string(), 16)
    } else if clean.len() > 1 && clean.starts_with('0') {
        (clean[1..].to_string(), 8)
    } else {
        (clean, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(&digits, radix).ok()
}

fn parse_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if unsigned == "inf" || unsigned == "infinity" {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned == "nan" {
        return Some(f64::NAN);
    }
    if text.contains('_') && !underscores_ok(text) {
        return None;
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    if clean.starts_with("0x") || clean.starts_with("0X") {
        return None;
    }
    clean.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_number;

    #[test]
    fn numbers_read_like_go() {
        for (text, want) in [
            ("1", 1.0),
            ("010", 8.0),
            ("09", 9.0),
            ("0x1F", 31.0),
            ("1_000", 1000.0),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("Inf", f64::INFINITY),
            ("99999999999999999999", 1e20),
        ] {
            assert_eq!(parse_number(text), Some(want), "{text}");
        }
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("1__0"), None);
    }
}
