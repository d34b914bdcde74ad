//! What changed in a tenant's data since a point in time, as the earliest
//! sample timestamp written (or deleted) since then. This is the seam a
//! query results cache uses to know which of its steps are still true:
//! a range-query step at time `T` reads only samples at or before `T`
//! (without `@` and negative offsets), so a change at `t` can only alter
//! steps at `t` or later.
//!
//! Changes are recorded after the data is visible to readers, and a
//! reader takes its [`ChangeMark`] before reading: a change either shows
//! in what the reader read or is reported as after its mark, never
//! neither. A log keeps at most [`KEEP`] entries; beyond that its two
//! oldest merge into one carrying the earlier time, so only marks older
//! than both see more change than there was (a needless recomputation,
//! never a stale answer).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Entries kept per log before the oldest merge.
pub const KEEP: usize = 1_024;

/// One sequence for every log in the process, so a mark from one tenant's
/// log is never mistaken for a point in another's (or in a log that
/// replaced it after the tenant was deleted).
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// A point in a tenant's change history, from [`ChangeLog::mark`] (or a
/// mark of "no data yet" for a tenant without a partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeMark {
    /// Which log (0: the tenant had no data when the mark was taken).
    log: u64,
    /// Changes numbered above this came after the mark.
    seq: u64,
}

impl ChangeMark {
    /// A mark for a tenant that has no data (no partition) yet.
    pub fn no_data() -> ChangeMark {
        ChangeMark {
            log: 0,
            seq: SEQUENCE.load(Ordering::SeqCst),
        }
    }

    /// Whether the mark was taken while the tenant had no data.
    pub fn is_no_data(&self) -> bool {
        self.log == 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The last change merged into this entry.
    seq: u64,
    /// Earliest sample timestamp changed (`i64::MIN`: everything).
    min_t: i64,
}

/// One tenant's change history.
#[derive(Debug)]
pub struct ChangeLog {
    id: u64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for ChangeLog {
    fn default() -> ChangeLog {
        ChangeLog::new()
    }
}

impl ChangeLog {
    /// An empty history with its own identity.
    pub fn new() -> ChangeLog {
        ChangeLog {
            id: SEQUENCE.fetch_add(1, Ordering::SeqCst),
            // Allocated once: recording a change never allocates, so an
            // append to existing series stays allocation-free.
            entries: Mutex::new(VecDeque::with_capacity(KEEP + 1)),
        }
    }

    /// The current point: changes recorded from now on come after it.
    pub fn mark(&self) -> ChangeMark {
        ChangeMark {
            log: self.id,
            seq: SEQUENCE.load(Ordering::SeqCst),
        }
    }

    /// Records that samples at `min_t` or later were written (or removed);
    /// `i64::MIN` means anything may have changed. Call it after the
    /// change is visible to readers.
    pub fn record(&self, min_t: i64) {
        let mut entries = self.entries.lock();
        let seq = SEQUENCE.fetch_add(1, Ordering::SeqCst) + 1;
        entries.push_back(Entry { seq, min_t });
        if entries.len() > KEEP {
            if let Some(oldest) = entries.pop_front() {
                if let Some(next) = entries.front_mut() {
                    next.min_t = next.min_t.min(oldest.min_t);
                }
            }
        }
    }

    /// The earliest timestamp changed after `mark`: `None` if nothing
    /// changed, `Some(i64::MIN)` if anything may have (a mark of another
    /// log).
    pub fn changed_since(&self, mark: ChangeMark) -> Option<i64> {
        if mark.log != self.id {
            return Some(i64::MIN);
        }
        self.entries
            .lock()
            .iter()
            .rev()
            .take_while(|e| e.seq > mark.seq)
            .map(|e| e.min_t)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_changed_after_a_fresh_mark() {
        let log = ChangeLog::new();
        log.record(100);
        let m = log.mark();
        assert_eq!(log.changed_since(m), None);
    }

    #[test]
    fn reports_the_earliest_change_after_the_mark_only() {
        let log = ChangeLog::new();
        log.record(5);
        let m = log.mark();
        log.record(500);
        log.record(300);
        log.record(900);
        assert_eq!(log.changed_since(m), Some(300));
        let m2 = log.mark();
        log.record(1_000);
        assert_eq!(log.changed_since(m2), Some(1_000));
    }

    #[test]
    fn merged_old_entries_err_towards_changed() {
        let log = ChangeLog::new();
        let early = log.mark();
        log.record(50);
        let m = log.mark();
        for t in 0..KEEP as i64 {
            log.record(10_000 + t);
        }
        // The entry at 50 (before `m`) merged into the next one: `m` now
        // sees 50, a needless recomputation, never a stale answer.
        assert_eq!(log.changed_since(m), Some(50));
        assert_eq!(log.changed_since(early), Some(50));
        let late = log.mark();
        log.record(20_000);
        assert_eq!(log.changed_since(late), Some(20_000));
    }

    #[test]
    fn marks_of_other_logs_see_everything_changed() {
        let a = ChangeLog::new();
        let b = ChangeLog::new();
        assert_eq!(b.changed_since(a.mark()), Some(i64::MIN));
        assert!(ChangeMark::no_data().is_no_data());
        assert!(!a.mark().is_no_data());
    }
}
