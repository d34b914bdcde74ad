//! Reads in cluster mode: the fan-out from the node a query arrives at to
//! the owners of the tenant's partitions, and the owners' side of it.
//!
//! The querying node evaluates PromQL itself; only raw series cross the
//! network. Each owner answers for the partitions it holds, in one request
//! per owner; the querying node merges the answers by label set keeping
//! one sample per timestamp, which also removes what a takeover stored
//! twice. A strong read first learns each partition's last stream sequence
//! and the owners wait until they have consumed that far.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use super::node::{Cluster, Inner};
use super::wire::{ReadOp, ReadReply, ReadRequest, WireMatcher, WireRead};
use super::READ_PATH;
use crate::model::{Exemplar, Labels, Sample};
use crate::storage::{
    EachSeries, ExemplarSeries, HeadPairs, Matcher, MetricMetadata, ReadSource, SeriesValues,
    StorageError, TenantReader, TsdbStatus,
};
use crate::tenant::TenantId;

/// Most bytes of an owner's answer kept in an error message.
const ERROR_BODY_BYTES: usize = 300;

/// The read source of one request in cluster mode.
pub struct ClusterReads {
    inner: Arc<Inner>,
    /// Credential headers forwarded to owners, which check them again.
    headers: Vec<(String, String)>,
    strong: bool,
    /// Most samples a read may gather from the owners.
    max_samples: usize,
    /// Last sequence per partition, fetched once per strong request.
    waits: Mutex<HashMap<u32, u64>>,
    /// When a strong request gives up waiting for the owners, however
    /// many selects and retries it makes: one `strong_read_timeout` from
    /// the request's start, so a caller hears 503 in bounded time.
    deadline: std::time::Instant,
    /// Told how many samples and histograms a select delivered, per
    /// tenant (usage: on one node the querier counts them).
    on_read: Option<ReadCounter>,
}

/// Counts samples read for a tenant (see [`ClusterReads::counting`]).
pub type ReadCounter = Arc<dyn Fn(&TenantId, u64) + Send + Sync>;

impl ClusterReads {
    /// This read source, telling `f` the samples and histograms each
    /// select delivers after the merge, as one node's querier counts
    /// what it returns.
    pub fn counting(mut self, f: ReadCounter) -> ClusterReads {
        self.on_read = Some(f);
        self
    }
}

impl Cluster {
    /// A read source for one request: `headers` are the caller's
    /// credential headers (forwarded so each owner authenticates the
    /// caller itself), `strong` whether `X-Read-Consistency: strong` was
    /// asked for, `max_samples` the query's sample limit: a read that
    /// would gather more from the owners fails with the limit's error.
    pub fn reads(
        &self,
        headers: Vec<(String, String)>,
        strong: bool,
        max_samples: usize,
    ) -> ClusterReads {
        ClusterReads {
            inner: self.inner.clone(),
            headers,
            strong,
            max_samples,
            waits: Mutex::new(HashMap::new()),
            deadline: std::time::Instant::now() + self.inner.cfg.strong_read_timeout,
            on_read: None,
        }
    }

    /// The owner's side of a read: answers from the partitions this node
    /// owns (blocking). `matchers` are the request's, with the caller's
    /// policy already applied by the API layer.
    pub fn serve_read(
        &self,
        req: &ReadRequest,
        matchers: &[Matcher],
    ) -> Result<ReadReply, StorageError> {
        super::serve::serve_local(&self.inner, req, matchers)
    }
}

