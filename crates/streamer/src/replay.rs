//! `streamer replay`: recorded stream files through the same pipeline as `run`.

use crate::config::Config;
use crate::outbox::{wait_drained, Workers};
use crate::pipeline::{Batch, Input, Origin, Pipeline, PipelineSettings, SharedRules, Stats};
use crate::progress::Reporter;
use anyhow::Result;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use streamer_wire::{DecoderOptions, Format};

/// Options of one replay.
pub struct ReplayOptions {
    pub files: Vec<PathBuf>,
    pub format: Format,
    pub mastodon_instance: Option<String>,
    pub drain_timeout: Duration,
    pub progress: bool,
}

/// What a replay did, for the summary and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    pub lines: u64,
    pub posts: u64,
    pub bad_lines: u64,
    pub alerts: u64,
    pub duplicates: u64,
    pub deletes: u64,
    pub delivered: u64,
    pub failed: u64,
    pub pending: u64,
}

/// Runs a replay to the end and waits (bounded) for the outbox to drain.
pub fn replay(
    config: &Config,
    rules: SharedRules,
    opts: ReplayOptions,
) -> Result<(ReplaySummary, Duration)> {
    // Open every input first: a missing file is a clear error before any work is done.
    let mut inputs: Vec<(String, Box<dyn Read + Send>, Option<u64>)> = Vec::new();
    for f in &opts.files {
        if f.as_os_str() == "-" {
            inputs.push(("stdin".into(), Box::new(std::io::stdin()), None));
        } else {
            let file = std::fs::File::open(f).map_err(|e| {
                crate::UsageError(format!("cannot open input {}: {e}", f.display()))
            })?;
            let len = file.metadata().ok().map(|m| m.len());
            inputs.push((f.display().to_string(), Box::new(file), len));
        }
    }
    let total_bytes = inputs.iter().map(|i| i.2).sum::<Option<u64>>();

    let sinks = crate::build_sinks(config)?;
    let outbox_sinks = crate::outbox_sinks(config);
    let workers = Workers::start(&config.storage.path, sinks)?;
    let pipeline = Pipeline::start(
        PipelineSettings {
            db: config.storage.path.clone(),
            workers: config.pipeline.workers,
            sinks: outbox_sinks,
            merge_window_ms: config.alerts.merge_window_secs * 1000,
            actors: config.actors.clone(),
        },
        rules,
        workers.signal.clone(),
    )?;
    let reporter = opts
        .progress
        .then(|| Reporter::start(pipeline.stats.clone(), total_bytes));
    let started = Instant::now();
    let stats = pipeline.stats.clone();

    let mut read_error = None;
    for (name, reader, _) in inputs {
        let origin = Arc::new(Origin {
            format: opts.format,
            decoder: DecoderOptions {
                max_line_bytes: config.pipeline.max_line_bytes,
                mastodon_instance: opts.mastodon_instance.clone(),
            },
            cursor_key: None,
            name: name.clone(),
        });
        if let Err(e) = read_lines(
            reader,
            origin,
            config.pipeline.max_line_bytes,
            &pipeline.input,
        ) {
            read_error = Some(e.context(format!("reading {name}")));
            break;
        }
    }
    let finished = pipeline.finish();
    let elapsed = started.elapsed();
    if let Some(r) = reporter {
        r.finish();
    }

    let storage = crate::storage::Storage::open(&config.storage.path)?;
    storage.release_followups()?;
    let pending = wait_drained(&config.storage.path, &workers.signal, opts.drain_timeout)?;
    let dstats = workers.stats.clone();
    workers.stop();
    finished?;
    if let Some(e) = read_error {
        return Err(e);
    }
    let counts = storage.outbox_counts(None)?;
    use std::sync::atomic::Ordering::Relaxed;
    Ok((
        ReplaySummary {
            lines: Stats::get(&stats.lines),
            posts: Stats::get(&stats.posts),
            bad_lines: Stats::get(&stats.bad),
            alerts: Stats::get(&stats.alerts),
            duplicates: Stats::get(&stats.duplicates),
            deletes: Stats::get(&stats.deletes),
            delivered: dstats.delivered.load(Relaxed),
            failed: counts.failed,
            pending: pending.max(counts.pending),
        },
        elapsed,
    ))
}

/// Cuts a stream into batches of lines; lines over `max` bytes are skipped whole (never held
/// in memory) and reported as oversized.
pub fn read_lines(reader: impl Read, origin: Arc<Origin>, max: usize, input: &Input) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut batch = Batch::new(origin.clone());
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut line_len = 0usize;
    let mut line_no = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if line_len > 0 {
                line_no += 1;
                finish_line(&mut batch, &mut line, line_len, max, line_no);
            }
            break;
        }
        let (chunk, consumed, eol) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if line_len + chunk.len() <= max {
            line.extend_from_slice(chunk);
        }
        line_len += chunk.len();
        reader.consume(consumed);
        if eol {
            if crate::shutting_down() {
                tracing::info!("stop requested: no more input is read; draining what is in flight");
                break;
            }
            line_no += 1;
            finish_line(&mut batch, &mut line, line_len, max, line_no);
            line_len = 0;
            if batch.is_full() {
                let full = std::mem::replace(&mut batch, Batch::new(origin.clone()));
                input.send(full)?;
            }
        }
    }
    if !batch.is_empty() {
        input.send(batch)?;
    }
    Ok(())
}

fn finish_line(batch: &mut Batch, line: &mut Vec<u8>, len: usize, max: usize, line_no: u64) {
    if len > max {
        batch.push_oversized(line_no, len);
    } else {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        batch.push_line(line_no, l);
    }
    line.clear();
}

/// Prints the end-of-replay summary (standard error, so standard output stays the alerts).
pub fn print_summary(s: &ReplaySummary, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-3);
    eprintln!(
        "replay: {} lines, {} posts ({:.0} posts/s), {} bad lines skipped, {} alerts ({} duplicates skipped), {} deletes",
        s.lines,
        s.posts,
        s.posts as f64 / secs,
        s.bad_lines,
        s.alerts,
        s.duplicates,
        s.deletes
    );
    eprintln!(
        "delivery: {} delivered, {} failed permanently, {} still pending in the outbox{}",
        s.delivered,
        s.failed,
        s.pending,
        if s.pending > 0 {
            " (the next run or replay retries them)"
        } else {
            ""
        }
    );
}
