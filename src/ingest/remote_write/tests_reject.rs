//! Per-series acceptance and rejection, including the cases the
//! prometheus/compliance remote-write receiver tests send.

use prost::Message;

use super::*;
use crate::ingest::proto::{v1, v2};
use crate::model::stale_nan;

const NOW: i64 = 1_700_000_000_000;

fn s(v: f64) -> Sample {
    Sample::new(NOW, v)
}

fn span(offset: i32, length: u32) -> v2::BucketSpan {
    v2::BucketSpan { offset, length }
}

/// Integer histogram with explicit count, zero count and buckets.
fn int_hist(count: u64, zero: u64, pos: &[i64], neg: &[i64]) -> v2::Histogram {
    v2::Histogram {
        count: Some(v2::Count::CountInt(count)),
        zero_count: Some(v2::ZeroCount::ZeroCountInt(zero)),
        sum: 1.5,
        positive_spans: if pos.is_empty() {
            vec![]
        } else {
            vec![span(0, pos.len() as u32)]
        },
        positive_deltas: pos.to_vec(),
        negative_spans: if neg.is_empty() {
            vec![]
        } else {
            vec![span(-1, neg.len() as u32)]
        },
        negative_deltas: neg.to_vec(),
        timestamp: NOW,
        ..Default::default()
    }
}

fn float_hist(count: f64, pos: &[f64]) -> v2::Histogram {
    v2::Histogram {
        count: Some(v2::Count::CountFloat(count)),
        sum: 3.0,
        positive_spans: vec![span(0, pos.len() as u32)],
        positive_counts: pos.to_vec(),
        timestamp: NOW,
        ..Default::default()
    }
}

fn nhcb(bounds: &[f64], pos: &[i64], count: u64) -> v2::Histogram {
    v2::Histogram {
        schema: -53,
        custom_values: bounds.to_vec(),
        ..int_hist(count, 0, pos, &[])
    }
}

fn decode2(req: v2::Request) -> DecodedBatch<'static> {
    let buf: &'static [u8] = Box::leak(req.encode_to_vec().into_boxed_slice());
    decode_v2(buf).expect("well-formed request")
}

/// One histogram on an otherwise valid series.
fn with_hist(h: v2::Histogram) -> DecodedBatch<'static> {
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "h")], &[]).histograms.push(h);
    decode2(b.build())
}

#[test]
fn valid_histograms_are_accepted_and_counted() {
    let cases: Vec<(&str, v2::Histogram)> = vec![
        // Buckets 2, 3, 1 (deltas 2, +1, -2); negative 4; zero 1.
        ("schema 0, all sides", int_hist(11, 1, &[2, 1, -2], &[4])),
        ("positive only", int_hist(6, 0, &[2, 1, -2], &[])),
        ("negative only", int_hist(7, 0, &[], &[3, 1])),
        ("zero only", int_hist(5, 5, &[], &[])),
        ("empty", v2::Histogram::default()),
        ("empty with count 0", int_hist(0, 0, &[], &[])),
        (
            "NHCB",
            nhcb(
                &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0],
                &[1, 0, 1, 0, 0, 0, -2],
                10,
            ),
        ),
        (
            "NaN sum lets count exceed buckets",
            v2::Histogram {
                sum: f64::NAN,
                ..int_hist(9, 0, &[2], &[])
            },
        ),
        ("float exact", float_hist(6.0, &[1.0, 2.0, 3.0])),
        (
            "float count above buckets",
            float_hist(7.0, &[1.0, 2.0, 3.0]),
        ),
        ("float rounding slack", float_hist(0.3, &[0.1, 0.2])),
        (
            "schema -4",
            v2::Histogram {
                schema: -4,
                ..int_hist(2, 0, &[2], &[])
            },
        ),
        (
            "schema 8",
            v2::Histogram {
                schema: 8,
                ..int_hist(2, 0, &[2], &[])
            },
        ),
        (
            "two spans",
            v2::Histogram {
                positive_spans: vec![span(-2, 1), span(3, 2)],
                ..int_hist(5, 0, &[1, 1, 0], &[])
            },
        ),
    ];
    for (name, h) in cases {
        let batch = with_hist(h);
        assert_eq!(batch.rejected, [], "{name}");
        assert_eq!(batch.series.len(), 1, "{name}");
        assert_eq!(batch.series[0].histograms.len(), 1, "{name}");
        assert!(batch.series[0].samples.is_empty(), "{name}");
    }
}

