//! What travels between nodes: the log's messages (one tenant's series for
//! one partition, protobuf) and the internal read protocol (JSON).
//!
//! A log message holds label bytes exactly as the sender gave them, so
//! the owner's storage validates them as it would on one node; sample
//! values travel as their bit patterns (`fixed64`), so stale markers and
//! NaN payloads survive; native histograms travel in the storage's
//! histogram value encoding (the WAL's and the chunks'), so the log
//! carries them bit for bit too.
//!
//! Versions: 1 (the field absent) carries floats only; 2 adds
//! histograms; 3 adds metric metadata and exemplars, so partition owners
//! hold them and reads find them through any node, and tenant deletion
//! records. Older versions are
//! read as always; a version above [`WIRE_VERSION`] is refused naming it,
//! rather than read with parts dropped.

use prost::Message;

use crate::model::{Exemplar, HistogramSample, LabelRef, Labels, Sample};
use crate::storage::chunk::{put_histogram, HistReader};
use crate::storage::{ExemplarInput, MetricMetadata, SeriesInput};

mod read;

pub use read::{ReadOp, ReadReply, ReadRequest, WireExemplars, WireHead, WireMatcher, WireRead};

/// The header naming a log message's tenant.
pub const TENANT_HEADER: &str = "Tessera-Tenant";

/// The log message version this build writes and the newest it reads.
pub const WIRE_VERSION: u32 = 3;

/// One log message: series of one tenant for one partition.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireBatch {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<WireSeries>,
    /// The format version (0 when absent: version 1).
    #[prost(uint32, tag = "2")]
    pub version: u32,
    /// Metric metadata of the tenant (version 3).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<WireMetadata>,
    /// Version 3: when not 0, the time (ms) an operator deleted the
    /// tenant; the owner deletes the tenant's data in the partition (its
    /// storage and its shipped blocks). The time keeps two deletions'
    /// messages apart for the stream's duplicate detection.
    #[prost(int64, tag = "4")]
    pub delete_tenant_at: i64,
}

/// Metadata of one metric family (version 3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireMetadata {
    /// Metric family name.
    #[prost(string, tag = "1")]
    pub metric: String,
    /// Type in Prometheus API spelling.
    #[prost(string, tag = "2")]
    pub kind: String,
    /// Help text.
    #[prost(string, tag = "3")]
    pub help: String,
    /// Unit, empty if none.
    #[prost(string, tag = "4")]
    pub unit: String,
}

impl WireMetadata {
    /// The wire form of an entry.
    pub fn new(m: &MetricMetadata) -> WireMetadata {
        WireMetadata {
            metric: m.metric.clone(),
            kind: m.kind.clone(),
            help: m.help.clone(),
            unit: m.unit.clone(),
        }
    }

    /// The entry.
    pub fn to_metadata(&self) -> MetricMetadata {
        MetricMetadata {
            metric: self.metric.clone(),
            kind: self.kind.clone(),
            help: self.help.clone(),
            unit: self.unit.clone(),
        }
    }
}

/// One exemplar of a series (version 3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireExemplar {
    /// Label names (UTF-8, validated by the writing node).
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub names: Vec<Vec<u8>>,
    /// Label values, one per name.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub values: Vec<Vec<u8>>,
    /// Its timestamp (ms).
    #[prost(int64, tag = "3")]
    pub t: i64,
    /// Its value as `f64::to_bits`.
    #[prost(fixed64, tag = "4")]
    pub bits: u64,
}

