//! Zero-copy decoding of remote_write 1.0 (`prometheus.WriteRequest`) and
//! 2.0 (`io.prometheus.write.v2.Request`) bodies.
//!
//! STUB: to be implemented. The API below is fixed; the HTTP layer depends on it.

use std::ops::Range;

use super::IngestError;
use crate::model::{LabelRef, Sample};

/// Largest decompressed body accepted (bytes).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// Decompresses a snappy *block* format body, refusing outputs over `limit`.
pub fn snappy_decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let _ = (body, limit);
    todo!()
}

/// A metric type from remote_write metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Unknown / unspecified.
    Unspecified,
    /// Counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram.
    Histogram,
    /// Gauge histogram.
    GaugeHistogram,
    /// Summary.
    Summary,
    /// Info.
    Info,
    /// State set.
    StateSet,
}

/// Metadata for a metric family, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataRef<'a> {
    /// Metric family name.
    pub metric: &'a [u8],
    /// Type.
    pub kind: MetricType,
    /// Help text.
    pub help: &'a [u8],
    /// Unit.
    pub unit: &'a [u8],
}

/// One decoded series: ranges into the batch's label and sample arenas.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSeries {
    /// Range in [`DecodedBatch::labels`].
    pub labels: Range<usize>,
    /// Range in [`DecodedBatch::samples`].
    pub samples: Range<usize>,
    /// Valid native histograms carried by the series (counted, not stored).
    pub histograms: u32,
    /// Valid exemplars carried by the series (counted, not stored).
    pub exemplars: u32,
}

/// A series refused during decoding, with the reason (one line).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeRejection {
    /// The series' labels as text (Prometheus notation, lossy).
    pub series: String,
    /// Why.
    pub reason: String,
    /// Float samples refused with it.
    pub samples: u64,
    /// Histograms refused with it.
    pub histograms: u64,
    /// Exemplars refused with it.
    pub exemplars: u64,
}

/// A decoded request. Label bytes borrow from the decompressed body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DecodedBatch<'a> {
    /// Label arena (unsorted within a series, as sent).
    pub labels: Vec<LabelRef<'a>>,
    /// Sample arena.
    pub samples: Vec<Sample>,
    /// Valid series.
    pub series: Vec<DecodedSeries>,
    /// Metadata entries (v1 `metadata`, v2 per-series `metadata`).
    pub metadata: Vec<MetadataRef<'a>>,
    /// Series refused as a whole (no `__name__`, bad refs, bad histogram, ...).
    pub rejected: Vec<DecodeRejection>,
}

/// Decodes a remote_write 1.0 `WriteRequest`.
pub fn decode_v1(buf: &[u8]) -> Result<DecodedBatch<'_>, IngestError> {
    let _ = buf;
    todo!()
}

/// Decodes a remote_write 2.0 `Request`.
pub fn decode_v2(buf: &[u8]) -> Result<DecodedBatch<'_>, IngestError> {
    let _ = buf;
    todo!()
}
