//! Pushgateway-compatible push without a Pushgateway:
//! `PUT`, `POST` and `DELETE` on `/metrics/job/<job>{/<label>/<value>}`.
//!
//! Semantics follow the Pushgateway's `handler/push.go` and `delete.go`,
//! translated to a database that keeps history: pushed samples are stored
//! at arrival time with the grouping labels added (overriding same-named
//! labels in the body). Where the Pushgateway would simply forget a series,
//! a stale marker is written so queries stop returning it: PUT replaces the
//! whole group, POST only the metric families in the body, DELETE the whole
//! group. A push is atomic: any bad line refuses the whole body, and so
//! does a sample carrying a timestamp, as the Pushgateway does.
//! Success is 200 for a push and 202 for a delete, the Pushgateway's codes.

mod groups;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;

use super::import::{append_rows, body_text, now_ms, text_format, text_metadata, with_labels, Row};
use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::push::parse_grouping_path;
use crate::ingest::text::{count_sample_lines, parse, ParsedText, TextFormat, TextSample};
use crate::model::{stale_nan, Sample};
use crate::storage::Storage;
use crate::tenant::TenantId;
use groups::LabelPairs;
pub(crate) use groups::PushGroups;

/// Suffixes a sample name may add to its family's name.
const FAMILY_SUFFIXES: &[&str] = &[
    "_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info",
];

/// The push routes (never `GET`, which belongs to self-metrics).
pub(crate) fn routes() -> Router<AppState> {
    let push = || put(push_put).post(push_post).delete(delete);
    Router::new()
        .route("/metrics/job/{*rest}", push())
        .route("/metrics/job@base64/{*rest}", push())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Put,
    Post,
}

async fn push_put(
    state: State<AppState>,
    tenant: Writer,
    uri: OriginalUri,
    headers: HeaderMap,
    body: HeldBody,
) -> Response {
    push(state, tenant, uri, headers, body, Mode::Put).await
}

async fn push_post(
    state: State<AppState>,
    tenant: Writer,
    uri: OriginalUri,
    headers: HeaderMap,
    body: HeldBody,
) -> Response {
    push(state, tenant, uri, headers, body, Mode::Post).await
}

/// The grouping labels of the request path, sorted, empty values dropped.
fn grouping(uri: &OriginalUri) -> Result<LabelPairs, ApiError> {
    let rest = uri.path().strip_prefix("/metrics/").unwrap_or_default();
    let mut labels = parse_grouping_path(rest).map_err(|e| ApiError::BadData(e.to_string()))?;
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort();
    Ok(labels)
}

async fn push(
    State(state): State<AppState>,
    Writer(tenant): Writer,
    uri: OriginalUri,
    headers: HeaderMap,
    body: HeldBody,
    mode: Mode,
) -> Response {
    let run = async {
        let key = grouping(&uri)?;
        let format = text_format(&headers)?;
        let storage = state.require_storage()?;
        let groups = state.push_groups();
        let st = state.clone();
        blocking(move || {
            let pushed = parse_push(&body, format, &key)?;
            storage.record_metadata(&tenant, &text_metadata(&pushed.metadata))?;
            let dir = storage.tenant_dir(&tenant);
            let registry = groups.tenant(&tenant, &dir);
            let mut registry = registry.lock();
            let t = registry.write_time(&key, now_ms());
            let families = (mode == Mode::Post).then_some(&pushed.families);
            let vanished = registry.replace(&key, pushed.family_of, families, t);
            let result = store(&st, &storage, &tenant, &pushed.samples, &vanished, t)
                .and_then(|()| store_exemplars(&st, &storage, &tenant, &pushed.exemplars, t));
            registry.save(&dir)?;
            result
        })
        .await
    };
    match run.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_text_response(),
    }
}

