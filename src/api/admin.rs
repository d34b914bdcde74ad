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

/// `POST /-/reload` (admins only): re-reads the config file and applies
/// credentials, policies, JWT keys and tenant limits for requests from now
/// on, as SIGHUP does. 200 when applied (the body names settings that only
/// a restart applies); 500 `failed to reload config: ...` when the new file
/// is refused, in which case the running config stays whole.
pub(crate) async fn reload(
    State(state): State<AppState>,
    Admin(tenant): Admin,
) -> Result<(StatusCode, String), ApiError> {
    let outcome = blocking(move || {
        state
            .reload()
            .ok_or_else(|| ApiError::Unavailable("this server has no config to reload".into()))
    })
    .await?;
    match outcome {
        Ok(notes) => {
            tracing::info!(by = %tenant, "config reloaded over HTTP");
            Ok((
                StatusCode::OK,
                notes.iter().map(|n| format!("{n}\n")).collect(),
            ))
        }
        Err(e) => Err(ApiError::Internal(format!("failed to reload config: {e}"))),
    }
}
