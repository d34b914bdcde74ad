//! The API layer's error type and its mapping to HTTP statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::storage::StorageError;

/// Everything a handler can refuse a request with.
///
/// The status of each variant is fixed here and nowhere else. Bodies follow
/// the Prometheus HTTP API (`{"status":"error","errorType":...,"error":...}`,
/// `api.respondError` in `web/api/v1/api.go`); the remote-write endpoint
/// sends the same message as one line of plain text instead, as
/// Prometheus' `writeHandler` does with `http.Error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or its data was refused (400).
    #[error("{0}")]
    BadData(String),
    /// A `Content-Type` or `Content-Encoding` this endpoint does not speak (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is over the size limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client sent its body too slowly or too late (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// Storage is not open yet or already closed; retry later (503).
    #[error("{0}")]
    Unavailable(String),
    /// A failure on our side, e.g. a disk error; retryable (500).
    #[error("{0}")]
    Internal(String),
    /// The tenant is over its ingestion rate or query slots; retry later
    /// (429), after the given seconds when known (`Retry-After`).
    #[error("{0}")]
    TooManyRequests(String, Option<u64>),
    /// A query failed while evaluating (422, `execution`).
    #[error("{0}")]
    Execution(String),
    /// A query ran past its timeout (503, `timeout`).
    #[error("{0}")]
    Timeout(String),
    /// The client went away or the query was cancelled (499, `canceled`).
    #[error("{0}")]
    Canceled(String),
    /// No such resource (404, `not_found`).
    #[error("{0}")]
    NotFound(String),
    /// The caller's credentials or policy do not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No valid credentials (401); the second field is the
    /// `WWW-Authenticate` challenge.
    #[error("{0}")]
    Unauthorized(String, &'static str),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadData(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Canceled(_) => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
        }
    }

    /// The Prometheus `errorType` for the JSON body.
    fn error_type(&self) -> &'static str {
        match self {
            ApiError::BadData(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::RequestTimeout(_) => "bad_data",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
            ApiError::TooManyRequests(..) => "unavailable",
            ApiError::Execution(_) => "execution",
            ApiError::Timeout(_) => "timeout",
            ApiError::Canceled(_) => "canceled",
            ApiError::NotFound(_) => "not_found",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unauthorized(..) => "unauthorized",
        }
    }

    /// The error as a plain-text body (message plus newline), for the
    /// remote-write endpoint.
    pub fn into_text_response(self) -> Response {
        self.log();
        let status = self.status();
        let mut body = self.to_string();
        body.push('\n');
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
        self.add_headers(&mut resp);
        resp
    }

    /// The headers some errors carry: the `WWW-Authenticate` challenge of
    /// a 401 and the `Retry-After` seconds of a 429 when known.
    pub fn add_headers(&self, resp: &mut Response) {
        match self {
            ApiError::Unauthorized(_, challenge) => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(challenge),
                );
            }
            ApiError::TooManyRequests(_, Some(secs)) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(*secs));
            }
            _ => {}
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        // Field order as Prometheus writes it.
        let body = format!(
            "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":{}}}",
            self.error_type(),
            serde_json::to_string(&self.to_string()).unwrap_or_else(|_| "\"\"".into())
        );
        let mut resp = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        self.add_headers(&mut resp);
        resp
    }
}

impl From<crate::promql::QueryError> for ApiError {
    fn from(e: crate::promql::QueryError) -> ApiError {
        let msg = e.to_string();
        match e.error_type() {
            "bad_data" => ApiError::BadData(msg),
            "timeout" => ApiError::Timeout(msg),
            "internal" => ApiError::Internal(msg),
            "forbidden" => ApiError::Forbidden(msg),
            "unavailable" => ApiError::Unavailable(msg),
            "canceled" => ApiError::Canceled(msg),
            _ => ApiError::Execution(msg),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::Closed | StorageError::Cluster(_) => ApiError::Unavailable(e.to_string()),
            // 503, not 507: Prometheus' remote-write client
            // (`storage/remote/client.go`, `Client.Store`) retries every 5xx
            // alike, but 503 is the one status every sender, proxy and load
            // balancer reads as "transient, try again later", which a full
            // disk is once space returns (VictoriaMetrics likewise stops
            // taking writes into a storage node short of disk until space
            // returns). Nothing of the refused batch was stored.
            _ if e.is_disk_full() => ApiError::Unavailable(format!("disk full, retry later: {e}")),
            // The bucket is down or refuses us: transient like a full disk.
            StorageError::ObjectStore { .. } => {
                ApiError::Unavailable(format!("object storage unavailable, retry later: {e}"))
            }
            StorageError::TooManySamples(_) => ApiError::Execution(e.to_string()),
            StorageError::InvalidTenant(_)
            | StorageError::InvalidMatcher(_)
            | StorageError::EmptyMatchers => ApiError::BadData(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::write::WriteError> for ApiError {
    fn from(e: crate::write::WriteError) -> ApiError {
        use crate::write::WriteError;
        match e {
            WriteError::RateLimited {
                message,
                retry_after,
            } => {
                // Whole seconds, rounded up, at least 1 (RFC 9110).
                let secs = retry_after.map(|d| (d.as_secs_f64().ceil() as u64).max(1));
                ApiError::TooManyRequests(message, secs)
            }
            WriteError::Invalid(m) => ApiError::BadData(m),
            WriteError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            WriteError::Storage(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_status_and_type() {
        let cases = [
            (ApiError::BadData("x".into()), 400, "bad_data"),
            (ApiError::UnsupportedMediaType("x".into()), 415, "bad_data"),
            (ApiError::PayloadTooLarge("x".into()), 413, "bad_data"),
            (ApiError::Unavailable("x".into()), 503, "unavailable"),
            (ApiError::Internal("x".into()), 500, "internal"),
            (ApiError::Execution("x".into()), 422, "execution"),
            (ApiError::Timeout("x".into()), 503, "timeout"),
            (ApiError::Canceled("x".into()), 499, "canceled"),
            (ApiError::NotFound("x".into()), 404, "not_found"),
        ];
        for (e, status, kind) in cases {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.error_type(), kind, "{e:?}");
        }
    }

    #[test]
    fn storage_errors_map_to_retryable_or_client_statuses() {
        let io = StorageError::io("wal/00000001", std::io::Error::other("disk on fire"));
        assert_eq!(
            ApiError::from(io).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let full = StorageError::io("wal/00000001", std::io::Error::from_raw_os_error(28));
        assert_eq!(
            ApiError::from(full).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(StorageError::Closed).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(StorageError::EmptyMatchers).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn a_store_that_is_down_makes_a_query_unavailable_not_internal() {
        use crate::promql::QueryError;
        let down = StorageError::object_store(
            "t/01ABC/index",
            object_store::Error::Generic {
                store: "S3",
                source: "connection refused".into(),
            },
        );
        let e = ApiError::from(QueryError::from(down));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE, "{e:?}");
        assert_eq!(e.error_type(), "unavailable");
        assert!(e.to_string().contains("retry later"), "{e}");
        let missing = StorageError::object_store(
            "t/01ABC/index",
            object_store::Error::NotFound {
                path: "t/01ABC/index".into(),
                source: "gone".into(),
            },
        );
        let e = ApiError::from(QueryError::from(missing));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR, "{e:?}");
    }
}
