//! The streaming selection state of `topk`, `bottomk`, `limitk` and
//! `limit_ratio` (`aggregationK` upstream).

use ahash::AHashMap as HashMap;

use super::StepSeries;
use crate::model::Labels;
use crate::promql::functions::fhist::FHist;
use crate::promql::plan::AggOp;

/// A candidate in a `topk`/`bottomk` heap: greater is better. NaN ranks
/// below every number; among equal values the earlier series wins (as
/// upstream, whose heap only replaces its worst entry with a strictly
/// better one).
#[derive(Clone, Copy, PartialEq)]
struct Rank {
    number: bool,
    v: f64,
    seq: usize,
}

impl Eq for Rank {}

impl PartialOrd for Rank {
    fn partial_cmp(&self, o: &Rank) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Rank {
    fn cmp(&self, o: &Rank) -> std::cmp::Ordering {
        self.number
            .cmp(&o.number)
            .then_with(|| {
                self.v
                    .partial_cmp(&o.v)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| o.seq.cmp(&self.seq))
    }
}

/// Streaming state of `topk`, `bottomk`, `limitk` and `limit_ratio`: one
/// bounded heap (or counter) per group and step, so the input is never
/// held whole; only label sets and chosen values are kept.
pub(crate) struct KSelect<'p> {
    op: AggOp,
    params: &'p [f64],
    series: Vec<(Labels, bool)>,
    group_of: Vec<usize>,
    /// Per group, per step: a min-heap (by `Reverse`) of the kept candidates.
    heaps: Vec<Vec<std::collections::BinaryHeap<std::cmp::Reverse<(Rank, u64)>>>>,
    /// Per group, per step: how many `limitk` has taken.
    counts: Vec<Vec<usize>>,
    /// (series, step, value) kept by `limitk` / `limit_ratio`.
    chosen: Vec<(usize, usize, f64)>,
    /// (series, step, histogram) kept by `limitk` / `limit_ratio`.
    chosen_h: Vec<(usize, usize, Box<FHist>)>,
    n: usize,
}

impl<'p> KSelect<'p> {
    /// An empty selection for `op` with its per-step parameter.
    pub(crate) fn new(op: AggOp, params: &'p [f64], n: usize) -> KSelect<'p> {
        KSelect {
            op,
            params,
            series: Vec::new(),
            group_of: Vec::new(),
            heaps: Vec::new(),
            counts: Vec::new(),
            chosen: Vec::new(),
            chosen_h: Vec::new(),
            n,
        }
    }

    fn k_at(&self, i: usize) -> usize {
        let p = self.params.get(i).copied().unwrap_or(f64::NAN);
        if p.is_nan() || p < 1.0 {
            0
        } else {
            p as i64 as usize
        }
    }

    /// Whether `limitk` / `limit_ratio` keep a series' value at step `i`
    /// (histograms pass through them as floats do).
    fn limit_takes(&mut self, g: usize, i: usize, offset: f64) -> bool {
        match self.op {
            AggOp::LimitRatio => {
                let r = self.params.get(i).copied().unwrap_or(0.0).clamp(-1.0, 1.0);
                (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
            }
            AggOp::Limitk if self.counts[g][i] < self.k_at(i) => {
                self.counts[g][i] += 1;
                true
            }
            _ => false,
        }
    }

    /// Offers a series to its group; returns how much the selection grew
    /// in budget units (a slot per step for a new group, one for the series
    /// kept, one per candidate value kept).
    pub(crate) fn push(&mut self, g: usize, s: StepSeries) -> usize {
        let seq = self.series.len();
        let mut grown = 1;
        while self.heaps.len() <= g {
            self.heaps.push(vec![Default::default(); self.n]);
            self.counts.push(vec![0; self.n]);
            grown += self.n;
        }
        let offset = if self.op == AggOp::LimitRatio {
            ratio_offset(&s.labels)
        } else {
            0.0
        };
        let mut hists = s.hists;
        for (i, slot) in hists.iter_mut().enumerate() {
            let Some(h) = slot.take() else { continue };
            if self.limit_takes(g, i, offset) {
                self.chosen_h.push((seq, i, h));
                grown += 1;
            }
        }
        for (i, v) in s.vals.iter().enumerate() {
            let Some(v) = *v else { continue };
            match self.op {
                AggOp::LimitRatio => {
                    let r = self.params.get(i).copied().unwrap_or(0.0).clamp(-1.0, 1.0);
                    if (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r) {
                        self.chosen.push((seq, i, v));
                        grown += 1;
                    }
                }
                AggOp::Limitk => {
                    if self.counts[g][i] < self.k_at(i) {
                        self.counts[g][i] += 1;
                        self.chosen.push((seq, i, v));
                        grown += 1;
                    }
                }
                _ => {
                    let k = self.k_at(i);
                    if k == 0 {
                        continue;
                    }
                    let key = if self.op == AggOp::Topk { v } else { -v };
                    let rank = Rank {
                        number: !v.is_nan(),
                        v: if v.is_nan() { 0.0 } else { key },
                        seq,
                    };
                    let heap = &mut self.heaps[g][i];
                    if heap.len() < k {
                        heap.push(std::cmp::Reverse((rank, v.to_bits())));
                        grown += 1;
                    } else if heap.peek().is_some_and(|w| w.0 .0 < rank) {
                        heap.pop();
                        heap.push(std::cmp::Reverse((rank, v.to_bits())));
                    }
                }
            }
        }
        self.group_of.push(g);
        self.series.push((s.labels, s.drop_name));
        grown
    }

    pub(crate) fn finish(self) -> Vec<StepSeries> {
        let n = self.n;
        let mut picks: Vec<(usize, usize, f64)> = self.chosen;
        let mut instant_order: Vec<usize> = Vec::new();
        for group in self.heaps {
            for (i, heap) in group.into_iter().enumerate() {
                let mut best: Vec<(Rank, u64)> = heap.into_iter().map(|r| r.0).collect();
                best.sort_by(|a, b| b.0.cmp(&a.0));
                for (rank, bits) in best {
                    picks.push((rank.seq, i, f64::from_bits(bits)));
                    if n == 1 {
                        instant_order.push(rank.seq);
                    }
                }
            }
        }
        let mut vals: HashMap<usize, Vec<Option<f64>>> = HashMap::new();
        let mut first_seen: Vec<usize> = Vec::new();
        for (seq, i, v) in picks {
            let e = vals.entry(seq).or_insert_with(|| {
                first_seen.push(seq);
                vec![None; n]
            });
            e[i] = Some(v);
        }
        let mut hists: HashMap<usize, Vec<Option<Box<FHist>>>> = HashMap::new();
        for (seq, i, h) in self.chosen_h {
            vals.entry(seq).or_insert_with(|| {
                first_seen.push(seq);
                vec![None; n]
            });
            hists.entry(seq).or_insert_with(|| vec![None; n])[i] = Some(h);
        }
        let order: Vec<usize> = if n == 1 && !instant_order.is_empty() {
            instant_order
        } else {
            let mut o = first_seen;
            o.sort_unstable();
            o
        };
        let mut series: Vec<Option<(Labels, bool)>> = self.series.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(order.len());
        for seq in order {
            let (Some(v), Some(Some((labels, drop_name)))) =
                (vals.remove(&seq), series.get_mut(seq).map(Option::take))
            else {
                continue;
            };
            out.push(StepSeries {
                labels,
                vals: v,
                drop_name,
                hists: hists.remove(&seq).unwrap_or_default(),
            });
        }
        out
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
