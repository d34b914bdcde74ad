//! Query results as the API returns them.

use crate::model::{Histogram, HistogramSample, Labels, Sample};

use super::error::Annotations;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// Series labels.
    pub labels: Labels,
    /// Evaluation timestamp (ms).
    pub t: i64,
    /// Value (0 when the element is a histogram).
    pub v: f64,
    /// The element's native histogram, when it is one.
    pub histogram: Option<Histogram>,
}

/// One series of a range result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Series labels.
    pub labels: Labels,
    /// Float points in time order.
    pub samples: Vec<Sample>,
    /// Histogram points in time order.
    pub histograms: Vec<HistogramSample>,
}

/// A query result, in the four PromQL value types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: String,
    },
    /// An instant vector, in the order the query produced it (sorted by
    /// labels unless the query orders it, e.g. with `sort` or `topk`).
    Vector(Vec<InstantSample>),
    /// A range result (range queries, or an instant query of a range
    /// selector), sorted by labels.
    Matrix(Vec<RangeSeries>),
}

/// A result with its warnings and infos.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// The value.
    pub value: Value,
    /// Annotations raised while evaluating.
    pub annotations: Annotations,
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: how Prometheus writes
/// values in API responses and `count_values` labels.
pub(crate) fn format_value(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}
