//! Aggregations (`aggregation`, `aggregationK`, `aggregationCountValues`
//! upstream). Sum-like operators consume their input as a stream and keep
//! one accumulator per group and step; `topk`-like operators, `quantile` and
//! `count_values` need the whole input at each step.

use std::collections::HashMap;

use super::labels;
use super::{Ctx, Grid, Result, StepSeries};
use crate::model::Labels;
use crate::promql::error::QueryError;
use crate::promql::functions;
use crate::promql::plan::{AggOp, Aggregate, Node};

/// Neumaier-compensated addition (`kahansum.Inc` upstream).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
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

/// Per-group, per-step state of the streaming operators.
struct Acc {
    labels: Labels,
    drop_name: bool,
    seen: Vec<bool>,
    v: Vec<f64>,
    c: Vec<f64>,
    mean: Vec<f64>,
    count: Vec<f64>,
    incr: Vec<bool>,
    /// Values per step, for `quantile`.
    values: Vec<Vec<f64>>,
}

impl Acc {
    fn new(labels: Labels, n: usize, op: AggOp) -> Acc {
        let big = |x: f64| vec![x; n];
        let needs_mean = matches!(op, AggOp::Avg | AggOp::Stddev | AggOp::Stdvar);
        Acc {
            labels,
            drop_name: false,
            seen: vec![false; n],
            v: big(0.0),
            c: if matches!(op, AggOp::Sum | AggOp::Avg) {
                big(0.0)
            } else {
                Vec::new()
            },
            mean: if needs_mean { big(0.0) } else { Vec::new() },
            count: big(0.0),
            incr: if op == AggOp::Avg {
                vec![false; n]
            } else {
                Vec::new()
            },
            values: if op == AggOp::Quantile {
                vec![Vec::new(); n]
            } else {
                Vec::new()
            },
        }
    }

    fn add(&mut self, op: AggOp, i: usize, f: f64) {
        if !self.seen[i] {
            self.seen[i] = true;
            self.v[i] = f;
            self.count[i] = 1.0;
            match op {
                AggOp::Avg => self.mean[i] = f,
                AggOp::Stddev | AggOp::Stdvar => {
                    self.mean[i] = f;
                    self.v[i] = if f.is_finite() { 0.0 } else { f64::NAN };
                }
                AggOp::Group => self.v[i] = 1.0,
                AggOp::Quantile => self.values[i].push(f),
                _ => {}
            }
            return;
        }
        self.count[i] += 1.0;
        match op {
            AggOp::Sum => (self.v[i], self.c[i]) = kahan_inc(f, self.v[i], self.c[i]),
            AggOp::Avg => self.add_avg(i, f),
            AggOp::Max => {
                if self.v[i] < f || self.v[i].is_nan() {
                    self.v[i] = f;
                }
            }
            AggOp::Min => {
                if self.v[i] > f || self.v[i].is_nan() {
                    self.v[i] = f;
                }
            }
            AggOp::Stddev | AggOp::Stdvar => {
                let delta = f - self.mean[i];
                self.mean[i] += delta / self.count[i];
                self.v[i] += delta * (f - self.mean[i]);
            }
            AggOp::Quantile => self.values[i].push(f),
            _ => {}
        }
    }

    /// Direct Kahan mean, switching to an incremental mean on overflow.
    fn add_avg(&mut self, i: usize, f: f64) {
        let n = self.count[i];
        if !self.incr[i] {
            let (nv, nc) = kahan_inc(f, self.v[i], self.c[i]);
            if !nv.is_infinite() {
                self.v[i] = nv;
                self.c[i] = nc;
                return;
            }
            self.incr[i] = true;
            self.mean[i] = self.v[i] / (n - 1.0);
            self.c[i] /= n - 1.0;
        }
        let q = (n - 1.0) / n;
        (self.mean[i], self.c[i]) = kahan_inc(f / n, q * self.mean[i], q * self.c[i]);
    }

    fn finish(mut self, op: AggOp, q: &[f64]) -> StepSeries {
        let vals = (0..self.seen.len())
            .map(|i| {
                if !self.seen[i] {
                    return None;
                }
                let n = self.count[i];
                Some(match op {
                    AggOp::Sum => self.v[i] + self.c[i],
                    AggOp::Avg if self.incr[i] => self.mean[i] + self.c[i],
                    AggOp::Avg => self.v[i] / n + self.c[i] / n,
                    AggOp::Count => n,
                    AggOp::Stdvar => self.v[i] / n,
                    AggOp::Stddev => (self.v[i] / n).sqrt(),
                    AggOp::Quantile => functions::quantile(
                        q.get(i).copied().unwrap_or(f64::NAN),
                        &mut self.values[i],
                    ),
                    _ => self.v[i],
                })
            })
            .collect();
        StepSeries {
            labels: self.labels,
            vals,
            drop_name: self.drop_name,
        }
    }
}

