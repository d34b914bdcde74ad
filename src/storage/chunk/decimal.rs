//! Exact decimal scaling: a float `v` is stored as an integer mantissa `m`
//! and a chunk-wide exponent `k` when [`to_float`] gives back `v` bit for bit.
//!
//! Encoder and decoder must compute the same float from `(m, k)`, so the
//! formula is fixed and uses only one correctly rounded IEEE operation on
//! exactly representable operands: `m / 10^k` for `k > 0`, `m * 10^-k`
//! otherwise. Every power in [`POW10`] is exact in an `f64`.

/// Smallest exponent a chunk may use (values that are multiples of 10^12).
pub(super) const K_MIN: i32 = -12;
/// Largest exponent a chunk may use (15 decimal places).
pub(super) const K_MAX: i32 = 15;
/// Mantissas stay below this magnitude, so every one is an exact `f64`.
pub(super) const MANTISSA_LIMIT: i64 = 1 << 53;

/// 10^0 ..= 10^15, all exactly representable.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

fn pow10(e: u32) -> f64 {
    // `k` is clamped to K_MIN..=K_MAX by every caller; 1.0 is never reached.
    POW10.get(e as usize).copied().unwrap_or(1.0)
}

/// The float a mantissa and exponent stand for.
pub(super) fn to_float(m: i64, k: i32) -> f64 {
    if k > 0 {
        m as f64 / pow10(k.unsigned_abs())
    } else {
        m as f64 * pow10(k.unsigned_abs())
    }
}

/// The mantissa of `v` at exponent `k`, if `v` is exactly `to_float(m, k)`.
pub(super) fn mantissa(v: f64, k: i32) -> Option<i64> {
    if !(K_MIN..=K_MAX).contains(&k) {
        return None;
    }
    let scaled = if k > 0 {
        v * pow10(k.unsigned_abs())
    } else {
        v / pow10(k.unsigned_abs())
    };
    let r = scaled.round();
    if r.is_nan() || r.abs() >= MANTISSA_LIMIT as f64 {
        return None;
    }
    let m = r as i64;
    // -0.0 comes back as +0.0 and fails here, as it must.
    (to_float(m, k).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest exponent in `from..=K_MAX` at which `v` is exact.
///
/// Exactness is monotone in `k` while the mantissa stays below 2^53
/// (`10m / 10^(k+1)` and `m / 10^k` are the same rational, rounded once), so
/// the scan may start at the exponent a chunk has already reached.
pub(super) fn min_exponent(v: f64, from: i32) -> Option<i32> {
    if !v.is_finite() {
        return None;
    }
    (from.max(K_MIN)..=K_MAX).find(|&k| mantissa(v, k).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_of_typical_values() {
        let cases: [(f64, Option<i32>); 12] = [
            (0.0, Some(K_MIN)),
            (-0.0, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (1234.0, Some(0)),
            (1200.0, Some(-2)),
            (0.29, Some(2)),
            (1_000_123.45, Some(2)),
            (1e20, Some(-12)),
            (0.1 + 0.2, None),
            (8_589_934_592.0, Some(0)),
            (1e-15, Some(15)),
        ];
        for (v, want) in cases {
            assert_eq!(min_exponent(v, K_MIN), want, "{v}");
            if let Some(k) = want {
                let m = mantissa(v, k).expect("mantissa");
                assert_eq!(to_float(m, k).to_bits(), v.to_bits(), "{v}");
            }
        }
    }

    #[test]
    fn mantissa_rejects_out_of_range() {
        assert_eq!(mantissa(1.0, K_MAX + 1), None);
        assert_eq!(mantissa(1.0, K_MIN - 1), None);
        assert_eq!(mantissa(1e300, 0), None);
        assert_eq!(mantissa(9_007_199_254_740_992.0, 0), None);
        assert_eq!(
            mantissa(9_007_199_254_740_991.0, 0),
            Some(MANTISSA_LIMIT - 1)
        );
    }

    #[test]
    fn exactness_is_monotone_in_k() {
        for c in [-123_456i64, -1, 1, 7, 29, 145_075, 99_999_999] {
            let v = c as f64 / 100.0;
            for k in 2..=K_MAX {
                if mantissa(v, k).is_none() {
                    assert!(c.unsigned_abs() as f64 * 10f64.powi(k - 2) >= MANTISSA_LIMIT as f64);
                }
            }
        }
    }
}
