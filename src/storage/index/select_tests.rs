//! Selection tests: Prometheus semantics on a fixture, a brute-force oracle
//! over random series, and proof that fast paths skip values.

use std::cell::RefCell;
use std::sync::Arc;

use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::{label_names, label_values, select, MatchOp, Matcher, MemPostings, PostingsSource};
use crate::model::Labels;
use crate::storage::error::{Result, StorageError};

pub(super) fn postings_of(series: &[Labels]) -> MemPostings {
    let mut p = MemPostings::default();
    for (id, ls) in series.iter().enumerate() {
        let pairs: Vec<(Arc<str>, Arc<str>)> = ls
            .iter()
            .map(|l| (Arc::from(l.name.as_str()), Arc::from(l.value.as_str())))
            .collect();
        p.add(id as u32, &pairs);
    }
    p
}

/// The oracle: test every matcher against every series' label set.
pub(super) fn brute_force(series: &[Labels], ms: &[Matcher]) -> Result<Vec<u32>> {
    if ms.iter().all(Matcher::matches_empty) {
        return Err(StorageError::EmptyMatchers);
    }
    let hit = |ls: &Labels| ms.iter().all(|m| m.matches(ls.get(&m.name).unwrap_or("")));
    Ok((0..series.len() as u32)
        .filter(|&i| hit(&series[i as usize]))
        .collect())
}

/// Parses `name=value`, `name!=value`, `name=~re`, `name!~re`.
fn m(s: &str) -> Matcher {
    for (tok, op) in [
        ("!~", MatchOp::NotRegex),
        ("=~", MatchOp::Regex),
        ("!=", MatchOp::NotEqual),
        ("=", MatchOp::Equal),
    ] {
        if let Some((n, v)) = s.split_once(tok) {
            return Matcher::new(op, n, v).unwrap();
        }
    }
    panic!("bad matcher {s}")
}

fn fixture() -> Vec<Labels> {
    vec![
        Labels::from_pairs([("__name__", "up"), ("job", "api"), ("env", "prod")]),
        Labels::from_pairs([("__name__", "up"), ("job", "web"), ("env", "dev")]),
        Labels::from_pairs([("__name__", "up"), ("job", "api")]),
        Labels::from_pairs([
            ("__name__", "cpu"),
            ("job", "db"),
            ("env", "prod"),
            ("a", "x"),
        ]),
        Labels::from_pairs([("__name__", "cpu"), ("instance", "h1")]),
    ]
}

#[test]
fn prometheus_semantics_on_fixture() {
    let cases: &[(&[&str], Option<&[u32]>)] = &[
        (&["__name__=up"], Some(&[0, 1, 2])),
        (&["__name__=up", "env="], Some(&[2])),
        (&["__name__=up", "env!=prod"], Some(&[1, 2])),
        (&["__name__=up", "env=~prod|"], Some(&[0, 2])),
        (&["__name__=up", "env!~prod|"], Some(&[1])),
        (&["__name__=up", "env=~.*"], Some(&[0, 1, 2])),
        (&["__name__=up", "env=~.+"], Some(&[0, 1])),
        (&["__name__=up", "env!~.*"], Some(&[])),
        (&["env!="], Some(&[0, 1, 3])),
        (&["job=~a.*"], Some(&[0, 2])),
        (&["job=~.*b"], Some(&[1, 3])),
        (&["job=~.*p.*"], Some(&[0, 2])),
        (&["job=~api|db"], Some(&[0, 2, 3])),
        (&["job=~(?i)API"], Some(&[0, 2])),
        (&["job=nope"], Some(&[])),
        (&["nolabel=~x.+"], Some(&[])),
        (&["__name__=~up|cpu", "a=x"], Some(&[3])),
        (&["env=~prod|", "env!="], Some(&[0, 3])),
        (&["job=~a.*", "job!=api"], Some(&[])),
        (&["instance=~h.*", "job="], Some(&[4])),
        (&["__name__=cpu", "job!~d.*"], Some(&[4])),
        (&["job=~[a-z]+", "env!~p.*"], Some(&[1, 2])),
        (&["a="], None),
        (&[], None),
        (&["job!=api"], None),
        (&["job=~.*", "env=~prod|"], None),
    ];
    let series = fixture();
    let p = postings_of(&series);
    for (ms, want) in cases {
        let ms: Vec<Matcher> = ms.iter().map(|s| m(s)).collect();
        let got = select(&p, &ms);
        let oracle = brute_force(&series, &ms);
        match want {
            Some(want) => {
                let got: Vec<u32> = got.unwrap().iter().collect();
                assert_eq!(&got, want, "{ms:?}");
                assert_eq!(got, oracle.unwrap(), "oracle disagrees for {ms:?}");
            }
            None => {
                assert!(
                    matches!(got, Err(StorageError::EmptyMatchers)),
                    "{ms:?}: {got:?}"
                );
                assert!(oracle.is_err());
            }
        }
    }
}

