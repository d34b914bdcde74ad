//! Judging a query's outcome against an eval's expectations, as upstream
//! `evalCmd.compareResult`, `checkAnnotations` and `checkExpectedFailure` do.

use std::collections::BTreeMap;

use tessera::model::{is_stale_nan, Labels};
use tessera::promql::{Annotations, InstantSample, QueryError, RangeSeries, Value};

use super::hist::HistDesc;
use super::script::{Eval, MsgMatch};
use super::values::{LabelSet, SeqValue};

/// Relative error allowed between floats (upstream `defaultEpsilon`).
const EPSILON: f64 = 1e-6;

/// Float equality with a relative tolerance; NaN equals NaN, and the stale
/// marker equals only itself. Upstream `util/almost.Equal`.
pub fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < eps * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Converts result labels to the runner's form.
pub fn label_set(l: &Labels) -> LabelSet {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// Formats a label set in Prometheus notation.
pub fn fmt_labels(set: &LabelSet) -> String {
    let name = set.iter().find(|(n, _)| n == "__name__");
    let rest: Vec<String> = set
        .iter()
        .filter(|(n, _)| n != "__name__")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    let name = name.map_or("", |(_, v)| v.as_str());
    if rest.is_empty() && !name.is_empty() {
        return name.to_string();
    }
    format!("{name}{{{}}}", rest.join(", "))
}

/// Upstream `checkExpectedFailure`: the error must match any given message.
pub fn check_failure(ev: &Eval, err: &str) -> Result<(), String> {
    let checks = ev.legacy_fail.iter().chain(ev.expects.fail.first());
    for m in checks {
        if !m.matches(err) {
            return Err(format!("expected error matching {m:?}, got: {err}"));
        }
    }
    Ok(())
}

/// The error text upstream would compare (`err.Error()`).
pub fn error_text(e: &QueryError) -> String {
    e.to_string()
}

/// Upstream `validateExpectedAnnotationsOfType`.
fn check_kind(kind: &str, expected: &[MsgMatch], actual: &[String]) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    if let Some(e) = expected
        .iter()
        .find(|e| !actual.iter().any(|a| e.matches(a)))
    {
        return Err(format!(
            "expected {kind} annotation matching {e:?}, found: {actual:?}"
        ));
    }
    if let Some(a) = actual
        .iter()
        .find(|a| !expected.iter().any(|e| e.matches(a)))
    {
        return Err(format!("unexpected {kind} annotation {a:?}"));
    }
    Ok(())
}

/// Upstream `checkAnnotations`.
pub fn check_annotations(ev: &Eval, a: &Annotations) -> Result<(), String> {
    if ev.prefix_warn && a.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if ev.prefix_info && a.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_kind("warn", &ev.expects.warn, &a.warnings)?;
    check_kind("info", &ev.expects.info, &a.infos)?;
    if ev.expects.no_warn && !a.warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {:?}", a.warnings));
    }
    if ev.expects.no_info && !a.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", a.infos));
    }
    Ok(())
}

/// Upstream `compareResult`.
pub fn compare(ev: &Eval, v: &Value) -> Result<(), String> {
    match v {
        Value::Matrix(m) => compare_matrix(ev, m),
        Value::Vector(vec) => compare_vector(ev, vec),
        Value::Scalar { v, .. } => {
            let Some(exp) = ev.expect_scalar else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {v}"
                ));
            };
            if !almost_equal(exp, *v, EPSILON) {
                return Err(format!("expected scalar {exp} but got {v}"));
            }
            Ok(())
        }
        Value::String { v, .. } => {
            let exp = ev.expect_string.as_deref().unwrap_or("");
            if exp != v {
                return Err(format!("expected string {exp:?} but got {v:?}"));
            }
            Ok(())
        }
    }
}

fn expected_map(ev: &Eval) -> BTreeMap<&LabelSet, (usize, &[SeqValue])> {
    ev.series
        .iter()
        .map(|s| (&s.labels, (s.pos, s.values.as_slice())))
        .collect()
}

