//! The HTTP face of Tessera: routes, the caller extractors and the mapping
//! from every layer's errors to HTTP statuses.
//!
//! This is the only module that sees HTTP types. Handlers turn requests into
//! calls on [`Storage`] (always off the async runtime, since storage calls
//! block on disk) and turn the results back into responses.

mod admin;
mod caller;
mod cluster;
mod conn;
mod error;
mod exemplars;
mod federate;
pub use federate::dto;
mod health;
mod import;
mod meta;
mod metrics;
mod metrics_bucket;
mod otlp;
mod params;
mod push;
mod query;
mod read;
mod status_tsdb;
mod usage;
pub use usage::PERSIST_EVERY as USAGE_PERSIST_EVERY;
mod ui;
mod whoami;
mod write;

use std::sync::{Arc, OnceLock};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::storage::Storage;
use crate::tenant::limits::RateLimiter;

pub use crate::auth::TENANT_HEADER;
pub use caller::{Admin, HealthAccess, MetricsAccess, Reader, Writer};
pub(crate) use conn::{read_body, HeldBody};
pub use conn::{serve, BodyBudget, ConnLimits};
pub use error::ApiError;
pub use metrics::Metrics;
pub use params::Params;

/// Largest request body accepted, before decompression (bytes).
pub const MAX_REQUEST_BODY: usize = 32 << 20;

/// Shared handler state: the storage engine, once it has been opened.
///
/// The server starts answering health checks before the WAL replay is
/// done, so the storage slot starts empty and is filled exactly once.
///
/// Cloned for every request (axum's `State`), so it is one `Arc` around
/// the fields ([`StateInner`]) rather than a dozen of them to count up and
/// down; the builder methods copy the inner value only if it is shared.
#[derive(Clone, Default)]
pub struct AppState(Arc<StateInner>);

/// What [`AppState`] shares.
#[derive(Clone, Default)]
pub struct StateInner {
    storage: Arc<OnceLock<Arc<Storage>>>,
    /// Pushgateway-style groups, per tenant (see `write::push`).
    push_groups: Arc<crate::write::PushGroups>,
    limiter: Arc<RateLimiter>,
    /// Per-tenant OTLP translation settings.
    otlp: Arc<crate::write::otlp::OtlpConfigs>,
    metrics: Arc<Metrics>,
    engine: Arc<crate::promql::Engine>,
    /// When this state was made (the server's start), Unix ms.
    started_ms: i64,
    /// Who may call; `None` is auth mode `none`. Replaced by a reload.
    auth: Arc<parking_lot::RwLock<Option<Arc<crate::auth::Authenticator>>>>,
    /// Re-reads the config file and applies it (`POST /-/reload`, SIGHUP);
    /// set by the server when it was started from a config.
    reload: Arc<parking_lot::RwLock<Option<ReloadFn>>>,
    /// Request body bytes held at once, across all requests.
    body_budget: BodyBudget,
    /// Where PromQL queries run (threads sized for deep queries, at most
    /// `query.max-concurrency` at once).
    query_pool: crate::promql::QueryPool,
    /// Running queries per tenant, for `max_concurrent_queries`.
    query_slots: Arc<parking_lot::Mutex<std::collections::HashMap<crate::tenant::TenantId, usize>>>,
    /// This node's part in a cluster; `None` on a single node.
    cluster: Option<crate::cluster::Cluster>,
    /// Range-query results kept for reuse (off unless set).
    results_cache: Arc<crate::promql::cache::ResultsCache>,
}

/// A config reload: re-reads the file and applies what can change while
/// running. `Ok` carries notes (settings that only a restart applies);
/// `Err` the reason the file was refused (nothing was applied).
pub type ReloadFn = Arc<dyn Fn() -> Result<Vec<String>, String> + Send + Sync>;

/// One running query counted against its tenant's concurrency limit;
/// released when dropped.
pub(crate) struct QuerySlot {
    slots: Arc<parking_lot::Mutex<std::collections::HashMap<crate::tenant::TenantId, usize>>>,
    tenant: crate::tenant::TenantId,
}

impl Drop for QuerySlot {
    fn drop(&mut self) {
        let mut m = self.slots.lock();
        if let Some(n) = m.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.tenant);
            }
        }
    }
}

