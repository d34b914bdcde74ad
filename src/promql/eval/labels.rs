//! Label-set edits the evaluator needs (`labels.Builder` upstream), and the
//! final clean-up of a result (`cleanupMetricLabels`).

use ahash::AHashMap as HashMap;

use super::{Result, StepSeries};
use crate::model::{Label, Labels};
use crate::promql::error::QueryError;

pub(crate) const NAME: &str = "__name__";

/// `labels` without the names in `drop` (and without `__name__` when `drop_name`).
pub(crate) fn without(labels: &Labels, drop: &[String], drop_name: bool) -> Labels {
    let v: Vec<Label> = labels
        .iter()
        .filter(|l| !(drop_name && l.name == NAME) && !drop.iter().any(|d| *d == l.name))
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(v)
}

/// Only the labels named in `keep`.
pub(crate) fn keep(labels: &Labels, keep: &[String]) -> Labels {
    let v: Vec<Label> = labels
        .iter()
        .filter(|l| keep.iter().any(|k| *k == l.name))
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(v)
}

/// `labels` with `name` set to `value` (removed when `value` is empty).
pub(crate) fn set(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut v: Vec<Label> = labels.iter().filter(|l| l.name != name).cloned().collect();
    if !value.is_empty() {
        let pos = v.partition_point(|l| l.name.as_str() < name);
        v.insert(
            pos,
            Label {
                name: name.into(),
                value: value.into(),
            },
        );
    }
    Labels::from_sorted_unchecked(v)
}

/// The metadata labels that go with the metric name (`schema.IsMetadataLabel`).
const METADATA: [&str; 3] = [NAME, "__type__", "__unit__"];

/// `labels` without the metric name and its type/unit metadata labels
/// (`DropReserved(schema.IsMetadataLabel)` upstream).
pub(crate) fn drop_metric_name(labels: &Labels) -> Labels {
    if !labels.iter().any(|l| METADATA.contains(&l.name.as_str())) {
        return labels.clone();
    }
    let v: Vec<Label> = labels
        .iter()
        .filter(|l| !METADATA.contains(&l.name.as_str()))
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(v)
}

/// Prometheus's `labels.String()`: `{a="b", c="d"}`.
pub(crate) fn format(labels: &Labels) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&l.name);
        s.push('=');
        s.push_str(&format!("{:?}", l.value));
    }
    s.push('}');
    s
}

/// Drops names marked for removal and merges series that now share a label
/// set; two values at one step is "vector cannot contain metrics with the
/// same labelset" (`cleanupMetricLabels`, `mergeSeriesWithSameLabelset`).
pub(crate) fn finish_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    for mut s in series {
        if s.drop_name {
            s.labels = drop_metric_name(&s.labels);
            s.drop_name = false;
        }
        match index.get(&s.labels) {
            Some(&i) => merge_into(&mut out[i], s)?,
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Merges `from` into `into` step by step; a clash is an error.
pub(crate) fn merge_into(into: &mut StepSeries, from: StepSeries) -> Result<()> {
    let n = into.vals.len();
    let mut from_hists = from.hists.into_iter();
    for (i, b) in from.vals.into_iter().enumerate() {
        let h = from_hists.next().flatten();
        if b.is_none() && h.is_none() {
            continue;
        }
        if into.has(i) {
            return Err(same_labelset());
        }
        into.vals[i] = b;
        if let Some(h) = h {
            if into.hists.is_empty() {
                into.hists = vec![None; n];
            }
            into.hists[i] = Some(h);
        }
    }
    Ok(())
}

pub(crate) fn same_labelset() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Merges series with identical labels (and name flag) produced by one
/// node, failing on a clash at a step (`rangeEval`'s duplicate check).
pub(crate) fn merge_same(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    if series.len() < 2 {
        return Ok(series);
    }
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                let dn = s.drop_name;
                merge_into(&mut out[i], s)?;
                out[i].drop_name |= dn;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Whether `name` is a valid label name (legacy charset, or any UTF-8 as
/// Prometheus 3 allows, minus the empty name).
pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && std::str::from_utf8(name.as_bytes()).is_ok()
}

/// Natural ordering of two strings: digit runs compare numerically
/// (`natsort.Compare` used by `sort_by_label`).
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = trim_zeros(dx);
                let ty = trim_zeros(dy);
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|c| **c == b'0').count();
    &d[n..]
}
