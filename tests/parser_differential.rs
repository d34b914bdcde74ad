//! Differential test of our PromQL parser against the `promql-parser`
//! crate (0.11.1), kept as a test oracle only. Both parse a corpus of
//! every promqltest expression, the compliance query list and generated
//! expressions; wherever the crate accepts an expression, ours must accept
//! it with the same meaning. Where the two disagree, upstream Prometheus
//! decides, and the case is recorded in `parser_differential/KNOWN.tsv`
//! with the verdict: the test fails on a disagreement not listed there and
//! on a listed one that no longer occurs.

#[path = "parser_differential/corpus.rs"]
mod corpus;
#[path = "parser_differential/meaning.rs"]
mod meaning;
#[path = "differential/templates.rs"]
mod templates;

use std::collections::BTreeMap;

const QUERIES_YML: &str = include_str!("differential/queries.yml");
const KNOWN: &str = include_str!("parser_differential/KNOWN.tsv");

/// How the two parsers compared on one expression.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Both accept, same meaning.
    Agree,
    /// Both refuse.
    BothRefuse,
    /// Only ours accepts: syntax newer than the crate.
    OnlyOurs,
    /// The crate accepts something ours refuses, or both accept with
    /// different meanings.
    Disagree(String),
    /// The crate's tree uses a construct ours does not have.
    NotComparable,
}

fn compare(q: &str) -> Verdict {
    let ours = tessera::promql::parser::parse(q);
    let theirs = promql_parser::parser::parse(q);
    match (ours, theirs) {
        (Ok(o), Ok(t)) => match meaning::of_crate(&t) {
            None => Verdict::NotComparable,
            Some(tm) => {
                let om = meaning::of_ours(&o);
                if om == tm {
                    Verdict::Agree
                } else {
                    Verdict::Disagree(format!("ours {om} / crate {tm}"))
                }
            }
        },
        (Err(_), Err(_)) => Verdict::BothRefuse,
        (Ok(_), Err(_)) => Verdict::OnlyOurs,
        (Err(e), Ok(_)) => Verdict::Disagree(format!("ours refuses: {e}")),
    }
}

fn corpus() -> Vec<String> {
    let mut all = corpus::promqltest_exprs(&corpus::scripts_dir());
    all.extend(templates::expand(QUERIES_YML).unwrap().into_iter().map(|q| q.text));
    all.extend(corpus::generated(3000));
    all
}

/// The recorded disagreements: query → who is right and why.
fn known() -> BTreeMap<String, String> {
    KNOWN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(q, why)| (q.replace("\\n", "\n"), why.to_string()))
        .collect()
}

#[test]
fn parsers_agree_wherever_the_crate_accepts() {
    let corpus = corpus();
    assert!(corpus.len() > 5000, "corpus of {} expressions", corpus.len());
    let known = known();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unlisted = Vec::new();
    let mut seen_known = std::collections::BTreeSet::new();
    for q in &corpus {
        let v = compare(q);
        let key = match &v {
            Verdict::Agree => "agree",
            Verdict::BothRefuse => "both refuse",
            Verdict::OnlyOurs => "only ours accepts",
            Verdict::NotComparable => "not comparable",
            Verdict::Disagree(_) => "recorded disagreement",
        };
        *counts.entry(key).or_default() += 1;
        if let Verdict::Disagree(why) = v {
            if known.contains_key(q) {
                seen_known.insert(q.clone());
            } else {
                unlisted.push(format!("{}\t{why}", q.replace('\n', "\\n")));
            }
        }
    }
    println!("parser differential over {} expressions: {counts:?}", corpus.len());
    unlisted.sort();
    unlisted.dedup();
    assert!(
        unlisted.is_empty(),
        "{} disagreements not in tests/parser_differential/KNOWN.tsv (decide with upstream, then record):\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    let stale: Vec<&String> = known.keys().filter(|k| !seen_known.contains(*k)).collect();
    assert!(stale.is_empty(), "KNOWN.tsv lists cases that no longer disagree: {stale:?}");
    assert!(counts.get("agree").copied().unwrap_or(0) > 4000, "{counts:?}");
}

