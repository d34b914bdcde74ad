//! Native histograms in the evaluator: which constructs take them
//! ([`blocker`]), and the range-function kernels over windows that hold
//! histograms (`extrapolatedRate`/`histogramRate`, `instantValue`,
//! `funcResets`, `funcChanges` and the `*_over_time` functions upstream).

use crate::promql::functions::fhist::{FHist, IncompatibleSchema};
use crate::promql::functions::hsum::HSum;
use crate::promql::functions::{self, rate_st, RangeFn, Window};
use crate::promql::plan::Node;

use super::HPoint;

/// Range functions whose kernels compute with floats only: upstream
/// ignores the histograms of a window (with an info when floats are there).
fn float_only(f: RangeFn) -> bool {
    use RangeFn::*;
    matches!(
        f,
        Deriv
            | PredictLinear
            | DoubleExponentialSmoothing
            | MinOverTime
            | MaxOverTime
            | QuantileOverTime
            | StddevOverTime
            | StdvarOverTime
            | MadOverTime
            | TsOfMinOverTime
            | TsOfMaxOverTime
    )
}

/// Functions that take histograms (or ignore them as upstream does).
fn call_ok(name: &str) -> bool {
    matches!(
        name,
        "histogram_count"
            | "histogram_sum"
            | "histogram_avg"
            | "histogram_stddev"
            | "histogram_stdvar"
            | "histogram_quantile"
            | "histogram_quantiles"
            | "histogram_fraction"
            | "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "resets"
            | "changes"
            | "sum_over_time"
            | "avg_over_time"
            | "count_over_time"
            | "last_over_time"
            | "first_over_time"
            | "present_over_time"
            | "absent"
            | "absent_over_time"
            | "timestamp"
            | "label_replace"
            | "label_join"
            | "deriv"
            | "predict_linear"
            | "double_exponential_smoothing"
            | "holt_winters"
            | "min_over_time"
            | "max_over_time"
            | "quantile_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "mad_over_time"
            | "ts_of_min_over_time"
            | "ts_of_max_over_time"
            | "ts_of_first_over_time"
            | "ts_of_last_over_time"
            | "sort"
            | "sort_desc"
            | "sort_by_label"
            | "sort_by_label_desc"
            | "info"
            | "start_timestamp"
            | "scalar"
            | "vector"
            | "time"
            | "pi"
            | "step"
            | "range"
            | "start"
            | "end"
            | "min_of"
            | "max_of"
    ) || drops_histograms(name)
}

/// Element-wise functions over floats: histograms are left out of their
/// output (`simpleFloatFunc`, `dateWrapper`, `clamp` upstream).
pub(crate) fn drops_histograms(name: &str) -> bool {
    matches!(
        name,
        "abs"
            | "ceil"
            | "floor"
            | "exp"
            | "sqrt"
            | "ln"
            | "log2"
            | "log10"
            | "sgn"
            | "sin"
            | "cos"
            | "tan"
            | "asin"
            | "acos"
            | "atan"
            | "sinh"
            | "cosh"
            | "tanh"
            | "asinh"
            | "acosh"
            | "atanh"
            | "deg"
            | "rad"
            | "clamp"
            | "clamp_min"
            | "clamp_max"
            | "round"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "days_in_month"
            | "hour"
            | "minute"
            | "month"
            | "year"
    )
}

/// The first construct in `node` that does not handle native histograms
/// yet, named for the error a query gets if it reads one; `None` when
/// every path from a selector to the result handles them.
pub(crate) fn blocker(node: &Node, range: bool) -> Option<String> {
    let _ = range;
    match node {
        Node::Number(_) | Node::Str(_) => None,
        Node::Vector(_) | Node::Matrix(..) => None,
        Node::Subquery(sq) => blocker(&sq.expr, true),
        Node::Neg(inner) => blocker(inner, range),
        Node::Binary(b) => blocker(&b.lhs, range).or_else(|| blocker(&b.rhs, range)),
        Node::Aggregate(a) => blocker(&a.expr, range),
        Node::Call(c) => {
            if !call_ok(c.name) {
                return Some(format!("function {}()", c.name));
            }
            c.args.iter().find_map(|a| blocker(a, range))
        }
    }
}

