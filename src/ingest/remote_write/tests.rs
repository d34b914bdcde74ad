//! Round trips against the prost encoder, robustness on damaged input,
//! snappy limits and metadata handling.

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::ingest::proto::{v1, v2};

/// A histogram valid by construction.
#[derive(Debug, Clone)]
struct HSpec {
    float: bool,
    custom: bool,
    schema: i32,
    zero: u32,
    pos: Vec<u32>,
    neg: Vec<u32>,
    pos_offset: i32,
    neg_offset: i32,
    sum: f64,
}

impl HSpec {
    fn to_v2(&self) -> v2::Histogram {
        let (neg, zero) = if self.custom {
            (vec![], 0)
        } else {
            (self.neg.clone(), self.zero)
        };
        let total = self
            .pos
            .iter()
            .chain(&neg)
            .map(|&c| u64::from(c))
            .sum::<u64>()
            + u64::from(zero);
        let spans = |offset: i32, n: usize| match n {
            0 => vec![],
            n => vec![v2::BucketSpan {
                offset,
                length: n as u32,
            }],
        };
        let deltas = |cs: &[u32]| {
            let mut prev = 0i64;
            cs.iter()
                .map(|&c| {
                    let d = i64::from(c) - prev;
                    prev = i64::from(c);
                    d
                })
                .collect::<Vec<_>>()
        };
        let floats = |cs: &[u32]| cs.iter().map(|&c| f64::from(c)).collect::<Vec<_>>();
        let mut h = v2::Histogram {
            schema: if self.custom { -53 } else { self.schema },
            sum: self.sum,
            positive_spans: spans(
                if self.custom { 0 } else { self.pos_offset },
                self.pos.len(),
            ),
            negative_spans: spans(self.neg_offset, neg.len()),
            custom_values: if self.custom {
                (1..=self.pos.len()).map(|i| i as f64).collect()
            } else {
                vec![]
            },
            timestamp: 1,
            ..Default::default()
        };
        if self.float {
            h.count = Some(v2::Count::CountFloat(total as f64));
            h.zero_count = Some(v2::ZeroCount::ZeroCountFloat(f64::from(zero)));
            h.positive_counts = floats(&self.pos);
            h.negative_counts = floats(&neg);
        } else {
            h.count = Some(v2::Count::CountInt(total));
            h.zero_count = Some(v2::ZeroCount::ZeroCountInt(u64::from(zero)));
            h.positive_deltas = deltas(&self.pos);
            h.negative_deltas = deltas(&neg);
        }
        h
    }

    fn to_v1(&self) -> v1::Histogram {
        v1::Histogram::decode(self.to_v2().encode_to_vec().as_slice()).expect("same wire format")
    }
}

type Pairs = Vec<(String, String)>;

#[derive(Debug, Clone)]
struct SSpec {
    labels: Pairs,
    samples: Vec<(u64, i64)>,
    exemplars: Vec<(Pairs, u64, i64)>,
    hists: Vec<HSpec>,
    meta: Option<(i32, String, String)>,
}

fn text() -> impl Strategy<Value = String> {
    "(.|\n){0,6}"
}

fn pairs(max: usize) -> impl Strategy<Value = Pairs> {
    prop::collection::vec(("[a-zA-Z_.: -]{1,8}", text()), 0..max)
}

/// Any f64 bit pattern except -0.0, which proto3 encoders treat as the
/// default value and leave out, so it comes back as +0.0.
fn value_bits() -> impl Strategy<Value = u64> {
    any::<u64>().prop_map(|b| if b == (-0.0f64).to_bits() { 0 } else { b })
}

fn hspec() -> impl Strategy<Value = HSpec> {
    let counts = || prop::collection::vec(0u32..1000, 0..5);
    (
        any::<bool>(),
        prop::bool::weighted(0.2),
        -4i32..=8,
        0u32..10,
        counts(),
        counts(),
    )
        .prop_flat_map(|(float, custom, schema, zero, pos, neg)| {
            (
                -5i32..5,
                -5i32..5,
                prop_oneof![Just(f64::NAN), -1e6f64..1e6],
            )
                .prop_map(move |(pos_offset, neg_offset, sum)| HSpec {
                    float,
                    custom,
                    schema,
                    zero,
                    pos: pos.clone(),
                    neg: neg.clone(),
                    pos_offset,
                    neg_offset,
                    sum,
                })
        })
}

