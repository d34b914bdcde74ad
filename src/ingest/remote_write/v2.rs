//! remote_write 2.0: `io.prometheus.write.v2.Request`
//! (`prompb/io/prometheus/write/v2/types.proto`).
//!
//! Field numbers: Request{symbols=4, timeseries=5};
//! TimeSeries{labels_refs=1, samples=2, histograms=3, exemplars=4,
//! metadata=5, created_timestamp=6 (older senders; now reserved upstream)};
//! Sample{value=1, timestamp=2, start_timestamp=3};
//! Exemplar{labels_refs=1, value=2, timestamp=3};
//! Metadata{type=1, help_ref=3, unit_ref=4}.
//!
//! The body is walked twice at the top level: once to collect the symbol
//! table and size the arenas (fields may come in any order), once to decode
//! the series against it.

use super::histogram::WireHistogram;
use super::v1::sample_with_start;
use super::wire::{corrupt, Reader, WireResult, WireType};
use super::{Capacity, DecodedBatch, MetadataRef, MetricType, PendingSeries, WireExemplar};
use crate::model::LabelRef;

/// Decodes a whole `Request`; see [`super::decode_v2`].
pub(super) fn decode(buf: &[u8]) -> WireResult<DecodedBatch<'_>> {
    let (symbols, cap) = symbols_and_capacity(buf)?;
    let mut batch = DecodedBatch::with_capacity(cap);
    let mut r = Reader::new(buf);
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            5 => series(r.read_message(f)?, &symbols, &mut batch)?,
            _ => r.skip(f)?,
        }
    }
    Ok(batch)
}

/// First pass: the symbol table (checked to start with "") and arena sizes.
fn symbols_and_capacity(buf: &[u8]) -> WireResult<(Vec<&[u8]>, Capacity)> {
    let mut symbols = Vec::new();
    let mut first_at = 0;
    let mut cap = Capacity::default();
    let mut r = Reader::new(buf);
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            4 => {
                if symbols.is_empty() {
                    first_at = f.at;
                }
                symbols.push(r.read_bytes(f)?);
            }
            5 => count_series(r.read_message(f)?, &mut cap)?,
            _ => r.skip(f)?,
        }
    }
    if let Some(first) = symbols.first().filter(|s| !s.is_empty()) {
        return Err(corrupt(
            first_at,
            format!(
                "symbols[0] must be the empty string, got {:?}",
                String::from_utf8_lossy(first)
            ),
        ));
    }
    Ok((symbols, cap))
}

fn count_series(mut ts: Reader<'_>, cap: &mut Capacity) -> WireResult<()> {
    cap.series += 1;
    while ts.has_more() {
        let f = ts.field()?;
        match (f.number, f.wire) {
            // Packed refs take at least one byte each, two per label.
            (1, WireType::Len) => cap.labels += ts.read_bytes(f)?.len() / 2,
            (1, _) => {
                cap.labels += 1;
                ts.skip(f)?;
            }
            (2, _) => {
                cap.samples += 1;
                ts.skip(f)?;
            }
            _ => ts.skip(f)?,
        }
    }
    Ok(())
}

/// Metadata fields as sent, resolved once the series is complete.
#[derive(Debug, Default, Clone, Copy)]
struct RawMetadata {
    kind: u64,
    help_ref: u64,
    unit_ref: u64,
}

fn series<'a>(
    mut r: Reader<'a>,
    symbols: &[&'a [u8]],
    batch: &mut DecodedBatch<'a>,
) -> WireResult<()> {
    let mut p = PendingSeries::start(batch);
    let mut refs = RefPairs::default();
    let mut meta: Option<RawMetadata> = None;
    let mut created = 0i64;
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => r.read_packed_varints(f, |v| refs.push(v, symbols, &mut batch.labels, &mut p))?,
            2 => {
                let (s, st) = sample_with_start(r.read_message(f)?)?;
                batch.samples.push(s);
                batch.set_start_time(batch.samples.len() - 1, st);
            }
            6 => created = r.read_varint(f)? as i64,
            3 => p.histogram(batch, WireHistogram::read(r.read_message(f)?)?),
            4 => {
                let i = p.exemplars;
                match exemplar(r.read_message(f)?, symbols)? {
                    Ok(e) => p.exemplar(batch, e),
                    Err(e) => {
                        p.exemplars = p.exemplars.saturating_add(1);
                        p.reject(|| format!("exemplar {i}: {e}"));
                    }
                }
            }
            5 => metadata(
                r.read_message(f)?,
                meta.get_or_insert_with(Default::default),
            )?,
            _ => r.skip(f)?,
        }
    }
    if refs.odd() {
        p.reject(|| format!("labels_refs has odd length {}", refs.seen));
    }
    if created != 0 {
        let first = p.first_sample();
        for i in first..batch.samples.len() {
            if batch.start_times.get(i).is_none_or(|&st| st == 0) {
                batch.set_start_time(i, created);
            }
        }
    }
    let resolved = meta.map(|m| resolve_metadata(m, symbols));
    if let Some(Err(e)) = &resolved {
        p.reject(|| e.clone());
    }
    if let Some(metric) = p.finish(batch) {
        if let Some(Ok(m)) = resolved {
            if m.kind != MetricType::Unspecified || !m.help.is_empty() || !m.unit.is_empty() {
                batch.metadata.push(MetadataRef { metric, ..m });
            }
        }
    }
    Ok(())
}

