//! A write as log messages: each series goes to its partition, each
//! partition's part is packed into messages of at most
//! [`MAX_MESSAGE_BYTES`], and each message gets the id that makes a
//! retried request a duplicate the stream drops.

use std::collections::{BTreeMap, HashMap};

use prost::Message;
use sha2::{Digest, Sha256};

use super::partition::series_partition;
use super::wire::{WireBatch, WireMetadata, WireSeries, WIRE_VERSION};
use super::ClusterConfig;
use crate::model::{LabelRef, METRIC_NAME};
use crate::storage::{ExemplarInput, MetricMetadata, SeriesInput};
use crate::tenant::TenantId;

/// Largest payload put in one log message before a partition's part of a
/// request is split (NATS refuses messages over 1 MiB by default).
pub(crate) const MAX_MESSAGE_BYTES: usize = 512 << 10;
/// Most samples of one series in one message piece.
const MAX_SERIES_SAMPLES: usize = 8192;
/// Most exemplars of one series in one message piece (an exemplar's
/// labels take at most 128 characters, up to 512 bytes).
const MAX_SERIES_EXEMPLARS: usize = 512;
/// Most histograms of one series in one message piece.
const MAX_SERIES_HISTOGRAMS: usize = 1024;
/// Largest encoded native histogram the log takes: one must fit a
/// message with its series' labels.
pub const MAX_HISTOGRAM_BYTES: usize = MAX_MESSAGE_BYTES - (64 << 10);

