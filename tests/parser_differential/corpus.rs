//! The parser corpus shared by the differential test and the parser
//! benchmark: every expression of the promqltest scripts, the compliance
//! query list expanded from its templates, and generated expressions.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where the promqltest scripts are (`$PROMQLTEST_DIR` or `../shared`).
pub fn scripts_dir() -> PathBuf {
    match std::env::var_os("PROMQLTEST_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/peer-tests/promqltest"),
    }
}

/// The expression of an `eval` line, if it is one.
fn eval_expr(line: &str) -> Option<&str> {
    let line = line.trim();
    let rest = ["eval_fail ", "eval_warn ", "eval_info ", "eval_ordered ", "eval "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    if let Some(r) = rest.strip_prefix("instant at ") {
        return r.split_once(' ').map(|(_, e)| e.trim());
    }
    let r = rest.strip_prefix("range from ")?;
    let (_, after_step) = r.split_once(" step ")?;
    after_step.split_once(' ').map(|(_, e)| e.trim())
}

/// Every `eval` expression of the `.test` files in `dir`, in file order.
pub fn promqltest_exprs(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("promqltest scripts at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read script");
        out.extend(text.lines().filter_map(eval_expr).map(str::to_string));
    }
    out
}

const NAMES: &[&str] = &[
    "up", "http_requests_total", "node_cpu_seconds_total", "foo:bar:rate5m", "sum", "offset", "by",
    "anchored", "smoothed", "step", "range", "start", "end", "min", "fill", "bool_metric", "inf_x",
];
const LABELS: &[&str] = &["job", "instance", "le", "mode", "on", "group_left", "offset", "anchored", "__name__"];
const VALUES: &[&str] = &["api", "a\\nb", "x.*", "", "10", "ü", "a\\\"b", "1|2"];
const DURATIONS: &[&str] = &["1s", "30s", "5m", "1h30m", "2d", "1w", "100ms", "1y", "90"];
const NUMBERS: &[&str] = &["1", "0.5", "1e3", "0x1F", "Inf", "NaN", ".5", "5.", "1_000", "010", "2.5e-3"];
const SCALAR_FNS: &[&str] = &["time()", "pi()", "scalar(up)"];
const VECTOR_FNS: &[&str] = &["abs", "ceil", "exp", "ln", "sgn", "sort", "timestamp", "absent", "deg"];
const RANGE_FNS: &[&str] = &["rate", "increase", "delta", "irate", "changes", "resets", "avg_over_time", "max_over_time", "last_over_time", "deriv"];
const AGGS: &[&str] = &["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"];
const ARITH: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const CMP: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SET: &[&str] = &["and", "or", "unless"];

fn pick<'a>(r: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[r.gen_range(0..xs.len())]
}

fn labels(r: &mut StdRng) -> String {
    let n = r.gen_range(0..3);
    let ls: Vec<&str> = (0..n).map(|_| pick(r, &LABELS[..7])).collect();
    ls.join(", ")
}

fn selector(r: &mut StdRng) -> String {
    let mut s = String::new();
    let named = r.gen_bool(0.8);
    if named {
        s.push_str(pick(r, NAMES));
    }
    let n = if named { r.gen_range(0..3) } else { r.gen_range(1..3) };
    if n > 0 || r.gen_bool(0.1) {
        let ms: Vec<String> = (0..n)
            .map(|i| {
                let l = if !named && i == 0 { "job" } else { pick(r, &LABELS[..8]) };
                let op = pick(r, &["=", "!=", "=~", "!~"]);
                let op = if !named && i == 0 { "=" } else { op };
                let v = if !named && i == 0 { "api" } else { pick(r, VALUES) };
                let q = if r.gen_bool(0.8) { '"' } else { '\'' };
                let v = if q == '\'' { v.replace("\\\"", "\"") } else { v.to_string() };
                format!("{l}{op}{q}{v}{q}")
            })
            .collect();
        s.push('{');
        s.push_str(&ms.join(if r.gen_bool(0.5) { ", " } else { "," }));
        s.push('}');
    }
    s
}

