//! Which queriers are open, so a flush never truncates head data out from
//! under a querier whose block list predates the flush's new block.
//!
//! A querier lists the partition's blocks when it is created and reads the
//! head later. A flush publishes its block and then truncates the head; a
//! querier created before the publish, reading the head after the
//! truncation, would find the flushed samples in neither place. So every
//! querier registers under the current *epoch*; a flush, after publishing
//! its block, starts a new epoch and waits until no querier of an older
//! epoch is left before it truncates. Queriers created after the new epoch
//! began already list the new block and are not waited for, so a steady
//! stream of queries cannot starve the flush. This is the role of
//! Prometheus' `Head.WaitForPendingReadersInTimeRange`
//! (`tsdb/head.go`), with epochs instead of time ranges.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// Open queriers per epoch, and the current epoch.
#[derive(Default)]
pub(crate) struct Readers {
    state: Mutex<State>,
    released: Condvar,
}

#[derive(Default)]
struct State {
    epoch: u64,
    open: BTreeMap<u64, usize>,
}

/// A registered querier; dropping it releases the registration.
pub(crate) struct ReadGuard {
    readers: Arc<Readers>,
    epoch: u64,
}

impl Readers {
    /// Registers a querier; `snapshot` runs under the registry lock so the
    /// block list it takes belongs to the epoch registered.
    pub(crate) fn register<T>(self: &Arc<Self>, snapshot: impl FnOnce() -> T) -> (ReadGuard, T) {
        let mut s = self.state.lock();
        let taken = snapshot();
        let epoch = s.epoch;
        *s.open.entry(epoch).or_default() += 1;
        let guard = ReadGuard {
            readers: self.clone(),
            epoch,
        };
        (guard, taken)
    }

    /// Starts a new epoch and waits until every querier registered before
    /// it is dropped.
    pub(crate) fn wait_for_older(&self) {
        let mut s = self.state.lock();
        s.epoch += 1;
        let current = s.epoch;
        while s.open.range(..current).next().is_some() {
            self.released.wait(&mut s);
        }
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let mut s = self.readers.state.lock();
        if let Some(n) = s.open.get_mut(&self.epoch) {
            *n -= 1;
            if *n == 0 {
                s.open.remove(&self.epoch);
            }
        }
        drop(s);
        self.readers.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flush_waits_for_older_queriers_only() {
        let r = Arc::new(Readers::default());
        let (old, ()) = r.register(|| ());
        let waiter = {
            let r = r.clone();
            std::thread::spawn(move || r.wait_for_older())
        };
        std::thread::sleep(Duration::from_millis(50));
        // A querier registered after the new epoch began is not waited for.
        let (_new, ()) = r.register(|| ());
        assert!(
            !waiter.is_finished(),
            "returned while an older querier was open"
        );
        drop(old);
        waiter.join().unwrap();
    }

    #[test]
    fn no_queriers_means_no_wait() {
        let r = Arc::new(Readers::default());
        r.wait_for_older();
        let (g, n) = r.register(|| 7);
        assert_eq!(n, 7);
        drop(g);
        r.wait_for_older();
    }
}
