//! Durations: reading them (`model.ParseDuration`), printing them
//! (`model.Duration.String`) and computing duration expressions once the
//! query's step and range are known (`durationVisitor` in upstream's
//! `promql/durations.go`).

use super::ast::{Duration, DurationExpr, DurationNode, DurationOp};

const MS: u64 = 1_000_000;

/// Parses a duration such as `1h30m` into nanoseconds, with upstream's
/// error texts.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", super::quote::go_quote(s));
    let bytes = s.as_bytes();
    let (mut i, mut total, mut last_unit) = (0usize, 0u64, 0u8);
    while i < bytes.len() {
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return Err(invalid());
        }
        let v: u64 = s[digits_start..i].parse().map_err(|_| invalid())?;
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let (pos, mult) = match unit {
            "y" => (1, 365 * 24 * 3600 * 1000 * MS),
            "w" => (2, 7 * 24 * 3600 * 1000 * MS),
            "d" => (3, 24 * 3600 * 1000 * MS),
            "h" => (4, 3600 * 1000 * MS),
            "m" => (5, 60 * 1000 * MS),
            "s" => (6, 1000 * MS),
            "ms" => (7, MS),
            "" => return Err(invalid()),
            u => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    super::quote::go_quote(u),
                    super::quote::go_quote(s)
                ))
            }
        };
        if pos <= last_unit {
            return Err(invalid());
        }
        last_unit = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total += v * mult;
        if total > i64::MAX as u64 {
            return Err("duration out of range".into());
        }
    }
    Ok(total as i64)
}

/// Nanoseconds as seconds, the way Go's `Duration.Seconds` computes them.
pub(crate) fn nanos_to_seconds(ns: i64) -> f64 {
    let sec = ns / 1_000_000_000;
    let rest = ns % 1_000_000_000;
    sec as f64 + rest as f64 / 1e9
}

/// `model.Duration.String`: `1h30m`, `0s`, `-5m`; only whole milliseconds
/// of `ns` count.
pub(crate) fn format_duration(ns: i64) -> String {
    let mut ms = ns / 1_000_000;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    let units: [(&str, i64, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    }
    out
}

/// What duration expressions may refer to: the query's step and range.
#[derive(Debug, Clone, Copy)]
pub struct DurationContext {
    /// The query's step in ms (0 for instant queries).
    pub step_ms: i64,
    /// The query's end minus start in ms.
    pub range_ms: i64,
}

/// Computes a duration slot in milliseconds (`calculateDuration`); a
/// negative or zero value is refused unless `allow_negative` (offsets).
pub fn evaluate(d: &Duration, cx: DurationContext, allow_negative: bool) -> Result<i64, String> {
    let e = match d {
        Duration::Fixed(ns) => return Ok(ns / 1_000_000),
        Duration::Expr(e) => e,
    };
    let v = eval_expr(e, cx)?;
    let span = e.span;
    let at = |msg: &str| format!("{}:{}: {msg}", span.start, span.end);
    if v.is_nan() || v.is_infinite() {
        return Err(at("duration is NaN or infinite"));
    }
    if v <= 0.0 && !allow_negative {
        return Err(at("duration must be greater than 0"));
    }
    if v > 9_223_372_036.854_776 || v < -9_223_372_036.854_776 {
        return Err(at("duration is out of range"));
    }
    Ok((v * 1000.0) as i64)
}

fn eval_node(n: &DurationNode, cx: DurationContext) -> Result<f64, String> {
    match n {
        DurationNode::Number(n) => Ok(n.val),
        DurationNode::Op(e) => eval_expr(e, cx),
    }
}

/// `evaluateDurationExpr`: the value in seconds.
fn eval_expr(e: &DurationExpr, cx: DurationContext) -> Result<f64, String> {
    let lhs = e.lhs.as_ref().map(|n| eval_node(n, cx)).transpose()?;
    let rhs = e.rhs.as_ref().map(|n| eval_node(n, cx)).transpose()?;
    let (l, r) = (lhs.unwrap_or(0.0), rhs.unwrap_or(0.0));
    let at = |msg: &str| format!("{}:{}: {msg}", e.span.start, e.span.end);
    Ok(match e.op {
        DurationOp::Step => cx.step_ms as f64 / 1000.0,
        DurationOp::Range => cx.range_ms as f64 / 1000.0,
        DurationOp::MinOf => l.min(r),
        DurationOp::MaxOf => l.max(r),
        DurationOp::Add => l + r,
        DurationOp::Sub if lhs.is_none() => -r,
        DurationOp::Sub => l - r,
        DurationOp::Mul => l * r,
        DurationOp::Div if r == 0.0 => return Err(at("division by zero")),
        DurationOp::Div => l / r,
        DurationOp::Mod if r == 0.0 => return Err(at("modulo by zero")),
        DurationOp::Mod => l % r,
        DurationOp::Pow => l.powf(r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_durations() {
        for (text, ns) in [
            ("0", 0),
            ("5m", 300_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1y", 365 * 86_400_000_000_000),
            ("10ms", 10_000_000),
            ("1d2h3m4s5ms", 93_784_005_000_000),
        ] {
            assert_eq!(parse_duration(text), Ok(ns), "{text}");
        }
        assert!(parse_duration("1m1h").unwrap_err().contains("not a valid duration"));
        assert!(parse_duration("1hs").unwrap_err().contains("unknown unit \"hs\""));
        assert!(parse_duration("").is_err());
        assert_eq!(parse_duration("300y"), Err("duration out of range".into()));
        for (ms, text) in [
            (0, "0s"),
            (1, "1ms"),
            (90_000, "1m30s"),
            (86_400_000 * 14, "2w"),
            (86_400_000 * 15, "15d"),
            (86_400_000 * 365, "1y"),
        ] {
            assert_eq!(format_duration(ms * 1_000_000), text);
        }
    }
}
