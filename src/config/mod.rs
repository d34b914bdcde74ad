//! The `tessera serve` configuration: a YAML file whose keys mirror every
//! command-line flag, plus ingest limits with per-tenant overrides.
//!
//! Precedence: built-in defaults, then the file (`--config`), then flags.
//!
//! YAML is read with `serde_yaml` 0.9: it is the de-facto serde YAML crate,
//! its errors carry line and column (needed to point at an unknown key),
//! and its last release is stable. It is marked deprecated upstream; the
//! maintained forks keep its API, so switching later is a one-line change.

mod bytes;
mod cluster;
mod object_storage;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::duration::{parse_duration, PromDuration};
pub use bytes::{parse_bytes, ByteSize};
pub use cluster::{ClusterFlags, ClusterSection};
pub use object_storage::{CacheSection, ObjectStorageFlags, ObjectStorageSection};
pub use settings::{ServerConfig, SHUTDOWN_GRACE};

use crate::storage::{SeriesLimits, StorageConfig, SyncPolicy, TenantConfig, WalOptions};
use crate::tenant::limits::RateLimit;
use crate::tenant::TenantId;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or has an unknown key or a bad value; the
    /// message names the key and the line.
    #[error("{0}")]
    Parse(String),
    /// A value is out of range, or a tenant id is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`--listen`).
    pub listen: SocketAddr,
    /// Data directory (`--data-dir`).
    pub data_dir: PathBuf,
    /// WAL settings (`--wal.sync`, `--wal.segment-size`).
    pub wal: WalConfig,
    /// Block range (`--block-range`).
    pub block_range: PromDuration,
    /// Background maintenance period; 0 disables it (`--maintenance-interval`).
    pub maintenance_interval: PromDuration,
    /// Grace period for in-flight requests at shutdown (`--shutdown-timeout`).
    pub shutdown_timeout: PromDuration,
    /// Limits for tenants without an override.
    pub limits: Limits,
    /// Per-tenant overrides; keys left out fall back to `limits`.
    pub tenants: BTreeMap<String, Limits>,
    /// PromQL engine settings.
    pub query: QueryConfig,
    /// Connection and request bounds.
    pub web: WebConfig,
    /// Authentication and access policies (`auth.mode: none` by default).
    pub auth: crate::auth::AuthConfig,
    /// Blocks in S3-compatible object storage (`--object-storage.*`).
    pub object_storage: ObjectStorageSection,
    /// Several nodes on a NATS JetStream ingest log (`--cluster.*`).
    pub cluster: ClusterSection,
    /// Directory relative paths in the file (e.g. `auth.jwt.keys_file`) are
    /// resolved against: the config file's directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The `query:` section (flags `--query.*`), with Prometheus's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample (5m).
    pub lookback_delta: PromDuration,
    /// Most samples one query may hold at once (50000000).
    pub max_samples: u64,
    /// Most series one selector may return; 0 = unlimited.
    pub max_series: u64,
    /// Longest a query may run (2m).
    pub timeout: PromDuration,
    /// Most queries evaluated at once; more wait for a slot (20).
    pub max_concurrency: u64,
    /// Bytes of range-query results kept for reuse (128 MiB); 0 = off.
    pub results_cache_max_bytes: u64,
}

impl Default for QueryConfig {
    fn default() -> QueryConfig {
        let e = crate::promql::EngineConfig::default();
        QueryConfig {
            lookback_delta: PromDuration(Duration::from_millis(e.lookback_delta_ms as u64)),
            max_samples: e.max_samples as u64,
            max_series: e.max_series as u64,
            timeout: PromDuration(e.timeout),
            max_concurrency: crate::promql::DEFAULT_MAX_CONCURRENCY as u64,
            results_cache_max_bytes: crate::promql::cache::DEFAULT_MAX_BYTES as u64,
        }
    }
}