#[test]
fn invalid_histograms_reject_the_series() {
    let cases: Vec<(&str, v2::Histogram, &str)> = vec![
        (
            "count 99 vs buckets",
            int_hist(99, 1, &[2, 1, -2], &[4]),
            "count 99",
        ),
        (
            "count too small",
            int_hist(3, 0, &[2, 1], &[]),
            "bucket sum 5",
        ),
        (
            "NaN sum, count below buckets",
            v2::Histogram {
                sum: f64::NAN,
                ..int_hist(1, 0, &[2], &[])
            },
            "count 1",
        ),
        (
            "negative bucket from deltas",
            int_hist(0, 0, &[2, -3, 1], &[]),
            "negative count",
        ),
        (
            "span shorter than buckets",
            v2::Histogram {
                positive_spans: vec![span(0, 2)],
                ..int_hist(6, 0, &[1, 1, 1], &[])
            },
            "cover 2 buckets but 3",
        ),
        (
            "buckets without span",
            v2::Histogram {
                positive_spans: vec![],
                ..int_hist(1, 0, &[1], &[])
            },
            "cover 0",
        ),
        (
            "second span negative offset",
            v2::Histogram {
                positive_spans: vec![span(0, 1), span(-1, 1)],
                ..int_hist(2, 0, &[1, 0], &[])
            },
            "negative offset",
        ),
        (
            "float count below buckets",
            float_hist(5.0, &[1.0, 2.0, 3.0]),
            "below the bucket sum",
        ),
        (
            "float negative bucket",
            float_hist(1.0, &[2.0, -1.0]),
            "negative count",
        ),
        (
            "int with float buckets",
            v2::Histogram {
                count: Some(v2::Count::CountInt(3)),
                ..float_hist(3.0, &[3.0])
            },
            "float bucket counts",
        ),
        (
            "float with deltas",
            v2::Histogram {
                count: Some(v2::Count::CountFloat(2.0)),
                zero_count: None,
                ..int_hist(2, 0, &[2], &[])
            },
            "deltas",
        ),
        (
            "float with int zero",
            v2::Histogram {
                zero_count: Some(v2::ZeroCount::ZeroCountInt(0)),
                ..float_hist(1.0, &[1.0])
            },
            "integer zero count",
        ),
        (
            "schema 9",
            v2::Histogram {
                schema: 9,
                ..int_hist(2, 0, &[2], &[])
            },
            "schema 9",
        ),
        (
            "schema -5",
            v2::Histogram {
                schema: -5,
                ..int_hist(2, 0, &[2], &[])
            },
            "schema -5",
        ),
        ("NHCB unsorted", nhcb(&[1.0, 0.5], &[1], 1), "ascending"),
        (
            "NHCB duplicate bound",
            nhcb(&[1.0, 1.0], &[1], 1),
            "ascending",
        ),
        ("NHCB NaN bound", nhcb(&[f64::NAN], &[1], 1), "ascending"),
        (
            "NHCB explicit +Inf",
            nhcb(&[1.0, f64::INFINITY], &[1], 1),
            "+Inf",
        ),
        (
            "NHCB negative buckets",
            v2::Histogram {
                negative_spans: vec![span(0, 1)],
                negative_deltas: vec![1],
                ..nhcb(&[1.0], &[1], 2)
            },
            "negative buckets",
        ),
        (
            "NHCB beyond bounds",
            nhcb(&[1.0], &[1, 0, 0], 3),
            "beyond the 1 custom_values",
        ),
        (
            "exponential with custom values",
            v2::Histogram {
                custom_values: vec![1.0],
                ..int_hist(1, 0, &[1], &[])
            },
            "custom_values",
        ),
    ];
    for (name, h, reason) in cases {
        let batch = with_hist(h);
        assert_eq!(batch.series, [], "{name}");
        assert_eq!(batch.rejected.len(), 1, "{name}");
        let r = &batch.rejected[0];
        assert!(r.reason.contains(reason), "{name}: {}", r.reason);
        assert!(
            r.reason.starts_with("histogram 0: "),
            "{name}: {}",
            r.reason
        );
        assert_eq!(
            (r.series.as_str(), r.histograms),
            ("{__name__=\"h\"}", 1),
            "{name}"
        );
        assert!(batch.labels.is_empty(), "{name}: arena rolled back");
    }
}

