//! Hand-written prost message types for remote_write 1.0 and 2.0, used by
//! senders (the load generator, tests; the server decodes writes with the
//! zero-copy decoder in [`super::remote_write`] instead), and for remote
//! read, which the server decodes and answers with them ([`read`]).
//!
//! The structs mirror `prompb/remote.proto`, `prompb/types.proto` and
//! `prompb/io/prometheus/write/v2/types.proto` field for field (numbers and
//! types); only the messages remote write and remote read need are included.

/// Encodes `msg` and compresses it in the snappy block format, as remote
/// write bodies are sent.
pub fn encode_snappy(msg: &impl prost::Message) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&msg.encode_to_vec())
        // Only inputs beyond snappy's ~4 GiB block limit fail; no request
        // we build comes near that.
        .expect("snappy block limit exceeded")
}

/// Declares a `Histogram` message with the fields 1..=16 common to 1.0 and
/// 2.0, followed by `$extra` fields.
macro_rules! histogram_message {
    ($(#[$m:meta])* { $($extra:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Histogram {
            /// Count of observations.
            #[prost(oneof = "Count", tags = "1, 2")]
            pub count: Option<Count>,
            /// Sum of observations.
            #[prost(double, tag = "3")]
            pub sum: f64,
            /// Bucket schema: -4..=8 exponential, -53 custom buckets.
            #[prost(sint32, tag = "4")]
            pub schema: i32,
            /// Breadth of the zero bucket.
            #[prost(double, tag = "5")]
            pub zero_threshold: f64,
            /// Count in the zero bucket.
            #[prost(oneof = "ZeroCount", tags = "6, 7")]
            pub zero_count: Option<ZeroCount>,
            /// Negative bucket spans.
            #[prost(message, repeated, tag = "8")]
            pub negative_spans: Vec<BucketSpan>,
            /// Negative bucket counts as deltas (integer histograms).
            #[prost(sint64, repeated, tag = "9")]
            pub negative_deltas: Vec<i64>,
            /// Negative bucket counts (float histograms).
            #[prost(double, repeated, tag = "10")]
            pub negative_counts: Vec<f64>,
            /// Positive bucket spans.
            #[prost(message, repeated, tag = "11")]
            pub positive_spans: Vec<BucketSpan>,
            /// Positive bucket counts as deltas (integer histograms).
            #[prost(sint64, repeated, tag = "12")]
            pub positive_deltas: Vec<i64>,
            /// Positive bucket counts (float histograms).
            #[prost(double, repeated, tag = "13")]
            pub positive_counts: Vec<f64>,
            /// Counter reset hint ([`ResetHint`]).
            #[prost(enumeration = "ResetHint", tag = "14")]
            pub reset_hint: i32,
            /// Timestamp in milliseconds.
            #[prost(int64, tag = "15")]
            pub timestamp: i64,
            /// Upper bounds of custom buckets (schema -53).
            #[prost(double, repeated, tag = "16")]
            pub custom_values: Vec<f64>,
            $($extra)*
        }
    };
}

/// The parts of the native histogram message that 1.0 and 2.0 share
/// (identical field numbers); each version's `Histogram` is declared by
/// a macro so that it carries exactly its own fields.
pub mod histogram {
    /// The `count` oneof.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// Integer count.
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// Float count.
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// The `zero_count` oneof.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// Integer zero-bucket count.
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// Float zero-bucket count.
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// Counter reset hint.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        /// Test for a reset explicitly.
        Unknown = 0,
        /// First histogram after a reset.
        Yes = 1,
        /// No reset since the previous histogram.
        No = 2,
        /// Gauge histogram: resets do not apply.
        Gauge = 3,
    }

    /// A run of consecutive buckets.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct BucketSpan {
        /// Gap to the previous span (or start index of the first span).
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        /// Number of buckets in the span.
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }
}

/// remote_write 1.0 (`package prometheus`).
pub mod v1 {
    pub use super::histogram::{BucketSpan, Count, ResetHint, ZeroCount};

    histogram_message! {
        /// `prometheus.Histogram`.
        {}
    }

    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        /// Series with their samples.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        /// Metric family metadata.
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Labels, sorted by name by well-behaved senders.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Float samples.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Exemplars.
        #[prost(message, repeated, tag = "3")]
        pub exemplars: Vec<Exemplar>,
        /// Native histogram samples.
        #[prost(message, repeated, tag = "4")]
        pub histograms: Vec<Histogram>,
    }

    /// `prometheus.Label`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct Label {
        /// Name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Sample {
        /// Value.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Timestamp in milliseconds.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    /// `prometheus.Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Exemplar labels (`trace_id`, ...).
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Value.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Timestamp in milliseconds.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// `prometheus.MetricMetadata`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct MetricMetadata {
        /// Metric type ([`MetricType`]).
        #[prost(enumeration = "MetricType", tag = "1")]
        pub r#type: i32,
        /// Metric family name.
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
        /// Help text.
        #[prost(string, tag = "4")]
        pub help: String,
        /// Unit.
        #[prost(string, tag = "5")]
        pub unit: String,
    }

    /// `prometheus.MetricMetadata.MetricType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Unknown.
        Unknown = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Histogram.
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info.
        Info = 6,
        /// State set.
        Stateset = 7,
    }
}

