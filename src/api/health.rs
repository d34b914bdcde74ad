//! Liveness and readiness, with Prometheus' exact bodies
//! (`web.Handler` routes `/-/healthy` and `/-/ready` in `web/web.go`).

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// `GET /-/healthy`: the process is up and serving HTTP.
pub(crate) async fn healthy(_access: super::HealthAccess) -> (StatusCode, &'static str) {
    (StatusCode::OK, "Tessera is Healthy.\n")
}

/// `GET /-/ready`: 200 once the storage is open (WAL replayed), 503 before.
pub(crate) async fn ready(
    _access: super::HealthAccess,
    State(state): State<AppState>,
) -> (StatusCode, &'static str) {
    match state.storage() {
        Some(_) => (StatusCode::OK, "Tessera is Ready.\n"),
        None => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n"),
    }
}
