//! The settings the server runs with, resolved from the configuration:
//! plain data that `server.rs` consumes. `config/` builds them and imports
//! nothing from the server, so the dependency goes one way
//! (`server` → `config`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::api::ConnLimits;
use crate::storage::StorageConfig;
use crate::tenant::limits::RateLimit;
use crate::tenant::TenantId;

/// How long in-flight requests may run after a shutdown signal before the
/// server stops waiting for them and closes the storage anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Storage engine settings.
    pub storage: StorageConfig,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// Ingestion rate limit for tenants without an override.
    pub rate_defaults: RateLimit,
    /// Per-tenant ingestion rate limits.
    pub rate_overrides: HashMap<TenantId, RateLimit>,
    /// OTLP translation settings for tenants without an override.
    pub otlp_defaults: crate::ingest::otlp::OtlpSettings,
    /// Per-tenant OTLP translation settings.
    pub otlp_overrides: HashMap<TenantId, crate::ingest::otlp::OtlpSettings>,
    /// PromQL engine settings (lookback delta and per-query limits).
    pub engine: crate::promql::EngineConfig,
    /// Who may call; `None` is auth mode `none` (trust `X-Scope-OrgID`).
    pub auth: Option<std::sync::Arc<crate::auth::Authenticator>>,
    /// Connection and request bounds (`web.*`).
    pub conn: ConnLimits,
    /// Most PromQL queries evaluated at once (`query.max-concurrency`).
    pub max_query_concurrency: usize,
    /// Bytes of range-query results kept for reuse; 0 = off.
    pub results_cache_max_bytes: usize,
    /// Cluster membership (`cluster.*`); `None` is a single node.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl ServerConfig {
    /// Defaults (no rate limits, [`SHUTDOWN_GRACE`]) around the given
    /// address and storage settings.
    pub fn new(listen: SocketAddr, storage: StorageConfig) -> ServerConfig {
        ServerConfig {
            listen,
            storage,
            shutdown_timeout: SHUTDOWN_GRACE,
            rate_defaults: RateLimit::default(),
            engine: crate::promql::EngineConfig::default(),
            auth: None,
            rate_overrides: HashMap::new(),
            otlp_defaults: Default::default(),
            otlp_overrides: HashMap::new(),
            conn: ConnLimits::default(),
            max_query_concurrency: crate::promql::DEFAULT_MAX_CONCURRENCY,
            results_cache_max_bytes: crate::promql::cache::DEFAULT_MAX_BYTES,
            cluster: None,
        }
    }
}
