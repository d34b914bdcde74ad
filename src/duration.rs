//! Durations written the Prometheus way: `30s`, `5m`, `1h30m`, `1d`, `500ms`.
//!
//! A leaf: it uses nothing else of the crate, so `config/`, `auth/` and
//! `api/` can all use it without importing one another.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Units from largest to smallest, with their length in milliseconds.
/// A duration names each unit at most once, largest first.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// A duration parsed from Prometheus notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Milliseconds, saturating at `i64::MAX`.
    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Parses `<number><unit>` groups (`1h30m`), or a bare `0`.
///
/// Follows Prometheus' `model.ParseDuration` (`prometheus/common/model/time.go`):
/// units y, w, d, h, m, s, ms; each at most once and largest first; a year
/// is 365 days. The error names the input.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {s:?}: {why}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut next_unit = 0; // index into UNITS of the largest unit still allowed
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let (num, tail) = rest.split_at(digits);
        let n: u64 = num.parse().map_err(|_| bad("number too large"))?;
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(bad("expected a unit: y, w, d, h, m, s or ms"));
        };
        if pos < next_unit {
            return Err(bad("units must appear once each, largest first"));
        }
        next_unit = pos + 1;
        let ms = UNITS.get(pos).map(|u| u.1).unwrap_or(1);
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too large"))?;
        rest = tail;
    }
    Ok(Duration::from_millis(total))
}

impl FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(PromDuration)
    }
}

impl fmt::Display for PromDuration {
    /// Writes the largest units first (`1h30m`), `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in UNITS {
            if ms >= len {
                write!(f, "{}{unit}", ms / len)?;
                ms %= len;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PromDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30s, 5m, 2h or 1d")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PromDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PromDuration, E> {
                match v {
                    0 => Ok(PromDuration(Duration::ZERO)),
                    _ => Err(E::custom(format!("duration {v} needs a unit, e.g. {v}s"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PromDuration, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom("a duration cannot be negative")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_table() {
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("0s", 0),
            ("1ms", 1),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("1h30m", 5_400_000),
            ("1m500ms", 60_500),
            ("90m", 5_400_000),
        ];
        for (s, ms) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(*ms)), "{s}");
        }
        for bad in [
            "",
            "s",
            "10",
            "1.5h",
            "-1s",
            "5x",
            "1m1h",
            "1s1s",
            "1h ",
            " 1h",
            "99999999999999999999s",
            "9999999999y",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["0s", "1ms", "30s", "1h30m", "1d", "2w3d", "1y1ms"] {
            let d: PromDuration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(ms in 0u64..(1 << 50)) {
            let d = PromDuration(Duration::from_millis(ms));
            proptest::prop_assert_eq!(d.to_string().parse::<PromDuration>(), Ok(d));
        }

        #[test]
        fn random_text_never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
