//! Truncation after a flush, and garbage collection of empty series.

use super::{Head, SeriesHandle};
use crate::storage::error::Result;

impl Head {
    /// Drops every sample older than `before` and removes series left
    /// empty. Returns the number of series removed.
    pub(crate) fn truncate_before(&self, before: i64) -> Result<usize> {
        let handles: Vec<(u32, SeriesHandle)> = self
            .table
            .read()
            .by_id
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let mut empty = Vec::new();
        for (id, h) in handles {
            let mut s = h.data.lock();
            s.truncate_before(before, self.block_range)?;
            if s.is_empty() {
                empty.push(id);
            }
        }
        let mut table = self.table.write();
        let mut removed = 0;
        for id in empty {
            // Re-check under the table lock: an append may have landed since.
            let still_empty = table
                .by_id
                .get(&id)
                .is_some_and(|h| h.data.lock().is_empty());
            if still_empty {
                self.remove_locked(&mut table, id);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Whether series `id` is still held (used to filter WAL checkpoints).
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.table.read().by_id.contains_key(&id)
    }
}
