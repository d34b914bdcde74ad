//! Function calls: dispatch, range functions over windows, element-wise
//! functions, and the series-level functions (`label_replace`,
//! `label_join`, `absent`, `scalar`, `vector`, sorting).

use super::labels::{self, NAME};
use super::range_ext::extended_modifier;
use super::range_float::{Computed, FloatRange, FloatValues};
use super::select::Windows;
use super::RawSeries;
use super::{Ctx, Grid, Result, StepSeries, Val};
use crate::model::Labels;
use crate::promql::error::QueryError;
use crate::promql::functions::{self, DateFn, MathFn, RangeFn};
use crate::promql::limits;
use crate::promql::plan::{Call, Node};

fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "rate" => RangeFn::Rate,
        "increase" => RangeFn::Increase,
        "delta" => RangeFn::Delta,
        "irate" => RangeFn::Irate,
        "idelta" => RangeFn::Idelta,
        "deriv" => RangeFn::Deriv,
        "predict_linear" => RangeFn::PredictLinear,
        "double_exponential_smoothing" | "holt_winters" => RangeFn::DoubleExponentialSmoothing,
        "resets" => RangeFn::Resets,
        "changes" => RangeFn::Changes,
        "avg_over_time" => RangeFn::AvgOverTime,
        "min_over_time" => RangeFn::MinOverTime,
        "max_over_time" => RangeFn::MaxOverTime,
        "sum_over_time" => RangeFn::SumOverTime,
        "count_over_time" => RangeFn::CountOverTime,
        "quantile_over_time" => RangeFn::QuantileOverTime,
        "stddev_over_time" => RangeFn::StddevOverTime,
        "stdvar_over_time" => RangeFn::StdvarOverTime,
        "last_over_time" => RangeFn::LastOverTime,
        "first_over_time" => RangeFn::FirstOverTime,
        "present_over_time" => RangeFn::PresentOverTime,
        "mad_over_time" => RangeFn::MadOverTime,
        "ts_of_min_over_time" => RangeFn::TsOfMinOverTime,
        "ts_of_max_over_time" => RangeFn::TsOfMaxOverTime,
        "ts_of_first_over_time" => RangeFn::TsOfFirstOverTime,
        "ts_of_last_over_time" => RangeFn::TsOfLastOverTime,
        _ => return None,
    })
}

fn math_fn(name: &str) -> Option<MathFn> {
    Some(match name {
        "abs" => MathFn::Abs,
        "ceil" => MathFn::Ceil,
        "floor" => MathFn::Floor,
        "exp" => MathFn::Exp,
        "sqrt" => MathFn::Sqrt,
        "ln" => MathFn::Ln,
        "log2" => MathFn::Log2,
        "log10" => MathFn::Log10,
        "sgn" => MathFn::Sgn,
        "sin" => MathFn::Sin,
        "cos" => MathFn::Cos,
        "tan" => MathFn::Tan,
        "asin" => MathFn::Asin,
        "acos" => MathFn::Acos,
        "atan" => MathFn::Atan,
        "sinh" => MathFn::Sinh,
        "cosh" => MathFn::Cosh,
        "tanh" => MathFn::Tanh,
        "asinh" => MathFn::Asinh,
        "acosh" => MathFn::Acosh,
        "atanh" => MathFn::Atanh,
        "deg" => MathFn::Deg,
        "rad" => MathFn::Rad,
        _ => return None,
    })
}

fn date_fn(name: &str) -> Option<DateFn> {
    Some(match name {
        "day_of_month" => DateFn::DayOfMonth,
        "day_of_week" => DateFn::DayOfWeek,
        "day_of_year" => DateFn::DayOfYear,
        "days_in_month" => DateFn::DaysInMonth,
        "hour" => DateFn::Hour,
        "minute" => DateFn::Minute,
        "month" => DateFn::Month,
        "year" => DateFn::Year,
        _ => return None,
    })
}

