//! Exemplar storage: per tenant, a bounded circular buffer (`buffer.rs`)
//! whose additions are logged in the tenant's WAL (record type 5), so a
//! restart finds what was stored. Exemplars attach to series the head
//! already holds, as in Prometheus, where `AppendExemplar` needs the
//! series' reference from a sample append.
//!
//! Memory is bounded per tenant by `max_exemplars` slots; 0 turns storage
//! off for the tenant and every exemplar it sends is counted as discarded.

pub(crate) mod buffer;

use std::collections::HashMap;

use crate::model::{Exemplar, LabelRef, Labels};
use crate::storage::error::Result;
use crate::storage::head::append::normalize_label_order;
use crate::storage::index::Matcher;
use crate::storage::partition::{OpenReport, Partition};
use crate::storage::wal::ExemplarEntry;
use buffer::{ExemplarBuffer, Verdict};

/// Prometheus' default `storage.exemplars.max_exemplars` once exemplar
/// storage is on: the default per-tenant size.
pub const DEFAULT_MAX_EXEMPLARS: u64 = 100_000;

/// Exemplars of one series, as a sender gave them.
#[derive(Debug, Clone, Copy)]
pub struct ExemplarInput<'a> {
    /// The series' labels in any order (it must already exist: the
    /// exemplars of a request are stored after its samples).
    pub labels: &'a [LabelRef<'a>],
    /// Its exemplars, validated (label rules and length).
    pub exemplars: &'a [Exemplar],
}

/// What storing a batch of exemplars did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExemplarOutcome {
    /// Stored (and logged).
    pub stored: u64,
    /// Equal to their series' newest exemplar: nothing to do, not an error
    /// (Prometheus counts them as written too).
    pub duplicates: u64,
    /// Refused: not newer than their series' newest exemplar.
    pub out_of_order: u64,
    /// Refused: the series does not exist (its samples were refused or
    /// never sent) or its labels are invalid.
    pub unknown_series: u64,
    /// Refused: the tenant's `max_exemplars` is 0.
    pub disabled: u64,
}

impl ExemplarOutcome {
    /// Exemplars not stored for a reason other than being a duplicate.
    pub fn discarded(&self) -> u64 {
        self.out_of_order + self.unknown_series + self.disabled
    }
}

/// One series' exemplars as a query returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarSeries {
    /// The series.
    pub labels: Labels,
    /// Its exemplars in range, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// How full a tenant's exemplar buffer is, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExemplarStats {
    /// Slots (`max_exemplars`).
    pub size: u64,
    /// Exemplars held.
    pub stored: u64,
    /// Series with at least one exemplar held.
    pub series: u64,
}

impl Partition {
    /// Stores exemplars of existing series: validated against the buffer,
    /// logged, then added. Holds the append lock so that the series
    /// records the exemplars refer to are always logged before them.
    pub(crate) fn append_exemplars(&self, batch: &[ExemplarInput<'_>]) -> Result<ExemplarOutcome> {
        let mut out = ExemplarOutcome::default();
        let appending = self.lock_appends();
        let mut buf = self.exemplars.lock();
        if buf.size() == 0 {
            out.disabled = batch.iter().map(|b| b.exemplars.len() as u64).sum();
            return Ok(out);
        }
        let mut entries: Vec<ExemplarEntry> = Vec::new();
        let mut series_of: Vec<Labels> = Vec::new();
        // The newest accepted exemplar of each series in this batch.
        let mut newest: HashMap<u32, usize> = HashMap::new();
        for input in batch {
            let Some((id, labels)) = self.existing_series(input.labels) else {
                out.unknown_series += input.exemplars.len() as u64;
                continue;
            };
            for e in input.exemplars {
                let prev = match newest.get(&id) {
                    Some(&i) => Some(&entries[i].exemplar),
                    None => buf.newest(&labels),
                };
                match buffer::verdict(prev, e) {
                    Verdict::Store => {
                        newest.insert(id, entries.len());
                        entries.push(ExemplarEntry {
                            series: id,
                            exemplar: e.clone(),
                        });
                        series_of.push(labels.clone());
                    }
                    Verdict::Duplicate => out.duplicates += 1,
                    Verdict::OutOfOrder => out.out_of_order += 1,
                    Verdict::Disabled => out.disabled += 1,
                }
            }
        }
        if entries.is_empty() {
            return Ok(out);
        }
        let pos = self.wal.log_exemplars(&entries)?;
        for (e, labels) in entries.into_iter().zip(&series_of) {
            buf.add(labels, e.exemplar);
            out.stored += 1;
        }
        drop(buf);
        drop(appending);
        self.wal.sync_to(pos)?;
        Ok(out)
    }

    /// The head id and labels of the series `labels` names, if it exists.
    fn existing_series(&self, labels: &[LabelRef<'_>]) -> Option<(u32, Labels)> {
        let mut order = Vec::new();
        normalize_label_order(labels, &mut order).ok()?;
        let key = self.head.series_key(labels, &order);
        let mut found = Vec::with_capacity(1);
        self.head.lookup_keys(&[key], &mut found);
        let h = found.pop().flatten()?;
        let l = self.head.labels_of(&h);
        Some((h.id, l))
    }

    /// Exemplars in `[start, end]` of series matching every matcher.
    pub(crate) fn select_exemplars(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Vec<ExemplarSeries> {
        let wanted = |l: &Labels| {
            matchers
                .iter()
                .all(|m| m.matches(l.get(&m.name).unwrap_or("")))
        };
        self.exemplars
            .lock()
            .select(start, end, wanted)
            .into_iter()
            .map(|(labels, exemplars)| ExemplarSeries { labels, exemplars })
            .collect()
    }

    /// Applies a new `max_exemplars` (a config reload), keeping the newest.
    pub(crate) fn resize_exemplars(&self, size: u64) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let mut buf = self.exemplars.lock();
        if buf.size() != size {
            buf.resize(size);
        }
    }

    /// Size and fill of the buffer.
    pub(crate) fn exemplar_stats(&self) -> ExemplarStats {
        let buf = self.exemplars.lock();
        ExemplarStats {
            size: buf.size() as u64,
            stored: buf.len() as u64,
            series: buf.series() as u64,
        }
    }
}

/// Replays logged exemplars into `buf`: each goes to the series its id
/// named when it was logged; an id the head no longer has is skipped and
/// counted.
pub(crate) fn replay_exemplars(
    head: &crate::storage::head::Head,
    buf: &mut ExemplarBuffer,
    entries: Vec<ExemplarEntry>,
    report: &mut OpenReport,
) {
    for e in entries {
        match head.series(e.series) {
            Some(h) => {
                let labels = head.labels_of(&h);
                if buf.add(&labels, e.exemplar) != Verdict::Store {
                    report.exemplars_skipped += 1;
                }
            }
            None => report.exemplars_skipped += 1,
        }
    }
}