/// remote_write 2.0 (`package io.prometheus.write.v2`).
pub mod v2 {
    use std::collections::HashMap;

    pub use super::histogram::{BucketSpan, Count, ResetHint, ZeroCount};

    histogram_message! {
        /// `io.prometheus.write.v2.Histogram`.
        {
            /// Start (created) timestamp in milliseconds, 0 if unset.
            #[prost(int64, tag = "17")]
            pub start_timestamp: i64,
        }
    }

    /// `io.prometheus.write.v2.Request`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        /// Symbol table; `symbols[0]` must be `""`.
        #[prost(string, repeated, tag = "4")]
        pub symbols: Vec<String>,
        /// Series.
        #[prost(message, repeated, tag = "5")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `io.prometheus.write.v2.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Name/value pairs of indices into [`Request::symbols`].
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        /// Float samples.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Native histogram samples.
        #[prost(message, repeated, tag = "3")]
        pub histograms: Vec<Histogram>,
        /// Exemplars.
        #[prost(message, repeated, tag = "4")]
        pub exemplars: Vec<Exemplar>,
        /// Metadata (always present on the wire from Go senders).
        #[prost(message, optional, tag = "5")]
        pub metadata: Option<Metadata>,
    }

    /// `io.prometheus.write.v2.Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Name/value pairs of indices into [`Request::symbols`].
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        /// Value.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Timestamp in milliseconds.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// `io.prometheus.write.v2.Sample`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Sample {
        /// Value.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Timestamp in milliseconds.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
        /// Start (created) timestamp in milliseconds, 0 if unset.
        #[prost(int64, tag = "3")]
        pub start_timestamp: i64,
    }

    /// `io.prometheus.write.v2.Metadata`.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct Metadata {
        /// Metric type ([`MetricType`]).
        #[prost(enumeration = "MetricType", tag = "1")]
        pub r#type: i32,
        /// Index of the help text in [`Request::symbols`].
        #[prost(uint32, tag = "3")]
        pub help_ref: u32,
        /// Index of the unit in [`Request::symbols`].
        #[prost(uint32, tag = "4")]
        pub unit_ref: u32,
    }

    /// `io.prometheus.write.v2.Metadata.MetricType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Unspecified.
        Unspecified = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Histogram.
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info.
        Info = 6,
        /// State set.
        Stateset = 7,
    }

    /// Builds a [`Request`], interning every string once.
    ///
    /// Labels are referenced in the order given (2.0 asks senders to sort
    /// them; tests use this to send unsorted ones on purpose).
    #[derive(Debug, Clone)]
    pub struct RequestBuilder {
        symbols: Vec<String>,
        index: HashMap<String, u32>,
        timeseries: Vec<TimeSeries>,
    }

    impl Default for RequestBuilder {
        fn default() -> Self {
            Self::new()
        }
    }

    impl RequestBuilder {
        /// An empty request whose symbol table holds just `""`.
        pub fn new() -> RequestBuilder {
            RequestBuilder {
                symbols: vec![String::new()],
                index: HashMap::from([(String::new(), 0)]),
                timeseries: Vec::new(),
            }
        }

        /// The ref of `s`, adding it to the table if new.
        pub fn symbol(&mut self, s: &str) -> u32 {
            if let Some(&r) = self.index.get(s) {
                return r;
            }
            let r = u32::try_from(self.symbols.len()).expect("more than 2^32 symbols");
            self.symbols.push(s.to_string());
            self.index.insert(s.to_string(), r);
            r
        }

        /// Name/value refs for `labels`, in the order given.
        pub fn refs(&mut self, labels: &[(&str, &str)]) -> Vec<u32> {
            labels
                .iter()
                .flat_map(|&(n, v)| [self.symbol(n), self.symbol(v)])
                .collect()
        }

        /// Metadata with its help and unit interned.
        pub fn metadata(&mut self, kind: MetricType, help: &str, unit: &str) -> Metadata {
            Metadata {
                r#type: kind as i32,
                help_ref: self.symbol(help),
                unit_ref: self.symbol(unit),
            }
        }

        /// An exemplar with its labels interned.
        pub fn exemplar(&mut self, labels: &[(&str, &str)], value: f64, ts: i64) -> Exemplar {
            Exemplar {
                labels_refs: self.refs(labels),
                value,
                timestamp: ts,
            }
        }

        /// Adds a series with float samples and returns it, so that
        /// histograms, exemplars or metadata can be attached.
        pub fn series(
            &mut self,
            labels: &[(&str, &str)],
            samples: &[crate::model::Sample],
        ) -> &mut TimeSeries {
            let ts = TimeSeries {
                labels_refs: self.refs(labels),
                samples: samples
                    .iter()
                    .map(|s| Sample {
                        value: s.v,
                        timestamp: s.t,
                        start_timestamp: 0,
                    })
                    .collect(),
                ..Default::default()
            };
            self.timeseries.push(ts);
            let last = self.timeseries.len() - 1;
            &mut self.timeseries[last]
        }

        /// The finished request.
        pub fn build(self) -> Request {
            Request {
                symbols: self.symbols,
                timeseries: self.timeseries,
            }
        }
    }
}

