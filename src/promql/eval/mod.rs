//! The evaluator. Every node is evaluated over all steps of its grid at
//! once: a vector is a list of series, each with one optional value per
//! step. Series-wise nodes (selectors, range functions, element-wise
//! functions, vector-scalar arithmetic) stream their series one at a time
//! into the parent, so `sum(rate(x[5m]))` never holds more than one input
//! series' samples plus the aggregation's accumulators.

mod aggregate;
mod aggregate_k;
mod binary;
mod call;
mod hist_agg;
mod hist_binop;
mod hist_ext;
mod hist_fns;
mod histogram;
mod info;
mod labels;
mod native;
mod range_ext;
mod range_float;
mod select;
mod select_hist;

use std::time::Instant;

use super::error::{Annotations, QueryError};
use super::functions::fhist::FHist;
use super::plan::Node;
use super::value::{InstantSample, QueryOutput, RangeSeries, Value};
use super::{EngineConfig, TenantScope};
use crate::model::Sample;
use crate::model::{HistogramSample, Labels};

pub(crate) type Result<T> = std::result::Result<T, QueryError>;

/// Evaluation times: `start, start+step, ..., end` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    /// Steps in the grid. Every grid the evaluator builds went through
    /// [`Grid::checked_len`] and [`Budget::check_grid`] first.
    pub(crate) fn len(&self) -> usize {
        self.checked_len().unwrap_or(0)
    }

    /// Steps in the grid, or `None` if the count does not fit a `usize`.
    pub(crate) fn checked_len(&self) -> Option<usize> {
        if self.end < self.start || self.step <= 0 {
            return Some(0);
        }
        let span = self.end.checked_sub(self.start)?;
        usize::try_from(span / self.step).ok()?.checked_add(1)
    }

    pub(crate) fn ts(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }
}

/// One series over the grid.
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub vals: Vec<Option<f64>>,
    /// The metric name goes at the end of evaluation (delayed removal).
    pub drop_name: bool,
    /// Native histograms per step, empty when the series has none; a step
    /// holds a float or a histogram, never both.
    pub hists: Vec<Option<Box<FHist>>>,
}

impl StepSeries {
    /// A series of floats only.
    pub(crate) fn floats(labels: Labels, vals: Vec<Option<f64>>, drop_name: bool) -> StepSeries {
        StepSeries {
            labels,
            vals,
            drop_name,
            hists: Vec::new(),
        }
    }

    /// Whether step `i` holds a float or a histogram.
    pub(crate) fn has(&self, i: usize) -> bool {
        self.vals[i].is_some() || self.hist(i).is_some()
    }

    /// The histogram at step `i`, if any.
    pub(crate) fn hist(&self, i: usize) -> Option<&FHist> {
        self.hists.get(i).and_then(|h| h.as_deref())
    }

    /// Whether any step holds a value of either kind.
    pub(crate) fn any(&self) -> bool {
        self.vals.iter().any(Option::is_some) || self.hists.iter().any(Option::is_some)
    }

    /// What the series costs against the sample budget: one per step of
    /// its grid, present or not, since that is what it allocates.
    pub(crate) fn slots(&self) -> usize {
        self.vals.len()
    }
}

/// The query's sample budget (`query.max-samples`): every sample, step slot
/// or accumulator the evaluation allocates is taken from it before it is
/// allocated and given back when freed. Interior-mutable so that streaming
/// sinks can charge it while the evaluator itself is borrowed.
pub(crate) struct Budget {
    held: std::cell::Cell<usize>,
    max: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Budget {
        Budget {
            held: std::cell::Cell::new(0),
            max,
        }
    }

    /// Takes `n` from the budget, or fails with Prometheus's
    /// "too many samples" error if that would exceed it.
    pub(crate) fn acquire(&self, n: usize) -> Result<()> {
        let held = self.held.get().saturating_add(n);
        self.held.set(held);
        if held > self.max {
            return Err(QueryError::TooManySamples(self.max));
        }
        Ok(())
    }