/// The `web:` section (flags `--web.*`): bounds on connections and
/// requests, so slow or abusive clients cannot starve the others.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Most open connections (4096).
    pub max_connections: u64,
    /// Time to send request headers; also the keep-alive idle timeout (30s).
    pub header_read_timeout: PromDuration,
    /// Time to send a whole request body (5m, as Prometheus).
    pub read_timeout: PromDuration,
    /// Most bytes of request line and headers (65536).
    pub max_header_bytes: u64,
    /// Slowest a request body may arrive after a 5s grace, bytes/s; 0 = off (240).
    pub min_body_rate: u64,
    /// Most request body bytes held by all requests at once (1073741824).
    pub max_inflight_body_bytes: u64,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        let c = crate::api::ConnLimits::default();
        WebConfig {
            max_connections: c.max_connections as u64,
            header_read_timeout: PromDuration(c.header_read_timeout),
            read_timeout: PromDuration(c.read_timeout),
            max_header_bytes: c.max_header_bytes as u64,
            min_body_rate: c.min_body_rate,
            max_inflight_body_bytes: c.max_inflight_body_bytes,
        }
    }
}

impl WebConfig {
    /// The connection bounds this section describes.
    pub fn conn_limits(&self) -> Result<crate::api::ConnLimits, ConfigError> {
        let positive = |name: &str, zero: bool| {
            if zero {
                Err(ConfigError::Invalid(format!("web.{name} must be positive")))
            } else {
                Ok(())
            }
        };
        positive("max_connections", self.max_connections == 0)?;
        positive("header_read_timeout", self.header_read_timeout.0.is_zero())?;
        positive("read_timeout", self.read_timeout.0.is_zero())?;
        positive("max_header_bytes", self.max_header_bytes == 0)?;
        positive(
            "max_inflight_body_bytes",
            self.max_inflight_body_bytes < 1024,
        )?;
        Ok(crate::api::ConnLimits {
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            header_read_timeout: self.header_read_timeout.0,
            read_timeout: self.read_timeout.0,
            max_header_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
            min_body_rate: self.min_body_rate,
            max_inflight_body_bytes: self.max_inflight_body_bytes,
        })
    }
}

impl QueryConfig {
    /// The engine settings this section describes.
    pub fn engine_config(&self) -> Result<crate::promql::EngineConfig, ConfigError> {
        if self.lookback_delta.0.is_zero() {
            return Err(ConfigError::Invalid(
                "query.lookback_delta must be positive".into(),
            ));
        }
        if self.timeout.0.is_zero() {
            return Err(ConfigError::Invalid(
                "query.timeout must be positive".into(),
            ));
        }
        Ok(crate::promql::EngineConfig {
            lookback_delta_ms: self.lookback_delta.as_millis_i64(),
            max_samples: usize::try_from(self.max_samples).unwrap_or(usize::MAX),
            max_series: usize::try_from(self.max_series).unwrap_or(usize::MAX),
            timeout: self.timeout.0,
            ..crate::promql::EngineConfig::default()
        })
    }
}

/// The `wal:` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// `none`, `always`, `batch`, `batch:<N>ms` or `batch:<N>s`.
    #[serde(deserialize_with = "de_from_str")]
    pub sync: SyncPolicy,
    /// Bytes after which a WAL segment is closed.
    pub segment_size: u64,
}

/// Mimir's default for `max_label_name_length` (bytes).
pub const DEFAULT_MAX_LABEL_NAME_LENGTH: u64 = 1024;
/// Mimir's default for `max_label_value_length` (bytes).
pub const DEFAULT_MAX_LABEL_VALUE_LENGTH: u64 = 2048;
/// Mimir's default for `max_label_names_per_series`.
pub const DEFAULT_MAX_LABEL_NAMES_PER_SERIES: u64 = 30;

