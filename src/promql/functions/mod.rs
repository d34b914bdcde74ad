//! PromQL function kernels: pure computations over one series' samples
//! (range functions) or one value (instant functions). The evaluator handles
//! labels, steps and annotations; these only compute numbers.
//!
//! Each kernel names the upstream Go function (`promql/functions.go`,
//! `promql/quantile.go`) whose numbers it reproduces.

use crate::model::Sample;

/// The samples of one series that fall in a range function's window
/// `(start, end]` (ms), in time order, without stale markers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    /// Samples inside the window.
    pub samples: &'a [Sample],
    /// Window start (exclusive), ms.
    pub start: i64,
    /// Window end (inclusive), ms: the evaluation time minus offset.
    pub end: i64,
}

/// Functions over a range vector that yield one float per series and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    /// `predict_linear(v, t)`: params[0] = t in seconds.
    PredictLinear,
    /// `double_exponential_smoothing(v, sf, tf)`: params = [sf, tf].
    DoubleExponentialSmoothing,
    Resets,
    Changes,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    /// `quantile_over_time(q, v)`: params[0] = q.
    QuantileOverTime,
    StddevOverTime,
    StdvarOverTime,
    LastOverTime,
    FirstOverTime,
    PresentOverTime,
    MadOverTime,
    TsOfMinOverTime,
    TsOfMaxOverTime,
    TsOfFirstOverTime,
    TsOfLastOverTime,
}

/// Evaluates `f` over `w`. `None` means "no output for this series at this
/// step" (e.g. fewer than two samples for `rate`). Parameter validity (q in
/// [0,1], sf/tf in (0,1)) is the evaluator's concern; kernels must not panic
/// on any input, including NaN and infinite values and parameters.
pub(crate) fn eval_range(f: RangeFn, w: Window<'_>, params: &[f64]) -> Option<f64> {
    let _ = (f, w, params);
    todo!()
}

/// Functions of one float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathFn {
    Abs,
    Ceil,
    Floor,
    Exp,
    Sqrt,
    Ln,
    Log2,
    Log10,
    Sgn,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Deg,
    Rad,
}

/// Applies `f` to `v` (`funcAbs`, `funcCeil`, ... upstream).
pub(crate) fn eval_math(f: MathFn, v: f64) -> f64 {
    let _ = (f, v);
    todo!()
}

/// `round(v, to_nearest)` (`funcRound`: rounds half up, `floor(v*inv + 0.5) / inv`).
pub(crate) fn round(v: f64, to_nearest: f64) -> f64 {
    let _ = (v, to_nearest);
    todo!()
}

/// `clamp(v, min, max)` (`funcClamp`); NaN when min > max is the caller's
/// concern (it drops the series), this only clamps.
pub(crate) fn clamp(v: f64, min: f64, max: f64) -> f64 {
    let _ = (v, min, max);
    todo!()
}

/// Date functions of a Unix time in seconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateFn {
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

/// Applies a date function to `secs` (`funcDayOfMonth` etc. upstream;
/// fractional seconds truncate toward negative infinity like Go's
/// `time.Unix(int64(v), 0)`; NaN/Inf input gives NaN).
pub(crate) fn eval_date(f: DateFn, secs: f64) -> f64 {
    let _ = (f, secs);
    todo!()
}

/// One classic histogram bucket: upper bound (`le`) and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Upper bound.
    pub upper: f64,
    /// Cumulative count.
    pub count: f64,
}

/// The result of [`bucket_quantile`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BucketQuantile {
    /// The quantile (NaN when undefined).
    pub value: f64,
    /// Counts were not monotonic and were fixed up (upstream raises the
    /// "input to histogram_quantile needed to be fixed for monotonicity" info).
    pub forced_monotonicity: bool,
    /// Small floating-point differences were treated as equal (upstream's
    /// "fixedPrecision"); no annotation when only this happened.
    pub fixed_precision: bool,
}

/// `histogram_quantile` over classic buckets (`BucketQuantile` in
/// `promql/quantile.go`): sorts by upper bound, requires a `+Inf` bucket,
/// fixes monotonicity, interpolates linearly. `q < 0` gives `-Inf`, `q > 1`
/// gives `+Inf`, NaN q gives NaN.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> BucketQuantile {
    let _ = (q, buckets);
    todo!()
}

/// `histogram_fraction(lower, upper, b)` over classic buckets
/// (`BucketFraction` upstream, if present in the reference; otherwise
/// linear interpolation inside buckets, as for quantiles).
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    let _ = (lower, upper, buckets);
    todo!()
}

/// The φ-quantile of `values` (`quantile` in upstream's `aggregation` and
/// `quantile_over_time`): sorts, interpolates between closest ranks. Empty
/// gives NaN; φ < 0 gives -Inf, φ > 1 gives +Inf.
pub(crate) fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    let _ = (phi, values);
    todo!()
}
