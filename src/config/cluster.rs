//! The `cluster:` section (flags `--cluster.*`): several nodes sharing a
//! NATS JetStream ingest log. Absent (no `nats_url`), the server is a
//! single node exactly as without this section.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, PromDuration};
use crate::cluster::{ClusterConfig, NatsAuth};

/// `cluster:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// Comma-separated NATS server URLs; absent = single node.
    pub nats_url: Option<String>,
    /// This node's unique name; default the hostname.
    pub node_id: Option<String>,
    /// The URL other nodes reach this node's HTTP API at.
    pub advertise_url: Option<String>,
    /// Partitions of the ingest log (fixed for the life of the stream).
    pub partitions: u32,
    /// JetStream replicas of the stream and the key-value buckets.
    pub replicas: u32,
    /// How long a partition lease lives without renewal.
    pub lease_ttl: PromDuration,
    /// How long the log keeps messages (at least a block range plus the
    /// shipping margin); default twice the block range + 1h.
    pub retention: Option<PromDuration>,
    /// Longest a `X-Read-Consistency: strong` read waits for the owners.
    pub strong_read_timeout: PromDuration,
    /// A NATS credentials file (user JWT and NKey seed, `nsc`'s `.creds`).
    pub nats_creds: Option<PathBuf>,
    /// PEM CA certificates the NATS servers' TLS certificates must chain
    /// to; given, TLS is required.
    pub nats_tls_ca: Option<PathBuf>,
    /// PEM client certificate for NATS TLS (with `nats_tls_key`).
    pub nats_tls_cert: Option<PathBuf>,
    /// PEM private key of `nats_tls_cert`.
    pub nats_tls_key: Option<PathBuf>,
}

impl Default for ClusterSection {
    fn default() -> ClusterSection {
        ClusterSection {
            nats_url: None,
            node_id: None,
            advertise_url: None,
            partitions: 16,
            replicas: 3,
            lease_ttl: PromDuration(Duration::from_secs(10)),
            retention: None,
            strong_read_timeout: PromDuration(Duration::from_secs(10)),
            nats_creds: None,
            nats_tls_ca: None,
            nats_tls_cert: None,
            nats_tls_key: None,
        }
    }
}

/// Values given as `--cluster.*` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterFlags {
    /// NATS server URLs, comma-separated [default: none, single node].
    #[arg(long = "cluster.nats-url")]
    pub nats_url: Option<String>,
    /// Unique node name [default: the hostname].
    #[arg(long = "cluster.node-id")]
    pub node_id: Option<String>,
    /// URL other nodes reach this node at, e.g. http://10.0.0.1:9201 [default: http://<listen>].
    #[arg(long = "cluster.advertise-url")]
    pub advertise_url: Option<String>,
    /// Partitions of the ingest log [default: 16].
    #[arg(long = "cluster.partitions")]
    pub partitions: Option<u32>,
    /// JetStream replicas of the log and leases [default: 3].
    #[arg(long = "cluster.replicas")]
    pub replicas: Option<u32>,
    /// Partition lease lifetime without renewal [default: 10s].
    #[arg(long = "cluster.lease-ttl")]
    pub lease_ttl: Option<PromDuration>,
    /// How long the log keeps messages [default: 2 x block range + 1h].
    #[arg(long = "cluster.retention")]
    pub retention: Option<PromDuration>,
    /// Longest wait of a strongly consistent read [default: 10s].
    #[arg(long = "cluster.strong-read-timeout")]
    pub strong_read_timeout: Option<PromDuration>,
    /// NATS credentials file (.creds) [default: none].
    #[arg(long = "cluster.nats-creds")]
    pub nats_creds: Option<PathBuf>,
    /// PEM CA certificates for NATS TLS; requires TLS [default: none].
    #[arg(long = "cluster.nats-tls-ca")]
    pub nats_tls_ca: Option<PathBuf>,
    /// PEM client certificate for NATS TLS [default: none].
    #[arg(long = "cluster.nats-tls-cert")]
    pub nats_tls_cert: Option<PathBuf>,
    /// PEM private key of the client certificate [default: none].
    #[arg(long = "cluster.nats-tls-key")]
    pub nats_tls_key: Option<PathBuf>,
}

/// Most partitions a log may have.
pub const MAX_PARTITIONS: u32 = 1024;