/// Ingest limits; in `limits:` every key is optional (absent = unlimited /
/// off, except the three label limits, which default to Mimir's values:
/// [`DEFAULT_MAX_LABEL_NAME_LENGTH`], [`DEFAULT_MAX_LABEL_VALUE_LENGTH`],
/// [`DEFAULT_MAX_LABEL_NAMES_PER_SERIES`]; 0 makes any of them unlimited),
/// in `tenants.<id>:` absent keys inherit from `limits:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Samples per second (token bucket refill); 0 = unlimited.
    pub ingestion_rate: Option<f64>,
    /// Token bucket size in samples; 0 = one second's worth.
    pub ingestion_burst: Option<u64>,
    /// Active series per tenant; 0 = unlimited.
    pub max_series_per_tenant: Option<u64>,
    /// Active series per metric name; 0 = unlimited.
    pub max_series_per_metric: Option<u64>,
    /// Label names per series (30); 0 = unlimited.
    pub max_label_names_per_series: Option<u64>,
    /// Bytes per label name (1024); 0 = unlimited.
    pub max_label_name_length: Option<u64>,
    /// Bytes per label value (2048); 0 = unlimited.
    pub max_label_value_length: Option<u64>,
    /// How far behind a series' newest sample a sample may still land.
    pub out_of_order_window: Option<PromDuration>,
    /// Blocks older than this are deleted; 0 keeps data forever.
    pub retention: Option<PromDuration>,
    /// In cluster mode, how many of the log's partitions the tenant's
    /// series spread over (shuffle sharding); 0 = all.
    pub partitions: Option<u32>,
    /// Exemplars kept per tenant (a circular buffer, Prometheus'
    /// `max_exemplars`); absent: 100000; 0 keeps none.
    pub max_exemplars: Option<u64>,
    /// How OTLP metrics are translated (Prometheus's `otlp:` keys); a
    /// tenant's `otlp:` replaces the default one whole.
    pub otlp: Option<crate::ingest::otlp::OtlpSettings>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 9201)),
            data_dir: PathBuf::from("./data"),
            wal: WalConfig::default(),
            block_range: PromDuration(Duration::from_secs(2 * 3600)),
            maintenance_interval: PromDuration(Duration::from_secs(60)),
            shutdown_timeout: PromDuration(SHUTDOWN_GRACE),
            limits: Limits::default(),
            tenants: BTreeMap::new(),
            query: QueryConfig::default(),
            web: WebConfig::default(),
            auth: crate::auth::AuthConfig::default(),
            object_storage: ObjectStorageSection::default(),
            cluster: ClusterSection::default(),
            base_dir: PathBuf::from("."),
        }
    }
}

impl Default for WalConfig {
    fn default() -> WalConfig {
        let w = WalOptions::default();
        WalConfig {
            sync: w.sync,
            segment_size: w.segment_size,
        }
    }
}

fn de_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// Values given on the command line; each one set replaces the file's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeFlags {
    /// YAML configuration file; flags given as well override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:9201].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// WAL sync policy: none, batch, batch:<N>ms, always [default: batch].
    #[arg(long = "wal.sync")]
    pub wal_sync: Option<SyncPolicy>,
    /// WAL segment size in bytes [default: 67108864].
    #[arg(long = "wal.segment-size")]
    pub wal_segment_size: Option<u64>,
    /// Block range, e.g. 2h [default: 2h].
    #[arg(long)]
    pub block_range: Option<PromDuration>,
    /// Background flush/compaction/retention period; 0 disables [default: 1m].
    #[arg(long)]
    pub maintenance_interval: Option<PromDuration>,
    /// Grace period for in-flight requests at shutdown [default: 30s].
    #[arg(long)]
    pub shutdown_timeout: Option<PromDuration>,
    /// PromQL lookback delta [default: 5m].
    #[arg(long = "query.lookback-delta")]
    pub query_lookback_delta: Option<PromDuration>,
    /// Most samples one query may hold in memory [default: 50000000].
    #[arg(long = "query.max-samples")]
    pub query_max_samples: Option<u64>,
    /// Most series one selector may return; 0 = unlimited [default: 0].
    #[arg(long = "query.max-series")]
    pub query_max_series: Option<u64>,
    /// Longest a query may run [default: 2m].
    #[arg(long = "query.timeout")]
    pub query_timeout: Option<PromDuration>,
    /// Most queries evaluated at once; more wait for a slot [default: 20].
    #[arg(long = "query.max-concurrency")]
    pub query_max_concurrency: Option<u64>,
    /// Bytes of range-query results kept for reuse; 0 = off [default: 134217728].
    #[arg(long = "query.results-cache-max-bytes")]
    pub query_results_cache_max_bytes: Option<u64>,
    /// Most open connections; more wait to be accepted [default: 4096].
    #[arg(long = "web.max-connections")]
    pub web_max_connections: Option<u64>,
    /// Time to send request headers; also closes idle keep-alive connections [default: 30s].
    #[arg(long = "web.header-read-timeout")]
    pub web_header_read_timeout: Option<PromDuration>,
    /// Time to send a whole request body [default: 5m].
    #[arg(long = "web.read-timeout")]
    pub web_read_timeout: Option<PromDuration>,
    /// Most bytes of request line and headers [default: 65536].
    #[arg(long = "web.max-header-bytes")]
    pub web_max_header_bytes: Option<u64>,
    /// Slowest a request body may arrive after a 5s grace, bytes/s; 0 = off [default: 240].
    #[arg(long = "web.min-body-rate")]
    pub web_min_body_rate: Option<u64>,
    /// Most request body bytes held by all requests at once [default: 1073741824].
    #[arg(long = "web.max-inflight-body-bytes")]
    pub web_max_inflight_body_bytes: Option<u64>,
    /// Object storage (`--object-storage.*`).
    #[command(flatten)]
    pub object_storage: ObjectStorageFlags,
    /// Cluster membership (`--cluster.*`).
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