/// One native histogram of a series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireHistogram {
    /// Its timestamp (ms).
    #[prost(int64, tag = "1")]
    pub t: i64,
    /// The histogram in the storage's histogram value encoding.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// One series and its samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireSeries {
    /// Label names, in the sender's order.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub names: Vec<Vec<u8>>,
    /// Label values, one per name.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub values: Vec<Vec<u8>>,
    /// Sample timestamps (ms).
    #[prost(int64, repeated, tag = "3")]
    pub ts: Vec<i64>,
    /// Sample values as `f64::to_bits`.
    #[prost(fixed64, repeated, tag = "4")]
    pub bits: Vec<u64>,
    /// Start timestamps, one per sample, or empty when the sender gave none.
    #[prost(int64, repeated, tag = "5")]
    pub start_times: Vec<i64>,
    /// Native histograms (version 2).
    #[prost(message, repeated, tag = "6")]
    pub histograms: Vec<WireHistogram>,
    /// Exemplars (version 3), travelling in messages of their own after
    /// the series' samples.
    #[prost(message, repeated, tag = "7")]
    pub exemplars: Vec<WireExemplar>,
}

impl WireSeries {
    /// A series from a request's input (its floats; histograms are added
    /// with [`WireSeries::with_histograms`]).
    pub fn from_input(input: &SeriesInput<'_>, start_times: Option<&[i64]>) -> WireSeries {
        WireSeries {
            names: input.labels.iter().map(|l| l.name.to_vec()).collect(),
            values: input.labels.iter().map(|l| l.value.to_vec()).collect(),
            ts: input.samples.iter().map(|s| s.t).collect(),
            bits: input.samples.iter().map(|s| s.v.to_bits()).collect(),
            start_times: start_times
                .filter(|st| st.len() == input.samples.len())
                .map(<[i64]>::to_vec)
                .unwrap_or_default(),
            histograms: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    /// A series carrying only `input`'s exemplars.
    pub fn exemplars_of(input: &ExemplarInput<'_>) -> WireSeries {
        WireSeries {
            names: input.labels.iter().map(|l| l.name.to_vec()).collect(),
            values: input.labels.iter().map(|l| l.value.to_vec()).collect(),
            exemplars: input
                .exemplars
                .iter()
                .map(|e| WireExemplar {
                    names: e.labels.iter().map(|l| l.name.clone().into()).collect(),
                    values: e.labels.iter().map(|l| l.value.clone().into()).collect(),
                    t: e.t,
                    bits: e.value.to_bits(),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The series with `hs` as its histograms.
    pub fn with_histograms(mut self, hs: &[HistogramSample]) -> WireSeries {
        self.histograms = hs
            .iter()
            .map(|h| {
                let mut value = Vec::new();
                put_histogram(&mut value, &h.h);
                WireHistogram { t: h.t, value }
            })
            .collect();
        self
    }
}

/// A decoded log message, ready to append.
pub struct Decoded {
    /// The message.
    pub batch: WireBatch,
    /// Samples per series.
    pub samples: Vec<Vec<Sample>>,
    /// Histograms per series.
    pub histograms: Vec<Vec<HistogramSample>>,
    /// Exemplars per series.
    pub exemplars: Vec<Vec<Exemplar>>,
    /// Metric metadata.
    pub metadata: Vec<MetricMetadata>,
}

/// Why a log message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not a protobuf `WireBatch`.
    #[error("log message at sequence {seq} does not decode: {why}")]
    Decode {
        /// Its stream sequence.
        seq: u64,
        /// The decoder's complaint.
        why: String,
    },
    /// Names and values, or timestamps and values, differ in count.
    #[error("log message at sequence {seq}: series {index} has mismatched field counts")]
    Shape {
        /// Its stream sequence.
        seq: u64,
        /// Which series.
        index: usize,
    },
    /// Written by a newer build, in a version this one cannot read whole.
    #[error(
        "log message at sequence {seq} has version {version}; this build reads up to {WIRE_VERSION}"
    )]
    Version {
        /// Its stream sequence.
        seq: u64,
        /// Its version.
        version: u32,
    },
    /// A histogram that does not decode, or is not valid.
    #[error("log message at sequence {seq}: series {index}, histogram {histogram}: {why} at byte {offset}")]
    Histogram {
        /// Its stream sequence.
        seq: u64,
        /// Which series.
        index: usize,
        /// Which histogram of the series.
        histogram: usize,
        /// What was wrong.
        why: &'static str,
        /// Byte offset in the histogram's value.
        offset: usize,
    },
    /// An exemplar whose labels are not UTF-8 or differ in count.
    #[error("log message at sequence {seq}: series {index}, exemplar {exemplar}: {why}")]
    Exemplar {
        /// Its stream sequence.
        seq: u64,
        /// Which series.
        index: usize,
        /// Which exemplar of the series.
        exemplar: usize,
        /// What was wrong.
        why: &'static str,
    },
}

/// Decodes a log message's payload.
pub fn decode(seq: u64, payload: &[u8]) -> Result<Decoded, WireError> {
    let batch = WireBatch::decode(payload).map_err(|e| WireError::Decode {
        seq,
        why: e.to_string(),
    })?;
    if batch.version > WIRE_VERSION {
        return Err(WireError::Version {
            seq,
            version: batch.version,
        });
    }
    let mut samples = Vec::with_capacity(batch.series.len());
    let mut histograms = Vec::with_capacity(batch.series.len());
    let mut exemplars = Vec::with_capacity(batch.series.len());
    for (index, s) in batch.series.iter().enumerate() {
        let st_ok = s.start_times.is_empty() || s.start_times.len() == s.ts.len();
        if s.names.len() != s.values.len() || s.ts.len() != s.bits.len() || !st_ok {
            return Err(WireError::Shape { seq, index });
        }
        samples.push(
            s.ts.iter()
                .zip(&s.bits)
                .map(|(&t, &b)| Sample::new(t, f64::from_bits(b)))
                .collect(),
        );
        histograms.push(decode_histograms(seq, index, &s.histograms)?);
        exemplars.push(decode_exemplars(seq, index, &s.exemplars)?);
    }
    let metadata = batch
        .metadata
        .iter()
        .map(WireMetadata::to_metadata)
        .collect();
    Ok(Decoded {
        batch,
        samples,
        histograms,
        exemplars,
        metadata,
    })
}

fn decode_exemplars(
    seq: u64,
    index: usize,
    es: &[WireExemplar],
) -> Result<Vec<Exemplar>, WireError> {
    es.iter()
        .enumerate()
        .map(|(exemplar, w)| {
            let err = |why| WireError::Exemplar {
                seq,
                index,
                exemplar,
                why,
            };
            if w.names.len() != w.values.len() {
                return Err(err("label names and values differ in count"));
            }
            let utf8 = |b: &[u8]| std::str::from_utf8(b).map(str::to_string);
            let pairs = w
                .names
                .iter()
                .zip(&w.values)
                .map(|(n, v)| Ok((utf8(n)?, utf8(v)?)))
                .collect::<Result<Vec<_>, std::str::Utf8Error>>()
                .map_err(|_| err("a label is not UTF-8"))?;
            Ok(Exemplar {
                labels: Labels::from_pairs(pairs),
                value: f64::from_bits(w.bits),
                t: w.t,
            })
        })
        .collect()
}

fn decode_histograms(
    seq: u64,
    index: usize,
    hs: &[WireHistogram],
) -> Result<Vec<HistogramSample>, WireError> {
    hs.iter()
        .enumerate()
        .map(|(histogram, w)| {
            let err = |why, offset| WireError::Histogram {
                seq,
                index,
                histogram,
                why,
                offset,
            };
            let mut r = HistReader::new(&w.value);
            let h = r.histogram().map_err(|e| err(e.reason, e.offset))?;
            if !r.at_end() {
                return Err(err("bytes after the histogram", r.pos));
            }
            Ok(HistogramSample { t: w.t, h })
        })
        .collect()
}

impl Decoded {
    /// The newest sample or histogram time in the message, if it holds any.
    pub fn newest(&self) -> Option<i64> {
        let floats = self.samples.iter().flatten().map(|s| s.t);
        let hists = self.histograms.iter().flatten().map(|h| h.t);
        floats.chain(hists).max()
    }

    /// The label refs of every series (borrowing the message).
    pub fn label_refs(&self) -> Vec<Vec<LabelRef<'_>>> {
        self.batch
            .series
            .iter()
            .map(|s| {
                s.names
                    .iter()
                    .zip(&s.values)
                    .map(|(n, v)| LabelRef { name: n, value: v })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CounterResetHint, Histogram, HistogramCounts, Span};

    #[test]
    fn log_messages_round_trip_bit_exact() {
        let labels = [LabelRef::new("__name__", "up"), LabelRef::new("job", "a")];
        let nan = f64::from_bits(0x7ff0_0000_0000_0002);
        let samples = [Sample::new(1, 1.5), Sample::new(2, nan)];
        let input = SeriesInput {
            labels: &labels,
            samples: &samples,
            histograms: &[],
        };
        let msg = WireBatch {
            series: vec![WireSeries::from_input(&input, Some(&[0, 1]))],
            version: WIRE_VERSION,
            metadata: vec![],
            delete_tenant_at: 0,
        };
        let d = decode(7, &msg.encode_to_vec()).unwrap();
        assert_eq!(d.samples[0][1].v.to_bits(), nan.to_bits());
        assert_eq!(d.label_refs()[0], labels.to_vec());
        assert_eq!(d.batch.series[0].start_times, vec![0, 1]);
    }

    #[test]
    fn bad_messages_are_errors_naming_the_sequence() {
        let e = decode(9, &[0xff, 0xff, 0xff]).err().unwrap();
        assert!(e.to_string().contains("sequence 9"), "{e}");
        let series = WireSeries {
            names: vec![b"a".to_vec()],
            values: vec![],
            ts: vec![1],
            bits: vec![0],
            start_times: vec![],
            histograms: vec![],
            exemplars: vec![],
        };
        let msg = WireBatch {
            series: vec![series.clone()],
            version: WIRE_VERSION,
            metadata: vec![],
            delete_tenant_at: 0,
        };
        let e = decode(3, &msg.encode_to_vec()).err().unwrap();
        assert!(matches!(e, WireError::Shape { seq: 3, index: 0 }), "{e}");
        // A histogram whose bytes are damaged or carry a tail.
        let mut good = Vec::new();
        put_histogram(&mut good, &Histogram::empty_int(0));
        let mut tail = good.clone();
        tail.push(0);
        for (value, want) in [
            (vec![0xff], "unknown histogram flags"),
            (good[..good.len() - 1].to_vec(), "bad uvarint at byte"),
            (tail, "bytes after the histogram"),
        ] {
            let mut s = series.clone();
            s.names.clear();
            s.ts.clear();
            s.bits.clear();
            s.histograms = vec![WireHistogram { t: 1, value }];
            let msg = WireBatch {
                series: vec![s],
                version: WIRE_VERSION,
                metadata: vec![],
                delete_tenant_at: 0,
            };
            let e = decode(4, &msg.encode_to_vec()).err().unwrap();
            assert!(matches!(e, WireError::Histogram { seq: 4, .. }), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    fn float_histogram() -> Histogram {
        Histogram {
            schema: 1,
            reset_hint: CounterResetHint::Gauge,
            zero_threshold: 0.001,
            sum: -2.5,
            counts: HistogramCounts::Float {
                count: 7.5,
                zero_count: 0.5,
                positive: vec![3.0, 1.0],
                negative: vec![3.0],
            },
            positive_spans: vec![Span {
                offset: -1,
                length: 2,
            }],
            negative_spans: vec![Span {
                offset: 2,
                length: 1,
            }],
            custom_values: vec![],
        }
    }

    #[test]
    fn histograms_round_trip_and_versions_are_checked() {
        let labels = [LabelRef::new("__name__", "h")];
        let hs = [
            HistogramSample {
                t: 10,
                h: Histogram::empty_int(3),
            },
            HistogramSample {
                t: 20,
                h: float_histogram(),
            },
        ];
        let input = SeriesInput {
            labels: &labels,
            samples: &[],
            histograms: &hs,
        };
        let series = WireSeries::from_input(&input, None).with_histograms(&hs);
        let msg = WireBatch {
            series: vec![series],
            version: WIRE_VERSION,
            metadata: vec![],
            delete_tenant_at: 0,
        };
        let d = decode(1, &msg.encode_to_vec()).unwrap();
        assert_eq!(d.histograms, vec![hs.to_vec()]);
        assert_eq!(d.newest(), Some(20));
        // Version 1 (no version field, floats only) is still read.
        let old = WireBatch {
            series: vec![WireSeries::from_input(
                &SeriesInput {
                    labels: &labels,
                    samples: &[Sample::new(5, 1.0)],
                    histograms: &[],
                },
                None,
            )],
            version: 0,
            metadata: vec![],
            delete_tenant_at: 0,
        };
        let d = decode(2, &old.encode_to_vec()).unwrap();
        assert_eq!(d.samples, vec![vec![Sample::new(5, 1.0)]]);
        assert_eq!(d.histograms, vec![Vec::<HistogramSample>::new()]);
        // An owner's read reply carries histograms the same way; a
        // damaged one is an error naming the series.
        let l = Labels::from_pairs(vec![("__name__".to_string(), "h".to_string())]);
        let mut reply = WireRead::new(&l, &[], &hs, Vec::new());
        assert_eq!(reply.decode_histograms().unwrap(), hs.to_vec());
        reply.histograms[1].1.truncate(3);
        let e = reply.decode_histograms().unwrap_err();
        assert!(e.contains("histogram 1") && e.contains("h"), "{e}");
        // A newer version is refused, naming it.
        let newer = WireBatch {
            version: WIRE_VERSION + 1,
            ..old
        };
        let e = decode(8, &newer.encode_to_vec()).err().unwrap();
        assert!(
            matches!(e, WireError::Version { seq: 8, version: 4 }),
            "{e}"
        );
    }

    #[test]
    fn metadata_and_exemplars_round_trip() {
        let labels = [LabelRef::new("__name__", "rq"), LabelRef::new("job", "a")];
        let exemplars = [
            Exemplar {
                labels: Labels::from_pairs([("trace_id", "abc")]),
                value: 0.25,
                t: 10,
            },
            Exemplar {
                labels: Labels::default(),
                value: f64::INFINITY,
                t: 11,
            },
        ];
        let input = ExemplarInput {
            labels: &labels,
            exemplars: &exemplars,
        };
        let meta = MetricMetadata {
            metric: "rq".into(),
            kind: "counter".into(),
            help: "Requests.".into(),
            unit: "".into(),
        };
        let msg = WireBatch {
            series: vec![WireSeries::exemplars_of(&input)],
            version: WIRE_VERSION,
            metadata: vec![WireMetadata::new(&meta)],
            delete_tenant_at: 0,
        };
        let d = decode(5, &msg.encode_to_vec()).unwrap();
        assert_eq!(d.exemplars, vec![exemplars.to_vec()]);
        assert_eq!(d.metadata, vec![meta]);
        assert_eq!(d.label_refs()[0], labels.to_vec());
        assert!(d.samples[0].is_empty() && d.histograms[0].is_empty());
        // An exemplar label that is not UTF-8, or names without values.
        for (names, values, want) in [
            (vec![b"a".to_vec()], vec![vec![0xc3]], "not UTF-8"),
            (vec![b"a".to_vec()], vec![], "differ in count"),
        ] {
            let mut bad = msg.clone();
            bad.series[0].exemplars[0].names = names;
            bad.series[0].exemplars[0].values = values;
            let e = decode(6, &bad.encode_to_vec()).err().unwrap();
            assert!(
                matches!(
                    e,
                    WireError::Exemplar {
                        seq: 6,
                        index: 0,
                        exemplar: 0,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
