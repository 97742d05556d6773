//! Writes the benchmark corpus and rule sets for the Python baseline
//! (`bench/rules/baseline.py`), and times this crate on exactly the same data.
//!
//! `cargo run --release -p streamer-rules --example gen_corpus [OUT_DIR]`
//! (default `bench/rules/data` in the workspace).

#[path = "../benches/corpus/mod.rs"]
mod corpus;

use serde_json::json;
use std::io::Write;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux `schedstat`), so that the figure does not depend
/// on how busy the machine is; wall time where that is unavailable.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

/// Passes over the corpus in one timed round.
const PASSES: usize = 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/rules/data")
        });
    std::fs::create_dir_all(&out)?;
    let mut posts = corpus::corpus(10_000, 7);
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("corpus.jsonl"))?);
    for p in &posts {
        let line = json!({
            "text": p.post.text,
            "hosts": p.enrichment.hosts,
            "author": p.post.author_ref(),
        });
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    // FILTER=ascii|nonascii times one kind of post only (the written corpus is always whole).
    match std::env::var("FILTER").as_deref() {
        Ok("ascii") => posts.retain(|p| p.post.text.is_ascii()),
        Ok("nonascii") => posts.retain(|p| !p.post.text.is_ascii()),
        _ => {}
    }
    let only: Option<usize> = std::env::var("ONLY").ok().and_then(|v| v.parse().ok());
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for n in [1_000, 10_000, 100_000] {
        if only.is_some_and(|o| o != n) {
            continue;
        }
        let (specs, watch) = corpus::rules(n, 11);
        let terms: Vec<String> = watch
            .keywords
            .iter()
            .map(|k| k.trim_matches('"').to_lowercase())
            .collect();
        let rules = json!({
            "terms": terms,
            "domains": watch.domains,
            "accounts": watch.accounts,
            "boolean_rules": specs.iter().map(|s| &s.query).collect::<Vec<_>>(),
        });
        std::fs::write(out.join(format!("rules_{n}.json")), rules.to_string())?;

        let t = Instant::now();
        let compiled = streamer_rules::compile(&specs, &watch).map_err(|e| format!("{e:?}"))?;
        let compile_time = t.elapsed();
        let set = compiled.rules;
        let mut best = f64::MAX;
        let mut hits = 0;
        for _ in 0..rounds {
            let wall = Instant::now();
            let t = cpu_seconds(wall);
            hits = 0;
            // Several passes a round, so that one round is long against the clock's tick.
            for _ in 0..PASSES {
                hits = 0;
                for p in &posts {
                    hits += set.matches(&p.post, &p.enrichment).len();
                }
            }
            best = best.min((cpu_seconds(wall) - t) / PASSES as f64);
        }
        println!(
            "{n} rules: compile {compile_time:.2?}, {:.0} posts/s of CPU time (best of {rounds}), {hits} hits",
            posts.len() as f64 / best
        );
    }
    println!("wrote {}", out.display());
    Ok(())
}
