//! Which log sequences an owned partition's shipped blocks cover, so a
//! node taking the partition over replays only what they do not.
//!
//! Every block written from a head records, in its meta's `extra` under
//! [`SEQ_KEY`], a sequence `S` of the partition's subject such that every
//! message up to `S`, of every tenant, is in blocks that are in the
//! bucket once this block is: the block's own tenant's messages are
//! covered below the block's flush boundary (this block and the
//! tenant's earlier ones, which ship first), another tenant's only
//! below the boundary of blocks already known shipped. A message counts
//! as covered when its newest sample is below the boundary: appends are
//! atomic against a flush's boundary, so every sample of it is in a
//! block (or was refused as too old, which a replay would refuse again).
//!
//! A node taking the partition over starts consuming after the greatest
//! `S` among the partition's shipped blocks (any one block's `S` holds,
//! so the greatest does).

use std::collections::{BTreeMap, HashMap};

use crate::tenant::TenantId;

/// The key of the covered sequence in a block meta's `extra`.
pub const SEQ_KEY: &str = "ingestLogSeq";

/// Most remembered messages per tenant before neighbours are merged.
const MAX_ENTRIES: usize = 4096;

/// What this owner applied of one tenant and does not yet know shipped.
#[derive(Debug, Default)]
struct TenantLog {
    /// `(sequence, newest sample time)`, sequences ascending and times
    /// strictly ascending: a message whose newest time is not above an
    /// earlier one's is covered whenever that earlier one is, so it is
    /// not kept. Merging two neighbours keeps the first sequence and the
    /// second time, which only makes the answer earlier (safe).
    entries: Vec<(u64, i64)>,
    /// Every sample of this tenant older than this is in shipped blocks.
    shipped: i64,
}

impl TenantLog {
    /// The first remembered sequence with a sample at or after `boundary`.
    fn first_uncovered(&self, boundary: i64) -> Option<u64> {
        self.entries
            .iter()
            .find(|&&(_, t)| t >= boundary)
            .map(|&(s, _)| s)
    }
}

/// Coverage bookkeeping of one owned partition.
#[derive(Debug)]
pub(crate) struct Coverage {
    /// Last sequence applied (messages are applied in order).
    applied: u64,
    tenants: HashMap<TenantId, TenantLog>,
}

impl Coverage {
    /// Bookkeeping starting after `start` (everything up to it is covered).
    pub fn new(start: u64) -> Coverage {
        Coverage {
            applied: start,
            tenants: HashMap::new(),
        }
    }

    /// Records message `seq` of `tenant`, applied, whose newest sample
    /// time is `newest` (`None` for a message without samples).
    pub fn applied(&mut self, seq: u64, tenant: &TenantId, newest: Option<i64>) {
        self.applied = self.applied.max(seq);
        let Some(t) = newest else { return };
        let log = self.tenants.entry(tenant.clone()).or_insert(TenantLog {
            entries: Vec::new(),
            shipped: i64::MIN,
        });
        if t < log.shipped || log.entries.last().is_some_and(|&(_, last)| t <= last) {
            return;
        }
        log.entries.push((seq, t));
        if log.entries.len() > MAX_ENTRIES {
            log.entries = log
                .entries
                .chunks(2)
                .map(|c| (c[0].0, c[c.len() - 1].1))
                .collect();
        }
    }

    /// Records that every sample of `tenant` older than `boundary` is in
    /// shipped blocks.
    pub fn shipped(&mut self, tenant: &TenantId, boundary: i64) {
        if let Some(log) = self.tenants.get_mut(tenant) {
            log.shipped = log.shipped.max(boundary);
            let b = log.shipped;
            log.entries.retain(|&(_, t)| t >= b);
        }
    }

    /// Forgets what was applied of `tenant`, now deleted: its earlier
    /// messages have no effect left to cover, so they no longer hold the
    /// covered sequence back.
    pub fn deleted(&mut self, tenant: &TenantId) {
        self.tenants.remove(tenant);
    }

    /// The sequence a block of `tenant` flushed at `boundary` covers.
    pub fn covered(&self, tenant: &TenantId, boundary: i64) -> u64 {
        let mut first = self.applied.saturating_add(1);
        for (t, log) in &self.tenants {
            let b = if t == tenant {
                boundary.max(log.shipped)
            } else {
                log.shipped
            };
            if let Some(s) = log.first_uncovered(b) {
                first = first.min(s);
            }
        }
        first - 1
    }

