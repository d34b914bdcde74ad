//! Replays the fuzzers' seed corpus and every input that once crashed a
//! fuzz target (`tests/fuzz/regressions/<target>/`) through the same
//! target functions the fuzzers run, so a fixed crash stays fixed in the
//! ordinary test run. The time-bounded fuzzing itself runs in `.ci/run`
//! (`tests/fuzz/run.sh`).

#[path = "fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("remote_write", targets::remote_write),
    ("snappy", targets::snappy),
    ("text", targets::text),
    ("push", targets::push),
    ("remote_read", targets::remote_read),
    ("promql", targets::promql),
    ("query_params", targets::query_params),
    ("otlp", targets::otlp),
];

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(kind);
    let mut n = 0;
    for (name, f) in TARGETS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let run = std::panic::catch_unwind(|| f(&data));
            assert!(run.is_ok(), "{name}: {} fails again", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_input_passes_every_target() {
    let n = replay("corpus");
    // The seed corpus covers every target (see tests/fuzz/src/bin/seed.rs).
    assert!(n > 500, "only {n} seed inputs found");
}

#[test]
fn every_kept_crash_input_stays_fixed() {
    replay("regressions");
}
