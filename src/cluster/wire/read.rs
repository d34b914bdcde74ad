//! The internal read protocol (JSON): what the node a read arrived at
//! asks of each partition owner, and the owner's answer.

use serde::{Deserialize, Serialize};

use crate::model::{Exemplar, HistogramSample, Labels, Sample};
use crate::storage::chunk::{put_histogram, HistReader};
use crate::storage::{ExemplarSeries, HeadPairs, MatchOp, Matcher, MetricMetadata};

/// What an internal read asks of a partition owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadRequest {
    /// The tenant read; must be one the forwarded credential may read.
    pub tenant: String,
    /// The partitions to read (the owner must hold them all).
    pub partitions: Vec<u32>,
    /// `(partition, sequence)`: wait until the partition is consumed up to
    /// the sequence first (strong consistency).
    #[serde(default)]
    pub wait: Vec<(u32, u64)>,
    /// Range start (ms, inclusive).
    pub mint: i64,
    /// Range end (ms, inclusive).
    pub maxt: i64,
    /// What to read.
    pub op: ReadOp,
    /// Storage matchers (the caller's, policy already appended; the owner
    /// appends the credential's policy again).
    pub matchers: Vec<WireMatcher>,
    /// Most samples the answer may hold (the query's sample limit); more
    /// is an error rather than an unbounded answer.
    #[serde(default)]
    pub max_samples: Option<usize>,
    /// Longest the owner may wait for `wait` (ms): what is left of the
    /// asking node's strong-read time. The owner waits at most its own
    /// `strong_read_timeout` in any case.
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// The operation of a [`ReadRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOp {
    /// Series with samples.
    Select {
        /// Also start timestamps.
        with_st: bool,
    },
    /// Label sets only.
    Labels,
    /// Label names.
    Names {
        /// At most this many.
        limit: Option<usize>,
    },
    /// Values of one label.
    Values {
        /// The label.
        name: String,
        /// At most this many.
        limit: Option<usize>,
    },
    /// Metric metadata the owned partitions hold (of one metric, if given).
    Metadata {
        /// Only this metric family.
        metric: Option<String>,
    },
    /// Exemplars in `[mint, maxt]` of matching series.
    Exemplars,
    /// Each owned partition's head statistics in mergeable form.
    TsdbStatus,
}

/// A matcher on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireMatcher {
    /// Label name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// Value or regex.
    pub value: String,
}

impl WireMatcher {
    /// The wire form of `m`.
    pub fn from_matcher(m: &Matcher) -> WireMatcher {
        let op = match m.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        WireMatcher {
            name: m.name.clone(),
            op: op.to_string(),
            value: m.value.clone(),
        }
    }

    /// The matcher, or why it is not one.
    pub fn to_matcher(&self) -> Result<Matcher, String> {
        let op = match self.op.as_str() {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::Regex,
            "!~" => MatchOp::NotRegex,
            other => return Err(format!("unknown matcher operator {other:?}")),
        };
        Matcher::new(op, &self.name, &self.value).map_err(|e| e.to_string())
    }
}

/// An owner's answer.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ReadReply {
    /// Series (for `select` and `labels`).
    #[serde(default)]
    pub series: Vec<WireRead>,
    /// Names or values (for `names` and `values`).
    #[serde(default)]
    pub strings: Vec<String>,
    /// Metric metadata (for `metadata`).
    #[serde(default)]
    pub metadata: Vec<MetricMetadata>,
    /// Series' exemplars (for `exemplars`).
    #[serde(default)]
    pub exemplars: Vec<WireExemplars>,
    /// One entry per partition (for `tsdb_status`).
    #[serde(default)]
    pub heads: Vec<WireHead>,
}

/// One series' exemplars in a [`ReadReply`].
#[derive(Debug, Serialize, Deserialize)]
pub struct WireExemplars {
    /// The series' label pairs, sorted.
    pub labels: Vec<(String, String)>,
    /// `(labels, t, f64 bits)` of each exemplar, oldest first.
    pub exemplars: Vec<(Vec<(String, String)>, i64, u64)>,
}

