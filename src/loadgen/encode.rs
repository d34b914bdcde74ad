//! Pre-encoding of remote_write 1.0 request bodies.
//!
//! Every scrape round sends the same label sets with a new timestamp and
//! value, so each series' labels are protobuf-encoded once and the request
//! bytes are spliced together from those and freshly encoded samples. That
//! keeps encoding ~an order of magnitude cheaper than building prost
//! structs (which would clone every label string every round), so many rounds
//! can be prepared before the clock starts.
//!
//! The wire layout written here is `prometheus.WriteRequest` from
//! `prompb/remote.proto`; the test decodes it with the prost types in
//! [`crate::ingest::proto::v1`] and compares with a prost-built request.

use bytes::Bytes;

use crate::synth::{NodeExporterShape, ORIGIN_MS};

/// Protobuf wire type 2 (length-delimited) for field 1: `WriteRequest.timeseries`,
/// `TimeSeries.labels`, `Label.name`.
const TAG_FIELD1_LEN: u8 = 0x0a;
/// Wire type 2 for field 2: `TimeSeries.samples`, `Label.value`.
const TAG_FIELD2_LEN: u8 = 0x12;
/// Wire type 1 (64-bit) for field 1: `Sample.value`.
const TAG_FIELD1_F64: u8 = 0x09;
/// Wire type 0 (varint) for field 2: `Sample.timestamp`.
const TAG_FIELD2_VARINT: u8 = 0x10;

/// The request bodies of one scrape round, in sending order.
pub(crate) struct Round {
    /// Timestamp of every sample in the round.
    pub(crate) timestamp_ms: i64,
    /// Snappy-compressed `WriteRequest` bodies.
    pub(crate) bodies: Vec<Bytes>,
}

/// Each series' `TimeSeries.labels` fields, encoded once.
pub(crate) struct SeriesLabels {
    shape: NodeExporterShape,
    encoded: Vec<Vec<u8>>,
}

impl SeriesLabels {
    /// Encodes the labels of every series of `shape`.
    pub(crate) fn new(shape: NodeExporterShape) -> Self {
        let encoded = (0..shape.series_count())
            .map(|s| {
                let mut out = Vec::with_capacity(160);
                for l in shape.labels(s).iter() {
                    let mut label = Vec::with_capacity(l.name.len() + l.value.len() + 6);
                    put_bytes(&mut label, TAG_FIELD1_LEN, l.name.as_bytes());
                    put_bytes(&mut label, TAG_FIELD2_LEN, l.value.as_bytes());
                    put_bytes(&mut out, TAG_FIELD1_LEN, &label);
                }
                out
            })
            .collect();
        SeriesLabels { shape, encoded }
    }

    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.encoded.len()
    }

    /// Encodes one round at `timestamp_ms`: every series once, `per_request`
    /// series a body.
    pub(crate) fn round(&self, timestamp_ms: i64, per_request: usize) -> Round {
        let per_request = per_request.max(1);
        let step = self.shape.interval_ms.max(1);
        let index = timestamp_ms
            .div_euclid(step)
            .wrapping_sub(ORIGIN_MS.div_euclid(step)) as u64;
        let mut raw = Vec::new();
        let mut snappy = snap::raw::Encoder::new();
        let bodies = (0..self.len())
            .step_by(per_request)
            .map(|first| {
                raw.clear();
                let last = first.saturating_add(per_request).min(self.len());
                for s in first..last {
                    let value = self.shape.value_at(s, index);
                    self.put_series(&mut raw, s, value, timestamp_ms);
                }
                // Only inputs beyond snappy's ~4 GiB block limit fail; a
                // request of a few thousand series is a few hundred KiB.
                let body = snappy.compress_vec(&raw).expect("snappy block limit");
                Bytes::from(body)
            })
            .collect();
        Round {
            timestamp_ms,
            bodies,
        }
    }

    fn put_series(&self, out: &mut Vec<u8>, series: usize, value: f64, ts: i64) {
        let mut sample = [0u8; 1 + 8 + 1 + 10];
        sample[0] = TAG_FIELD1_F64;
        sample[1..9].copy_from_slice(&value.to_le_bytes());
        sample[9] = TAG_FIELD2_VARINT;
        let sample_len = 10 + varint(&mut sample[10..], ts as u64);
        let labels = &self.encoded[series];
        let ts_len = labels.len() + 1 + varint_len(sample_len as u64) + sample_len;
        out.push(TAG_FIELD1_LEN);
        put_varint(out, ts_len as u64);
        out.extend_from_slice(labels);
        put_bytes(out, TAG_FIELD2_LEN, &sample[..sample_len]);
    }
}