fn sspec() -> impl Strategy<Value = SSpec> {
    (
        prop::option::weighted(0.9, text()),
        pairs(5),
        prop::collection::vec((value_bits(), any::<i64>()), 0..4),
        prop::collection::vec((pairs(3), value_bits(), any::<i64>()), 0..3),
        prop::collection::vec(hspec(), 0..3),
        prop::bool::weighted(0.7),
        prop::option::of((0i32..9, text(), text())),
    )
        .prop_map(
            |(name, rest, samples, exemplars, hists, drop_hists, meta)| {
                let labels = name
                    .into_iter()
                    .map(|n| ("__name__".to_string(), n))
                    .chain(rest)
                    .collect();
                let hists = if drop_hists && !samples.is_empty() {
                    vec![]
                } else {
                    hists
                };
                SSpec {
                    labels,
                    samples,
                    exemplars,
                    hists,
                    meta,
                }
            },
        )
}

/// Metadata as (metric, kind, help, unit) bytes.
type OwnedMeta = (Vec<u8>, MetricType, Vec<u8>, Vec<u8>);

#[derive(Debug, PartialEq)]
enum Outcome {
    Stored,
    NothingToStore,
    Rejected,
}

/// The expected fate of a series, decided independently of the decoder.
fn outcome(s: &SSpec) -> Outcome {
    let name = s.labels.iter().find(|(n, _)| n == "__name__");
    match name {
        _ if s.labels.is_empty() => Outcome::Rejected,
        None => Outcome::Rejected,
        Some((_, v)) if v.is_empty() => Outcome::Rejected,
        _ if !s.samples.is_empty() && !s.hists.is_empty() => Outcome::Rejected,
        _ if s.samples.is_empty() && s.hists.is_empty() && s.exemplars.is_empty() => {
            Outcome::NothingToStore
        }
        _ => Outcome::Stored,
    }
}

fn kind_of(t: i32) -> MetricType {
    const KINDS: [MetricType; 8] = [
        MetricType::Unspecified,
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::GaugeHistogram,
        MetricType::Summary,
        MetricType::Info,
        MetricType::StateSet,
    ];
    usize::try_from(t)
        .ok()
        .and_then(|i| KINDS.get(i).copied())
        .unwrap_or(MetricType::Unspecified)
}

fn v1_labels(p: &Pairs) -> Vec<v1::Label> {
    p.iter()
        .map(|(n, v)| v1::Label {
            name: n.clone(),
            value: v.clone(),
        })
        .collect()
}

fn to_v1(specs: &[SSpec]) -> v1::WriteRequest {
    let timeseries = specs
        .iter()
        .map(|s| v1::TimeSeries {
            labels: v1_labels(&s.labels),
            samples: s
                .samples
                .iter()
                .map(|&(v, t)| v1::Sample {
                    value: f64::from_bits(v),
                    timestamp: t,
                })
                .collect(),
            exemplars: s
                .exemplars
                .iter()
                .map(|(l, v, t)| v1::Exemplar {
                    labels: v1_labels(l),
                    value: f64::from_bits(*v),
                    timestamp: *t,
                })
                .collect(),
            histograms: s.hists.iter().map(HSpec::to_v1).collect(),
        })
        .collect();
    let metadata = specs
        .iter()
        .filter_map(|s| s.meta.clone())
        .map(|(t, help, unit)| v1::MetricMetadata {
            r#type: t,
            metric_family_name: unit.clone() + "_fam",
            help,
            unit,
        })
        .collect();
    v1::WriteRequest {
        timeseries,
        metadata,
    }
}

