//! `POST /api/v1/import/prometheus`: a body in the Prometheus text or
//! OpenMetrics format, stored line by line.
//!
//! Modelled on VictoriaMetrics' `/api/v1/import/prometheus`: samples
//! without a timestamp get the arrival time, and `extra_label=name=value`
//! query parameters (repeatable) add labels or override same-named ones.
//! Unlike a push, an import is not atomic: valid lines are stored and the
//! bad ones reported in a 400 body shaped like remote write's partial
//! write (a summary line, then the first reasons with line numbers).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::text::{count_sample_lines, parse_in_batches, TextFormat, TextMetadata};
use crate::model::{LabelRef, Sample};
use crate::storage::RejectReason;
use crate::storage::{AppendOutcome, MetricMetadata, SeriesInput, Storage};
use crate::tenant::TenantId;

/// At most this many reasons are listed in a 400 body.
const MAX_REASONS: usize = 10;

/// The import route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/import/prometheus", post(import))
}

async fn import(
    State(state): State<AppState>,
    Writer(tenant): Writer,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: HeldBody,
) -> Response {
    let run = async {
        let extra = extra_labels(query.as_deref().unwrap_or(""))?;
        let format = text_format(&headers)?;
        let storage = state.require_storage()?;
        let st = state.clone();
        blocking(move || ingest(&st, &storage, &tenant, &body, format, &extra)).await
    };
    match run.await {
        Ok(reasons) if reasons.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(reasons) => ApiError::BadData(reasons.join("\n")).into_text_response(),
        Err(e) => e.into_text_response(),
    }
}

/// The text format named by `Content-Type`; any `Content-Encoding` but
/// `identity` is refused with 415 (no decompressor is linked in).
pub(super) fn text_format(headers: &HeaderMap) -> Result<TextFormat, ApiError> {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let ok = enc
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !ok {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {:?}: only identity is accepted",
                String::from_utf8_lossy(enc.as_bytes())
            )));
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if ct.is_some_and(|ct| ct.contains("protobuf")) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {:?}: only the text formats are accepted",
            ct.unwrap_or_default()
        )));
    }
    Ok(TextFormat::from_content_type(ct))
}

/// The body as UTF-8, or 400 naming the first bad byte.
pub(super) fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| {
        ApiError::BadData(format!(
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
pub(super) fn text_metadata(parsed: &[TextMetadata]) -> Vec<MetricMetadata> {
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

/// Parses repeated `extra_label=name=value` parameters; other parameters
/// are ignored. A missing `=` or an invalid name is a 400.
fn extra_labels(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(key)? != "extra_label" {
            continue;
        }
        let value = form_decode(value)?;
        let Some((name, v)) = value.split_once('=') else {
            return Err(ApiError::BadData(format!(
                "extra_label {value:?} is not of the form name=value"
            )));
        };
        if !is_label_name(name) {
            return Err(ApiError::BadData(format!(
                "extra_label has an invalid label name {name:?}"
            )));
        }
        out.push((name.to_string(), v.to_string()));
    }
    Ok(out)
}

fn is_label_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::BadData(format!("bad percent-encoding in query {s:?}"))
                    })?;
                out.push(hex);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::BadData(format!("query parameter {s:?} is not UTF-8")))
}

/// Labels of a sample with `extra` applied (overriding same-named ones).
pub(super) fn with_labels(
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

/// One sample with its owned labels.
pub(super) type Row = (Vec<(String, String)>, Sample);

/// Appends single-sample rows in order, each as its own series input,
/// after the tenant's ingestion-rate limit (a 429 stores nothing), counting
/// what was received and rejected for `/metrics` as remote write does.
pub(super) fn append_rows(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    rows: &[Row],
) -> Result<AppendOutcome, ApiError> {
    let refs = label_refs(rows);
    let n = rows.len() as u64;
    take_rate(state, tenant, n)?;
    append_inputs(state, storage, tenant, &inputs_of(rows, &refs))
}

/// Counts `n` received samples and takes them from the tenant's ingestion
/// rate, or refuses the request (429) before anything of it is stored.
pub(super) fn take_rate(state: &AppState, tenant: &TenantId, n: u64) -> Result<(), ApiError> {
    let metrics = state.metrics();
    metrics.add_received(tenant, n);
    if let Err(limit) = state.limiter().try_take(tenant, n) {
        let reason = RejectReason::RateLimited(limit.rate as u64);
        metrics.add_rejected(tenant, reason.metric_name(), n);
        return Err(ApiError::TooManyRequests(reason.to_string()));
    }
    Ok(())
}

/// Appends series inputs whose samples were already taken from the rate,
/// counting what storage refused.
fn append_inputs(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    inputs: &[SeriesInput<'_>],
) -> Result<AppendOutcome, ApiError> {
    let metrics = state.metrics();
    let n: u64 = inputs.iter().map(|i| i.samples.len() as u64).sum();
    let outcome = state
        .append(storage, tenant, inputs, None)
        .inspect_err(|e| metrics.add_storage_failure(tenant, e, n))?;
    for (reason, n) in &outcome.rejected_by_reason {
        metrics.add_rejected(tenant, reason, *n);
    }
    metrics.add_stored(tenant, outcome.accepted, outcome.series_created);
    Ok(outcome)
}

/// Rows as series inputs borrowing their labels from `refs`.
fn inputs_of<'a>(rows: &'a [Row], refs: &'a [Vec<LabelRef<'a>>]) -> Vec<SeriesInput<'a>> {
    refs.iter()
        .zip(rows)
        .map(|(labels, (_, sample))| SeriesInput {
            labels,
            samples: std::slice::from_ref(sample),
            histograms: &[],
        })
        .collect()
}

