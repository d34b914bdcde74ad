//! The lease loop: every third of the lease TTL this node re-registers in
//! the nodes bucket, renews the leases it holds (update on the key's
//! revision), notices leases it lost, takes free partitions while it owns
//! fewer than its fair share (create, which fails if another node was
//! first), and hands one back when it owns more than its share (a node
//! joined). A lease nobody renews disappears with the bucket's TTL, so a
//! dead node's partitions become free within one TTL.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;

use super::consume;
use super::node::Inner;
use super::subject;

fn key(p: u32) -> String {
    format!("p.{p}")
}

pub(crate) async fn run(inner: Arc<Inner>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let period = inner.cfg.lease_ttl / 3;
    loop {
        // A round that hangs on NATS (a bucket whose server died, before
        // the client times out) is abandoned after one TTL, so partitions
        // whose leases lapsed meanwhile are still given up on time.
        match tokio::time::timeout(inner.cfg.lease_ttl, round(&inner)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "lease round failed"),
            Err(_) => tracing::warn!(
                ttl = ?inner.cfg.lease_ttl,
                "lease round took longer than the lease TTL; abandoned"
            ),
        }
        expire_unrenewed(&inner).await;
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn round(inner: &Arc<Inner>) -> Result<(), String> {
    let me = inner.cfg.node_id.as_str();
    inner
        .nodes
        .put(me, inner.cfg.advertise_url.clone().into())
        .await
        .map_err(|e| format!("registering in {}: {e}", super::NODES_BUCKET))?;
    let nodes = live_nodes(inner).await?;
    let total = inner.cfg.partitions;
    let share = total.div_ceil(nodes.len().max(1) as u32) as usize;
    let mut owners: Vec<Option<String>> = vec![None; total as usize];
    // Start at a node-specific offset so nodes racing for free partitions
    // mostly try different ones first.
    let offset = (xxhash(me) % u64::from(total)) as u32;
    for i in 0..total {
        let p = (offset + i) % total;
        let entry = inner
            .leases
            .entry(key(p))
            .await
            .map_err(|e| format!("reading lease {}: {e}", key(p)))?;
        let held = entry.filter(|e| e.operation == Operation::Put);
        let mine = inner.owned.lock().get(&p).cloned();
        match (held, mine) {
            (Some(e), Some(o)) if e.value.as_ref() == me.as_bytes() => {
                match inner
                    .leases
                    .update(key(p), me.to_string().into(), e.revision)
                    .await
                {
                    Ok(rev) => {
                        o.revision.store(rev, Ordering::Relaxed);
                        *o.renewed.lock() = std::time::Instant::now();
                        owners[p as usize] = Some(me.to_string());
                    }
                    Err(err) => {
                        tracing::warn!(partition = p, error = %err, "lease renewal failed; giving the partition up");
                        lose(inner, p).await;
                    }
                }
            }
            (Some(e), mine) => {
                let owner = String::from_utf8_lossy(&e.value).to_string();
                if mine.is_some() {
                    tracing::warn!(partition = p, owner = %owner, "another node holds our lease; giving the partition up");
                    lose(inner, p).await;
                }
                if owner == me {
                    // A lease from this node's previous life: take it back
                    // with a fresh storage.
                    if let Ok(rev) = inner
                        .leases
                        .update(key(p), me.to_string().into(), e.revision)
                        .await
                    {
                        if take(inner, p, rev).await {
                            owners[p as usize] = Some(me.to_string());
                        }
                    }
                } else {
                    owners[p as usize] = Some(owner);
                }
            }
            (None, mine) => {
                if mine.is_some() {
                    // Our lease expired under us (a stall longer than the TTL).
                    lose(inner, p).await;
                }
                if inner.owned.lock().len() < share {
                    if let Ok(rev) = inner.leases.create(key(p), me.to_string().into()).await {
                        if take(inner, p, rev).await {
                            owners[p as usize] = Some(me.to_string());
                        }
                    }
                }
            }
        }
    }
    // More than the share: hand back one partition per round.
    let extra = inner.owned.lock().len().saturating_sub(share);
    if extra > 0 {
        let victim = inner.owned.lock().keys().next_back().copied();
        if let Some(p) = victim {
            tracing::info!(
                partition = p,
                share,
                "handing a partition back to balance the cluster"
            );
            let removed = inner.owned.lock().remove(&p);
            if let Some(o) = removed {
                let rev = o.revision.load(Ordering::Relaxed);
                consume::close(o).await;
                let _ = inner.leases.delete_expect_revision(key(p), Some(rev)).await;
                inner.counters.releases.fetch_add(1, Ordering::Relaxed);
                owners[p as usize] = None;
            }
        }
    }
    refresh_last_sequences(inner).await;
    let mut view = inner.view.write();
    view.nodes = nodes;
    view.owners = owners;
    Ok(())
}

/// Gives up partitions whose lease this node could not renew for a whole
/// TTL (NATS unreachable from here): by now another node may hold them,
/// and this node must not answer reads for them with a stale head.
async fn expire_unrenewed(inner: &Arc<Inner>) {
    let ttl = inner.cfg.lease_ttl;
    let stale: Vec<u32> = inner
        .owned
        .lock()
        .iter()
        .filter(|(_, o)| o.renewed.lock().elapsed() > ttl)
        .map(|(p, _)| *p)
        .collect();
    for p in stale {
        tracing::warn!(
            partition = p,
            ?ttl,
            "lease not renewed for a whole TTL; giving the partition up"
        );
        lose(inner, p).await;
        if let Some(o) = inner.view.write().owners.get_mut(p as usize) {
            *o = None;
        }
    }
}

async fn live_nodes(inner: &Inner) -> Result<BTreeMap<String, String>, String> {
    let mut keys = inner
        .nodes
        .keys()
        .await
        .map_err(|e| format!("listing {}: {e}", super::NODES_BUCKET))?;
    let mut out = BTreeMap::new();
    while let Some(k) = keys.next().await {
        let Ok(k) = k else { continue };
        if let Ok(Some(v)) = inner.nodes.get(&k).await {
            out.insert(k, String::from_utf8_lossy(&v).to_string());
        }
    }
    Ok(out)
}

/// Opens a partition this node just leased.
async fn take(inner: &Arc<Inner>, p: u32, rev: u64) -> bool {
    match consume::open(inner, p, rev).await {
        Ok(o) => {
            inner.owned.lock().insert(p, o);
            inner.counters.takeovers.fetch_add(1, Ordering::Relaxed);
            tracing::info!(partition = p, "took ownership; replaying the log");
            true
        }
        Err(e) => {
            tracing::error!(partition = p, error = %e, "cannot open a leased partition; releasing it");
            let _ = inner.leases.delete_expect_revision(key(p), Some(rev)).await;
            false
        }
    }
}

async fn lose(inner: &Arc<Inner>, p: u32) {
    let o = inner.owned.lock().remove(&p);
    if let Some(o) = o {
        inner.counters.lost_leases.fetch_add(1, Ordering::Relaxed);
        consume::close(o).await;
    }
}

/// Hands back every lease and closes every partition (shutdown).
pub(crate) async fn release_all(inner: &Arc<Inner>) {
    let all: Vec<_> = std::mem::take(&mut *inner.owned.lock())
        .into_iter()
        .collect();
    for (p, o) in all {
        let rev = o.revision.load(Ordering::Relaxed);
        consume::close(o).await;
        let _ = inner.leases.delete_expect_revision(key(p), Some(rev)).await;
    }
    let _ = inner.nodes.delete(inner.cfg.node_id.as_str()).await;
}

/// Records the last stream sequence of each partition (for lag).
async fn refresh_last_sequences(inner: &Inner) {
    for p in 0..inner.cfg.partitions {
        if let Some(seq) = last_sequence(inner, p).await {
            inner.last_seq.lock().insert(p, seq);
        }
    }
}

/// The stream sequence of partition `p`'s last message (0 if none);
/// `None` if the stream cannot be asked.
pub(crate) async fn last_sequence(inner: &Inner, p: u32) -> Option<u64> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    match inner
        .stream
        .get_last_raw_message_by_subject(&subject(p))
        .await
    {
        Ok(m) => Some(m.sequence),
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Some(0),
        Err(_) => None,
    }
}

fn xxhash(s: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash64::with_seed(1);
    h.write(s.as_bytes());
    h.finish()
}
