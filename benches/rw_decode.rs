//! remote_write decoding throughput on the node_exporter shape.
//!
//! One request of 2000 series × 1 sample (what a Prometheus with 20
//! node_exporter targets sends per scrape interval), encoded as remote_write
//! 1.0 and 2.0. Compares the zero-copy decoders with a prost decode of the
//! same bytes, and times snappy decompression of the 1.0 body. Throughput is
//! reported in samples per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use prost::Message;
use std::time::Duration;
use tessera::ingest::proto::{encode_snappy, v1, v2};
use tessera::ingest::remote_write::{decode_v1, decode_v2, snappy_decompress};
use tessera::synth::{NodeExporterShape, ORIGIN_MS};

const SERIES: usize = 2000;

fn shape() -> NodeExporterShape {
    NodeExporterShape {
        hosts: SERIES.div_ceil(NodeExporterShape::series_per_host()),
        interval_ms: 15_000,
        seed: 1,
    }
}

fn v1_request() -> v1::WriteRequest {
    let shape = shape();
    let timeseries = (0..SERIES)
        .map(|i| v1::TimeSeries {
            labels: shape
                .labels(i)
                .iter()
                .map(|l| v1::Label {
                    name: l.name.to_string(),
                    value: l.value.to_string(),
                })
                .collect(),
            samples: shape
                .samples(i, ORIGIN_MS, 1)
                .iter()
                .map(|s| v1::Sample {
                    value: s.v,
                    timestamp: s.t,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    v1::WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn v2_request() -> v2::Request {
    let shape = shape();
    let mut b = v2::RequestBuilder::new();
    for i in 0..SERIES {
        let labels = shape.labels(i);
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        b.series(&pairs, &shape.samples(i, ORIGIN_MS, 1));
    }
    b.build()
}

fn bench(c: &mut Criterion) {
    let v1_bytes = v1_request().encode_to_vec();
    let v2_bytes = v2_request().encode_to_vec();
    let v1_snappy = encode_snappy(&v1_request());
    println!(
        "rw_decode: {SERIES} series x 1 sample; 1.0 body {} B ({} B snappy), 2.0 body {} B",
        v1_bytes.len(),
        v1_snappy.len(),
        v2_bytes.len()
    );
    assert_eq!(decode_v1(&v1_bytes).unwrap().samples.len(), SERIES);
    assert_eq!(decode_v2(&v2_bytes).unwrap().samples.len(), SERIES);

    let mut g = c.benchmark_group("rw_decode");
    g.throughput(Throughput::Elements(SERIES as u64))
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("v1/zero_copy", |b| {
        b.iter(|| decode_v1(black_box(&v1_bytes)).unwrap())
    });
    g.bench_function("v1/prost", |b| {
        b.iter(|| v1::WriteRequest::decode(black_box(&v1_bytes[..])).unwrap())
    });
    g.bench_function("v2/zero_copy", |b| {
        b.iter(|| decode_v2(black_box(&v2_bytes)).unwrap())
    });
    g.bench_function("v2/prost", |b| {
        b.iter(|| v2::Request::decode(black_box(&v2_bytes[..])).unwrap())
    });
    g.bench_function("v1/snappy_decompress", |b| {
        b.iter(|| snappy_decompress(black_box(&v1_snappy), 64 << 20).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
