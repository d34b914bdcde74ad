//! Byte sizes as operators write them: `10GiB`, `512MiB`, `1TiB`, `500MB`,
//! or a plain number of bytes.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Units with their multipliers; binary (`KiB`) and decimal (`KB`).
const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

/// Parses `<integer>[unit]`; the error names the input.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid byte size {s:?}: {why}");
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad("expected a number"));
    }
    let (num, unit) = t.split_at(digits);
    let n: u64 = num.parse().map_err(|_| bad("number too large"))?;
    let unit = unit.trim();
    let mult = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| bad("expected a unit: B, KiB, MiB, GiB, TiB, KB, MB, GB or TB"))?
    };
    n.checked_mul(mult).ok_or_else(|| bad("too large"))
}

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_bytes(s).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte size such as 10GiB, or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a byte size cannot be negative"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn byte_size_table() {
        for (s, want) in [
            ("0", Some(0)),
            ("1", Some(1)),
            ("10GiB", Some(10 << 30)),
            ("512MiB", Some(512 << 20)),
            ("1TiB", Some(1 << 40)),
            ("500MB", Some(500_000_000)),
            ("7 KiB", Some(7 << 10)),
            ("1B", Some(1)),
            ("", None),
            ("GiB", None),
            ("1.5GiB", None),
            ("-1", None),
            ("10gib", None),
            ("99999999999999999999", None),
            ("99999999999TiB", None),
        ] {
            assert_eq!(parse_bytes(s).ok(), want, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(n in any::<u64>()) {
            prop_assert_eq!(ByteSize(n).to_string().parse::<ByteSize>().unwrap(), ByteSize(n));
        }

        #[test]
        fn random_text_never_panics(s in "\\PC{0,12}") {
            let _ = parse_bytes(&s);
        }
    }
}
