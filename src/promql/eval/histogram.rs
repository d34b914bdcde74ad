//! `histogram_quantile` over classic `le` buckets (`funcHistogramQuantile`
//! and `resetHistograms` upstream). Series are grouped by their labels
//! without `le`; each group and step gives one quantile.

use std::collections::HashMap;

use super::labels::{self, NAME};
use super::{Ctx, Grid, Result, StepSeries};
use crate::model::Labels;
use crate::promql::functions::{self, Bucket};
use crate::promql::plan::Call;

impl Ctx<'_> {
    pub(crate) fn histogram_quantile(&mut self, c: &Call, grid: Grid) -> Result<Vec<StepSeries>> {
        let q = match c.args.first() {
            Some(a) => self.scalar(a, grid)?,
            None => vec![f64::NAN; grid.len()],
        };
        let input = self.vector_arg(c, 1, grid)?;
        let n = grid.len();
        let arg_pos = self.pos_of_arg(c, 1);
        let q_pos = self.pos_of_arg(c, 0);
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
                self.warn_at(msg, &arg_pos);
                continue;
            };
            let key = labels::without(&s.labels, &["le".to_string()], false);
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push((upper, j));
        }
        let mut out = Vec::with_capacity(groups.len());
        let mut warned_q = false;
        for (key, members) in groups {
            let mut vals = vec![None; n];
            for (i, slot) in vals.iter_mut().enumerate() {
                let mut buckets: Vec<Bucket> = members
                    .iter()
                    .filter_map(|&(upper, j)| input[j].vals[i].map(|count| Bucket { upper, count }))
                    .collect();
                if buckets.is_empty() {
                    continue;
                }
                let qi = q.get(i).copied().unwrap_or(f64::NAN);
                if !warned_q && (qi.is_nan() || !(0.0..=1.0).contains(&qi)) {
                    warned_q = true;
                    let msg = format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        super::aggregate::go_g(qi)
                    );
                    self.warn_at(msg, &q_pos);
                }
                let r = functions::bucket_quantile(qi, &mut buckets);
                if r.forced_monotonicity {
                    let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                    if let Some(name) = key.get(NAME) {
                        msg.push_str(&format!(" for metric name {name:?}"));
                    }
                    self.info_at(msg, &arg_pos);
                }
                *slot = Some(r.value);
            }
            if vals.iter().any(Option::is_some) {
                out.push(StepSeries {
                    labels: key,
                    vals,
                    drop_name: true,
                });
            }
        }
        Ok(out)
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
