//! remote_write 1.0: `prometheus.WriteRequest` (`prompb/remote.proto`).
//!
//! Field numbers: WriteRequest{timeseries=1, metadata=3};
//! TimeSeries{labels=1, samples=2, exemplars=3, histograms=4};
//! Label{name=1, value=2}; Sample{value=1 double, timestamp=2 int64};
//! Exemplar{labels=1, value=2, timestamp=3};
//! MetricMetadata{type=1, metric_family_name=2, help=4, unit=5}.

use super::histogram::WireHistogram;
use super::wire::{Reader, WireResult};
use super::{Capacity, DecodedBatch, MetadataRef, MetricType, PendingSeries, WireExemplar};
use crate::model::{LabelRef, Sample};

/// Decodes a whole `WriteRequest`; see [`super::decode_v1`].
pub(super) fn decode(buf: &[u8]) -> WireResult<DecodedBatch<'_>> {
    let mut batch = DecodedBatch::with_capacity(capacity(buf));
    let mut r = Reader::new(buf);
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => series(r.read_message(f)?, &mut batch)?,
            3 => metadata(r.read_message(f)?, &mut batch)?,
            _ => r.skip(f)?,
        }
    }
    Ok(batch)
}

/// Counts series, labels and samples by walking keys only. A malformed body
/// stops the count early; the decoding pass then reports the error.
fn capacity(buf: &[u8]) -> Capacity {
    let mut c = Capacity::default();
    let _ = count_into(buf, &mut c);
    c
}

fn count_into(buf: &[u8], c: &mut Capacity) -> WireResult<()> {
    let mut r = Reader::new(buf);
    while r.has_more() {
        let f = r.field()?;
        if f.number != 1 {
            r.skip(f)?;
            continue;
        }
        c.series += 1;
        let mut ts = r.read_message(f)?;
        while ts.has_more() {
            let f = ts.field()?;
            match f.number {
                1 => c.labels += 1,
                2 => c.samples += 1,
                _ => {}
            }
            ts.skip(f)?;
        }
    }
    Ok(())
}

fn series<'a>(mut r: Reader<'a>, batch: &mut DecodedBatch<'a>) -> WireResult<()> {
    let mut p = PendingSeries::start(batch);
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => batch.labels.push(label(r.read_message(f)?)?),
            2 => batch.samples.push(sample(r.read_message(f)?)?),
            3 => {
                let e = exemplar(r.read_message(f)?)?;
                p.exemplar(batch, e);
            }
            4 => p.histogram(batch, WireHistogram::read(r.read_message(f)?)?),
            _ => r.skip(f)?,
        }
    }
    p.finish(batch);
    Ok(())
}

fn label(mut r: Reader<'_>) -> WireResult<LabelRef<'_>> {
    let mut l = LabelRef {
        name: &[],
        value: &[],
    };
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => l.name = r.read_bytes(f)?,
            2 => l.value = r.read_bytes(f)?,
            _ => r.skip(f)?,
        }
    }
    Ok(l)
}

/// A 1.0 `Sample` (no start timestamp in 1.0; field 3 is skipped).
pub(super) fn sample(r: Reader<'_>) -> WireResult<Sample> {
    sample_with_start(r).map(|(s, _)| s)
}

/// A 2.0 `Sample`: 1.0's fields plus `start_timestamp = 3` (0 when absent).
pub(super) fn sample_with_start(mut r: Reader<'_>) -> WireResult<(Sample, i64)> {
    let mut s = Sample::new(0, 0.0);
    let mut st = 0;
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => s.v = r.read_double(f)?,
            2 => s.t = r.read_varint(f)? as i64,
            3 => st = r.read_varint(f)? as i64,
            _ => r.skip(f)?,
        }
    }
    Ok((s, st))
}

/// An exemplar as sent: its label bytes, value and timestamp. A corrupt
/// one fails the request like any other corrupt field.
fn exemplar(mut r: Reader<'_>) -> WireResult<WireExemplar<'_>> {
    let mut e = WireExemplar {
        labels: Vec::new(),
        value: 0.0,
        t: 0,
    };
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => e.labels.push(label(r.read_message(f)?)?),
            2 => e.value = r.read_double(f)?,
            3 => e.t = r.read_varint(f)? as i64,
            _ => r.skip(f)?,
        }
    }
    Ok(e)
}

fn metadata<'a>(mut r: Reader<'a>, batch: &mut DecodedBatch<'a>) -> WireResult<()> {
    let mut m = MetadataRef {
        metric: &[],
        kind: MetricType::Unspecified,
        help: &[],
        unit: &[],
    };
    while r.has_more() {
        let f = r.field()?;
        match f.number {
            1 => m.kind = MetricType::from_wire(r.read_varint(f)?),
            2 => m.metric = r.read_bytes(f)?,
            4 => m.help = r.read_bytes(f)?,
            5 => m.unit = r.read_bytes(f)?,
            _ => r.skip(f)?,
        }
    }
    batch.metadata.push(m);
    Ok(())
}
