//! Appending to an existing series allocates nothing (until a chunk is cut).
//!
//! A counting global allocator tracks allocations made by this thread; the
//! test warms the series and the append buffers up, then appends samples
//! one call at a time and expects zero allocations.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tessera::model::{LabelRef, Sample};
use tessera::storage::SeriesInput;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn appending_to_existing_series_does_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::open(&common::config(dir.path(), 7_200_000));
    let t = common::tenant("t");
    let a = [
        LabelRef::new("__name__", "up"),
        LabelRef::new("job", "a"),
        LabelRef::new("instance", "h:9100"),
    ];
    let b = [LabelRef::new("job", "b"), LabelRef::new("__name__", "up")]; // unsorted on purpose
    let mut t_ms = 1_000_000i64;
    let mut append = |n: usize| -> u64 {
        let before = allocs();
        for _ in 0..n {
            t_ms += 15_000;
            // A steady gauge: the open chunk fills slowly and is not cut.
            let s = [Sample::new(t_ms, 42.5)];
            let out = st
                .append(
                    &t,
                    &[
                        SeriesInput {
                            labels: &a,
                            samples: &s,
                            histograms: &[],
                        },
                        SeriesInput {
                            labels: &b,
                            samples: &s,
                            histograms: &[],
                        },
                    ],
                )
                .unwrap();
            assert_eq!(out.accepted, 2);
        }
        allocs() - before
    };
    let warm = append(10);
    assert!(
        warm > 0,
        "creating the series allocates ({warm} allocations)"
    );
    // 10 + 50 samples stay inside the first 120-sample chunk.
    assert_eq!(append(50), 0, "appends to existing series allocated");
}
