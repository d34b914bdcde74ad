//! This node's handle on the cluster: the NATS connection, the stream and
//! buckets, publishing writes, and the status page's data.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::Publish, kv, stream};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use super::consume::Owned;
use super::pieces::{deletion, message_id, split, split_extras};
use super::wire::TENANT_HEADER;
use super::{subject, ClusterConfig, ClusterError, LEASES_BUCKET, NODES_BUCKET, STREAM};
use crate::storage::{ExemplarInput, MetricMetadata, SeriesInput, StorageConfig, StorageError};
use crate::tenant::TenantId;

/// How long a write may spend publishing (all attempts) before it is
/// answered 503.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one publish attempt waits for the stream's acknowledgement.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the stream remembers message ids to drop duplicates.
pub(crate) const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// What this node last saw of the cluster (refreshed by the lease loop).
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    /// Live nodes: id → advertise URL.
    pub nodes: BTreeMap<String, String>,
    /// Owner of each partition, if any.
    pub owners: Vec<Option<String>>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub published_messages: AtomicU64,
    pub duplicate_messages: AtomicU64,
    pub publish_failures: AtomicU64,
    pub takeovers: AtomicU64,
    pub releases: AtomicU64,
    pub lost_leases: AtomicU64,
    pub consumed_messages: AtomicU64,
    pub replayed_messages: AtomicU64,
    pub bad_messages: AtomicU64,
    pub append_failures: AtomicU64,
    pub consumer_restarts: AtomicU64,
    pub fanout_requests: AtomicU64,
    pub fanout_failures: AtomicU64,
    pub push_group_conflicts: AtomicU64,
}

pub(crate) struct Inner {
    pub cfg: ClusterConfig,
    pub js: jetstream::Context,
    pub stream: stream::Stream,
    pub leases: kv::Store,
    pub nodes: kv::Store,
    /// Push-group registries, one key per tenant.
    pub push_groups: kv::Store,
    /// The storage settings each owned partition starts from.
    pub template: StorageConfig,
    pub owned: Mutex<BTreeMap<u32, Arc<Owned>>>,
    pub view: RwLock<View>,
    pub http: reqwest_s3::Client,
    pub handle: tokio::runtime::Handle,
    pub counters: Counters,
    /// Last stream sequence per partition, as last seen by the lease loop.
    pub last_seq: Mutex<HashMap<u32, u64>>,
}

/// The cluster as this node takes part in it.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) inner: Arc<Inner>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// `/api/v1/status/cluster`.
#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    /// This node.
    pub node_id: String,
    /// Partitions of the log.
    pub partitions: u32,
    /// Live nodes.
    pub nodes: Vec<NodeStatus>,
    /// Every partition.
    pub partition_status: Vec<PartitionStatus>,
}

/// A live node.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    /// Its id.
    pub id: String,
    /// Its advertise URL.
    pub url: String,
    /// Partitions it owns.
    pub owns: Vec<u32>,
}

/// One partition.
#[derive(Debug, Serialize)]
pub struct PartitionStatus {
    /// Its number.
    pub partition: u32,
    /// Its owner, if any.
    pub owner: Option<String>,
    /// Last sequence in the stream on its subject.
    pub last_sequence: u64,
    /// Consumed up to (only for partitions this node owns).
    pub consumed_sequence: Option<u64>,
    /// Messages behind (only for partitions this node owns).
    pub lag: Option<u64>,
    /// The first sequence this node consumed after taking the partition
    /// (one past what its shipped blocks cover; only for partitions this
    /// node owns).
    pub replay_from: Option<u64>,
}