impl AppState {
    /// State whose storage is not open yet: `/-/ready` answers 503 and data
    /// endpoints refuse with 503 until [`AppState::set_storage`] is called.
    pub fn new() -> AppState {
        AppState(Arc::new(StateInner {
            started_ms: query::now_ms(),
            ..StateInner::default()
        }))
    }

    /// The fields, for the builder methods (copied first if shared).
    fn inner_mut(&mut self) -> &mut StateInner {
        Arc::make_mut(&mut self.0)
    }

    /// When the server started, Unix ms.
    pub(crate) fn started_ms(&self) -> i64 {
        self.started_ms
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
        self.inner_mut().limiter = Arc::new(limiter);
        self
    }

    /// Sets the per-tenant OTLP translation settings (defaults otherwise).
    pub fn with_otlp(mut self, otlp: crate::write::otlp::OtlpConfigs) -> AppState {
        self.inner_mut().otlp = Arc::new(otlp);
        self
    }

    /// The per-tenant OTLP translation settings.
    pub(crate) fn otlp(&self) -> &crate::write::otlp::OtlpConfigs {
        &self.otlp
    }

    /// The OTLP translation settings of `tenant`.
    pub(crate) fn otlp_settings(
        &self,
        tenant: &crate::tenant::TenantId,
    ) -> crate::ingest::otlp::OtlpSettings {
        self.otlp.get(tenant)
    }

    /// Replaces the PromQL engine settings (lookback delta, query limits).
    pub fn with_engine(mut self, engine: crate::promql::Engine) -> AppState {
        self.inner_mut().engine = Arc::new(engine);
        self
    }

    /// Sets the server-wide request body budget (`web.max-inflight-body-bytes`).
    pub fn with_body_budget(mut self, budget: BodyBudget) -> AppState {
        self.inner_mut().body_budget = budget;
        self
    }

    /// The server-wide request body budget.
    pub(crate) fn body_budget(&self) -> &BodyBudget {
        &self.body_budget
    }

    /// Sets the pool queries run on (and so `query.max-concurrency`).
    pub fn with_query_pool(mut self, pool: crate::promql::QueryPool) -> AppState {
        self.inner_mut().query_pool = pool;
        self
    }

    /// Sets the range-query results cache (`query.results_cache_max_bytes`).
    pub fn with_results_cache(mut self, cache: crate::promql::cache::ResultsCache) -> AppState {
        self.inner_mut().results_cache = Arc::new(cache);
        self
    }

    /// The range-query results cache.
    pub(crate) fn results_cache(&self) -> &Arc<crate::promql::cache::ResultsCache> {
        &self.results_cache
    }

    /// The pool PromQL queries run on.
    pub(crate) fn query_pool(&self) -> &crate::promql::QueryPool {
        &self.query_pool
    }

    /// Sets how callers are authenticated.
    pub fn with_authenticator(self, auth: crate::auth::Authenticator) -> AppState {
        self.set_authenticator(Arc::new(auth));
        self
    }

    /// Replaces how callers are authenticated, for requests from now on
    /// (a reload); requests already past authentication are not affected.
    pub fn set_authenticator(&self, auth: Arc<crate::auth::Authenticator>) {
        *self.auth.write() = Some(auth);
    }

    /// Installs what `POST /-/reload` and SIGHUP run.
    pub fn set_reload(&self, f: ReloadFn) {
        *self.reload.write() = Some(f);
    }

    /// Runs the installed reload, if any.
    pub fn reload(&self) -> Option<Result<Vec<String>, String>> {
        let f = self.reload.read().clone()?;
        Some(f())
    }

    /// Takes a query slot for the caller's tenant, or refuses with 429 when
    /// its policy's `max_concurrent_queries` are all running.
    pub(crate) fn query_slot(&self, reader: &Reader) -> Result<QuerySlot, ApiError> {
        let tenant = reader.0.tenant.clone();
        let mut m = self.query_slots.lock();
        let n = m.entry(tenant.clone()).or_insert(0);
        if let Some(max) = reader.0.policy.limits.max_concurrent_queries {
            if *n >= max as usize {
                self.metrics()
                    .add_limit_hit(&tenant, "max_concurrent_queries");
                return Err(ApiError::TooManyRequests(
                    format!(
                        "too many concurrent queries for tenant {tenant}: the limit is {max} (max_concurrent_queries)"
                    ),
                    None,
                ));
            }
        }
        *n += 1;
        Ok(QuerySlot {
            slots: self.query_slots.clone(),
            tenant,
        })
    }

