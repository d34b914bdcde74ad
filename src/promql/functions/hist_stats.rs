//! Statistics of one native histogram: quantiles, fractions and the
//! estimated variance (`HistogramQuantile` and `HistogramFraction` in
//! upstream `promql/quantile.go`, `histogramVariance` in `functions.go`).

use super::fhist::FHist;
use crate::model::histogram::Bucket;

/// A result and whether upstream would add an info about NaN observations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stat {
    pub value: f64,
    /// The result is NaN because of NaN observations
    /// (`NewNativeHistogramQuantileNaNResultInfo`).
    pub nan_result: bool,
    /// NaN observations skew the result (`...QuantileNaNSkewInfo`,
    /// `NewNativeHistogramFractionNaNsInfo`).
    pub nan_skew: bool,
}

impl Stat {
    fn of(value: f64) -> Stat {
        Stat {
            value,
            nan_result: false,
            nan_skew: false,
        }
    }
}

/// `HistogramQuantile`: the `q` quantile, interpolated linearly in custom
/// and zero buckets, exponentially in the others.
pub(crate) fn quantile(q: f64, h: &FHist) -> Stat {
    if q < 0.0 {
        return Stat::of(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Stat::of(f64::INFINITY);
    }
    if h.count == 0.0 || q.is_nan() {
        return Stat::of(f64::NAN);
    }
    let mut buckets = h.all_buckets();
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    if !forward {
        buckets.reverse();
    }
    let mut count = 0.0;
    let mut at = None;
    for (k, b) in buckets.iter().enumerate() {
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        at = Some(k);
        if count >= rank {
            break;
        }
    }
    let Some(k) = at else {
        // No populated bucket: only NaN observations (or a broken count).
        return Stat {
            value: f64::NAN,
            nan_result: h.sum.is_nan(),
            nan_skew: false,
        };
    };
    let mut b = buckets[k];
    if !h.is_custom() && b.lower < 0.0 && b.upper > 0.0 {
        if h.neg.is_empty() && !h.pos.is_empty() {
            b.lower = 0.0;
        } else if h.pos.is_empty() && !h.neg.is_empty() {
            b.upper = 0.0;
        }
    } else if h.is_custom() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return Stat::of(b.upper);
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return Stat::of(b.lower);
        }
    }
    count = count.min(h.count);
    if count < rank {
        if h.sum.is_nan() {
            return Stat {
                value: f64::NAN,
                nan_result: true,
                nan_skew: false,
            };
        }
        return Stat::of(b.upper);
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    let mut out = Stat::of(0.0);
    if h.sum.is_nan() {
        let total: f64 = count + buckets[k + 1..].iter().map(|b| b.count).sum::<f64>();
        out.nan_skew = total < h.count;
    }
    let fraction = rank / b.count;
    out.value = if h.is_custom() || (b.lower <= 0.0 && b.upper >= 0.0) {
        b.lower + (b.upper - b.lower) * fraction
    } else {
        let (lo, hi) = (b.lower.abs().log2(), b.upper.abs().log2());
        if b.lower > 0.0 {
            (lo + (hi - lo) * fraction).exp2()
        } else {
            -(hi + (lo - hi) * (1.0 - fraction)).exp2()
        }
    };
    out
}

/// `Bucket.FractionBelow`: the share of `b` below `v`.
pub(crate) fn fraction_below(b: &Bucket, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let (lo, hi, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
    if v > 0.0 {
        (lv - lo) / (hi - lo)
    } else {
        1.0 - (lv - hi) / (lo - hi)
    }
}

/// `HistogramFraction`: the estimated share of observations in
/// `[lower, upper]`.
pub(crate) fn fraction(lower: f64, upper: f64, h: &FHist) -> Stat {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return Stat::of(f64::NAN);
    }
    if lower >= upper {
        return Stat::of(0.0);
    }
    let buckets = h.all_buckets();
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut count = 0.0;
    let mut seen = 0;
    for mut b in buckets.iter().copied() {
        seen += 1;
        count += b.count;
        let mut zero = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if h.neg.is_empty() && !h.pos.is_empty() {
                b.lower = 0.0;
            } else if h.pos.is_empty() && !h.neg.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = h.is_custom() || zero;
        let interp = |v: f64| {
            if linear && b.lower == f64::NEG_INFINITY {
                b.count
            } else {
                rank + b.count * fraction_below(&b, v, linear)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    let mut out = Stat::of(0.0);
    if h.sum.is_nan() {
        count += buckets[seen..].iter().map(|b| b.count).sum::<f64>();
        out.nan_skew = count < h.count;
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    out.value = (upper_rank - lower_rank) / h.count;
    out
}

/// `histogramVariance`: each bucket's observations placed at its
/// arithmetic (custom, zero bucket) or geometric (exponential) mean.
pub(crate) fn variance(h: &FHist) -> f64 {
    let mean = h.sum / h.count;
    let mut acc = super::kahan::KahanSum::default();
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.is_custom() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let g = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 {
                -g
            } else {
                g
            }
        };
        let d = val - mean;
        acc.add(b.count * d * d);
    }
    acc.total() / h.count
}