impl Config {
    /// Parses YAML text (an empty document gives the defaults).
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Reads and parses a YAML file; errors name the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Config::from_yaml(&text)
            .map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(cfg)
    }

    /// The file named by `--config` (or the defaults), with flags applied.
    pub fn from_flags(flags: &ServeFlags) -> Result<Config, ConfigError> {
        let mut cfg = match &flags.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        cfg.apply_flags(flags);
        Ok(cfg)
    }

    /// Replaces every value the flags set.
    pub fn apply_flags(&mut self, f: &ServeFlags) {
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = &f.data_dir {
            self.data_dir = v.clone();
        }
        if let Some(v) = f.wal_sync {
            self.wal.sync = v;
        }
        if let Some(v) = f.wal_segment_size {
            self.wal.segment_size = v;
        }
        if let Some(v) = f.block_range {
            self.block_range = v;
        }
        if let Some(v) = f.maintenance_interval {
            self.maintenance_interval = v;
        }
        if let Some(v) = f.shutdown_timeout {
            self.shutdown_timeout = v;
        }
        if let Some(v) = f.query_lookback_delta {
            self.query.lookback_delta = v;
        }
        if let Some(v) = f.query_max_samples {
            self.query.max_samples = v;
        }
        if let Some(v) = f.query_max_series {
            self.query.max_series = v;
        }
        if let Some(v) = f.query_timeout {
            self.query.timeout = v;
        }
        if let Some(v) = f.query_max_concurrency {
            self.query.max_concurrency = v;
        }
        if let Some(v) = f.query_results_cache_max_bytes {
            self.query.results_cache_max_bytes = v;
        }
        if let Some(v) = f.web_max_connections {
            self.web.max_connections = v;
        }
        if let Some(v) = f.web_header_read_timeout {
            self.web.header_read_timeout = v;
        }
        if let Some(v) = f.web_read_timeout {
            self.web.read_timeout = v;
        }
        if let Some(v) = f.web_max_header_bytes {
            self.web.max_header_bytes = v;
        }
        if let Some(v) = f.web_min_body_rate {
            self.web.min_body_rate = v;
        }
        if let Some(v) = f.web_max_inflight_body_bytes {
            self.web.max_inflight_body_bytes = v;
        }
        self.object_storage.apply_flags(&f.object_storage);
        self.cluster.apply_flags(&f.cluster);
    }

    /// The server and storage settings this configuration describes.
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        if self.block_range.0.is_zero() {
            return Err(ConfigError::Invalid("block_range must be positive".into()));
        }
        let mut storage = StorageConfig::new(&self.data_dir);
        storage.wal = WalOptions {
            segment_size: self.wal.segment_size,
            sync: self.wal.sync,
        };
        storage.block_range_ms = self.block_range.as_millis_i64();
        storage.maintenance_interval = Some(self.maintenance_interval.0).filter(|d| !d.is_zero());
        check_max_exemplars("limits", &self.limits)?;
        storage.tenant_defaults = tenant_config(&self.limits);
        storage.object_storage = self.object_storage.resolve(&self.data_dir)?;
        let cluster = self.cluster.resolve(
            self.listen,
            self.block_range.0,
            storage.object_storage.is_some(),
            &self.base_dir,
        )?;
        let mut shard_overrides = HashMap::new();
        let mut rate_overrides = HashMap::new();
        let mut otlp_overrides = HashMap::new();
        for (id, over) in &self.tenants {
            let tenant = TenantId::new(id)
                .map_err(|e| ConfigError::Invalid(format!("tenants.{id}: {e}")))?;
            let merged = self.limits.overlay(over);
            check_max_exemplars(&format!("tenants.{id}"), &merged)?;
            storage
                .tenant_overrides
                .insert(tenant.clone(), tenant_config(&merged));
            shard_overrides.insert(tenant.clone(), merged.partitions.unwrap_or(0));
            otlp_overrides.insert(tenant.clone(), merged.otlp.clone().unwrap_or_default());
            rate_overrides.insert(tenant, rate_limit(&merged));
        }
        let cluster = cluster.map(|mut c| {
            c.shard_default = self.limits.partitions.unwrap_or(0);
            c.shard_overrides = shard_overrides;
            c
        });
        Ok(ServerConfig {
            listen: self.listen,
            storage,
            cluster,
            shutdown_timeout: self.shutdown_timeout.0,
            rate_defaults: rate_limit(&self.limits),
            rate_overrides,
            otlp_defaults: self.limits.otlp.clone().unwrap_or_default(),
            otlp_overrides,
            engine: self.query.engine_config()?,
            conn: self.web.conn_limits()?,
            max_query_concurrency: match self.query.max_concurrency {
                0 => {
                    return Err(ConfigError::Invalid(
                        "query.max_concurrency must be positive".into(),
                    ))
                }
                n => usize::try_from(n).unwrap_or(usize::MAX),
            },
            results_cache_max_bytes: usize::try_from(self.query.results_cache_max_bytes)
                .unwrap_or(usize::MAX),
            auth: Some(std::sync::Arc::new(
                crate::auth::Authenticator::new(&self.auth, &self.base_dir)
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            )),
        })
    }
}

