//! OTLP exemplars into Prometheus exemplars.
//!
//! Reproduces `getPromExemplars` in Prometheus's
//! `storage/remote/otlptranslator/prometheusremotewrite/helper.go`: the
//! trace and span ids become the labels `trace_id` and `span_id` (lower-case
//! hex), the filtered attributes become labels under their own keys (values
//! as `AsString`) unless they would take the label set past 128 runes, in
//! which case they are dropped and the ids kept; the value is the double or
//! the integer; the time is in milliseconds. Where the callers attach them
//! (`addSumNumberDataPoints`, `addHistogramDataPoints`,
//! `addExponentialHistogramDataPoints`) is [`bucket_of`] and
//! `translate.rs`.
//!
//! Where upstream would fail the whole metric or request (no value, an id
//! of the wrong length, which pdata refuses while decoding) one exemplar is
//! refused here with a reason, and its data point is kept. An exemplar
//! without a time takes its data point's, as a scraped one does
//! (upstream keeps 0).

use super::proto::{Exemplar as OtlpExemplar, ExemplarValue, KeyValue};
use super::value::value_string;
use crate::model::{Exemplar, LabelRef, EXEMPLAR_MAX_LABEL_SET_LENGTH};

/// The label a trace id becomes.
pub const TRACE_ID: &str = "trace_id";
/// The label a span id becomes.
pub const SPAN_ID: &str = "span_id";

/// The exemplars of one data point, converted.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    /// Exemplars to store, in the order sent.
    pub kept: Vec<Exemplar>,
    /// Why each refused exemplar was refused.
    pub refused: Vec<String>,
    /// Kept exemplars whose filtered attributes were dropped because the
    /// label set would have been longer than 128 runes.
    pub trimmed: u64,
}

/// Converts a data point's exemplars; `point_ms` is the point's time.
pub fn convert(exemplars: &[OtlpExemplar], point_ms: i64) -> Converted {
    let mut out = Converted::default();
    for e in exemplars {
        match one(e, point_ms) {
            Ok((x, trimmed)) => {
                out.trimmed += u64::from(trimmed);
                out.kept.push(x);
            }
            Err(reason) => out.refused.push(reason),
        }
    }
    out
}

/// One exemplar and whether its attributes were dropped.
fn one(e: &OtlpExemplar, point_ms: i64) -> Result<(Exemplar, bool), String> {
    let value = match e.value {
        Some(ExemplarValue::AsDouble(f)) => f,
        Some(ExemplarValue::AsInt(i)) => i as f64,
        None => return Err("exemplar has no value (neither asDouble nor asInt)".into()),
    };
    let t = match (e.time_unix_nano / 1_000_000) as i64 {
        0 => point_ms,
        t => t,
    };
    let trace = id_hex(&e.trace_id, 16, TRACE_ID)?;
    let span = id_hex(&e.span_id, 8, SPAN_ID)?;
    let mut owned: Vec<(&str, String)> = Vec::with_capacity(2 + e.filtered_attributes.len());
    owned.extend(trace.map(|v| (TRACE_ID, v)));
    owned.extend(span.map(|v| (SPAN_ID, v)));
    let attrs: Vec<(&str, String)> = e
        .filtered_attributes
        .iter()
        .map(|kv: &KeyValue| (kv.key.as_str(), value_string(kv.value.as_ref())))
        .collect();
    let runes: usize = owned
        .iter()
        .chain(&attrs)
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    let trimmed = runes > EXEMPLAR_MAX_LABEL_SET_LENGTH && !attrs.is_empty();
    if !trimmed {
        owned.extend(attrs);
    }
    let refs: Vec<LabelRef<'_>> = owned.iter().map(|(k, v)| LabelRef::new(k, v)).collect();
    let x = Exemplar::from_refs(&refs, value, t)?;
    Ok((x, trimmed))
}

