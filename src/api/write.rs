//! `POST /api/v1/write`: the Prometheus remote-write receiver, 1.0 and 2.0.
//!
//! Follows Prometheus' `writeHandler.ServeHTTP` (`storage/remote/write_handler.go`):
//! the headers are checked before the body is read, a body that cannot be
//! decoded is refused whole with 400, and a body with some bad series is a
//! partial write: the good series are stored and the response is 400 naming
//! the first few problems.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::remote_write::{
    decode_v1, decode_v2, snappy_decompress, DEFAULT_MAX_DECOMPRESSED,
};
use crate::ingest::remote_write::{MetadataRef, MetricType};
use crate::storage::{MetricMetadata, SeriesInput, Storage};
use crate::tenant::TenantId;
use crate::write::{Decoded, Refused, WriteReport};

/// The 2.0 response headers counting what was written.
const SAMPLES_WRITTEN: &str = "x-prometheus-remote-write-samples-written";
const HISTOGRAMS_WRITTEN: &str = "x-prometheus-remote-write-histograms-written";
const EXEMPLARS_WRITTEN: &str = "x-prometheus-remote-write-exemplars-written";

/// The remote-write protocol version, from the `Content-Type`'s `proto` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

/// Handles a remote-write request for the caller's tenant.
pub(crate) async fn remote_write(
    State(state): State<AppState>,
    Writer(tenant): Writer,
    req: Request,
) -> Response {
    match write(state, tenant, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_text_response(),
    }
}

async fn write(state: AppState, tenant: TenantId, req: Request) -> Result<Response, ApiError> {
    let version = check_headers(req.headers())?;
    let storage = state.require_storage()?;
    let body = HeldBody::from_request(req, &state).await?;
    let report = blocking(move || ingest(&state, &storage, &tenant, &body, version)).await?;
    Ok(respond(version, report))
}

/// Checks `Content-Encoding` and `Content-Type` and picks the protocol
/// version, without looking at the body.
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<Version, ApiError> {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let ok = enc
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("snappy"));
        if !ok {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {:?}: only snappy is accepted",
                String::from_utf8_lossy(enc.as_bytes())
            )));
        }
    }
    match headers.get(header::CONTENT_TYPE) {
        // Prometheus senders always set it; be lenient with others.
        None => Ok(Version::V1),
        Some(ct) => parse_content_type(ct.as_bytes()),
    }
}

/// Parses `application/x-protobuf[;proto=<message>]`.
fn parse_content_type(raw: &[u8]) -> Result<Version, ApiError> {
    let bad = |why: &str| {
        ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {:?}: {why}",
            String::from_utf8_lossy(raw)
        ))
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(bad("expected application/x-protobuf"));
    }
    let mut version = Version::V1;
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        version = match value.trim().trim_matches('"') {
            "prometheus.WriteRequest" => Version::V1,
            "io.prometheus.write.v2.Request" => Version::V2,
            _ => return Err(bad("unknown proto message")),
        };
    }
    Ok(version)
}

/// Decompresses, decodes and writes one body (blocking). Decoding happens
/// here because the decoded batch borrows the decompressed bytes.
fn ingest(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    body: &[u8],
    version: Version,
) -> Result<WriteReport, ApiError> {
    let bad = |e: crate::ingest::IngestError| match e {
        crate::ingest::IngestError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
        _ => ApiError::BadData(e.to_string()),
    };
    let raw = snappy_decompress(body, DEFAULT_MAX_DECOMPRESSED).map_err(bad)?;
    let batch = match version {
        Version::V1 => decode_v1(&raw),
        Version::V2 => decode_v2(&raw),
    }
    .map_err(bad)?;
    let (inputs, start_times): (Vec<SeriesInput<'_>>, Vec<&[i64]>) = batch
        .series
        .iter()
        .filter(|s| !s.samples.is_empty() || !s.histograms.is_empty())
        .filter_map(|s| {
            let input = SeriesInput {
                labels: batch.labels.get(s.labels.clone())?,
                samples: batch.samples.get(s.samples.clone())?,
                histograms: batch.histograms.get(s.histograms.clone())?,
            };
            Some((input, batch.start_times_of(s.samples.clone())))
        })
        .unzip();
    let refused = batch
        .rejected
        .iter()
        .map(|r| Refused {
            series: r.series.to_string(),
            reason: r.reason.to_string(),
            samples: r.samples + r.histograms,
            exemplars: r.exemplars,
        })
        .collect();
    let decoded = Decoded {
        inputs,
        start_times: (!batch.start_times.is_empty()).then_some(start_times),
        metadata: batch_metadata(&batch.metadata),
        refused,
        exemplars: batch
            .series
            .iter()
            .filter(|s| !s.exemplar_range.is_empty())
            .filter_map(|s| {
                Some(crate::storage::ExemplarInput {
                    labels: batch.labels.get(s.labels.clone())?,
                    exemplars: batch.exemplars.get(s.exemplar_range.clone())?,
                })
            })
            .collect(),
        exemplars_invalid: batch.exemplars_invalid,
    };
    if let Some(p) = &batch.exemplar_problem {
        tracing::debug!(tenant = %tenant, problem = %p, "exemplars refused");
    }
    Ok(state.pipeline(storage).write(tenant, decoded)?)
}

/// The batch's metadata in storage's form. Entries that say nothing (no
/// name, or no type, help or unit, as 2.0 senders emit per series) are
/// dropped so they cannot overwrite what a scrape recorded.
fn batch_metadata(entries: &[MetadataRef<'_>]) -> Vec<MetricMetadata> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    entries
        .iter()
        .filter(|m| !m.metric.is_empty())
        .filter(|m| m.kind != MetricType::Unspecified || !m.help.is_empty() || !m.unit.is_empty())
        .map(|m| MetricMetadata {
            metric: text(m.metric),
            kind: kind_name(m.kind).to_string(),
            help: text(m.help),
            unit: text(m.unit),
        })
        .collect()
}

/// The Prometheus HTTP API spelling of a type (`model.MetricType`).
fn kind_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Unspecified => "unknown",
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gaugehistogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::StateSet => "stateset",
    }
}

