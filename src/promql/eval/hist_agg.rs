//! Native histograms in `sum` and `avg` (the histogram half of
//! `aggregation` in upstream `promql/engine.go`): per group and step a
//! running sum, with upstream's annotations for mixed floats and
//! histograms, exponential and custom buckets, and counter-reset hints.

use super::native::{msg, Note};
use super::StepSeries;
use crate::model::CounterResetHint;
use crate::promql::functions::fhist::FHist;
use crate::promql::functions::hsum::HSum;

/// One group's histogram state over the steps.
pub(crate) struct HAcc {
    sums: Vec<Option<HSum>>,
    avg: bool,
    counts: Vec<f64>,
    incompatible: Vec<bool>,
    reset: Vec<bool>,
    not_reset: Vec<bool>,
}

impl HAcc {
    pub(crate) fn new(n: usize, avg: bool) -> HAcc {
        HAcc {
            sums: (0..n).map(|_| None).collect(),
            avg,
            counts: vec![0.0; n],
            incompatible: vec![false; n],
            reset: vec![false; n],
            not_reset: vec![false; n],
        }
    }

    /// Adds the histogram of step `i` of a series named `name`.
    pub(crate) fn add(&mut self, i: usize, h: &FHist, name: &str, notes: &mut Vec<Note>) {
        match h.hint {
            CounterResetHint::Reset => self.reset[i] = true,
            CounterResetHint::NotReset => self.not_reset[i] = true,
            _ => {}
        }
        self.counts[i] += 1.0;
        if self.incompatible[i] {
            return;
        }
        match &mut self.sums[i] {
            None => self.sums[i] = Some(HSum::new(h, self.avg)),
            Some(sum) => match sum.add(h) {
                Ok(n) => {
                    if n.bounds_reconciled {
                        notes.push(Note::Info(msg::reconciled("aggregation")));
                    }
                }
                Err(_) => {
                    notes.push(Note::Warn(msg::mixed_schemas(name)));
                    self.incompatible[i] = true;
                }
            },
        }
    }

    /// Puts the group's histograms into its output series `out` (whose
    /// floats are the group's float result): a step with both kinds gives
    /// nothing and a warning.
    pub(crate) fn finish(self, out: &mut StepSeries, notes: &mut Vec<Note>) {
        let n = out.vals.len();
        let mut hists = vec![None; n];
        for (i, sum) in self.sums.into_iter().enumerate() {
            if self.counts[i] == 0.0 {
                continue;
            }
            if out.vals[i].is_some() {
                out.vals[i] = None;
                notes.push(Note::Warn(
                    "PromQL warning: encountered a mix of histograms and floats for aggregation"
                        .into(),
                ));
                continue;
            }
            if self.incompatible[i] {
                continue;
            }
            if self.reset[i] && self.not_reset[i] {
                notes.push(Note::Warn(msg::collision("aggregation")));
            }
            if let Some(sum) = sum {
                hists[i] = Some(Box::new(sum.finish()));
            }
        }
        out.hists = hists;
    }
}
