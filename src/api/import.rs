//! `POST /api/v1/import/prometheus`: a body in the Prometheus text or
//! OpenMetrics format, stored line by line.
//!
//! Modelled on VictoriaMetrics' `/api/v1/import/prometheus`: samples
//! without a timestamp get the arrival time, and `extra_label=name=value`
//! query parameters (repeatable) add labels or override same-named ones.
//! Unlike a push, an import is not atomic: valid lines are stored and the
//! bad ones reported in a 400 body shaped like remote write's partial
//! write (a summary line, then the first reasons with line numbers).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::text::TextFormat;
use crate::write::text::ImportReport;

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
        blocking(move || {
            let pipeline = state.pipeline(&storage);
            Ok(pipeline.import_text(&tenant, &body, format, &extra)?)
        })
        .await
    };
    match run.await {
        Ok(report) if report.is_complete() => StatusCode::NO_CONTENT.into_response(),
        Ok(report) => ApiError::BadData(partial_body(&report)).into_text_response(),
        Err(e) => e.into_text_response(),
    }
}

/// The 400 body of a partial import: a summary line, then the first
/// reasons with line numbers, one per line.
fn partial_body(r: &ImportReport) -> String {
    let summary = format!(
        "{} lines rejected, {} samples rejected by storage, {} samples stored",
        r.bad_lines, r.rejected, r.stored
    );
    std::iter::once(summary)
        .chain(r.reasons.iter().map(|l| l.replace('\n', "\\n")))
        .collect::<Vec<_>>()
        .join("\n")
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
}
