//! Chunk encodings on the node_exporter shape: size per sample and speed.
//!
//! Prints bytes/sample for (a) 120-sample XOR chunks, (b) the same XOR chunks
//! concatenated and compressed with zstd level 3 in frames of up to 128 KiB,
//! (c) the block encoding (one chunk per series) and (d) the block encoding
//! compressed the same way; then times encode and decode with criterion.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera::model::Sample;
use tessera::storage::chunk::{
    block_decode_for_bench, block_encode_for_bench, xor_decode_for_bench, xor_encode_for_bench,
};
use tessera::synth::{NodeExporterShape, ORIGIN_MS};

const XOR_CHUNK_SAMPLES: usize = 120;
const FRAME_BYTES: usize = 128 * 1024;
const ZSTD_LEVEL: i32 = 3;

fn shape() -> NodeExporterShape {
    NodeExporterShape {
        hosts: 100,
        interval_ms: 15_000,
        seed: 1,
    }
}

/// Packs chunks into frames of at most [`FRAME_BYTES`] (a chunk is never
/// split) and returns the total zstd-compressed size.
struct Framer {
    frame: Vec<u8>,
    compressed: usize,
}

impl Framer {
    fn new() -> Framer {
        Framer {
            frame: Vec::with_capacity(FRAME_BYTES),
            compressed: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if !self.frame.is_empty() && self.frame.len() + chunk.len() > FRAME_BYTES {
            self.flush();
        }
        self.frame.extend_from_slice(chunk);
    }

    fn flush(&mut self) {
        if !self.frame.is_empty() {
            let z = zstd::bulk::compress(&self.frame, ZSTD_LEVEL).expect("zstd compress");
            self.compressed += z.len();
            self.frame.clear();
        }
    }

    fn finish(mut self) -> usize {
        self.flush();
        self.compressed
    }
}

fn print_sizes(len: usize) {
    let s = shape();
    let (mut xor_raw, mut block_raw) = (0usize, 0usize);
    let (mut xor_z, mut block_z) = (Framer::new(), Framer::new());
    let mut block = Vec::new();
    let mut decoded = Vec::new();
    for series in 0..s.series_count() {
        let samples = s.samples(series, ORIGIN_MS, len);
        for chunk in samples.chunks(XOR_CHUNK_SAMPLES) {
            let bytes = xor_encode_for_bench(chunk);
            xor_raw += bytes.len();
            xor_z.push(&bytes);
        }
        block.clear();
        block_encode_for_bench(&samples, &mut block);
        block_raw += block.len();
        block_z.push(&block);
        // Guard the numbers: the encoding must round-trip.
        decoded.clear();
        block_decode_for_bench(&block, &mut decoded).expect("block decodes");
        assert!(decoded.iter().zip(&samples).all(|(a, b)| a.bit_eq(b)) && decoded.len() == len);
    }
    let n = (s.series_count() * len) as f64;
    println!(
        "node_exporter shape, {} series x {len} samples: bytes/sample \
         xor120 {:.3} | xor120+zstd3 {:.3} | block {:.3} | block+zstd3 {:.3}",
        s.series_count(),
        xor_raw as f64 / n,
        xor_z.finish() as f64 / n,
        block_raw as f64 / n,
        block_z.finish() as f64 / n,
    );
}

/// The first `series` series of the shape, `len` samples each.
fn corpus(series: usize, len: usize) -> Vec<Vec<Sample>> {
    let s = shape();
    (0..series).map(|i| s.samples(i, ORIGIN_MS, len)).collect()
}

fn bench(c: &mut Criterion) {
    for len in [720, 1440] {
        print_sizes(len);
    }
    // Two hosts' worth of series keeps each iteration short.
    let data = corpus(2 * NodeExporterShape::series_per_host(), 720);
    let total: usize = data.iter().map(Vec::len).sum();
    let xor: Vec<Vec<(Vec<u8>, usize)>> = data
        .iter()
        .map(|s| {
            s.chunks(XOR_CHUNK_SAMPLES)
                .map(|c| (xor_encode_for_bench(c), c.len()))
                .collect()
        })
        .collect();
    let mut block = Vec::new();
    for s in &data {
        block_encode_for_bench(s, &mut block);
    }

    let mut g = c.benchmark_group("chunk_encoding");
    g.throughput(Throughput::Elements(total as u64));
    g.bench_function(BenchmarkId::new("xor_encode", 720), |b| {
        b.iter(|| {
            data.iter()
                .flat_map(|s| s.chunks(XOR_CHUNK_SAMPLES))
                .map(|c| xor_encode_for_bench(c).len())
                .sum::<usize>()
        })
    });
    g.bench_function(BenchmarkId::new("xor_decode", 720), |b| {
        let mut out = Vec::with_capacity(total);
        b.iter(|| {
            out.clear();
            for (bytes, n) in xor.iter().flatten() {
                xor_decode_for_bench(bytes, *n, &mut out).expect("xor decodes");
            }
            black_box(out.len())
        })
    });
    g.bench_function(BenchmarkId::new("block_encode", 720), |b| {
        let mut out = Vec::with_capacity(block.len());
        b.iter(|| {
            out.clear();
            data.iter()
                .for_each(|s| block_encode_for_bench(s, &mut out));
            black_box(out.len())
        })
    });
    g.bench_function(BenchmarkId::new("block_decode", 720), |b| {
        let mut out = Vec::with_capacity(total);
        b.iter(|| {
            out.clear();
            let mut pos = 0;
            while pos < block.len() {
                pos += block_decode_for_bench(&block[pos..], &mut out).expect("block decodes");
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
