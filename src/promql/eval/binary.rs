//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! `on`/`ignoring`, `group_left`/`group_right`, `bool`, fill values and the
//! set operators (`VectorBinop`, `VectorscalarBinop`, `VectorAnd/Or/Unless`
//! upstream). Matching signatures are computed once per series; the per-step
//! work only looks up ordinals.

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::hist_binop::{elem_mixed, Elem, Operand};
use super::labels::{self, format, merge_same, same_labelset};
use super::native::{self, Note};
use super::{Ctx, Grid, Result, StepSeries, Val};
use crate::model::Labels;
use crate::promql::error::QueryError;
use crate::promql::functions::fhist::FHist;
use crate::promql::plan::{BinOp, Binary, Card, Matching};

/// `vectorElemBinop` / `scalarBinop` for floats: the value and whether a
/// comparison keeps the element.
pub(crate) fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
        // Trims act on native histogram buckets; float samples are dropped.
        BinOp::TrimUpper | BinOp::TrimLower => (l, false),
    }
}

fn slots(v: &[StepSeries]) -> usize {
    v.iter().map(StepSeries::slots).sum()
}

impl Ctx<'_> {
    pub(crate) fn binary(&mut self, b: &Binary, grid: Grid) -> Result<Val> {
        let lhs = self.eval(&b.lhs, grid)?;
        let rhs = self.eval(&b.rhs, grid)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&l, &r)| {
                        let (v, keep) = elem(b.op, l, r);
                        if b.op.is_comparison() {
                            if keep {
                                1.0
                            } else {
                                0.0
                            }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(v), Val::Scalar(s)) => {
                let mut notes = Vec::new();
                let out = vector_scalar(b, v, &s, false, &mut notes);
                self.binary_notes(b, notes);
                Ok(Val::Vector(out))
            }
            (Val::Scalar(s), Val::Vector(v)) => {
                let mut notes = Vec::new();
                let out = vector_scalar(b, v, &s, true, &mut notes);
                self.binary_notes(b, notes);
                Ok(Val::Vector(out))
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let held = slots(&l) + slots(&r);
                let default = Matching {
                    on: false,
                    labels: Vec::new(),
                    card: if b.op.is_set() {
                        Card::ManyToMany
                    } else {
                        Card::OneToOne
                    },
                    include: Vec::new(),
                    fill_lhs: None,
                    fill_rhs: None,
                };
                let m = b.matching.as_ref().unwrap_or(&default);
                // Outputs are charged as they are made, before the inputs
                // are given back.
                let budget = self.budget;
                let mut notes = Vec::new();
                let out = if b.op.is_set() {
                    set_op(b.op, m, l, r, grid, budget)?
                } else {
                    vector_binop(b, m, &l, &r, grid, budget, &mut notes)?
                };
                self.release(held);
                self.binary_notes(b, notes);
                Ok(Val::Vector(out))
            }
            _ => Err(QueryError::Execution(
                "binary expression must contain only scalar and instant vector types".into(),
            )),
        }
    }
}

impl Ctx<'_> {
    /// Annotations of an operation, at the start of the expression.
    fn binary_notes(&mut self, b: &Binary, notes: Vec<Note>) {
        if notes.is_empty() {
            return;
        }
        let anchor = native::anchor(&b.lhs);
        for n in notes {
            match n {
                Note::Warn(m) => self.warn_at(m, &anchor),
                Note::Info(m) => self.info_at(m, &anchor),
            }
        }
    }
}

