//! Series descriptions, `metric{l="v"} 1+1x3 _ stale {{...}}`, as upstream
//! `parser.ParseSeriesDesc` reads them, plus Go's number, string and
//! duration literal rules that the scripts rely on.
//!
//! Native histogram values (`{{...}}`) are decoded by `hist.rs`.

use super::hist::HistDesc;

/// A label set sorted by name, without empty values (Prometheus treats an
/// empty value as an absent label).
pub type LabelSet = Vec<(String, String)>;

/// One position of a value sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample at this position.
    Omitted,
    /// A float (including `stale`, Inf and NaN).
    Float(f64),
    /// A native histogram (`{{...}}`).
    Histogram(Box<HistDesc>),
}

/// Sorts `pairs` by name and drops empty values; a repeated name is an error.
pub fn normalize(mut pairs: Vec<(String, String)>) -> Result<LabelSet, String> {
    pairs.retain(|(_, v)| !v.is_empty());
    pairs.sort();
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("label {:?} given twice", w[0].0));
    }
    Ok(pairs)
}

/// Parses a series description line: a metric, then its values.
/// Mirrors upstream `parser.ParseSeriesDesc` (grammar rule `series_description`).
pub fn parse_series_desc(line: &str) -> Result<(LabelSet, Vec<SeqValue>), String> {
    let (labels, rest) = parse_metric(line)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("unexpected {rest:?} after the metric"));
    }
    Ok((labels, parse_values(rest)?))
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Length in bytes of the identifier at the start of `s` (0 if none).
fn ident_len(s: &str) -> usize {
    match s.chars().next() {
        Some(c) if is_name_start(c) => s.find(|c| !is_name_char(c)).unwrap_or(s.len()),
        _ => 0,
    }
}

/// Parses `name`, `name{...}` or `{...}` at the start of `s`; returns the
/// label set and the unparsed rest.
pub fn parse_metric(s: &str) -> Result<(LabelSet, &str), String> {
    let s = s.trim_start();
    let n = ident_len(s);
    let mut pairs = Vec::new();
    if n > 0 {
        pairs.push(("__name__".to_string(), s[..n].to_string()));
    }
    let mut rest = &s[n..];
    if rest.starts_with('{') && !rest.starts_with("{{") {
        rest = parse_label_block(&rest[1..], &mut pairs)?;
    } else if n == 0 {
        return Err(format!("expected a metric at {s:?}"));
    }
    Ok((normalize(pairs)?, rest))
}

/// Parses the inside of `{...}` (after the brace) into `pairs`; returns the
/// rest after the closing brace.
fn parse_label_block<'a>(
    mut s: &'a str,
    pairs: &mut Vec<(String, String)>,
) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(r) = s.strip_prefix('}') {
            return Ok(r);
        }
        let (name, quoted, r) = if s.starts_with(['"', '\'', '`']) {
            let (v, r) = unquote_prefix(s)?;
            (v, true, r)
        } else {
            let n = ident_len(s);
            if n == 0 {
                return Err(format!("expected a label name at {s:?}"));
            }
            (s[..n].to_string(), false, &s[n..])
        };
        s = r.trim_start();
        if let Some(r) = s.strip_prefix('=') {
            let (v, r) = unquote_prefix(r.trim_start())?;
            pairs.push((name, v));
            s = r.trim_start();
        } else if quoted {
            // A bare quoted string is the metric name (UTF-8 names).
            pairs.push(("__name__".to_string(), name));
        } else {
            return Err(format!("expected '=' after label {name:?}"));
        }
        if let Some(r) = s.strip_prefix(',') {
            s = r;
        } else if !s.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {s:?}"));
        }
    }
}