/// Remote read (`prompb/remote.proto`): the request, the sampled response
/// and the frames of the streamed-chunks response.
pub mod read {
    pub use super::v1::{Label, TimeSeries};

    /// `prometheus.ReadRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadRequest {
        /// The queries, answered in order.
        #[prost(message, repeated, tag = "1")]
        pub queries: Vec<Query>,
        /// Response types the client accepts, in its order of preference;
        /// none means samples.
        #[prost(enumeration = "ResponseType", repeated, tag = "2")]
        pub accepted_response_types: Vec<i32>,
    }

    /// `prometheus.ReadRequest.ResponseType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResponseType {
        /// One snappy-compressed `ReadResponse`.
        Samples = 0,
        /// A stream of `ChunkedReadResponse` frames holding XOR chunks.
        StreamedXorChunks = 1,
    }

    /// `prometheus.Query`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Query {
        /// Start of the range, inclusive (ms).
        #[prost(int64, tag = "1")]
        pub start_timestamp_ms: i64,
        /// End of the range, inclusive (ms).
        #[prost(int64, tag = "2")]
        pub end_timestamp_ms: i64,
        /// Series selector.
        #[prost(message, repeated, tag = "3")]
        pub matchers: Vec<LabelMatcher>,
        /// What the client will do with the data (not used).
        #[prost(message, optional, tag = "4")]
        pub hints: Option<ReadHints>,
    }

    /// `prometheus.LabelMatcher`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct LabelMatcher {
        /// `EQ`, `NEQ`, `RE` or `NRE`.
        #[prost(enumeration = "MatcherType", tag = "1")]
        pub r#type: i32,
        /// Label name.
        #[prost(string, tag = "2")]
        pub name: String,
        /// Value or regex.
        #[prost(string, tag = "3")]
        pub value: String,
    }

    /// `prometheus.LabelMatcher.Type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MatcherType {
        /// `=`
        Eq = 0,
        /// `!=`
        Neq = 1,
        /// `=~`
        Re = 2,
        /// `!~`
        Nre = 3,
    }

    /// `prometheus.ReadHints`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadHints {
        /// Query step (ms).
        #[prost(int64, tag = "1")]
        pub step_ms: i64,
        /// Surrounding function or aggregation.
        #[prost(string, tag = "2")]
        pub func: String,
        /// Start (ms).
        #[prost(int64, tag = "3")]
        pub start_ms: i64,
        /// End (ms).
        #[prost(int64, tag = "4")]
        pub end_ms: i64,
        /// Grouping labels.
        #[prost(string, repeated, tag = "5")]
        pub grouping: Vec<String>,
        /// `by` (true) or `without`.
        #[prost(bool, tag = "6")]
        pub by: bool,
        /// Range of the range selector (ms).
        #[prost(int64, tag = "7")]
        pub range_ms: i64,
    }

    /// `prometheus.ReadResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadResponse {
        /// One result per query, in the request's order.
        #[prost(message, repeated, tag = "1")]
        pub results: Vec<QueryResult>,
    }

    /// `prometheus.QueryResult`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QueryResult {
        /// The matching series with their samples.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.ChunkedReadResponse`: one frame of a streamed response.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ChunkedReadResponse {
        /// Series (here always one per frame) with some of their chunks.
        #[prost(message, repeated, tag = "1")]
        pub chunked_series: Vec<ChunkedSeries>,
        /// Index of the query these series answer.
        #[prost(int64, tag = "2")]
        pub query_index: i64,
    }

    /// `prometheus.ChunkedSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ChunkedSeries {
        /// Labels, sorted by name.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Chunks in start-time order.
        #[prost(message, repeated, tag = "2")]
        pub chunks: Vec<Chunk>,
    }

    /// `prometheus.Chunk`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Chunk {
        /// First sample's timestamp (ms).
        #[prost(int64, tag = "1")]
        pub min_time_ms: i64,
        /// Last sample's timestamp (ms).
        #[prost(int64, tag = "2")]
        pub max_time_ms: i64,
        /// Encoding; 1 is Prometheus's XOR chunk.
        #[prost(int32, tag = "3")]
        pub r#type: i32,
        /// The chunk's bytes.
        #[prost(bytes = "vec", tag = "4")]
        pub data: Vec<u8>,
    }

    /// `Chunk.Encoding` `XOR`.
    pub const CHUNK_XOR: i32 = 1;
}
