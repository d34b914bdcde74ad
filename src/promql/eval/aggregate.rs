//! Aggregations (`aggregation`, `aggregationK`, `aggregationCountValues`
//! upstream). Sum-like operators consume their input as a stream and keep
//! one accumulator per group and step; `topk`-like operators, `quantile` and
//! `count_values` need the whole input at each step.

use ahash::AHashMap as HashMap;

use super::aggregate_k::KSelect;
use super::hist_agg::HAcc;
use super::labels;
use super::{Ctx, Grid, Result, StepSeries};
use crate::model::Labels;
use crate::promql::error::QueryError;
use crate::promql::functions::{self, kahan};
use crate::promql::plan::{AggOp, Aggregate, Node};

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

    /// [`Acc::add`] for each step's value of one series; `sum` is taken
    /// without matching the operator at every step (the same additions:
    /// a constant-operator call of `add` measured 3-4% slower on
    /// `sum(rate(cpu))`).
    fn add_all(&mut self, op: AggOp, vals: &[Option<f64>]) {
        if op == AggOp::Sum && self.v.len() == vals.len() && self.c.len() == vals.len() {
            let it = vals
                .iter()
                .zip(&mut self.seen)
                .zip(&mut self.count)
                .zip(self.v.iter_mut().zip(&mut self.c));
            for (((val, seen), count), (v, c)) in it {
                let Some(f) = *val else { continue };
                if *seen {
                    *count += 1.0;
                    (*v, *c) = kahan::inc(f, *v, *c);
                } else {
                    *seen = true;
                    *v = f;
                    *count = 1.0;
                }
            }
            return;
        }
        for (i, v) in vals.iter().enumerate() {
            if let Some(f) = *v {
                self.add(op, i, f);
            }
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
            AggOp::Sum => (self.v[i], self.c[i]) = kahan::inc(f, self.v[i], self.c[i]),
            AggOp::Avg => self.add_avg(i, f),
            AggOp::Max if (self.v[i] < f || self.v[i].is_nan()) => {
                self.v[i] = f;
            }
            AggOp::Min if (self.v[i] > f || self.v[i].is_nan()) => {
                self.v[i] = f;
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
            let (nv, nc) = kahan::inc(f, self.v[i], self.c[i]);
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
        (self.mean[i], self.c[i]) = kahan::inc(f / n, q * self.mean[i], q * self.c[i]);
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
            hists: Vec::new(),
        }
    }
}

/// Which group a series belongs to, found without building its group's
/// label set: the labels [`group_labels`] keeps are hashed and compared in
/// place, and a set is built only for a new group.
pub(crate) struct GroupIndex<'a> {
    without: bool,
    grouping: &'a [String],
    hasher: ahash::RandomState,
    /// Hash of a group's labels to the groups with that hash.
    groups: HashMap<u64, Vec<usize>>,
}

impl<'a> GroupIndex<'a> {
    pub(crate) fn new(without: bool, grouping: &'a [String]) -> Self {
        GroupIndex {
            without,
            grouping,
            hasher: ahash::RandomState::new(),
            groups: HashMap::new(),
        }
    }

    /// The labels of `l` that [`group_labels`] keeps, in order.
    fn kept<'l>(
        &self,
        l: &'l Labels,
    ) -> impl Iterator<Item = &'l crate::model::Label> + use<'l, '_> {
        kept_labels(l, self.without, self.grouping)
    }

    /// The group of a series with labels `l` (`labels_of` gives a group's
    /// labels by its number), or the hash to [`GroupIndex::insert`] a new
    /// group under.
    pub(crate) fn find<'g>(
        &self,
        l: &Labels,
        labels_of: impl Fn(usize) -> &'g Labels,
    ) -> std::result::Result<usize, u64> {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        for x in self.kept(l) {
            x.name.hash(&mut h);
            x.value.hash(&mut h);
        }
        let hash = h.finish();
        let found = self.groups.get(&hash).and_then(|gs| {
            gs.iter()
                .copied()
                .find(|&g| labels_of(g).iter().eq(self.kept(l)))
        });
        found.ok_or(hash)
    }

    /// Records group `g` under the hash [`GroupIndex::find`] gave.
    pub(crate) fn insert(&mut self, hash: u64, g: usize) {
        self.groups.entry(hash).or_default().push(g);
    }
}

