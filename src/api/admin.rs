//! Operator endpoints under `/api/v1/admin/tsdb/`.

use axum::extract::State;
use axum::http::StatusCode;

use super::{blocking, Admin, ApiError, AppState};

/// `POST /api/v1/admin/tsdb/flush`: writes the caller's whole head into a
/// block now. Only the tenant named by the request is touched.
pub(crate) async fn flush(
    State(state): State<AppState>,
    Admin(tenant): Admin,
) -> Result<StatusCode, ApiError> {
    let storage = state.require_storage()?;
    blocking(move || storage.flush(&tenant).map_err(ApiError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}
