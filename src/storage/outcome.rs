//! What an append reports back: counts, and the first few rejections.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::LabelRef;
use crate::model::Sample;
pub use crate::storage::head::append::{LabelError, SampleReject};

/// One series handed to [`crate::storage::Storage::append`]: borrowed,
/// unvalidated labels and its samples.
#[derive(Debug, Clone, Copy)]
pub struct SeriesInput<'a> {
    /// Labels in any order, as bytes from the request.
    pub labels: &'a [LabelRef<'a>],
    /// Samples in the order they should be tried.
    pub samples: &'a [Sample],
}

/// Why samples were refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The series' labels are invalid; all its samples are refused.
    Labels(LabelError),
    /// This sample was refused.
    Sample(SampleReject),
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
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Labels(e) => write!(f, "invalid labels: {e}"),
            RejectReason::Sample(e) => write!(f, "{e}"),
        }
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
    /// Samples stored.
    pub accepted: u64,
    /// Samples identical to stored ones (same timestamp and value), ignored.
    pub duplicates_ignored: u64,
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
