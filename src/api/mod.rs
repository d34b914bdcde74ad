//! The HTTP face of Tessera: routes, the tenant extractor and the mapping
//! from every layer's errors to HTTP statuses.
//!
//! This is the only module that sees HTTP types. Handlers turn requests into
//! calls on [`Storage`] (always off the async runtime, since storage calls
//! block on disk) and turn the results back into responses.

mod admin;
mod error;
mod federate;
mod health;
mod import;
mod metrics;
mod params;
mod push;
mod status_tsdb;
mod tenant;
mod write;

use std::sync::{Arc, OnceLock};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::storage::Storage;
use crate::tenant::limits::RateLimiter;

pub use error::ApiError;
pub use metrics::Metrics;
pub use params::Params;
pub use tenant::{Tenant, TENANT_HEADER};

/// Largest request body accepted, before decompression (bytes).
pub const MAX_REQUEST_BODY: usize = 32 << 20;

/// Shared handler state: the storage engine, once it has been opened.
///
/// The server starts answering health checks before the WAL replay is
/// done, so the storage slot starts empty and is filled exactly once.
#[derive(Clone, Default)]
pub struct AppState {
    storage: Arc<OnceLock<Arc<Storage>>>,
    /// Pushgateway-style groups, per tenant (see `push`).
    push_groups: Arc<push::PushGroups>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
    engine: Arc<crate::promql::Engine>,
}

impl AppState {
    /// State whose storage is not open yet: `/-/ready` answers 503 and data
    /// endpoints refuse with 503 until [`AppState::set_storage`] is called.
    pub fn new() -> AppState {
        AppState::default()
    }

    /// State with storage already open.
    pub fn with_storage(storage: Arc<Storage>) -> AppState {
        let state = AppState::new();
        state.set_storage(storage);
        state
    }

    /// Installs the opened storage, making the server ready. Returns false
    /// (and changes nothing) if storage was already set.
    pub fn set_storage(&self, storage: Arc<Storage>) -> bool {
        self.storage.set(storage).is_ok()
    }

    /// Sets the per-tenant ingestion rate limits (none by default).
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> AppState {
        self.limiter = Arc::new(limiter);
        self
    }

    /// Replaces the PromQL engine settings (lookback delta, query limits).
    pub fn with_engine(mut self, engine: crate::promql::Engine) -> AppState {
        self.engine = Arc::new(engine);
        self
    }

    /// The PromQL engine.
    pub fn engine(&self) -> &crate::promql::Engine {
        &self.engine
    }

    /// The ingestion rate limiter.
    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The server's own metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The storage, if it is open.
    pub fn storage(&self) -> Option<Arc<Storage>> {
        self.storage.get().cloned()
    }

    /// The registry of pushed groups.
    pub(crate) fn push_groups(&self) -> Arc<push::PushGroups> {
        self.push_groups.clone()
    }

    /// The storage, or 503 while it is still being opened.
    pub(crate) fn require_storage(&self) -> Result<Arc<Storage>, ApiError> {
        self.storage()
            .ok_or_else(|| ApiError::Unavailable("storage is still opening".into()))
    }
}

/// Builds the router with every endpoint.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/-/healthy", get(health::healthy))
        .route("/-/ready", get(health::ready))
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/admin/tsdb/flush", post(admin::flush))
        .route(
            "/federate",
            get(federate::federate).post(federate::federate),
        )
        .route("/api/v1/status/tsdb", get(status_tsdb::status_tsdb))
        .merge(import::routes())
        .merge(push::routes())
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(state)
}

/// Runs a blocking storage call on the blocking pool, so that disk I/O
/// never stalls the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("storage task failed: {e}")))?
}