async fn delete(
    State(state): State<AppState>,
    Writer(tenant): Writer,
    uri: OriginalUri,
) -> Response {
    let run = async {
        let key = grouping(&uri)?;
        let storage = state.require_storage()?;
        let groups = state.push_groups();
        let st = state.clone();
        blocking(move || {
            let dir = storage.tenant_dir(&tenant);
            let registry = groups.tenant(&tenant, &dir);
            let mut registry = registry.lock();
            let t = registry.write_time(&key, now_ms());
            // An unknown group is still a 202, as in the Pushgateway.
            let Some(vanished) = registry.delete(&key) else {
                return Ok(());
            };
            let result = store(&st, &storage, &tenant, &[], &vanished, t);
            registry.save(&dir)?;
            result
        })
        .await
    };
    match run.await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_text_response(),
    }
}

/// A body that passed every check.
struct Pushed {
    /// Each series' labels (grouping labels applied) and value.
    samples: Vec<(LabelPairs, f64)>,
    /// Each series' metric family.
    family_of: BTreeMap<LabelPairs, String>,
    /// Families present in the body (with samples or a `# TYPE`/`# HELP`).
    families: BTreeSet<String>,
    metadata: Vec<crate::ingest::text::TextMetadata>,
    /// OpenMetrics exemplars in the body, with their series' labels.
    exemplars: Vec<(LabelPairs, crate::ingest::text::TextExemplar)>,
}

/// Most samples one push may carry (a push is parsed and replaced whole).
pub(crate) const MAX_PUSH_SAMPLES: u64 = 200_000;

/// Parses a push body, refusing it whole on any bad line, any timestamp
/// or any series given twice.
fn parse_push(body: &[u8], format: TextFormat, key: &LabelPairs) -> Result<Pushed, ApiError> {
    let text = body_text(body)?;
    // A push replaces its group as a whole, so it is parsed whole; the
    // sample count is bounded before anything is parsed.
    let lines = count_sample_lines(text);
    if lines > MAX_PUSH_SAMPLES {
        return Err(ApiError::PayloadTooLarge(format!(
            "push body has {lines} sample lines, more than the limit of {MAX_PUSH_SAMPLES} per push; split it into several POST requests (each replaces only the metrics it names) or use /api/v1/import/prometheus"
        )));
    }
    let parsed = parse(text, format);
    let more_errors = parsed.more_errors;
    let ParsedText {
        samples,
        metadata,
        errors,
        ..
    } = parsed;
    if !errors.is_empty() {
        let bad = errors.len() as u64 + more_errors;
        let mut lines = vec![format!("{bad} lines rejected, nothing stored")];
        lines.extend(
            errors
                .iter()
                .take(10)
                .map(|e| e.to_string().replace('\n', "\\n")),
        );
        return Err(ApiError::BadData(lines.join("\n")));
    }
    if let Some(s) = samples.iter().find(|s| s.timestamp_ms.is_some()) {
        return Err(timestamp_error(text, s));
    }
    let declared: HashSet<&str> = metadata.iter().map(|m| m.metric.as_str()).collect();
    let mut out = Pushed {
        samples: Vec::with_capacity(samples.len()),
        family_of: BTreeMap::new(),
        families: metadata.iter().map(|m| m.metric.clone()).collect(),
        metadata: metadata.clone(),
        exemplars: Vec::new(),
    };
    for s in &samples {
        let mut labels = with_labels(&s.labels, key);
        labels.retain(|(_, v)| !v.is_empty());
        labels.sort();
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|(_, v)| v.as_str());
        let family = family_of(name.unwrap_or_default(), &declared);
        if out
            .family_of
            .insert(labels.clone(), family.clone())
            .is_some()
        {
            return Err(ApiError::BadData(format!(
                "series {} pushed twice",
                describe(&labels)
            )));
        }
        out.families.insert(family);
        if let Some(e) = &s.exemplar {
            out.exemplars.push((labels.clone(), e.clone()));
        }
        out.samples.push((labels, s.value));
    }
    Ok(out)
}

/// The 400 for a timestamped sample, naming its line when it can be found
/// (`handler/push.go` refuses these: "pushed metrics must not have timestamps").
fn timestamp_error(text: &str, sample: &TextSample) -> ApiError {
    let line = text.split('\n').enumerate().find(|(_, l)| {
        !l.starts_with('#')
            && parse(l, TextFormat::Prometheus)
                .samples
                .first()
                .is_some_and(|s| s.labels == sample.labels && s.timestamp_ms.is_some())
    });
    let what = match line {
        Some((n, _)) => format!("line {}", n + 1),
        None => format!("series {}", describe(&sample.labels)),
    };
    ApiError::BadData(format!(
        "{what}: pushed metrics must not have timestamps; nothing stored"
    ))
}