impl ClusterSection {
    /// Replaces every value the flags set.
    pub fn apply_flags(&mut self, f: &ClusterFlags) {
        if f.nats_url.is_some() {
            self.nats_url.clone_from(&f.nats_url);
        }
        if f.node_id.is_some() {
            self.node_id.clone_from(&f.node_id);
        }
        if f.advertise_url.is_some() {
            self.advertise_url.clone_from(&f.advertise_url);
        }
        if let Some(v) = f.partitions {
            self.partitions = v;
        }
        if let Some(v) = f.replicas {
            self.replicas = v;
        }
        if let Some(v) = f.lease_ttl {
            self.lease_ttl = v;
        }
        if f.retention.is_some() {
            self.retention = f.retention;
        }
        if let Some(v) = f.strong_read_timeout {
            self.strong_read_timeout = v;
        }
        for (mine, flag) in [
            (&mut self.nats_creds, &f.nats_creds),
            (&mut self.nats_tls_ca, &f.nats_tls_ca),
            (&mut self.nats_tls_cert, &f.nats_tls_cert),
            (&mut self.nats_tls_key, &f.nats_tls_key),
        ] {
            if flag.is_some() {
                mine.clone_from(flag);
            }
        }
    }

    /// The NATS credentials and TLS files, relative paths joined to
    /// `base_dir`; each must be a readable file, and a client certificate
    /// comes with its key.
    fn nats_auth(&self, base_dir: &Path) -> Result<NatsAuth, ConfigError> {
        let file = |key: &str, p: &Option<PathBuf>| -> Result<Option<PathBuf>, ConfigError> {
            let Some(p) = p else { return Ok(None) };
            let path = base_dir.join(p);
            std::fs::File::open(&path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "cluster.{key}: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            Ok(Some(path))
        };
        let client = match (
            file("nats_tls_cert", &self.nats_tls_cert)?,
            file("nats_tls_key", &self.nats_tls_key)?,
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(ConfigError::Invalid(
                "cluster.nats_tls_cert and cluster.nats_tls_key go together: set both or neither"
                    .into(),
            )),
        };
        Ok(NatsAuth {
            creds: file("nats_creds", &self.nats_creds)?,
            tls_ca: file("nats_tls_ca", &self.nats_tls_ca)?,
            tls_client: client,
        })
    }

    /// The cluster settings, `None` without `nats_url`.
    pub fn resolve(
        &self,
        listen: std::net::SocketAddr,
        block_range: Duration,
        has_bucket: bool,
        base_dir: &Path,
    ) -> Result<Option<ClusterConfig>, ConfigError> {
        let Some(url) = self.nats_url.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let urls: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if urls.is_empty() {
            return bad("cluster.nats_url is empty".into());
        }
        if !has_bucket {
            return bad(
                "cluster mode needs object storage: set object_storage.url (--object-storage.url)"
                    .into(),
            );
        }
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return bad(format!(
                "cluster.partitions must be between 1 and {MAX_PARTITIONS}, got {}",
                self.partitions
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!(
                "cluster.replicas must be between 1 and 5 (JetStream's limit), got {}",
                self.replicas
            ));
        }
        if self.lease_ttl.0 < Duration::from_secs(1) {
            return bad("cluster.lease_ttl must be at least 1s".into());
        }
        if self.strong_read_timeout.0.is_zero() {
            return bad("cluster.strong_read_timeout must be positive".into());
        }
        let node_id = match &self.node_id {
            Some(n) => n.clone(),
            None => hostname().ok_or_else(|| {
                ConfigError::Invalid(
                    "cluster.node_id is not set and the hostname is unknown".into(),
                )
            })?,
        };
        if node_id.is_empty()
            || node_id.len() > 64
            || !node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad(format!(
                "cluster.node_id {node_id:?} must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'"
            ));
        }
        let advertise_url = match &self.advertise_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{listen}"),
        };
        if !advertise_url.starts_with("http://") && !advertise_url.starts_with("https://") {
            return bad(format!(
                "cluster.advertise_url {advertise_url:?} must start with http:// or https://"
            ));
        }
        let retention = self
            .retention
            .map_or(2 * block_range + Duration::from_secs(3600), |r| r.0);
        if retention < block_range {
            return bad(format!(
                "cluster.retention ({retention:?}) must be at least the block range ({block_range:?})"
            ));
        }
        let nats_auth = self.nats_auth(base_dir)?;
        Ok(Some(ClusterConfig {
            nats_urls: urls,
            nats_auth,
            node_id,
            advertise_url,
            partitions: self.partitions,
            replicas: self.replicas as usize,
            lease_ttl: self.lease_ttl.0,
            retention,
            strong_read_timeout: self.strong_read_timeout.0,
            shard_default: 0,
            shard_overrides: Default::default(),
        }))
    }
}

fn hostname() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let h = raw.trim().split('.').next()?.to_string();
    (!h.is_empty()).then_some(h)
}