/// Functions evaluated series by series (their output can stream).
pub(crate) fn is_streamable(c: &Call) -> bool {
    let n = c.name;
    (range_fn(n).is_some())
        || math_fn(n).is_some()
        || (date_fn(n).is_some() && !c.args.is_empty())
        || NATIVE_HISTOGRAM_FNS.contains(&n)
        || matches!(
            n,
            "clamp"
                | "clamp_min"
                | "clamp_max"
                | "round"
                | "timestamp"
                | "start_timestamp"
                | "label_replace"
                | "label_join"
        )
}

/// Whether the call yields an instant vector.
pub(crate) fn returns_vector(c: &Call) -> bool {
    !matches!(
        c.name,
        "scalar" | "time" | "pi" | "step" | "range" | "start" | "end" | "min_of" | "max_of"
    )
}

/// Functions that exist only for native histograms.
const NATIVE_HISTOGRAM_FNS: &[&str] = &[
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
];

impl Ctx<'_> {
    /// A streamable call: hands its output series to `sink`.
    pub(crate) fn call_stream(
        &mut self,
        c: &Call,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        if let Some(f) = range_fn(c.name) {
            return self.range_call(c, f, grid, sink);
        }
        if c.name == "timestamp" {
            if let Some(Node::Vector(sel)) = c.args.first() {
                return self.vector_selector(
                    sel,
                    grid,
                    super::select::Pick::Timestamp,
                    &mut |mut s| {
                        s.drop_name = true;
                        sink(s)
                    },
                );
            }
            let arg = self.arg(c, 0)?;
            return self.stream(arg, grid, &mut |mut s: StepSeries| {
                for i in 0..s.vals.len() {
                    if s.has(i) {
                        s.vals[i] = Some(grid.ts(i) as f64 / 1000.0);
                    }
                }
                s.hists = Vec::new();
                s.drop_name = true;
                sink(s)
            });
        }
        if c.name == "start_timestamp" {
            // funcStartTimestamp: only a plain selector's samples carry
            // start timestamps; any other argument gives no output.
            if let Some(Node::Vector(sel)) = c.args.first() {
                return self.start_timestamp_selector(sel, grid, sink);
            }
            let arg = self.arg(c, 0)?;
            return self.stream(arg, grid, &mut |_| Ok(()));
        }
        if NATIVE_HISTOGRAM_FNS.contains(&c.name) {
            return self.histogram_stat(c, grid, sink);
        }
        if c.name == "label_replace" {
            return self.label_replace(c, grid, sink);
        }
        if c.name == "label_join" {
            return self.label_join(c, grid, sink);
        }
        let params: Vec<Vec<f64>> = c
            .args
            .iter()
            .skip(1)
            .map(|a| self.scalar(a, grid))
            .collect::<Result<_>>()?;
        let name = c.name;
        let p = |k: usize, i: usize| params.get(k).and_then(|v| v.get(i)).copied();
        let arg = self.arg(c, 0)?;
        self.stream(arg, grid, &mut |mut s: StepSeries| {
            // Float functions leave histograms out, as upstream.
            s.hists = Vec::new();
            for (i, slot) in s.vals.iter_mut().enumerate() {
                let Some(x) = *slot else { continue };
                *slot = match name {
                    "clamp" => {
                        let (lo, hi) = (p(0, i).unwrap_or(f64::NAN), p(1, i).unwrap_or(f64::NAN));
                        // funcClamp: max < min gives an empty vector.
                        (hi >= lo || lo.is_nan() || hi.is_nan())
                            .then(|| functions::clamp(x, lo, hi))
                    }
                    "clamp_min" => Some(functions::clamp(
                        x,
                        p(0, i).unwrap_or(f64::NAN),
                        f64::INFINITY,
                    )),
                    "clamp_max" => Some(functions::clamp(
                        x,
                        f64::NEG_INFINITY,
                        p(0, i).unwrap_or(f64::NAN),
                    )),
                    "round" => Some(functions::round(x, p(0, i).unwrap_or(1.0))),
                    _ => match (math_fn(name), date_fn(name)) {
                        (Some(f), _) => Some(functions::eval_math(f, x)),
                        (_, Some(f)) => Some(functions::eval_date(f, x)),
                        _ => None,
                    },
                };
            }
            s.drop_name = true;
            if s.vals.iter().any(Option::is_some) {
                sink(s)
            } else {
                Ok(())
            }
        })
    }

    fn arg<'c>(&self, c: &'c Call, i: usize) -> Result<&'c Node> {
        c.args.get(i).ok_or_else(|| {
            QueryError::BadData(format!("expected argument {} in call to {}", i + 1, c.name))
        })
    }

    fn str_arg(&self, c: &Call, i: usize) -> Result<String> {
        match self.arg(c, i)? {
            Node::Str(s) => Ok(s.clone()),
            _ => Err(QueryError::BadData(format!(
                "expected string argument {} in call to {}",
                i + 1,
                c.name
            ))),
        }
    }

    fn range_call(
        &mut self,
        c: &Call,
        f: RangeFn,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let mi = c
            .args
            .iter()
            .position(|a| matches!(a, Node::Matrix(..) | Node::Subquery(_)))
            .ok_or_else(|| QueryError::BadData(format!("expected a range vector in {}", c.name)))?;
        let mut params: Vec<Vec<f64>> = Vec::new();
        for (k, a) in c.args.iter().enumerate() {
            if k != mi {
                params.push(self.scalar(a, grid)?);
            }
        }
        if f == RangeFn::QuantileOverTime {
            if let Some(q) = params
                .first()
                .and_then(|q| q.iter().find(|q| q.is_nan() || !(0.0..=1.0).contains(*q)))
            {
                let msg = format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    super::aggregate::go_g(*q)
                );
                let at = self.pos_of_arg(c, 0);
                self.warn_at(msg, &at);
            }
        }
        let extended = extended_modifier(c, mi, f)?;
        let keep_name = matches!(f, RangeFn::LastOverTime | RangeFn::FirstOverTime);
        let counter_check = matches!(f, RangeFn::Rate | RangeFn::Increase);
        let counter_pos = self.pos_of_arg(c, mi);
        let with_st = functions::uses_start_times(f);
        let kernel = FloatRange {
            f,
            params: &params,
            grid,
            extended,
            counter_check,
        };
        let fin = Finish {
            f,
            keep_name,
            counter_check,
            counter_pos: &counter_pos,
        };
        if let Node::Matrix(sel, range) = &c.args[mi] {
            let Some((windows, mint, maxt)) = self.matrix_windows(sel, *range, grid) else {
                return Ok(());
            };
            let rw = (&windows, extended, params.as_slice());
            return self.range_selector(sel, (mint, maxt), rw, grid, &kernel, &fin, sink);
        }
        if !kernel.batches() {
            return self.each_raw_st(&c.args[mi], grid, with_st, &mut |ctx, s, windows| {
                if !s.hists.is_empty() {
                    return ctx
                        .range_histograms(&fin, &params, grid, s, windows, extended, &mut *sink);
                }
                let out = kernel.series(&s, windows)?;
                ctx.finish_floats(s.labels, s.drop_name, out, &fin, &mut *sink)
            });
        }
        kernel.with_workers(|workers| {
            // Float series waiting to form a batch.
            let mut pending: Vec<RawSeries> = Vec::new();
            let mut pending_samples = 0usize;
            let mut held: Option<Windows> = None;
            self.each_raw_st(&c.args[mi], grid, with_st, &mut |ctx, s, windows| {
                if !s.hists.is_empty() {
                    // In order: what waits goes first.
                    pending_samples = 0;
                    let mut done = workers.submit(std::mem::take(&mut pending), windows);
                    done.extend(workers.drain());
                    ctx.finish_batches(done, &fin, &mut *sink)?;
                    return ctx
                        .range_histograms(&fin, &params, grid, s, windows, extended, &mut *sink);
                }
                if held.is_none() {
                    held = Some(windows.clone());
                }
                pending_samples += s.samples.len();
                pending.push(s);
                if FloatRange::full(pending.len(), pending_samples) {
                    pending_samples = 0;
                    let done = workers.submit(std::mem::take(&mut pending), windows);
                    ctx.finish_batches(done, &fin, &mut *sink)?;
                }
                Ok(())
            })?;
            let mut done = match &held {
                Some(w) => workers.submit(pending, w),
                None => Vec::new(),
            };
            done.extend(workers.drain());
            self.finish_batches(done, &fin, sink)
        })
    }

    /// A range function over a range selector. Each series of floats is
    /// computed right where it is decoded (on the reader's decoding
    /// threads once there are enough series), so its samples are used
    /// while in cache and freed there; only its values per step come
    /// back. Series with native histograms come back whole and are
    /// computed here. Annotations and `sink` run on this thread in the
    /// series' order either way.
    #[allow(clippy::too_many_arguments)]
    fn range_selector(
        &mut self,
        sel: &crate::promql::plan::Selector,
        (mint, maxt): (i64, i64),
        (windows, extended, params): (&Windows, Option<bool>, &[Vec<f64>]),
        grid: Grid,
        kernel: &FloatRange<'_>,
        fin: &Finish<'_>,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        /// What the map made of a series.
        enum Read {
            /// The values, and the name the not-a-counter info names.
            Floats(Result<FloatValues>, Option<String>),
            WithHistograms(RawSeries),
        }
        let stats_hints = sel.stats_hints;
        let map =
            |labels: &Labels, v: crate::storage::SeriesValues| -> Box<dyn std::any::Any + Send> {
                let raw = super::select::raw_series(Labels::default(), v, stats_hints);
                if !raw.hists.is_empty() {
                    return Box::new(Read::WithHistograms(raw));
                }
                let out = kernel.series(&raw, windows);
                let named = match &out {
                    Ok(out) if out.vals.iter().any(Option::is_some) => fin.not_a_counter(labels),
                    _ => None,
                };
                Box::new(Read::Floats(out, named))
            };
        let with_st = functions::uses_start_times(fin.f);
        self.each_series_mapped(sel, mint, maxt, with_st, &map, &mut |ctx, labels, read| {
            match super::select::downcast::<Read>(read)? {
                Read::Floats(out, named) => {
                    ctx.finish_floats_named(labels, false, out?, named, fin, &mut *sink)
                }
                Read::WithHistograms(mut raw) => {
                    raw.labels = labels;
                    ctx.range_histograms(fin, params, grid, raw, windows, extended, &mut *sink)
                }
            }
        })
    }

    /// A series with native histograms of a range function call: computed
    /// on the query's thread.
    #[allow(clippy::too_many_arguments)]
    fn range_histograms(
        &mut self,
        fin: &Finish<'_>,
        params: &[Vec<f64>],
        grid: Grid,
        s: RawSeries,
        windows: &Windows,
        extended: Option<bool>,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let out =
            self.range_with_histograms(fin.f, params, fin.counter_pos, grid, s, windows, extended)?;
        match out {
            Some(mut out) => {
                out.drop_name = !fin.keep_name || out.drop_name;
                sink(out)
            }
            None => Ok(()),
        }
    }

    /// Computed batches handed on in order.
    fn finish_batches(
        &mut self,
        done: Vec<Computed>,
        fin: &Finish<'_>,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        for (batch, outs) in done {
            for (s, out) in batch.into_iter().zip(outs) {
                self.finish_floats(s.labels, s.drop_name, out?, fin, sink)?;
            }
        }
        Ok(())
    }

    /// A float series' annotations and its hand-off to `sink`, on the
    /// query's thread in the series' order.
    fn finish_floats(
        &mut self,
        labels: Labels,
        drop_name: bool,
        out: FloatValues,
        fin: &Finish<'_>,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let named = fin.not_a_counter(&labels);
        self.finish_floats_named(labels, drop_name, out, named, fin, sink)
    }

    /// [`Ctx::finish_floats`] with the series' not-a-counter name already
    /// found ([`Finish::not_a_counter`]), where the series was computed.
    fn finish_floats_named(
        &mut self,
        labels: Labels,
        drop_name: bool,
        out: FloatValues,
        not_a_counter: Option<String>,
        fin: &Finish<'_>,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        if out.overlap {
            // NewStartTimeOverlapWarning upstream, once per series.
            let name = labels.get(NAME).unwrap_or_default();
            let msg = format!(
                "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric {name:?}"
            );
            self.warn_at(msg, fin.counter_pos);
        }
        if !out.vals.iter().any(Option::is_some) {
            return Ok(());
        }
        if let Some(name) = not_a_counter {
            let msg = format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            );
            self.info_at(msg, fin.counter_pos);
        }
        sink(StepSeries {
            labels,
            vals: out.vals,
            drop_name: !fin.keep_name || drop_name,
            hists: Vec::new(),
        })
    }

    fn label_replace(
        &mut self,
        c: &Call,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let dst = self.str_arg(c, 1)?;
        let repl = self.str_arg(c, 2)?;
        let src = self.str_arg(c, 3)?;
        let re_src = self.str_arg(c, 4)?;
        let re = crate::storage::index::compile_regex(&re_src).map_err(|_| {
            QueryError::Execution(format!(
                "invalid regular expression in label_replace(): {re_src}"
            ))
        })?;
        if !labels::valid_label_name(&dst) {
            return Err(QueryError::Execution(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let arg = self.arg(c, 0)?;
        let budget = self.budget;
        // Each `$` in the replacement can repeat at most the whole value.
        let refs = repl.matches('$').count();
        self.stream(arg, grid, &mut |mut s: StepSeries| {
            let v = s.labels.get(&src).unwrap_or("").to_string();
            if let Some(caps) = re.captures(&v) {
                let bound = repl.len().saturating_add(refs.saturating_mul(v.len()));
                if bound > limits::MAX_LABEL_VALUE_BYTES {
                    return Err(limits::label_too_long("label_replace", bound));
                }
                budget.acquire(bound / limits::LABEL_BYTES_PER_SAMPLE)?;
                let mut out = String::new();
                caps.expand(&repl, &mut out);
                s.labels = labels::set(&s.labels, &dst, &out);
                if dst == NAME {
                    s.drop_name = false;
                }
            }
            sink(s)
        })
    }

    fn label_join(
        &mut self,
        c: &Call,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        let dst = self.str_arg(c, 1)?;
        let sep = self.str_arg(c, 2)?;
        let srcs: Vec<String> = (3..c.args.len())
            .map(|i| self.str_arg(c, i))
            .collect::<Result<_>>()?;
        if !labels::valid_label_name(&dst) {
            return Err(QueryError::Execution(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        for s in &srcs {
            if !labels::valid_label_name(s) {
                return Err(QueryError::Execution(format!(
                    "invalid source label name in label_join(): {s}"
                )));
            }
        }
        let arg = self.arg(c, 0)?;
        let budget = self.budget;
        self.stream(arg, grid, &mut |mut s: StepSeries| {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
            let len = joined
                .iter()
                .map(|p| p.len())
                .sum::<usize>()
                .saturating_add(sep.len().saturating_mul(joined.len().saturating_sub(1)));
            if len > limits::MAX_LABEL_VALUE_BYTES {
                return Err(limits::label_too_long("label_join", len));
            }
            budget.acquire(len / limits::LABEL_BYTES_PER_SAMPLE)?;
            let joined = joined.join(&sep);
            s.labels = labels::set(&s.labels, &dst, &joined);
            if dst == NAME {
                s.drop_name = false;
            }
            sink(s)
        })
    }

    /// Calls that need their whole input at once.
    pub(crate) fn call(&mut self, c: &Call, grid: Grid) -> Result<Val> {
        let n = grid.len();
        match c.name {
            "time" => Ok(Val::Scalar(
                (0..n).map(|i| grid.ts(i) as f64 / 1000.0).collect(),
            )),
            "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "vector" => {
                let v = self.scalar(self.arg(c, 0)?, grid)?;
                Ok(Val::Vector(vec![StepSeries {
                    labels: Labels::default(),
                    vals: v.into_iter().map(Some).collect(),
                    drop_name: false,
                    hists: Vec::new(),
                }]))
            }
            "scalar" => {
                let v = self.vector_arg(c, 0, grid)?;
                self.release_vector(&v);
                Ok(Val::Scalar(
                    (0..n)
                        .map(|i| {
                            let mut it = v.iter().filter_map(|s| s.vals[i]);
                            match (it.next(), it.next()) {
                                (Some(x), None) => x,
                                _ => f64::NAN,
                            }
                        })
                        .collect(),
                ))
            }
            "absent" => {
                let v = self.vector_arg(c, 0, grid)?;
                self.release_vector(&v);
                let vals: Vec<Option<f64>> = (0..n)
                    .map(|i| (!v.iter().any(|s| s.has(i))).then_some(1.0))
                    .collect();
                Ok(Val::Vector(absent_output(c.args.first(), vals)))
            }
            "absent_over_time" => {
                let arg = self.arg(c, 0)?;
                let mut present = vec![false; n];
                self.each_raw(arg, grid, &mut |_, s, windows| {
                    for (i, (lo, hi)) in windows.bounds(&s.samples).into_iter().enumerate() {
                        present[i] |= hi > lo;
                    }
                    for (i, (lo, hi)) in windows.hist_bounds(&s.hists).into_iter().enumerate() {
                        present[i] |= hi > lo;
                    }
                    Ok(())
                })?;
                let vals = present.iter().map(|p| (!p).then_some(1.0)).collect();
                Ok(Val::Vector(absent_output(c.args.first(), vals)))
            }
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => self.sort(c, grid),
            "histogram_quantile" => Ok(Val::Vector(self.histogram_quantile(c, grid)?)),
            "info" => Ok(Val::Vector(self.info(c, grid)?)),
            "histogram_quantiles" => Ok(Val::Vector(self.histogram_quantiles(c, grid)?)),
            "histogram_fraction" => Ok(Val::Vector(self.histogram_fraction(c, grid)?)),
            "step" => Ok(Val::Scalar(vec![self.query_step as f64 / 1000.0; n])),
            "range" => Ok(Val::Scalar(vec![
                (self.query_end - self.query_start) as f64
                    / 1000.0;
                n
            ])),
            "start" => Ok(Val::Scalar(vec![self.query_start as f64 / 1000.0; n])),
            "end" => Ok(Val::Scalar(vec![self.query_end as f64 / 1000.0; n])),
            "min_of" | "max_of" => {
                let a = self.scalar(self.arg(c, 0)?, grid)?;
                let b = self.scalar(self.arg(c, 1)?, grid)?;
                let min = c.name == "min_of";
                Ok(Val::Scalar(
                    a.iter()
                        .zip(&b)
                        .map(|(&x, &y)| match (x.is_nan() || y.is_nan(), min) {
                            (true, _) => f64::NAN,
                            (false, true) => x.min(y),
                            (false, false) => x.max(y),
                        })
                        .collect(),
                ))
            }
            name if date_fn(name).is_some() => {
                let f = date_fn(name).unwrap_or(DateFn::Year);
                Ok(Val::Vector(vec![StepSeries {
                    labels: Labels::default(),
                    vals: (0..n)
                        .map(|i| Some(functions::eval_date(f, grid.ts(i) as f64 / 1000.0)))
                        .collect(),
                    drop_name: false,
                    hists: Vec::new(),
                }]))
            }
            other => Err(QueryError::Unsupported(format!(
                "function {other}() is not supported yet"
            ))),
        }
    }

    /// Argument `i` as a whole vector, charged to the budget series by
    /// series as it is collected; the caller gives it back with
    /// [`Ctx::release_vector`] once done with it, or returns it as its
    /// own (charged) output.
    pub(crate) fn vector_arg(&mut self, c: &Call, i: usize, grid: Grid) -> Result<Vec<StepSeries>> {
        let arg = self.arg(c, i)?;
        let mut v = Vec::new();
        let budget = self.budget;
        self.stream(arg, grid, &mut |s| {
            budget.acquire(s.slots())?;
            v.push(s);
            Ok(())
        })?;
        Ok(v)
    }

    /// Gives back what [`Ctx::vector_arg`] charged for `v`.
    pub(crate) fn release_vector(&mut self, v: &[StepSeries]) {
        self.release(v.iter().map(StepSeries::slots).sum());
    }

    fn sort(&mut self, c: &Call, grid: Grid) -> Result<Val> {
        let mut v = self.vector_arg(c, 0, grid)?;
        if matches!(c.name, "sort" | "sort_desc") {
            // funcSort / funcSortDesc sort `filterFloats` of their input:
            // histograms are left out, at every step.
            let mut freed = 0;
            v.retain_mut(|s| {
                s.hists = Vec::new();
                let keep = s.vals.iter().any(Option::is_some);
                if !keep {
                    freed += s.slots();
                }
                keep
            });
            self.release(freed);
        }
        if grid.len() != 1 {
            self.warn_at(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into(),
                &c.text,
            );
            return Ok(Val::Vector(v));
        }
        let val = |s: &StepSeries| s.vals[0].unwrap_or(f64::NAN);
        match c.name {
            "sort" | "sort_desc" => {
                let desc = c.name == "sort_desc";
                v.sort_by(|a, b| {
                    let (x, y) = (val(a), val(b));
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                        _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    }
                });
            }
            _ => {
                let names: Vec<String> = (1..c.args.len())
                    .map(|i| self.str_arg(c, i))
                    .collect::<Result<_>>()?;
                let desc = c.name == "sort_by_label_desc";
                v.sort_by(|a, b| {
                    for n in &names {
                        let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                        if x != y {
                            let o = labels::natural_cmp(x, y);
                            return if desc { o.reverse() } else { o };
                        }
                    }
                    let o = a.labels.cmp(&b.labels);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
        }
        Ok(Val::Vector(v))
    }
}

/// `absent()` / `absent_over_time()` output labels: the argument's equality
/// matchers, minus names matched more than once (`createLabelsForAbsentFunction`).
fn absent_output(arg: Option<&Node>, vals: Vec<Option<f64>>) -> Vec<StepSeries> {
    if !vals.iter().any(Option::is_some) {
        return Vec::new();
    }
    let sel = match arg {
        Some(Node::Vector(s)) | Some(Node::Matrix(s, _)) => Some(s),
        _ => None,
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut has: Vec<String> = Vec::new();
    for (name, value, equal) in sel.map(|s| s.user_equal.as_slice()).unwrap_or(&[]) {
        if name == NAME {
            continue;
        }
        if *equal && !has.contains(name) {
            pairs.push((name.clone(), value.clone()));
        } else {
            pairs.retain(|(n, _)| n != name);
        }
        has.push(name.clone());
    }
    vec![StepSeries {
        labels: Labels::from_pairs(pairs),
        vals,
        drop_name: false,
        hists: Vec::new(),
    }]
}

pub(super) fn check_smoothing(ps: &[f64]) -> Result<()> {
    let sf = ps.first().copied().unwrap_or(f64::NAN);
    let tf = ps.get(1).copied().unwrap_or(f64::NAN);
    if !(sf > 0.0 && sf < 1.0) {
        return Err(QueryError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return Err(QueryError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    Ok(())
}

/// What a range call's float series need after their values are computed.
struct Finish<'a> {
    f: RangeFn,
    keep_name: bool,
    counter_check: bool,
    /// Where annotations about the range argument point.
    counter_pos: &'a str,
}

impl Finish<'_> {
    /// For `rate` and `increase`, the metric name of a series whose name
    /// does not end like a counter's (the info upstream's
    /// `NewPossibleNonCounterInfo` raises).
    fn not_a_counter(&self, labels: &Labels) -> Option<String> {
        if !self.counter_check {
            return None;
        }
        let name = labels.get(NAME)?;
        let counter_like = ["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|x| name.ends_with(x));
        (!counter_like).then(|| name.to_string())
    }
}