/// Encodes `rounds` consecutive rounds starting at `start_ms`, spreading the
/// rounds over `threads` threads.
pub(crate) fn rounds(
    labels: &SeriesLabels,
    start_ms: i64,
    rounds: usize,
    per_request: usize,
    threads: usize,
) -> Vec<Round> {
    let threads = threads.clamp(1, rounds.max(1));
    let mut out: Vec<Option<Round>> = (0..rounds).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (t, chunk) in out.chunks_mut(rounds.div_ceil(threads).max(1)).enumerate() {
            let first = t * rounds.div_ceil(threads).max(1);
            scope.spawn(move || {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    let ts = start_ms + (first + k) as i64 * labels.shape.interval_ms;
                    *slot = Some(labels.round(ts, per_request));
                }
            });
        }
    });
    out.into_iter().flatten().collect()
}

fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 10];
    let n = varint(&mut buf, v);
    out.extend_from_slice(&buf[..n]);
}

/// Writes `v` as a protobuf varint into `buf` (at least 10 bytes), returning
/// its length.
fn varint(buf: &mut [u8], mut v: u64) -> usize {
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    n + 1
}

fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::proto::v1;
    use prost::Message;

    fn shape(hosts: usize) -> NodeExporterShape {
        NodeExporterShape {
            hosts,
            interval_ms: 15_000,
            seed: 7,
        }
    }

    /// The same request built from prost structs.
    fn prost_request(shape: NodeExporterShape, series: std::ops::Range<usize>, ts: i64) -> Vec<u8> {
        let i = ((ts - ORIGIN_MS) / shape.interval_ms) as u64;
        let timeseries = series
            .map(|s| v1::TimeSeries {
                labels: shape
                    .labels(s)
                    .iter()
                    .map(|l| v1::Label {
                        name: l.name.to_string(),
                        value: l.value.to_string(),
                    })
                    .collect(),
                samples: vec![v1::Sample {
                    value: shape.value_at(s, i),
                    timestamp: ts,
                }],
                ..Default::default()
            })
            .collect();
        v1::WriteRequest {
            timeseries,
            metadata: vec![],
        }
        .encode_to_vec()
    }

    fn decode(body: &[u8]) -> v1::WriteRequest {
        let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
        v1::WriteRequest::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn spliced_bodies_decode_to_the_prost_request() {
        // (hosts, series per request, timestamp): one series a request,
        // a partial last request, one request for everything, a negative
        // and a multi-byte timestamp.
        let cases = [
            (1, 1, ORIGIN_MS),
            (2, 100, ORIGIN_MS + 15_000),
            (3, 1000, ORIGIN_MS + 150_000_000),
            (1, 104, -15_000),
        ];
        for (hosts, per_request, ts) in cases {
            let shape = shape(hosts);
            let labels = SeriesLabels::new(shape);
            let round = labels.round(ts, per_request);
            assert_eq!(
                round.bodies.len(),
                shape.series_count().div_ceil(per_request)
            );
            for (k, body) in round.bodies.iter().enumerate() {
                let first = k * per_request;
                let last = (first + per_request).min(shape.series_count());
                let want =
                    v1::WriteRequest::decode(prost_request(shape, first..last, ts).as_slice())
                        .unwrap();
                assert_eq!(decode(body), want, "hosts {hosts} request {k}");
            }
        }
    }

    #[test]
    fn rounds_advance_by_the_interval_in_order() {
        let labels = SeriesLabels::new(shape(1));
        for n in [0, 1, 3, 5] {
            let got = rounds(&labels, ORIGIN_MS, n, 50, 2);
            let ts: Vec<i64> = got.iter().map(|r| r.timestamp_ms).collect();
            let want: Vec<i64> = (0..n as i64).map(|k| ORIGIN_MS + k * 15_000).collect();
            assert_eq!(ts, want);
            for r in &got {
                let first = decode(&r.bodies[0]);
                assert_eq!(first.timeseries[0].samples[0].timestamp, r.timestamp_ms);
            }
        }
    }

    #[test]
    fn varint_len_matches_the_encoder() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut buf = [0u8; 10];
            assert_eq!(varint_len(v), varint(&mut buf, v), "{v}");
        }
    }
}
