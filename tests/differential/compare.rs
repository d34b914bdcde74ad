//! Comparison of two API answers, in the spirit of the compliance tester's
//! `comparer.Compare`: same series label sets, same timestamps, float values
//! equal within a relative tolerance, and errors equal by type only.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::target::Answer;
use crate::templates::Expect;

/// Largest relative difference two values may have and still be equal.
pub const REL_TOLERANCE: f64 = 1e-9;

type Metric = BTreeMap<String, String>;

/// `Ok(())` when the answers agree under `expect`, or the first difference.
pub fn compare(expect: Expect, a: &Answer, b: &Answer) -> Result<(), String> {
    match (a, b) {
        (Answer::NoApi(x), _) => Err(format!("first server gave no API answer: {x}")),
        (_, Answer::NoApi(y)) => Err(format!("second server gave no API answer: {y}")),
        (Answer::Error { kind: ka, .. }, Answer::Error { kind: kb, .. }) if ka == kb => {
            match expect {
                Expect::BothSucceed => Err(format!("both failed ({ka}), expected success")),
                _ => Ok(()),
            }
        }
        (
            Answer::Error {
                kind: ka,
                message: ma,
            },
            Answer::Error {
                kind: kb,
                message: mb,
            },
        ) => Err(format!("error types differ: {ka} ({ma}) vs {kb} ({mb})")),
        (Answer::Error { kind, message }, Answer::Data(_)) => {
            Err(format!("only the first failed: {kind}: {message}"))
        }
        (Answer::Data(_), Answer::Error { kind, message }) => {
            Err(format!("only the second failed: {kind}: {message}"))
        }
        (Answer::Data(_), Answer::Data(_)) if expect == Expect::BothFail => {
            Err("both succeeded, but the query should fail".to_string())
        }
        (Answer::Data(_), Answer::Data(_)) if expect == Expect::BothSucceed => Ok(()),
        (Answer::Data(x), Answer::Data(y)) => compare_data(x, y),
    }
}

/// Compares `data` of two successful answers: query results by result
/// type, anything else (series, labels, label values) as sorted lists.
fn compare_data(a: &Value, b: &Value) -> Result<(), String> {
    let (Some(ta), Some(tb)) = (result_type(a), result_type(b)) else {
        return compare_lists(a, b);
    };
    if ta != tb {
        return Err(format!("result types differ: {ta} vs {tb}"));
    }
    let (ra, rb) = (&a["result"], &b["result"]);
    match ta {
        "matrix" => compare_series(ra, rb, "values"),
        "vector" => compare_series(ra, rb, "value"),
        "scalar" => compare_points("scalar", std::slice::from_ref(ra), std::slice::from_ref(rb)),
        _ if ra == rb => Ok(()),
        _ => Err(format!("{ta} results differ: {ra} vs {rb}")),
    }
}

fn result_type(v: &Value) -> Option<&str> {
    v.get("resultType").and_then(Value::as_str)
}

/// Series and label lists: equal as sets; the order is not part of the API
/// contract for series.
fn compare_lists(a: &Value, b: &Value) -> Result<(), String> {
    let (Some(la), Some(lb)) = (a.as_array(), b.as_array()) else {
        return if a == b {
            Ok(())
        } else {
            Err(format!("data differs: {a} vs {b}"))
        };
    };
    let mut sa: Vec<String> = la.iter().map(Value::to_string).collect();
    let mut sb: Vec<String> = lb.iter().map(Value::to_string).collect();
    sa.sort();
    sb.sort();
    if let Some(x) = sa.iter().find(|x| sb.binary_search(x).is_err()) {
        return Err(format!(
            "{} vs {} entries; only in the first: {x}",
            sa.len(),
            sb.len()
        ));
    }
    if let Some(y) = sb.iter().find(|y| sa.binary_search(y).is_err()) {
        return Err(format!(
            "{} vs {} entries; only in the second: {y}",
            sa.len(),
            sb.len()
        ));
    }
    if sa.len() != sb.len() {
        return Err(format!("{} vs {} entries (duplicates)", sa.len(), sb.len()));
    }
    Ok(())
}

/// Matrix or vector results: the same label sets, then per series the same
/// points (`points_key` is `values` for a matrix, `value` for a vector).
fn compare_series(a: &Value, b: &Value, points_key: &str) -> Result<(), String> {
    let sa = by_metric(a, points_key)?;
    let sb = by_metric(b, points_key)?;
    if let Some(m) = sa.keys().find(|m| !sb.contains_key(*m)) {
        return Err(format!(
            "{} vs {} series; only in the first: {}",
            sa.len(),
            sb.len(),
            show_metric(m)
        ));
    }
    if let Some(m) = sb.keys().find(|m| !sa.contains_key(*m)) {
        return Err(format!(
            "{} vs {} series; only in the second: {}",
            sa.len(),
            sb.len(),
            show_metric(m)
        ));
    }
    for (m, pa) in &sa {
        compare_points(&show_metric(m), pa, &sb[m])?;
    }
    Ok(())
}

/// Series keyed by label set; a vector's single point becomes a list of one.
fn by_metric(result: &Value, points_key: &str) -> Result<BTreeMap<Metric, Vec<Value>>, String> {
    let list = result.as_array().ok_or("result is not a list")?;
    let mut out = BTreeMap::new();
    for s in list {
        let metric: Metric = serde_json::from_value(s["metric"].clone())
            .map_err(|e| format!("bad metric {}: {e}", s["metric"]))?;
        let points = match &s[points_key] {
            Value::Array(p) if points_key == "values" => p.clone(),
            p => vec![p.clone()],
        };
        if out.insert(metric.clone(), points).is_some() {
            return Err(format!("duplicate series {}", show_metric(&metric)));
        }
    }
    Ok(out)
}