impl WireExemplars {
    /// The wire form of a series' exemplars.
    pub fn new(s: &ExemplarSeries) -> WireExemplars {
        WireExemplars {
            labels: pairs(&s.labels),
            exemplars: s
                .exemplars
                .iter()
                .map(|e| (pairs(&e.labels), e.t, e.value.to_bits()))
                .collect(),
        }
    }

    /// The series and its exemplars.
    pub fn into_series(self) -> ExemplarSeries {
        ExemplarSeries {
            labels: Labels::from_pairs(self.labels),
            exemplars: self
                .exemplars
                .into_iter()
                .map(|(l, t, bits)| Exemplar {
                    labels: Labels::from_pairs(l),
                    value: f64::from_bits(bits),
                    t,
                })
                .collect(),
        }
    }
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// One partition's head statistics in a [`ReadReply`] ([`HeadPairs`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct WireHead {
    /// Series in the head.
    pub num_series: u64,
    /// Chunks held.
    pub chunk_count: u64,
    /// Oldest and newest sample time, if any.
    pub bounds: Option<(i64, i64)>,
    /// `(name, value, series)` of every distinct pair.
    pub pairs: Vec<(String, String, u64)>,
}

impl From<HeadPairs> for WireHead {
    fn from(h: HeadPairs) -> WireHead {
        WireHead {
            num_series: h.num_series,
            chunk_count: h.chunk_count,
            bounds: h.bounds,
            pairs: h.pairs,
        }
    }
}

impl From<WireHead> for HeadPairs {
    fn from(h: WireHead) -> HeadPairs {
        HeadPairs {
            num_series: h.num_series,
            chunk_count: h.chunk_count,
            bounds: h.bounds,
            pairs: h.pairs,
        }
    }
}

/// One series in a [`ReadReply`].
#[derive(Debug, Serialize, Deserialize)]
pub struct WireRead {
    /// Label pairs, sorted.
    pub labels: Vec<(String, String)>,
    /// `(t, f64 bits)` in time order.
    #[serde(default)]
    pub samples: Vec<(i64, u64)>,
    /// `(t, st)` of samples with a start timestamp.
    #[serde(default)]
    pub st: Vec<(i64, i64)>,
    /// `(t, histogram)` in time order, each in the storage's histogram
    /// value encoding (as in log messages).
    #[serde(default)]
    pub histograms: Vec<(i64, Vec<u8>)>,
}

impl WireRead {
    /// The wire form of a series.
    pub fn new(
        labels: &Labels,
        samples: &[Sample],
        histograms: &[HistogramSample],
        st: Vec<(i64, i64)>,
    ) -> WireRead {
        WireRead {
            labels: pairs(labels),
            samples: samples.iter().map(|s| (s.t, s.v.to_bits())).collect(),
            st,
            histograms: histograms
                .iter()
                .map(|h| {
                    let mut b = Vec::new();
                    put_histogram(&mut b, &h.h);
                    (h.t, b)
                })
                .collect(),
        }
    }

    /// The series' histograms, decoded and checked; an error names the
    /// series, the histogram and the byte offset.
    pub fn decode_histograms(&self) -> Result<Vec<HistogramSample>, String> {
        let name = Labels::from_pairs(self.labels.clone());
        self.histograms
            .iter()
            .enumerate()
            .map(|(i, (t, value))| {
                let mut r = HistReader::new(value);
                let h = r.histogram().map_err(|e| {
                    format!(
                        "series {name}, histogram {i}: {} at byte {}",
                        e.reason, e.offset
                    )
                })?;
                if !r.at_end() {
                    return Err(format!(
                        "series {name}, histogram {i}: bytes after the histogram at byte {}",
                        r.pos
                    ));
                }
                Ok(HistogramSample { t: *t, h })
            })
            .collect()
    }
}