impl ReadSource for ClusterReads {
    fn reader<'a>(&'a self, tenant: &TenantId, mint: i64, maxt: i64) -> Box<dyn TenantReader + 'a> {
        Box::new(ClusterReader {
            reads: self,
            tenant: tenant.clone(),
            mint,
            maxt,
        })
    }

    /// Each owner's exemplars, merged by series; a series two owners
    /// answer for (a takeover's overlap) keeps one exemplar per timestamp.
    fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<ExemplarSeries>, StorageError> {
        let mut merged: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for reply in self.fetch(tenant, start, end, ReadOp::Exemplars, matchers)? {
            for s in reply.exemplars {
                let s = s.into_series();
                let have = merged.entry(s.labels).or_default();
                have.extend(s.exemplars);
                have.sort_by_key(|e| e.t);
                have.dedup_by_key(|e| e.t);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, exemplars)| ExemplarSeries { labels, exemplars })
            .collect())
    }

    /// The metadata every owner holds (each metric's lives in the
    /// partition its name hashes to), by metric name.
    fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
    ) -> Result<Vec<MetricMetadata>, StorageError> {
        let op = ReadOp::Metadata {
            metric: metric.map(str::to_string),
        };
        let mut by_name = BTreeMap::new();
        for reply in self.fetch(tenant, 0, 0, op, &[])? {
            for m in reply.metadata {
                by_name.entry(m.metric.clone()).or_insert(m);
            }
        }
        Ok(by_name.into_values().collect())
    }

    /// Every owned partition's head statistics, summed
    /// ([`TsdbStatus::merge`]): the same lists one node holding all the
    /// series would rank.
    fn tsdb_status(&self, tenant: &TenantId, limit: usize) -> Result<TsdbStatus, StorageError> {
        let mut heads = Vec::new();
        for reply in self.fetch(tenant, 0, 0, ReadOp::TsdbStatus, &[])? {
            heads.extend(reply.heads.into_iter().map(HeadPairs::from));
        }
        Ok(TsdbStatus::merge(&heads, limit))
    }
}

struct ClusterReader<'a> {
    reads: &'a ClusterReads,
    tenant: TenantId,
    mint: i64,
    maxt: i64,
}

pub(crate) type Merged = BTreeMap<Labels, SeriesValues>;

impl ClusterReader<'_> {
    fn fetch(&self, op: ReadOp, matchers: &[Matcher]) -> Result<Vec<ReadReply>, StorageError> {
        self.reads
            .fetch(&self.tenant, self.mint, self.maxt, op, matchers)
    }
}

impl TenantReader for ClusterReader<'_> {
    fn select_each_st(
        &self,
        matchers: &[Matcher],
        with_st: bool,
        f: &mut EachSeries<'_>,
    ) -> Result<(), StorageError> {
        if matchers.iter().all(|m| m.matches("")) {
            return Err(StorageError::EmptyMatchers);
        }
        let mut merged = Merged::new();
        for reply in self.fetch(ReadOp::Select { with_st }, matchers)? {
            merge_wire(&mut merged, reply.series)?;
        }
        let read: usize = merged
            .values()
            .map(|v| v.samples.len() + v.histograms.len())
            .sum();
        if let Some(count) = &self.reads.on_read {
            count(&self.tenant, read as u64);
        }
        for (labels, v) in merged {
            if !f(labels, v) {
                break;
            }
        }
        Ok(())
    }

    fn select_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, StorageError> {
        let mut out = BTreeSet::new();
        for reply in self.fetch(ReadOp::Labels, matchers)? {
            out.extend(
                reply
                    .series
                    .into_iter()
                    .map(|s| Labels::from_pairs(s.labels)),
            );
        }
        Ok(out.into_iter().collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        limit: Option<usize>,
    ) -> Result<Vec<String>, StorageError> {
        let mut out = BTreeSet::new();
        for reply in self.fetch(ReadOp::Names { limit }, matchers)? {
            out.extend(reply.strings);
        }
        Ok(limited(out, limit))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        limit: Option<usize>,
    ) -> Result<Vec<String>, StorageError> {
        let op = ReadOp::Values {
            name: name.to_string(),
            limit,
        };
        let mut out = BTreeSet::new();
        for reply in self.fetch(op, matchers)? {
            out.extend(reply.strings);
        }
        Ok(limited(out, limit))
    }
}

