//! Runs Prometheus's PromQL test scripts (`promqltest` format) against the
//! real storage engine and PromQL engine, and reports a pass/fail/skip
//! table per file.
//!
//! Scripts are read from `../shared/peer-tests/promqltest` next to the
//! repository, or from `$PROMQLTEST_DIR`. The table is printed and written to
//! `$PROMQLTEST_TABLE` (default: `$CARGO_TARGET_TMPDIR/promqltest-table.md`).
//! `PROMQLTEST_VERBOSE=1` prints every failure (`=2` also every skip). The test fails when fewer
//! cases pass than the number in `tests/promqltest/FLOOR`.

#[path = "promqltest/compare.rs"]
mod compare;
#[path = "promqltest/exprs.rs"]
mod exprs;
#[path = "promqltest/hist.rs"]
mod hist;
#[path = "promqltest/nhcb.rs"]
mod nhcb;
#[path = "promqltest/report.rs"]
mod report;
#[path = "promqltest/run.rs"]
mod run;
#[path = "promqltest/script.rs"]
mod script;
#[path = "promqltest/values.rs"]
mod values;

#[cfg(test)]
#[path = "promqltest/unit.rs"]
mod unit;

use std::path::PathBuf;

fn scripts_dir() -> PathBuf {
    match std::env::var_os("PROMQLTEST_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/peer-tests/promqltest"),
    }
}

fn floor_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promqltest/FLOOR")
}

fn read_floor() -> usize {
    let p = floor_path();
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{} must hold a number: {e}", p.display()))
}

/// The `.test` files of `dir`, sorted by name.
fn script_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("promqltest scripts at {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
}

#[test]
fn promqltest_scripts() {
    let dir = scripts_dir();
    let files = script_files(&dir);
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let started = std::time::Instant::now();
    let mut runner = run::Runner::new();
    let reports: Vec<run::FileReport> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("read script");
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            runner.run_file(&name.unwrap_or_default(), &text)
        })
        .collect();
    let floor = read_floor();
    let mut table = report::render(&reports, floor);
    table.push_str(&format!(
        "\nRun time: {:.1}s.\n",
        started.elapsed().as_secs_f64()
    ));
    println!("{table}");
    let verbose = std::env::var("PROMQLTEST_VERBOSE").unwrap_or_default();
    if verbose == "1" || verbose == "2" {
        println!("{}", report::failures(&reports, verbose == "2"));
    }
    let out = std::env::var_os("PROMQLTEST_TABLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("promqltest-table.md"));
    std::fs::write(&out, &table).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
    println!("table written to {}", out.display());

    let passed = report::total(&reports).passed;
    assert!(
        passed >= floor,
        "promqltest: {passed} cases passed, below the floor of {floor} in tests/promqltest/FLOOR. \
         That is a regression: run with PROMQLTEST_VERBOSE=1 to see the failures. If the drop \
         is intended, write {passed} into tests/promqltest/FLOOR."
    );
    if passed > floor {
        println!(
            "promqltest: {passed} cases pass, above the floor of {floor}: \
             raise tests/promqltest/FLOOR to {passed} to lock the gain in"
        );
    }
}