/// One step's result of a range function over a window with histograms.
pub(crate) enum HOut {
    None,
    Float(f64),
    Hist(FHist),
}

/// An annotation a kernel raised, positioned by the caller.
pub(crate) enum Note {
    Warn(String),
    Info(String),
}

/// Annotations of the histogram kernels, by upstream's constructor.
pub(crate) mod msg {
    /// `NewMixedFloatsHistogramsWarning`.
    pub(crate) fn mixed(name: &str) -> String {
        format!(
            "PromQL warning: encountered a mix of histograms and floats for metric name {name:?}"
        )
    }
    /// `NewNativeHistogramNotCounterWarning`.
    pub(crate) fn not_counter(name: &str) -> String {
        format!("PromQL warning: this native histogram metric is not a counter: {name:?}")
    }
    /// `NewNativeHistogramNotGaugeWarning`.
    pub(crate) fn not_gauge(name: &str) -> String {
        format!("PromQL warning: this native histogram metric is not a gauge: {name:?}")
    }
    /// `NewMixedExponentialCustomHistogramsWarning`.
    pub(crate) fn mixed_schemas(name: &str) -> String {
        format!("PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}")
    }
    /// `NewHistogramIgnoredInMixedRangeInfo`.
    pub(crate) fn ignored_in_range(name: &str) -> String {
        format!("PromQL info: ignored histograms in a range containing both floats and histograms for metric name {name:?}")
    }
    /// `NewMismatchedCustomBucketsHistogramsInfo` (`op`: addition,
    /// subtraction, aggregation).
    pub(crate) fn reconciled(op: &str) -> String {
        format!("PromQL info: mismatched custom buckets were reconciled during {op}")
    }
    /// `NewStartTimeOverlapWarning`.
    pub(crate) fn st_overlap(name: &str) -> String {
        format!("PromQL warning: sample has start time that overlaps with previous sample timestamp for metric {name:?}")
    }
    /// `NewHistogramCounterResetCollisionWarning`.
    pub(crate) fn collision(op: &str) -> String {
        format!("PromQL warning: conflicting counter resets during histogram {op}")
    }
}

/// A range function over one window that holds histograms (and maybe
/// floats). `fsts` are the floats' start timestamps (one per float, or
/// empty when none has one); histograms carry theirs. `name` is the metric
/// name for annotations.
pub(crate) fn range_kernel(
    f: RangeFn,
    w: Window<'_>,
    fsts: &[i64],
    hs: &[HPoint],
    params: &[f64],
    name: &str,
    notes: &mut Vec<Note>,
) -> HOut {
    use RangeFn::*;
    let floats = w.samples;
    if float_only(f) {
        if floats.is_empty() {
            return HOut::None;
        }
        if !hs.is_empty() {
            notes.push(Note::Info(msg::ignored_in_range(name)));
        }
        return functions::eval_range(f, w, params).map_or(HOut::None, HOut::Float);
    }
    match f {
        Rate | Increase | Delta => {
            if !floats.is_empty() && !hs.is_empty() {
                notes.push(Note::Warn(msg::mixed(name)));
                return HOut::None;
            }
            if hs.is_empty() {
                return functions::eval_range(f, w, params).map_or(HOut::None, HOut::Float);
            }
            extrapolated_hist_rate(f, w, hs, name, notes)
        }
        Irate | Idelta => instant_value(f == Irate, (floats, fsts), hs, name, notes),
        Resets | Changes => HOut::Float(resets_changes(f == Resets, (floats, fsts), hs)),
        CountOverTime => HOut::Float((floats.len() + hs.len()) as f64),
        // funcTsOfFirstOverTime / funcTsOfLastOverTime: the earliest
        // (latest) timestamp of either kind.
        TsOfFirstOverTime | TsOfLastOverTime => {
            let ts = [floats.first(), floats.last()]
                .into_iter()
                .flatten()
                .map(|x| x.t)
                .chain([hs.first(), hs.last()].into_iter().flatten().map(|p| p.t));
            let t = if f == TsOfFirstOverTime {
                ts.min()
            } else {
                ts.max()
            };
            t.map_or(HOut::None, |t| HOut::Float(t as f64 / 1000.0))
        }
        PresentOverTime => HOut::Float(1.0),
        LastOverTime | FirstOverTime => {
            let last = f == LastOverTime;
            let (fl, hp) = if last {
                (floats.last(), hs.last())
            } else {
                (floats.first(), hs.first())
            };
            match (fl, hp) {
                (Some(x), Some(h)) if (last && h.t < x.t) || (!last && x.t < h.t) => {
                    HOut::Float(x.v)
                }
                (_, Some(h)) => HOut::Hist(h.h.clone()),
                (Some(x), None) => HOut::Float(x.v),
                (None, None) => HOut::None,
            }
        }
        SumOverTime | AvgOverTime => {
            if !floats.is_empty() && !hs.is_empty() {
                notes.push(Note::Warn(msg::mixed(name)));
                return HOut::None;
            }
            if hs.is_empty() {
                return functions::eval_range(f, w, params).map_or(HOut::None, HOut::Float);
            }
            sum_hists(hs, f == AvgOverTime, name, notes)
        }
        _ => functions::eval_range(f, w, params).map_or(HOut::None, HOut::Float),
    }
}

