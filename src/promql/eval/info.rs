//! `info(v, {data selector})`: adds the data labels of matching info
//! metrics (`target_info` by default) to each series of `v`, joining on the
//! identifying labels `instance` and `job` (`evalInfo`,
//! `combineWithInfoSeries` and `combineWithInfoVector` in upstream's
//! `promql/info.go`). The info series are read through the same tenant
//! scope, with the forced matchers, as every other selector.

use ahash::AHashMap as HashMap;

use super::labels::{self, format, NAME};
use super::{Ctx, Grid, Result, StepSeries};
use crate::model::{LabelStr, Labels};
use crate::promql::error::QueryError;
use crate::promql::plan::{Call, Node, Selector};
use crate::storage::index::{MatchOp, Matcher};

const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The `@` and offset of the first selector in `node` (`infoSelectTimestampAndOffset`).
fn at_and_offset(node: &Node) -> Option<(Option<i64>, i64)> {
    match node {
        Node::Vector(s) | Node::Matrix(s, _) => Some((s.at, s.offset)),
        Node::Subquery(sq) => {
            let (at, off) = at_and_offset(&sq.expr)?;
            Some(match at {
                Some(a) => (Some(a), off),
                None => (sq.at, off + sq.offset),
            })
        }
        Node::Neg(n) => at_and_offset(n),
        Node::Binary(b) => at_and_offset(&b.lhs).or_else(|| at_and_offset(&b.rhs)),
        Node::Aggregate(a) => a
            .param
            .as_ref()
            .and_then(at_and_offset)
            .or_else(|| at_and_offset(&a.expr)),
        Node::Call(c) => c.args.iter().find_map(at_and_offset),
        Node::Number(_) | Node::Str(_) => None,
    }
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher> {
    Matcher::new(op, name, value).map_err(|e| QueryError::Execution(e.to_string()))
}

/// `effectiveInfoNameMatchers`.
fn effective_names(names: Vec<Matcher>) -> Result<Vec<Matcher>> {
    if names
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::Regex))
    {
        return Ok(names);
    }
    if !names.is_empty() {
        let mut v = vec![matcher(MatchOp::Regex, NAME, ".+_info")?];
        v.extend(names);
        return Ok(v);
    }
    Ok(vec![matcher(MatchOp::Equal, NAME, "target_info")?])
}

/// The join signature of a series for one info metric name.
fn signature(name: &str, l: &Labels) -> Vec<(String, String)> {
    let mut v = vec![(NAME.to_string(), name.to_string())];
    for id in IDENTIFYING {
        if let Some(x) = l.get(id) {
            v.push((id.to_string(), x.to_string()));
        }
    }
    v
}