fn compare_vector(ev: &Eval, vec: &[InstantSample]) -> Result<(), String> {
    if ev.expect_scalar.is_some() {
        return Err(format!(
            "expected scalar result, but got a vector of {}",
            vec.len()
        ));
    }
    let exp = expected_map(ev);
    let mut seen = 0;
    for (i, s) in vec.iter().enumerate() {
        let ls = label_set(&s.labels);
        let Some((pos, vals)) = exp.get(&ls) else {
            return Err(format!(
                "unexpected metric {} in result, has value {}",
                fmt_labels(&ls),
                s.v
            ));
        };
        if ev.is_ordered() && *pos != i + 1 {
            return Err(format!(
                "expected metric {} at position {pos} but was at {}",
                fmt_labels(&ls),
                i + 1
            ));
        }
        match (vals.first(), &s.histogram) {
            (Some(SeqValue::Histogram(want)), Some(got)) => {
                if !want.matches(got) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        want.fmt(),
                        fmt_labels(&ls),
                        HistDesc::from_model(got).fmt()
                    ));
                }
                seen += 1;
                continue;
            }
            (Some(SeqValue::Histogram(want)), None) => {
                return Err(format!(
                    "expected histogram {} for {} but got float {}",
                    want.fmt(),
                    fmt_labels(&ls),
                    s.v
                ))
            }
            (_, Some(got)) => {
                return Err(format!(
                    "expected float for {} but got histogram {}",
                    fmt_labels(&ls),
                    HistDesc::from_model(got).fmt()
                ))
            }
            _ => {}
        }
        let want = match vals.first() {
            Some(SeqValue::Float(f)) => *f,
            _ => 0.0,
        };
        if !almost_equal(want, s.v, EPSILON) {
            return Err(format!(
                "expected {want} for {} but got {}",
                fmt_labels(&ls),
                s.v
            ));
        }
        seen += 1;
    }
    if seen < exp.len() {
        let got: Vec<LabelSet> = vec.iter().map(|s| label_set(&s.labels)).collect();
        let missing = exp.keys().find(|k| !got.contains(k)).map(|k| fmt_labels(k));
        return Err(format!(
            "expected metric {} not found",
            missing.unwrap_or_default()
        ));
    }
    Ok(())
}

fn compare_matrix(ev: &Eval, m: &[RangeSeries]) -> Result<(), String> {
    if ev.is_ordered() {
        return Err("expected ordered result, but query returned a matrix".into());
    }
    if ev.expect_scalar.is_some() {
        return Err("expected scalar result, but got matrix".into());
    }
    check_sorted(m)?;
    let exp = expected_map(ev);
    let (start, end, step) = ev.matrix_times();
    let mut seen = 0;
    for s in m {
        let ls = label_set(&s.labels);
        let Some((_, vals)) = exp.get(&ls) else {
            return Err(format!(
                "unexpected metric {} in result, has {}",
                fmt_labels(&ls),
                fmt_points(s)
            ));
        };
        seen += 1;
        let mut want = Vec::new();
        let mut want_h = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let t = start + i as i64 * step;
            if t > end {
                return Err(format!(
                    "expected {} points for {}, but the query range cannot return this many",
                    vals.len(),
                    fmt_labels(&ls)
                ));
            }
            match v {
                SeqValue::Float(f) => want.push((t, *f)),
                SeqValue::Histogram(h) => want_h.push((t, h)),
                SeqValue::Omitted => {}
            }
        }
        compare_histogram_points(&ls, &want_h, s)?;
        if want.len() != s.samples.len() {
            return Err(format!(
                "expected {} float points for {}, but got {}",
                want.len(),
                fmt_labels(&ls),
                fmt_points(s)
            ));
        }
        for ((t, f), got) in want.iter().zip(&s.samples) {
            if *t != got.t || !almost_equal(*f, got.v, EPSILON) {
                return Err(format!(
                    "expected {f} at t={t} for {}, but got {} at t={} (result has {})",
                    fmt_labels(&ls),
                    got.v,
                    got.t,
                    fmt_points(s)
                ));
            }
        }
    }
    if seen < exp.len() {
        let got: Vec<LabelSet> = m.iter().map(|s| label_set(&s.labels)).collect();
        let missing = exp.keys().find(|k| !got.contains(k)).map(|k| fmt_labels(k));
        return Err(format!(
            "expected metric {} not found",
            missing.unwrap_or_default()
        ));
    }
    Ok(())
}