/// `sum_over_time` / `avg_over_time` of histograms.
fn sum_hists(hs: &[HPoint], avg: bool, name: &str, notes: &mut Vec<Note>) -> HOut {
    let mut acc = HSum::new(&hs[0].h, avg);
    let (mut reset, mut not_reset, mut reconciled) = (false, false, false);
    let mut track = |h: &FHist| match h.hint {
        crate::model::CounterResetHint::Reset => reset = true,
        crate::model::CounterResetHint::NotReset => not_reset = true,
        _ => {}
    };
    track(&hs[0].h);
    for p in &hs[1..] {
        track(&p.h);
        match acc.add(&p.h) {
            Ok(n) => reconciled |= n.bounds_reconciled,
            Err(IncompatibleSchema) => {
                notes.push(Note::Warn(msg::mixed_schemas(name)));
                return HOut::None;
            }
        }
    }
    if reset && not_reset {
        notes.push(Note::Warn(msg::collision("aggregation")));
    }
    if reconciled {
        notes.push(Note::Info(msg::reconciled("aggregation")));
    }
    HOut::Hist(acc.finish())
}

/// `histogramRate`: last minus first, plus every histogram before a
/// counter reset, at the lowest schema of the window.
fn hist_rate(hs: &[HPoint], counter: bool, name: &str, notes: &mut Vec<Note>) -> Option<FHist> {
    use crate::model::CounterResetHint::Gauge;
    let last = &hs[hs.len() - 1].h;
    let mut prev = hs[0].h.clone();
    if counter && (prev.hint == Gauge || last.hint == Gauge) {
        notes.push(Note::Warn(msg::not_counter(name)));
    }
    if counter && reset_between(&hs[0], &hs[1], &prev) {
        let second = &hs[1].h;
        prev = FHist {
            schema: second.schema,
            hint: crate::model::CounterResetHint::Unknown,
            zero_threshold: 0.0,
            zero_count: 0.0,
            count: 0.0,
            sum: 0.0,
            pos: Vec::new(),
            neg: Vec::new(),
            custom: second.custom.clone(),
        };
    }
    if last.is_custom() != prev.is_custom() {
        notes.push(Note::Warn(msg::mixed_schemas(name)));
        return None;
    }
    for p in &hs[1..hs.len() - 1] {
        if !counter {
            continue;
        }
        if p.h.hint == Gauge {
            notes.push(Note::Warn(msg::not_counter(name)));
        }
        if p.h.is_custom() != prev.is_custom() {
            notes.push(Note::Warn(msg::mixed_schemas(name)));
            return None;
        }
    }
    let mut h = last.clone();
    match h.sub(&prev) {
        Err(IncompatibleSchema) => {
            notes.push(Note::Warn(msg::mixed_schemas(name)));
            return None;
        }
        Ok(n) if n.bounds_reconciled => notes.push(Note::Info(msg::reconciled("subtraction"))),
        Ok(_) => {}
    }
    if counter {
        if hs.windows(2).any(|w| st_overlaps(&w[0], &w[1])) {
            notes.push(Note::Warn(msg::st_overlap(name)));
        }
        for (i, p) in hs.iter().enumerate().skip(1) {
            if reset_between(&hs[i - 1], p, &prev) {
                match h.add(&prev) {
                    Err(IncompatibleSchema) => {
                        notes.push(Note::Warn(msg::mixed_schemas(name)));
                        return None;
                    }
                    Ok(n) if n.bounds_reconciled => {
                        notes.push(Note::Info(msg::reconciled("addition")))
                    }
                    Ok(_) => {}
                }
            }
            prev = p.h.clone();
        }
    } else if hs[0].h.hint != Gauge || last.hint != Gauge {
        notes.push(Note::Warn(msg::not_gauge(name)));
    }
    h.hint = Gauge;
    Some(h)
}