fn refs(p: &Pairs) -> Vec<(&str, &str)> {
    p.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn to_v2(specs: &[SSpec]) -> v2::Request {
    let mut b = v2::RequestBuilder::new();
    for s in specs {
        let exemplars: Vec<v2::Exemplar> = s
            .exemplars
            .iter()
            .map(|(l, v, t)| b.exemplar(&refs(l), f64::from_bits(*v), *t))
            .collect();
        let meta = s.meta.as_ref().map(|(t, h, u)| v2::Metadata {
            r#type: *t,
            help_ref: b.symbol(h),
            unit_ref: b.symbol(u),
        });
        let samples: Vec<Sample> = s
            .samples
            .iter()
            .map(|&(v, t)| Sample::new(t, f64::from_bits(v)))
            .collect();
        let ts = b.series(&refs(&s.labels), &samples);
        ts.exemplars = exemplars;
        ts.histograms = s.hists.iter().map(HSpec::to_v2).collect();
        ts.metadata = meta;
    }
    b.build()
}

/// Compares a decoded batch with what the specs say it must hold.
fn check(specs: &[SSpec], batch: &DecodedBatch<'_>) {
    let (mut stored, mut rejected) = (batch.series.iter(), batch.rejected.iter());
    for s in specs {
        match outcome(s) {
            Outcome::Stored => {
                let d = stored.next().expect("a stored series");
                let labels: Vec<(&[u8], &[u8])> = batch.labels[d.labels.clone()]
                    .iter()
                    .map(|l| (l.name, l.value))
                    .collect();
                let want: Vec<(&[u8], &[u8])> = s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                    .collect();
                assert_eq!(labels, want);
                let got = &batch.samples[d.samples.clone()];
                assert_eq!(got.len(), s.samples.len());
                for (g, &(v, t)) in got.iter().zip(&s.samples) {
                    assert!(g.t == t && g.v.to_bits() == v, "{g:?} vs ({v:#x}, {t})");
                }
                assert_eq!(d.histograms.len(), s.hists.len());
                assert_eq!(d.exemplars as usize, s.exemplars.len());
            }
            Outcome::NothingToStore => {}
            Outcome::Rejected => {
                let r = rejected.next().expect("a rejection");
                let counts = (
                    r.samples as usize,
                    r.histograms as usize,
                    r.exemplars as usize,
                );
                assert_eq!(
                    counts,
                    (s.samples.len(), s.hists.len(), s.exemplars.len()),
                    "{r:?}"
                );
            }
        }
    }
    assert!(
        stored.next().is_none() && rejected.next().is_none(),
        "extra series or rejections"
    );
    let arena_labels: usize = batch.series.iter().map(|d| d.labels.len()).sum();
    assert_eq!(
        arena_labels,
        batch.labels.len(),
        "arena holds only accepted series"
    );
}

/// Invariants any successful decode must keep, whatever the input.
fn check_consistent(result: &Result<DecodedBatch<'_>, IngestError>, len: usize) {
    match result {
        Ok(b) => {
            let (mut l, mut s) = (0, 0);
            for d in &b.series {
                assert!(
                    d.labels.start >= l
                        && d.labels.start <= d.labels.end
                        && d.labels.end <= b.labels.len()
                );
                assert!(
                    d.samples.start >= s
                        && d.samples.start <= d.samples.end
                        && d.samples.end <= b.samples.len()
                );
                (l, s) = (d.labels.end, d.samples.end);
            }
        }
        Err(IngestError::Protobuf { offset, .. }) => {
            assert!(*offset <= len, "offset {offset} > {len}")
        }
        Err(e) => panic!("unexpected error kind {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn v1_round_trip(specs in prop::collection::vec(sspec(), 0..6)) {
        let req = to_v1(&specs);
        let buf = req.encode_to_vec();
        let batch = decode_v1(&buf).unwrap();
        check(&specs, &batch);
        let want: Vec<MetadataRef<'_>> = req.metadata.iter().map(|m| MetadataRef {
            metric: m.metric_family_name.as_bytes(), kind: kind_of(m.r#type), help: m.help.as_bytes(), unit: m.unit.as_bytes(),
        }).collect();
        prop_assert_eq!(batch.metadata, want);
    }

    #[test]
    fn v2_round_trip(specs in prop::collection::vec(sspec(), 0..6)) {
        let buf = to_v2(&specs).encode_to_vec();
        let batch = decode_v2(&buf).unwrap();
        check(&specs, &batch);
        let want: Vec<OwnedMeta> = specs.iter()
            .filter(|s| outcome(s) != Outcome::Rejected)
            .filter_map(|s| {
                let (t, h, u) = s.meta.clone()?;
                let name = s.labels.iter().find(|(n, _)| n == "__name__")?.1.clone();
                let kind = kind_of(t);
                (kind != MetricType::Unspecified || !h.is_empty() || !u.is_empty())
                    .then(|| (name.into_bytes(), kind, h.into_bytes(), u.into_bytes()))
            })
            .collect();
        let got: Vec<_> = batch.metadata.iter().map(|m| (m.metric.to_vec(), m.kind, m.help.to_vec(), m.unit.to_vec())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_consistent(&decode_v1(&bytes), bytes.len());
        check_consistent(&decode_v2(&bytes), bytes.len());
        let _ = snappy_decompress(&bytes, 1 << 16);
    }

    #[test]
    fn damaged_encodings_never_panic(
        specs in prop::collection::vec(sspec(), 1..4),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        for buf in [to_v1(&specs).encode_to_vec(), to_v2(&specs).encode_to_vec()] {
            let truncated = &buf[..cut.index(buf.len() + 1)];
            let mut flipped = buf.clone();
            if !flipped.is_empty() {
                for (i, bit) in &flips {
                    let i = i.index(flipped.len());
                    flipped[i] ^= 1 << bit;
                }
            }
            for b in [truncated, &flipped[..]] {
                check_consistent(&decode_v1(b), b.len());
                check_consistent(&decode_v2(b), b.len());
            }
            let snappy = snap::raw::Encoder::new().compress_vec(&flipped).unwrap();
            let _ = snappy_decompress(&snappy[..cut.index(snappy.len() + 1)], 1 << 20);
        }
    }
}

#[test]
fn truncation_is_reported_with_an_offset() {
    let mut b = v2::RequestBuilder::new();
    b.series(
        &[("__name__", "up"), ("job", "node")],
        &[Sample::new(1, 1.0)],
    );
    let buf = b.build().encode_to_vec();
    for cut in 1..buf.len() {
        match decode_v2(&buf[..cut]) {
            Err(IngestError::Protobuf { offset, .. }) => {
                assert!(offset <= cut, "cut {cut}: offset {offset}")
            }
            // A cut between top-level fields leaves a shorter valid message.
            Ok(batch) => assert!(batch.series.is_empty(), "cut {cut}"),
            Err(e) => panic!("cut {cut}: {e}"),
        }
    }
}

#[test]
fn wire_level_errors_fail_the_request() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x08, 0x01], "wire type varint"),   // timeseries as varint
        (&[0x0a, 0x02, 0x0b, 0x00], "groups"), // group inside a series
        (&[0x0a, 0x05, 0x0a], "overruns"),     // series longer than the body
        (&[0x0a, 0x03, 0x12, 0x01, 0x09], "fixed64"), // sample value cut short
        (&[0x00], "field number 0"),
    ];
    for &(buf, want) in cases {
        let err = decode_v1(buf).unwrap_err();
        assert!(err.to_string().contains(want), "{buf:?}: {err}");
    }
}

