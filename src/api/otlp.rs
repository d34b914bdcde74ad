//! `POST /otlp/v1/metrics` and `/api/v1/otlp/v1/metrics`: OTLP/HTTP
//! metrics export.
//!
//! Follows the OTLP/HTTP specification: protobuf
//! (`application/x-protobuf`) or JSON (`application/json`) bodies,
//! optionally gzip-compressed; 200 with an `ExportMetricsServiceResponse`
//! in the request's encoding, whose `partial_success` says how many data
//! points were refused and why; every failure as a `google.rpc.Status` in
//! the same encoding (protobuf when the `Content-Type` is neither): 400 for
//! a body that cannot be decoded (not retryable), 401/403 from the
//! credential check, 413 past a limit, 415 for other encodings, 429 over
//! the tenant's rate (with `Retry-After` when waiting can help), 503 when
//! storage is not ready or full or the server holds too many bodies
//! (retryable).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message;

use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::otlp::decode::{MAX_JSON_BYTES, MAX_PROTOBUF_BYTES};
use crate::ingest::otlp::proto::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse};
use crate::ingest::otlp::{decode, gunzip, OtlpFormat};
use crate::ingest::IngestError;
use crate::tenant::TenantId;
use crate::write::otlp::OtlpReport;

/// `google.rpc.Status`, the OTLP/HTTP error body.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Handles an OTLP metrics export for the caller's tenant.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    writer: Result<Writer, ApiError>,
    req: Request,
) -> Response {
    let format = content_format(req.headers()).unwrap_or(OtlpFormat::Protobuf);
    // The credential check answers in OTLP's shape too.
    let tenant = match writer {
        Ok(Writer(tenant)) => tenant,
        Err(e) => return error_response(format, e),
    };
    match export(state, tenant, req).await {
        Ok((format, report)) => respond(format, &report),
        Err(e) => error_response(format, e),
    }
}

async fn export(
    state: AppState,
    tenant: TenantId,
    req: Request,
) -> Result<(OtlpFormat, OtlpReport), ApiError> {
    let format = content_format(req.headers())?;
    let gzip = gzip_encoded(req.headers())?;
    let storage = state.require_storage()?;
    let body =
        <HeldBody as axum::extract::FromRequest<AppState>>::from_request(req, &state).await?;
    let settings = state.otlp_settings(&tenant);
    blocking(move || {
        let limit = match format {
            OtlpFormat::Protobuf => MAX_PROTOBUF_BYTES,
            OtlpFormat::Json => MAX_JSON_BYTES,
        };
        let raw;
        let bytes: &[u8] = if gzip {
            raw = gunzip(&body, limit).map_err(ingest_error)?;
            &raw
        } else {
            &body
        };
        let request = decode(bytes, format).map_err(ingest_error)?;
        let report = state
            .pipeline(&storage)
            .write_otlp(&tenant, &request, &settings)?;
        Ok((format, report))
    })
    .await
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::TooLarge { .. } | IngestError::TooMany(_) => {
            ApiError::PayloadTooLarge(e.to_string())
        }
        _ => ApiError::BadData(e.to_string()),
    }
}

/// The body's encoding from `Content-Type`, or 415.
fn content_format(headers: &HeaderMap) -> Result<OtlpFormat, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/x-protobuf")
        || media.eq_ignore_ascii_case("application/protobuf")
    {
        Ok(OtlpFormat::Protobuf)
    } else if media.eq_ignore_ascii_case("application/json") {
        Ok(OtlpFormat::Json)
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {ct:?}: OTLP/HTTP takes application/x-protobuf or application/json"
        )))
    }
}

/// Whether the body is gzip-compressed; any encoding but gzip and
/// identity is 415.
fn gzip_encoded(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(enc) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let enc = String::from_utf8_lossy(enc.as_bytes());
    match enc.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(true),
        "identity" | "" => Ok(false),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {enc:?}: only gzip and identity are accepted"
        ))),
    }
}

/// 200 with the export response; `partial_success` is set when anything
/// was refused.
fn respond(format: OtlpFormat, report: &OtlpReport) -> Response {
    let refused = report.rejected_data_points > 0 || !report.error_message.is_empty();
    let partial = refused.then(|| ExportMetricsPartialSuccess {
        rejected_data_points: i64::try_from(report.rejected_data_points).unwrap_or(i64::MAX),
        error_message: report.error_message.clone(),
    });
    let body = match format {
        OtlpFormat::Protobuf => ExportMetricsServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec(),
        OtlpFormat::Json => {
            let json = match partial {
                Some(p) => serde_json::json!({"partialSuccess": {
                    "rejectedDataPoints": p.rejected_data_points.to_string(),
                    "errorMessage": p.error_message,
                }}),
                None => serde_json::json!({}),
            };
            json.to_string().into_bytes()
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media(format))],
        body,
    )
        .into_response()
}

fn media(format: OtlpFormat) -> &'static str {
    match format {
        OtlpFormat::Protobuf => "application/x-protobuf",
        OtlpFormat::Json => "application/json",
    }
}

/// An error as a `google.rpc.Status` in the request's encoding (a 415 for
/// an unknown encoding is answered in protobuf).
fn error_response(format: OtlpFormat, e: ApiError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "OTLP export failed");
    }
    // gRPC codes: INVALID_ARGUMENT, DEADLINE_EXCEEDED, PERMISSION_DENIED,
    // RESOURCE_EXHAUSTED (gRPC's own code for a message too large),
    // UNAVAILABLE, UNAUTHENTICATED, INTERNAL.
    let code = match status.as_u16() {
        400 | 415 => 3,
        408 => 4,
        403 => 7,
        413 | 429 => 8,
        503 => 14,
        401 => 16,
        _ => 13,
    };
    let message = e.to_string();
    let body = match format {
        OtlpFormat::Protobuf => Status { code, message }.encode_to_vec(),
        OtlpFormat::Json => serde_json::json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    };
    let mut resp = (status, [(header::CONTENT_TYPE, media(format))], body).into_response();
    e.add_headers(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn headers_pick_the_format_or_refuse() {
        let h = |ct: &str, enc: Option<&str>| {
            let mut m = HeaderMap::new();
            m.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            if let Some(e) = enc {
                m.insert(header::CONTENT_ENCODING, HeaderValue::from_str(e).unwrap());
            }
            m
        };
        assert_eq!(
            content_format(&h("application/x-protobuf", None)).unwrap(),
            OtlpFormat::Protobuf
        );
        assert_eq!(
            content_format(&h("application/json; charset=utf-8", None)).unwrap(),
            OtlpFormat::Json
        );
        let e = content_format(&h("text/plain", None)).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(gzip_encoded(&h("application/json", Some("gzip"))).unwrap());
        assert!(!gzip_encoded(&h("application/json", None)).unwrap());
        let e = gzip_encoded(&h("application/json", Some("br"))).unwrap_err();
        assert!(e.to_string().contains("\"br\""), "{e}");
    }
}
