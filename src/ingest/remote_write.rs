//! Zero-copy decoding of remote_write 1.0 (`prometheus.WriteRequest`) and
//! 2.0 (`io.prometheus.write.v2.Request`) bodies.
//!
//! The decoders read the protobuf wire format directly: label names and
//! values are slices of the decompressed body, and labels and samples of
//! every series go into two arenas sized before decoding starts, so a
//! request costs a handful of allocations however many series it carries.
//!
//! A body that is not valid protobuf fails as a whole
//! ([`IngestError::Protobuf`], naming the byte offset). A series that is
//! well-formed but unacceptable (no metric name, bad symbol refs, an
//! inconsistent histogram, ...) is listed in [`DecodedBatch::rejected`] and
//! the rest of the request still goes through, as Prometheus' remote write
//! handler does for partial writes (`writeHandler.write` and
//! `writeHandler.writeV2` in `storage/remote/write_handler.go`).

use std::ops::Range;

use super::IngestError;
use crate::model::{describe_label_refs, Exemplar, HistogramSample, LabelRef, Sample, METRIC_NAME};

mod histogram;
mod v1;
mod v2;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reject;
#[cfg(test)]
mod tests_snappy;

/// Most native histograms one request may carry, and most spans, buckets
/// and bounds all its histograms together may hold: a histogram takes
/// some 200 bytes in memory for as little as 2 on the wire, so without a
/// bound a 64 MiB body could ask for gigabytes. Senders batch a few
/// thousand samples or histograms per request.
pub const MAX_HISTOGRAMS_PER_REQUEST: usize = 1 << 20;
/// See [`MAX_HISTOGRAMS_PER_REQUEST`].
/// (2^22 entries encode to at most some 40 MiB, inside one WAL record.)
pub const MAX_HISTOGRAM_VALUES_PER_REQUEST: usize = 1 << 22;

/// Most exemplars one request may carry; later ones are discarded (and
/// counted), as an exemplar costs some 100 bytes in memory for as little
/// as 2 on the wire.
pub const MAX_EXEMPLARS_PER_REQUEST: usize = 1 << 18;

/// Largest decompressed body accepted (bytes).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// Decompresses a snappy *block* format body, refusing outputs over `limit`.
///
/// The declared length is read from the block header and checked against
/// `limit` before the output buffer is allocated, so a tiny body claiming a
/// huge output costs nothing.
pub fn snappy_decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let snappy_err = |e: snap::Error| IngestError::Snappy(e.to_string());
    let size = snap::raw::decompress_len(body).map_err(snappy_err)?;
    if size > limit {
        return Err(IngestError::TooLarge { size, limit });
    }
    let mut out = vec![0u8; size];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(snappy_err)?;
    out.truncate(n);
    Ok(out)
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

impl MetricType {
    /// Maps the wire enum (the same numbers in 1.0 and 2.0); values this
    /// build does not know are treated as unspecified, as proto3 open enums
    /// allow.
    pub(crate) fn from_wire(v: u64) -> MetricType {
        match v as i32 {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unspecified,
        }
    }
}

/// One decoded series: ranges into the batch's label and sample arenas.
///
/// A series that carries only histograms or only exemplars has an empty
/// `samples` range; one that carries nothing but metadata is not listed.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSeries {
    /// Range in [`DecodedBatch::labels`].
    pub labels: Range<usize>,
    /// Range in [`DecodedBatch::samples`].
    pub samples: Range<usize>,
    /// Range in [`DecodedBatch::histograms`].
    pub histograms: Range<usize>,
    /// Exemplars carried by the series (valid or not).
    pub exemplars: u32,
    /// Its valid exemplars: a range in [`DecodedBatch::exemplars`].
    pub exemplar_range: Range<usize>,
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
    /// Native histogram arena (validated).
    pub histograms: Vec<HistogramSample>,
    /// Start (created) timestamps aligned with `samples` (0: none). Empty
    /// when no sample of the request had one, so requests without them
    /// cost nothing extra; it may also end before `samples` does.
    pub start_times: Vec<i64>,
    /// Valid series.
    pub series: Vec<DecodedSeries>,
    /// Metadata entries (v1 `metadata`, v2 per-series `metadata`).
    pub metadata: Vec<MetadataRef<'a>>,
    /// Valid exemplars of accepted series (labels checked, at most
    /// 128 runes), in arrival order.
    pub exemplars: Vec<Exemplar>,
    /// Exemplars of accepted series that are not in `exemplars`: invalid
    /// labels, or past [`MAX_EXEMPLARS_PER_REQUEST`].
    pub exemplars_invalid: u64,
    /// Why the first of `exemplars_invalid` was refused.
    pub exemplar_problem: Option<String>,
    /// Series refused as a whole (no `__name__`, bad refs, bad histogram, ...).
    pub rejected: Vec<DecodeRejection>,
    /// Spans, buckets and bounds of the histograms in the arena.
    histogram_values: usize,
}

