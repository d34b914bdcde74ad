//! Operator endpoints under `/api/v1/admin/tsdb/`.

use axum::extract::State;
use axum::http::StatusCode;

use super::{blocking, Admin, ApiError, AppState};

/// `POST /api/v1/admin/tsdb/flush`: writes the caller's whole head into a
/// block now. Only the tenant named by the request is touched. In cluster
/// mode: the tenant's head in every partition this node owns.
pub(crate) async fn flush(
    State(state): State<AppState>,
    Admin(tenant): Admin,
) -> Result<StatusCode, ApiError> {
    if let Some(c) = state.cluster().cloned() {
        blocking(move || c.flush_owned(&tenant).map_err(ApiError::from)).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let storage = state.require_storage()?;
    blocking(move || storage.flush(&tenant).map_err(ApiError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}
