//! The delimited protobuf exposition format of `/federate`: a stream of
//! `MetricFamily` messages, each preceded by its length as a varint, as
//! upstream's `web/federate.go` writes them through `expfmt.NewEncoder`.
//!
//! A family is held back until the metric name or type changes, and is
//! also cut once its encoded metrics pass [`FAMILY_BYTES`], so memory stays
//! bounded when one name has millions of series. Consecutive families of
//! one name are what upstream itself sends when a name's series change
//! type; Prometheus's parser takes them.

use prost::Message;

use super::dto::{self, MetricType};
use super::{exposed_labels, Encoder, Kind, Series};
use crate::api::federate::Newest;
use crate::model::histogram::CUSTOM_BUCKETS_SCHEMA;
use crate::model::{Histogram, HistogramCounts, Span};

/// A family's metrics are sent once they take this many bytes.
const FAMILY_BYTES: usize = 32 << 10;

/// Collects the metrics of one family at a time, already encoded.
#[derive(Default)]
pub(super) struct ProtoEncoder {
    /// The open family's name and type.
    family: Option<(String, Kind)>,
    /// Its metrics, each encoded as field 4 of `MetricFamily`.
    metrics: Vec<u8>,
}

impl Encoder for ProtoEncoder {
    fn series(&mut self, buf: &mut Vec<u8>, s: &Series<'_>) {
        let same = self.family.as_ref().map(|(n, k)| (n.as_str(), *k)) == Some((s.name, s.kind));
        if !same || self.metrics.len() >= FAMILY_BYTES {
            self.finish(buf);
            self.family = Some((s.name.to_string(), s.kind));
        }
        prost::encoding::message::encode(4, &metric(s), &mut self.metrics);
    }

    fn finish(&mut self, buf: &mut Vec<u8>) {
        let Some((name, kind)) = self.family.take() else {
            return;
        };
        let header = dto::MetricFamily {
            name: Some(name),
            help: None,
            r#type: Some(metric_type(kind) as i32),
            metric: Vec::new(),
        };
        let len = header.encoded_len() + self.metrics.len();
        prost::encoding::encode_varint(len as u64, buf);
        header.encode_raw(buf);
        buf.append(&mut self.metrics);
    }
}

fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Untyped => MetricType::Untyped,
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
        Kind::Histogram => MetricType::Histogram,
        Kind::GaugeHistogram => MetricType::GaugeHistogram,
    }
}

/// One series as a `Metric`: labels as upstream exposes them, the value in
/// the field its family's type names, the timestamp in milliseconds.
fn metric(s: &Series<'_>) -> dto::Metric {
    let mut m = dto::Metric {
        label: exposed_labels(s.labels)
            .map(|(n, v)| dto::LabelPair {
                name: Some(n.to_string()),
                value: Some(v.to_string()),
            })
            .collect(),
        ..Default::default()
    };
    match s.value {
        Newest::Float(f) => {
            m.timestamp_ms = Some(f.t);
            let value = Some(f.v);
            match s.kind {
                Kind::Counter => m.counter = Some(dto::Counter { value }),
                Kind::Gauge => m.gauge = Some(dto::Gauge { value }),
                _ => m.untyped = Some(dto::Untyped { value }),
            }
        }
        Newest::Histogram(h) => {
            m.timestamp_ms = Some(h.t);
            m.histogram = Some(if h.h.schema == CUSTOM_BUCKETS_SCHEMA {
                classic_histogram(&h.h)
            } else {
                native_histogram(&h.h)
            });
        }
    }
    m
}

/// An exponential histogram as a native protobuf histogram
/// (`makeNativeHistogram` in upstream's `web/federate.go`).
///
/// Upstream converts every histogram to float counts first; this keeps an
/// integer histogram's integer counts and bucket deltas, so the scraping
/// Prometheus stores the same integer histogram that was written here, and
/// Prometheus 2.42, which recognises a native histogram by its deltas, zero
/// count or zero threshold, takes it. Float histograms go as float counts
/// (2.42 reads one whose zero threshold is 0 as a classic histogram; later
/// versions also recognise float counts).
fn native_histogram(h: &Histogram) -> dto::Histogram {
    let mut out = dto::Histogram {
        sample_sum: Some(h.sum),
        schema: Some(h.schema),
        zero_threshold: Some(h.zero_threshold),
        negative_span: spans(&h.negative_spans),
        positive_span: spans(&h.positive_spans),
        ..Default::default()
    };
    match &h.counts {
        HistogramCounts::Int {
            count,
            zero_count,
            positive_deltas,
            negative_deltas,
        } => {
            out.sample_count = Some(*count);
            out.zero_count = Some(*zero_count);
            out.positive_delta = positive_deltas.clone();
            out.negative_delta = negative_deltas.clone();
        }
        HistogramCounts::Float {
            count,
            zero_count,
            positive,
            negative,
        } => {
            out.sample_count_float = Some(*count);
            out.zero_count_float = Some(*zero_count);
            out.positive_count = positive.clone();
            out.negative_count = negative.clone();
        }
    }
    out
}