    /// Gives `n` back.
    pub(crate) fn release(&self, n: usize) {
        self.held.set(self.held.get().saturating_sub(n));
    }

    /// Refuses a grid of `steps` steps before anything of its length is
    /// allocated: even one series over it would not fit in the budget.
    pub(crate) fn check_grid(&self, steps: Option<usize>) -> Result<usize> {
        match steps {
            Some(n) if n <= self.max => Ok(n),
            _ => Err(QueryError::TooManySamples(self.max)),
        }
    }
}

/// A histogram at a time, inside the evaluator.
#[derive(Debug, Clone)]
pub(crate) struct HPoint {
    pub t: i64,
    pub h: FHist,
    /// Start (created) timestamp, 0 for none; set only for range
    /// selectors read for a function that uses start timestamps.
    pub st: i64,
}

/// A raw series of samples (a range selector or subquery result).
#[derive(Debug, Clone)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub samples: Vec<crate::model::Sample>,
    /// Native histograms, in time order, without stale markers.
    pub hists: Vec<HPoint>,
    /// Start timestamps, one per sample (0: none); only for range
    /// selectors read for a function that uses them, and only when some
    /// sample has one. Subqueries never carry them, as upstream.
    pub sts: Option<Vec<i64>>,
    pub drop_name: bool,
}

/// A node's value over the grid.
#[derive(Debug)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<StepSeries>),
    /// Only an instant query of a range selector/subquery returns this.
    Matrix(Vec<RawSeries>),
}

