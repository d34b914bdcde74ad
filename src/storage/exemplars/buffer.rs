//! One tenant's exemplars: a fixed-size circular buffer shared by all its
//! series, each series' exemplars linked oldest to newest through it.
//!
//! This is Prometheus' `CircularExemplarStorage` (`tsdb/exemplar.go`, as of
//! 2.42): a new exemplar overwrites the oldest one of the whole tenant, an
//! exemplar equal to its series' newest is a no-op, and one not newer than
//! its series' newest is refused as out of order.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Exemplar, Labels};

/// What happens to an exemplar offered to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// New: stored.
    Store,
    /// The same as its series' newest exemplar: nothing to do
    /// (`storage.ErrDuplicateExemplar`, which Prometheus ignores).
    Duplicate,
    /// Not newer than its series' newest (`storage.ErrOutOfOrderExemplar`).
    OutOfOrder,
    /// The buffer has no room at all (size 0: exemplar storage is off).
    Disabled,
}

/// Whether `e` may follow `newest` (its series' newest exemplar, if any);
/// `validateExemplar` without the label-length check, which
/// [`Exemplar::from_refs`] already made.
pub(crate) fn verdict(newest: Option<&Exemplar>, e: &Exemplar) -> Verdict {
    match newest {
        Some(n) if n.same_as(e) => Verdict::Duplicate,
        Some(n) if e.t <= n.t => Verdict::OutOfOrder,
        _ => Verdict::Store,
    }
}

/// A stored exemplar, the series it belongs to and the slot of that
/// series' next newer exemplar.
#[derive(Debug)]
struct Slot {
    exemplar: Exemplar,
    series: Arc<Labels>,
    next: Option<usize>,
}

/// Where a series' exemplars start and end in the buffer.
#[derive(Debug, Clone, Copy)]
struct Ends {
    oldest: usize,
    newest: usize,
}

/// The circular buffer. Memory is bounded by its size: every slot holds
/// one exemplar (whose labels are at most 128 runes), and the index only
/// lists series with at least one stored exemplar. Slots are allocated as
/// they are first used, so a tenant that sends no exemplars costs nothing.
#[derive(Debug, Default)]
pub(crate) struct ExemplarBuffer {
    /// Grows to `size`, then wraps.
    slots: Vec<Option<Slot>>,
    size: usize,
    /// The slot the next exemplar goes to (`slots.len()` while growing).
    next: usize,
    index: HashMap<Arc<Labels>, Ends>,
}

impl ExemplarBuffer {
    /// An empty buffer of `size` slots (0 disables it).
    pub(crate) fn new(size: usize) -> ExemplarBuffer {
        ExemplarBuffer {
            slots: Vec::new(),
            size,
            next: 0,
            index: HashMap::new(),
        }
    }

    /// Number of slots.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Exemplars stored.
    pub(crate) fn len(&self) -> usize {
        self.index.values().map(|e| self.chain_len(e.oldest)).sum()
    }

    /// Series with at least one stored exemplar.
    pub(crate) fn series(&self) -> usize {
        self.index.len()
    }

    fn chain_len(&self, mut at: usize) -> usize {
        let mut n = 1;
        while let Some(next) = self.slots[at].as_ref().and_then(|s| s.next) {
            n += 1;
            at = next;
        }
        n
    }

    /// The newest stored exemplar of `series`.
    pub(crate) fn newest(&self, series: &Labels) -> Option<&Exemplar> {
        let ends = self.index.get(series)?;
        self.slots[ends.newest].as_ref().map(|s| &s.exemplar)
    }

    /// What [`ExemplarBuffer::add`] would do with `e`.
    pub(crate) fn check(&self, series: &Labels, e: &Exemplar) -> Verdict {
        if self.size == 0 {
            return Verdict::Disabled;
        }
        verdict(self.newest(series), e)
    }

    /// Offers `e` for `series`; stores it when the verdict is
    /// [`Verdict::Store`], overwriting the tenant's oldest exemplar once
    /// the buffer is full (`CircularExemplarStorage.AddExemplar`).
    pub(crate) fn add(&mut self, series: &Labels, e: Exemplar) -> Verdict {
        let v = self.check(series, &e);
        if v == Verdict::Store {
            self.insert(series, e);
        }
        v
    }