    /// The meta extras of such a block.
    pub fn extra(&self, tenant: &TenantId, boundary: i64) -> BTreeMap<String, String> {
        BTreeMap::from([(
            SEQ_KEY.to_string(),
            self.covered(tenant, boundary).to_string(),
        )])
    }
}

/// The greatest covered sequence among block metas' extras (0 if none
/// records one); a value that is not a number is ignored.
pub(crate) fn replay_start<'a>(
    extras: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> u64 {
    extras
        .into_iter()
        .filter_map(|e| e.get(SEQ_KEY)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[test]
    fn empty_and_one_tenant() {
        let c = Coverage::new(10);
        assert_eq!(c.covered(&t("a"), 0), 10);
        let mut c = Coverage::new(0);
        c.applied(1, &t("a"), Some(100));
        c.applied(2, &t("a"), Some(200));
        c.applied(3, &t("a"), None);
        // Flushed below 150: message 2 still has a sample in the head.
        assert_eq!(c.covered(&t("a"), 150), 1);
        assert_eq!(c.covered(&t("a"), 100), 0);
        assert_eq!(c.covered(&t("a"), 201), 3);
    }

    #[test]
    fn a_deleted_tenant_holds_nothing_back() {
        let mut c = Coverage::new(0);
        c.applied(1, &t("b"), Some(50));
        c.applied(2, &t("a"), Some(100));
        assert_eq!(c.covered(&t("a"), 1000), 0);
        // b is deleted by message 3: its message 1 has nothing left to cover.
        c.deleted(&t("b"));
        c.applied(3, &t("b"), None);
        assert_eq!(c.covered(&t("a"), 1000), 3);
        assert_eq!(c.covered(&t("a"), 100), 1);
    }

    #[test]
    fn another_tenant_counts_only_once_shipped() {
        let mut c = Coverage::new(0);
        c.applied(1, &t("b"), Some(50));
        c.applied(2, &t("a"), Some(100));
        c.applied(3, &t("b"), Some(300));
        // b's message 1 is not known shipped: a's block covers nothing.
        assert_eq!(c.covered(&t("a"), 1000), 0);
        c.shipped(&t("b"), 60);
        assert_eq!(c.covered(&t("a"), 1000), 2);
        c.shipped(&t("b"), 301);
        assert_eq!(c.covered(&t("a"), 1000), 3);
        // A flush of b below 300 leaves message 3 uncovered, but a's
        // message 2 is then only covered if a shipped.
        let mut c = Coverage::new(0);
        c.applied(1, &t("b"), Some(50));
        c.applied(2, &t("a"), Some(100));
        c.applied(3, &t("b"), Some(300));
        assert_eq!(c.covered(&t("b"), 200), 1);
        c.shipped(&t("a"), 101);
        assert_eq!(c.covered(&t("b"), 200), 2);
    }

    #[test]
    fn late_samples_and_merging_stay_safe() {
        let mut c = Coverage::new(0);
        c.applied(1, &t("a"), Some(500));
        // An older message later in the log is covered with message 1.
        c.applied(2, &t("a"), Some(100));
        assert_eq!(c.covered(&t("a"), 200), 0);
        assert_eq!(c.covered(&t("a"), 501), 2);
        let mut c = Coverage::new(0);
        for s in 1..=(3 * MAX_ENTRIES as u64) {
            c.applied(s, &t("a"), Some(s as i64 * 10));
        }
        let n = 3 * MAX_ENTRIES as u64;
        let got = c.covered(&t("a"), 10_000);
        // Exactly 999 messages are fully below 10_000; merging may only
        // make the answer earlier, never later.
        assert!(got <= 999 && got + 8 >= 999, "{got}");
        assert_eq!(c.covered(&t("a"), n as i64 * 10 + 1), n);
        assert!(c.tenants[&t("a")].entries.len() <= MAX_ENTRIES);
    }

    #[test]
    fn replay_starts_after_the_greatest_recorded_sequence() {
        let e = |v: &str| BTreeMap::from([(SEQ_KEY.to_string(), v.to_string())]);
        let metas = [e("5"), BTreeMap::new(), e("12"), e("junk")];
        assert_eq!(replay_start(&metas), 12);
        assert_eq!(replay_start(&[]), 0);
    }
}
