//! The trim operators on a histogram, `h </ x` (keep what lies below `x`)
//! and `h >/ x` (keep what lies above): `FloatHistogram.TrimBuckets` with
//! `computeBucketTrim`, `handleInfinityBuckets`, `computeZeroBucketTrim`
//! and `computeMidpoint` upstream. A bucket the bound cuts keeps its
//! interpolated share; the sum is re-estimated from bucket midpoints.

use super::fhist::FHist;
use super::hist_stats::fraction_below;
use crate::model::histogram::Bucket;

/// The representative value of a surviving interval (`computeMidpoint`).
fn midpoint(lo: f64, hi: f64, positive: bool, linear: bool) -> f64 {
    if lo.is_infinite() {
        if hi.is_infinite() {
            return 0.0;
        }
        return if hi > 0.0 { hi / 2.0 } else { hi };
    }
    if hi.is_infinite() {
        return lo;
    }
    if linear {
        return (lo + hi) / 2.0;
    }
    let g = (lo * hi).abs().sqrt();
    if positive {
        g
    } else {
        -g
    }
}

/// `handleInfinityBuckets`: what a bucket with an infinite bound keeps.
fn infinite_bucket(upper_trim: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    let finite_or_zero = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, finite_or_zero(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, finite_or_zero(b.upper));
    }
    if upper_trim {
        return (0.0, finite_or_zero(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, finite_or_zero(b.lower))
}

/// `computeBucketTrim`: the count a cut bucket keeps and its midpoint.
fn cut_bucket(b: &Bucket, rhs: f64, upper_trim: bool, positive: bool, linear: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinite_bucket(upper_trim, b, rhs);
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * fraction_below(b, rhs, linear)
    };
    if upper_trim {
        (under, midpoint(b.lower, rhs, positive, linear))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, linear))
    }
}

/// `computeZeroBucketTrim`.
fn cut_zero(h: &FHist, rhs: f64, has_neg: bool, has_pos: bool, upper_trim: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (-h.zero_threshold, h.zero_threshold);
    if has_neg && !has_pos {
        hi = 0.0;
    }
    if has_pos && !has_neg {
        lo = 0.0;
    }
    let (fraction, mid) = if upper_trim {
        if rhs <= lo {
            return (0.0, 0.0);
        }
        if rhs >= hi {
            return (h.zero_count, (lo + hi) / 2.0);
        }
        ((rhs - lo) / (hi - lo), (lo + rhs) / 2.0)
    } else {
        if rhs <= lo {
            return (h.zero_count, (lo + hi) / 2.0);
        }
        if rhs >= hi {
            return (0.0, 0.0);
        }
        ((hi - rhs) / (hi - lo), (rhs + hi) / 2.0)
    };
    (h.zero_count * fraction, mid)
}

impl FHist {
    /// `TrimBuckets`: keeps the observations below `rhs` (`upper_trim`,
    /// `</`) or above it (`>/`).
    pub(crate) fn trim(&self, rhs: f64, upper_trim: bool) -> FHist {
        let mut h = self.clone();
        let linear = h.is_custom();
        let (mut count, mut sum, mut trimmed) = (0.0, 0.0, false);
        let mut has = [false, false];
        for (side, positive) in [(0usize, true), (1usize, false)] {
            let n = if positive { h.pos.len() } else { h.neg.len() };
            for k in 0..n {
                let (idx, c) = if positive { h.pos[k] } else { h.neg[k] };
                if c == 0.0 {
                    continue;
                }
                has[side] = true;
                let (lower, upper) = if positive {
                    (h.bound(idx - 1), h.bound(idx))
                } else {
                    (-h.bound(idx), -h.bound(idx - 1))
                };
                let b = Bucket {
                    lower,
                    upper,
                    lower_inclusive: false,
                    upper_inclusive: true,
                    count: c,
                };
                let whole = if upper_trim {
                    upper <= rhs
                } else {
                    lower >= rhs
                };
                let cut = if upper_trim { lower < rhs } else { upper > rhs };
                let keep = if whole {
                    sum += midpoint(lower, upper, positive, linear) * c;
                    c
                } else if cut {
                    let (keep, mid) = cut_bucket(&b, rhs, upper_trim, positive, linear);
                    sum += mid * keep;
                    keep
                } else {
                    0.0
                };
                count += keep;
                if keep != c {
                    trimmed = true;
                    if positive {
                        h.pos[k].1 = keep;
                    } else {
                        h.neg[k].1 = keep;
                    }
                }
            }
        }
        if h.zero_count > 0.0 {
            let (keep, mid) = cut_zero(&h, rhs, has[1], has[0], upper_trim);
            if keep != h.zero_count {
                h.zero_count = keep;
                trimmed = true;
            }
            sum += mid * keep;
            count += keep;
        }
        if trimmed {
            h.count = count;
            h.sum = sum;
        }
        h
    }
}