pub(crate) fn limited(set: BTreeSet<String>, limit: Option<usize>) -> Vec<String> {
    set.into_iter().take(limit.unwrap_or(usize::MAX)).collect()
}

/// Adds a series to `merged`, keeping one sample and one histogram per
/// timestamp.
pub(crate) fn merge_series(merged: &mut Merged, labels: Labels, v: SeriesValues) {
    match merged.get_mut(&labels) {
        None => {
            merged.insert(labels, v);
        }
        Some(have) => {
            have.samples.extend(v.samples);
            have.samples.sort_by_key(|s| s.t);
            have.samples.dedup_by_key(|s| s.t);
            have.histograms.extend(v.histograms);
            have.histograms.sort_by_key(|h| h.t);
            have.histograms.dedup_by_key(|h| h.t);
            have.start_times.extend(v.start_times);
            have.start_times.sort_unstable();
            have.start_times.dedup_by_key(|x| x.0);
        }
    }
}

fn merge_wire(merged: &mut Merged, series: Vec<WireRead>) -> Result<(), StorageError> {
    for s in series {
        let samples = s
            .samples
            .iter()
            .map(|&(t, b)| Sample::new(t, f64::from_bits(b)))
            .collect();
        let histograms = s
            .decode_histograms()
            .map_err(|e| StorageError::Cluster(format!("an owner's answer: {e}")))?;
        let v = SeriesValues {
            samples,
            histograms,
            start_times: s.st,
        };
        merge_series(merged, Labels::from_pairs(s.labels), v);
    }
    Ok(())
}

/// How many times a fan-out is tried while partitions change owner.
const FETCH_ATTEMPTS: u32 = 3;

