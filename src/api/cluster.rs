//! Cluster endpoints: `/api/v1/status/cluster` (nodes, partitions, owners,
//! consumer lag) and the internal read owners answer for the node a query
//! arrived at.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{blocking, ApiError, AppState, Reader};
use crate::cluster::wire::{ReadOp, ReadRequest};
use crate::tenant::TenantId;

fn not_clustered() -> ApiError {
    ApiError::BadData("this node is not in a cluster (cluster.nats_url is not set)".into())
}

fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /api/v1/status/cluster`.
pub(crate) async fn status(
    State(state): State<AppState>,
    _reader: Reader,
) -> Result<Response, ApiError> {
    let c = state.cluster().ok_or_else(not_clustered)?;
    let data = serde_json::to_value(c.status())
        .map_err(|e| ApiError::Internal(format!("encoding the cluster status: {e}")))?;
    let body = serde_json::json!({"status": "success", "data": data});
    Ok(json(body.to_string().into_bytes()))
}

/// `POST /internal/cluster/read`: one owner's part of a fan-out. The
/// caller's credential came along with the request and is checked here
/// like any read: the tenant must be one it may read, its policy's
/// matchers are appended again, a restricted caller gets no head
/// statistics and only the metadata of metrics it may see.
pub(crate) async fn read(
    State(state): State<AppState>,
    reader: Reader,
    body: Bytes,
) -> Result<Response, ApiError> {
    let cluster = state.cluster().ok_or_else(not_clustered)?.clone();
    let storage = state.require_storage()?;
    let req: ReadRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadData(format!("internal read request does not decode: {e}")))?;
    let tenant = TenantId::new(&req.tenant).map_err(|e| ApiError::BadData(e.to_string()))?;
    if !reader.0.tenants.contains(&tenant) {
        return Err(ApiError::Forbidden(format!(
            "the credential may not read tenant {tenant}"
        )));
    }
    let partitions = cluster.config().partitions;
    if let Some(p) = req.partitions.iter().find(|&&p| p >= partitions) {
        return Err(ApiError::BadData(format!(
            "partition {p} does not exist (the log has {partitions})"
        )));
    }
    let reply = blocking(move || {
        let mut user = Vec::with_capacity(req.matchers.len());
        for m in &req.matchers {
            user.push(m.to_matcher().map_err(ApiError::BadData)?);
        }
        let scope = reader.scope(&storage)?;
        let matchers = scope.bind_matchers(user)?;
        if reader.is_restricted() && req.op == ReadOp::TsdbStatus {
            return Err(ApiError::Forbidden(
                "status/tsdb covers the whole tenant; the caller's policy restricts which series it may see".into(),
            ));
        }
        let mut reply = cluster.serve_read(&req, &matchers)?;
        if reader.is_restricted() && !reply.metadata.is_empty() {
            // Metadata of metrics the policy hides stays hidden: only
            // names of series the caller may select, over every partition
            // (this read fans out again, each owner applying the policy).
            let visible = scope.label_values("__name__", &[], i64::MIN / 2, i64::MAX / 2)?;
            reply.metadata.retain(|m| visible.contains(&m.metric));
        }
        serde_json::to_vec(&reply).map_err(|e| ApiError::Internal(format!("encoding a read: {e}")))
    })
    .await?;
    Ok(json(reply))
}
