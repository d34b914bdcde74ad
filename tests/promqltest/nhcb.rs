//! `load_with_nhcb`: classic `_bucket`/`_count`/`_sum` float series of a
//! load command also become native histograms with custom buckets, one per
//! base series and timestamp (upstream `loadCmd.appendCustomHistogram` with
//! `convertnhcb.TempHistogram`).

use std::collections::BTreeMap;

use super::hist::HistDesc;
use super::values::LabelSet;

/// One classic histogram at one timestamp, as collected so far.
#[derive(Default)]
struct Temp {
    /// `(le, cumulative count)`, ascending by `le`.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    err: Option<String>,
}

impl Temp {
    /// `TempHistogram.SetBucketCount`: buckets arrive in any order; a
    /// repeated bound is ignored, a non-cumulative count is an error.
    fn set_bucket(&mut self, le: f64, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(format!("bucket count must be non-negative: le={le}"));
            return;
        }
        let i = self.buckets.partition_point(|b| b.0 < le);
        if self.buckets.get(i).is_some_and(|b| b.0 == le) {
            return;
        }
        let below = i.checked_sub(1).map(|k| self.buckets[k].1);
        let above = self.buckets.get(i).map(|b| b.1);
        if below.is_some_and(|b| count < b) || above.is_some_and(|a| count > a) {
            self.err = Some(format!("count is not cumulative at le={le}"));
            return;
        }
        self.buckets.insert(i, (le, count));
    }

    /// `TempHistogram.Convert` to a float histogram (the runner stores
    /// float histograms, as upstream appends `ToFloat` of the integer one).
    fn convert(mut self) -> Result<HistDesc, String> {
        if let Some(e) = self.err {
            return Err(e);
        }
        let count = match self.count {
            Some(c) => c,
            None => self.buckets.last().map_or(0.0, |b| b.1),
        };
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets.last().map_or(0.0, |b| b.1);
        if count != last {
            return Err(format!(
                "count mismatch: count={count} != +Inf count={last}"
            ));
        }
        let mut h = HistDesc::empty();
        h.schema = -53;
        h.count = count;
        h.sum = self.sum;
        let mut prev = 0.0;
        for (i, (le, c)) in self.buckets.iter().enumerate() {
            if *c - prev != 0.0 {
                h.pos.insert(i as i32, *c - prev);
            }
            prev = *c;
            if *le != f64::INFINITY {
                h.custom.push(*le);
            }
        }
        Ok(h)
    }
}

/// What a classic series contributes: its base labels and kind.
enum Part {
    Bucket(f64),
    Count,
    Sum,
}

/// The base labels (name without suffix, no `le`) and kind of a classic
/// series, or `None` for other series and unparseable `le` values.
fn classify(labels: &LabelSet) -> Option<(LabelSet, Part)> {
    let name = labels.iter().find(|(n, _)| n == "__name__")?.1.as_str();
    let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
        let le = labels.iter().find(|(n, _)| n == "le")?.1.as_str();
        let le = super::values::parse_go_number(le).filter(|v| !v.is_nan())?;
        (b, Part::Bucket(le))
    } else if let Some(b) = name.strip_suffix("_sum") {
        (b, Part::Sum)
    } else if let Some(b) = name.strip_suffix("_count") {
        (b, Part::Count)
    } else {
        return None;
    };
    let set = labels
        .iter()
        .filter(|(n, _)| n != "le")
        .map(|(n, v)| {
            let v = if n == "__name__" { base } else { v.as_str() };
            (n.clone(), v.to_string())
        })
        .collect();
    Some((set, part))
}

/// The NHCB series built from `series` (labels and `(t, value)` float
/// points): per base series, its histograms in time order, or the
/// conversion error.
pub fn convert(
    series: &[(LabelSet, Vec<(i64, f64)>)],
) -> Vec<(LabelSet, Result<Vec<(i64, HistDesc)>, String>)> {
    let mut by_base: BTreeMap<LabelSet, BTreeMap<i64, Temp>> = BTreeMap::new();
    for (labels, points) in series {
        let Some((base, part)) = classify(labels) else {
            continue;
        };
        let temps = by_base.entry(base).or_default();
        for &(t, v) in points {
            let temp = temps.entry(t).or_default();
            match part {
                Part::Bucket(le) => temp.set_bucket(le, v),
                Part::Count if temp.err.is_none() => {
                    if v < 0.0 {
                        temp.err = Some(format!("count must be non-negative: {v}"));
                    } else {
                        temp.count = Some(v);
                    }
                }
                Part::Sum => temp.sum = v,
                Part::Count => {}
            }
        }
    }
    by_base
        .into_iter()
        .map(|(base, temps)| {
            let hs = temps
                .into_iter()
                .map(|(t, temp)| temp.convert().map(|h| (t, h)))
                .collect();
            (base, hs)
        })
        .collect()
}
