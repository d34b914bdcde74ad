//! Instant functions of one float: `abs`, `ln`, trigonometry, `round`,
//! `clamp`.

use super::MathFn;

/// Go's `math.Min`: NaN wins, and `-0` is smaller than `+0`. Rust's
/// `f64::min` returns the other operand for NaN, which would make
/// `clamp(v, 0, NaN)` yield 0 instead of upstream's NaN.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b {
        a
    } else {
        b
    }
}

/// Go's `math.Max`: NaN wins, and `+0` is larger than `-0`.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_positive() { a } else { b };
    }
    if a > b {
        a
    } else {
        b
    }
}

/// `funcSgn`: -1, +1, or the value itself for zeros and NaN.
fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Applies one [`MathFn`]; each arm matches the Go `math` function that
/// upstream's `funcX` wraps.
pub(crate) fn apply(f: MathFn, v: f64) -> f64 {
    match f {
        MathFn::Abs => v.abs(),
        MathFn::Ceil => v.ceil(),
        MathFn::Floor => v.floor(),
        MathFn::Exp => v.exp(),
        MathFn::Sqrt => v.sqrt(),
        MathFn::Ln => v.ln(),
        MathFn::Log2 => v.log2(),
        MathFn::Log10 => v.log10(),
        MathFn::Sgn => sgn(v),
        MathFn::Sin => v.sin(),
        MathFn::Cos => v.cos(),
        MathFn::Tan => v.tan(),
        MathFn::Asin => v.asin(),
        MathFn::Acos => v.acos(),
        MathFn::Atan => v.atan(),
        MathFn::Sinh => v.sinh(),
        MathFn::Cosh => v.cosh(),
        MathFn::Tanh => v.tanh(),
        MathFn::Asinh => v.asinh(),
        MathFn::Acosh => v.acosh(),
        MathFn::Atanh => v.atanh(),
        // Same operation order as upstream (`v * 180 / math.Pi`), so the
        // rounding matches.
        MathFn::Deg => v * 180.0 / std::f64::consts::PI,
        MathFn::Rad => v * std::f64::consts::PI / 180.0,
    }
}

/// `funcRound`: ties round up. Upstream multiplies by the inverse of
/// `to_nearest` because that loses less precision than dividing by it.
pub(crate) fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

/// `clamp` as `math.Max(min, math.Min(max, v))`.
pub(crate) fn clamp(v: f64, min: f64, max: f64) -> f64 {
    go_max(min, go_min(max, v))
}