/// The output labels of a group (`generateGroupingLabels`).
pub(crate) fn group_labels(l: &Labels, without: bool, grouping: &[String]) -> Labels {
    Labels::from_sorted_unchecked(kept_labels(l, without, grouping).cloned().collect())
}

/// The labels of `l` a group keeps, in order: those named in `grouping`,
/// or with `without` all others except the metric name.
fn kept_labels<'l, 'g>(
    l: &'l Labels,
    without: bool,
    grouping: &'g [String],
) -> impl Iterator<Item = &'l crate::model::Label> + use<'l, 'g> {
    l.iter().filter(move |x| {
        if without {
            x.name != labels::NAME && !grouping.iter().any(|g| *g == x.name)
        } else {
            grouping.iter().any(|g| *g == x.name)
        }
    })
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
            let anchor = match &a.param {
                Some(Node::Number(v)) => go_g(*v),
                _ => String::new(),
            };
            for &x in &q {
                if x.is_nan() || !(0.0..=1.0).contains(&x) {
                    let msg = format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        go_g(x)
                    );
                    self.warn_at(msg, &anchor);
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
        let (without, grouping) = (a.without, &a.grouping);
        let mut index = GroupIndex::new(without, grouping);
        let budget = self.budget;
        let mut hgroups: Vec<Option<HAcc>> = Vec::new();
        let mut notes = Vec::new();
        self.stream(&a.expr, grid, &mut |s: StepSeries| {
            let gi = match index.find(&s.labels, |g| &groups[g].labels) {
                Ok(g) => g,
                Err(hash) => {
                    // One slot per step and group, taken before the
                    // accumulator exists.
                    budget.acquire(n)?;
                    let key = group_labels(&s.labels, without, grouping);
                    groups.push(Acc::new(key, n, op));
                    index.insert(hash, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let g = &mut groups[gi];
            g.drop_name |= s.drop_name;
            if op == AggOp::Quantile {
                // `quantile` keeps every input value until the end.
                budget.acquire(s.vals.iter().flatten().count())?;
            }
            g.add_all(op, &s.vals);
            if s.hists.iter().any(Option::is_some) {
                if hgroups.len() <= gi {
                    hgroups.resize_with(gi + 1, || None);
                }
                let name = s.labels.get(labels::NAME).unwrap_or_default();
                for i in 0..s.hists.len() {
                    let Some(h) = s.hist(i) else { continue };
                    match op {
                        AggOp::Count | AggOp::Group => g.add(op, i, 0.0),
                        AggOp::Sum | AggOp::Avg => hgroups[gi]
                            .get_or_insert_with(|| HAcc::new(n, op == AggOp::Avg))
                            .add(i, h, name, &mut notes),
                        AggOp::Min
                        | AggOp::Max
                        | AggOp::Stddev
                        | AggOp::Stdvar
                        | AggOp::Quantile => {
                            let what = format!("{op:?}").to_lowercase();
                            notes.push(super::native::Note::Info(format!(
                                "PromQL info: ignored histogram in {what} aggregation"
                            )));
                        }
                        _ => {
                            return Err(super::select::histograms_unsupported(
                                &format!("aggregation {op:?}").to_lowercase(),
                                &s.labels,
                            ))
                        }
                    }
                }
            }
            Ok(())
        })?;
        budget.release(groups.len() * n);
        if op == AggOp::Quantile {
            budget.release(
                groups
                    .iter()
                    .map(|g| g.values.iter().map(Vec::len).sum::<usize>())
                    .sum(),
            );
        }
        hgroups.resize_with(groups.len(), || None);
        let out: Vec<StepSeries> = groups
            .into_iter()
            .zip(hgroups)
            .map(|(g, h)| {
                let mut s = g.finish(op, &q);
                if let Some(h) = h {
                    h.finish(&mut s, &mut notes);
                }
                s
            })
            .filter(StepSeries::any)
            .collect();
        let anchor = super::native::anchor(&a.expr);
        for note in notes {
            match note {
                super::native::Note::Warn(m) => self.warn_at(m, &anchor),
                super::native::Note::Info(m) => self.info_at(m, &anchor),
            }
        }
        let held = out.iter().map(|s| s.vals.len()).sum();
        self.acquire(held)?;
        Ok(out)
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
            let anchor = match &a.param {
                Some(Node::Number(v)) => go_g(*v),
                _ => String::new(),
            };
            if max > 1.0 {
                let msg = format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to 1",
                    go_g(max)
                );
                self.warn_at(msg, &anchor);
            }
            if min < -1.0 {
                let msg = format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to -1",
                    go_g(min)
                );
                self.warn_at(msg, &anchor);
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
        let n = grid.len();
        let mut k = KSelect::new(a.op, &params, n);
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let (without, grouping) = (a.without, &a.grouping);
        let budget = self.budget;
        // Charged as the selection grows: a step slot per group (its
        // heaps), one per series kept, one per value kept.
        let mut charged = 0usize;
        let mut ignored = false;
        self.stream(&a.expr, grid, &mut |mut s: StepSeries| {
            let limit = matches!(a.op, AggOp::Limitk | AggOp::LimitRatio);
            if !limit && s.hists.iter().any(Option::is_some) {
                // topk and bottomk leave histograms out (`aggregationK`).
                ignored = true;
                s.hists = Vec::new();
                if !s.vals.iter().any(Option::is_some) {
                    return Ok(());
                }
            }
            let key = group_labels(&s.labels, without, grouping);
            let next = index.len();
            let g = *index.entry(key).or_insert(next);
            let grown = k.push(g, s);
            charged += grown;
            budget.acquire(grown)
        })?;
        budget.release(charged);
        if ignored {
            let what = format!("{:?}", a.op).to_lowercase();
            self.info_at(
                format!("PromQL info: ignored histogram in {what} aggregation"),
                &what,
            );
        }
        let out = k.finish();
        self.acquire(out.iter().map(StepSeries::slots).sum())?;
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
        let budget = self.budget;
        self.stream(&a.expr, grid, &mut |s: StepSeries| {
            for i in 0..s.vals.len() {
                let value = match (s.vals[i], s.hist(i)) {
                    (Some(f), _) => crate::promql::format_value(f),
                    (None, Some(h)) => histogram_string(h),
                    (None, None) => continue,
                };
                let with_value = labels::set(&s.labels, &label, &value);
                let key = group_labels(&with_value, without, &grouping);
                let gi = match index.get(&key) {
                    Some(&g) => g,
                    None => {
                        // Every distinct value may start a series over the
                        // whole grid: charged before it is allocated.
                        budget.acquire(n)?;
                        out.push(StepSeries {
                            labels: key.clone(),
                            vals: vec![None; n],
                            drop_name: false,
                            hists: Vec::new(),
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

/// A histogram as `FloatHistogram.String` writes it upstream (the value
/// `count_values` gives a histogram): count, sum, then the non-empty
/// buckets from the most negative up, the zero bucket between the sides.
fn histogram_string(h: &crate::promql::functions::fhist::FHist) -> String {
    use std::fmt::Write;
    let m = h.to_model();
    let mut out = format!("{{count:{}, sum:{}", go_fmt_g(h.count), go_fmt_g(h.sum));
    let mut buckets: Vec<crate::model::histogram::Bucket> = m.side_buckets(false);
    buckets.reverse();
    if h.zero_count != 0.0 {
        buckets.push(crate::model::histogram::Bucket {
            lower: -h.zero_threshold,
            upper: h.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: h.zero_count,
        });
    }
    buckets.extend(m.side_buckets(true));
    for b in buckets.iter().filter(|b| b.count != 0.0) {
        let _ = write!(
            out,
            ", {}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            go_fmt_g(b.lower),
            go_fmt_g(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            go_fmt_g(b.count)
        );
    }
    out.push('}');
    out
}

/// Go's `fmt` `%g` (and `%v`) of a float64: the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6 (`1e+06`).
pub(crate) fn go_fmt_g(f: f64) -> String {
    if !f.is_finite() {
        return go_g(f);
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
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

#[cfg(test)]
mod tests {
    use super::go_fmt_g;

    #[test]
    fn go_fmt_g_switches_to_exponent_form_where_go_does() {
        let cases = [
            (0.0, "0"),
            (20.0, "20"),
            (-0.001, "-0.001"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1.5e21, "1.5e+21"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(go_fmt_g(v), want, "{v}");
        }
    }
}
