//! Matching throughput, compile time and memory at 1k, 10k and 100k rules.
//!
//! `cargo bench -p streamer-rules --bench matching`; the corpus and rule mix are described in
//! `corpus.rs`. Throughput is reported in posts (criterion's "elem/s").

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};
use streamer_rules::compile;

mod corpus;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const POSTS: usize = 10_000;

fn matching(c: &mut Criterion) {
    let posts = corpus::corpus(POSTS, 7);
    let bytes: usize = posts.iter().map(|p| p.post.text.len()).sum();
    let non_ascii = posts.iter().filter(|p| !p.post.text.is_ascii()).count();
    eprintln!(
        "corpus: {POSTS} posts, mean {} bytes, {non_ascii} not ASCII",
        bytes / POSTS
    );
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Elements(POSTS as u64));
    for n in SIZES {
        let (specs, watch) = corpus::rules(n, 11);
        let t = Instant::now();
        let compiled = compile(&specs, &watch).expect("bench rules compile");
        let took = t.elapsed();
        let set = compiled.rules;
        let hits: usize = posts
            .iter()
            .map(|p| set.matches(&p.post, &p.enrichment).len())
            .sum();
        let posts_hit = posts
            .iter()
            .filter(|p| !set.matches(&p.post, &p.enrichment).is_empty())
            .count();
        eprintln!(
            "rules {n}: {} compiled in {took:.2?}, heap ~{:.1} MiB, {posts_hit} of {POSTS} posts hit ({hits} hits)",
            set.len(),
            set.heap_bytes() as f64 / (1 << 20) as f64
        );
        g.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| {
                let mut n = 0;
                for p in &posts {
                    n += set.matches(black_box(&p.post), &p.enrichment).len();
                }
                n
            })
        });
    }
    g.finish();
}

fn compiling(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    for n in SIZES {
        let (specs, watch) = corpus::rules(n, 11);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n}_rules"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    compile(black_box(&specs), &watch)
                        .map(|c| c.rules.len())
                        .unwrap_or(0)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn quick() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = quick();
    targets = matching, compiling
}
criterion_main!(benches);