#[test]
fn names_and_values_with_candidates_and_limits() {
    let p = postings_of(&fixture());
    let c: RoaringBitmap = [2u32, 4].into_iter().collect();
    assert_eq!(
        label_names(&p, None, None).unwrap(),
        ["__name__", "a", "env", "instance", "job"]
    );
    assert_eq!(
        label_names(&p, Some(&c), None).unwrap(),
        ["__name__", "instance", "job"]
    );
    assert_eq!(label_names(&p, None, Some(2)).unwrap(), ["__name__", "a"]);
    assert!(label_names(&p, Some(&RoaringBitmap::new()), None)
        .unwrap()
        .is_empty());
    assert_eq!(
        label_values(&p, "job", None, None).unwrap(),
        ["api", "db", "web"]
    );
    assert_eq!(label_values(&p, "job", Some(&c), None).unwrap(), ["api"]);
    assert_eq!(label_values(&p, "job", None, Some(1)).unwrap(), ["api"]);
    assert!(label_values(&p, "job", None, Some(0)).unwrap().is_empty());
    assert!(label_values(&p, "missing", None, None).unwrap().is_empty());
    let empty = MemPostings::default();
    assert!(label_names(&empty, None, None).unwrap().is_empty());
}

/// Wraps a source and records every value a scan hands to the caller.
struct Counting<'a> {
    inner: &'a MemPostings,
    scanned: RefCell<Vec<String>>,
    lookups: RefCell<usize>,
}

impl PostingsSource for Counting<'_> {
    fn all_series(&self) -> Result<RoaringBitmap> {
        self.inner.all_series()
    }
    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap> {
        *self.lookups.borrow_mut() += 1;
        self.inner.postings(name, value)
    }
    fn scan_values(
        &self,
        name: &str,
        from: &str,
        f: &mut dyn FnMut(&str, &RoaringBitmap) -> bool,
    ) -> Result<()> {
        self.inner.scan_values(name, from, &mut |v, ids| {
            self.scanned.borrow_mut().push(v.to_owned());
            f(v, ids)
        })
    }
    fn names(&self) -> Result<Vec<String>> {
        self.inner.names()
    }
}

#[test]
fn fast_paths_never_visit_values_out_of_range() {
    let values = ["bar", "foo1", "foo2", "fop", "zzz"];
    let series: Vec<Labels> = values
        .iter()
        .map(|v| Labels::from_pairs([("a", *v)]))
        .collect();
    let mem = postings_of(&series);
    let cases: &[(&str, &[&str], usize, &[u32])] = &[
        ("a=~foo.*", &["foo1", "foo2", "fop"], 0, &[1, 2]),
        ("a=~foo\\d", &["foo1", "foo2", "fop"], 0, &[1, 2]),
        ("a=~foo1|zzz|nope", &[], 3, &[1, 4]),
        ("a=foo2", &[], 1, &[2]),
        ("a=~zz.*", &["zzz"], 0, &[4]),
    ];
    for (matcher, scanned, lookups, want) in cases {
        let p = Counting {
            inner: &mem,
            scanned: RefCell::default(),
            lookups: RefCell::default(),
        };
        let got: Vec<u32> = select(&p, &[m(matcher)]).unwrap().iter().collect();
        assert_eq!(&got, want, "{matcher}");
        assert_eq!(&*p.scanned.borrow(), scanned, "{matcher}");
        assert_eq!(*p.lookups.borrow(), *lookups, "{matcher}");
    }
}

pub(super) fn series_strategy() -> impl Strategy<Value = Vec<Labels>> {
    let value = prop::sample::select(vec!["", "x", "y", "xy", "yx", "x\ny"]);
    let labels = prop::collection::vec(value, 3)
        .prop_map(|vs| Labels::from_pairs([("a", vs[0]), ("b", vs[1]), ("c", vs[2])]));
    prop::collection::vec(labels, 0..24)
}

pub(super) fn matchers_strategy() -> impl Strategy<Value = Vec<Matcher>> {
    let op = prop::sample::select(vec![
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::Regex,
        MatchOp::NotRegex,
    ]);
    let name = prop::sample::select(vec!["a", "b", "c", "d"]);
    let value = prop::sample::select(vec![
        "", "x", "y", "xy", "x|y", "x.*", ".*", ".+", "x|", ".*y", "[xy]+", "(?i)X", "x.y",
        ".*x.*", "y.+",
    ]);
    let one = (op, name, value).prop_map(|(op, n, v)| Matcher::new(op, n, v).unwrap());
    prop::collection::vec(one, 0..4)
}

proptest! {
    // Selection is cheap and the interesting matcher mixes are rare, so run many cases.
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn select_equals_brute_force(series in series_strategy(), ms in matchers_strategy()) {
        let p = postings_of(&series);
        match (select(&p, &ms), brute_force(&series, &ms)) {
            (Ok(got), Ok(want)) => prop_assert_eq!(got.iter().collect::<Vec<_>>(), want, "{:?}", ms),
            (Err(StorageError::EmptyMatchers), Err(_)) => {}
            (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", ms, got, want),
        }
    }

    #[test]
    fn names_and_values_equal_brute_force(series in series_strategy(), ids in prop::collection::vec(0u32..24, 0..8)) {
        let p = postings_of(&series);
        let c: RoaringBitmap = ids.iter().copied().collect();
        let chosen: Vec<&Labels> = ids.iter().filter_map(|&i| series.get(i as usize)).collect();
        let mut names: Vec<String> = chosen.iter().flat_map(|ls| ls.iter().map(|l| l.name.to_string())).collect();
        names.sort();
        names.dedup();
        prop_assert_eq!(label_names(&p, Some(&c), None)?, names);
        let mut values: Vec<String> = chosen.iter().filter_map(|ls| ls.get("a").map(str::to_owned)).collect();
        values.sort();
        values.dedup();
        prop_assert_eq!(label_values(&p, "a", Some(&c), None)?, values);
    }
}