impl Limits {
    /// `self` with every key `over` sets replaced.
    pub fn overlay(&self, over: &Limits) -> Limits {
        Limits {
            ingestion_rate: over.ingestion_rate.or(self.ingestion_rate),
            ingestion_burst: over.ingestion_burst.or(self.ingestion_burst),
            max_series_per_tenant: over.max_series_per_tenant.or(self.max_series_per_tenant),
            max_series_per_metric: over.max_series_per_metric.or(self.max_series_per_metric),
            max_label_names_per_series: over
                .max_label_names_per_series
                .or(self.max_label_names_per_series),
            max_label_name_length: over.max_label_name_length.or(self.max_label_name_length),
            max_label_value_length: over.max_label_value_length.or(self.max_label_value_length),
            out_of_order_window: over.out_of_order_window.or(self.out_of_order_window),
            retention: over.retention.or(self.retention),
            partitions: over.partitions.or(self.partitions),
            max_exemplars: over.max_exemplars.or(self.max_exemplars),
            otlp: over.otlp.clone().or_else(|| self.otlp.clone()),
        }
    }
}

fn tenant_config(l: &Limits) -> TenantConfig {
    TenantConfig {
        ooo_window_ms: l.out_of_order_window.map_or(0, PromDuration::as_millis_i64),
        retention_ms: l
            .retention
            .filter(|r| !r.0.is_zero())
            .map(PromDuration::as_millis_i64),
        limits: SeriesLimits {
            max_series_per_tenant: l.max_series_per_tenant.unwrap_or(0),
            max_series_per_metric: l.max_series_per_metric.unwrap_or(0),
            max_label_names_per_series: l
                .max_label_names_per_series
                .unwrap_or(DEFAULT_MAX_LABEL_NAMES_PER_SERIES),
            max_label_name_length: l
                .max_label_name_length
                .unwrap_or(DEFAULT_MAX_LABEL_NAME_LENGTH),
            max_label_value_length: l
                .max_label_value_length
                .unwrap_or(DEFAULT_MAX_LABEL_VALUE_LENGTH),
        },
        max_exemplars: l
            .max_exemplars
            .unwrap_or(crate::storage::exemplars::DEFAULT_MAX_EXEMPLARS),
    }
}

/// Refuses a `max_exemplars` over [`MAX_EXEMPLARS_LIMIT`], naming where it
/// was set.
fn check_max_exemplars(section: &str, l: &Limits) -> Result<(), ConfigError> {
    match l.max_exemplars {
        Some(n) if n > MAX_EXEMPLARS_LIMIT => Err(ConfigError::Invalid(format!(
            "{section}.max_exemplars is {n}; at most {MAX_EXEMPLARS_LIMIT} per tenant"
        ))),
        _ => Ok(()),
    }
}

/// Largest `max_exemplars`: a full slot takes some 100 bytes, so this is
/// about 1 GB for one tenant.
pub const MAX_EXEMPLARS_LIMIT: u64 = 10_000_000;

fn rate_limit(l: &Limits) -> RateLimit {
    RateLimit {
        rate: l.ingestion_rate.unwrap_or(0.0),
        burst: l.ingestion_burst.unwrap_or(0),
    }
}