fn spans(spans: &[Span]) -> Vec<dto::BucketSpan> {
    spans
        .iter()
        .map(|s| dto::BucketSpan {
            offset: Some(s.offset),
            length: Some(s.length),
        })
        .collect()
}

/// A histogram with custom buckets as a classic histogram: one cumulative
/// bucket per custom bound, the `+Inf` bucket left implicit
/// (`makeClassicHistogram` in upstream's `web/federate.go`). Integer
/// counts stay integers.
pub(super) fn classic_histogram(h: &Histogram) -> dto::Histogram {
    let int = !h.is_float();
    let buckets = h.nonempty_buckets();
    let mut next = buckets.iter().peekable();
    let mut cumulative = 0.0;
    let mut out = dto::Histogram {
        sample_sum: Some(h.sum),
        ..Default::default()
    };
    for &le in &h.custom_values {
        while let Some(b) = next.next_if(|b| b.upper <= le) {
            cumulative += b.count;
        }
        out.bucket.push(dto::Bucket {
            cumulative_count: int.then_some(cumulative as u64),
            cumulative_count_float: (!int).then_some(cumulative),
            upper_bound: Some(le),
        });
    }
    if int {
        out.sample_count = Some(h.count_f64() as u64);
    } else {
        out.sample_count_float = Some(h.count_f64());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CounterResetHint, HistogramSample, Sample};

    /// One series for [`encode`]: labels, value and family type.
    type Input<'a> = (&'a [(&'a str, &'a str)], Newest, Kind);

    fn encode(series: &[Input<'_>]) -> Vec<dto::MetricFamily> {
        let mut enc = ProtoEncoder::default();
        let mut buf = Vec::new();
        for (labels, v, kind) in series {
            let name = labels.iter().find(|(n, _)| *n == "__name__").unwrap().1;
            let s = Series {
                name,
                labels,
                value: v,
                kind: *kind,
            };
            enc.series(&mut buf, &s);
        }
        enc.finish(&mut buf);
        let mut rest = &buf[..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            out.push(dto::MetricFamily::decode_length_delimited(&mut rest).unwrap());
        }
        out
    }

    fn int_hist() -> Histogram {
        Histogram {
            schema: 1,
            reset_hint: CounterResetHint::Unknown,
            zero_threshold: 0.001,
            sum: 12.5,
            counts: HistogramCounts::Int {
                count: 9,
                zero_count: 2,
                positive_deltas: vec![3, -1, 1],
                negative_deltas: vec![1],
            },
            positive_spans: vec![
                Span {
                    offset: -1,
                    length: 2,
                },
                Span {
                    offset: 3,
                    length: 1,
                },
            ],
            negative_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            custom_values: Vec::new(),
        }
    }

    #[test]
    fn families_group_by_name_and_type_with_values_in_their_fields() {
        let f = |t, v| Newest::Float(Sample::new(t, v));
        let h = Newest::Histogram(HistogramSample {
            t: 7,
            h: int_hist(),
        });
        let fams = encode(&[
            (&[("__name__", "a"), ("job", "x")], f(1, 1.5), Kind::Counter),
            (&[("__name__", "a"), ("job", "y")], f(2, 2.5), Kind::Counter),
            (&[("__name__", "a"), ("le", "")], h.clone(), Kind::Histogram),
            (&[("__name__", "b")], f(3, f64::NAN), Kind::Untyped),
        ]);
        let kinds: Vec<_> = fams
            .iter()
            .map(|f| (f.name.clone().unwrap(), f.r#type(), f.metric.len()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a".to_string(), MetricType::Counter, 2),
                ("a".to_string(), MetricType::Histogram, 1),
                ("b".to_string(), MetricType::Untyped, 1)
            ]
        );
        let m = &fams[0].metric[1];
        assert_eq!(m.counter.as_ref().unwrap().value, Some(2.5));
        assert_eq!(m.timestamp_ms, Some(2));
        let labels: Vec<_> = m
            .label
            .iter()
            .map(|l| (l.name.clone().unwrap(), l.value.clone().unwrap()))
            .collect();
        assert_eq!(
            labels,
            [
                ("job".into(), "y".into()),
                ("instance".into(), String::new())
            ]
        );
        assert!(fams[2].metric[0]
            .untyped
            .as_ref()
            .unwrap()
            .value
            .unwrap()
            .is_nan());

        let got = fams[1].metric[0].histogram.clone().unwrap();
        assert_eq!(got.sample_count, Some(9));
        assert_eq!(got.sample_sum, Some(12.5));
        assert_eq!(
            (got.schema, got.zero_threshold, got.zero_count),
            (Some(1), Some(0.001), Some(2))
        );
        assert_eq!(got.positive_delta, [3, -1, 1]);
        assert_eq!(got.negative_delta, [1]);
        let sp: Vec<_> = got
            .positive_span
            .iter()
            .map(|s| (s.offset(), s.length()))
            .collect();
        assert_eq!(sp, [(-1, 2), (3, 1)]);
        assert!(got.sample_count_float.is_none() && got.positive_count.is_empty());
    }

    #[test]
    fn float_and_custom_bucket_histograms() {
        let mut fh = int_hist();
        fh.counts = HistogramCounts::Float {
            count: 9.5,
            zero_count: 2.0,
            positive: vec![3.0, 2.5, 3.0],
            negative: vec![1.0],
        };
        let nhcb = Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            counts: HistogramCounts::Int {
                count: 5,
                zero_count: 0,
                positive_deltas: vec![1, 1, 0],
                negative_deltas: vec![],
            },
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 1,
                },
                Span {
                    offset: 1,
                    length: 2,
                },
            ],
            negative_spans: vec![],
            custom_values: vec![0.5, 1.0, 5.0],
            ..int_hist()
        };
        let fams = encode(&[
            (
                &[("__name__", "f")],
                Newest::Histogram(HistogramSample { t: 1, h: fh }),
                Kind::GaugeHistogram,
            ),
            (
                &[("__name__", "n")],
                Newest::Histogram(HistogramSample { t: 2, h: nhcb }),
                Kind::Histogram,
            ),
        ]);
        assert_eq!(fams[0].r#type(), MetricType::GaugeHistogram);
        let f = fams[0].metric[0].histogram.clone().unwrap();
        assert_eq!(
            (f.sample_count_float, f.zero_count_float),
            (Some(9.5), Some(2.0))
        );
        assert_eq!(f.positive_count, [3.0, 2.5, 3.0]);
        assert!(f.positive_delta.is_empty() && f.sample_count.is_none());

        // Buckets 0 (le 0.5): 1, 2 (le 5): 2, 3 (+Inf): 2.
        let n = fams[1].metric[0].histogram.clone().unwrap();
        let b: Vec<_> = n
            .bucket
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count))
            .collect();
        assert_eq!(b, [(0.5, Some(1)), (1.0, Some(1)), (5.0, Some(3))]);
        assert_eq!((n.sample_count, n.schema), (Some(5), None));
    }

    #[test]
    fn a_large_family_is_cut_into_bounded_messages() {
        let labels: Vec<String> = (0..3000).map(|i| format!("{i:05}")).collect();
        let mut series = Vec::new();
        for l in &labels {
            series.push((
                [("__name__", "m"), ("i", l.as_str())],
                Newest::Float(Sample::new(1, 1.0)),
            ));
        }
        let input: Vec<Input> = series
            .iter()
            .map(|(l, v)| (&l[..], v.clone(), Kind::Untyped))
            .collect();
        let fams = encode(&input);
        assert!(fams.len() > 1, "{} families", fams.len());
        assert!(fams.iter().all(|f| f.encoded_len() < FAMILY_BYTES + 1024));
        let all: Vec<_> = fams.iter().flat_map(|f| &f.metric).collect();
        assert_eq!(all.len(), 3000);
        assert_eq!(all[2999].label[0].value(), "02999");
    }
}