/// The histogram branch of `extrapolatedRate`.
fn extrapolated_hist_rate(
    f: RangeFn,
    w: Window<'_>,
    hs: &[HPoint],
    name: &str,
    notes: &mut Vec<Note>,
) -> HOut {
    let counter = f != RangeFn::Delta;
    let (first, last) = (hs[0].t, hs[hs.len() - 1].t);
    let zero_at_start = counter
        .then(|| {
            let span = (first, last);
            rate_st::zero_at_start_factor(&w, hs[0].st, span, hs.len(), f == RangeFn::Rate)
        })
        .flatten();
    if let Some(factor) = zero_at_start {
        // The counter was zero at the first histogram's start timestamp:
        // the first histogram counts in full.
        let mut h = if hs.len() > 1 {
            match hist_rate(hs, counter, name, notes) {
                Some(h) => h,
                None => return HOut::None,
            }
        } else {
            hs[0].h.clone()
        };
        if hs.len() > 1 {
            match h.add(&hs[0].h) {
                Err(IncompatibleSchema) => {
                    notes.push(Note::Warn(msg::mixed_schemas(name)));
                    return HOut::None;
                }
                Ok(n) if n.bounds_reconciled => notes.push(Note::Info(msg::reconciled("addition"))),
                Ok(_) => {}
            }
        }
        h.mul(factor);
        return HOut::Hist(h);
    }
    if hs.len() < 2 {
        return HOut::None;
    }
    let Some(mut h) = hist_rate(hs, counter, name, notes) else {
        return HOut::None;
    };
    let first_count = hs[0].h.count;
    let result_count = h.count;
    let span = functions::SampleSpan {
        first,
        last,
        intervals: hs.len() - 1,
    };
    let counter_counts = counter.then_some((first_count, result_count));
    let factor = functions::extrapolation_factor(&w, span, counter_counts, f == RangeFn::Rate);
    h.mul(factor);
    HOut::Hist(h)
}

/// `instantValue` (`irate`, `idelta`) over the last two samples of
/// either kind.
fn instant_value(
    is_rate: bool,
    (floats, fsts): (&[crate::model::Sample], &[i64]),
    hs: &[HPoint],
    name: &str,
    notes: &mut Vec<Note>,
) -> HOut {
    use crate::model::CounterResetHint::Gauge;
    let fst = |i: usize| fsts.get(i).copied().unwrap_or(0);
    let mut last: Vec<Point<'_>> = Vec::new();
    for (i, x) in floats.iter().enumerate().rev().take(2) {
        last.push((x.t, fst(i), Some(x.v), None));
    }
    for p in hs.iter().rev().take(2) {
        last.push((p.t, p.st, None, Some(&p.h)));
    }
    if last.len() < 2 {
        return HOut::None;
    }
    last.sort_by_key(|x| std::cmp::Reverse(x.0));
    let (cur, prev) = (last[0], last[1]);
    let interval = cur.0 - prev.0;
    if interval == 0 {
        return HOut::None;
    }
    let secs = interval as f64 / 1000.0;
    let st_reset = rate_st::is_start_timestamp_reset(prev.1, prev.0, cur.1, cur.0);
    match (cur, prev) {
        ((_, _, Some(c), _), (_, _, Some(p), _)) => {
            let mut v = if is_rate && (c < p || st_reset) {
                c
            } else {
                c - p
            };
            if is_rate {
                v /= secs;
            }
            HOut::Float(v)
        }
        ((_, _, _, Some(c)), (_, _, _, Some(p))) => {
            if is_rate && (c.hint == Gauge || p.hint == Gauge) {
                notes.push(Note::Warn(msg::not_counter(name)));
            }
            if !is_rate && (c.hint != Gauge || p.hint != Gauge) {
                notes.push(Note::Warn(msg::not_gauge(name)));
            }
            let mut h = c.clone();
            if !is_rate || !(st_reset || c.detect_reset(p)) {
                match h.sub(p) {
                    Err(IncompatibleSchema) => {
                        notes.push(Note::Warn(msg::mixed_schemas(name)));
                        return HOut::None;
                    }
                    Ok(n) if n.bounds_reconciled => {
                        notes.push(Note::Info(msg::reconciled("subtraction")))
                    }
                    Ok(_) => {}
                }
            }
            h.hint = Gauge;
            if is_rate {
                h.div(secs);
            }
            HOut::Hist(h)
        }
        _ => {
            notes.push(Note::Warn(msg::mixed(name)));
            HOut::None
        }
    }
}

