//! Parse + normalise per format, beside serde_json's parse of the same bytes into `Value`.
//!
//! Each format is measured twice: as posts/s (elements) and as MB/s (bytes). Run with
//! `cargo bench -p streamer-wire`; measurement times are short because the build machine is
//! shared.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use streamer_wire::{Decoder, DecoderOptions, Format};

struct Corpus {
    name: &'static str,
    format: Format,
    lines: Vec<&'static str>,
}

fn corpora() -> Vec<Corpus> {
    let json_lines = |s: &'static str| -> Vec<&'static str> {
        s.lines().filter(|l| l.starts_with('{')).collect()
    };
    let x: Vec<_> = json_lines(include_str!("../tests/data/x_v2_twarc_2021.jsonl"))
        .into_iter()
        .filter(|l| l.starts_with("{\"data\""))
        .collect();
    vec![
        Corpus {
            name: "x_v2",
            format: Format::X,
            lines: x.clone(),
        },
        Corpus {
            name: "x_v2_auto",
            format: Format::Auto,
            lines: x,
        },
        Corpus {
            name: "x_v1",
            format: Format::XV1,
            lines: json_lines(include_str!("../tests/data/x_v1.jsonl"))
                .into_iter()
                .take(3)
                .collect(),
        },
        Corpus {
            name: "mastodon_ws",
            format: Format::Mastodon,
            lines: json_lines(include_str!("../tests/data/mastodon_ws.jsonl"))
                .into_iter()
                .take(4)
                .collect(),
        },
        Corpus {
            name: "bluesky",
            format: Format::Bluesky,
            lines: json_lines(include_str!("../tests/data/bluesky_jetstream.jsonl"))
                .into_iter()
                .take(3)
                .collect(),
        },
    ]
}

fn bench(c: &mut Criterion) {
    for corpus in corpora() {
        let bytes: usize = corpus.lines.iter().map(|l| l.len()).sum();
        for (unit, throughput) in [
            ("posts", Throughput::Elements(corpus.lines.len() as u64)),
            ("bytes", Throughput::Bytes(bytes as u64)),
        ] {
            let mut group = c.benchmark_group(format!("{}/{unit}", corpus.name));
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(2));
            group.sample_size(30);
            group.throughput(throughput);
            group.bench_function("decode", |b| {
                let mut d = Decoder::new(corpus.format, DecoderOptions::default());
                b.iter(|| {
                    for (i, line) in corpus.lines.iter().enumerate() {
                        let out = d.feed(black_box(line.as_bytes()), i as u64);
                        black_box(out.ok());
                    }
                })
            });
            group.bench_function("serde_json_value", |b| {
                b.iter(|| {
                    for line in &corpus.lines {
                        let v: Result<serde_json::Value, _> =
                            serde_json::from_slice(black_box(line.as_bytes()));
                        black_box(v.ok());
                    }
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