fn modifiers(r: &mut StdRng, s: &mut String) {
    if r.gen_bool(0.2) {
        let sign = if r.gen_bool(0.3) { "-" } else { "" };
        s.push_str(&format!(" offset {sign}{}", pick(r, &DURATIONS[..8])));
    }
    if r.gen_bool(0.15) {
        let at = pick(r, &["100", "1.5e9", "start()", "end()", "-10"]);
        s.push_str(&format!(" @ {at}"));
    }
}

/// An instant-vector expression about `depth` levels deep.
fn vector(r: &mut StdRng, depth: u32) -> String {
    if depth == 0 {
        let mut s = selector(r);
        modifiers(r, &mut s);
        return s;
    }
    match r.gen_range(0..9) {
        0 => {
            let mut m = format!("{}[{}]", selector(r), pick(r, &DURATIONS[..8]));
            modifiers(r, &mut m);
            format!("{}({m})", pick(r, RANGE_FNS))
        }
        1 => format!("{}({})", pick(r, VECTOR_FNS), vector(r, depth - 1)),
        2 => {
            let op = pick(r, AGGS);
            let inner = vector(r, depth - 1);
            match r.gen_range(0..4) {
                0 => format!("{op}({inner})"),
                1 => format!("{op} by ({}) ({inner})", labels(r)),
                2 => format!("{op}({inner}) without ({})", labels(r)),
                _ => format!("{op} without ({}) ({inner})", labels(r)),
            }
        }
        3 => format!("topk({}, {})", scalar(r), vector(r, depth - 1)),
        4 => binary(r, depth),
        5 => format!("-{}", vector(r, depth - 1)),
        6 => format!("({})", vector(r, depth - 1)),
        7 => {
            let mut s = format!(
                "max_over_time({}[{}:{}])",
                vector(r, depth - 1),
                pick(r, &DURATIONS[..5]),
                pick(r, &["", "1m", "10s"])
            );
            if r.gen_bool(0.3) {
                s = format!("({s})[5m:] offset 1m");
                s = format!("min_over_time({s})");
            }
            s
        }
        _ => format!(
            "label_replace({}, \"dst\", \"$1\", \"{}\", \"(.*)\")",
            vector(r, depth - 1),
            pick(r, &LABELS[..3])
        ),
    }
}

fn scalar(r: &mut StdRng) -> String {
    match r.gen_range(0..4) {
        0 => pick(r, NUMBERS).to_string(),
        1 => pick(r, SCALAR_FNS).to_string(),
        2 => format!("-{}", pick(r, &NUMBERS[..4])),
        _ => format!("({} {} {})", pick(r, &NUMBERS[..4]), pick(r, ARITH), pick(r, &NUMBERS[..4])),
    }
}

fn binary(r: &mut StdRng, depth: u32) -> String {
    let lhs = vector(r, depth - 1);
    let kind = r.gen_range(0..4);
    let (op, rhs) = match kind {
        0 => (pick(r, ARITH), scalar(r)),
        1 => (pick(r, CMP), vector(r, depth - 1)),
        2 => (pick(r, SET), vector(r, depth - 1)),
        _ => (pick(r, ARITH), vector(r, depth - 1)),
    };
    let mut m = String::new();
    if kind == 1 && r.gen_bool(0.3) {
        m.push_str(" bool");
    }
    if kind != 0 && r.gen_bool(0.4) {
        let w = pick(r, &["on", "ignoring"]);
        m.push_str(&format!(" {w}({})", labels(r)));
        if kind != 2 && r.gen_bool(0.3) {
            let g = pick(r, &["group_left", "group_right"]);
            m.push_str(&format!(" {g}({})", if r.gen_bool(0.5) { "mode" } else { "" }));
        }
    }
    format!("{lhs} {op}{m} {rhs}")
}

/// `n` generated expressions (deterministic).
pub fn generated(n: usize) -> Vec<String> {
    let mut r = StdRng::seed_from_u64(0x7e55e7a);
    (0..n)
        .map(|_| {
            let d = r.gen_range(0..4);
            vector(&mut r, d)
        })
        .collect()
}