    /// Makes this node a cluster member: writes go to the log, reads fan
    /// out to partition owners.
    pub fn with_cluster(mut self, cluster: crate::cluster::Cluster) -> AppState {
        self.inner_mut().cluster = Some(cluster);
        self
    }

    /// The cluster, in cluster mode.
    pub fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.cluster.as_ref()
    }

    /// The write pipeline over `storage`: every write endpoint's one path
    /// into storage (or, in cluster mode, the log).
    pub(crate) fn pipeline<'a>(&'a self, storage: &'a Storage) -> crate::write::Pipeline<'a> {
        crate::write::Pipeline::new(
            storage,
            &self.limiter,
            self.metrics.as_ref(),
            self.cluster.as_ref(),
            &self.push_groups,
        )
    }

    /// Sets a shared authenticator.
    pub fn with_shared_authenticator(self, auth: Arc<crate::auth::Authenticator>) -> AppState {
        self.set_authenticator(auth);
        self
    }

    /// How callers are authenticated.
    pub fn authenticator(&self) -> Arc<crate::auth::Authenticator> {
        self.auth
            .read()
            .clone()
            .unwrap_or_else(caller::default_authenticator)
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
    pub(crate) fn push_groups(&self) -> Arc<crate::write::PushGroups> {
        self.push_groups.clone()
    }

    /// The storage, or 503 while it is still being opened.
    pub(crate) fn require_storage(&self) -> Result<Arc<Storage>, ApiError> {
        self.storage()
            .ok_or_else(|| ApiError::Unavailable("storage is still opening".into()))
    }
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// The Prometheus query API (`/api/v1/...` read endpoints), gzip-compressed
/// when the client accepts it.
fn query_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route("/api/v1/series", get(meta::series).post(meta::series))
        .route("/api/v1/labels", get(meta::labels).post(meta::labels))
        .route("/api/v1/label/{name}/values", get(meta::label_values))
        .route("/api/v1/metadata", get(meta::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(exemplars::query_exemplars).post(exemplars::query_exemplars),
        )
        .route(
            "/api/v1/format_query",
            get(meta::format_query).post(meta::format_query),
        )
        .route("/api/v1/status/buildinfo", get(meta::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(meta::runtimeinfo))
        .route("/api/v1/status/flags", get(meta::flags))
        .route("/api/v1/rules", get(meta::rules))
        .route("/api/v1/alerts", get(meta::alerts))
        .route_layer(axum::middleware::from_fn_with_state(state, request_timeout))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// Bounds every query-API request by the query timeout (plus a second for
/// encoding); a request past it gets Prometheus's `timeout` error (503).
async fn request_timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.engine().config().timeout + std::time::Duration::from_secs(1);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout(format!("request timed out after {}s", limit.as_secs()))
            .into_response(),
    }
}

/// Builds the router with every endpoint.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/-/healthy", get(health::healthy))
        .route("/-/ready", get(health::ready))
        .route("/-/reload", post(admin::reload))
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/read", post(read::remote_read))
        .route("/otlp/v1/metrics", post(otlp::metrics))
        .route("/api/v1/otlp/v1/metrics", post(otlp::metrics))
        .route("/api/v1/admin/tsdb/flush", post(admin::flush))
        .route(
            "/federate",
            get(federate::federate).post(federate::federate),
        )
        .route("/api/v1/status/tsdb", get(status_tsdb::status_tsdb))
        .route("/api/v1/status/whoami", get(whoami::whoami))
        .route("/api/v1/status/usage", get(usage::status_usage))
        .route("/api/v1/admin/tenants", get(usage::list_tenants))
        .route(
            "/api/v1/admin/tenants/{tenant}",
            axum::routing::delete(usage::delete_tenant),
        )
        .route("/api/v1/status/cluster", get(cluster::status))
        .route(crate::cluster::READ_PATH, post(cluster::read))
        .merge(ui::routes())
        .merge(import::routes())
        .merge(push::routes())
        .route("/metrics", get(metrics::metrics))
        .merge(query_routes(state.clone()))
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
