//! Matcher tests: every fast path must agree with the plain anchored regex.

use proptest::prelude::*;
use regex::Regex;

use super::regex_analysis::Fast;
use super::{MatchOp, Matcher};
use crate::storage::error::StorageError;

fn re(pattern: &str) -> Matcher {
    Matcher::new(MatchOp::Regex, "l", pattern).unwrap()
}

/// The reference: Prometheus 3 anchoring, no analysis.
fn reference(pattern: &str) -> Regex {
    Regex::new(&format!("^(?s:{pattern})$")).unwrap()
}

const VALUES: &[&str] = &[
    "", "a", "b", "c", "ab", "abc", "foo", "Foo", "FOO", "foobar", "barfoo", "xfoox", "foo\n",
    "\n", "fo", "bar", "baz", "k", "K", "\u{212a}", "é", "1", "12", "foo1", "foo12", "ſ", "s", "S",
];

const PATTERNS: &[&str] = &[
    "",
    "a",
    "foo",
    "a|b|c",
    "(a|b)",
    "foo|bar|baz",
    "foo|",
    "|foo",
    "(?i)foo",
    "(?i)k",
    "(?i)s",
    ".*",
    ".+",
    ".",
    "foo.*",
    "foo.+",
    ".*foo",
    ".*foo.*",
    "(foo).*",
    "(foo.*)",
    "foo\\d+",
    "foo[0-9]?",
    "[ab]c?",
    "a?b?",
    "x{0,3}",
    "(?i)a|b",
    "fo(o|)",
    "^foo$",
    "\\.",
    "[^a]",
    "[^a]*",
    ".*(a|b).*",
    "foo.*bar",
    "(?s:.)*",
    "(?-s:.*)",
    "\\n",
    "a{2}",
    "(foo|bar).*",
    ".*(?i)foo",
    "é|e",
    "[a-z]+",
    "\\w+",
    "(?i)FOO.*",
];

#[test]
fn fast_paths_agree_with_anchored_regex() {
    for p in PATTERNS {
        let m = re(p);
        let r = reference(p);
        for v in VALUES {
            assert_eq!(
                m.matches(v),
                r.is_match(v),
                "pattern {p:?} value {v:?} fast {:?}",
                m.fast()
            );
        }
    }
}