/// The output labels of a group (`generateGroupingLabels`).
pub(crate) fn group_labels(l: &Labels, without: bool, grouping: &[String]) -> Labels {
    if without {
        labels::without(l, grouping, true)
    } else {
        labels::keep(l, grouping)
    }
}

impl Ctx<'_> {
    pub(crate) fn aggregate(&mut self, a: &Aggregate, grid: Grid) -> Result<Vec<StepSeries>> {
        match a.op {
            AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio => {
                self.aggregate_k(a, grid)
            }
            AggOp::CountValues => self.count_values(a, grid),
            _ => self.aggregate_stream(a, grid),
        }
    }

    fn param(&mut self, p: &Option<Node>, grid: Grid) -> Result<Vec<f64>> {
        match p {
            Some(n) => self.scalar(n, grid),
            None => Ok(vec![f64::NAN; grid.len()]),
        }
    }

    fn aggregate_stream(&mut self, a: &Aggregate, grid: Grid) -> Result<Vec<StepSeries>> {
        let q = if a.op == AggOp::Quantile {
            let q = self.param(&a.param, grid)?;
            for &x in &q {
                if x.is_nan() || !(0.0..=1.0).contains(&x) {
                    self.annos.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        go_g(x)
                    ));
                    break;
                }
            }
            q
        } else {
            Vec::new()
        };
        let n = grid.len();
        let op = a.op;
        let mut groups: Vec<Acc> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let (without, grouping) = (a.without, &a.grouping);
        self.stream(&a.expr, grid, &mut |s: StepSeries| {
            let key = group_labels(&s.labels, without, grouping);
            let gi = match index.get(&key) {
                Some(&g) => g,
                None => {
                    groups.push(Acc::new(key.clone(), n, op));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let g = &mut groups[gi];
            g.drop_name |= s.drop_name;
            for (i, v) in s.vals.iter().enumerate() {
                if let Some(f) = *v {
                    g.add(op, i, f);
                }
            }
            Ok(())
        })?;
        let out: Vec<StepSeries> = groups
            .into_iter()
            .map(|g| g.finish(op, &q))
            .filter(|s| s.vals.iter().any(Option::is_some))
            .collect();
        let held = out.iter().map(|s| s.vals.len()).sum();
        self.acquire(held)?;
        Ok(out)
    }

    fn input(&mut self, node: &Node, grid: Grid) -> Result<Vec<StepSeries>> {
        let mut v = Vec::new();
        self.stream(node, grid, &mut |s| {
            v.push(s);
            Ok(())
        })?;
        Ok(v)
    }

    fn aggregate_k(&mut self, a: &Aggregate, grid: Grid) -> Result<Vec<StepSeries>> {
        let params = self.param(&a.param, grid)?;
        let max = params.iter().copied().fold(f64::NEG_INFINITY, go_max);
        let min = params.iter().copied().fold(f64::INFINITY, go_min);
        let any_nan = params.iter().any(|p| p.is_nan());
        if a.op == AggOp::LimitRatio {
            if max == 0.0 && min == 0.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(QueryError::Execution("Ratio value is NaN".into()));
            }
            if max > 1.0 {
                self.annos.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to 1",
                    go_g(max)
                ));
            }
            if min < -1.0 {
                self.annos.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to -1",
                    go_g(min)
                ));
            }
        } else {
            if max < 1.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(QueryError::Execution("Parameter value is NaN".into()));
            }
            if min <= i64::MIN as f64 {
                return Err(QueryError::Execution(format!(
                    "Scalar value {} underflows int64",
                    go_g(min)
                )));
            }
            if max >= i64::MAX as f64 {
                return Err(QueryError::Execution(format!(
                    "Scalar value {} overflows int64",
                    go_g(max)
                )));
            }
        }
        let input = self.input(&a.expr, grid)?;
        let groups: Vec<usize> = {
            let mut index: HashMap<Labels, usize> = HashMap::new();
            input
                .iter()
                .map(|s| {
                    let key = group_labels(&s.labels, a.without, &a.grouping);
                    let n = index.len();
                    *index.entry(key).or_insert(n)
                })
                .collect()
        };
        let ngroups = groups.iter().max().map_or(0, |m| m + 1);
        let ratio_offsets: Vec<f64> = if a.op == AggOp::LimitRatio {
            input.iter().map(|s| ratio_offset(&s.labels)).collect()
        } else {
            Vec::new()
        };
        let n = grid.len();
        let mut out_vals: Vec<Vec<Option<f64>>> = input.iter().map(|_| vec![None; n]).collect();
        let mut order: Vec<usize> = Vec::new();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
        for i in 0..n {
            members.iter_mut().for_each(Vec::clear);
            for (j, s) in input.iter().enumerate() {
                if s.vals[i].is_some() {
                    members[groups[j]].push(j);
                }
            }
            let p = params.get(i).copied().unwrap_or(f64::NAN);
            for m in &mut members {
                let chosen = select_k(a.op, p, m, &input, &ratio_offsets, i);
                for j in chosen {
                    out_vals[j][i] = input[j].vals[i];
                    if n == 1 {
                        order.push(j);
                    }
                }
            }
        }
        let mut out: Vec<StepSeries> = Vec::new();
        let mut input: Vec<Option<StepSeries>> = input.into_iter().map(Some).collect();
        let mut emit = |j: usize, vals: Vec<Option<f64>>, out: &mut Vec<StepSeries>| {
            if let Some(s) = input[j].take() {
                if vals.iter().any(Option::is_some) {
                    out.push(StepSeries {
                        labels: s.labels,
                        vals,
                        drop_name: s.drop_name,
                    });
                }
            }
        };
        if n == 1 {
            for j in order {
                let v = std::mem::take(&mut out_vals[j]);
                emit(j, v, &mut out);
            }
        } else {
            for (j, v) in out_vals.into_iter().enumerate() {
                emit(j, v, &mut out);
            }
        }
        Ok(out)
    }

    fn count_values(&mut self, a: &Aggregate, grid: Grid) -> Result<Vec<StepSeries>> {
        let label = match &a.param {
            Some(Node::Str(s)) => s.clone(),
            _ => {
                return Err(QueryError::BadData(
                    "count_values needs a string label name".into(),
                ))
            }
        };
        if !labels::valid_label_name(&label) {
            return Err(QueryError::Execution(format!(
                "invalid label name {label:?}"
            )));
        }
        let mut grouping = a.grouping.clone();
        if !a.without {
            grouping.push(label.clone());
        }
        let n = grid.len();
        let mut out: Vec<StepSeries> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let without = a.without;
        self.stream(&a.expr, grid, &mut |s: StepSeries| {
            for (i, v) in s.vals.iter().enumerate() {
                let Some(f) = *v else { continue };
                let with_value = labels::set(&s.labels, &label, &format_value(f));
                let key = group_labels(&with_value, without, &grouping);
                let gi = match index.get(&key) {
                    Some(&g) => g,
                    None => {
                        out.push(StepSeries {
                            labels: key.clone(),
                            vals: vec![None; n],
                            drop_name: false,
                        });
                        index.insert(key, out.len() - 1);
                        out.len() - 1
                    }
                };
                let slot = &mut out[gi].vals[i];
                *slot = Some(slot.unwrap_or(0.0) + 1.0);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Picks the members of one group that an order-based aggregation keeps at a step.
fn select_k(
    op: AggOp,
    p: f64,
    members: &[usize],
    input: &[StepSeries],
    offsets: &[f64],
    i: usize,
) -> Vec<usize> {
    if members.is_empty() {
        return Vec::new();
    }
    let val = |j: usize| input[j].vals[i].unwrap_or(f64::NAN);
    match op {
        AggOp::LimitRatio => {
            let r = p.clamp(-1.0, 1.0);
            if r == 0.0 {
                return Vec::new();
            }
            members
                .iter()
                .copied()
                .filter(|&j| {
                    let o = offsets[j];
                    (r >= 0.0 && o < r) || (r < 0.0 && o >= 1.0 + r)
                })
                .collect()
        }
        _ => {
            let k = (p as i64).min(input.len() as i64);
            if k < 1 {
                return Vec::new();
            }
            let k = k as usize;
            if op == AggOp::Limitk {
                return members.iter().copied().take(k).collect();
            }
            let mut m: Vec<usize> = members.to_vec();
            let desc = op == AggOp::Topk;
            // Stable sort: earlier series win ties, as with upstream's heap.
            m.sort_by(|&a, &b| {
                let (x, y) = (val(a), val(b));
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
            m.truncate(k);
            m
        }
    }
}

/// `HashRatioSampler.SampleOffset`: the label set's xxhash over `u64::MAX`.
fn ratio_offset(l: &Labels) -> f64 {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash64::with_seed(0);
    for lb in l.iter() {
        h.write(lb.name.as_bytes());
        h.write(&[0xff]);
        h.write(lb.value.as_bytes());
        h.write(&[0xff]);
    }
    h.finish() as f64 / u64::MAX as f64
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_value(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Go's `%g` for the numbers that appear in messages.
pub(crate) fn go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if !(-4..21).contains(&exp) {
        let s = format!("{f:e}");
        // Rust prints 1e21; Go prints 1e+21.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        };
    }
    format!("{f}")
}

/// `math.Max` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// `math.Min` (NaN wins).
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}
