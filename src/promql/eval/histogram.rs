//! `histogram_quantile` over classic `le` buckets (`funcHistogramQuantile`
//! and `resetHistograms` upstream). Series are grouped by their labels
//! without `le`; each group and step gives one quantile.

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::labels::{self, NAME};
use super::{Ctx, Grid, Result, StepSeries};
use crate::model::Labels;
use crate::promql::error::QueryError;
use crate::promql::functions::{self, hist_stats, Bucket};
use crate::promql::plan::{Call, Node};

/// Classic histograms of an input vector: per group (labels without `le`)
/// the bounds and the input series holding each bucket.
struct Groups {
    groups: Vec<(Labels, Vec<(f64, usize)>)>,
    input: Vec<StepSeries>,
}

impl Groups {
    /// Whether group `g` has a bucket at step `i`.
    fn any_bucket(&self, g: usize, i: usize) -> bool {
        self.groups[g]
            .1
            .iter()
            .any(|&(_, j)| self.input[j].vals[i].is_some())
    }

    /// Buckets of group `g` at step `i`, into `out` (cleared first): one
    /// buffer serves every group and step.
    fn buckets_into(&self, g: usize, i: usize, out: &mut Vec<Bucket>) {
        out.clear();
        out.extend(
            self.groups[g].1.iter().filter_map(|&(upper, j)| {
                self.input[j].vals[i].map(|count| Bucket { upper, count })
            }),
        );
    }
}

