//! Extraction throughput over a realistic corpus (`benches/data/corpus.txt`, written by
//! `bench/ioc/make_corpus.py`: 8,000 synthetic posts, about 20% carrying indicators).
//!
//! `cargo bench -p streamer-ioc --bench extract` reports MB/s (`bytes`) and posts/s (`posts`);
//! `bench/ioc/compare.py` runs the same corpus through the Python extractors.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const CORPUS: &str = include_str!("data/corpus.txt");

fn corpus(c: &mut Criterion) {
    let posts: Vec<&str> = CORPUS.lines().collect();
    let plain: Vec<&str> = posts
        .iter()
        .copied()
        .filter(|p| streamer_ioc::extract(p).is_empty())
        .collect();
    let plain_bytes: usize = plain.iter().map(|p| p.len()).sum();

    let mut g = c.benchmark_group("extract");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g.throughput(Throughput::Bytes(CORPUS.len() as u64));
    g.bench_function("corpus/bytes", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(streamer_ioc::extract(black_box(p)));
            }
        })
    });
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.bench_function("corpus/posts", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(streamer_ioc::extract(black_box(p)));
            }
        })
    });
    g.throughput(Throughput::Bytes(plain_bytes as u64));
    g.bench_function("no-indicator posts/bytes", |b| {
        b.iter(|| {
            for p in &plain {
                black_box(streamer_ioc::extract(black_box(p)));
            }
        })
    });
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.bench_function("corpus/ioc_record_json posts", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(streamer_ioc::ioc_record_json(black_box(p)));
            }
        })
    });
    g.finish();
}

/// Megabyte lines of the characters the scanner looks at: linear time, shown in numbers.
fn pathological(c: &mut Criterion) {
    let mb = 1 << 20;
    let lines = [
        ("dots", ".".repeat(mb)),
        ("brackets", "[".repeat(mb)),
        ("bracket-dots", "[.]".repeat(mb / 3)),
        ("digits", "1".repeat(mb)),
        ("digit-dots", "1.".repeat(mb / 2)),
        ("hex", "a".repeat(mb)),
        ("colons", "1:".repeat(mb / 2)),
    ];
    let mut g = c.benchmark_group("megabyte-line");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    for (name, line) in &lines {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| black_box(streamer_ioc::extract(black_box(line))))
        });
    }
    g.finish();
}

criterion_group!(benches, corpus, pathological);
criterion_main!(benches);