/// Decodes a remote_write 1.0 `WriteRequest`.
pub fn decode_v1(buf: &[u8]) -> Result<DecodedBatch<'_>, IngestError> {
    v1::decode(buf).map_err(|e| *e)
}

/// Decodes a remote_write 2.0 `Request`.
///
/// `symbols[0]` must be the empty string (when there are symbols at all),
/// otherwise the whole request is refused. Start timestamps come from
/// `Sample.start_timestamp` (field 3); the older
/// `TimeSeries.created_timestamp` (field 6, still sent by older senders)
/// applies to the series' samples that carry none of their own.
pub fn decode_v2(buf: &[u8]) -> Result<DecodedBatch<'_>, IngestError> {
    v2::decode(buf).map_err(|e| *e)
}

/// Arena capacities counted before decoding.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Capacity {
    pub(crate) series: usize,
    pub(crate) labels: usize,
    pub(crate) samples: usize,
}

impl<'a> DecodedBatch<'a> {
    /// Records `st` (when not 0) as the start timestamp of sample `i`.
    pub(crate) fn set_start_time(&mut self, i: usize, st: i64) {
        if st == 0 || i >= self.samples.len() {
            return;
        }
        if self.start_times.len() <= i {
            self.start_times.resize(self.samples.len(), 0);
        }
        self.start_times[i] = st;
    }

    /// The start timestamps of samples `range` (0: none), or an empty slice
    /// when none of them has one.
    pub fn start_times_of(&self, range: std::ops::Range<usize>) -> &[i64] {
        let end = range.end.min(self.start_times.len());
        self.start_times.get(range.start..end).unwrap_or_default()
    }

    pub(crate) fn with_capacity(c: Capacity) -> DecodedBatch<'a> {
        DecodedBatch {
            labels: Vec::with_capacity(c.labels),
            samples: Vec::with_capacity(c.samples),
            histograms: Vec::new(),
            start_times: Vec::new(),
            series: Vec::with_capacity(c.series),
            metadata: Vec::new(),
            exemplars: Vec::new(),
            exemplars_invalid: 0,
            exemplar_problem: None,
            rejected: Vec::new(),
            histogram_values: 0,
        }
    }
}

/// An exemplar read from the wire, not yet validated.
#[derive(Debug)]
pub(crate) struct WireExemplar<'a> {
    pub(crate) labels: Vec<LabelRef<'a>>,
    pub(crate) value: f64,
    pub(crate) t: i64,
}

/// A series being decoded: where its labels and samples start in the
/// arenas, what else it carried, and the first problem found in it.
#[derive(Debug)]
pub(crate) struct PendingSeries {
    labels: usize,
    samples: usize,
    hist_start: usize,
    ex_start: usize,
    /// Its exemplars refused for their own sake (invalid labels, too many).
    ex_invalid: u64,
    ex_problem: Option<String>,
    pub(crate) histograms: u32,
    pub(crate) exemplars: u32,
    problem: Option<String>,
}

impl PendingSeries {
    pub(crate) fn start(batch: &DecodedBatch<'_>) -> PendingSeries {
        PendingSeries {
            labels: batch.labels.len(),
            samples: batch.samples.len(),
            hist_start: batch.histograms.len(),
            ex_start: batch.exemplars.len(),
            ex_invalid: 0,
            ex_problem: None,
            histograms: 0,
            exemplars: 0,
            problem: None,
        }
    }

    /// Index of the series' first sample in the batch's arena.
    pub(crate) fn first_sample(&self) -> usize {
        self.samples
    }

    /// Validates a histogram read from the wire and adds it to the arena,
    /// or records why the series is refused.
    pub(crate) fn histogram(&mut self, batch: &mut DecodedBatch<'_>, h: histogram::WireHistogram) {
        let i = self.histograms;
        self.histograms = self.histograms.saturating_add(1);
        let t = h.timestamp();
        match h.into_histogram() {
            Ok(_) if self.problem.is_some() => {}
            Ok(h) => {
                let values = batch.histogram_values.saturating_add(h.num_values());
                if batch.histograms.len() >= MAX_HISTOGRAMS_PER_REQUEST
                    || values > MAX_HISTOGRAM_VALUES_PER_REQUEST
                {
                    self.reject(|| {
                        format!(
                            "histogram {i}: the request holds more than \
                             {MAX_HISTOGRAMS_PER_REQUEST} histograms or \
                             {MAX_HISTOGRAM_VALUES_PER_REQUEST} spans, buckets and bounds"
                        )
                    });
                    return;
                }
                batch.histogram_values = values;
                batch.histograms.push(HistogramSample { t, h });
            }
            Err(e) => self.reject(|| format!("histogram {i}: {e}")),
        }
    }

