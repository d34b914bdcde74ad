//! Text import: a body in the Prometheus text or OpenMetrics format, stored
//! a batch of lines at a time.
//!
//! Modelled on VictoriaMetrics' `/api/v1/import/prometheus`: samples
//! without a timestamp get the arrival time, and extra labels add labels or
//! override same-named ones. Unlike a push, an import is not atomic: valid
//! lines are stored and the bad ones reported.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Pipeline, WriteError, MAX_REASONS};
use crate::ingest::text::{
    count_sample_lines, parse_in_batches, TextExemplar, TextFormat, TextMetadata,
};
use crate::model::{Exemplar, LabelRef, Sample};
use crate::storage::{AppendOutcome, ExemplarInput, MetricMetadata, Rejection, SeriesInput};
use crate::tenant::TenantId;

/// Samples parsed and stored per batch of an import.
const IMPORT_BATCH: usize = 10_000;

/// One sample with its owned labels.
pub(crate) type Row = (Vec<(String, String)>, Sample);

/// What one import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Lines that could not be parsed.
    pub bad_lines: u64,
    /// Samples stored (or identical duplicates).
    pub stored: u64,
    /// Samples storage refused.
    pub rejected: u64,
    /// The first problems: bad lines (with numbers), then refusals.
    pub reasons: Vec<String>,
}

impl ImportReport {
    /// Whether every line was stored.
    pub fn is_complete(&self) -> bool {
        self.bad_lines == 0 && self.rejected == 0
    }
}

/// The body as UTF-8, or an error naming the first bad byte.
pub(crate) fn body_text(body: &[u8]) -> Result<&str, WriteError> {
    std::str::from_utf8(body).map_err(|e| {
        WriteError::Invalid(format!(
            "body is not valid UTF-8 at byte offset {}",
            e.valid_up_to()
        ))
    })
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parsed `# TYPE`/`# HELP`/`# UNIT` in storage's form; a missing type
/// and the 0.0.4 `untyped` are both `unknown`, as the Prometheus API says.
pub(crate) fn text_metadata(parsed: &[TextMetadata]) -> Vec<MetricMetadata> {
    parsed
        .iter()
        .map(|m| MetricMetadata {
            metric: m.metric.clone(),
            kind: match m.kind.as_str() {
                "" | "untyped" => "unknown".to_string(),
                k => k.to_string(),
            },
            help: m.help.clone(),
            unit: m.unit.clone(),
        })
        .collect()
}

/// Labels of a sample with `extra` applied (overriding same-named ones).
pub(crate) fn with_labels(
    labels: &[(String, String)],
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels
        .iter()
        .filter(|(n, _)| !extra.iter().any(|(e, _)| e == n))
        .cloned()
        .collect();
    out.extend(extra.iter().cloned());
    out
}

/// Each row's labels as borrowed pairs.
pub(crate) fn label_refs(rows: &[Row]) -> Vec<Vec<LabelRef<'_>>> {
    rows.iter()
        .map(|(l, _)| l.iter().map(|(n, v)| LabelRef::new(n, v)).collect())
        .collect()
}

/// Rows as series inputs borrowing their labels from `refs`.
pub(crate) fn inputs_of<'a>(
    rows: &'a [Row],
    refs: &'a [Vec<LabelRef<'a>>],
) -> Vec<SeriesInput<'a>> {
    refs.iter()
        .zip(rows)
        .map(|(labels, (_, sample))| SeriesInput {
            labels,
            samples: std::slice::from_ref(sample),
            histograms: &[],
        })
        .collect()
}

