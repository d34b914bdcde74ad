//! The head: the in-memory, writable part of one tenant's partition.
//!
//! Series are keyed by their sorted label set and get a compact `u32` id
//! (never reused while the process runs). Label strings are interned per
//! tenant ([`symbols`]). Appends go through two phases so that nothing is
//! applied before it is in the WAL: [`append`] decides, the partition logs,
//! then [`append`] applies. Reads are in [`read`], truncation and garbage
//! collection in [`gc`].

pub(crate) mod append;
pub(crate) mod gc;
pub(crate) mod read;
pub(crate) mod series;
pub(crate) mod symbols;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::storage::index::MemPostings;
use series::MemSeries;
use symbols::{Sym, Symbols};

/// A series: its labels (immutable) and its samples (behind a lock).
pub(crate) struct SeriesEntry {
    /// Label (name, value) symbol pairs, sorted by name string.
    pub labels: Box<[(Sym, Sym)]>,
    /// Samples.
    pub data: Mutex<MemSeries>,
}

/// A series shared between the table and readers.
pub(crate) type SeriesHandle = Arc<SeriesEntry>;

/// The head of one tenant partition.
pub(crate) struct Head {
    /// Block range in ms; chunks never straddle a multiple of it.
    pub block_range: i64,
    symbols: RwLock<Symbols>,
    postings: RwLock<MemPostings>,
    table: RwLock<SeriesTable>,
    /// Samples older than this are refused ("too old sample"): everything
    /// before it has been persisted into blocks.
    min_valid_t: AtomicI64,
    hasher: ahash::RandomState,
}

/// Series by id, and ids by label-set hash.
#[derive(Default)]
struct SeriesTable {
    by_id: HashMap<u32, SeriesHandle>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    /// Ids whose hash collided with another series' hash.
    collisions: HashMap<u64, Vec<u32>, BuildHasherDefault<IdentityHasher>>,
    next_id: u32,
}

/// The keys of `by_hash` are already hashes; hashing them again is waste.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl Head {
    /// An empty head.
    pub fn new(block_range: i64) -> Head {
        Head {
            block_range,
            symbols: RwLock::new(Symbols::default()),
            postings: RwLock::new(MemPostings::default()),
            table: RwLock::new(SeriesTable::default()),
            min_valid_t: AtomicI64::new(i64::MIN),
            hasher: ahash::RandomState::new(),
        }
    }

    /// Samples older than this are refused.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_t.load(Ordering::Acquire)
    }

    /// Raises the lower bound for new samples (never lowers it).
    pub fn set_min_valid_time(&self, t: i64) {
        self.min_valid_t.fetch_max(t, Ordering::AcqRel);
    }

    /// Number of series held.
    pub fn num_series(&self) -> usize {
        self.table.read().by_id.len()
    }

    /// Number of chunks held, closed and open.
    pub fn num_chunks(&self) -> usize {
        let handles: Vec<SeriesHandle> = self.table.read().by_id.values().cloned().collect();
        handles.iter().map(|h| h.data.lock().num_chunks()).sum()
    }

    /// Oldest and newest sample time over all series, if any.
    pub fn time_bounds(&self) -> Option<(i64, i64)> {
        let handles: Vec<SeriesHandle> = self.table.read().by_id.values().cloned().collect();
        let mut bounds: Option<(i64, i64)> = None;
        for h in handles {
            let s = h.data.lock();
            if let Some(min) = s.min_time() {
                let b = bounds.get_or_insert((min, s.maxt));
                b.0 = b.0.min(min);
                b.1 = b.1.max(s.maxt);
            }
        }
        bounds
    }

    /// Number of distinct interned strings.
    pub fn num_symbols(&self) -> usize {
        self.symbols.read().len()
    }

    fn hash_labels<'a>(&self, labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        let mut h = self.hasher.build_hasher();
        for (n, v) in labels {
            h.write(n.as_bytes());
            h.write_u8(0xff);
            h.write(v.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }
}

use std::hash::BuildHasher;

/// Resolves symbol pairs into owned labels.
fn resolve_labels(symbols: &Symbols, pairs: &[(Sym, Sym)]) -> crate::model::Labels {
    let v = pairs
        .iter()
        .map(|&(n, v)| crate::model::Label {
            name: symbols.resolve(n).to_string(),
            value: symbols.resolve(v).to_string(),
        })
        .collect();
    crate::model::Labels::from_sorted_unchecked(v)
}
