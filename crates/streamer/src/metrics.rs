//! In-process counters for Prometheus: what only the running process knows.
//!
//! Stored state (alerts per severity, hits per rule, outbox depth) is read from SQLite by the
//! dashboard's `/metrics`; this registry adds the live counters of the pipeline: lines, posts
//! and bad lines per source, stream notices, and the latency of enrich + match per post.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// Counters of one source (a live source name, or a replayed file).
#[derive(Default)]
pub struct SourceCounters {
    pub lines: AtomicU64,
    pub posts: AtomicU64,
    pub bad_lines: AtomicU64,
    pub notices: AtomicU64,
    pub matched: AtomicU64,
}

/// Picks one counter of a source, for rendering.
type CounterOf = fn(&SourceCounters) -> &AtomicU64;

/// Upper bounds of the match-latency buckets, in microseconds.
const BUCKETS_US: [u64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 5_000, 50_000];

/// A fixed-bucket latency histogram (Prometheus semantics: cumulative at render time).
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe_ns(&self, ns: u64) {
        let us = ns / 1_000;
        if let Some(i) = BUCKETS_US.iter().position(|&b| us < b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The process-wide registry.
#[derive(Default)]
pub struct Metrics {
    sources: Mutex<BTreeMap<String, Arc<SourceCounters>>>,
    /// Time to enrich and match one post.
    pub match_latency: Histogram,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// The registry of this process.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    /// The counters of a source, created on first use.
    pub fn source(&self, name: &str) -> Arc<SourceCounters> {
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let series: [(&str, &str, CounterOf); 5] = [
            ("streamer_lines_total", "Lines read per source.", |c| {
                &c.lines
            }),
            ("streamer_posts_total", "Posts decoded per source.", |c| {
                &c.posts
            }),
            (
                "streamer_bad_lines_total",
                "Lines rejected (not JSON, not UTF-8, too long, unknown shape) per source.",
                |c| &c.bad_lines,
            ),
            (
                "streamer_stream_notices_total",
                "Stream notices (errors, disconnects) per source.",
                |c| &c.notices,
            ),
            (
                "streamer_matched_posts_total",
                "Posts that matched at least one rule, per source.",
                |c| &c.matched,
            ),
        ];
        for (name, help, get) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (source, c) in map.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{source=\"{}\"}} {}",
                    label(source),
                    get(c).load(Ordering::Relaxed)
                );
            }
        }
        let h = &self.match_latency;
        let name = "streamer_match_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to enrich and match one post.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, b) in BUCKETS_US.iter().enumerate() {
            cumulative += h.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *b as f64 / 1e6
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

/// Escapes a Prometheus label value.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.source("x").posts.fetch_add(3, Ordering::Relaxed);
        m.source("we\"ird")
            .bad_lines
            .fetch_add(1, Ordering::Relaxed);
        m.match_latency.observe_ns(1_500);
        m.match_latency.observe_ns(30_000);
        let text = m.render();
        assert!(
            text.contains("streamer_posts_total{source=\"x\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("streamer_bad_lines_total{source=\"we\\\"ird\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("streamer_match_latency_seconds_bucket{le=\"0.000002\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("streamer_match_latency_seconds_bucket{le=\"0.00005\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("streamer_match_latency_seconds_count 2"),
            "{text}"
        );
    }
}