impl ClusterReads {
    /// [`ClusterReads::fetch_once`], tried again (after the lease loop
    /// has refreshed this node's view) when an owner was unreachable or a
    /// partition had moved: a takeover or a rebalance is a brief state.
    fn fetch(
        &self,
        tenant: &TenantId,
        mint: i64,
        maxt: i64,
        op: ReadOp,
        matchers: &[Matcher],
    ) -> Result<Vec<ReadReply>, StorageError> {
        let mut attempt = 1;
        loop {
            match self.fetch_once(tenant, mint, maxt, op.clone(), matchers) {
                Err(StorageError::Cluster(e))
                    if attempt < FETCH_ATTEMPTS && !self.out_of_time() =>
                {
                    tracing::debug!(error = %e, attempt, "fan-out failed; retrying with a fresh view");
                    std::thread::sleep(self.inner.cfg.lease_ttl / 3);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Whether a strong read has used up its time (a weak read never has).
    fn out_of_time(&self) -> bool {
        self.strong && std::time::Instant::now() >= self.deadline
    }

    /// What is left of a strong read's time, in whole milliseconds (at
    /// least 1, so an owner still looks once).
    fn wait_budget_ms(&self) -> Option<u64> {
        self.strong.then(|| {
            let left = self
                .deadline
                .saturating_duration_since(std::time::Instant::now());
            (left.as_millis() as u64).max(1)
        })
    }

    fn fetch_once(
        &self,
        tenant: &TenantId,
        mint: i64,
        maxt: i64,
        op: ReadOp,
        matchers: &[Matcher],
    ) -> Result<Vec<ReadReply>, StorageError> {
        let inner = &self.inner;
        let shard = inner.cfg.shard(tenant);
        let waits = if self.strong {
            self.wait_sequences(&shard)?
        } else {
            HashMap::new()
        };
        let view = inner.view.read().clone();
        let mut by_owner: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for &p in &shard {
            match view.owners.get(p as usize).cloned().flatten() {
                Some(o) => by_owner.entry(o).or_default().push(p),
                None => {
                    return Err(StorageError::Cluster(format!(
                        "partition {p} has no owner yet (a takeover may be in progress); retry"
                    )))
                }
            }
        }
        let wire: Vec<WireMatcher> = matchers.iter().map(WireMatcher::from_matcher).collect();
        let mut calls = Vec::new();
        for (owner, partitions) in by_owner {
            let req = ReadRequest {
                tenant: tenant.as_str().to_string(),
                wait: partitions
                    .iter()
                    .filter_map(|p| waits.get(p).map(|&s| (*p, s)))
                    .collect(),
                partitions,
                mint,
                maxt,
                op: op.clone(),
                matchers: wire.clone(),
                max_samples: Some(self.max_samples),
                wait_ms: self.wait_budget_ms(),
            };
            let url = view.nodes.get(&owner).cloned();
            calls.push(self.call(owner, url, req, matchers.to_vec()));
        }
        inner
            .counters
            .fanout_requests
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let results = inner.handle.block_on(futures::future::join_all(calls));
        let mut out = Vec::with_capacity(results.len());
        let mut held = 0usize;
        for r in results {
            match r {
                Ok(reply) => {
                    held += reply
                        .series
                        .iter()
                        .map(|s| s.samples.len() + s.histograms.len())
                        .sum::<usize>();
                    if held > self.max_samples {
                        return Err(StorageError::TooManySamples(self.max_samples));
                    }
                    out.push(reply)
                }
                Err(e) => {
                    inner
                        .counters
                        .fanout_failures
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// One owner's answer: local partitions are read in place, others
    /// through the owner's HTTP API with the caller's credential.
    async fn call(
        &self,
        owner: String,
        url: Option<String>,
        req: ReadRequest,
        matchers: Vec<Matcher>,
    ) -> Result<ReadReply, StorageError> {
        let inner = self.inner.clone();
        if owner == inner.cfg.node_id {
            return tokio::task::spawn_blocking(move || {
                super::serve::serve_local(&inner, &req, &matchers)
            })
            .await
            .map_err(|e| StorageError::Cluster(format!("local read task failed: {e}")))?;
        }
        let Some(url) = url else {
            return Err(StorageError::Cluster(format!(
                "node {owner}, owner of partitions {:?}, is not registered (gone?); retry",
                req.partitions
            )));
        };
        let body = serde_json::to_vec(&req)
            .map_err(|e| StorageError::Cluster(format!("encoding a read: {e}")))?;
        let mut rb = inner
            .http
            .post(format!("{url}{READ_PATH}"))
            .header("content-type", "application/json")
            .timeout(inner.cfg.strong_read_timeout + std::time::Duration::from_secs(60))
            .body(body);
        for (k, v) in &self.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let failed = |why: String| {
            StorageError::Cluster(format!(
                "reading partitions {:?} from node {owner} at {url}: {why}",
                req.partitions
            ))
        };
        let resp = rb.send().await.map_err(|e| failed(e.to_string()))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| failed(e.to_string()))?;
        if status.as_u16() == 422 {
            return Err(StorageError::TooManySamples(self.max_samples));
        }
        if !status.is_success() {
            let text =
                String::from_utf8_lossy(&bytes[..bytes.len().min(ERROR_BODY_BYTES)]).to_string();
            return Err(failed(format!("answered {status}: {text}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("undecodable answer: {e}")))
    }

    /// The last stream sequence of each partition in `shard`, asked of the
    /// stream once per request.
    fn wait_sequences(&self, shard: &[u32]) -> Result<HashMap<u32, u64>, StorageError> {
        let mut waits = self.waits.lock();
        if !waits.is_empty() {
            return Ok(waits.clone());
        }
        let inner = &self.inner;
        let got = inner.handle.block_on(futures::future::join_all(
            shard
                .iter()
                .map(|&p| async move { (p, super::leases::last_sequence(inner, p).await) }),
        ));
        for (p, seq) in got {
            let seq = seq.ok_or_else(|| {
                StorageError::Cluster(format!(
                    "strong read: cannot learn the log's last sequence of partition {p}; retry"
                ))
            })?;
            waits.insert(p, seq);
        }
        Ok(waits.clone())
    }
}
