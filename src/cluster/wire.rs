//! What travels between nodes: the log's messages (one tenant's series for
//! one partition, protobuf) and the internal read protocol (JSON).
//!
//! A log message holds label bytes exactly as the sender gave them, so
//! the owner's storage validates them as it would on one node; sample
//! values travel as their bit patterns (`fixed64`), so stale markers and
//! NaN payloads survive.

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::model::{LabelRef, Labels, Sample};
use crate::storage::{MatchOp, Matcher, SeriesInput};

/// The header naming a log message's tenant.
pub const TENANT_HEADER: &str = "Tessera-Tenant";

/// One log message: series of one tenant for one partition.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireBatch {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<WireSeries>,
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
}

impl WireSeries {
    /// A series from a request's input.
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
        }
    }
}

/// A decoded log message, ready to append.
pub struct Decoded {
    /// The message.
    pub batch: WireBatch,
    /// Samples per series.
    pub samples: Vec<Vec<Sample>>,
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
}

/// Decodes a log message's payload.
pub fn decode(seq: u64, payload: &[u8]) -> Result<Decoded, WireError> {
    let batch = WireBatch::decode(payload).map_err(|e| WireError::Decode {
        seq,
        why: e.to_string(),
    })?;
    let mut samples = Vec::with_capacity(batch.series.len());
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
    }
    Ok(Decoded { batch, samples })
}

impl Decoded {
    /// The newest sample time in the message, if it holds any.
    pub fn newest(&self) -> Option<i64> {
        self.samples.iter().flatten().map(|s| s.t).max()
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
}

impl WireRead {
    /// The wire form of a series.
    pub fn new(labels: &Labels, samples: &[Sample], st: Vec<(i64, i64)>) -> WireRead {
        WireRead {
            labels: labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            samples: samples.iter().map(|s| (s.t, s.v.to_bits())).collect(),
            st,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let msg = WireBatch {
            series: vec![WireSeries {
                names: vec![b"a".to_vec()],
                values: vec![],
                ts: vec![1],
                bits: vec![0],
                start_times: vec![],
            }],
        };
        let e = decode(3, &msg.encode_to_vec()).err().unwrap();
        assert!(matches!(e, WireError::Shape { seq: 3, index: 0 }), "{e}");
    }
}