    /// Validates an exemplar read from the wire and adds it to the arena;
    /// an invalid one is counted but does not refuse the series (as
    /// Prometheus' write handler only counts a failed `AppendExemplar`).
    pub(crate) fn exemplar(&mut self, batch: &mut DecodedBatch<'_>, e: WireExemplar<'_>) {
        let i = self.exemplars;
        self.exemplars = self.exemplars.saturating_add(1);
        let refused = if batch.exemplars.len() >= MAX_EXEMPLARS_PER_REQUEST {
            Some(format!(
                "the request holds more than {MAX_EXEMPLARS_PER_REQUEST} exemplars"
            ))
        } else {
            match Exemplar::from_refs(&e.labels, e.value, e.t) {
                Ok(x) => {
                    batch.exemplars.push(x);
                    None
                }
                Err(reason) => Some(reason),
            }
        };
        if let Some(reason) = refused {
            self.ex_invalid += 1;
            if self.ex_problem.is_none() {
                self.ex_problem = Some(format!("exemplar {i}: {reason}"));
            }
        }
    }

    /// Records a reason to refuse the series; the first one wins.
    pub(crate) fn reject(&mut self, reason: impl FnOnce() -> String) {
        if self.problem.is_none() {
            self.problem = Some(reason());
        }
    }

    /// Accepts or refuses the series. On acceptance returns its metric
    /// name; on refusal rolls the arenas back and records the rejection.
    pub(crate) fn finish<'a>(mut self, batch: &mut DecodedBatch<'a>) -> Option<&'a [u8]> {
        let labels = batch.labels.get(self.labels..).unwrap_or_default();
        let samples = batch.samples.len().saturating_sub(self.samples);
        let name: Option<&'a [u8]> = labels
            .iter()
            .find(|l| l.name == METRIC_NAME.as_bytes())
            .map(|l| l.value);
        let name_problem = match name {
            _ if labels.is_empty() => Some("empty label set"),
            None => Some("missing metric name (__name__ label)"),
            Some([]) => Some("empty metric name (__name__ label)"),
            Some(_) => None,
        };
        // A problem found while reading (bad refs, a bad histogram) is
        // reported first: a broken ref also hides the name.
        if let Some(p) = name_problem {
            self.reject(|| p.to_string());
        } else if samples > 0 && self.histograms > 0 {
            self.reject(|| "series carries both float samples and native histograms".into());
        }
        if let Some(reason) = self.problem {
            let series = describe_label_refs(labels);
            batch.rejected.push(DecodeRejection {
                series,
                reason,
                samples: samples as u64,
                histograms: u64::from(self.histograms),
                exemplars: u64::from(self.exemplars),
            });
            batch.labels.truncate(self.labels);
            batch.samples.truncate(self.samples);
            batch.start_times.truncate(self.samples);
            let dropped: usize = batch.histograms[self.hist_start.min(batch.histograms.len())..]
                .iter()
                .map(|h| h.h.num_values())
                .sum();
            batch.histogram_values = batch.histogram_values.saturating_sub(dropped);
            batch.histograms.truncate(self.hist_start);
            batch.exemplars.truncate(self.ex_start);
            return None;
        }
        batch.exemplars_invalid += self.ex_invalid;
        if batch.exemplar_problem.is_none() {
            if let Some(p) = self.ex_problem.take() {
                batch.exemplar_problem =
                    Some(format!("{p} for series {}", describe_label_refs(labels)));
            }
        }
        if samples > 0 || self.histograms > 0 || self.exemplars > 0 {
            batch.series.push(DecodedSeries {
                labels: self.labels..batch.labels.len(),
                samples: self.samples..batch.samples.len(),
                histograms: self.hist_start..batch.histograms.len(),
                exemplars: self.exemplars,
                exemplar_range: self.ex_start..batch.exemplars.len(),
            });
        } else {
            // Nothing to store: keep only what the metadata needs.
            batch.labels.truncate(self.labels);
        }
        name
    }
}