/// A request's series as log messages: `(partition, piece, payload)`,
/// and the indexes of series whose histograms are too large for the log.
pub(crate) fn split(
    cfg: &ClusterConfig,
    tenant: &TenantId,
    batch: &[SeriesInput<'_>],
    start_times: Option<&[&[i64]]>,
) -> (Vec<(u32, u32, Vec<u8>)>, Vec<usize>) {
    let shard = cfg.shard(tenant);
    let mut parts = Parts::default();
    let mut too_large = Vec::new();
    for (i, input) in batch.iter().enumerate() {
        if input.samples.is_empty() && input.histograms.is_empty() {
            continue;
        }
        let p = series_partition(tenant, input.labels, &shard);
        let st = start_times
            .and_then(|s| s.get(i).copied())
            .filter(|s| !s.is_empty());
        for (k, chunk) in input.samples.chunks(MAX_SERIES_SAMPLES).enumerate() {
            let piece = SeriesInput {
                labels: input.labels,
                samples: chunk,
                histograms: &[],
            };
            let st_chunk = st.and_then(|s| s.chunks(MAX_SERIES_SAMPLES).nth(k));
            parts.add(p, WireSeries::from_input(&piece, st_chunk));
        }
        if input.histograms.is_empty() {
            continue;
        }
        let labels_only = SeriesInput {
            labels: input.labels,
            samples: &[],
            histograms: &[],
        };
        let pieces = input
            .histograms
            .chunks(MAX_SERIES_HISTOGRAMS)
            .map(|hs| WireSeries::from_input(&labels_only, None).with_histograms(hs))
            .collect::<Vec<_>>();
        let fits = pieces
            .iter()
            .flat_map(|s| &s.histograms)
            .all(|h| h.value.len() <= MAX_HISTOGRAM_BYTES);
        if !fits {
            too_large.push(i);
            continue;
        }
        for piece in pieces {
            parts.add_split(p, piece);
        }
    }
    (parts.messages(), too_large)
}

/// A request's metadata and exemplars as log messages `(partition,
/// piece, payload)`: each series' exemplars go to the series' partition
/// (published after its samples, so the owner holds the series when they
/// arrive), each metric family's metadata to the partition its name alone
/// hashes to. Either way one owner holds each, and a read finds it by
/// asking every owner of the tenant's shard.
pub(crate) fn split_extras(
    cfg: &ClusterConfig,
    tenant: &TenantId,
    metadata: &[MetricMetadata],
    exemplars: &[ExemplarInput<'_>],
) -> Vec<(u32, u32, Vec<u8>)> {
    let shard = cfg.shard(tenant);
    let mut parts = Parts::default();
    for input in exemplars.iter().filter(|e| !e.exemplars.is_empty()) {
        let p = series_partition(tenant, input.labels, &shard);
        for chunk in input.exemplars.chunks(MAX_SERIES_EXEMPLARS) {
            let piece = ExemplarInput {
                labels: input.labels,
                exemplars: chunk,
            };
            parts.add(p, WireSeries::exemplars_of(&piece));
        }
    }
    for m in metadata {
        let name = [LabelRef::new(METRIC_NAME, &m.metric)];
        let p = series_partition(tenant, &name, &shard);
        parts.add_metadata(p, WireMetadata::new(m));
    }
    parts.messages()
}

/// Series packed into messages of at most [`MAX_MESSAGE_BYTES`] per partition.
#[derive(Default)]
struct Parts {
    parts: BTreeMap<u32, Vec<WireBatch>>,
    sizes: HashMap<u32, usize>,
}

impl Parts {
    fn add(&mut self, p: u32, series: WireSeries) {
        let size = series.encoded_len() + 8;
        if let Some(last) = self.room(p, size) {
            last.series.push(series);
        }
    }

    fn add_metadata(&mut self, p: u32, m: WireMetadata) {
        let size = m.encoded_len() + 8;
        if let Some(last) = self.room(p, size) {
            last.metadata.push(m);
        }
    }

    /// The message of partition `p` that takes `size` more bytes: the
    /// last one, or a new one when it would grow past the bound.
    fn room(&mut self, p: u32, size: usize) -> Option<&mut WireBatch> {
        let list = self.parts.entry(p).or_default();
        let used = self.sizes.entry(p).or_insert(0);
        if list.is_empty() || *used + size > MAX_MESSAGE_BYTES {
            list.push(WireBatch {
                series: Vec::new(),
                version: WIRE_VERSION,
                metadata: Vec::new(),
                delete_tenant_at: 0,
            });
            *used = 0;
        }
        *used += size;
        list.last_mut()
    }

    /// Adds a histogram piece, halving it while it is larger than a
    /// message (each histogram alone fits: the caller checked).
    fn add_split(&mut self, p: u32, series: WireSeries) {
        if series.encoded_len() + 8 <= MAX_MESSAGE_BYTES || series.histograms.len() < 2 {
            self.add(p, series);
            return;
        }
        let mut first = series.clone();
        let second_half = first.histograms.split_off(first.histograms.len() / 2);
        let mut second = series;
        second.histograms = second_half;
        self.add_split(p, first);
        self.add_split(p, second);
    }

    fn messages(self) -> Vec<(u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        for (p, list) in self.parts {
            for (piece, b) in list.into_iter().enumerate() {
                out.push((p, piece as u32, b.encode_to_vec()));
            }
        }
        out
    }
}

pub(crate) fn message_id(tenant: &TenantId, p: u32, piece: u32, payload: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(tenant.as_str().as_bytes());
    h.update([0]);
    h.update(p.to_le_bytes());
    h.update(piece.to_le_bytes());
    h.update(payload);
    let d = h.finalize();
    d[..20].iter().map(|b| format!("{b:02x}")).collect()
}

/// The deletion record of `tenant` for every partition of the log (not
/// only the tenant's shard, which a changed shard size may have moved):
/// `(partition, piece, payload)`.
pub(crate) fn deletion(cfg: &ClusterConfig, at_ms: i64) -> Vec<(u32, u32, Vec<u8>)> {
    let msg = WireBatch {
        series: Vec::new(),
        version: WIRE_VERSION,
        metadata: Vec::new(),
        delete_tenant_at: at_ms.max(1),
    };
    let payload = msg.encode_to_vec();
    (0..cfg.partitions)
        .map(|p| (p, 0, payload.clone()))
        .collect()
}