#[test]
fn v1_histograms_are_validated_too() {
    let good = v1::Histogram::decode(int_hist(3, 0, &[3], &[]).encode_to_vec().as_slice()).unwrap();
    let bad = v1::Histogram::decode(int_hist(99, 0, &[3], &[]).encode_to_vec().as_slice()).unwrap();
    let name = vec![v1::Label {
        name: "__name__".into(),
        value: "h".into(),
    }];
    let req = v1::WriteRequest {
        timeseries: vec![
            v1::TimeSeries {
                labels: name.clone(),
                histograms: vec![good.clone(), good],
                ..Default::default()
            },
            v1::TimeSeries {
                labels: name,
                histograms: vec![bad],
                ..Default::default()
            },
        ],
        metadata: vec![],
    };
    let buf = req.encode_to_vec();
    let batch = decode_v1(&buf).unwrap();
    assert_eq!(batch.series.len(), 1);
    assert_eq!(batch.series[0].histograms.len(), 2);
    assert_eq!(batch.rejected.len(), 1);
    assert!(
        batch.rejected[0].reason.contains("count 99"),
        "{:?}",
        batch.rejected
    );
}

/// Series-level rejections: (case, labels, samples, reason fragment).
#[test]
fn series_rejections_table() {
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        usize,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        ("empty label set", vec![], 1, "empty label set"),
        ("no name", vec![("job", "a")], 2, "missing metric name"),
        (
            "empty name",
            vec![("__name__", ""), ("job", "a")],
            1,
            "empty metric name",
        ),
    ];
    for (name, labels, n, reason) in cases {
        let mut b = v2::RequestBuilder::new();
        b.series(&labels, &vec![s(1.0); n]);
        let v2batch = decode2(b.build());
        let req1 = v1::WriteRequest {
            timeseries: vec![v1::TimeSeries {
                labels: labels
                    .iter()
                    .map(|&(n, v)| v1::Label {
                        name: n.into(),
                        value: v.into(),
                    })
                    .collect(),
                samples: vec![
                    v1::Sample {
                        value: 1.0,
                        timestamp: NOW
                    };
                    n
                ],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let buf = req1.encode_to_vec();
        let v1batch = decode_v1(&buf).unwrap();
        for batch in [&v2batch, &v1batch] {
            assert_eq!(batch.series, [], "{name}");
            assert_eq!(batch.rejected.len(), 1, "{name}");
            assert!(
                batch.rejected[0].reason.contains(reason),
                "{name}: {:?}",
                batch.rejected
            );
            assert_eq!(batch.rejected[0].samples, n as u64, "{name}");
            assert!(
                batch.samples.is_empty() && batch.labels.is_empty(),
                "{name}"
            );
        }
    }
}

#[test]
fn samples_and_histograms_in_one_series_are_refused() {
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "m")], &[s(1.0)])
        .histograms
        .push(int_hist(0, 0, &[], &[]));
    let batch = decode2(b.build());
    assert_eq!(batch.series, []);
    let r = &batch.rejected[0];
    assert!(r.reason.contains("both"), "{}", r.reason);
    assert_eq!((r.samples, r.histograms, r.exemplars), (1, 1, 0));
}

/// Reference problems in 2.0: each is (case, series mutator, reason).
#[test]
fn v2_bad_refs_reject_the_series() {
    type Mutate = fn(&mut v2::TimeSeries);
    let cases: Vec<(&str, Mutate, &str)> = vec![
        ("odd labels_refs", |t| t.labels_refs.push(1), "odd length 3"),
        (
            "label ref out of range",
            |t| t.labels_refs[1] = 99,
            "labels_refs[1] = 99 out of range (4 symbols)",
        ),
        (
            "exemplar ref out of range",
            |t| {
                t.exemplars.push(v2::Exemplar {
                    labels_refs: vec![1, 50],
                    ..Default::default()
                })
            },
            "exemplar 0: labels_refs[1] = 50",
        ),
        (
            "exemplar odd refs",
            |t| {
                t.exemplars.push(v2::Exemplar {
                    labels_refs: vec![1],
                    ..Default::default()
                })
            },
            "exemplar 0: labels_refs has odd length 1",
        ),
        (
            "help_ref out of range",
            |t| {
                t.metadata = Some(v2::Metadata {
                    r#type: 1,
                    help_ref: 4,
                    unit_ref: 0,
                })
            },
            "help_ref 4",
        ),
        (
            "unit_ref out of range",
            |t| {
                t.metadata = Some(v2::Metadata {
                    r#type: 1,
                    help_ref: 0,
                    unit_ref: 7,
                })
            },
            "unit_ref 7",
        ),
    ];
    for (name, mutate, reason) in cases {
        let mut b = v2::RequestBuilder::new();
        b.series(&[("__name__", "m")], &[s(1.0)]);
        b.series(&[("__name__", "ok")], &[s(2.0)]);
        let mut req = b.build(); // symbols: "", __name__, m, ok
        mutate(&mut req.timeseries[0]);
        let batch = decode2(req);
        assert_eq!(batch.series.len(), 1, "{name}: the other series survives");
        assert_eq!(batch.samples, [s(2.0)], "{name}");
        assert_eq!(batch.rejected.len(), 1, "{name}");
        assert!(
            batch.rejected[0].reason.contains(reason),
            "{name}: {}",
            batch.rejected[0].reason
        );
    }
}

