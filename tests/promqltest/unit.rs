//! Unit tests for the script parser, value expansion, comparison helpers
//! and expression inspection.

use tessera::model::is_stale_nan;

use super::compare::almost_equal;
use super::exprs;
use super::script::{parse_expect, parse_script, Command, EvalKind, Expects, MsgMatch};
use super::values::{
    parse_duration, parse_go_number, parse_series_desc, parse_values, unquote, SeqValue,
};

fn floats(s: &str) -> Vec<f64> {
    parse_values(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .into_iter()
        .map(|v| match v {
            SeqValue::Float(f) => f,
            other => panic!("{s:?}: unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn value_expansion() {
    let cases: &[(&str, &[f64])] = &[
        ("", &[]),
        ("1", &[1.0]),
        ("1+1x3", &[1.0, 2.0, 3.0, 4.0]),
        ("1-1x3", &[1.0, 0.0, -1.0, -2.0]),
        ("-1-1x2", &[-1.0, -2.0, -3.0]),
        ("5x2", &[5.0, 5.0, 5.0]),
        ("0+10x0", &[0.0]),
        ("1.5e3", &[1500.0]),
        (".5 +2", &[0.5, 2.0]),
        ("010", &[8.0]),
        ("Inf -Inf", &[f64::INFINITY, f64::NEG_INFINITY]),
        ("1  2\t3", &[1.0, 2.0, 3.0]),
    ];
    for (input, want) in cases {
        assert_eq!(floats(input), *want, "{input:?}");
    }
}

#[test]
fn gaps_stale_nan_and_histograms() {
    use SeqValue::*;
    let v = parse_values("_ _x2 1 stale NaN").unwrap();
    assert_eq!(v.len(), 6, "_x2 is two gaps, not three");
    assert_eq!(&v[..4], &[Omitted, Omitted, Omitted, Float(1.0)]);
    assert!(matches!(v[4], Float(f) if is_stale_nan(f)));
    assert!(matches!(v[5], Float(f) if f.is_nan() && !is_stale_nan(f)));
    let h = parse_values("{{schema:0 sum:5 count:4 buckets:[1 2 1]}} 3 {{sum:1}}x2").unwrap();
    assert_eq!(h.len(), 5);
    assert!(matches!(&h[0], Histogram(d) if d.count == 4.0 && d.pos.len() == 3));
    assert_eq!(h[1], Float(3.0));
    assert!(h[2..]
        .iter()
        .all(|v| matches!(v, Histogram(d) if d.sum == 1.0)));
    let h = parse_values("{{sum:1 buckets:[1] offset:2}}+{{sum:2 buckets:[1 1] offset:2}}x3 _")
        .unwrap();
    let sums: Vec<f64> = h
        .iter()
        .filter_map(|v| match v {
            Histogram(d) => Some(d.sum),
            _ => None,
        })
        .collect();
    assert_eq!(sums, [1.0, 3.0, 5.0, 7.0]);
    assert!(
        matches!(&h[3], Histogram(d) if d.pos.get(&2) == Some(&4.0) && d.pos.get(&3) == Some(&3.0))
    );
    assert_eq!(h[4], Omitted);
    let h = parse_values(
        "{{schema:2 count:9 sum:3 buckets:[5 4]}}-{{schema:2 count:1 sum:1 buckets:[1]}}x1",
    )
    .unwrap();
    assert!(
        matches!(&h[1], Histogram(d) if d.schema == 2 && d.count == 8.0 && d.pos.get(&0) == Some(&4.0))
    );
    // A lower schema on the right brings the sum down to it: schema 1
    // buckets 1 and 2 are schema 0 bucket 1.
    let h = parse_values(
        "{{schema:1 count:3 buckets:[1 2] offset:1}}+{{schema:0 count:1 buckets:[1] offset:1}}x1",
    )
    .unwrap();
    assert!(
        matches!(&h[1], Histogram(d) if d.schema == 0 && d.pos.get(&1) == Some(&4.0) && d.pos.len() == 1)
    );
}

#[test]
fn classic_series_become_nhcb() {
    let l = |name: &str, le: Option<&str>| -> Vec<(String, String)> {
        let mut v = vec![("__name__".to_string(), name.to_string())];
        if let Some(le) = le {
            v.push(("le".to_string(), le.to_string()));
        }
        v.push(("job".to_string(), "a".to_string()));
        v.sort();
        v
    };
    let series = vec![
        (l("x_bucket", Some("+Inf")), vec![(0, 10.0)]),
        (l("x_bucket", Some("1")), vec![(0, 4.0)]),
        (l("x_bucket", Some("0.5")), vec![(0, 1.0)]),
        (l("x_count", None), vec![(0, 10.0)]),
        (l("x_sum", None), vec![(0, 7.5)]),
        (l("y_total", None), vec![(0, 1.0)]),
    ];
    let out = super::nhcb::convert(&series);
    assert_eq!(out.len(), 1, "only x becomes a histogram");
    let (labels, hs) = &out[0];
    assert_eq!(labels, &l("x", None));
    let hs = hs.as_ref().unwrap();
    let h = &hs[0].1;
    assert_eq!((h.schema, h.count, h.sum), (-53, 10.0, 7.5));
    assert_eq!(h.custom, [0.5, 1.0]);
    let buckets: Vec<(i32, f64)> = h.pos.iter().map(|(i, c)| (*i, *c)).collect();
    assert_eq!(buckets, [(0, 1.0), (1, 3.0), (2, 6.0)]);
    let bad = vec![
        (l("z_bucket", Some("1")), vec![(0, 5.0)]),
        (l("z_bucket", Some("2")), vec![(0, 4.0)]),
    ];
    assert!(super::nhcb::convert(&bad)[0].1.is_err(), "not cumulative");
}

#[test]
fn bad_values_are_errors() {
    for bad in [
        "1x", "x3", "0x1F", "stalex2", "-stale", "1+1", "abc", "1y", "{{sum:1",
    ] {
        assert!(parse_values(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn go_numbers() {
    let cases: &[(&str, Option<f64>)] = &[
        ("3", Some(3.0)),
        ("-2.5", Some(-2.5)),
        ("0x1F", Some(31.0)),
        ("0X10", Some(16.0)),
        ("0o17", Some(15.0)),
        ("0b101", Some(5.0)),
        ("017", Some(15.0)),
        ("09", Some(9.0)),
        ("1_000", Some(1000.0)),
        ("1e-3", Some(0.001)),
        ("+Inf", Some(f64::INFINITY)),
        ("", None),
        ("{} 3", None),
        ("foo", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_go_number(s), *want, "{s:?}");
    }
    assert!(parse_go_number("NaN").unwrap().is_nan());
}

#[test]
fn label_parsing() {
    let (l, v) = parse_series_desc(r#"http_requests{job="api", path="/a\"b\n",} 1"#).unwrap();
    assert_eq!(
        l,
        [
            ("__name__".to_string(), "http_requests".to_string()),
            ("job".to_string(), "api".to_string()),
            ("path".to_string(), "/a\"b\n".to_string()),
        ]
    );
    assert_eq!(v, [SeqValue::Float(1.0)]);
    let (l, _) = parse_series_desc(r#"{__name__="x:y", a=''} 2"#).unwrap();
    assert_eq!(
        l,
        [("__name__".to_string(), "x:y".to_string())],
        "empty values drop"
    );
    let (l, _) = parse_series_desc(r#"{"my.metric", "b.c"="\u00e9"}"#).unwrap();
    assert_eq!(
        l,
        [
            ("__name__".to_string(), "my.metric".to_string()),
            ("b.c".to_string(), "é".to_string()),
        ]
    );
    let (l, v) = parse_series_desc("{} 7").unwrap();
    assert!(l.is_empty());
    assert_eq!(v, [SeqValue::Float(7.0)]);
    assert_eq!(parse_series_desc("a:b:c").unwrap().0[0].1, "a:b:c");
    for bad in [r#"m{a="b"#, r#"m{a}"#, r#"m{a="1",a="2"}"#, "m {a=\"b\"}"] {
        assert!(parse_series_desc(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(unquote("`a\\b`").unwrap(), "a\\b");
    assert_eq!(unquote(r#""\x41\101""#).unwrap(), "AA");
}

#[test]
fn durations() {
    let cases: &[(&str, Option<i64>)] = &[
        ("0", Some(0)),
        ("5m", Some(300_000)),
        ("1h30m", Some(5_400_000)),
        ("10s53ms", Some(10_053)),
        ("1d", Some(86_400_000)),
        ("", None),
        ("5", None),
        ("30m1h", None),
        ("-5m", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_duration(s), *want, "{s:?}");
    }
}

fn one_eval(script: &str) -> super::script::Eval {
    let cmds = parse_script(script);
    let evals: Vec<_> = cmds
        .into_iter()
        .filter_map(|c| match c {
            Command::Eval(e) => Some(*e),
            Command::Invalid { line, msg } => panic!("line {line}: {msg}"),
            _ => None,
        })
        .collect();
    assert_eq!(evals.len(), 1, "{script}");
    evals.into_iter().next().unwrap()
}

#[test]
fn expected_results() {
    let ev = one_eval(
        "# comment\neval instant at 50m sum by (g) (x)\n  {g=\"a\"} 3\n  expect warn\n  {g=\"b\"} 4\n",
    );
    assert_eq!(ev.kind, EvalKind::Instant(3_000_000));
    assert_eq!(ev.expr, "sum by (g) (x)");
    assert_eq!(ev.series.len(), 2);
    assert_eq!(ev.series[1].pos, 2, "expect lines take no position");
    assert_eq!(ev.expects.warn.len(), 1);

    let ev = one_eval("eval range from 0 to 2m step 1m x\n  x{a=\"b\"} 1 _ stale\n");
    assert_eq!(
        ev.kind,
        EvalKind::Range {
            start: 0,
            end: 120_000,
            step: 60_000
        }
    );
    assert_eq!(ev.series[0].values.len(), 3);

    let ev = one_eval("eval instant at 1m 1 + 1\n  0x2\n");
    assert_eq!(ev.expect_scalar, Some(2.0), "hex scalar");
    let ev = one_eval("eval_ordered instant at 0 sort(x)\n  expect string \"a\\\"b\"\n");
    assert!(ev.is_ordered());
    assert_eq!(ev.expect_string.as_deref(), Some("a\"b"));
    let ev = one_eval(
        "eval instant at 1m x[1m]\n  expect range vector from 0 to 1m step 30s\n  x 1 2 3\n",
    );
    assert_eq!(ev.expect_range, Some((0, 60_000, 30_000)));
    assert!(ev.exclude_from_range_mode());
    assert_eq!(ev.matrix_times(), (0, 60_000, 30_000));
    let ev = one_eval("eval_fail instant at 0 x\n");
    assert!(ev.is_fail());
}

#[test]
fn invalid_lines_are_reported_not_fatal() {
    let cmds = parse_script("bogus\n\nload 1m\n  m{ 1\n\neval instant at 1m m\n  x 1 2\n\nclear\n");
    let invalid = cmds
        .iter()
        .filter(|c| matches!(c, Command::Invalid { .. }))
        .count();
    assert_eq!(invalid, 3, "{cmds:?}");
    assert!(matches!(cmds.last(), Some(Command::Clear)));
}

#[test]
fn load_replaces_repeated_series_and_records_st_lines() {
    let cmds =
        parse_script("load 1m\n  m 1 2\n  m{a=\"\"} 5\n  n{x=\"y\"}@st _ -1m\n  n{x=\"y\"} _ 3\n");
    let Some(Command::Load(l)) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert_eq!(l.interval_ms, 60_000);
    assert_eq!(
        l.series.len(),
        2,
        "m{{a=\"\"}} is m, which replaces the first line"
    );
    assert_eq!(l.series[0].values, [SeqValue::Float(5.0)]);
    assert_eq!(l.series[0].st_offsets, None);
    assert_eq!(l.series[1].st_offsets, Some(vec![None, Some(-60_000)]));
}

#[test]
fn st_sequences() {
    use super::script::parse_st_sequence;
    let ok: &[(&str, &[Option<i64>])] = &[
        ("_ _x2 0", &[None, None, None, Some(0)]),
        ("-30s-1mx2", &[Some(-30_000), Some(-90_000), Some(-150_000)]),
        ("+1m 1ms -0msx1", &[Some(60_000), Some(1), Some(0), Some(0)]),
        ("0+1sx1", &[Some(0), Some(1000)]),
    ];
    for (text, want) in ok {
        assert_eq!(parse_st_sequence(text).unwrap(), *want, "{text}");
    }
    for bad in ["_x0", "1m*2", "abc", "1m+1s"] {
        assert!(parse_st_sequence(bad).is_err(), "{bad}");
    }
    let cmds = parse_script(
        "load 1m
  n@st _ -1m
  m _ 3
",
    );
    assert!(
        matches!(cmds.first(), Some(Command::Invalid { .. })),
        "{cmds:?}"
    );
}

#[test]
fn expect_lines() {
    let mut ex = Expects::default();
    parse_expect("expect fail msg: bad thing (1:2)", &mut ex).unwrap();
    assert!(matches!(&ex.fail[0], MsgMatch::Exact(m) if m == "bad thing (1:2)"));
    parse_expect("expect warn regex: ^PromQL warning", &mut ex).unwrap();
    assert!(ex.warn[0].matches("PromQL warning: x"));
    assert!(!ex.warn[0].matches("PromQL info: x"));
    parse_expect("expect info", &mut ex).unwrap();
    assert!(ex.info[0].matches("anything"));
    parse_expect("expect ordered", &mut ex).unwrap();
    assert!(ex.ordered);
    assert!(
        parse_expect("expect no_info", &mut ex).is_err(),
        "info with no_info"
    );
    assert!(
        parse_expect("expect fail", &mut ex).is_err(),
        "two fail lines"
    );
    assert!(parse_expect("expect sometimes", &mut Expects::default()).is_err());
    assert!(parse_expect("expect warn regex: (", &mut Expects::default()).is_err());
}

#[test]
fn float_comparison() {
    let stale = tessera::model::stale_nan();
    assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
    assert!(!almost_equal(1.0, 1.001, 1e-6));
    assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
    assert!(almost_equal(stale, stale, 1e-6));
    assert!(!almost_equal(stale, f64::NAN, 1e-6));
    assert!(!almost_equal(0.0, 1e-300, 1e-6));
    assert!(almost_equal(f64::INFINITY, f64::INFINITY, 1e-6));
    assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, 1e-6));
}

#[test]
fn selectors_and_at_variants() {
    let e = tessera::promql::parser::parse(r#"rate(h_bucket{le=~"1|2"}[5m]) + on() x"#).unwrap();
    let l = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert!(exprs::selects_any(
        &e,
        &[l(&[("__name__", "h_bucket"), ("le", "2")])]
    ));
    assert!(!exprs::selects_any(
        &e,
        &[l(&[("__name__", "h_bucket"), ("le", "3")])]
    ));
    assert!(exprs::selects_any(
        &e,
        &[l(&[("__name__", "x"), ("a", "b")])]
    ));
    assert!(!exprs::selects_any(&e, &[]));

    let (pinned, times) = exprs::at_variants(&e, 60_000).unwrap();
    assert_eq!(times, [-600_000, 0, 12_000, 60_000, 600_000]);
    assert_eq!(
        pinned.to_string().matches("@ 60.000").count(),
        2,
        "{pinned}"
    );
    let zero = exprs::at_variants(&e, 0).unwrap();
    assert_eq!(zero.1, [-1000, 0, 1000]);
    let t = tessera::promql::parser::parse("time() + x").unwrap();
    assert!(
        exprs::at_variants(&t, 1000).is_none(),
        "time() is not step invariant"
    );
    let sub = tessera::promql::parser::parse("max_over_time((time() + x)[5m:1m])").unwrap();
    let (p, _) = exprs::at_variants(&sub, 1000).expect("inside subqueries is not inspected");
    assert_eq!(p.to_string().matches('@').count(), 1, "{p}");
}

#[test]
fn unparsed_reasons() {
    let r = |e: &str| exprs::unparsed_reason(e, "some error at 3");
    assert_eq!(
        r("rate(x[5m] anchored)"),
        "extended range selector (anchored/smoothed)"
    );
    assert_eq!(r("x[5m+1m]"), "duration expression");
    assert_eq!(r("x offset (1m*2)"), "duration expression");
    assert_eq!(r("x[step()]"), "duration expression");
    assert_eq!(r("x >/ 2"), "trim operator (>/ or </)");
    assert_eq!(r("x + fill(0) y"), "binop fill modifier");
    assert_eq!(r("x[5m:1m] foo"), "unparsed: some error");
    assert!(exprs::uses_query_context("x[step()]"));
    assert!(!exprs::uses_query_context("x[5m]"));
}

/// Every shipped script must parse completely, or cases would silently vanish.
#[test]
fn all_shipped_scripts_parse() {
    let dir = super::scripts_dir();
    let Ok(files) = std::fs::read_dir(&dir) else {
        panic!("no scripts at {}", dir.display())
    };
    let mut evals = 0;
    for f in files.filter_map(Result::ok) {
        if f.path().extension().is_none_or(|x| x != "test") {
            continue;
        }
        let text = std::fs::read_to_string(f.path()).unwrap();
        for c in parse_script(&text) {
            match c {
                Command::Invalid { line, msg } => {
                    panic!("{}:{line}: {msg}", f.path().display())
                }
                Command::Eval(_) => evals += 1,
                _ => {}
            }
        }
    }
    assert!(evals > 100, "only {evals} evals found");
}

fn sample(pairs: &[(&str, &str)], v: f64) -> tessera::promql::InstantSample {
    tessera::promql::InstantSample {
        labels: tessera::model::Labels::from_pairs(pairs.iter().copied()),
        t: 0,
        v,
        histogram: None,
    }
}

#[test]
fn vector_comparison() {
    use super::compare::compare;
    use tessera::promql::Value;
    let ev = one_eval("eval instant at 1m x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n");
    let good = vec![
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
        sample(&[("__name__", "x"), ("a", "1")], 1.0),
    ];
    assert_eq!(
        compare(&ev, &Value::Vector(good.clone())),
        Ok(()),
        "order is ignored"
    );
    let mut off = good.clone();
    off[0].v = 2.1;
    assert!(compare(&ev, &Value::Vector(off)).is_err(), "wrong value");
    assert!(
        compare(&ev, &Value::Vector(good[..1].to_vec())).is_err(),
        "missing series"
    );
    let mut extra = good.clone();
    extra.push(sample(&[("__name__", "x")], 0.0));
    assert!(
        compare(&ev, &Value::Vector(extra)).is_err(),
        "unexpected series"
    );
    assert!(
        compare(&ev, &Value::Scalar { t: 0, v: 1.0 }).is_err(),
        "scalar for vector"
    );

    let ordered = one_eval("eval_ordered instant at 1m sort(x)\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n");
    assert!(
        compare(&ordered, &Value::Vector(good.clone())).is_err(),
        "order matters"
    );
    let mut sorted = good;
    sorted.reverse();
    assert_eq!(compare(&ordered, &Value::Vector(sorted)), Ok(()));

    let empty = one_eval("eval instant at 1m x\n");
    assert_eq!(compare(&empty, &Value::Vector(vec![])), Ok(()));
    let scalar = one_eval("eval instant at 1m 1\n  1.0000000001\n");
    assert_eq!(
        compare(&scalar, &Value::Scalar { t: 60_000, v: 1.0 }),
        Ok(())
    );
    assert!(compare(&scalar, &Value::Vector(vec![])).is_err());
}

#[test]
fn matrix_comparison() {
    use super::compare::compare;
    use tessera::model::{Labels, Sample};
    use tessera::promql::{RangeSeries, Value};
    let ev = one_eval("eval range from 0 to 2m step 1m x\n  x 1 _ 3\n");
    let series = |pts: &[(i64, f64)]| {
        Value::Matrix(vec![RangeSeries {
            labels: Labels::from_pairs([("__name__", "x")]),
            samples: pts.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
            histograms: vec![],
        }])
    };
    assert_eq!(compare(&ev, &series(&[(0, 1.0), (120_000, 3.0)])), Ok(()));
    assert!(
        compare(&ev, &series(&[(0, 1.0), (60_000, 3.0)])).is_err(),
        "timestamps count"
    );
    assert!(
        compare(&ev, &series(&[(0, 1.0), (60_000, 2.0), (120_000, 3.0)])).is_err(),
        "a gap is no point"
    );
    let too_long = one_eval("eval range from 0 to 1m step 1m x\n  x 1 2 3\n");
    assert!(compare(&too_long, &series(&[(0, 1.0), (60_000, 2.0)])).is_err());
    let unsorted = Value::Matrix(vec![
        RangeSeries {
            labels: Labels::from_pairs([("a", "2")]),
            samples: vec![],
            histograms: vec![],
        },
        RangeSeries {
            labels: Labels::from_pairs([("a", "1")]),
            samples: vec![],
            histograms: vec![],
        },
    ]);
    assert!(super::compare::check_sorted(match &unsorted {
        Value::Matrix(m) => m,
        _ => unreachable!(),
    })
    .is_err());
}

#[test]
fn annotation_and_failure_checks() {
    use super::compare::{check_annotations, check_failure};
    use tessera::promql::Annotations;
    let warn = |w: &[&str]| Annotations {
        warnings: w.iter().map(|s| s.to_string()).collect(),
        infos: vec![],
    };
    let plain = one_eval("eval instant at 1m x\n");
    assert_eq!(
        check_annotations(&plain, &warn(&["anything"])),
        Ok(()),
        "unchecked without expect lines"
    );
    let ev = one_eval("eval instant at 1m x\n  expect warn msg: PromQL warning: w (1:1)\n");
    assert_eq!(
        check_annotations(&ev, &warn(&["PromQL warning: w (1:1)"])),
        Ok(())
    );
    assert!(
        check_annotations(&ev, &warn(&[])).is_err(),
        "missing warning"
    );
    assert!(
        check_annotations(&ev, &warn(&["PromQL warning: w (1:1)", "other"])).is_err(),
        "extra warning"
    );
    let no = one_eval("eval instant at 1m x\n  expect no_warn\n");
    assert!(check_annotations(&no, &warn(&["w"])).is_err());
    let prefixed = one_eval("eval_warn instant at 1m x\n");
    assert!(check_annotations(&prefixed, &warn(&[])).is_err());

    let fail = one_eval("eval instant at 1m x\n  expect fail regex: too many\n");
    assert_eq!(
        check_failure(&fail, "query processing would load too many samples"),
        Ok(())
    );
    assert!(check_failure(&fail, "other").is_err());
    let any = one_eval("eval_fail instant at 1m x\n");
    assert_eq!(check_failure(&any, "whatever"), Ok(()));
}
