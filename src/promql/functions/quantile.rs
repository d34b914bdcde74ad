//! Quantiles: `histogram_quantile` and `histogram_fraction` over classic
//! buckets, and the φ-quantile of plain values.

use std::cmp::Ordering;

use super::{Bucket, BucketQuantile};

/// Relative difference below which neighbouring bucket counts are taken as
/// equal (`smallDeltaTolerance` upstream): such differences come from
/// floating-point error, not from real observations.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The smallest positive normal f64 (`minNormal` in `util/almost`).
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// `almost.Equal`: relative comparison with an absolute floor near zero.
/// Both NaN counts as equal. (Upstream's stale-marker case cannot arise for
/// bucket counts, which come from evaluated values.)
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Sorts buckets by upper bound. `total_cmp` keeps the order total even for
/// a NaN bound (which sorts last and then fails the `+Inf` check).
fn sort_buckets(buckets: &mut [Bucket]) {
    buckets.sort_unstable_by(|a, b| a.upper.total_cmp(&b.upper));
}

/// Merges buckets with equal upper bounds (`coalesceBuckets`), in place;
/// returns the merged length. `buckets` must be sorted and non-empty.
fn coalesce(buckets: &mut [Bucket]) -> usize {
    let Some(&first) = buckets.first() else {
        return 0;
    };
    let mut last = first;
    let mut n = 0;
    for i in 1..buckets.len() {
        let b = buckets[i];
        if b.upper == last.upper {
            last.count += b.count;
        } else {
            buckets[n] = last;
            last = b;
            n += 1;
        }
    }
    buckets[n] = last;
    n + 1
}

/// `ensureMonotonicAndIgnoreSmallDeltas`: first levels numerically
/// insignificant differences (either direction), then removes decreases.
/// Returns `(forced_monotonicity, fixed_precision)`.
fn ensure_monotonic(buckets: &mut [Bucket]) -> (bool, bool) {
    let (mut forced, mut fixed) = (false, false);
    let Some(first) = buckets.first() else {
        return (forced, fixed);
    };
    // `prev` is deliberately not advanced past an ignored or removed
    // difference, so a run of small drifts cannot add up unnoticed.
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            fixed = true;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    (forced, fixed)
}

/// Sorts, checks for a final `+Inf` bucket and coalesces. Returns the
/// usable length, or `None` when there is no `+Inf` bucket.
fn prepare(buckets: &mut [Bucket]) -> Option<usize> {
    sort_buckets(buckets);
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => Some(coalesce(buckets)),
        _ => None,
    }
}

/// `BucketQuantile` (`promql/quantile.go`).
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> BucketQuantile {
    let mut out = BucketQuantile {
        value: f64::NAN,
        forced_monotonicity: false,
        fixed_precision: false,
    };
    if q.is_nan() {
        return out;
    }
    if q < 0.0 {
        out.value = f64::NEG_INFINITY;
        return out;
    }
    if q > 1.0 {
        out.value = f64::INFINITY;
        return out;
    }
    let Some(n) = prepare(buckets) else {
        return out;
    };
    let buckets = &mut buckets[..n];
    (out.forced_monotonicity, out.fixed_precision) = ensure_monotonic(buckets);
    if n < 2 {
        return out;
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return out;
    }
    out.value = interpolate_rank(q * observations, buckets);
    out
}

/// Finds the bucket holding `rank` and interpolates linearly inside it.
/// `buckets` has at least two entries and ends with `+Inf`.
fn interpolate_rank(mut rank: f64, buckets: &[Bucket]) -> f64 {
    let n = buckets.len();
    // First bucket (excluding +Inf) whose count reaches the rank; n-1 when
    // none does.
    let b = go_search(n - 1, |i| buckets[i].count >= rank);
    if b == n - 1 {
        // The rank falls into the +Inf bucket: the best known bound is the
        // second highest one.
        return buckets[n - 2].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let bucket_end = buckets[b].upper;
    let mut count = buckets[b].count;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Go's `sort.Search`: the smallest `i` in `0..n` with `pred(i)`, assuming
/// `pred` is false then true. Reproduced step for step (rather than using
/// `partition_point`) so that NaN counts, which break that assumption,
/// land on the same bucket as upstream.
fn go_search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// `BucketFraction` (`promql/quantile.go`): the estimated share of
/// observations in `[lower, upper]`, interpolating linearly inside buckets
/// and never inside an infinitely wide one.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    let Some(n) = prepare(buckets) else {
        return f64::NAN;
    };
    let buckets = &buckets[..n];
    let count = buckets[n - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let lower_rank = rank_at(lower, buckets).unwrap_or(count).min(count);
    let upper_rank = rank_at(upper, buckets).unwrap_or(count).min(count);
    (upper_rank - lower_rank) / count
}

/// The interpolated cumulative count at `v`, or `None` when `v` lies beyond
/// every finite bound. Equivalent to upstream's single loop that tracks
/// both ends at once, since each end is found independently.
fn rank_at(v: f64, buckets: &[Bucket]) -> Option<f64> {
    // Positive-only buckets get a natural lower bound of 0.
    let first_lower = match buckets.first() {
        Some(b) if b.upper <= 0.0 => f64::NEG_INFINITY,
        _ => 0.0,
    };
    let mut rank = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].upper
        } else {
            first_lower
        };
        if lower_bound >= v {
            return Some(rank);
        }
        if lower_bound < v && b.upper > v {
            if lower_bound == f64::NEG_INFINITY {
                // No interpolation in an infinitely wide bucket.
                return Some(b.count);
            }
            return Some(rank + (b.count - rank) * (v - lower_bound) / (b.upper - lower_bound));
        }
        rank = b.count;
    }
    None
}

/// Orders values as upstream's `vectorByValueHeap.Less`: NaN before
/// everything, otherwise numeric. Made total so sorting never misbehaves.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// `quantile` (`promql/quantile.go`): sorts (NaN first) and interpolates
/// between the two closest ranks, rank = φ·(n−1).
pub(crate) fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_unstable_by(nan_first);
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    // Both indices are within 0..n by construction.
    let lo = values[lower as usize];
    let hi = values[upper as usize];
    lo * (1.0 - weight) + hi * weight
}