#[test]
fn symbols_must_start_empty() {
    let cases: Vec<(Vec<&str>, bool)> = vec![
        (vec![], true),
        (vec![""], true),
        (vec!["", "a"], true),
        (vec!["a"], false),
        (vec!["a", ""], false),
    ];
    for (symbols, ok) in cases {
        let req = v2::Request {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            timeseries: vec![],
        };
        let buf = req.encode_to_vec();
        let got = decode_v2(&buf);
        assert_eq!(got.is_ok(), ok, "{symbols:?}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e, IngestError::Protobuf { offset: 0, .. }), "{e}");
            assert!(e.to_string().contains("symbols[0]"), "{e}");
        }
    }
}

#[test]
fn one_of_four_series_without_name_is_a_partial_write() {
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "a"), ("job", "j")], &[s(1.0)]);
    b.series(&[("job", "j"), ("instance", "i")], &[s(2.0)]);
    b.series(&[("__name__", "c")], &[s(3.0)]);
    b.series(&[("__name__", "d")], &[s(4.0)]);
    let batch = decode2(b.build());
    assert_eq!(batch.series.len(), 3);
    assert_eq!(batch.samples, [s(1.0), s(3.0), s(4.0)]);
    assert_eq!(batch.rejected.len(), 1);
    let r = &batch.rejected[0];
    assert_eq!(r.series, "{job=\"j\", instance=\"i\"}");
    assert_eq!((r.samples, r.histograms, r.exemplars), (1, 0, 0));
    for d in &batch.series {
        assert_eq!(batch.labels[d.labels.clone()][0].name, b"__name__");
    }
}

