//! Parsers for the Prometheus text exposition format (0.0.4) and
//! OpenMetrics text (1.0.0).
//!
//! STUB: to be implemented. The API below is fixed; the HTTP layer depends on it.

use super::IngestError;

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// `text/plain; version=0.0.4` (timestamps in ms).
    Prometheus,
    /// `application/openmetrics-text` (timestamps in seconds, `# EOF`).
    OpenMetrics,
}

impl TextFormat {
    /// Picks the format from a Content-Type header value (Prometheus text when absent or unknown).
    pub fn from_content_type(ct: Option<&str>) -> TextFormat {
        let _ = ct;
        todo!()
    }
}

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSample {
    /// Labels including `__name__`, in the order written (unescaped).
    pub labels: Vec<(String, String)>,
    /// The value (bit-exact for NaN, ±Inf).
    pub value: f64,
    /// Timestamp in ms, if the line had one.
    pub timestamp_ms: Option<i64>,
}

/// `# TYPE`, `# HELP` and `# UNIT` lines for a metric family.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextMetadata {
    /// Metric family name.
    pub metric: String,
    /// Type as written (`counter`, `gauge`, ...), empty if none.
    pub kind: String,
    /// Help text (unescaped).
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// A parsed body: every valid sample line, the metadata, and one error per bad line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedText {
    /// Valid samples in order.
    pub samples: Vec<TextSample>,
    /// Metadata by family, in order of first appearance.
    pub metadata: Vec<TextMetadata>,
    /// Errors (`IngestError::Text` with line numbers), in order.
    pub errors: Vec<IngestError>,
}

/// Parses a whole body. Never panics; bad lines are reported in
/// [`ParsedText::errors`] and skipped.
pub fn parse(body: &str, format: TextFormat) -> ParsedText {
    let _ = (body, format);
    todo!()
}