/// Reads the quoted string (`"..."`, `'...'` or `` `...` ``) at the start of
/// `s`, resolving Go escapes; returns it and the rest.
pub fn unquote_prefix(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected a quoted string")?;
    if !matches!(q, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let body = &s[1..];
    if q == '`' {
        let end = body.find('`').ok_or("unterminated raw string")?;
        return Ok((body[..end].to_string(), &body[end + 1..]));
    }
    let mut out = String::new();
    let mut it = body.char_indices();
    while let Some((i, c)) = it.next() {
        if c == q {
            return Ok((out, &body[i + 1..]));
        }
        if c == '\n' {
            break;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = it.next().ok_or("unterminated escape")?;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '"' | '\'' => Some(e),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (digits, radix) = match e {
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => return Err(format!("unknown escape sequence \\{e}")),
        };
        let mut code = if radix == 8 {
            e.to_digit(8).unwrap_or(0)
        } else {
            0
        };
        for _ in 0..digits {
            let d = it.next().and_then(|(_, c)| c.to_digit(radix));
            code = code * radix + d.ok_or("bad escape digits")?;
        }
        if radix == 8 || e == 'x' {
            // Byte escapes: Prometheus strings are UTF-8, so only ASCII survives.
            out.push(
                char::from_u32(code)
                    .filter(|c| c.is_ascii())
                    .ok_or("bad byte escape")?,
            );
        } else {
            out.push(char::from_u32(code).ok_or("escape is not a valid code point")?);
        }
    }
    Err(format!("unterminated string {s:?}"))
}

/// Parses a whole Go string literal (`strconv.Unquote`), e.g. for `expect string`.
pub fn unquote(s: &str) -> Result<String, String> {
    let (v, rest) = unquote_prefix(s)?;
    if !rest.is_empty() {
        return Err(format!("trailing text after the string: {rest:?}"));
    }
    Ok(v)
}

/// Parses a value sequence (the part after the metric).
pub fn parse_values(mut s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(out);
        }
        if s.starts_with("{{") {
            s = parse_histogram_item(s, &mut out)?;
            continue;
        }
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        parse_item(&s[..end], &mut out)?;
        s = &s[end..];
    }
}

/// `{{A}}`, `{{A}}xN`, `{{A}}+{{B}}xN` or `{{A}}-{{B}}xN` (upstream
/// `newHistogramSeries` and the repeat rules of `series_values`).
fn parse_histogram_item<'a>(s: &'a str, out: &mut Vec<SeqValue>) -> Result<&'a str, String> {
    let close = |s: &'a str| -> Result<(HistDesc, &'a str), String> {
        let end = s.find("}}").ok_or("unterminated histogram '{{'")?;
        Ok((HistDesc::parse(&s[2..end])?, &s[end + 2..]))
    };
    let (first, mut rest) = close(s)?;
    let mut step: Option<(HistDesc, f64)> = None;
    if rest.starts_with("+{{") || rest.starts_with("-{{") {
        let sign = if rest.starts_with('-') { -1.0 } else { 1.0 };
        let (d, r) = close(&rest[1..])?;
        rest = r;
        step = Some((d, sign));
        if !rest.starts_with('x') {
            return Err("expected 'xN' after a histogram series".into());
        }
    }
    let count = match rest.strip_prefix('x') {
        Some(r) => {
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            let n = parse_count(&r[..end])?;
            rest = &r[end..];
            n.checked_add(1).ok_or("repeat count too large")?
        }
        None => 1,
    };
    if count > MAX_EXPANSION {
        return Err(format!("repeat count {count} is too large"));
    }
    let mut cur = first;
    for _ in 0..count {
        let next = step.as_ref().map(|(d, sign)| cur.plus(d, *sign));
        out.push(SeqValue::Histogram(Box::new(cur.clone())));
        if let Some(n) = next {
            cur = n;
        }
    }
    Ok(rest)
}

/// Most values one item may expand to; guards against absurd repeat counts.
const MAX_EXPANSION: u64 = 10_000_000;

fn push_n(out: &mut Vec<SeqValue>, v: SeqValue, n: u64) -> Result<(), String> {
    if n > MAX_EXPANSION {
        return Err(format!("repeat count {n} is too large"));
    }
    out.extend(std::iter::repeat_n(v, n as usize));
    Ok(())
}

fn parse_count(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad repeat count {s:?}"));
    }
    s.parse()
        .map_err(|e| format!("bad repeat count {s:?}: {e}"))
}