/// An id as lower-case hex, `None` when absent or all zero (pdata's
/// `IsEmpty`), or an error when it is not `len` bytes long.
fn id_hex(id: &[u8], len: usize, what: &str) -> Result<Option<String>, String> {
    if id.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    if id.len() != len {
        return Err(format!(
            "exemplar {what} is {} bytes long, not {len}",
            id.len()
        ));
    }
    let mut s = String::with_capacity(2 * len);
    for b in id {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(Some(s))
}

/// The bucket of an explicit-bucket histogram an exemplar of `value`
/// belongs to: the first whose upper bound is at least the value, or
/// `bounds.len()` (`+Inf`). Upstream's `addHistogramDataPoints` walks
/// exemplars and bounds together assuming both are sorted; finding each
/// exemplar's bucket gives the same answer for sorted exemplars and the
/// right one for others. A NaN value belongs to `+Inf`.
pub fn bucket_of(value: f64, bounds: &[f64]) -> usize {
    bounds
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(bounds.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::proto::{AnyValue, Value};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
        }
    }

    fn ex(value: Option<ExemplarValue>, ns: u64, attrs: Vec<KeyValue>) -> OtlpExemplar {
        OtlpExemplar {
            filtered_attributes: attrs,
            time_unix_nano: ns,
            value,
            span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
            trace_id: (0..16u8).collect(),
        }
    }

    fn labels(x: &Exemplar) -> Vec<(String, String)> {
        x.labels
            .as_slice()
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    }

    #[test]
    fn ids_attributes_value_and_time() {
        let e = ex(
            Some(ExemplarValue::AsInt(7)),
            5_000_000,
            vec![kv("user", "u1")],
        );
        let c = convert(&[e], 99);
        assert_eq!((c.refused.len(), c.trimmed), (0, 0));
        let x = &c.kept[0];
        assert_eq!((x.value, x.t), (7.0, 5));
        assert_eq!(
            labels(x),
            [
                ("span_id".into(), "eee19b7ec3c1b174".into()),
                ("trace_id".into(), "000102030405060708090a0b0c0d0e0f".into()),
                ("user".into(), "u1".into()),
            ]
        );
        // No time: the point's; all-zero ids are absent.
        let mut e = ex(Some(ExemplarValue::AsDouble(0.5)), 999, vec![]);
        e.trace_id = vec![0; 16];
        e.span_id.clear();
        let c = convert(&[e], 42);
        assert_eq!((c.kept[0].t, c.kept[0].value), (42, 0.5));
        assert!(c.kept[0].labels.is_empty());
    }

    #[test]
    fn attributes_past_128_runes_are_dropped_not_the_exemplar() {
        // trace_id (8 + 32) and span_id (7 + 16) take 63 runes; 65 more fit.
        let fits = kv("k", &"é".repeat(64));
        let c = convert(&[ex(Some(ExemplarValue::AsDouble(1.0)), 0, vec![fits])], 1);
        assert_eq!((c.kept[0].labels.len(), c.trimmed), (3, 0));
        let over = kv("k", &"é".repeat(65));
        let c = convert(&[ex(Some(ExemplarValue::AsDouble(1.0)), 0, vec![over])], 1);
        assert_eq!((c.kept[0].labels.len(), c.trimmed), (2, 1));
        assert_eq!(c.kept[0].labels.get("k"), None);
    }

    #[test]
    fn invalid_exemplars_are_refused_alone() {
        let mut short = ex(Some(ExemplarValue::AsDouble(1.0)), 0, vec![]);
        short.trace_id = vec![1, 2, 3, 4, 5];
        let cases = [
            ex(None, 0, vec![]),
            short,
            ex(
                Some(ExemplarValue::AsDouble(1.0)),
                0,
                vec![kv("trace_id", "x")],
            ),
            ex(Some(ExemplarValue::AsDouble(1.0)), 0, vec![kv("", "x")]),
        ];
        let good = ex(Some(ExemplarValue::AsDouble(2.0)), 0, vec![]);
        let mut all = cases.to_vec();
        all.push(good);
        let c = convert(&all, 1);
        assert_eq!(c.kept.len(), 1);
        assert_eq!(c.kept[0].value, 2.0);
        let want = [
            "exemplar has no value",
            "exemplar trace_id is 5 bytes long, not 16",
            "duplicate exemplar label name \"trace_id\"",
            "empty name",
        ];
        assert_eq!(c.refused.len(), want.len());
        for (got, want) in c.refused.iter().zip(want) {
            assert!(got.contains(want), "{got} / {want}");
        }
    }

    #[test]
    fn buckets_by_upper_bound() {
        let bounds = [0.1, 1.0, 10.0];
        let cases = [
            (-5.0, 0),
            (0.1, 0),
            (0.100001, 1),
            (1.0, 1),
            (9.0, 2),
            (10.5, 3),
            (f64::INFINITY, 3),
            (f64::NAN, 3),
        ];
        for (v, want) in cases {
            assert_eq!(bucket_of(v, &bounds), want, "{v}");
        }
        assert_eq!(bucket_of(1.0, &[]), 0);
    }
}
