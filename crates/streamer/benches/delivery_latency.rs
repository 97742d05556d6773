//! Latency from a post's arrival at the pipeline to the SMTP server's 250 reply, at 1,000
//! posts/s with 1 % matching: the pipeline (decode, enrich, match, store), the outbox wake-up
//! and an SMTP delivery over a reused connection to a real SMTP server on this machine.
//!
//! `cargo bench -p streamer --bench delivery_latency` (env `DELIVERY_BENCH_SECS`, default 20).
//! Prints p50, p90, p99 and max in milliseconds. Not a criterion bench: the quantity is a
//! latency distribution under a fixed arrival rate, not the throughput of a loop.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use streamer::config::Config;
use streamer::outbox::Workers;
use streamer::pipeline::{Batch, Origin, Pipeline, PipelineSettings};
use streamer_wire::{DecoderOptions, Format};

fn main() {
    let secs: u64 = std::env::var("DELIVERY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let rate = 1000u64;
    let smtp = support::Smtp::start(support::SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[storage]
path = "{}"

[[rules]]
id = "ransom"
query = "ransomware"
severity = "high"

[[sinks]]
kind = "email"
smtp_url = "smtp://127.0.0.1:{}"
tls = "none"
from = "streamer@example.org"
to = ["analyst@example.org"]
"#,
        dir.path().join("bench.db").display(),
        smtp.port
    );
    let config = Config::from_str(&text, None).unwrap();
    let rules = streamer::compile_rules(&config).unwrap();
    let workers = Workers::start(
        &config.storage.path,
        streamer::build_sinks(&config).unwrap(),
    )
    .unwrap();
    let pipeline = Pipeline::start(
        PipelineSettings {
            db: config.storage.path.clone(),
            workers: config.pipeline.workers,
            sinks: streamer::outbox_sinks(&config),
            merge_window_ms: config.alerts.merge_window_secs * 1000,
            actors: config.actors.clone(),
        },
        rules,
        workers.signal.clone(),
    )
    .unwrap();
    let origin = Arc::new(Origin {
        format: Format::X,
        decoder: DecoderOptions::default(),
        cursor_key: None,
        name: "bench".into(),
    });

    // Posts arrive one at a time, as a live stream delivers them, at `rate` per second.
    let total = secs * rate;
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    for n in 0..total {
        let due = start + Duration::from_micros(n * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let matching = n % 100 == 0;
        let token = format!("tok{n}");
        let text = if matching {
            format!("{token} ransomware hits the county servers")
        } else {
            format!("{token} nothing to see here, just weather")
        };
        let line = support::x_line(n as usize, &text);
        let mut batch = Batch::new(origin.clone());
        batch.push_line(n + 1, line.as_bytes());
        let at = Instant::now();
        if pipeline.input.send(batch).is_err() {
            panic!("the pipeline stopped");
        }
        if matching {
            sent.insert(token, at);
        }
    }
    let expected = sent.len();
    let got = smtp.wait_for(expected, Duration::from_secs(60));
    let elapsed = start.elapsed();
    pipeline.finish().unwrap();
    workers.stop();

    let mut latencies: Vec<f64> = got
        .iter()
        .filter_map(|r| {
            let m = support::parse(&r.data);
            let subject = m.subject()?.to_string();
            let token = subject.split(": ").nth(1)?.split_whitespace().next()?;
            let t0 = sent.get(token)?;
            Some(r.at.duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    assert_eq!(
        latencies.len(),
        expected,
        "every alert arrived and was matched up"
    );
    latencies.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "delivery_latency: {} posts in {:.1} s ({:.0}/s), {} alerts; arrival → SMTP 250: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        total,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        expected,
        q(0.5),
        q(0.9),
        q(0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
}