/// Evaluation state for one query.
pub(crate) struct Ctx<'a> {
    pub scope: &'a TenantScope<'a>,
    pub cfg: &'a EngineConfig,
    /// Set from outside to stop the query (client gone).
    pub cancel: &'a super::Cancel,
    pub annos: Annotations,
    /// Samples and step slots held right now (selector buffers,
    /// materialised vectors, accumulators).
    pub budget: &'a Budget,
    pub deadline: Instant,
    /// The query text, to give annotations a `(line:col)` position.
    pub query: &'a str,
    /// The query's own bounds and step (ms), for `start()`, `end()`,
    /// `range()` and `step()`; the step is 0 for instant queries.
    pub query_start: i64,
    pub query_end: i64,
    pub query_step: i64,
    /// The first construct of the query that cannot take native
    /// histograms (`native::blocker`); `None` when every node on the way
    /// from a selector to the result handles them. A selector that meets
    /// a histogram while this is set fails the query as unsupported.
    pub hist_blocker: Option<String>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        scope: &'a TenantScope<'a>,
        cfg: &'a EngineConfig,
        cancel: &'a super::Cancel,
        budget: &'a Budget,
        query: &'a str,
        bounds: (i64, i64, i64),
    ) -> Ctx<'a> {
        Ctx {
            scope,
            cfg,
            cancel,
            budget,
            annos: Annotations::default(),
            deadline: Instant::now() + cfg.timeout,
            query,
            query_start: bounds.0,
            query_end: bounds.1,
            query_step: bounds.2,
            hist_blocker: None,
        }
    }

    /// `(line:col)` of the first occurrence of `anchor` in the query.
    fn position(&self, anchor: &str) -> String {
        let at = if anchor.is_empty() {
            0
        } else {
            self.query.find(anchor).unwrap_or(0)
        };
        let before = &self.query[..at];
        let line = before.matches('\n').count() + 1;
        let col = at - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        format!("({line}:{col})")
    }

    /// Adds a warning positioned at `anchor`.
    pub(crate) fn warn_at(&mut self, msg: String, anchor: &str) {
        let p = self.position(anchor);
        self.annos.warn(format!("{msg} {p}"));
    }

    /// Adds an info positioned at `anchor`.
    pub(crate) fn info_at(&mut self, msg: String, anchor: &str) {
        let p = self.position(anchor);
        self.annos.info(format!("{msg} {p}"));
    }

    /// The text to look for when positioning an annotation about argument `i`.
    pub(crate) fn pos_of_arg(&self, c: &super::plan::Call, i: usize) -> String {
        match c.args.get(i) {
            Some(Node::Vector(s)) | Some(Node::Matrix(s, _)) => {
                s.name.clone().unwrap_or_else(|| s.text.clone())
            }
            Some(Node::Number(v)) => format!("{v}"),
            _ => c.name.to_string(),
        }
    }

    /// Fails once the query is past its deadline or was cancelled.
    pub(crate) fn check_time(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(QueryError::Canceled);
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    /// Takes `n` samples from the budget.
    pub(crate) fn acquire(&mut self, n: usize) -> Result<()> {
        self.budget.acquire(n)
    }

    /// Gives `n` samples back.
    pub(crate) fn release(&mut self, n: usize) {
        self.budget.release(n)
    }

    /// Evaluates `node` over `grid`, materialising vectors.
    pub(crate) fn eval(&mut self, node: &Node, grid: Grid) -> Result<Val> {
        self.check_time()?;
        match node {
            Node::Number(v) => Ok(Val::Scalar(vec![*v; grid.len()])),
            Node::Str(s) => Ok(Val::Str(s.clone())),
            Node::Matrix(sel, range) => Ok(Val::Matrix(self.matrix_at(sel, *range, grid)?)),
            Node::Subquery(sq) => Ok(Val::Matrix(self.subquery_raw(sq, grid)?)),
            Node::Binary(b) => self.binary(b, grid),
            Node::Aggregate(a) => Ok(Val::Vector(self.aggregate(a, grid)?)),
            Node::Call(c) if !call::is_streamable(c) => self.call(c, grid),
            Node::Neg(inner) if !returns_vector(inner) => match self.eval(inner, grid)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                other => Ok(other),
            },
            _ => {
                let mut out = Vec::new();
                let budget = self.budget;
                self.stream(node, grid, &mut |s: StepSeries| {
                    budget.acquire(s.slots())?;
                    out.push(s);
                    Ok(())
                })?;
                Ok(Val::Vector(out))
            }
        }
    }

    /// Evaluates a vector-valued `node`, handing each series to `sink`.
    pub(crate) fn stream(
        &mut self,
        node: &Node,
        grid: Grid,
        sink: &mut dyn FnMut(StepSeries) -> Result<()>,
    ) -> Result<()> {
        match node {
            Node::Vector(sel) => self.vector_selector(sel, grid, select::Pick::Value, sink),
            Node::Call(c) if call::is_streamable(c) => self.call_stream(c, grid, sink),
            Node::Neg(inner) => self.stream(inner, grid, &mut |mut s: StepSeries| {
                for v in s.vals.iter_mut().flatten() {
                    *v = -*v;
                }
                for h in s.hists.iter_mut().flatten() {
                    h.mul(-1.0);
                }
                s.drop_name = true;
                sink(s)
            }),
            _ => match self.eval(node, grid)? {
                Val::Vector(v) => {
                    let held: usize = v.iter().map(StepSeries::slots).sum();
                    for s in v {
                        sink(s)?;
                    }
                    self.release(held);
                    Ok(())
                }
                _ => Err(QueryError::Execution(
                    "expected an instant vector expression".into(),
                )),
            },
        }
    }

    /// Evaluates a scalar-valued node (a parameter), one value per step.
    pub(crate) fn scalar(&mut self, node: &Node, grid: Grid) -> Result<Vec<f64>> {
        match self.eval(node, grid)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(QueryError::Execution("expected a scalar expression".into())),
        }
    }
}

/// Whether a node yields an instant vector (as opposed to scalar/string/matrix).
pub(crate) fn returns_vector(node: &Node) -> bool {
    match node {
        Node::Number(_) | Node::Str(_) | Node::Matrix(..) | Node::Subquery(_) => false,
        Node::Vector(_) | Node::Aggregate(_) => true,
        Node::Neg(n) => returns_vector(n),
        Node::Binary(b) => returns_vector(&b.lhs) || returns_vector(&b.rhs),
        Node::Call(c) => call::returns_vector(c),
    }
}