impl Ctx<'_> {
    pub(crate) fn info(&mut self, c: &Call, grid: Grid) -> Result<Vec<StepSeries>> {
        let base_node = c
            .args
            .first()
            .ok_or_else(|| QueryError::BadData("info needs an argument".into()))?;
        let (at, offset) = at_and_offset(base_node).unwrap_or((None, 0));
        let base = self.vector_arg(c, 0, grid)?;
        self.release_vector(&base);
        // Data-label matchers, by label name.
        let mut data: HashMap<String, Vec<Matcher>> = HashMap::new();
        let mut name_matchers = Vec::new();
        match c.args.get(1) {
            Some(Node::Vector(sel)) => {
                for m in &sel.matchers[..sel.user_count] {
                    data.entry(m.name.clone()).or_default().push(m.clone());
                    if m.name == NAME {
                        name_matchers.push(m.clone());
                    }
                }
            }
            Some(_) => {
                return Err(QueryError::BadData(
                    "info's second argument must be a label selector".into(),
                ))
            }
            None => name_matchers.push(matcher(MatchOp::Equal, NAME, "target_info")?),
        }
        let effective = effective_names(name_matchers.clone())?;
        let ignored: Vec<bool> = base
            .iter()
            .map(|s| {
                let n = s.labels.get(NAME).unwrap_or("");
                effective.iter().all(|m| m.matches(n))
            })
            .collect();
        let info = self.info_series(&base, &ignored, &data, name_matchers, at, offset, grid)?;
        data.remove(NAME);
        self.combine_info(base, &ignored, info, &data, grid)
    }

    /// Reads the info series for the base series' identifying labels; each
    /// value is the timestamp (ms) of the sample picked at that step.
    #[allow(clippy::too_many_arguments)]
    fn info_series(
        &mut self,
        base: &[StepSeries],
        ignored: &[bool],
        data: &HashMap<String, Vec<Matcher>>,
        name_matchers: Vec<Matcher>,
        at: Option<i64>,
        offset: i64,
        grid: Grid,
    ) -> Result<Vec<StepSeries>> {
        let mut ids: Vec<(&str, Vec<String>)> = Vec::new();
        for id in IDENTIFYING {
            let mut vals: Vec<String> = base
                .iter()
                .zip(ignored)
                .filter(|(_, ig)| !**ig)
                .filter_map(|(s, _)| s.labels.get(id).map(regex::escape))
                .collect();
            vals.sort();
            vals.dedup();
            if !vals.is_empty() {
                ids.push((id, vals));
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut matchers = Vec::new();
        for (id, vals) in ids {
            matchers.push(matcher(MatchOp::Regex, id, &vals.join("|"))?);
        }
        for (name, ms) in data {
            if name != NAME {
                matchers.extend(ms.iter().cloned());
            }
        }
        matchers.extend(effective_names(name_matchers)?);
        let bound = self.scope.bind(matchers)?;
        let sel = Selector {
            matchers: bound.matchers,
            user_count: bound.user_count,
            tenant_matchers: bound.tenant_matchers,
            user_equal: Vec::new(),
            name: None,
            offset,
            at,
            text: String::new(),
            anchored: false,
            smoothed: false,
            stats_hints: false,
        };
        let mut out = Vec::new();
        self.vector_selector(
            &sel,
            grid,
            super::select::Pick::FloatTimestamp,
            &mut |mut s| {
                for v in s.vals.iter_mut().flatten() {
                    *v = (*v * 1000.0).round();
                }
                out.push(s);
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn combine_info(
        &mut self,
        base: Vec<StepSeries>,
        ignored: &[bool],
        info: Vec<StepSeries>,
        data: &HashMap<String, Vec<Matcher>>,
        grid: Grid,
    ) -> Result<Vec<StepSeries>> {
        let mut names: Vec<String> = info
            .iter()
            .filter_map(|s| s.labels.get(NAME).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        let info_sigs: Vec<Vec<(String, String)>> = info
            .iter()
            .map(|s| signature(s.labels.get(NAME).unwrap_or(""), &s.labels))
            .collect();
        let all_match_empty = data.values().flatten().all(|m| m.matches(""));
        let n = grid.len();
        let mut out: Vec<StepSeries> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for i in 0..n {
            // combineWithInfoVector: an info sample that is a histogram
            // (NaN here) fails the query at a step with base samples.
            let hist_info = info.iter().any(|s| s.vals[i].is_some_and(f64::is_nan));
            if hist_info && base.iter().any(|b| b.has(i)) {
                return Err(QueryError::Execution("info sample should be float".into()));
            }
            // Newest info sample per signature at this step.
            let mut by_sig: HashMap<&[(String, String)], usize> = HashMap::new();
            for (j, s) in info.iter().enumerate() {
                let Some(t) = s.vals[i] else { continue };
                match by_sig.get(info_sigs[j].as_slice()) {
                    Some(&k) => {
                        let tk = info[k].vals[i].unwrap_or(f64::MIN);
                        if tk < t {
                            by_sig.insert(&info_sigs[j], j);
                        } else if tk == t {
                            return Err(QueryError::Execution(format!(
                                "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                                format(&info[k].labels),
                                tk as i64,
                                format(&s.labels),
                                t as i64
                            )));
                        }
                    }
                    None => {
                        by_sig.insert(&info_sigs[j], j);
                    }
                }
            }
            for (b, bs) in base.iter().enumerate() {
                if !bs.has(i) {
                    continue;
                }
                let labels = if ignored[b] {
                    bs.labels.clone()
                } else {
                    let mut add: Vec<(LabelStr, LabelStr)> = Vec::new();
                    let mut seen = 0;
                    for name in &names {
                        let sig = signature(name, &bs.labels);
                        let Some(&j) = by_sig.get(sig.as_slice()) else {
                            continue;
                        };
                        seen += 1;
                        for l in info[j].labels.iter() {
                            if l.name == NAME
                                || (!data.is_empty() && !data.contains_key(l.name.as_str()))
                            {
                                continue;
                            }
                            if let Some((_, x)) = add.iter().find(|(k, _)| *k == l.name) {
                                if *x != l.value {
                                    return Err(QueryError::Execution(format!(
                                        "conflicting label: {}",
                                        l.name
                                    )));
                                }
                                continue;
                            }
                            if bs.labels.get(&l.name).is_some() {
                                continue;
                            }
                            add.push((l.name.clone(), l.value.clone()));
                        }
                    }
                    if seen == 0 && !all_match_empty {
                        continue;
                    }
                    let mut l = bs.labels.clone();
                    for (k, x) in &add {
                        l = labels::set(&l, k, x);
                    }
                    l
                };
                let oi = match index.get(&labels) {
                    Some(&o) => o,
                    None => {
                        self.budget.acquire(n)?;
                        out.push(StepSeries {
                            labels: labels.clone(),
                            vals: vec![None; n],
                            drop_name: bs.drop_name,
                            hists: Vec::new(),
                        });
                        index.insert(labels, out.len() - 1);
                        out.len() - 1
                    }
                };
                if out[oi].has(i) {
                    return Err(labels::same_labelset());
                }
                out[oi].vals[i] = bs.vals[i];
                if let Some(h) = bs.hist(i) {
                    let hists = &mut out[oi].hists;
                    if hists.is_empty() {
                        hists.resize(n, None);
                    }
                    hists[i] = Some(Box::new(h.clone()));
                }
            }
        }
        Ok(out)
    }
}