#[test]
fn compliance_label_forms_are_accepted() {
    let forms: &[&[(&str, &str)]] = &[
        &[("__name__", "m"), ("v", "line one\nline two")],
        &[("__name__", "resource.cpu.usage"), ("job.name", "x")],
        &[("__name__", "resource cpu usage"), ("zone", "ü-北")],
        &[("job", "j"), ("__name__", "unsorted")],
    ];
    for &labels in forms {
        let mut b = v2::RequestBuilder::new();
        b.series(labels, &[s(1.0)]);
        let batch = decode2(b.build());
        assert_eq!(batch.rejected, [], "{labels:?}");
        let got: Vec<(&[u8], &[u8])> = batch.labels.iter().map(|l| (l.name, l.value)).collect();
        let want: Vec<(&[u8], &[u8])> = labels
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn compliance_special_values_survive_bit_exact() {
    // (-0.0 is absent: proto3 encoders drop it as the default value.)
    let values = [
        1.0,
        f64::NAN,
        stale_nan(),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 4.0,
        1e308,
    ];
    let mut b = v2::RequestBuilder::new();
    let samples: Vec<Sample> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| Sample::new(NOW + i as i64, v))
        .collect();
    b.series(&[("__name__", "m")], &samples);
    let batch = decode2(b.build());
    assert_eq!(batch.samples.len(), values.len());
    for (got, want) in batch.samples.iter().zip(&samples) {
        assert!(got.bit_eq(want), "{got:?} != {want:?}");
    }
}

#[test]
fn compliance_exemplars() {
    let mut b = v2::RequestBuilder::new();
    let values = [
        0.0,
        -1.0,
        1e10,
        1e-10,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let ex: Vec<v2::Exemplar> = values
        .iter()
        .map(|&v| {
            b.exemplar(
                &[("trace_id", "abc"), ("span_id", "d€f")],
                v,
                NOW - 3_600_000,
            )
        })
        .collect();
    let no_labels = b.exemplar(&[], 1.0, NOW);
    b.series(&[("__name__", "with_samples")], &[s(1.0)])
        .exemplars = ex;
    b.series(&[("__name__", "exemplar_only")], &[]).exemplars = vec![no_labels.clone()];
    b.series(&[("job", "nameless")], &[]).exemplars = vec![no_labels.clone()];
    b.series(&[("__name__", "")], &[]).exemplars = vec![no_labels];
    let batch = decode2(b.build());
    let counts: Vec<(u32, usize)> = batch
        .series
        .iter()
        .map(|d| (d.exemplars, d.samples.len()))
        .collect();
    assert_eq!(counts, [(7, 1), (1, 0)]);
    let refused: Vec<u64> = batch.rejected.iter().map(|r| r.exemplars).collect();
    assert_eq!(refused, [1, 1]);
}

#[test]
fn compliance_fifty_samples_with_fifty_exemplars_and_fifty_histograms() {
    let mut b = v2::RequestBuilder::new();
    for i in 0..50 {
        let name = format!("m{i}");
        let e = b.exemplar(&[("trace_id", name.as_str())], 1.0, NOW);
        b.series(&[("__name__", &name)], &[s(i as f64)])
            .exemplars
            .push(e);
    }
    let h = b.series(&[("__name__", "h")], &[]);
    h.histograms = (0..50).map(|_| int_hist(3, 1, &[2], &[])).collect();
    h.metadata = Some(v2::Metadata {
        r#type: v2::MetricType::Histogram as i32,
        help_ref: 0,
        unit_ref: 0,
    });
    let batch = decode2(b.build());
    assert_eq!(batch.rejected, []);
    assert_eq!(
        batch.series.iter().map(|d| d.samples.len()).sum::<usize>(),
        50
    );
    assert_eq!(batch.series.iter().map(|d| d.exemplars).sum::<u32>(), 50);
    assert_eq!(
        batch
            .series
            .iter()
            .map(|d| d.histograms.len())
            .sum::<usize>(),
        50
    );
    assert_eq!(batch.metadata.len(), 1);
    assert_eq!(batch.metadata[0].kind, MetricType::Histogram);
}

#[test]
fn decoded_histograms_carry_every_field() {
    use crate::model::{CounterResetHint, HistogramCounts, Span};
    let batch = with_hist(v2::Histogram {
        reset_hint: v2::ResetHint::Gauge as i32,
        zero_threshold: 0.25,
        ..int_hist(11, 1, &[2, 1, -2], &[4])
    });
    let hs = &batch.histograms[batch.series[0].histograms.clone()];
    assert_eq!(hs.len(), 1);
    let h = &hs[0];
    assert_eq!(h.t, NOW);
    assert_eq!(h.h.reset_hint, CounterResetHint::Gauge);
    assert_eq!((h.h.schema, h.h.zero_threshold, h.h.sum), (0, 0.25, 1.5));
    assert_eq!(
        h.h.positive_spans,
        [Span {
            offset: 0,
            length: 3
        }]
    );
    assert_eq!(
        h.h.negative_spans,
        [Span {
            offset: -1,
            length: 1
        }]
    );
    assert_eq!(
        h.h.counts,
        HistogramCounts::Int {
            count: 11,
            zero_count: 1,
            positive_deltas: vec![2, 1, -2],
            negative_deltas: vec![4],
        }
    );
    let f = with_hist(nhcb(&[0.5, 1.0], &[1, 0, 1], 4));
    assert_eq!(f.histograms[0].h.custom_values, [0.5, 1.0]);
    let rejected = with_hist(int_hist(99, 0, &[1], &[]));
    assert!(rejected.histograms.is_empty(), "arena rolled back");
}

#[test]
fn oversized_histogram_lists_are_refused_without_holding_them() {
    let n = super::histogram::MAX_HISTOGRAM_ENTRIES;
    let h = v2::Histogram {
        count: Some(v2::Count::CountInt(0)),
        positive_spans: vec![span(0, n as u32)],
        positive_deltas: vec![0; n],
        timestamp: NOW,
        ..Default::default()
    };
    let batch = with_hist(h);
    assert_eq!(batch.series, []);
    assert!(batch.histograms.is_empty());
    let r = &batch.rejected[0];
    assert!(
        r.reason
            .contains("more than 1048576 spans, buckets and bounds"),
        "{}",
        r.reason
    );
}
