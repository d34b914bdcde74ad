//! Compensated summation shared by the range kernels.

/// One step of Kahan–Neumaier summation (`kahansum.Inc` in upstream's
/// `util/kahansum`): adds `inc` to `sum` and returns the new sum and the
/// new compensation term. Once the running sum overflows to ±Inf the
/// compensation is reset to zero, so that `sum + c` stays ±Inf instead of
/// turning into NaN.
///
/// Rust does not contract `a*b + c` into fused multiply-adds, so the
/// rounding of each step matches Go's (which forces it with explicit casts).
pub(crate) fn inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A running compensated sum.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KahanSum {
    sum: f64,
    c: f64,
}

impl KahanSum {
    /// Adds `v`.
    pub(crate) fn add(&mut self, v: f64) {
        (self.sum, self.c) = inc(v, self.sum, self.c);
    }

    /// The compensated total (`sum + c`).
    pub(crate) fn total(self) -> f64 {
        self.sum + self.c
    }
}