/// The histogram steps of vector op scalar.
fn vector_scalar_hists(
    b: &Binary,
    series: &mut StepSeries,
    s: &[f64],
    swap: bool,
    notes: &mut Vec<Note>,
) {
    for i in 0..series.hists.len() {
        let Some(h) = series.hists[i].take() else {
            continue;
        };
        let sv = s.get(i).copied().unwrap_or(f64::NAN);
        let (l, r) = if swap {
            (Operand::F(sv), Operand::H(&h))
        } else {
            (Operand::H(&h), Operand::F(sv))
        };
        match elem_mixed(b.op, l, r, notes) {
            Elem::H(res, keep) if b.return_bool => {
                drop(res);
                series.vals[i] = Some(if keep { 1.0 } else { 0.0 });
            }
            Elem::H(res, true) => series.hists[i] = Some(res),
            Elem::F(v, keep) if keep || b.return_bool => series.vals[i] = Some(v),
            _ => {}
        }
    }
}

/// Vector op scalar (or scalar op vector when `swap`).
fn vector_scalar(
    b: &Binary,
    v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
    notes: &mut Vec<Note>,
) -> Vec<StepSeries> {
    let mut out = Vec::with_capacity(v.len());
    for mut series in v {
        for (i, slot) in series.vals.iter_mut().enumerate() {
            let Some(x) = *slot else { continue };
            let sv = s.get(i).copied().unwrap_or(f64::NAN);
            let (l, r) = if swap { (sv, x) } else { (x, sv) };
            let (mut val, mut keep) = elem(b.op, l, r);
            if b.op.is_comparison() && swap {
                val = r;
            }
            if b.return_bool {
                val = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            *slot = keep.then_some(val);
        }
        vector_scalar_hists(b, &mut series, s, swap, notes);
        if b.op.changes_schema() || b.return_bool {
            series.drop_name = true;
        }
        if series.any() {
            out.push(series);
        }
    }
    out
}

/// The matching signature of a series.
fn signature(l: &Labels, m: &Matching) -> Labels {
    if m.on {
        labels::keep(l, &m.labels)
    } else {
        labels::without(l, &m.labels, true)
    }
}

/// Signature ordinals for both sides (shared numbering).
fn ordinals(l: &[StepSeries], r: &[StepSeries], m: &Matching) -> (Vec<usize>, Vec<usize>, usize) {
    let mut map: HashMap<Labels, usize> = HashMap::new();
    let mut ord = |s: &StepSeries| {
        let sig = signature(&s.labels, m);
        let n = map.len();
        *map.entry(sig).or_insert(n)
    };
    let lo: Vec<usize> = l.iter().map(&mut ord).collect();
    let ro: Vec<usize> = r.iter().map(&mut ord).collect();
    (lo, ro, map.len())
}

/// `and`, `or`, `unless`, step by step; values of either kind pass
/// through unchanged.
fn set_op(
    op: BinOp,
    m: &Matching,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    grid: Grid,
    budget: &super::Budget,
) -> Result<Vec<StepSeries>> {
    let (lo, ro, nsig) = ordinals(&l, &r, m);
    let n = grid.len();
    budget.acquire((l.len() + r.len()).saturating_mul(n))?;
    let mut keep_l: Vec<Vec<bool>> = l.iter().map(|_| vec![false; n]).collect();
    let mut keep_r: Vec<Vec<bool>> = r.iter().map(|_| vec![false; n]).collect();
    let mut seen = vec![usize::MAX; nsig];
    for i in 0..n {
        match op {
            BinOp::And | BinOp::Unless => {
                for (j, s) in r.iter().enumerate() {
                    if s.has(i) {
                        seen[ro[j]] = i;
                    }
                }
                for (j, s) in l.iter().enumerate() {
                    let hit = seen[lo[j]] == i;
                    keep_l[j][i] = s.has(i) && (hit == (op == BinOp::And));
                }
            }
            _ => {
                for (j, s) in l.iter().enumerate() {
                    if s.has(i) {
                        seen[lo[j]] = i;
                        keep_l[j][i] = true;
                    }
                }
                for (j, s) in r.iter().enumerate() {
                    keep_r[j][i] = s.has(i) && seen[ro[j]] != i;
                }
            }
        }
    }
    let mut out = Vec::new();
    for (mut s, keep) in l.into_iter().zip(keep_l).chain(r.into_iter().zip(keep_r)) {
        for (i, k) in keep.iter().enumerate() {
            if !k {
                s.vals[i] = None;
                if let Some(h) = s.hists.get_mut(i) {
                    *h = None;
                }
            }
        }
        if s.any() {
            out.push(s);
        }
    }
    merge_same(out)
}

/// An owned result value.
enum Operand2 {
    F(f64),
    H(Box<FHist>),
}

/// Where one side of a match comes from: a series, or a fill value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Series(usize),
    Fill(usize),
}