fn show_metric(m: &Metric) -> String {
    let name = m.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = m
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// Points `[ts, "value"]`: the same timestamps (to the millisecond) and
/// values within [`REL_TOLERANCE`]. Reports the first point that differs
/// or that only one side has.
fn compare_points(series: &str, a: &[Value], b: &[Value]) -> Result<(), String> {
    let (mut ia, mut ib) = (a.iter().map(point), b.iter().map(point));
    let (mut pa, mut pb) = (ia.next().transpose()?, ib.next().transpose()?);
    loop {
        match (&pa, &pb) {
            (None, None) => return Ok(()),
            (Some((ta, va)), Some((tb, vb))) if ta == tb => {
                if !values_equal(va, vb) {
                    return Err(format!("{series}: at {ta} ms: {va} vs {vb}"));
                }
                pa = ia.next().transpose()?;
                pb = ib.next().transpose()?;
            }
            (Some((ta, va)), Some((tb, _))) if ta < tb => {
                return Err(only(series, "first", *ta, va, a.len(), b.len()))
            }
            (Some((ta, va)), None) => return Err(only(series, "first", *ta, va, a.len(), b.len())),
            (_, Some((tb, vb))) => return Err(only(series, "second", *tb, vb, a.len(), b.len())),
        }
    }
}

fn only(series: &str, side: &str, t: i64, v: &str, na: usize, nb: usize) -> String {
    format!("{series}: {na} vs {nb} points; only the {side} has one at {t} ms ({v})")
}

fn point(p: &Value) -> Result<(i64, String), String> {
    let ts = p[0].as_f64().ok_or_else(|| format!("bad point {p}"))?;
    let v = p[1].as_str().ok_or_else(|| format!("bad point {p}"))?;
    Ok(((ts * 1000.0).round() as i64, v.to_string()))
}

/// Parses Prometheus's float text (`formatFloat` in upstream web/api/v1):
/// `NaN`, `+Inf`, `-Inf` or a decimal.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Equal as floats within [`REL_TOLERANCE`], NaN equal to NaN; texts that
/// are not floats (string results) must be identical.
pub fn values_equal(a: &str, b: &str) -> bool {
    match (parse_value(a), parse_value(b)) {
        (Some(x), Some(y)) if x.is_nan() || y.is_nan() => x.is_nan() && y.is_nan(),
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
            (x - y).abs() <= REL_TOLERANCE * x.abs().max(y.abs())
        }
        (Some(_), Some(_)) => false,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_compare_with_tolerance_and_specials() {
        let cases = [
            ("1", "1", true),
            ("1", "1.0000000001", true),
            ("1", "1.00001", false),
            ("0", "1e-300", false),
            ("NaN", "NaN", true),
            ("NaN", "1", false),
            ("+Inf", "+Inf", true),
            ("+Inf", "-Inf", false),
            ("-Inf", "-Inf", true),
            ("1e308", "+Inf", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(values_equal(a, b), want, "{a} vs {b}");
        }
    }

    fn matrix(series: Value) -> Answer {
        Answer::Data(json!({"resultType": "matrix", "result": series}))
    }

    #[test]
    fn matrices_differ_by_labels_points_and_values() {
        let a = matrix(json!([{"metric": {"a": "1"}, "values": [[1.5, "1"], [2, "2"]]}]));
        let same = a.clone();
        let other_label = matrix(json!([{"metric": {"a": "2"}, "values": [[1.5, "1"], [2, "2"]]}]));
        let short = matrix(json!([{"metric": {"a": "1"}, "values": [[1.5, "1"]]}]));
        let other_value = matrix(json!([{"metric": {"a": "1"}, "values": [[1.5, "1"], [2, "3"]]}]));
        let gap = matrix(json!([{"metric": {"a": "1"}, "values": [[2, "2"]]}]));
        let empty = matrix(json!([]));
        assert!(compare(Expect::Compare, &a, &same).is_ok());
        for b in [other_label, short, other_value, gap, empty] {
            assert!(compare(Expect::Compare, &a, &b).is_err(), "{b:?}");
        }
    }

    #[test]
    fn errors_match_by_type_and_expectations_hold() {
        let err = |k: &str, m: &str| Answer::Error {
            kind: k.to_string(),
            message: m.to_string(),
        };
        let ok = Answer::Data(json!(["a"]));
        assert!(compare(
            Expect::Compare,
            &err("bad_data", "x"),
            &err("bad_data", "y")
        )
        .is_ok());
        assert!(compare(
            Expect::Compare,
            &err("bad_data", "x"),
            &err("execution", "x")
        )
        .is_err());
        assert!(compare(Expect::Compare, &err("bad_data", "x"), &ok).is_err());
        assert!(compare(Expect::BothFail, &ok, &ok).is_err());
        assert!(compare(Expect::BothSucceed, &ok, &Answer::Data(json!(["b"]))).is_ok());
        assert!(compare(Expect::Compare, &ok, &Answer::NoApi("404".into())).is_err());
    }

    #[test]
    fn lists_compare_as_sets() {
        let a = Answer::Data(json!(["b", "a"]));
        assert!(compare(Expect::Compare, &a, &Answer::Data(json!(["a", "b"]))).is_ok());
        assert!(compare(Expect::Compare, &a, &Answer::Data(json!(["a"]))).is_err());
    }
}
