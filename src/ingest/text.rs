//! Parsers for the Prometheus text exposition format (0.0.4) and
//! OpenMetrics text (1.0.0).
//!
//! Behaviour follows upstream Prometheus's `model/textparse/promparse.go`
//! (`PromParser`) and `openmetricsparse.go` (`OpenMetricsParser`), lexers
//! included, with one structural difference: upstream stops at the first
//! error, while here each line stands alone, so a bad line is reported
//! and skipped and the lines after it still count. A consequence is that
//! a raw newline can never sit inside a quoted label value (writers
//! escape it as `\n` anyway). Deliberate deviations are listed on the
//! functions that make them (OpenMetrics timestamp rounding in
//! `number::parse_om_timestamp`).

use std::collections::HashMap;

use super::IngestError;

mod cursor;
mod meta;
mod number;
mod sample;

use meta::{Comment, MetaField};

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
        let media_type = ct
            .and_then(|ct| ct.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            TextFormat::OpenMetrics
        } else {
            TextFormat::Prometheus
        }
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
    /// The line's (OpenMetrics) exemplar, if it had one.
    pub exemplar: Option<TextExemplar>,
}

/// An OpenMetrics exemplar: `# {labels} value [timestamp]` after a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExemplar {
    /// Its labels, in the order written (unescaped, names unique).
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// Timestamp in ms, if written (else the sample's applies).
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
    /// Exemplars on valid sample lines (each kept with its sample).
    pub exemplars: u64,
    /// Bad lines beyond the first [`MAX_KEPT_ERRORS`], counted only.
    pub more_errors: u64,
}

impl ParsedText {
    /// Every bad line, kept or only counted.
    pub fn error_count(&self) -> u64 {
        self.errors.len() as u64 + self.more_errors
    }
}

/// Bad lines whose errors are kept in [`ParsedText::errors`]; the rest are
/// counted in [`ParsedText::more_errors`], so a body of garbage costs no
/// more memory than a body of samples.
pub const MAX_KEPT_ERRORS: usize = 100;

/// Metric families whose metadata one body may declare; a `# TYPE`, `# HELP`
/// or `# UNIT` line for one more is a bad line. Bounds what a body's
/// metadata costs (and what it adds to the tenant's metadata store).
pub const MAX_FAMILIES_PER_BODY: usize = 10_000;

/// Sample lines a body has at most: the lines that are neither blank nor
/// comments. Cheap (no allocation), for checking limits before parsing.
pub fn count_sample_lines(body: &str) -> u64 {
    body.split('\n')
        .filter(|l| {
            let t = l.trim_start_matches([' ', '\t']);
            !t.is_empty() && !t.starts_with('#')
        })
        .count() as u64
}

/// Parses a whole body. Never panics; bad lines are reported in
/// [`ParsedText::errors`] and skipped.
pub fn parse(body: &str, format: TextFormat) -> ParsedText {
    let mut samples = Vec::new();
    let mut out = parse_in_batches(body, format, usize::MAX, &mut |batch| {
        samples.extend(batch);
        true
    });
    out.samples = samples;
    out
}

/// [`parse`] that hands the samples to `sink` in batches of at most
/// `batch` as it goes (so a large body never holds all its parsed samples
/// at once) and stops early when `sink` returns false. The returned
/// [`ParsedText`] has no samples, only metadata, errors and counts.
pub fn parse_in_batches(
    body: &str,
    format: TextFormat,
    batch: usize,
    sink: &mut dyn FnMut(Vec<TextSample>) -> bool,
) -> ParsedText {
    let batch = batch.max(1);
    let mut builder = Builder::default();
    // A final `\n` ends the last line rather than starting an empty one.
    let body = body.strip_suffix('\n').unwrap_or(body);
    let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l));
    if body.is_empty() {
        // `split` yields one empty piece for an empty body; it is no line.
        lines.next();
    }
    let mut last_line = 0;
    let mut saw_eof = false;
    while let Some((n, line)) = lines.next() {
        last_line = n;
        if format == TextFormat::OpenMetrics && line.starts_with(EOF_LINE) {
            saw_eof = true;
            after_eof(&mut builder, n, line, lines.next());
            break;
        }
        builder.line(n, line, format);
        if builder.out.samples.len() >= batch && !sink(std::mem::take(&mut builder.out.samples)) {
            return builder.out;
        }
    }
    if !builder.out.samples.is_empty() && !sink(std::mem::take(&mut builder.out.samples)) {
        return builder.out;
    }
    if format == TextFormat::OpenMetrics && !saw_eof {
        // Reported where the marker was due: just past the last line.
        builder.error(
            last_line + 1,
            "data does not end with \"# EOF\"".to_string(),
        );
    }
    builder.out
}