impl Pipeline<'_> {
    /// Stores text samples' exemplars (import, push): each item is a
    /// sample's labels, its exemplar and the sample's time, which an
    /// exemplar without its own timestamp takes. Exemplars with invalid
    /// labels (over 128 runes, say) are counted as discarded.
    pub(crate) fn text_exemplars<'a>(
        &self,
        tenant: &TenantId,
        items: impl Iterator<Item = (&'a [LabelRef<'a>], &'a TextExemplar, i64)>,
    ) -> Result<u64, WriteError> {
        let mut invalid = 0;
        let mut kept: Vec<(&'a [LabelRef<'a>], Exemplar)> = Vec::new();
        for (labels, e, t) in items {
            let refs: Vec<LabelRef<'_>> =
                e.labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
            match Exemplar::from_refs(&refs, e.value, e.timestamp_ms.unwrap_or(t)) {
                Ok(x) => kept.push((labels, x)),
                Err(reason) => {
                    invalid += 1;
                    tracing::debug!(tenant = %tenant, %reason, "exemplar refused");
                }
            }
        }
        let inputs: Vec<ExemplarInput<'_>> = kept
            .iter()
            .map(|(labels, x)| ExemplarInput {
                labels,
                exemplars: std::slice::from_ref(x),
            })
            .collect();
        self.exemplars(tenant, &inputs, invalid)
    }

    /// Parses and stores one text body (blocking), with `extra` labels
    /// applied to every sample.
    pub fn import_text(
        &self,
        tenant: &TenantId,
        body: &[u8],
        format: TextFormat,
        extra: &[(String, String)],
    ) -> Result<ImportReport, WriteError> {
        let text = body_text(body)?;
        // The rate limit takes the whole request up front (a refusal
        // stores nothing), counting the lines that can be samples.
        self.admit(tenant, count_sample_lines(text))?;
        let now = now_ms();
        let mut total = Totals::default();
        let mut failed = None;
        // Parsed and stored a batch at a time, so a large body never holds
        // all its parsed samples (an import is not atomic anyway).
        let parsed = parse_in_batches(text, format, IMPORT_BATCH, &mut |batch| {
            let rows: Vec<Row> = batch
                .iter()
                .map(|s| {
                    let t = s.timestamp_ms.unwrap_or(now);
                    (with_labels(&s.labels, extra), Sample::new(t, s.value))
                })
                .collect();
            let refs = label_refs(&rows);
            let stored = self
                .append(tenant, &inputs_of(&rows, &refs), None)
                .and_then(|o| {
                    let items = batch.iter().zip(&refs).filter_map(|(s, r)| {
                        Some((
                            r.as_slice(),
                            s.exemplar.as_ref()?,
                            s.timestamp_ms.unwrap_or(now),
                        ))
                    });
                    self.text_exemplars(tenant, items).map(|_| o)
                });
            match stored {
                Ok(o) => {
                    total.add(o);
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.record_metadata(tenant, &text_metadata(&parsed.metadata))?;
        let reasons = parsed
            .errors
            .iter()
            .map(|e| e.to_string())
            .chain(total.rejections.iter().map(|r| r.to_string()))
            .take(MAX_REASONS)
            .collect();
        Ok(ImportReport {
            bad_lines: parsed.error_count(),
            stored: total.stored,
            rejected: total.rejected,
            reasons,
        })
    }
}

/// What the batches of one import did, together.
#[derive(Default)]
struct Totals {
    stored: u64,
    rejected: u64,
    rejections: Vec<Rejection>,
}

impl Totals {
    fn add(&mut self, o: AppendOutcome) {
        self.stored += o.accepted + o.duplicates_ignored;
        self.rejected += o.rejected;
        let room = AppendOutcome::MAX_REPORTED.saturating_sub(self.rejections.len());
        self.rejections.extend(o.rejections.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_labels_override_same_names() {
        let s = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let got = with_labels(&s(&[("__name__", "up"), ("job", "x")]), &s(&[("job", "y")]));
        assert_eq!(got, s(&[("__name__", "up"), ("job", "y")]));
        assert_eq!(with_labels(&s(&[("a", "1")]), &[]), s(&[("a", "1")]));
    }

    #[test]
    fn bodies_must_be_utf8() {
        assert_eq!(body_text(b"a 1\n").unwrap(), "a 1\n");
        let e = body_text(b"a 1\n\xff").unwrap_err();
        assert!(e.to_string().contains("byte offset 4"), "{e}");
    }
}