    /// Stores `e` in the next slot, evicting what was there first.
    fn insert(&mut self, series: &Labels, e: Exemplar) {
        let at = self.next;
        if at == self.slots.len() {
            self.slots.push(None);
        }
        if let Some(old) = self.slots[at].take() {
            match old.next {
                None => {
                    self.index.remove(&old.series);
                }
                Some(n) => {
                    if let Some(ends) = self.index.get_mut(&old.series) {
                        ends.oldest = n;
                    }
                }
            }
        }
        let key = match self.index.get_key_value(series) {
            Some((k, ends)) => {
                let (k, newest) = (k.clone(), ends.newest);
                if let Some(s) = self.slots[newest].as_mut() {
                    s.next = Some(at);
                }
                k
            }
            None => {
                let k = Arc::new(series.clone());
                self.index.insert(
                    k.clone(),
                    Ends {
                        oldest: at,
                        newest: at,
                    },
                );
                k
            }
        };
        if let Some(ends) = self.index.get_mut(&key) {
            ends.newest = at;
        }
        self.slots[at] = Some(Slot {
            exemplar: e,
            series: key,
            next: None,
        });
        self.next = (at + 1) % self.size;
    }

    /// Every series for which `wanted` is true that has exemplars in
    /// `[start, end]` (ms, inclusive), with those exemplars oldest first;
    /// series in label order (`CircularExemplarStorage.Select`).
    pub(crate) fn select(
        &self,
        start: i64,
        end: i64,
        wanted: impl Fn(&Labels) -> bool,
    ) -> Vec<(Labels, Vec<Exemplar>)> {
        let mut out = Vec::new();
        for (series, ends) in &self.index {
            if !wanted(series) {
                continue;
            }
            let mut found = Vec::new();
            let mut at = Some(ends.oldest);
            while let Some(slot) = at.and_then(|i| self.slots[i].as_ref()) {
                if slot.exemplar.t > end {
                    break;
                }
                if slot.exemplar.t >= start {
                    found.push(slot.exemplar.clone());
                }
                at = slot.next;
            }
            if !found.is_empty() {
                out.push((Labels::clone(series), found));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every stored exemplar with its series, oldest written first.
    fn drain_in_order(&mut self) -> Vec<(Arc<Labels>, Exemplar)> {
        let n = self.slots.len();
        // While growing, `next == n` and the oldest is slot 0.
        let first = if self.next >= n { 0 } else { self.next };
        let mut out = Vec::new();
        for i in 0..n {
            if let Some(s) = self.slots[(first + i) % n].take() {
                out.push((s.series, s.exemplar));
            }
        }
        self.index.clear();
        self.next = 0;
        out
    }

    /// Changes the size, keeping the newest exemplars that fit
    /// (`CircularExemplarStorage.Resize`). Returns how many were kept.
    pub(crate) fn resize(&mut self, size: usize) -> usize {
        if size == self.size {
            return self.len();
        }
        let all = self.drain_in_order();
        *self = ExemplarBuffer::new(size);
        let skip = all.len().saturating_sub(size);
        let mut kept = 0;
        for (series, e) in all.into_iter().skip(skip) {
            self.insert(&series, e);
            kept += 1;
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    fn ex(trace: &str, v: f64, t: i64) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: v,
            t,
        }
    }

    fn times(b: &ExemplarBuffer, s: &str) -> Vec<i64> {
        b.select(i64::MIN, i64::MAX, |l| l == &series(s))
            .into_iter()
            .flat_map(|(_, es)| es.into_iter().map(|e| e.t))
            .collect()
    }

    #[test]
    fn size_zero_refuses_everything() {
        let mut b = ExemplarBuffer::new(0);
        assert_eq!(b.add(&series("a"), ex("x", 1.0, 1)), Verdict::Disabled);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn duplicates_are_no_ops_and_older_ones_are_out_of_order() {
        let mut b = ExemplarBuffer::new(4);
        let a = series("a");
        assert_eq!(b.add(&a, ex("x", 1.0, 10)), Verdict::Store);
        assert_eq!(b.add(&a, ex("x", 1.0, 10)), Verdict::Duplicate);
        assert_eq!(b.add(&a, ex("y", 1.0, 10)), Verdict::OutOfOrder, "same t");
        assert_eq!(b.add(&a, ex("x", 1.0, 9)), Verdict::OutOfOrder);
        assert_eq!(b.add(&a, ex("x", 2.0, 11)), Verdict::Store);
        // Order is per series: another series may go back in time.
        assert_eq!(b.add(&series("b"), ex("x", 1.0, 1)), Verdict::Store);
        assert_eq!((b.len(), b.series()), (3, 2));
    }

    #[test]
    fn a_full_buffer_overwrites_the_oldest_of_any_series() {
        let mut b = ExemplarBuffer::new(3);
        let (a, c) = (series("a"), series("c"));
        b.add(&a, ex("1", 1.0, 1));
        b.add(&c, ex("2", 1.0, 2));
        b.add(&a, ex("3", 1.0, 3));
        assert_eq!(times(&b, "a"), [1, 3]);
        b.add(&c, ex("4", 1.0, 4)); // evicts a@1
        assert_eq!(times(&b, "a"), [3]);
        assert_eq!(times(&b, "c"), [2, 4]);
        b.add(&c, ex("5", 1.0, 5)); // evicts c@2
        b.add(&c, ex("6", 1.0, 6)); // evicts a@3: a has none left
        assert_eq!(times(&b, "a"), Vec::<i64>::new());
        assert_eq!(b.series(), 1);
        assert_eq!(times(&b, "c"), [4, 5, 6]);
        // With a gone, its next exemplar starts a new chain at any time.
        assert_eq!(b.add(&a, ex("7", 1.0, 0)), Verdict::Store);
        assert_eq!(times(&b, "a"), [0]);
    }

    #[test]
    fn slots_are_allocated_as_they_are_used() {
        let mut b = ExemplarBuffer::new(1_000_000);
        assert_eq!(b.slots.capacity(), 0);
        b.add(&series("a"), ex("x", 1.0, 1));
        assert_eq!((b.slots.len(), b.size()), (1, 1_000_000));
    }

    #[test]
    fn size_one_keeps_exactly_the_newest() {
        let mut b = ExemplarBuffer::new(1);
        let a = series("a");
        for t in 1..=5 {
            assert_eq!(b.add(&a, ex("x", 1.0, t)), Verdict::Store);
            assert_eq!(times(&b, "a"), [t]);
        }
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn select_filters_by_series_and_time_and_sorts_by_labels() {
        let mut b = ExemplarBuffer::new(10);
        for (s, t) in [("z", 1), ("a", 2), ("z", 3), ("a", 4), ("m", 9)] {
            b.add(&series(s), ex("x", t as f64, t));
        }
        let got = b.select(2, 4, |_| true);
        let names: Vec<_> = got.iter().map(|(l, _)| l.metric_name().unwrap()).collect();
        assert_eq!(names, ["a", "z"], "m has nothing in range");
        assert_eq!(got[0].1.iter().map(|e| e.t).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(got[1].1.iter().map(|e| e.t).collect::<Vec<_>>(), [3]);
        assert!(b.select(10, 20, |_| true).is_empty());
        assert!(b
            .select(0, 100, |l| l.metric_name() == Some("q"))
            .is_empty());
    }

    #[test]
    fn resize_keeps_the_newest_and_their_links() {
        let mut b = ExemplarBuffer::new(4);
        let (a, c) = (series("a"), series("c"));
        for t in 1..=6 {
            let s = if t % 2 == 0 { &a } else { &c };
            b.add(s, ex("x", 1.0, t));
        }
        // Holds 3..=6; shrink to the newest two.
        assert_eq!(b.resize(2), 2);
        assert_eq!(times(&b, "c"), [5]);
        assert_eq!(times(&b, "a"), [6]);
        assert_eq!(b.resize(5), 2);
        assert_eq!(b.add(&a, ex("x", 1.0, 7)), Verdict::Store);
        assert_eq!(b.add(&a, ex("x", 1.0, 6)), Verdict::OutOfOrder);
        assert_eq!(times(&b, "a"), [6, 7]);
        assert_eq!(b.resize(0), 0);
        assert_eq!(b.add(&a, ex("x", 1.0, 8)), Verdict::Disabled);
    }
}
