//! Pushgateway-compatible push without a Pushgateway:
//! `PUT`, `POST` and `DELETE` on `/metrics/job/<job>{/<label>/<value>}`.
//!
//! The semantics (groups, stale markers, atomic bodies) are the write
//! pipeline's (`write::push`); this file reads the grouping path and the
//! headers and answers with the Pushgateway's codes: 200 for a push, 202
//! for a delete.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;

use super::import::text_format;
use super::{blocking, ApiError, AppState, HeldBody, Writer};
use crate::ingest::push::parse_grouping_path;
use crate::write::push::PushMode;

/// The push routes (never `GET`, which belongs to self-metrics).
pub(crate) fn routes() -> Router<AppState> {
    let push = || put(push_put).post(push_post).delete(delete);
    Router::new()
        .route("/metrics/job/{*rest}", push())
        .route("/metrics/job@base64/{*rest}", push())
}

async fn push_put(
    state: State<AppState>,
    tenant: Writer,
    uri: OriginalUri,
    headers: HeaderMap,
    body: HeldBody,
) -> Response {
    push(state, tenant, uri, headers, body, PushMode::Put).await
}

async fn push_post(
    state: State<AppState>,
    tenant: Writer,
    uri: OriginalUri,
    headers: HeaderMap,
    body: HeldBody,
) -> Response {
    push(state, tenant, uri, headers, body, PushMode::Post).await
}

/// The grouping labels of the request path, sorted, empty values dropped.
fn grouping(uri: &OriginalUri) -> Result<Vec<(String, String)>, ApiError> {
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
    mode: PushMode,
) -> Response {
    let run = async {
        let key = grouping(&uri)?;
        let format = text_format(&headers)?;
        let storage = state.require_storage()?;
        blocking(move || {
            let pipeline = state.pipeline(&storage);
            Ok(pipeline.push(&tenant, &key, &body, format, mode)?)
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
        blocking(move || Ok(state.pipeline(&storage).delete_group(&tenant, &key)?)).await
    };
    match run.await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_text_response(),
    }
}