#[test]
fn unknown_fields_are_skipped_at_every_level() {
    // Unknown fixed32, fixed64 and len fields appended to a label, a sample,
    // a series and the request.
    let label = [0x0a, 1, b'k', 0x12, 1, b'v', 0x7d, 1, 2, 3, 4];
    let name = [
        0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 1, b'm',
    ];
    let sample = [
        0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 5, 0x79, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut ts = vec![0x0a, name.len() as u8];
    ts.extend(name);
    ts.extend([0x0a, label.len() as u8]);
    ts.extend(label);
    ts.extend([0x12, sample.len() as u8]);
    ts.extend(sample);
    ts.extend([0x52, 2, 0xff, 0xff]); // field 10, len
    let mut req = vec![0x0a, ts.len() as u8];
    req.extend(ts);
    req.extend([0x10, 0x96, 0x01]); // field 2 (reserved), varint
    let batch = decode_v1(&req).unwrap();
    assert_eq!(batch.rejected, []);
    assert_eq!(batch.samples, [Sample::new(5, 1.0)]);
    assert_eq!(batch.labels[1], LabelRef::new("k", "v"));
}

#[test]
fn v2_created_timestamp_fills_samples_without_their_own() {
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "c_total")], &[Sample::new(10, 1.0)]);
    let req = b.build();
    let mut ts = req.timeseries[0].encode_to_vec();
    ts.extend([0x30, 0xe8, 0x07]); // created_timestamp = 1000
    let mut buf = v2::Request {
        symbols: req.symbols,
        timeseries: vec![],
    }
    .encode_to_vec();
    buf.push(0x2a);
    buf.push(ts.len() as u8);
    buf.extend(ts);
    let batch = decode_v2(&buf).unwrap();
    assert_eq!(batch.rejected, []);
    assert_eq!(batch.samples, [Sample::new(10, 1.0)]);
    assert_eq!(batch.start_times, [1000]);
}

#[test]
fn v2_sample_start_timestamps_win_over_created_timestamp() {
    let mut b = v2::RequestBuilder::new();
    b.series(&[("__name__", "plain_total")], &[Sample::new(5, 1.0)]);
    b.series(
        &[("__name__", "c_total")],
        &[Sample::new(10, 1.0), Sample::new(20, 2.0)],
    );
    let mut req = b.build();
    req.timeseries[1].samples[0].start_timestamp = 7;
    let mut ts = req.timeseries[1].encode_to_vec();
    ts.extend([0x30, 0xe8, 0x07]); // created_timestamp = 1000
    let mut buf = v2::Request {
        symbols: req.symbols,
        timeseries: vec![req.timeseries[0].clone()],
    }
    .encode_to_vec();
    buf.push(0x2a);
    buf.push(ts.len() as u8);
    buf.extend(ts);
    let batch = decode_v2(&buf).unwrap();
    assert_eq!(batch.samples.len(), 3);
    assert_eq!(batch.start_times, [0, 7, 1000]);
    assert_eq!(batch.start_times_of(0..1), [0]);
    assert_eq!(batch.start_times_of(1..3), [7, 1000]);
    // A request without any start timestamp keeps the arena empty.
    let mut plain = v2::RequestBuilder::new();
    plain.series(&[("__name__", "p_total")], &[Sample::new(5, 1.0)]);
    let body = plain.build().encode_to_vec();
    let batch = decode_v2(&body).unwrap();
    assert!(batch.start_times.is_empty());
    assert_eq!(batch.start_times_of(0..1), [] as [i64; 0]);
}