struct Join<'a> {
    op: BinOp,
    m: &'a Matching,
    return_bool: bool,
    /// The "many" side (lhs unless group_right) and the "one" side.
    many: &'a [StepSeries],
    one: &'a [StepSeries],
    out: Vec<StepSeries>,
    out_index: HashMap<Labels, usize>,
    metric_cache: HashMap<(Side, Side), usize>,
    n: usize,
    budget: &'a super::Budget,
    notes: &'a mut Vec<Note>,
}

/// Arithmetic and comparison between two vectors.
fn vector_binop(
    b: &Binary,
    m: &Matching,
    l: &[StepSeries],
    r: &[StepSeries],
    grid: Grid,
    budget: &super::Budget,
    notes: &mut Vec<Note>,
) -> Result<Vec<StepSeries>> {
    let swapped = m.card == Card::OneToMany;
    let (many, one) = if swapped { (r, l) } else { (l, r) };
    let (many_o, one_o, nsig) = ordinals(many, one, m);
    let n = grid.len();
    let mut j = Join {
        op: b.op,
        m,
        return_bool: b.return_bool,
        many,
        one,
        out: Vec::new(),
        out_index: HashMap::new(),
        metric_cache: HashMap::new(),
        n,
        budget,
        notes,
    };
    let mut right: Vec<Option<usize>> = vec![None; nsig];
    let mut matched_one: Vec<bool> = vec![false; nsig];
    let mut matched_many: Vec<HashSet<usize>> = vec![HashSet::new(); nsig];
    for i in 0..n {
        right.iter_mut().for_each(|x| *x = None);
        matched_one.iter_mut().for_each(|x| *x = false);
        matched_many.iter_mut().for_each(|s| s.clear());
        for (k, s) in one.iter().enumerate() {
            if !s.has(i) {
                continue;
            }
            if let Some(prev) = right[one_o[k]] {
                return Err(duplicate_error(m, swapped, &s.labels, &one[prev].labels));
            }
            right[one_o[k]] = Some(k);
        }
        for (k, s) in many.iter().enumerate() {
            let Some(lv) = operand(s, i) else { continue };
            let sig = many_o[k];
            let (rs, rv) = match (right[sig], m.fill_rhs) {
                (Some(o), _) => (
                    Side::Series(o),
                    operand(&one[o], i).unwrap_or(Operand::F(f64::NAN)),
                ),
                (None, Some(f)) => (Side::Fill(k), Operand::F(f)),
                (None, None) => continue,
            };
            j.apply(
                i,
                Side::Series(k),
                lv,
                rs,
                rv,
                sig,
                &mut matched_one,
                &mut matched_many,
            )?;
        }
        if let Some(f) = m.fill_lhs {
            for (k, s) in one.iter().enumerate() {
                let Some(rv) = operand(s, i) else { continue };
                let sig = one_o[k];
                if matched_one[sig] || !matched_many[sig].is_empty() {
                    continue;
                }
                j.apply(
                    i,
                    Side::Fill(k),
                    Operand::F(f),
                    Side::Series(k),
                    rv,
                    sig,
                    &mut matched_one,
                    &mut matched_many,
                )?;
            }
        }
    }
    Ok(j.out.into_iter().filter(StepSeries::any).collect())
}

