//! The Markdown summary: one row per file, then skip reasons, panics,
//! load problems, and (verbose) every failure.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::run::{FileReport, Outcome};

/// Totals over a set of cases.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Evals.
    pub cases: usize,
    /// Passed.
    pub passed: usize,
    /// Failed (panics included).
    pub failed: usize,
    /// Failed only in an `@` variant or range-mode check.
    pub failed_extra_only: usize,
    /// Failed by panicking.
    pub panics: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Counts {
    /// Counts one file's cases.
    pub fn of(rep: &FileReport) -> Counts {
        let mut c = Counts::default();
        for case in &rep.cases {
            c.cases += 1;
            match &case.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Skip(_) => c.skipped += 1,
                Outcome::Fail {
                    extra_only, panic, ..
                } => {
                    c.failed += 1;
                    c.failed_extra_only += usize::from(*extra_only);
                    c.panics += usize::from(*panic);
                }
            }
        }
        c
    }

    fn add(&mut self, o: Counts) {
        self.cases += o.cases;
        self.passed += o.passed;
        self.failed += o.failed;
        self.failed_extra_only += o.failed_extra_only;
        self.panics += o.panics;
        self.skipped += o.skipped;
    }
}

/// Totals over all files.
pub fn total(reps: &[FileReport]) -> Counts {
    let mut t = Counts::default();
    for r in reps {
        t.add(Counts::of(r));
    }
    t
}

fn row(out: &mut String, name: &str, c: Counts, rep: Option<&FileReport>) {
    let (loaded, rejected, hist) = rep.map_or((String::new(), String::new(), String::new()), |r| {
        (
            r.samples_loaded.to_string(),
            r.rejected.values().sum::<u64>().to_string(),
            r.histogram_samples.to_string(),
        )
    });
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {} | {loaded} | {rejected} | {hist} |",
        c.cases, c.passed, c.failed, c.failed_extra_only, c.panics, c.skipped
    );
}

/// Renders the whole report.
pub fn render(reps: &[FileReport], floor: usize) -> String {
    let mut out = String::from("# promqltest conformance\n\n");
    out.push_str("| file | cases | passed | failed | failed only in extra checks | panics | skipped | samples loaded | samples rejected | histogram samples loaded |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in reps {
        row(&mut out, &r.name, Counts::of(r), Some(r));
    }
    let t = total(reps);
    row(&mut out, "**total**", t, None);
    let _ = writeln!(
        out,
        "\nFloor (tests/promqltest/FLOOR): {floor}; passed: {}.\n",
        t.passed
    );
    skip_reasons(&mut out, reps);
    panics(&mut out, reps, t.panics);
    load_problems(&mut out, reps);
    out
}

fn skip_reasons(out: &mut String, reps: &[FileReport]) {
    let mut by_reason: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in reps {
        for c in &r.cases {
            if let Outcome::Skip(reason) = &c.outcome {
                *by_reason
                    .entry(reason)
                    .or_default()
                    .entry(&r.name)
                    .or_default() += 1;
            }
        }
    }
    out.push_str("## Skip reasons\n\n| reason | cases | files |\n|---|---:|---|\n");
    let mut rows: Vec<_> = by_reason.into_iter().collect();
    rows.sort_by_key(|(_, files)| std::cmp::Reverse(files.values().sum::<usize>()));
    for (reason, files) in rows {
        let n: usize = files.values().sum();
        let list: Vec<String> = files.iter().map(|(f, n)| format!("{f} ({n})")).collect();
        let reason = reason.replace('|', "\\|");
        let _ = writeln!(out, "| {reason} | {n} | {} |", list.join(", "));
    }
    out.push('\n');
}

fn panics(out: &mut String, reps: &[FileReport], n: usize) {
    if n == 0 {
        out.push_str("## Panics\n\nNone.\n\n");
        return;
    }
    let _ = writeln!(out, "## Panics ({n} cases; the engine must never panic)\n");
    let mut by_msg: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in reps {
        for c in &r.cases {
            if let Outcome::Fail {
                msg, panic: true, ..
            } = &c.outcome
            {
                let first = msg.lines().next().unwrap_or(msg);
                by_msg
                    .entry(first)
                    .or_default()
                    .push(format!("{}:{}", r.name, c.line));
            }
        }
    }
    out.push_str("| message | cases | first cases |\n|---|---:|---|\n");
    for (msg, cases) in by_msg {
        let first: Vec<&str> = cases.iter().take(8).map(String::as_str).collect();
        let msg = msg.replace('|', "\\|");
        let _ = writeln!(out, "| {msg} | {} | {} |", cases.len(), first.join(", "));
    }
    out.push('\n');
}

fn load_problems(out: &mut String, reps: &[FileReport]) {
    let mut lines = Vec::new();
    for r in reps {
        for (reason, n) in &r.rejected {
            lines.push(format!(
                "- {}: {n} samples rejected by storage: {reason}",
                r.name
            ));
        }
        for (line, msg) in &r.invalid_lines {
            lines.push(format!(
                "- {}:{line}: script line not understood: {msg}",
                r.name
            ));
        }
    }
    out.push_str("## Load and script problems\n\n");
    if lines.is_empty() {
        out.push_str("None: storage accepted every float sample and every line parsed.\n");
    } else {
        out.push_str(&lines.join("\n"));
        out.push('\n');
    }
}

/// Every failure with its file, line, query and message (for
/// `PROMQLTEST_VERBOSE=1`), and with `with_skips` every skip too.
pub fn failures(reps: &[FileReport], with_skips: bool) -> String {
    let mut out = String::new();
    for r in reps {
        for c in &r.cases {
            match &c.outcome {
                Outcome::Fail { msg, .. } => {
                    let _ = writeln!(out, "FAIL {}:{}: {}\n    {msg}", r.name, c.line, c.expr);
                }
                Outcome::Skip(why) if with_skips => {
                    let _ = writeln!(out, "SKIP {}:{}: {}\n    {why}", r.name, c.line, c.expr);
                }
                _ => {}
            }
        }
    }
    out
}
