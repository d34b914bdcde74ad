//! The head's in-memory postings.
//!
//! STUB: to be implemented.

use std::sync::Arc;

/// Mutable postings for the head: name → value → bitmap of series ids.
/// Strings are `Arc<str>` shared with the head's symbol table.
#[derive(Debug, Default)]
pub(crate) struct MemPostings {
    _todo: (),
}

impl MemPostings {
    /// Adds series `id` under each of its label pairs.
    pub fn add(&mut self, id: u32, labels: &[(Arc<str>, Arc<str>)]) {
        let _ = (id, labels);
        todo!()
    }

    /// Removes series `id` from each of its label pairs, dropping emptied entries.
    pub fn remove(&mut self, id: u32, labels: &[(Arc<str>, Arc<str>)]) {
        let _ = (id, labels);
        todo!()
    }

    /// Number of distinct series ids.
    pub fn num_series(&self) -> u64 {
        todo!()
    }
}