impl Cluster {
    /// Connects to NATS, creates or opens the stream and buckets (retrying
    /// while JetStream elects its leaders, up to a minute), and starts the
    /// lease loop. Partition storages live under
    /// `<template.data_dir>/partitions/<p>/`.
    pub async fn start(
        cfg: ClusterConfig,
        template: StorageConfig,
    ) -> Result<Cluster, ClusterError> {
        let urls = cfg.nats_urls.join(",");
        let failed = |why: String| ClusterError::Connect {
            urls: urls.clone(),
            why,
        };
        let mut opts = async_nats::ConnectOptions::new()
            .name(format!("tessera-{}", cfg.node_id))
            .connection_timeout(Duration::from_secs(5));
        let auth = &cfg.nats_auth;
        if let Some(creds) = &auth.creds {
            opts = opts
                .credentials_file(creds)
                .await
                .map_err(|e| failed(format!("cluster.nats_creds {}: {e}", creds.display())))?;
        }
        if let Some(ca) = &auth.tls_ca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &auth.tls_client {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        let client = opts
            .connect(cfg.nats_urls.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let js = jetstream::new(client);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let (stream, leases, nodes, push_groups) = loop {
            match setup(&js, &cfg).await {
                Ok(v) => break v,
                Err(e) if tokio::time::Instant::now() < deadline && !e.starts_with("the log") => {
                    tracing::info!(error = %e, "JetStream not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(ClusterError::Setup(e)),
            }
        };
        crate::storage::bucket::url::install_tls_provider();
        let http = reqwest_s3::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| ClusterError::Setup(format!("HTTP client: {e}")))?;
        let inner = Arc::new(Inner {
            view: RwLock::new(View {
                nodes: BTreeMap::new(),
                owners: vec![None; cfg.partitions as usize],
            }),
            cfg,
            js,
            stream,
            leases,
            nodes,
            push_groups,
            template,
            owned: Mutex::new(BTreeMap::new()),
            http,
            handle: tokio::runtime::Handle::current(),
            counters: Counters::default(),
            last_seq: Mutex::new(HashMap::new()),
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(super::leases::run(inner.clone(), stopped));
        tracing::info!(
            node = %inner.cfg.node_id,
            partitions = inner.cfg.partitions,
            "joined the cluster"
        );
        Ok(Cluster { inner, stop })
    }

    /// This node's settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.cfg
    }

    /// Publishes a write to the log and waits until the stream holds every
    /// part (blocking: call it off the async workers). Each message's
    /// `Nats-Msg-Id` is a hash of the tenant, partition, piece and payload,
    /// so a retried request within the stream's duplicate window is
    /// dropped by the stream, not stored twice. Returns the indexes of
    /// series whose histograms were not published because one of them
    /// encodes to more than the log takes (448 KiB; the
    /// series' floats are published).
    pub fn publish(
        &self,
        tenant: &TenantId,
        batch: &[SeriesInput<'_>],
        start_times: Option<&[&[i64]]>,
    ) -> Result<Vec<usize>, StorageError> {
        let (messages, too_large) = split(&self.inner.cfg, tenant, batch, start_times);
        self.send(tenant, messages)?;
        Ok(too_large)
    }

    /// Publishes a request's metric metadata and exemplars to the log
    /// (blocking, after its samples: the owners store exemplars of series
    /// they hold), acknowledged as [`Cluster::publish`]'s messages are.
    pub fn publish_extras(
        &self,
        tenant: &TenantId,
        metadata: &[MetricMetadata],
        exemplars: &[ExemplarInput<'_>],
    ) -> Result<(), StorageError> {
        let messages = split_extras(&self.inner.cfg, tenant, metadata, exemplars);
        self.send(tenant, messages)
    }

    /// Logs the deletion of `tenant` in every partition (blocking); each
    /// owner deletes the tenant's data in its partition (storage and
    /// shipped blocks) when it consumes the record, after everything
    /// written before it. Returns how many partitions got the record.
    pub fn publish_deletion(&self, tenant: &TenantId) -> Result<u32, StorageError> {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_millis() as i64);
        let messages = deletion(&self.inner.cfg, at);
        let n = messages.len() as u32;
        self.send(tenant, messages)?;
        Ok(n)
    }

    /// Sends `(partition, piece, payload)` messages and waits for every
    /// acknowledgement.
    fn send(
        &self,
        tenant: &TenantId,
        messages: Vec<(u32, u32, Vec<u8>)>,
    ) -> Result<(), StorageError> {
        if messages.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + PUBLISH_TIMEOUT;
        let result = inner.handle.block_on(async {
            let sends = messages.into_iter().map(|(p, piece, payload)| {
                let id = message_id(tenant, p, piece, &payload);
                publish_one(&inner.js, tenant, p, id, payload.into(), deadline)
            });
            let acks = futures::future::join_all(sends).await;
            let n = acks.len() as u64;
            let mut duplicates = 0u64;
            for ack in acks {
                duplicates += u64::from(ack?);
            }
            Ok::<_, String>((n, duplicates))
        });
        match result {
            Ok((n, dup)) => {
                inner
                    .counters
                    .published_messages
                    .fetch_add(n, Ordering::Relaxed);
                inner
                    .counters
                    .duplicate_messages
                    .fetch_add(dup, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                inner
                    .counters
                    .publish_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(StorageError::Cluster(format!(
                    "write not acknowledged by the log, retry: {e}"
                )))
            }
        }
    }

    /// Flushes `tenant`'s head into blocks in every partition this node
    /// owns (blocking), which ships them when a bucket is set.
    pub fn flush_owned(&self, tenant: &TenantId) -> Result<(), StorageError> {
        let owned: Vec<_> = self.inner.owned.lock().values().cloned().collect();
        for o in owned {
            o.storage.flush(tenant)?;
        }
        Ok(())
    }

    /// Nodes, partitions, owners and this node's consumer lag.
    pub fn status(&self) -> ClusterStatus {
        let view = self.inner.view.read().clone();
        let last = self.inner.last_seq.lock().clone();
        let owned = self.inner.owned.lock().clone();
        let partition_status = (0..self.inner.cfg.partitions)
            .map(|p| {
                let last_sequence = last.get(&p).copied().unwrap_or(0);
                let consumed = owned.get(&p).map(|o| o.consumed());
                PartitionStatus {
                    partition: p,
                    owner: view.owners.get(p as usize).cloned().flatten(),
                    last_sequence,
                    consumed_sequence: consumed,
                    lag: consumed.map(|c| last_sequence.saturating_sub(c)),
                    replay_from: owned.get(&p).map(|o| o.replay_from),
                }
            })
            .collect();
        let nodes = view
            .nodes
            .iter()
            .map(|(id, url)| NodeStatus {
                id: id.clone(),
                url: url.clone(),
                owns: (0..self.inner.cfg.partitions)
                    .filter(|&p| {
                        view.owners.get(p as usize).cloned().flatten().as_ref() == Some(id)
                    })
                    .collect(),
            })
            .collect();
        ClusterStatus {
            node_id: self.inner.cfg.node_id.clone(),
            partitions: self.inner.cfg.partitions,
            nodes,
            partition_status,
        }
    }

    /// Metric lines (`tessera_cluster_*`) in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let c = &self.inner.counters;
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        };
        counter(
            &mut out,
            "tessera_cluster_published_messages_total",
            "Log messages acknowledged by the stream.",
            &c.published_messages,
        );
        counter(
            &mut out,
            "tessera_cluster_duplicate_messages_total",
            "Published messages the stream dropped as duplicates (retried requests).",
            &c.duplicate_messages,
        );
        counter(
            &mut out,
            "tessera_cluster_publish_failures_total",
            "Writes answered 503 because the log did not acknowledge them.",
            &c.publish_failures,
        );
        counter(
            &mut out,
            "tessera_cluster_takeovers_total",
            "Partitions this node took ownership of.",
            &c.takeovers,
        );
        counter(
            &mut out,
            "tessera_cluster_releases_total",
            "Partitions this node handed back to balance the cluster.",
            &c.releases,
        );
        counter(
            &mut out,
            "tessera_cluster_lost_leases_total",
            "Partition leases this node lost (renewal failed or another node holds it).",
            &c.lost_leases,
        );
        counter(
            &mut out,
            "tessera_cluster_consumed_messages_total",
            "Log messages applied to owned partitions.",
            &c.consumed_messages,
        );
        counter(
            &mut out,
            "tessera_cluster_replayed_messages_total",
            "Log messages applied while catching up after taking a partition over (up to its last sequence at the takeover).",
            &c.replayed_messages,
        );
        counter(
            &mut out,
            "tessera_cluster_bad_messages_total",
            "Log messages that did not decode and were skipped.",
            &c.bad_messages,
        );
        counter(
            &mut out,
            "tessera_cluster_append_failures_total",
            "Log messages whose append to storage failed (retried).",
            &c.append_failures,
        );
        counter(
            &mut out,
            "tessera_cluster_consumer_restarts_total",
            "Times a partition's log consumer was recreated (it failed, or delivered nothing while the log held more).",
            &c.consumer_restarts,
        );
        counter(
            &mut out,
            "tessera_cluster_fanout_requests_total",
            "Reads sent to partition owners.",
            &c.fanout_requests,
        );
        counter(
            &mut out,
            "tessera_cluster_fanout_failures_total",
            "Reads to partition owners that failed.",
            &c.fanout_failures,
        );
        counter(
            &mut out,
            "tessera_cluster_push_group_conflicts_total",
            "Push-group registry changes retried because another write changed the tenant's registry first.",
            &c.push_group_conflicts,
        );
        let last = self.inner.last_seq.lock().clone();
        let owned = self.inner.owned.lock().clone();
        let gauge = |out: &mut String, name: &str, help: &str| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        };
        let name = "tessera_cluster_owned_partitions";
        gauge(&mut out, name, "Partitions this node owns.");
        out.push_str(&format!("{name} {}\n", owned.len()));
        let name = "tessera_cluster_consumer_lag_messages";
        gauge(
            &mut out,
            name,
            "Log sequences between a partition's last message and what this node consumed.",
        );
        for (p, o) in &owned {
            let lag = last
                .get(p)
                .copied()
                .unwrap_or(0)
                .saturating_sub(o.consumed());
            out.push_str(&format!("{name}{{partition=\"{p}\"}} {lag}\n"));
        }
        out
    }

    /// Stops the lease loop, hands back this node's leases so others take
    /// over at once, and closes the partition storages.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        super::leases::release_all(&self.inner).await;
    }
}

/// Publishes one message until the stream acknowledges it or `deadline`
/// passes; returns whether the stream called it a duplicate. Retrying is
/// safe because the message id makes the stream drop a second copy; it
/// carries writes over a NATS server's death or a stream leader election.
async fn publish_one(
    js: &jetstream::Context,
    tenant: &TenantId,
    p: u32,
    id: String,
    payload: bytes::Bytes,
    deadline: tokio::time::Instant,
) -> Result<bool, String> {
    let mut backoff = Duration::from_millis(50);
    loop {
        let msg = Publish::build()
            .payload(payload.clone())
            .message_id(id.as_str())
            .header(TENANT_HEADER, tenant.as_str());
        let attempt = async {
            let ack = js
                .send_publish(subject(p), msg)
                .await
                .map_err(|e| format!("publishing to partition {p}: {e}"))?;
            ack.await
                .map_err(|e| format!("partition {p}: the stream did not acknowledge: {e}"))
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let err = match tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), attempt).await {
            Ok(Ok(ack)) => return Ok(ack.duplicate),
            Ok(Err(e)) => e,
            Err(_) => format!("partition {p}: no acknowledgement from the stream in time"),
        };
        if tokio::time::Instant::now() + backoff >= deadline {
            return Err(err);
        }
        tracing::debug!(partition = p, error = %err, "publish failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(800));
    }
}

/// Creates or opens the stream and the buckets (leases, nodes, push
/// groups); a `String` error starting with "the log" is a settings
/// mismatch, not worth retrying.
async fn setup(
    js: &jetstream::Context,
    cfg: &ClusterConfig,
) -> Result<(stream::Stream, kv::Store, kv::Store, kv::Store), String> {
    let description = format!("tessera ingest log, partitions={}", cfg.partitions);
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: STREAM.to_string(),
            description: Some(description.clone()),
            subjects: vec![format!("{}.*", super::SUBJECT_PREFIX)],
            max_age: cfg.retention,
            num_replicas: cfg.replicas,
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {STREAM}: {e}"))?;
    let info = stream
        .info()
        .await
        .map_err(|e| format!("stream {STREAM}: {e}"))?;
    if info.config.description.as_deref() != Some(description.as_str()) {
        return Err(format!(
            "the log {STREAM} was made with other settings ({:?}); cluster.partitions is {}",
            info.config.description, cfg.partitions
        ));
    }
    let leases = bucket(js, LEASES_BUCKET, cfg).await?;
    let nodes = bucket(js, NODES_BUCKET, cfg).await?;
    let push_groups = super::push_groups::bucket(js, cfg).await?;
    Ok((stream, leases, nodes, push_groups))
}

async fn bucket(
    js: &jetstream::Context,
    name: &str,
    cfg: &ClusterConfig,
) -> Result<kv::Store, String> {
    open_bucket(
        js,
        kv::Config {
            bucket: name.to_string(),
            history: 1,
            max_age: cfg.lease_ttl,
            num_replicas: cfg.replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await
}

/// Opens the key-value bucket `config` names, creating it with `config`
/// when it does not exist yet (another node may create it first).
pub(crate) async fn open_bucket(
    js: &jetstream::Context,
    config: kv::Config,
) -> Result<kv::Store, String> {
    let name = config.bucket.clone();
    if let Ok(b) = js.get_key_value(&name).await {
        return Ok(b);
    }
    match js.create_key_value(config).await {
        Ok(b) => Ok(b),
        // Another node made it first.
        Err(e) => js
            .get_key_value(&name)
            .await
            .map_err(|_| format!("key-value bucket {name}: {e}")),
    }
}
