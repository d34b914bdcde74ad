//! What an append reports back: counts, and the first few rejections.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::LabelRef;
use crate::model::{HistogramSample, Sample};
pub use crate::storage::head::append::{LabelError, SampleReject};

/// One series handed to [`crate::storage::Storage::append`]: borrowed,
/// unvalidated labels and its samples.
#[derive(Debug, Clone, Copy)]
pub struct SeriesInput<'a> {
    /// Labels in any order, as bytes from the request.
    pub labels: &'a [LabelRef<'a>],
    /// Samples in the order they should be tried.
    pub samples: &'a [Sample],
    /// Native histograms (validated), tried after the samples.
    pub histograms: &'a [HistogramSample],
}

/// Why samples were refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The series' labels are invalid; all its samples are refused.
    Labels(LabelError),
    /// This sample was refused.
    Sample(SampleReject),
    /// Creating the series would pass the tenant's series limit (the value).
    SeriesLimit(u64),
    /// Creating the series would pass its metric's series limit.
    MetricSeriesLimit {
        /// The limit.
        limit: u64,
        /// The metric name (`__name__`, lossily decoded).
        metric: String,
    },
    /// The series has more label names than allowed.
    LabelNamesLimit {
        /// Label names the series has.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A label name is longer than allowed (bytes).
    LabelNameLength {
        /// The name (lossily decoded, possibly long).
        name: String,
        /// The limit.
        limit: u64,
    },
    /// A label value is longer than allowed (bytes).
    LabelValueLength {
        /// The label whose value is too long.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// The whole request was over the tenant's ingestion rate (samples/s).
    /// Never produced by storage; the API layer counts its 429s under it.
    RateLimited(u64),
    /// A native histogram too large for one message of the cluster's
    /// log. Never produced by storage.
    HistogramTooLargeForLog {
        /// The most bytes one encoded histogram may take.
        limit: usize,
    },
}

impl RejectReason {
    /// A short, stable name for metrics (`reason` label).
    pub fn metric_name(&self) -> &'static str {
        match self {
            RejectReason::Labels(LabelError::EmptyLabelSet) => "empty_label_set",
            RejectReason::Labels(LabelError::DuplicateLabelName(_)) => "duplicate_label_name",
            RejectReason::Labels(LabelError::EmptyLabelName) => "empty_label_name",
            RejectReason::Labels(
                LabelError::InvalidUtf8Name(_) | LabelError::InvalidUtf8Value(_),
            ) => "invalid_utf8",
            RejectReason::Sample(SampleReject::OutOfOrder) => "out_of_order",
            RejectReason::Sample(SampleReject::TooOld) => "too_old",
            RejectReason::Sample(SampleReject::DuplicateTimestamp) => "duplicate_timestamp",
            RejectReason::SeriesLimit(_) => "series_limit",
            RejectReason::MetricSeriesLimit { .. } => "metric_series_limit",
            RejectReason::LabelNamesLimit { .. } => "label_names_limit",
            RejectReason::LabelNameLength { .. } => "label_name_length",
            RejectReason::LabelValueLength { .. } => "label_value_length",
            RejectReason::RateLimited(_) => "rate_limited",
            RejectReason::HistogramTooLargeForLog { .. } => "histogram_too_large",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Labels(e) => write!(f, "invalid labels: {e}"),
            RejectReason::Sample(e) => write!(f, "{e}"),
            RejectReason::SeriesLimit(n) => write!(f, "per-tenant series limit of {n} exceeded"),
            RejectReason::MetricSeriesLimit { limit, metric } => write!(
                f,
                "per-metric series limit of {limit} exceeded for metric {metric:?}"
            ),
            RejectReason::LabelNamesLimit { count, limit } => {
                write!(f, "series has {count} label names; the limit is {limit}")
            }
            RejectReason::LabelNameLength { name, limit } => write!(
                f,
                "label name {:?} is longer than the limit of {limit} bytes",
                truncate(name)
            ),
            RejectReason::LabelValueLength { name, limit } => write!(
                f,
                "value of label {name:?} is longer than the limit of {limit} bytes"
            ),
            RejectReason::RateLimited(n) => {
                write!(f, "ingestion rate limit of {n} samples/s exceeded")
            }
            RejectReason::HistogramTooLargeForLog { limit } => write!(
                f,
                "a native histogram encodes to more than {limit} bytes, the most one message of the cluster's log takes"
            ),
        }
    }
}

/// At most 64 characters of an over-long name, so the message stays short.
fn truncate(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// One reported rejection, naming the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The series, in Prometheus notation (lossy for non-UTF-8 bytes).
    pub series: String,
    /// Timestamp of the refused sample, for sample-level reasons.
    pub timestamp: Option<i64>,
    /// The reason.
    pub reason: RejectReason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timestamp {
            Some(t) => write!(
                f,
                "{} for series {} at timestamp {}",
                self.reason, self.series, t
            ),
            None => write!(f, "{} for series {}", self.reason, self.series),
        }
    }
}

/// The result of an append batch. Accepted samples are durable per the
/// WAL sync policy once this is returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppendOutcome {
    /// Samples stored (floats and histograms).
    pub accepted: u64,
    /// Samples identical to stored ones (same timestamp and value), ignored.
    pub duplicates_ignored: u64,
    /// Of `accepted`, the histograms.
    pub histograms_accepted: u64,
    /// Of `duplicates_ignored`, the histograms.
    pub histogram_duplicates_ignored: u64,
    /// Samples refused.
    pub rejected: u64,
    /// Refused samples by reason.
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    /// The first [`AppendOutcome::MAX_REPORTED`] rejections.
    pub rejections: Vec<Rejection>,
    /// Series created by this batch.
    pub series_created: u64,
}

impl AppendOutcome {
    /// How many rejections are kept in detail.
    pub const MAX_REPORTED: usize = 10;

    pub(crate) fn reject(
        &mut self,
        reason: RejectReason,
        n: u64,
        series: impl FnOnce() -> String,
        timestamp: Option<i64>,
    ) {
        if n == 0 {
            return;
        }
        self.rejected += n;
        *self
            .rejected_by_reason
            .entry(reason.metric_name())
            .or_default() += n;
        if self.rejections.len() < Self::MAX_REPORTED {
            self.rejections.push(Rejection {
                series: series(),
                timestamp,
                reason,
            });
        }
    }
}