#[test]
fn v2_fields_in_any_order_and_split_refs() {
    // Series before symbols, and labels_refs split into a packed run and
    // an unpacked element.
    let ts = [0x0a, 3, 1, 2, 3, 0x08, 4, 0x12, 2, 0x10, 7];
    let mut buf = vec![0x2a, ts.len() as u8];
    buf.extend(ts);
    for s in ["", "__name__", "m", "job", "j"] {
        buf.extend([0x22, s.len() as u8]);
        buf.extend(s.as_bytes());
    }
    let batch = decode_v2(&buf).unwrap();
    assert_eq!(batch.rejected, []);
    assert_eq!(
        batch.labels,
        [LabelRef::new("__name__", "m"), LabelRef::new("job", "j")]
    );
    assert_eq!(batch.samples, [Sample::new(7, 0.0)]);
}

#[test]
fn v2_metadata_handling() {
    let mut b = v2::RequestBuilder::new();
    let kinds = [
        (v2::MetricType::Counter, MetricType::Counter),
        (v2::MetricType::Gauge, MetricType::Gauge),
        (v2::MetricType::Histogram, MetricType::Histogram),
        (v2::MetricType::Summary, MetricType::Summary),
        (v2::MetricType::Info, MetricType::Info),
        (v2::MetricType::Stateset, MetricType::StateSet),
        (v2::MetricType::Gaugehistogram, MetricType::GaugeHistogram),
        (v2::MetricType::Unspecified, MetricType::Unspecified),
    ];
    for (i, (k, _)) in kinds.iter().enumerate() {
        let m = b.metadata(*k, "help with \"quotes\"\nand newline", "bytes/s");
        let name = format!("only_meta_{i}");
        b.series(&[("__name__", name.as_str())], &[]).metadata = Some(m);
    }
    let empty = b.metadata(v2::MetricType::Gauge, "", "");
    b.series(&[("__name__", "with_sample")], &[Sample::new(1, 1.0)])
        .metadata = Some(empty);
    let default = v2::Metadata::default();
    b.series(&[("__name__", "default_meta")], &[Sample::new(1, 1.0)])
        .metadata = Some(default);
    b.series(&[("job", "nameless")], &[]).metadata = Some(empty);
    b.series(&[("__name__", "")], &[]).metadata = Some(empty);
    let batch = decode2_owned(b.build());
    // Metadata-only series are accepted but not stored.
    assert_eq!(batch.series.len(), 2);
    assert_eq!(batch.rejected.len(), 2);
    assert!(batch
        .rejected
        .iter()
        .all(|r| (r.samples, r.histograms, r.exemplars) == (0, 0, 0)));
    let got: Vec<(String, MetricType)> = batch
        .metadata
        .iter()
        .map(|m| (String::from_utf8_lossy(m.metric).into_owned(), m.kind))
        .collect();
    let mut want: Vec<(String, MetricType)> = kinds
        .iter()
        .enumerate()
        .map(|(i, (_, k))| (format!("only_meta_{i}"), *k))
        .collect();
    want.push(("with_sample".into(), MetricType::Gauge));
    assert_eq!(got, want, "default metadata is not recorded");
    assert_eq!(batch.metadata[0].help, b"help with \"quotes\"\nand newline");
    assert_eq!(batch.metadata[0].unit, b"bytes/s");
    assert_eq!(batch.metadata[8].help, b"");
}

fn decode2_owned(req: v2::Request) -> DecodedBatch<'static> {
    let buf: &'static [u8] = Box::leak(req.encode_to_vec().into_boxed_slice());
    decode_v2(buf).unwrap()
}

#[test]
fn empty_bodies_decode_to_empty_batches() {
    assert_eq!(decode_v1(&[]).unwrap(), DecodedBatch::default());
    assert_eq!(decode_v2(&[]).unwrap(), DecodedBatch::default());
}
