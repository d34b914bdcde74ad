//! The head: the in-memory, writable part of one tenant's partition.
//!
//! Series are keyed by their sorted label set and get a compact `u32` id
//! (never reused while the process runs). Label strings are interned per
//! tenant ([`symbols`]). Appends go through two phases so that nothing is
//! applied before it is in the WAL: [`append`] decides, the partition logs,
//! then [`append`] applies. Reads are in [`read`], truncation and garbage
//! collection in [`gc`].

pub(crate) mod append;
pub(crate) mod cardinality;
pub(crate) mod gc;
mod histograms;
pub(crate) mod read;
pub(crate) mod reset_hint;
pub(crate) mod series;
mod start_times;
pub(crate) mod symbols;

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::storage::index::MemPostings;
use series::MemSeries;
use symbols::{Sym, Symbols};

/// A series: its id and labels (immutable) and its samples (behind a lock).
pub(crate) struct SeriesEntry {
    /// Head-local id.
    pub id: u32,
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
    keys: LabelKeyer,
    /// The label order of recent large selections (`read.rs`).
    orders: Mutex<read::OrderCache>,
}

/// Series by id, and by label-set key.
#[derive(Default)]
struct SeriesTable {
    by_id: HashMap<u32, SeriesHandle, BuildHasherDefault<MixHasher>>,
    by_key: HashMap<SeriesKey, SeriesHandle, BuildHasherDefault<MixHasher>>,
    /// Series per metric name (`__name__` value; "" for none), for the
    /// per-metric series limit. Kept in step with `by_key`.
    per_metric: HashMap<String, u64>,
    next_id: u32,
}

/// A series' key as two words (a `u128` would be 16-byte aligned and pad
/// every table slot to 32 bytes). Both words are keyed hashes, so hashing
/// the first is enough to place it in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SeriesKey(u64, u64);

impl std::hash::Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Computes a series' key: a 128-bit hash of its sorted label bytes, from
/// two independently and randomly keyed hashers.
///
/// The key stands for the label set: two label sets are taken to be the
/// same series when their keys are equal, so a lookup never has to compare
/// label strings (which costs several cache misses per series). This is
/// sound because (a) by chance, among even 10^9 series the probability of
/// any two keys colliding is below 10^-20, and (b) the hashers' keys are
/// random per process and never leave it, so a sender cannot construct
/// colliding label sets.
struct LabelKeyer {
    a: ahash::RandomState,
    b: ahash::RandomState,
}

impl LabelKeyer {
    fn new() -> LabelKeyer {
        LabelKeyer {
            a: ahash::RandomState::new(),
            b: ahash::RandomState::new(),
        }
    }

    fn key<'a>(&self, labels: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> SeriesKey {
        let one = |rs: &ahash::RandomState| {
            let mut h = rs.build_hasher();
            for (n, v) in labels.clone() {
                h.write_usize(n.len());
                h.write(n);
                h.write_usize(v.len());
                h.write(v);
            }
            h.finish()
        };
        SeriesKey(one(&self.a), one(&self.b))
    }
}

/// A cheap multiplicative hasher for keys that are already ids or hashes.
#[derive(Default)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, v: u64) {
        // Only series keys hash as a u64: already keyed, uniformly spread.
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
            orders: Mutex::new(read::OrderCache::default()),
            min_valid_t: AtomicI64::new(i64::MIN),
            keys: LabelKeyer::new(),
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

    /// Chunks held (closed and open) and the oldest and newest sample time,
    /// in one pass that locks each series once.
    pub fn chunks_and_bounds(&self) -> (usize, Option<(i64, i64)>) {
        let handles: Vec<SeriesHandle> = self.table.read().by_id.values().cloned().collect();
        let mut chunks = 0;
        let mut bounds: Option<(i64, i64)> = None;
        for h in handles {
            let s = h.data.lock();
            chunks += s.num_chunks();
            if let Some(min) = s.min_time() {
                let b = bounds.get_or_insert((min, s.maxt));
                b.0 = b.0.min(min);
                b.1 = b.1.max(s.maxt);
            }
        }
        (chunks, bounds)
    }

    /// Oldest and newest sample time over all series, if any.
    pub fn time_bounds(&self) -> Option<(i64, i64)> {
        self.chunks_and_bounds().1
    }

    /// Number of distinct interned strings.
    pub fn num_symbols(&self) -> usize {
        self.symbols.read().len()
    }

    fn key_of_pairs(&self, pairs: &[(Sym, Sym)], sy: &Symbols) -> SeriesKey {
        self.keys.key(
            pairs
                .iter()
                .map(|&(n, v)| (sy.resolve(n).as_bytes(), sy.resolve(v).as_bytes())),
        )
    }
}

/// Hints the CPU to bring the `bytes` bytes at `p` into cache. It is only
/// a hint: nothing is dereferenced, so any address is fine.
#[inline]
pub(crate) fn prefetch<T>(p: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..bytes).step_by(64) {
        // SAFETY: `_mm_prefetch` never faults and reads nothing the program
        // can observe; the pointer is not dereferenced.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (p as *const i8).wrapping_add(off),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, bytes);
}

/// Resolves symbol pairs into owned labels.
fn resolve_labels(symbols: &Symbols, pairs: &[(Sym, Sym)]) -> crate::model::Labels {
    let v = pairs
        .iter()
        .map(|&(n, v)| crate::model::Label {
            name: symbols.resolve(n).into(),
            value: symbols.resolve(v).into(),
        })
        .collect();
    crate::model::Labels::from_sorted_unchecked(v)
}
