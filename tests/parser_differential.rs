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
#[allow(dead_code)] // the differential test uses more of it
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


/// Printing a parsed expression and parsing it again gives the same text
/// and the same meaning, over the whole corpus.
#[test]
fn printing_round_trips_over_the_corpus() {
    let mut n = 0;
    for q in corpus() {
        let Ok(e) = tessera::promql::parser::parse(&q) else {
            continue;
        };
        let text = e.to_string();
        let again = tessera::promql::parser::parse(&text)
            .unwrap_or_else(|err| panic!("{q}\n printed as {text}\n does not parse: {err}"));
        assert_eq!(again.to_string(), text, "{q}");
        assert_eq!(meaning::of_ours(&again), meaning::of_ours(&e), "{q}");
        let pretty = tessera::promql::parser::prettify(&e);
        let from_pretty = tessera::promql::parser::parse(&pretty)
            .unwrap_or_else(|err| panic!("{q}\n prettified as {pretty}\n does not parse: {err}"));
        assert_eq!(meaning::of_ours(&from_pretty), meaning::of_ours(&e), "{q}");
        n += 1;
    }
    assert!(n > 5000, "{n} expressions round-tripped");
}

mod props {
    use proptest::prelude::*;

    /// Fragments that make up PromQL text, valid and not.
    const PIECES: &[&str] = &[
        "sum", "rate(", "x", "{", "}", "a=\"b\"", "(", ")", "[", "]", "5m", ":", "1m", "+", "-", "*",
        "/", "^", "==", "bool", "on(", "ignoring(", "group_left", "by", "without", ",", "offset", "@",
        "start()", "step()", "anchored", "smoothed", ">/", "</", "1", "0x1f", "1e3", "\"s\"", "'q'",
        "`r`", "#c\n", " ", "and", "or", "unless", "topk(", "min_of(", "fill(", "info(", "\\", "$",
        "=~", "!~", "!=", "}", "1_0", ".5", "Inf", "NaN", "atan2", "[5m:]", "\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any text: the parser returns, never panics; what it accepts
        /// prints to text that parses to the same meaning. (Not always the
        /// same text: like upstream's printer, `+(+Inf)` prints as `++Inf`.)
        #[test]
        fn arbitrary_text_parses_or_fails_cleanly(idx in proptest::collection::vec(0..PIECES.len(), 0..24)) {
            let q: String = idx.iter().map(|&i| PIECES[i]).collect();
            if let Ok(e) = tessera::promql::parser::parse(&q) {
                let text = e.to_string();
                let again = tessera::promql::parser::parse(&text);
                prop_assert!(again.is_ok(), "{q:?} printed as {text:?}: {again:?}");
                let again = again.unwrap();
                prop_assert_eq!(super::meaning::of_ours(&again), super::meaning::of_ours(&e));
            }
        }

        /// Random bytes never panic the parser.
        #[test]
        fn random_bytes_never_panic(s in "\\PC{0,60}") {
            let _ = tessera::promql::parser::parse(&s);
        }
    }
}
