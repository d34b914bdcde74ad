//! The owner's side of a read: answering from the partitions this node
//! owns, after waiting (strong reads) until each has consumed the log as
//! far as the asking node saw it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::consume::Waited;
use super::node::Inner;
use super::reads::{limited, merge_series, Merged};
use super::wire::{ReadOp, ReadReply, ReadRequest, WireExemplars, WireHead, WireRead};
use crate::storage::{Matcher, StorageError, TenantReader};
use crate::tenant::TenantId;

/// Answers `req` from the partitions this node owns (blocking).
/// `matchers` are the request's, with the caller's policy applied.
pub(crate) fn serve_local(
    inner: &Inner,
    req: &ReadRequest,
    matchers: &[Matcher],
) -> Result<ReadReply, StorageError> {
    let tenant = TenantId::new(&req.tenant)?;
    let me = &inner.cfg.node_id;
    let mut owned = Vec::with_capacity(req.partitions.len());
    for p in &req.partitions {
        let o = inner.owned.lock().get(p).cloned().ok_or_else(|| {
            StorageError::Cluster(format!(
                "node {me} does not own partition {p} (ownership moved); retry"
            ))
        })?;
        owned.push(o);
    }
    let longest = req
        .wait_ms
        .map(Duration::from_millis)
        .map_or(inner.cfg.strong_read_timeout, |w| {
            w.min(inner.cfg.strong_read_timeout)
        });
    let deadline = Instant::now() + longest;
    for &(p, seq) in &req.wait {
        let Some(o) = owned.iter().find(|o| o.partition == p) else {
            continue;
        };
        let held = || {
            inner
                .owned
                .lock()
                .get(&p)
                .is_some_and(|now| std::sync::Arc::ptr_eq(now, o))
        };
        match o.wait_for(seq, deadline, held) {
            Waited::Reached => {}
            Waited::Closed => {
                return Err(StorageError::Cluster(format!(
                    "node {me} gave partition {p} up while a strong read waited for it \
                     (ownership moved); retry"
                )))
            }
            Waited::TimedOut => {
                return Err(StorageError::Cluster(format!(
                    "strong read: partition {p} on node {me} has consumed the log to sequence {}, \
                     the read needs {seq}; gave up after {:?}",
                    o.consumed(),
                    longest
                )))
            }
        }
    }
    let mut reply = ReadReply::default();
    match &req.op {
        ReadOp::Select { with_st } => {
            let mut merged = Merged::new();
            let limit = req.max_samples.unwrap_or(usize::MAX);
            let mut held = 0usize;
            for o in &owned {
                let q = o.storage.querier(&tenant, req.mint, req.maxt);
                q.select_each_st(matchers, *with_st, &mut |l, v| {
                    held += v.samples.len() + v.histograms.len();
                    merge_series(&mut merged, l, v);
                    held <= limit
                })?;
                if held > limit {
                    return Err(StorageError::TooManySamples(limit));
                }
            }
            reply.series = merged
                .iter()
                .map(|(l, v)| WireRead::new(l, &v.samples, &v.histograms, v.start_times.clone()))
                .collect();
        }
        ReadOp::Labels => {
            let mut set = BTreeSet::new();
            for o in &owned {
                set.extend(
                    o.storage
                        .querier(&tenant, req.mint, req.maxt)
                        .select_labels(matchers)?,
                );
            }
            reply.series = set
                .iter()
                .map(|l| WireRead::new(l, &[], &[], Vec::new()))
                .collect();
        }
        ReadOp::Names { limit } => {
            let mut set = BTreeSet::new();
            for o in &owned {
                set.extend(
                    o.storage
                        .querier(&tenant, req.mint, req.maxt)
                        .label_names(matchers, *limit)?,
                );
            }
            reply.strings = limited(set, *limit);
        }
        ReadOp::Values { name, limit } => {
            let mut set = BTreeSet::new();
            for o in &owned {
                let q = o.storage.querier(&tenant, req.mint, req.maxt);
                set.extend(q.label_values(name, matchers, *limit)?);
            }
            reply.strings = limited(set, *limit);
        }
        ReadOp::Metadata { metric } => {
            let mut by_name = BTreeMap::new();
            for o in &owned {
                for m in o.storage.metadata(&tenant, metric.as_deref(), None) {
                    by_name.entry(m.metric.clone()).or_insert(m);
                }
            }
            reply.metadata = by_name.into_values().collect();
        }
        ReadOp::Exemplars => {
            for o in &owned {
                let found = o.storage.exemplars(&tenant, matchers, req.mint, req.maxt);
                reply.exemplars.extend(found.iter().map(WireExemplars::new));
            }
        }
        ReadOp::TsdbStatus => {
            for o in &owned {
                reply
                    .heads
                    .push(WireHead::from(o.storage.head_pairs(&tenant)));
            }
        }
    }
    Ok(reply)
}
