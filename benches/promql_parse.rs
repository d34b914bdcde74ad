//! Parsing speed: our PromQL parser against the `promql-parser` crate
//! (0.11.1) on the differential test's corpus.
//!
//! Shapes:
//! - `crate_accepts`: the corpus expressions both parsers accept (about
//!   5,100 of them: the promqltest expressions, the compliance query list
//!   and generated expressions), parsed one after the other;
//! - `deep_chain`: `x+x+...` with 1,000 operators (the nesting limit);
//! - `long_query`: one 10 KB expression (a `sum by` of 100 `or`ed rates).

#[path = "../tests/parser_differential/corpus.rs"]
mod corpus;
#[path = "../tests/differential/templates.rs"]
#[allow(dead_code)]
mod templates;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn corpus_both_accept() -> Vec<String> {
    let mut all = corpus::promqltest_exprs(&corpus::scripts_dir());
    let yml = include_str!("../tests/differential/queries.yml");
    all.extend(templates::expand(yml).unwrap().into_iter().map(|q| q.text));
    all.extend(corpus::generated(3000));
    all.retain(|q| {
        tessera::promql::parser::parse(q).is_ok() && promql_parser::parser::parse(q).is_ok()
    });
    all
}

fn compare(c: &mut Criterion, group: &str, queries: &[String]) {
    let bytes: usize = queries.iter().map(String::len).sum();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("tessera", |b| {
        b.iter(|| {
            for q in queries {
                black_box(tessera::promql::parser::parse(q).is_ok());
            }
        })
    });
    g.bench_function("promql-parser", |b| {
        b.iter(|| {
            for q in queries {
                black_box(promql_parser::parser::parse(q).is_ok());
            }
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let corpus = corpus_both_accept();
    compare(c, "crate_accepts", &corpus);
    compare(c, "deep_chain", &[format!("x{}", "+x".repeat(1000))]);
    let rates: Vec<String> = (0..100)
        .map(|i| format!("rate(http_requests_total{{job=\"api-{i}\",code=~\"5..\"}}[5m])"))
        .collect();
    compare(c, "long_query", &[format!("sum by (job) ({})", rates.join(" or "))]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