/// Parses and stores one body (blocking); returns the 400 body lines, or
/// nothing when every line was stored.
fn ingest(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    body: &[u8],
    format: TextFormat,
    extra: &[(String, String)],
) -> Result<Vec<String>, ApiError> {
    let text = body_text(body)?;
    // The rate limit takes the whole request up front (a 429 stores
    // nothing), counting the lines that can be samples without parsing.
    take_rate(state, tenant, count_sample_lines(text))?;
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
        let stored =
            append_inputs(state, storage, tenant, &inputs_of(&rows, &refs)).and_then(|o| {
                let exemplars = batch.iter().zip(&refs).filter_map(|(s, r)| {
                    let e = s.exemplar.as_ref()?;
                    Some((r.as_slice(), e, s.timestamp_ms.unwrap_or(now)))
                });
                super::exemplars::store_text(state, storage, tenant, exemplars).map(|_| o)
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
    storage.record_metadata(tenant, &text_metadata(&parsed.metadata))?;
    let bad_lines = parsed.error_count();
    if bad_lines == 0 && total.rejected == 0 {
        return Ok(Vec::new());
    }
    let summary = format!(
        "{bad_lines} lines rejected, {} samples rejected by storage, {} samples stored",
        total.rejected, total.stored
    );
    let reasons = parsed
        .errors
        .iter()
        .map(|e| e.to_string())
        .chain(total.rejections.iter().map(|r| r.to_string()))
        .take(MAX_REASONS)
        .map(|r| r.replace('\n', "\\n"));
    Ok(std::iter::once(summary).chain(reasons).collect())
}

/// Samples parsed and stored per batch of an import.
const IMPORT_BATCH: usize = 10_000;

/// What the batches of one import did, together.
#[derive(Default)]
struct Totals {
    stored: u64,
    rejected: u64,
    rejections: Vec<crate::storage::Rejection>,
}

impl Totals {
    fn add(&mut self, o: AppendOutcome) {
        self.stored += o.accepted + o.duplicates_ignored;
        self.rejected += o.rejected;
        let room = AppendOutcome::MAX_REPORTED.saturating_sub(self.rejections.len());
        self.rejections.extend(o.rejections.into_iter().take(room));
    }
}

/// Each row's labels as borrowed pairs.
fn label_refs(rows: &[Row]) -> Vec<Vec<LabelRef<'_>>> {
    rows.iter()
        .map(|(l, _)| l.iter().map(|(n, v)| LabelRef::new(n, v)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_labels_parse_or_refuse() {
        type Case<'a> = (&'a str, Result<&'a [(&'a str, &'a str)], &'a str>);
        let cases: &[Case] = &[
            ("", Ok(&[])),
            ("foo=bar", Ok(&[])),
            ("extra_label=a=b", Ok(&[("a", "b")])),
            (
                "extra_label=a%3Db%20c&x=1&extra_label=d=",
                Ok(&[("a", "b c"), ("d", "")]),
            ),
            ("extra_label=a=b=c", Ok(&[("a", "b=c")])),
            ("extra_label=a+b=1", Err("invalid label name")),
            ("extra_label=noequals", Err("name=value")),
            ("extra_label=%zz", Err("percent-encoding")),
            ("extra_label=a=%", Err("percent-encoding")),
            ("extra_label=%ff=1", Err("not UTF-8")),
        ];
        for (q, want) in cases {
            match (extra_labels(q), want) {
                (Ok(got), Ok(w)) => {
                    let w: Vec<(String, String)> = w
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    assert_eq!(got, w, "{q}");
                }
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{q}: {e}"),
                (got, want) => panic!("{q}: got {got:?}, want {want:?}"),
            }
        }
    }

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
}