/// One whitespace-free item: `_`, `_xN`, `v`, `vxN`, `v+dxN`, `v-dxN`.
/// Mirrors the `series_item` grammar rule upstream.
fn parse_item(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        // `_xN` is N gaps, not N+1 (unlike `vxN`).
        return push_n(out, SeqValue::Omitted, parse_count(n)?);
    }
    let (start, rest) = scan_value(tok, true)?;
    if rest.is_empty() {
        out.push(SeqValue::Float(start));
        return Ok(());
    }
    let (delta, rest) = if rest.starts_with(['+', '-']) {
        let (d, r) = scan_value(rest, false)?;
        (Some(d), r)
    } else {
        (None, rest)
    };
    let n = match rest.strip_prefix('x') {
        Some(n) => parse_count(n)?,
        None => return Err(format!("unexpected {rest:?} in series value {tok:?}")),
    };
    if n >= MAX_EXPANSION {
        return Err(format!("repeat count {n} is too large"));
    }
    let mut v = start;
    for _ in 0..=n {
        out.push(SeqValue::Float(v));
        // Repeated addition, as upstream does, so rounding matches.
        if let Some(d) = delta {
            v += d;
        }
    }
    Ok(())
}

/// Scans a series value at the start of `s`: an optionally signed number
/// (digits, `Inf`, `NaN`) or, if `allow_stale`, `stale`. Returns the value
/// and the rest.
fn scan_value(s: &str, allow_stale: bool) -> Result<(f64, &str), String> {
    // Negation flips the sign bit only; multiplying would quiet the
    // stale marker's signalling NaN and change its bits.
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let signed = |v: f64| if neg { -v } else { v };
    let first = body.chars().next().ok_or("missing number")?;
    if first.is_ascii_alphabetic() {
        let end = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
        let word = &body[..end];
        let v = match word.to_ascii_lowercase().as_str() {
            "inf" => f64::INFINITY,
            "nan" => f64::NAN,
            _ if word == "stale" && allow_stale && s == body => tessera::model::stale_nan(),
            _ => return Err(format!("unexpected {word:?}, want a number or \"stale\"")),
        };
        return Ok((signed(v), &body[end..]));
    }
    let end = scan_number_len(body);
    if end == 0 {
        return Err(format!("bad number at {s:?}"));
    }
    let v = parse_go_number(&body[..end]).ok_or_else(|| format!("bad number {s:?}"))?;
    Ok((signed(v), &body[end..]))
}

/// Length of the decimal number at the start of `s` (digits, one dot,
/// underscores, one exponent with its sign). Hex is not allowed in series
/// descriptions, because `0x1` would be ambiguous with the repeat syntax.
fn scan_number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut seen_exp = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' | b'.' | b'_' => i += 1,
            b'e' | b'E' if !seen_exp && i > 0 => {
                seen_exp = true;
                i += 1;
                if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// Parses a number as upstream `parseNumber` does: Go `strconv.ParseInt`
/// with base 0 (so `0x1F`, `0o17`, `0b11`, and `017` as octal), falling
/// back to `strconv.ParseFloat` (decimal, exponent, Inf, NaN).
pub fn parse_go_number(s: &str) -> Option<f64> {
    parse_go_int(s)
        .map(|i| i as f64)
        .or_else(|| parse_go_float(s))
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    let digits = digits.trim_start_matches('_');
    if digits.is_empty() || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = i128::from_str_radix(&clean, radix).ok()?;
    i64::try_from(if neg { -mag } else { mag }).ok()
}

fn parse_go_float(s: &str) -> Option<f64> {
    // Rust's parser accepts the same decimal, exponent and Inf/NaN forms as
    // Go's (case-insensitive "inf", "infinity", "nan"); Go refuses "_" here.
    if s.contains('_') || s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Parses a Prometheus duration (`model.ParseDuration`): unit groups in the
/// order y w d h m s ms, e.g. `1h30m`, `10s53ms`, or a bare `0`. Milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let num: i64 = rest[..n].parse().ok()?;
        let after = &rest[n..];
        let u = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = &after[..u];
        let idx = UNITS.iter().position(|(name, _)| *name == unit)?;
        if idx < next_unit {
            return None;
        }
        next_unit = idx + 1;
        total = total.checked_add(num.checked_mul(UNITS[idx].1)?)?;
        rest = &after[u..];
    }
    if s.is_empty() {
        None
    } else {
        Some(total)
    }
}