/// 204 when everything was stored, 400 listing the problems otherwise;
/// 2.0 responses carry the written counts either way.
fn respond(version: Version, report: WriteReport) -> Response {
    let mut resp = if report.is_complete() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut summary = format!("{} samples rejected", report.samples_rejected);
        if report.series_refused > 0 {
            summary.push_str(&format!(" ({} series refused)", report.series_refused));
        }
        let body = std::iter::once(summary)
            .chain(report.reasons.iter().map(|r| r.replace('\n', "\\n")))
            .collect::<Vec<_>>()
            .join("\n");
        ApiError::BadData(body).into_text_response()
    };
    if version == Version::V2 {
        let headers = resp.headers_mut();
        for (name, n) in [
            (SAMPLES_WRITTEN, report.samples_written),
            (HISTOGRAMS_WRITTEN, report.histograms_written),
            (EXEMPLARS_WRITTEN, report.exemplars_written),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(n));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn headers_pick_the_version_or_refuse_with_415() {
        use Version::*;
        let pb = "application/x-protobuf";
        // (headers, version or a fragment of the 415 message)
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Version, &'a str>);
        let cases: &[Case] = &[
            (&[], Ok(V1)),
            (&[("content-type", pb)], Ok(V1)),
            (&[("content-type", "Application/X-Protobuf")], Ok(V1)),
            (
                &[(
                    "content-type",
                    "application/x-protobuf;proto=prometheus.WriteRequest",
                )],
                Ok(V1),
            ),
            (
                &[(
                    "content-type",
                    "application/x-protobuf; proto=io.prometheus.write.v2.Request",
                )],
                Ok(V2),
            ),
            (
                &[(
                    "content-type",
                    "application/x-protobuf;proto=\"io.prometheus.write.v2.Request\"",
                )],
                Ok(V2),
            ),
            (
                &[("content-type", "application/x-protobuf;charset=utf-8")],
                Ok(V1),
            ),
            (
                &[("content-type", pb), ("content-encoding", "snappy")],
                Ok(V1),
            ),
            (
                &[("content-type", pb), ("content-encoding", "SNAPPY")],
                Ok(V1),
            ),
            (
                &[("content-type", "application/json")],
                Err("\"application/json\""),
            ),
            (
                &[("content-type", "image/png")],
                Err("Content-Type \"image/png\""),
            ),
            (&[("content-type", "")], Err("Content-Type \"\"")),
            (
                &[("content-type", "application/x-protobuf;proto=foo.Bar")],
                Err("unknown proto"),
            ),
            (
                &[("content-type", pb), ("content-encoding", "gzip")],
                Err("Content-Encoding \"gzip\""),
            ),
            (
                &[("content-type", pb), ("content-encoding", "")],
                Err("Content-Encoding"),
            ),
            // The encoding is checked first, whatever the type says.
            (
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", "deflate"),
                ],
                Err("\"deflate\""),
            ),
        ];
        for (input, want) in cases {
            match (check_headers(&headers(input)), want) {
                (Ok(v), Ok(w)) => assert_eq!(v, *w, "{input:?}"),
                (Err(e), Err(w)) => {
                    assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{input:?}");
                    assert!(e.to_string().contains(w), "{input:?}: {e}");
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn written_headers_only_for_v2() {
        let report = || WriteReport {
            samples_written: 3,
            histograms_written: 2,
            exemplars_written: 1,
            ..WriteReport::default()
        };
        let v2 = respond(Version::V2, report());
        assert_eq!(v2.status(), StatusCode::NO_CONTENT);
        assert_eq!(v2.headers()[SAMPLES_WRITTEN], "3");
        assert_eq!(v2.headers()[HISTOGRAMS_WRITTEN], "2");
        assert_eq!(v2.headers()[EXEMPLARS_WRITTEN], "1");
        let v1 = respond(Version::V1, report());
        assert_eq!(v1.status(), StatusCode::NO_CONTENT);
        assert!(v1.headers().get(SAMPLES_WRITTEN).is_none());
        let rejected = WriteReport {
            samples_rejected: 1,
            ..report()
        };
        let bad = respond(Version::V2, rejected);
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.headers()[SAMPLES_WRITTEN], "3");
    }
}
