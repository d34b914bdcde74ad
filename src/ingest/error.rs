//! The ingest layer's error type.

/// A request body that can never be ingested as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// The snappy block could not be decompressed.
    #[error("snappy decode failed: {0}")]
    Snappy(String),
    /// The body is larger than allowed once decompressed.
    #[error("decompressed body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Decompressed size (or a lower bound).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The protobuf message is malformed.
    #[error("protobuf decode failed at byte {offset}: {reason}")]
    Protobuf {
        /// Byte offset in the decompressed body.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A text-format body has a syntax error.
    #[error("line {line}: {reason}")]
    Text {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// An OTLP body is malformed.
    #[error("{0}")]
    Otlp(String),
    /// A request carries more items than one request may.
    #[error("{0}")]
    TooMany(String),
    /// A Pushgateway path is malformed.
    #[error("invalid push path: {0}")]
    PushPath(String),
}
