//! Bodies into [`ExportMetricsServiceRequest`]s: gzip with a bounded
//! output, a protobuf pre-scan that counts before anything is allocated,
//! and the OTLP/JSON mapping.

use std::io::Read;

use prost::Message;

use super::proto::ExportMetricsServiceRequest;
use crate::ingest::IngestError;

/// Largest decompressed protobuf body.
pub const MAX_PROTOBUF_BYTES: usize = 64 << 20;
/// Largest decompressed JSON body (JSON is parsed into a tree first, which
/// takes several times its size).
pub const MAX_JSON_BYTES: usize = 8 << 20;
/// Most data points one request may carry.
pub const MAX_DATA_POINTS: u64 = 1 << 20;
/// Most protobuf messages (and packed bucket counts) one request may carry,
/// counted before decoding so that no allocation exceeds a bound.
pub const MAX_ITEMS: u64 = 1 << 22;
/// Deepest nesting of messages (attribute values nest).
pub const MAX_DEPTH: usize = 32;

/// The body's encoding (`Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpFormat {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

/// Inflates a gzip body, refusing output past `limit` bytes before it is
/// held (a gzip bomb stops at the limit).
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut dec = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| IngestError::Otlp(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::TooLarge {
            size: out.len(),
            limit,
        });
    }
    Ok(out)
}

/// Decodes a (decompressed) body of the given format.
pub fn decode(body: &[u8], format: OtlpFormat) -> Result<ExportMetricsServiceRequest, IngestError> {
    match format {
        OtlpFormat::Protobuf => decode_protobuf(body),
        OtlpFormat::Json => super::json::decode_json(body),
    }
}

/// Decodes a protobuf body after [`prescan`] has bounded it.
pub fn decode_protobuf(body: &[u8]) -> Result<ExportMetricsServiceRequest, IngestError> {
    if body.len() > MAX_PROTOBUF_BYTES {
        return Err(IngestError::TooLarge {
            size: body.len(),
            limit: MAX_PROTOBUF_BYTES,
        });
    }
    prescan(body)?;
    ExportMetricsServiceRequest::decode(body)
        .map_err(|e| IngestError::Otlp(format!("invalid OTLP protobuf body: {e}")))
}

/// What a message's fields are: which field numbers hold which messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    ResourceMetrics,
    Resource,
    ScopeMetrics,
    Scope,
    Metric,
    /// Gauge, Sum, Histogram, ... : field 1 holds data points of the kind.
    Points(PointKind),
    Point(PointKind),
    Buckets,
    Leaf,
    Exemplar,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PointKind {
    Number,
    Histogram,
    Exponential,
    Summary,
}

/// The message kind of `field` inside a `kind`, if it holds a message.
fn child(kind: Kind, field: u64) -> Option<Kind> {
    use Kind::*;
    Some(match (kind, field) {
        (Request, 1) => ResourceMetrics,
        (ResourceMetrics, 1) => Resource,
        (ResourceMetrics, 2) => ScopeMetrics,
        (Resource, 1) | (Scope, 3) | (Exemplar, 7) | (KvList, 1) => KeyValue,
        (ScopeMetrics, 1) => Scope,
        (ScopeMetrics, 2) => Metric,
        (Metric, 5 | 7) => Points(PointKind::Number),
        (Metric, 9) => Points(PointKind::Histogram),
        (Metric, 10) => Points(PointKind::Exponential),
        (Metric, 11) => Points(PointKind::Summary),
        (Points(p), 1) => Point(p),
        (Point(PointKind::Number), 7)
        | (Point(PointKind::Histogram), 9)
        | (Point(PointKind::Exponential), 1)
        | (Point(PointKind::Summary), 7) => KeyValue,
        (Point(PointKind::Number), 5)
        | (Point(PointKind::Histogram), 8)
        | (Point(PointKind::Exponential), 11) => Exemplar,
        (Point(PointKind::Exponential), 8 | 9) => Buckets,
        (Point(PointKind::Summary), 6) => Leaf,
        (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KvList,
        _ => return None,
    })
}

/// Counts of one pre-scan.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Data points.
    pub data_points: u64,
    /// Messages plus packed bucket-count bytes.
    pub items: u64,
}

/// Walks the protobuf wire format of a request without allocating,
/// counting data points and nested messages, and refuses a body over
/// [`MAX_DATA_POINTS`], [`MAX_ITEMS`] or [`MAX_DEPTH`], or one whose framing
/// is broken (naming the byte offset).
pub fn prescan(body: &[u8]) -> Result<Counts, IngestError> {
    let mut counts = Counts::default();
    scan(body, 0, Kind::Request, 0, &mut counts)?;
    Ok(counts)
}

fn scan(
    buf: &[u8],
    base: usize,
    kind: Kind,
    depth: usize,
    counts: &mut Counts,
) -> Result<(), IngestError> {
    if depth > MAX_DEPTH {
        return Err(IngestError::Otlp(format!(
            "OTLP body nests messages deeper than {MAX_DEPTH} levels (at byte {base})"
        )));
    }
    let bad = |at: usize, why: &str| {
        IngestError::Otlp(format!(
            "invalid OTLP protobuf body at byte {}: {why}",
            base + at
        ))
    };
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos).ok_or_else(|| bad(pos, "truncated field key"))?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(buf, &mut pos).ok_or_else(|| bad(pos, "truncated varint"))?;
            }
            1 => pos = skip(buf, pos, 8).ok_or_else(|| bad(pos, "truncated fixed64"))?,
            5 => pos = skip(buf, pos, 4).ok_or_else(|| bad(pos, "truncated fixed32"))?,
            2 => {
                let len = varint(buf, &mut pos).ok_or_else(|| bad(pos, "truncated length"))?;
                let start = pos;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| skip(buf, start, l))
                    .ok_or_else(|| bad(start, "length runs past the end"))?;
                let inner = &buf[start..end];
                match child(kind, field) {
                    Some(k) => {
                        counts.items += 1;
                        if let Kind::Point(_) = k {
                            counts.data_points += 1;
                        }
                        check(counts)?;
                        scan(inner, base + start, k, depth + 1, counts)?;
                    }
                    None if kind == Kind::Buckets && field == 2 => {
                        counts.items += inner.len() as u64;
                        check(counts)?;
                    }
                    None => {}
                }
                pos = end;
            }
            _ => return Err(bad(pos, &format!("unsupported wire type {wire}"))),
        }
    }
    Ok(())
}

fn check(c: &Counts) -> Result<(), IngestError> {
    if c.data_points > MAX_DATA_POINTS {
        return Err(IngestError::TooMany(format!(
            "OTLP request carries more than {MAX_DATA_POINTS} data points; split it"
        )));
    }
    if c.items > MAX_ITEMS {
        return Err(IngestError::TooMany(format!(
            "OTLP request carries more than {MAX_ITEMS} messages and bucket counts; split it"
        )));
    }
    Ok(())
}

fn skip(buf: &[u8], pos: usize, n: usize) -> Option<usize> {
    let end = pos.checked_add(n)?;
    (end <= buf.len()).then_some(end)
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}
