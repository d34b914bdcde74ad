//! Several Tessera nodes on a NATS JetStream ingest log.
//!
//! The design follows Grafana Mimir's ingest storage: every write is
//! published to a replicated log (one JetStream stream, one subject per
//! partition, `tessera.ingest.<p>`) and acknowledged only once the stream
//! holds it; each partition has one owner node, recorded as a lease in a
//! JetStream key-value bucket (taken with create, renewed with update on
//! the key's revision, lost when its TTL passes), which consumes the
//! partition into today's storage engine; reads fan out to the owners of
//! the tenant's partitions and merge.
//!
//! - `partition.rs` — which partition a series goes to.
//! - `wire/` — log messages (`mod.rs`) and the internal read protocol
//!   (`read.rs`).
//! - `node.rs` — connecting, the stream and buckets, publishing.
//! - `pieces.rs` — a write split into log messages, and their ids.
//! - `leases.rs` — the lease loop: registration, renewal, takeover, release.
//! - `consume.rs` — one owned partition: its storage and its consumer.
//! - `push_groups.rs` — the push-group registries in a key-value bucket,
//!   changed by compare-and-set.
//! - `coverage.rs` — which log sequences shipped blocks cover, so a
//!   takeover replays only the rest.
//! - `reads.rs` — the read fan-out (a [`crate::storage::ReadSource`]).
//! - `serve.rs` — the owner's side of it.

mod consume;
mod coverage;
mod leases;
mod node;
pub mod partition;
mod pieces;
mod push_groups;
mod reads;
mod serve;
pub mod wire;

use std::collections::HashMap;
use std::time::Duration;

pub use node::{Cluster, ClusterStatus, NodeStatus, PartitionStatus};
pub use pieces::MAX_HISTOGRAM_BYTES;
pub use push_groups::{Change, RegistryError, MAX_PUSH_GROUPS_BYTES, PUSH_GROUPS_BUCKET};
pub use reads::{ClusterReads, ReadCounter};

use crate::tenant::TenantId;

/// The stream holding the log.
pub const STREAM: &str = "TESSERA_INGEST";
/// Subjects are `<SUBJECT_PREFIX>.<partition>`.
pub const SUBJECT_PREFIX: &str = "tessera.ingest";
/// The key-value bucket of partition leases (`p.<n>` → node id).
pub const LEASES_BUCKET: &str = "tessera_leases";
/// The key-value bucket of live nodes (node id → advertise URL).
pub const NODES_BUCKET: &str = "tessera_nodes";
/// The header carrying the consistency a read asks for (Mimir's).
pub const CONSISTENCY_HEADER: &str = "x-read-consistency";
/// The internal read path owners answer on.
pub const READ_PATH: &str = "/internal/cluster/read";

/// Cluster settings (the `cluster:` section, resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// NATS server URLs.
    pub nats_urls: Vec<String>,
    /// Credentials and TLS files for NATS.
    pub nats_auth: NatsAuth,
    /// This node's unique name.
    pub node_id: String,
    /// Where other nodes reach this node's HTTP API.
    pub advertise_url: String,
    /// Partitions of the log.
    pub partitions: u32,
    /// Replicas of the stream and buckets.
    pub replicas: usize,
    /// Lease lifetime without renewal.
    pub lease_ttl: Duration,
    /// How long the log keeps messages.
    pub retention: Duration,
    /// Longest wait of a strongly consistent read.
    pub strong_read_timeout: Duration,
    /// Partitions per tenant (0 = all) unless overridden.
    pub shard_default: u32,
    /// Per-tenant shard sizes.
    pub shard_overrides: HashMap<TenantId, u32>,
}

/// How this node authenticates to NATS and checks its servers (files
/// checked readable when the config was resolved).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NatsAuth {
    /// A credentials file (user JWT and NKey seed).
    pub creds: Option<std::path::PathBuf>,
    /// PEM CA certificates; given, TLS is required.
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM client certificate and key.
    pub tls_client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl ClusterConfig {
    /// The partitions `tenant`'s series go to.
    pub fn shard(&self, tenant: &TenantId) -> Vec<u32> {
        let n = self
            .shard_overrides
            .get(tenant)
            .copied()
            .unwrap_or(self.shard_default);
        partition::tenant_shard(tenant, self.partitions, n)
    }
}

/// The subject of partition `p`.
pub fn subject(p: u32) -> String {
    format!("{SUBJECT_PREFIX}.{p}")
}

/// Why the cluster could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS is unreachable or refused us.
    #[error("connecting to NATS at {urls}: {why}")]
    Connect {
        /// The URLs tried.
        urls: String,
        /// The client's complaint.
        why: String,
    },
    /// The stream or a bucket could not be created or opened, or differs
    /// from this node's settings.
    #[error("setting up JetStream: {0}")]
    Setup(String),
    /// Opening a partition's storage failed.
    #[error("partition {partition}: {why}")]
    Partition {
        /// The partition.
        partition: u32,
        /// What failed.
        why: String,
    },
}