/// What to compute from each group's buckets.
enum Want<'q> {
    Quantile(&'q [f64]),
    Quantiles(&'q str, Vec<(f64, String)>),
    Fraction(&'q [f64], &'q [f64]),
}

impl Ctx<'_> {
    /// Groups the input's series into classic histograms (`resetHistograms`
    /// upstream); a series without a parseable `le` is warned about and left out.
    fn classic_groups(&mut self, input: Vec<StepSeries>, anchor: &str) -> Groups {
        let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for (j, s) in input.iter().enumerate() {
            let le = s.labels.get("le").unwrap_or("");
            let Some(upper) = parse_go_float(le) else {
                let name = s.labels.get(NAME).unwrap_or("");
                let mut msg = format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?}"
                );
                if !name.is_empty() {
                    msg.push_str(&format!(" for metric name {name:?}"));
                }
                self.warn_at(msg, anchor);
                continue;
            };
            let key = labels::without(&s.labels, &["le".to_string()], false);
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push((upper, j));
        }
        // In bound order once, so that each step's buckets arrive sorted
        // (a stable sort: equal bounds keep the input's order, as the
        // per-step sort of a few buckets does).
        for (_, b) in &mut groups {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
        }
        Groups { groups, input }
    }

    fn warn_quantile(&mut self, q: &[f64], anchor: &str) {
        if let Some(x) = q.iter().find(|x| x.is_nan() || !(0.0..=1.0).contains(*x)) {
            let msg = format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                super::aggregate::go_g(*x)
            );
            self.warn_at(msg, anchor);
        }
    }

    /// `histogram_quantile(q, v)`.
    pub(crate) fn histogram_quantile(&mut self, c: &Call, grid: Grid) -> Result<Vec<StepSeries>> {
        let q = self.scalar(self.arg_node(c, 0)?, grid)?;
        let anchor = self.pos_of_arg(c, 0);
        self.warn_quantile(&q, &anchor);
        let input = self.vector_arg(c, 1, grid)?;
        self.release_vector(&input);
        self.classic(c, 1, input, grid, Want::Quantile(&q))
    }

    /// `histogram_quantiles(v, "label", q1, q2, ...)`: one output per quantile,
    /// labelled with it.
    pub(crate) fn histogram_quantiles(&mut self, c: &Call, grid: Grid) -> Result<Vec<StepSeries>> {
        let label = match c.args.get(1) {
            Some(Node::Str(s)) => s.clone(),
            _ => {
                return Err(QueryError::BadData(
                    "histogram_quantiles needs a label name".into(),
                ))
            }
        };
        let mut qs = Vec::new();
        for k in 2..c.args.len() {
            let v = self.scalar(&c.args[k], grid)?;
            let anchor = self.pos_of_arg(c, k);
            self.warn_quantile(&v, &anchor);
            let q = v.first().copied().unwrap_or(f64::NAN);
            qs.push((q, openmetrics_float(q)));
        }
        let input = self.vector_arg(c, 0, grid)?;
        self.release_vector(&input);
        let out = self.classic(c, 0, input, grid, Want::Quantiles(&label, qs))?;
        labels::merge_same(out)
    }

    /// `histogram_fraction(lower, upper, v)` over classic buckets.
    pub(crate) fn histogram_fraction(&mut self, c: &Call, grid: Grid) -> Result<Vec<StepSeries>> {
        let lo = self.scalar(self.arg_node(c, 0)?, grid)?;
        let hi = self.scalar(self.arg_node(c, 1)?, grid)?;
        let input = self.vector_arg(c, 2, grid)?;
        self.release_vector(&input);
        self.classic(c, 2, input, grid, Want::Fraction(&lo, &hi))
    }

    fn arg_node<'c>(&self, c: &'c Call, i: usize) -> Result<&'c Node> {
        c.args
            .get(i)
            .ok_or_else(|| QueryError::BadData(format!("missing argument {} to {}", i + 1, c.name)))
    }

    fn classic(
        &mut self,
        c: &Call,
        arg: usize,
        input: Vec<StepSeries>,
        grid: Grid,
        want: Want<'_>,
    ) -> Result<Vec<StepSeries>> {
        let anchor = self.pos_of_arg(c, arg);
        let n = grid.len();
        let (natives, input) = split_native(input, n);
        let g = self.classic_groups(input, &anchor);
        let (natives, blocked) = self.drop_mixed(natives, &g, &anchor);
        let mut out = self.native_outputs(natives, &want, &anchor)?;
        let mut buckets = Vec::new();
        for gi in 0..g.groups.len() {
            let key = &g.groups[gi].0;
            let outputs: Vec<(Labels, Option<f64>)> = match &want {
                Want::Quantile(_) | Want::Fraction(..) => vec![(key.clone(), None)],
                Want::Quantiles(label, qs) => qs
                    .iter()
                    .map(|(q, text)| (labels::set(key, label, text), Some(*q)))
                    .collect(),
            };
            for (labels, fixed_q) in outputs {
                self.acquire(n)?;
                let mut vals = vec![None; n];
                for (i, slot) in vals.iter_mut().enumerate() {
                    g.buckets_into(gi, i, &mut buckets);
                    if buckets.is_empty() || blocked.contains(&(gi, i)) {
                        continue;
                    }
                    *slot = Some(match &want {
                        Want::Fraction(lo, hi) => functions::bucket_fraction(
                            lo.get(i).copied().unwrap_or(f64::NAN),
                            hi.get(i).copied().unwrap_or(f64::NAN),
                            &mut buckets,
                        ),
                        Want::Quantile(q) => {
                            let qi = q.get(i).copied().unwrap_or(f64::NAN);
                            self.quantile_of(qi, &mut buckets, key, &anchor)
                        }
                        Want::Quantiles(..) => {
                            let qi = fixed_q.unwrap_or(f64::NAN);
                            self.quantile_of(qi, &mut buckets, key, &anchor)
                        }
                    });
                }
                if vals.iter().any(Option::is_some) {
                    out.push(StepSeries {
                        labels,
                        vals,
                        drop_name: true,
                        hists: Vec::new(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn quantile_of(&mut self, q: f64, buckets: &mut [Bucket], key: &Labels, anchor: &str) -> f64 {
        let r = functions::bucket_quantile(q, buckets);
        if r.forced_monotonicity {
            let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
            if let Some(name) = key.get(NAME) {
                msg.push_str(&format!(" for metric name {name:?}"));
            }
            self.info_at(msg, anchor);
        }
        r.value
    }
}

/// Splits the series holding native histograms off an input: they go
/// their own way, their float steps (if any) stay with the classic input.
fn split_native(input: Vec<StepSeries>, n: usize) -> (Vec<StepSeries>, Vec<StepSeries>) {
    let mut natives = Vec::new();
    let mut floats = Vec::new();
    for mut s in input {
        if !s.hists.iter().any(Option::is_some) {
            floats.push(s);
            continue;
        }
        let hists = std::mem::take(&mut s.hists);
        natives.push(StepSeries {
            labels: s.labels.clone(),
            vals: vec![None; n],
            drop_name: s.drop_name,
            hists,
        });
        if s.vals.iter().any(Option::is_some) {
            floats.push(s);
        }
    }
    (natives, floats)
}

impl Ctx<'_> {
    /// Where a native histogram and classic buckets with the same labels
    /// meet at a step, neither is evaluated (`resetHistograms` upstream):
    /// the histograms are cleared and the classic (group, step) pairs
    /// returned.
    fn drop_mixed(
        &mut self,
        mut natives: Vec<StepSeries>,
        g: &Groups,
        anchor: &str,
    ) -> (Vec<StepSeries>, HashSet<(usize, usize)>) {
        let mut blocked = HashSet::new();
        for ns in &mut natives {
            let Some(gi) = g.groups.iter().position(|(k, _)| *k == ns.labels) else {
                continue;
            };
            for i in 0..ns.hists.len() {
                if ns.hists[i].is_some() && g.any_bucket(gi, i) {
                    ns.hists[i] = None;
                    blocked.insert((gi, i));
                    let name = ns.labels.get(NAME).unwrap_or("");
                    let mut msg =
                        "PromQL warning: vector contains a mix of classic and native histograms"
                            .to_string();
                    if !name.is_empty() {
                        msg.push_str(&format!(" for metric name {name:?}"));
                    }
                    self.warn_at(msg, anchor);
                }
            }
        }
        (natives, blocked)
    }

    /// The results for native histograms (`HistogramQuantile`,
    /// `HistogramFraction` upstream), one series per input series (and
    /// quantile, for `histogram_quantiles`).
    fn native_outputs(
        &mut self,
        natives: Vec<StepSeries>,
        want: &Want<'_>,
        anchor: &str,
    ) -> Result<Vec<StepSeries>> {
        let mut out = Vec::new();
        for ns in natives {
            let name = ns.labels.get(NAME).unwrap_or("").to_string();
            let outputs: Vec<(Labels, Option<f64>)> = match want {
                Want::Quantile(_) | Want::Fraction(..) => vec![(ns.labels.clone(), None)],
                Want::Quantiles(label, qs) => qs
                    .iter()
                    .map(|(q, text)| (labels::set(&ns.labels, label, text), Some(*q)))
                    .collect(),
            };
            for (labels, fixed_q) in outputs {
                let n = ns.hists.len();
                self.acquire(n)?;
                let mut vals = vec![None; n];
                let (mut nan_result, mut nan_skew) = (false, false);
                for (i, slot) in vals.iter_mut().enumerate() {
                    let Some(h) = ns.hist(i) else { continue };
                    let at = |v: &[f64]| v.get(i).copied().unwrap_or(f64::NAN);
                    let r = match want {
                        Want::Fraction(lo, hi) => hist_stats::fraction(at(lo), at(hi), h),
                        Want::Quantile(q) => hist_stats::quantile(at(q), h),
                        Want::Quantiles(..) => hist_stats::quantile(fixed_q.unwrap_or(f64::NAN), h),
                    };
                    nan_result |= r.nan_result;
                    nan_skew |= r.nan_skew;
                    *slot = Some(r.value);
                }
                let what = match want {
                    Want::Fraction(..) => None,
                    _ => Some("histogram_quantile"),
                };
                let with_name = |m: String| {
                    if name.is_empty() {
                        m
                    } else {
                        format!("{m} for metric name {name:?}")
                    }
                };
                if nan_result {
                    let m = format!(
                        "PromQL info: input to {} has NaN observations, result is NaN",
                        what.unwrap_or("histogram_quantile")
                    );
                    self.info_at(with_name(m), anchor);
                }
                if nan_skew {
                    let m = match what {
                        Some(f) => format!("PromQL info: input to {f} has NaN observations, result is skewed higher"),
                        None => "PromQL info: input to histogram_fraction has NaN observations, which are excluded from all fractions".to_string(),
                    };
                    self.info_at(with_name(m), anchor);
                }
                if vals.iter().any(Option::is_some) {
                    out.push(StepSeries::floats(labels, vals, true));
                } else {
                    self.release(n);
                }
            }
        }
        Ok(out)
    }
}

/// `labels.FormatOpenMetricsFloat`: like Go's shortest form, but whole
/// numbers keep a `.0` ("1.0").
fn openmetrics_float(f: f64) -> String {
    let s = crate::promql::format_value(f);
    if f.is_finite() && !s.contains(['.', 'e', 'E']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// `strconv.ParseFloat(s, 64)` for bucket bounds: decimal, exponent, hex,
/// `Inf`/`+Inf`/`-Inf`/`NaN` in any case; anything else is malformed.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    let neg = s.starts_with('-');
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ if lower.starts_with("0x") => {
            let (mant, exp) = match lower[2..].split_once('p') {
                Some((m, e)) => (m, e.parse::<i32>().ok()?),
                None => (&lower[2..], 0),
            };
            let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
            let mut v = 0f64;
            for ch in ip.chars() {
                v = v * 16.0 + ch.to_digit(16)? as f64;
            }
            let mut scale = 1.0 / 16.0;
            for ch in fp.chars() {
                v += ch.to_digit(16)? as f64 * scale;
                scale /= 16.0;
            }
            v * 2f64.powi(exp)
        }
        _ if !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_')) =>
        {
            t.replace('_', "").parse::<f64>().ok()?
        }
        _ => return None,
    };
    if s.len() - t.len() > 1 {
        return None;
    }
    Some(if neg { -v } else { v })
}
