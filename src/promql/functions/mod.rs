//! PromQL function kernels: pure computations over one series' samples
//! (range functions) or one value (instant functions). The evaluator handles
//! labels, steps and annotations; these only compute numbers.
//!
//! Each kernel names the upstream Go function (`promql/functions.go`,
//! `promql/quantile.go`) whose numbers it reproduces.

use crate::model::Sample;

mod date;
pub(crate) mod extended;
pub(crate) mod fhist;
pub(crate) mod hist_stats;
pub(crate) mod hsum;
pub(crate) mod kahan;
mod math;
mod over_time;
mod quantile;
pub(crate) mod rate;
pub(crate) mod rate_st;
pub(crate) mod sliding;
mod trim;
pub(crate) use rate::{extrapolation_factor, SampleSpan};
mod trend;

#[cfg(test)]
mod tests;

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
    /// `predict_linear(v, t)`: params[0] = t in seconds. Optional
    /// params[1] = the evaluation timestamp in ms, which upstream uses as
    /// the regression's intercept time; it differs from `Window::end` under
    /// `offset` and `@`. Without it, `Window::end` is used.
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
    let s = w.samples;
    match f {
        RangeFn::Rate => rate::extrapolated_rate(&w, true, true),
        RangeFn::Increase => rate::extrapolated_rate(&w, true, false),
        RangeFn::Delta => rate::extrapolated_rate(&w, false, false),
        RangeFn::Irate => rate::instant_value(s, true),
        RangeFn::Idelta => rate::instant_value(s, false),
        RangeFn::Resets => rate::resets(s),
        RangeFn::Changes => rate::changes(s),
        RangeFn::Deriv => trend::deriv(s),
        RangeFn::PredictLinear => {
            let duration = *params.first()?;
            let eval_time = match params.get(1) {
                // Saturating cast; timestamps are whole milliseconds.
                Some(t) if t.is_finite() => *t as i64,
                _ => w.end,
            };
            trend::predict_linear(s, duration, eval_time)
        }
        RangeFn::DoubleExponentialSmoothing => match params {
            [sf, tf, ..] => trend::double_exponential_smoothing(s, *sf, *tf),
            _ => None,
        },
        _ => eval_over_time(f, s, params),
    }
}

/// Whether `f` reads start timestamps. Upstream's engine collects them only
/// for these functions (`rate`, `irate`, `increase`, `resets` in
/// `evalCall`), so every other query pays nothing for them.
pub(crate) fn uses_start_times(f: RangeFn) -> bool {
    matches!(
        f,
        RangeFn::Rate | RangeFn::Increase | RangeFn::Irate | RangeFn::Resets
    )
}

/// [`eval_range`] for a window whose samples have start timestamps `sts`
/// (one per sample, 0 for none), for the functions of [`uses_start_times`].
pub(crate) fn eval_range_st(f: RangeFn, w: Window<'_>, sts: &[i64]) -> Option<f64> {
    match f {
        RangeFn::Rate => rate_st::extrapolated_rate_st(&w, sts, true),
        RangeFn::Increase => rate_st::extrapolated_rate_st(&w, sts, false),
        RangeFn::Irate => rate_st::irate_st(w.samples, sts),
        RangeFn::Resets => rate_st::resets_st(w.samples, sts),
        _ => eval_range(f, w, &[]),
    }
}

/// The `*_over_time` family: no output for an empty window.
fn eval_over_time(f: RangeFn, s: &[Sample], params: &[f64]) -> Option<f64> {
    let (first, last) = (s.first()?, s.last()?);
    let v = match f {
        RangeFn::AvgOverTime => over_time::avg(s),
        RangeFn::SumOverTime => over_time::sum(s),
        RangeFn::MinOverTime => over_time::min(s)?,
        RangeFn::MaxOverTime => over_time::max(s)?,
        RangeFn::CountOverTime => s.len() as f64,
        RangeFn::QuantileOverTime => over_time::quantile_of(*params.first()?, s),
        RangeFn::StddevOverTime => over_time::stdvar(s).sqrt(),
        RangeFn::StdvarOverTime => over_time::stdvar(s),
        RangeFn::LastOverTime => last.v,
        RangeFn::FirstOverTime => first.v,
        RangeFn::PresentOverTime => 1.0,
        RangeFn::MadOverTime => over_time::mad(s),
        RangeFn::TsOfMinOverTime => over_time::ts_of_min(s)?,
        RangeFn::TsOfMaxOverTime => over_time::ts_of_max(s)?,
        RangeFn::TsOfFirstOverTime => over_time::secs(first.t),
        RangeFn::TsOfLastOverTime => over_time::secs(last.t),
        // Handled by eval_range; listed so a new variant fails to compile
        // here rather than silently returning nothing.
        RangeFn::Rate
        | RangeFn::Increase
        | RangeFn::Delta
        | RangeFn::Irate
        | RangeFn::Idelta
        | RangeFn::Resets
        | RangeFn::Changes
        | RangeFn::Deriv
        | RangeFn::PredictLinear
        | RangeFn::DoubleExponentialSmoothing => return None,
    };
    Some(v)
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
    math::apply(f, v)
}

/// `round(v, to_nearest)` (`funcRound`: rounds half up, `floor(v*inv + 0.5) / inv`).
pub(crate) fn round(v: f64, to_nearest: f64) -> f64 {
    math::round(v, to_nearest)
}

/// `clamp(v, min, max)` (`funcClamp`); NaN when min > max is the caller's
/// concern (it drops the series), this only clamps. A NaN bound gives NaN,
/// as Go's `math.Max`/`math.Min` do.
pub(crate) fn clamp(v: f64, min: f64, max: f64) -> f64 {
    math::clamp(v, min, max)
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

/// Applies a date function to `secs` (`funcDayOfMonth` etc. upstream).
/// Fractional seconds truncate toward zero, as Go's `int64(v)` conversion
/// in `time.Unix(int64(v), 0)` does (so -0.5 is 1970-01-01 00:00:00);
/// NaN, ±Inf and values outside the int64 range give NaN.
pub(crate) fn eval_date(f: DateFn, secs: f64) -> f64 {
    date::apply(f, secs)
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
/// Fewer than two buckets (after merging equal bounds), no buckets at all,
/// or zero observations give NaN.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> BucketQuantile {
    quantile::bucket_quantile(q, buckets)
}

/// `histogram_fraction(lower, upper, b)` over classic buckets
/// (`BucketFraction` in `promql/quantile.go`): sorts, requires a `+Inf`
/// bucket, merges equal bounds, interpolates linearly inside finite
/// buckets. Unlike [`bucket_quantile`] it does not fix monotonicity and
/// accepts a lone `+Inf` bucket. NaN when there are no buckets, no `+Inf`
/// bucket, zero observations or a NaN bound; 0 when `lower >= upper`.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    quantile::bucket_fraction(lower, upper, buckets)
}

/// The φ-quantile of `values` (`quantile` in upstream's `aggregation` and
/// `quantile_over_time`): sorts, interpolates between closest ranks. Empty
/// gives NaN; φ < 0 gives -Inf, φ > 1 gives +Inf.
/// NaN values sort first, as upstream's `vectorByValueHeap` orders them.
pub(crate) fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    quantile::quantile(phi, values)
}