#[test]
fn analysis_picks_the_expected_fast_path() {
    let kind = |p: &str| match re(p).fast() {
        Fast::Set(s) => format!("set{s:?}"),
        Fast::Any => "any".into(),
        Fast::NonEmpty => "nonempty".into(),
        Fast::Prefix(s) => format!("prefix:{s}"),
        Fast::Suffix(s) => format!("suffix:{s}"),
        Fast::Contains(s) => format!("contains:{s}"),
        Fast::PrefixRegex(s, _) => format!("prefixre:{s}"),
        Fast::Regex(_) => "regex".into(),
    };
    let cases = [
        ("foo", r#"set["foo"]"#),
        ("", r#"set[""]"#),
        ("a|b|c", r#"set["a", "b", "c"]"#),
        ("(bar|foo)", r#"set["bar", "foo"]"#),
        ("foo|", r#"set["", "foo"]"#),
        ("x[12]", r#"set["x1", "x2"]"#),
        ("(?i)ab", r#"set["AB", "Ab", "aB", "ab"]"#),
        (".*", "any"),
        (".+", "nonempty"),
        ("foo.*", "prefix:foo"),
        ("(foo.*)", "prefix:foo"),
        (".*foo", "suffix:foo"),
        (".*foo.*", "contains:foo"),
        ("foo\\d+", "prefixre:foo"),
        ("foo.*bar", "prefixre:foo"),
        ("(?-s:.*)", "regex"),
        ("[a-z]+", "regex"),
        ("(?i)foo.*", "regex"),
    ];
    for (p, want) in cases {
        assert_eq!(kind(p), want, "pattern {p:?}");
    }
}

#[test]
fn equal_and_not_ops() {
    let cases = [
        (MatchOp::Equal, "x", "x", true),
        (MatchOp::Equal, "x", "", false),
        (MatchOp::Equal, "", "", true),
        (MatchOp::NotEqual, "x", "x", false),
        (MatchOp::NotEqual, "x", "", true),
        (MatchOp::NotEqual, "", "", false),
        (MatchOp::Equal, "a|b", "a", false),
        (MatchOp::NotRegex, "a|b", "a", false),
        (MatchOp::NotRegex, "a|b", "c", true),
        (MatchOp::NotRegex, ".*", "", false),
        (MatchOp::Regex, "a.", "a\n", true),
    ];
    for (op, val, input, want) in cases {
        let m = Matcher::new(op, "l", val).unwrap();
        assert_eq!(m.matches(input), want, "{m} on {input:?}");
        assert_eq!(m.matches_empty(), m.matches(""), "{m}");
    }
}

#[test]
fn accessors_describe_the_inner_test() {
    let m = Matcher::new(MatchOp::NotRegex, "l", "a|b").unwrap();
    assert_eq!(
        m.set_matches(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    assert!(m.inner_matches("a"));
    assert_eq!(re("foo.*").literal_prefix(), Some("foo"));
    assert_eq!(re("foo\\d").literal_prefix(), Some("foo"));
    assert_eq!(re("a|b").literal_prefix(), None);
    assert!(re(".*").inner_matches_all());
    assert!(!re(".+").inner_matches_all());
}

#[test]
fn bad_regex_is_invalid_matcher() {
    for p in ["(", "a)|(b", "[z-a]", "a\\", "*"] {
        match Matcher::new(MatchOp::Regex, "l", p) {
            Err(StorageError::InvalidMatcher(msg)) => {
                assert!(msg.contains(&format!("{p:?}")), "{msg}")
            }
            other => panic!("{p:?}: {other:?}"),
        }
    }
    // Equality matchers never parse their value.
    assert!(Matcher::new(MatchOp::Equal, "l", "(").is_ok());
}

#[test]
fn display_is_promql() {
    let cases = [
        (MatchOp::Equal, "job", "api", r#"job="api""#),
        (MatchOp::NotEqual, "job", "", r#"job!="""#),
        (MatchOp::Regex, "job", "a|b", r#"job=~"a|b""#),
        (MatchOp::NotRegex, "job", "a\\.b", r#"job!~"a\\.b""#),
        (MatchOp::Equal, "x", "q\"\n", r#"x="q\"\n""#),
    ];
    for (op, n, v, want) in cases {
        assert_eq!(Matcher::new(op, n, v).unwrap().to_string(), want);
    }
}

/// Small patterns from a grammar close to what selectors use in practice.
fn pattern() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("ab".to_string()),
        Just("".to_string()),
        Just(".".to_string()),
        Just(".*".to_string()),
        Just(".+".to_string()),
        Just("[ab]".to_string()),
        Just("[^a]".to_string()),
        Just("\\n".to_string()),
        Just("k".to_string()),
    ];
    let piece = atom.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join("|"))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.concat()),
            inner.clone().prop_map(|p| format!("(?:{p})?")),
            inner.prop_map(|p| format!("(?:{p})*")),
        ]
    });
    (any::<bool>(), prop::collection::vec(piece, 1..4)).prop_map(|(ci, v)| {
        let body = v.concat();
        if ci {
            format!("(?i){body}")
        } else {
            body
        }
    })
}

proptest! {
    #[test]
    fn matcher_agrees_with_full_regex(p in pattern(), values in prop::collection::vec("[abAKk\u{212a}\n]{0,5}", 1..16)) {
        let m = re(&p);
        let r = reference(&p);
        for v in &values {
            prop_assert_eq!(m.matches(v), r.is_match(v), "pattern {:?} value {:?} fast {:?}", p, v, m.fast());
            let neg = Matcher::new(MatchOp::NotRegex, "l", &p).unwrap();
            prop_assert_eq!(neg.matches(v), !r.is_match(v));
        }
        prop_assert_eq!(m.matches_empty(), r.is_match(""));
    }
}