/// Evaluates a planned query and shapes the result for the API.
pub(crate) fn run(
    scope: &TenantScope<'_>,
    cfg: &EngineConfig,
    cancel: &super::Cancel,
    node: &Node,
    grid: Grid,
    query: &str,
    range: bool,
) -> Result<QueryOutput> {
    let step = if range { grid.step } else { 0 };
    let budget = Budget::new(cfg.max_samples);
    budget.check_grid(grid.checked_len())?;
    let mut ctx = Ctx::new(
        scope,
        cfg,
        cancel,
        &budget,
        query,
        (grid.start, grid.end, step),
    );
    ctx.hist_blocker = native::blocker(node, range);
    let val = ctx.eval(node, grid)?;
    let value = if range {
        range_value(val, grid)?
    } else {
        instant_value(val, grid.start)?
    };
    Ok(QueryOutput {
        value,
        annotations: ctx.annos,
    })
}

fn instant_value(val: Val, t: i64) -> Result<Value> {
    Ok(match val {
        Val::Scalar(v) => Value::Scalar {
            t,
            v: v.first().copied().unwrap_or(f64::NAN),
        },
        Val::Str(s) => Value::String { t, v: s },
        Val::Vector(series) => {
            let out: Vec<InstantSample> = labels::finish_labels(series)?
                .into_iter()
                .filter_map(|s| {
                    let histogram = s.hist(0).map(FHist::to_model);
                    let v = s.vals.first().copied().flatten();
                    (v.is_some() || histogram.is_some()).then(|| InstantSample {
                        labels: s.labels,
                        t,
                        v: v.unwrap_or(0.0),
                        histogram,
                    })
                })
                .collect();
            Value::Vector(out)
        }
        Val::Matrix(raw) => {
            let mut out: Vec<RangeSeries> = raw
                .into_iter()
                .map(|r| RangeSeries {
                    labels: if r.drop_name {
                        labels::drop_metric_name(&r.labels)
                    } else {
                        r.labels
                    },
                    samples: r.samples,
                    histograms: r
                        .hists
                        .iter()
                        .map(|p| HistogramSample {
                            t: p.t,
                            h: p.h.to_model(),
                        })
                        .collect(),
                })
                .collect();
            Labels::sort_items(&mut out, |x| &x.labels);
            if out.windows(2).any(|w| w[0].labels == w[1].labels) {
                return Err(labels::same_labelset());
            }
            Value::Matrix(out)
        }
    })
}

fn range_value(val: Val, grid: Grid) -> Result<Value> {
    let series = match val {
        Val::Scalar(v) => vec![StepSeries::floats(
            Labels::default(),
            v.into_iter().map(Some).collect(),
            false,
        )],
        Val::Vector(v) => labels::finish_labels(v)?,
        Val::Str(_) => {
            return Err(QueryError::BadData(
                "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
            ))
        }
        Val::Matrix(_) => {
            return Err(QueryError::BadData(
                "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
            ))
        }
    };
    let mut out: Vec<RangeSeries> = series
        .into_iter()
        .filter_map(|s| {
            let samples: Vec<Sample> = s
                .vals
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| Sample::new(grid.ts(i), v)))
                .collect();
            let histograms: Vec<HistogramSample> = s
                .hists
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    h.as_ref().map(|h| HistogramSample {
                        t: grid.ts(i),
                        h: h.to_model(),
                    })
                })
                .collect();
            (!samples.is_empty() || !histograms.is_empty()).then_some(RangeSeries {
                labels: s.labels,
                samples,
                histograms,
            })
        })
        .collect();
    Labels::sort_items(&mut out, |x| &x.labels);
    Ok(Value::Matrix(out))
}
