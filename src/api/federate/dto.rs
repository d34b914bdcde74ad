//! Hand-written prost types for the protobuf exposition format: the
//! messages of `io.prometheus.client` (`io/prometheus/client/metrics.proto`
//! in `prometheus/client_model`) that federation writes, field for field
//! (numbers, types and proto2 presence). Summaries, exemplars and created
//! timestamps are left out: federation never writes them.
//!
//! Public so that tests and clients can decode what `/federate` sends.

/// A label of a [`Metric`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    /// Label name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Label value.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// The type of a [`MetricFamily`]; it says which field of its metrics is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// `counter` is set.
    Counter = 0,
    /// `gauge` is set.
    Gauge = 1,
    /// `summary` is set (never written by federation).
    Summary = 2,
    /// `untyped` is set.
    Untyped = 3,
    /// `histogram` is set.
    Histogram = 4,
    /// `histogram` is set, and its counts may go down.
    GaugeHistogram = 5,
}

/// A gauge's value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Gauge {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A counter's value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Counter {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A value of unknown type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Untyped {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// A classic or native histogram.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Observations (integer histograms).
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    /// Observations (float histograms); overrides `sample_count` if > 0.
    #[prost(double, optional, tag = "4")]
    pub sample_count_float: Option<f64>,
    /// Sum of observations.
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    /// Classic buckets, cumulative, by increasing upper bound.
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    /// Native histograms: the exponential schema.
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    /// Breadth of the zero bucket.
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    /// Count in the zero bucket (integer histograms).
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    /// Count in the zero bucket (float histograms); overrides `zero_count` if > 0.
    #[prost(double, optional, tag = "8")]
    pub zero_count_float: Option<f64>,
    /// Spans of the negative buckets.
    #[prost(message, repeated, tag = "9")]
    pub negative_span: Vec<BucketSpan>,
    /// Negative buckets as deltas to the previous one (integer histograms).
    #[prost(sint64, repeated, packed = "false", tag = "10")]
    pub negative_delta: Vec<i64>,
    /// Negative bucket counts (float histograms).
    #[prost(double, repeated, packed = "false", tag = "11")]
    pub negative_count: Vec<f64>,
    /// Spans of the positive buckets.
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    /// Positive buckets as deltas to the previous one (integer histograms).
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
    /// Positive bucket counts (float histograms).
    #[prost(double, repeated, packed = "false", tag = "14")]
    pub positive_count: Vec<f64>,
}

/// A classic histogram bucket.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bucket {
    /// Observations up to `upper_bound` (integer histograms).
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    /// Observations up to `upper_bound` (float histograms); overrides
    /// `cumulative_count` if > 0.
    #[prost(double, optional, tag = "4")]
    pub cumulative_count_float: Option<f64>,
    /// The inclusive upper bound.
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
}

/// A run of consecutive native histogram buckets.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span, or the first span's start index.
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    /// Number of buckets.
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}

/// One series: labels (without the metric name), one value, a timestamp.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// Labels, without `__name__`.
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    /// Set in a [`MetricType::Gauge`] family.
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Gauge>,
    /// Set in a [`MetricType::Counter`] family.
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Counter>,
    /// Set in a [`MetricType::Untyped`] family.
    #[prost(message, optional, tag = "5")]
    pub untyped: Option<Untyped>,
    /// Set in a histogram family.
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<Histogram>,
    /// Milliseconds since the epoch.
    #[prost(int64, optional, tag = "6")]
    pub timestamp_ms: Option<i64>,
}

/// Metrics of one name and type. On the wire, `/federate` sends a stream of
/// these, each preceded by its length as a varint (`encoding=delimited`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricFamily {
    /// The metric name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Help text (federation sends none).
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    /// The family's type ([`MetricType`]).
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub r#type: Option<i32>,
    /// The series.
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
}
