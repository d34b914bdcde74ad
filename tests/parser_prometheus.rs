//! Our parser against a real Prometheus 2.42 (Debian's package, installed
//! by `.ci/run`): `format_query` answers for the parser corpus (promqltest
//! expressions, compliance queries, generated expressions), for a list of
//! bad queries, and for truncations of the corpus (which make syntax
//! errors of every kind). Where 2.42 knows the syntax, the text must be
//! byte for byte the same, errors included (`1:14: parse error: ...`).
//!
//! Prometheus changed since 2.42 in ways the promqltest commit (d15adb9)
//! decides; those answers are counted as version differences, each kind
//! named in `version_difference`. Any other difference fails the test.

#[path = "parser_differential/corpus.rs"]
mod corpus;
#[path = "differential/templates.rs"]
#[allow(dead_code)]
mod templates;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const QUERIES_YML: &str = include_str!("differential/queries.yml");
const BAD_QUERIES: &str = include_str!("parser_differential/bad_queries.txt");
const KNOWN: &str = include_str!("parser_differential/KNOWN.tsv");

/// Kills Prometheus when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &std::path::Path) -> (Reaper, String) {
    let bin = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".to_string());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start `{bin}` (apt-get install -y prometheus): {e}"));
    let reaper = Reaper(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/-/ready"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    (reaper, base)
}

/// Prometheus's answer: the formatted query, or `ERR <parse error>`.
fn prometheus_format(client: &reqwest::blocking::Client, base: &str, q: &str) -> String {
    let v: serde_json::Value = client
        .post(format!("{base}/api/v1/format_query"))
        .form(&[("query", q)])
        .send()
        .and_then(|r| r.json())
        .expect("format_query");
    match v["status"].as_str() {
        Some("success") => v["data"].as_str().unwrap_or_default().to_string(),
        _ => {
            let e = v["error"].as_str().unwrap_or_default();
            format!("ERR {}", e.trim_start_matches("invalid parameter \"query\": "))
        }
    }
}

fn ours(q: &str) -> String {
    match tessera::promql::format_query(q) {
        Ok(s) => s,
        Err(e) => format!("ERR {e}"),
    }
}

/// Why 2.42's answer differs from upstream at d15adb9, or `None`.
fn version_difference(q: &str, theirs: &str, ours: &str) -> Option<&'static str> {
    let has = |s: &str, any: &[&str]| any.iter().any(|m| s.contains(m));
    if ours.contains("invalid UTF-8 in string literal") {
        return Some("literals that are not UTF-8 are refused at parse time (KNOWN.tsv)");
    }
    if theirs.starts_with("ERR") && !ours.starts_with("ERR") {
        return Some("syntax newer than 2.42 (duration expressions, anchored/smoothed, trims, fill, info(), newer functions, `_` in numbers, durations as numbers)");
    }
    if !theirs.starts_with("ERR") {
        let exponent = theirs.as_bytes().windows(3).any(|w| {
            w[0].is_ascii_digit() && w[1] == b'e' && (w[2] == b'+' || w[2] == b'-')
        });
        if exponent {
            return Some("numbers print with FormatFloat 'f' since 2.42, not %v");
        }
        if has(ours, &[" group_left (", " group_right ("]) && !has(theirs, &[" group_left (", " group_right ("]) {
            return Some("group_left/group_right print even without on/ignoring labels since 2.42");
        }
        return None;
    }
    if has(ours, &["in duration expression", "expected number, duration, step(), or range()", "expected number, duration, step(), range(), or"])
        || has(theirs, &["missing unit character in duration", "bad duration syntax", "unclosed left bracket", "expected duration"])
    {
        return Some("errors of the newer lexer and grammar for ranges, offsets and @");
    }
    if theirs.contains("not a valid duration string") && ours.contains("unknown unit") {
        return Some("prometheus/common's ParseDuration names the unknown unit since 2.42");
    }
    if theirs.contains("error parsing number") && ours.contains("bad number or duration syntax") {
        return Some("the newer lexer refuses a number ending in an exponent sign");
    }
    if theirs.contains("error parsing regexp") && ours.contains("error parsing regexp") {
        return Some("regular expression errors: Go's regexp words them differently (same position)");
    }
    if has(theirs, &["unknown function with name", "unexpected <op:/>", "unexpected \"(\""])
        || has(q, &["limitk", "limit_ratio", "_"]) && has(theirs, &["<by> in aggregation", "bad number or duration syntax"])
        || theirs.contains("bad number or duration syntax") && ours.contains("bad number or duration syntax")
    {
        return Some("functions, aggregations, operators and number syntax newer than 2.42, cut short");
    }
    None
}

fn truncations(qs: &[String], per_query: usize) -> Vec<String> {
    let mut r = StdRng::seed_from_u64(42);
    let mut out = Vec::new();
    for q in qs {
        let chars: Vec<char> = q.chars().collect();
        for _ in 0..per_query.min(chars.len().saturating_sub(1)) {
            let cut = r.gen_range(1..chars.len());
            out.push(chars[..cut].iter().collect());
        }
    }
    out
}

#[test]
fn format_query_and_errors_match_prometheus_2_42() {
    let dir = tempfile::tempdir().unwrap();
    let (_prom, base) = start_prometheus(dir.path());
    let client = reqwest::blocking::Client::new();
    let mut valid = corpus::promqltest_exprs(&corpus::scripts_dir());
    valid.extend(templates::expand(QUERIES_YML).unwrap().into_iter().map(|q| q.text));
    valid.extend(corpus::generated(1000));
    valid.sort();
    valid.dedup();
    let mut answers: Vec<(String, String)> = valid
        .iter()
        .map(|q| (q.clone(), prometheus_format(&client, &base, q)))
        .collect();
    // Truncations of the queries 2.42 accepts: syntax errors of every kind.
    let accepted: Vec<String> = answers
        .iter()
        .filter(|(_, a)| !a.starts_with("ERR"))
        .map(|(q, _)| q.clone())
        .collect();
    let mut bad: Vec<String> = BAD_QUERIES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    bad.extend(truncations(&accepted, 1));
    answers.extend(bad.into_iter().map(|q| {
        let a = prometheus_format(&client, &base, &q);
        (q, a)
    }));
    let known: Vec<&str> = KNOWN.lines().filter_map(|l| l.split_once('\t')).map(|(q, _)| q).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (q, theirs) in &answers {
        let theirs = theirs.clone();
        let mine = ours(q);
        let key = if theirs == mine {
            if mine.starts_with("ERR") { "same error" } else { "same text" }
        } else if let Some(why) = version_difference(q, &theirs, &mine) {
            why
        } else if known.contains(&q.as_str()) {
            "recorded in KNOWN.tsv"
        } else {
            failures.push(format!("{q}\n  2.42: {theirs}\n  ours: {mine}"));
            "differs"
        };
        *counts.entry(key).or_default() += 1;
    }
    println!("{} queries against Prometheus 2.42:", answers.len());
    for (k, n) in &counts {
        println!("  {n:5}  {k}");
    }
    assert!(failures.is_empty(), "{} answers differ from 2.42:\n{}", failures.len(), failures.join("\n"));
    assert!(counts.get("same text").copied().unwrap_or(0) > 3500, "{counts:?}");
    assert!(counts.get("same error").copied().unwrap_or(0) > 1500, "{counts:?}");
}