/// The histogram points of one matrix series against the expected ones.
fn compare_histogram_points(
    ls: &LabelSet,
    want: &[(i64, &Box<HistDesc>)],
    s: &RangeSeries,
) -> Result<(), String> {
    if want.len() != s.histograms.len() {
        return Err(format!(
            "expected {} histogram points for {}, but got {}",
            want.len(),
            fmt_labels(ls),
            s.histograms.len()
        ));
    }
    for ((t, h), got) in want.iter().zip(&s.histograms) {
        if *t != got.t || !h.matches(&got.h) {
            return Err(format!(
                "expected {} at t={t} for {}, but got {} at t={}",
                h.fmt(),
                fmt_labels(ls),
                HistDesc::from_model(&got.h).fmt(),
                got.t
            ));
        }
    }
    Ok(())
}

/// Upstream `assertMatrixSorted`.
pub fn check_sorted(m: &[RangeSeries]) -> Result<(), String> {
    match m.windows(2).find(|w| w[0].labels > w[1].labels) {
        Some(w) => Err(format!(
            "matrix results should always be sorted by labels, but {} sorts after {}",
            w[0].labels, w[1].labels
        )),
        None => Ok(()),
    }
}

/// A series' points, shortened for messages.
pub fn fmt_points(s: &RangeSeries) -> String {
    let pts: Vec<String> = s
        .samples
        .iter()
        .take(12)
        .map(|p| format!("{}@{}", p.v, p.t))
        .collect();
    let more = if s.samples.len() > 12 { " ..." } else { "" };
    format!("{} points [{}{more}]", s.samples.len(), pts.join(" "))
}

/// A result value, shortened for verbose output.
pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {v}"),
        Value::String { v, .. } => format!("string {v:?}"),
        Value::Vector(vec) => {
            let items: Vec<String> = vec
                .iter()
                .take(5)
                .map(|s| format!("{} {}", s.labels, s.v))
                .collect();
            format!("vector of {}: [{}]", vec.len(), items.join("; "))
        }
        Value::Matrix(m) => {
            let items: Vec<String> = m
                .iter()
                .take(5)
                .map(|s| format!("{} {}", s.labels, fmt_points(s)))
                .collect();
            format!("matrix of {}: [{}]", m.len(), items.join("; "))
        }
    }
}

/// The expected result, shortened for messages.
pub fn fmt_expected(ev: &Eval) -> String {
    if let Some(f) = ev.expect_scalar {
        return format!("scalar {f}");
    }
    if let Some(s) = &ev.expect_string {
        return format!("string {s:?}");
    }
    let items: Vec<String> = ev
        .series
        .iter()
        .take(5)
        .map(|s| {
            let vals: Vec<String> = s.values.iter().take(12).map(fmt_seq).collect();
            format!("{} {}", fmt_labels(&s.labels), vals.join(" "))
        })
        .collect();
    format!("{} series: [{}]", ev.series.len(), items.join("; "))
}

fn fmt_seq(v: &SeqValue) -> String {
    match v {
        SeqValue::Omitted => "_".into(),
        SeqValue::Float(f) if is_stale_nan(*f) => "stale".into(),
        SeqValue::Float(f) => f.to_string(),
        SeqValue::Histogram(h) => h.fmt(),
    }
}