/// `funcResets` / `funcChanges` over both kinds in time order; for
/// `resets`, a start-timestamp reset counts as one too.
fn resets_changes(
    resets: bool,
    (floats, fsts): (&[crate::model::Sample], &[i64]),
    hs: &[HPoint],
) -> f64 {
    let mut all: Vec<Point<'_>> = floats
        .iter()
        .enumerate()
        .map(|(i, x)| (x.t, fsts.get(i).copied().unwrap_or(0), Some(x.v), None))
        .chain(hs.iter().map(|p| (p.t, p.st, None, Some(&p.h))))
        .collect();
    all.sort_by_key(|x| x.0);
    let mut n = 0.0;
    for w in all.windows(2) {
        let st_reset = resets && rate_st::is_start_timestamp_reset(w[0].1, w[0].0, w[1].1, w[1].0);
        let hit = match (w[0], w[1]) {
            ((_, _, Some(p), _), (_, _, Some(c), _)) => {
                if resets {
                    c < p || st_reset
                } else {
                    c != p && !(c.is_nan() && p.is_nan())
                }
            }
            ((_, _, _, Some(p)), (_, _, _, Some(c))) => {
                if resets {
                    st_reset || c.detect_reset(p)
                } else {
                    !c.bit_eq(p)
                }
            }
            _ => true,
        };
        if hit {
            n += 1.0;
        }
    }
    n
}

/// A sample of either kind in a window: time, start timestamp (0 for
/// none), and the float or the histogram.
type Point<'a> = (i64, i64, Option<f64>, Option<&'a FHist>);

/// Whether the counter was reset between `a` and `b` (`b` compared with
/// `prev`, the histogram before it as `histogramRate` tracks it): by start
/// timestamp or by the histograms themselves.
fn reset_between(a: &HPoint, b: &HPoint, prev: &FHist) -> bool {
    rate_st::is_start_timestamp_reset(a.st, a.t, b.st, b.t) || b.h.detect_reset(prev)
}

/// `checkStartTimeOverlap` between consecutive histograms.
fn st_overlaps(a: &HPoint, b: &HPoint) -> bool {
    rate_st::start_time_overlaps(a.st, a.t, b.st)
}

/// Text to look for when positioning an annotation about `node` (its
/// start, as upstream's `PositionRange` of the expression).
pub(crate) fn anchor(node: &Node) -> String {
    match node {
        Node::Vector(s) | Node::Matrix(s, _) => s.name.clone().unwrap_or_else(|| s.text.clone()),
        Node::Call(c) => c.name.to_string(),
        Node::Aggregate(a) => format!("{:?}", a.op).to_lowercase(),
        Node::Number(v) => format!("{v}"),
        Node::Str(s) => s.clone(),
        Node::Binary(b) => anchor(&b.lhs),
        Node::Neg(inner) => anchor(inner),
        Node::Subquery(sq) => anchor(&sq.expr),
    }
}