/// Resolves `labels_refs` into label pairs as the refs stream in (they may
/// arrive in several packed runs).
#[derive(Debug, Default)]
struct RefPairs<'a> {
    name: Option<&'a [u8]>,
    seen: u64,
    broken: bool,
}

impl<'a> RefPairs<'a> {
    fn push(
        &mut self,
        v: u64,
        symbols: &[&'a [u8]],
        labels: &mut Vec<LabelRef<'a>>,
        p: &mut PendingSeries,
    ) {
        let i = self.seen;
        self.seen = self.seen.saturating_add(1);
        if self.broken {
            return;
        }
        let Some(&sym) = usize::try_from(v).ok().and_then(|v| symbols.get(v)) else {
            self.broken = true;
            let n = symbols.len();
            p.reject(|| format!("labels_refs[{i}] = {v} out of range ({n} symbols)"));
            return;
        };
        match self.name.take() {
            None => self.name = Some(sym),
            Some(name) => labels.push(LabelRef { name, value: sym }),
        }
    }

    fn odd(&self) -> bool {
        self.seen % 2 == 1
    }
}

/// Reads an exemplar, resolving its label refs; the inner result is the
/// exemplar's labels, value and timestamp, or why its refs are invalid.
fn exemplar<'a>(
    mut r: Reader<'a>,
    symbols: &[&'a [u8]],
) -> WireResult<Result<WireExemplar<'a>, String>> {
    let mut verdict = Ok(());
    let mut seen: u64 = 0;
    let mut refs: Vec<&'a [u8]> = Vec::new();
    let (mut value, mut t) = (0.0, 0i64);
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => r.read_packed_varints(f, |v| {
                match usize::try_from(v).ok().and_then(|i| symbols.get(i)) {
                    Some(sym) if verdict.is_ok() => refs.push(sym),
                    Some(_) => {}
                    None if verdict.is_ok() => {
                        verdict = Err(format!(
                            "labels_refs[{seen}] = {v} out of range ({} symbols)",
                            symbols.len()
                        ));
                    }
                    None => {}
                }
                seen = seen.saturating_add(1);
            })?,
            2 => value = r.read_double(f)?,
            3 => t = r.read_varint(f)? as i64,
            _ => r.skip(f)?,
        }
    }
    if verdict.is_ok() && seen % 2 == 1 {
        verdict = Err(format!("labels_refs has odd length {seen}"));
    }
    Ok(verdict.map(|()| WireExemplar {
        labels: refs
            .chunks_exact(2)
            .map(|p| LabelRef {
                name: p[0],
                value: p[1],
            })
            .collect(),
        value,
        t,
    }))
}

/// Merges one metadata message into `m` (a repeated singular message field
/// merges, later scalars winning, as protobuf specifies).
fn metadata(mut r: Reader<'_>, m: &mut RawMetadata) -> WireResult<()> {
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => m.kind = r.read_varint(f)?,
            3 => m.help_ref = r.read_varint(f)?,
            4 => m.unit_ref = r.read_varint(f)?,
            _ => r.skip(f)?,
        }
    }
    Ok(())
}

fn resolve_metadata<'a>(m: RawMetadata, symbols: &[&'a [u8]]) -> Result<MetadataRef<'a>, String> {
    let get = |what: &str, v: u64| {
        usize::try_from(v)
            .ok()
            .and_then(|i| symbols.get(i).copied())
            .ok_or_else(|| {
                format!(
                    "metadata {what} {v} out of range ({} symbols)",
                    symbols.len()
                )
            })
    };
    Ok(MetadataRef {
        metric: &[],
        kind: MetricType::from_wire(m.kind),
        help: get("help_ref", m.help_ref)?,
        unit: get("unit_ref", m.unit_ref)?,
    })
}