/// The value of `s` at step `i`, of either kind.
fn operand(s: &StepSeries, i: usize) -> Option<Operand<'_>> {
    match (s.vals[i], s.hist(i)) {
        (Some(v), _) => Some(Operand::F(v)),
        (None, Some(h)) => Some(Operand::H(h)),
        (None, None) => None,
    }
}

impl Join<'_> {
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        i: usize,
        ls: Side,
        lv: Operand<'_>,
        rs: Side,
        rv: Operand<'_>,
        sig: usize,
        matched_one: &mut [bool],
        matched_many: &mut [HashSet<usize>],
    ) -> Result<()> {
        let (fl, fr) = if self.m.card == Card::OneToMany {
            (rv, lv)
        } else {
            (lv, rv)
        };
        let (mut val, keep) = match elem_mixed(self.op, fl, fr, self.notes) {
            Elem::F(v, keep) => (Operand2::F(v), keep),
            Elem::H(h, keep) => (Operand2::H(h), keep),
            Elem::Drop => return Ok(()),
        };
        if self.return_bool {
            val = Operand2::F(if keep { 1.0 } else { 0.0 });
        }
        let out = self.output(ls, rs)?;
        if self.m.card == Card::OneToOne {
            if matched_one[sig] {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            matched_one[sig] = true;
        } else if !matched_many[sig].insert(out) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if !keep && !self.return_bool {
            return Ok(());
        }
        let o = &mut self.out[out];
        if o.has(i) {
            return Err(same_labelset());
        }
        match val {
            Operand2::F(v) => o.vals[i] = Some(v),
            Operand2::H(h) => {
                if o.hists.is_empty() {
                    o.hists = vec![None; self.n];
                }
                o.hists[i] = Some(h);
            }
        }
        Ok(())
    }

    /// The output series for a pair (`resultMetric` upstream), cached.
    fn output(&mut self, ls: Side, rs: Side) -> Result<usize> {
        if let Some(&o) = self.metric_cache.get(&(ls, rs)) {
            return Ok(o);
        }
        let l_labels = match ls {
            Side::Series(k) => self.many[k].labels.clone(),
            Side::Fill(k) => match_labels(&self.one[k].labels, self.m),
        };
        let r_labels = match rs {
            Side::Series(k) => self.one[k].labels.clone(),
            Side::Fill(k) => match_labels(&self.many[k].labels, self.m),
        };
        let mut lb = if self.op.changes_schema() {
            labels::drop_metric_name(&l_labels)
        } else {
            l_labels
        };
        if self.m.card == Card::OneToOne {
            lb = if self.m.on {
                labels::keep(&lb, &self.m.labels)
            } else {
                labels::without(&lb, &self.m.labels, false)
            };
        }
        for name in &self.m.include {
            lb = labels::set(&lb, name, r_labels.get(name).unwrap_or(""));
        }
        let idx = match self.out_index.get(&lb) {
            Some(&o) => o,
            None => {
                self.budget.acquire(self.n)?;
                self.out.push(StepSeries {
                    labels: lb.clone(),
                    vals: vec![None; self.n],
                    drop_name: self.return_bool,
                    hists: Vec::new(),
                });
                self.out_index.insert(lb, self.out.len() - 1);
                self.out.len() - 1
            }
        };
        self.metric_cache.insert((ls, rs), idx);
        Ok(idx)
    }
}

/// `Labels.MatchLabels(on, names)`: the labels a match is made on.
fn match_labels(l: &Labels, m: &Matching) -> Labels {
    signature(l, m)
}

fn duplicate_error(m: &Matching, swapped: bool, a: &Labels, b: &Labels) -> QueryError {
    let side = if swapped { "left" } else { "right" };
    let (mut d1, mut d2) = (format(a), format(b));
    if d1 > d2 {
        std::mem::swap(&mut d1, &mut d2);
    }
    QueryError::Execution(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
        format(&match_labels(a, m))
    ))
}