/// The OpenMetrics end marker (`<sComment>"EOF"\n?` in `openmetricslex.l`).
const EOF_LINE: &str = "# EOF";

/// Upstream refuses any byte after `# EOF\n`; one error covers it all.
fn after_eof(b: &mut Builder, n: usize, line: &str, next: Option<(usize, &str)>) {
    if line.len() > EOF_LINE.len() {
        b.error(n, "unexpected data after \"# EOF\"".to_string());
    } else if let Some((next_n, _)) = next {
        b.error(next_n, "unexpected data after \"# EOF\"".to_string());
    }
}

/// Accumulates the result, keeping an index from family name to its
/// metadata entry so later lines for a family update the first entry.
#[derive(Default)]
struct Builder {
    out: ParsedText,
    families: HashMap<String, usize>,
}

impl Builder {
    fn error(&mut self, line: usize, reason: String) {
        if self.out.errors.len() < MAX_KEPT_ERRORS {
            self.out.errors.push(IngestError::Text { line, reason });
        } else {
            self.out.more_errors += 1;
        }
    }

    fn line(&mut self, n: usize, line: &str, format: TextFormat) {
        let content = match format {
            TextFormat::Prometheus => line.trim_start_matches([' ', '\t']),
            TextFormat::OpenMetrics => line,
        };
        let result = if content.starts_with('#') {
            meta::parse_comment(line, format).and_then(|c| self.comment(c))
        } else if content.is_empty() {
            match format {
                TextFormat::Prometheus => Ok(()),
                TextFormat::OpenMetrics => {
                    Err("blank lines are not allowed in OpenMetrics".to_string())
                }
            }
        } else {
            sample::parse_sample(line, format).map(|s| {
                self.out.exemplars += u64::from(s.exemplar.is_some());
                self.out.samples.push(s);
            })
        };
        if let Err(reason) = result {
            self.error(n, reason);
        }
    }

    /// Later HELP/TYPE/UNIT lines for a family overwrite earlier ones, as
    /// Prometheus's metadata cache keeps the last value it saw.
    fn comment(&mut self, c: Comment) -> Result<(), String> {
        let Comment::Meta {
            family,
            field,
            text,
        } = c
        else {
            return Ok(());
        };
        let idx = match self.families.get(&family) {
            Some(&i) => i,
            None if self.families.len() >= MAX_FAMILIES_PER_BODY => {
                return Err(format!(
                    "metadata for more than {MAX_FAMILIES_PER_BODY} metric families in one body; the metadata of {family:?} is not recorded"
                ));
            }
            None => {
                self.out.metadata.push(TextMetadata {
                    metric: family.clone(),
                    ..TextMetadata::default()
                });
                let i = self.out.metadata.len() - 1;
                self.families.insert(family, i);
                i
            }
        };
        if let Some(m) = self.out.metadata.get_mut(idx) {
            match field {
                MetaField::Help => m.help = text,
                MetaField::Type => m.kind = text,
                MetaField::Unit => m.unit = text,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fixtures;
#[cfg(test)]
mod tests_om;
#[cfg(test)]
mod tests_prop;