/// The family a sample name belongs to: a declared family it extends by
/// a known suffix, else the name itself.
fn family_of(name: &str, declared: &HashSet<&str>) -> String {
    if declared.contains(name) {
        return name.to_string();
    }
    FAMILY_SUFFIXES
        .iter()
        .filter_map(|s| name.strip_suffix(s))
        .find(|stem| declared.contains(stem))
        .unwrap_or(name)
        .to_string()
}

fn describe(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Appends the pushed values and stale markers for vanished series at `t`.
fn store(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    pushed: &[(LabelPairs, f64)],
    vanished: &[LabelPairs],
    t: i64,
) -> Result<(), ApiError> {
    let rows: Vec<Row> = pushed
        .iter()
        .map(|(l, v)| (l.clone(), Sample::new(t, *v)))
        .chain(
            vanished
                .iter()
                .map(|l| (l.clone(), Sample::new(t, stale_nan()))),
        )
        .collect();
    let outcome = append_rows(state, storage, tenant, &rows)?;
    if outcome.rejected == 0 {
        return Ok(());
    }
    let mut lines = vec![format!("{} samples rejected by storage", outcome.rejected)];
    lines.extend(outcome.rejections.iter().take(10).map(|r| r.to_string()));
    Err(ApiError::BadData(lines.join("\n")))
}

/// Stores a push's exemplars after its samples (those without a
/// timestamp take the push's time).
fn store_exemplars(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    exemplars: &[(LabelPairs, crate::ingest::text::TextExemplar)],
    t: i64,
) -> Result<(), ApiError> {
    let refs: Vec<Vec<crate::model::LabelRef<'_>>> = exemplars
        .iter()
        .map(|(l, _)| {
            l.iter()
                .map(|(n, v)| crate::model::LabelRef::new(n, v))
                .collect()
        })
        .collect();
    let items = refs
        .iter()
        .zip(exemplars)
        .map(|(r, (_, e))| (r.as_slice(), e, t));
    super::exemplars::store_text(state, storage, tenant, items).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_names_map_to_families() {
        let declared: HashSet<&str> = ["h", "c", "x_total"].into();
        // (sample name, family)
        let cases = [
            ("h_bucket", "h"),
            ("h_sum", "h"),
            ("h", "h"),
            ("c_total", "c"),
            ("x_total", "x_total"),
            ("undeclared_sum", "undeclared_sum"),
            ("", ""),
        ];
        for (name, want) in cases {
            assert_eq!(family_of(name, &declared), want, "{name}");
        }
    }

    #[test]
    fn push_bodies_are_checked_whole() {
        let key: LabelPairs = vec![("job".into(), "j".into())];
        let ok = parse_push(
            b"# TYPE c counter\nc_total{job=\"x\",a=\"1\"} 2\n",
            TextFormat::Prometheus,
            &key,
        )
        .unwrap();
        assert_eq!(ok.samples.len(), 1);
        assert_eq!(
            describe(&ok.samples[0].0),
            r#"{__name__="c_total", a="1", job="j"}"#
        );
        assert!(ok.families.contains("c"));
        // (body, fragment of the 400)
        let bad: &[(&[u8], &str)] = &[
            (
                b"a 1\nb 2 1000\n",
                "line 2: pushed metrics must not have timestamps",
            ),
            (b"a 1\n}{ 2\nc 3\n", "1 lines rejected"),
            (b"a 1\na 2\n", "pushed twice"),
            (b"a{job=\"y\"} 1\na 2\n", "pushed twice"),
            (b"\xff", "not valid UTF-8"),
        ];
        for (body, want) in bad {
            let e = parse_push(body, TextFormat::Prometheus, &key)
                .err()
                .unwrap();
            assert!(e.to_string().contains(want), "{body:?}: {e}");
        }
    }
}
