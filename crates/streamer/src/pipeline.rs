//! The pipeline: lines in, committed alerts out.
//!
//! ```text
//! producers ──batches──► workers (N threads) ──results──► store (1 thread) ──► outbox ──► sinks
//! (replay reader,        decode, enrich, match            reorder by batch seq,
//!  live sources)                                          commit to SQLite
//! ```
//!
//! Producers cut input into [`Batch`]es of lines and number them as they enter the one bounded
//! input channel. Workers decode, enrich and match whole batches in parallel; the store stage
//! puts results back in input order before it commits them, so the events of one post (create,
//! edit, delete) are applied in the order they arrived. Every channel is bounded, so a slow
//! store slows the producers instead of growing memory.

use crate::actors::ActorsConfig;
use crate::alert::{alert_id, merge_key, AlertRecord};
use crate::analytics::{Coverage, StoreHooks};
use crate::outbox::Signal;
use crate::storage::{now_rfc3339, NewAlert, OutboxSink, Storage};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use streamer_model::{ActorEvent, DeleteRef, Enrichment, Event, Post, RuleHit};
use streamer_rules::RuleSet;
use streamer_wire::{Decoder, DecoderOptions, Format};

/// Where a batch of lines came from: how to decode it and where its cursor goes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub format: Format,
    pub decoder: DecoderOptions,
    /// The `cursors` key to store the newest stream cursor under (live sources only).
    pub cursor_key: Option<String>,
    /// A name for logs (`x`, `mastodon:infosec.exchange`, a file path).
    pub name: String,
}

/// A run of lines from one origin, stored in one buffer.
pub struct Batch {
    seq: u64,
    pub origin: Arc<Origin>,
    data: Vec<u8>,
    /// (line number, start, end) into `data`.
    lines: Vec<(u64, usize, usize)>,
    /// Lines skipped for exceeding the size limit: (line number, length).
    oversized: Vec<(u64, usize)>,
}

impl Batch {
    /// An empty batch.
    pub fn new(origin: Arc<Origin>) -> Batch {
        Batch {
            seq: 0,
            origin,
            data: Vec::with_capacity(BATCH_BYTES + 4096),
            lines: Vec::with_capacity(256),
            oversized: Vec::new(),
        }
    }

    /// Adds one line (without its newline).
    pub fn push_line(&mut self, line_no: u64, line: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(line);
        self.lines.push((line_no, start, self.data.len()));
    }

    /// Records a line that was too long to keep.
    pub fn push_oversized(&mut self, line_no: u64, len: usize) {
        self.oversized.push((line_no, len));
    }

    /// Whether the batch should be sent now: it is full, and does not end with an SSE `event:`
    /// line (whose `data:` line must be decoded by the same decoder).
    pub fn is_full(&self) -> bool {
        (self.data.len() >= BATCH_BYTES || self.lines.len() >= BATCH_LINES)
            && !self.ends_with_sse_event()
    }

    fn ends_with_sse_event(&self) -> bool {
        self.lines
            .last()
            .is_some_and(|&(_, s, e)| self.data[s..e].starts_with(b"event:"))
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.oversized.is_empty()
    }
}

const BATCH_BYTES: usize = 256 * 1024;
const BATCH_LINES: usize = 1024;

/// Counters of a pipeline run, read by the progress display and the summary.
#[derive(Default)]
pub struct Stats {
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub posts: AtomicU64,
    pub bad: AtomicU64,
    pub matched: AtomicU64,
    pub alerts: AtomicU64,
    pub duplicates: AtomicU64,
    pub deletes: AtomicU64,
    pub notices: AtomicU64,
    pub ignored: AtomicU64,
}

impl Stats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The compiled rules, swappable at run time (hot reload) without stopping the workers.
pub type SharedRules = Arc<RwLock<Arc<RuleSet>>>;

/// What a worker made of one line that the store stage must act on.
enum Outcome {
    Matched(Box<Matched>),
    Delete(DeleteRef),
    Actor(ActorEvent),
}

struct Matched {
    post: Post,
    enrichment: Enrichment,
    hits: Vec<RuleHit>,
    raw: Vec<u8>,
    edit: bool,
}

struct Processed {
    seq: u64,
    origin: Arc<Origin>,
    outcomes: Vec<Outcome>,
    cursor: Option<i64>,
    /// Posts seen (matched or not) and withheld, for coverage analytics.
    coverage: Coverage,
}

/// The pipeline has stopped and takes no more input.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the pipeline has stopped")]
pub struct Stopped;

/// The entrance of the pipeline; clone it for each producer.
#[derive(Clone)]
pub struct Input {
    tx: SyncSender<Batch>,
    next_seq: Arc<Mutex<u64>>,
}

impl Input {
    /// Sends a batch, waiting while the pipeline is full. Fails when the pipeline has stopped.
    pub fn send(&self, mut batch: Batch) -> Result<(), Stopped> {
        let mut seq = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
        batch.seq = *seq;
        // Numbering and sending under one lock keeps channel order equal to seq order.
        self.tx.send(batch).map_err(|_| Stopped)?;
        *seq += 1;
        Ok(())
    }
}

/// Settings of a pipeline run.
pub struct PipelineSettings {
    pub db: PathBuf,
    pub workers: usize,
    pub sinks: Vec<OutboxSink>,
    pub merge_window_ms: i64,
    /// Watched actors: their renames, silences and account changes alert (`actors`).
    pub actors: ActorsConfig,
}

/// A running pipeline.
pub struct Pipeline {
    pub input: Input,
    pub stats: Arc<Stats>,
    threads: Vec<std::thread::JoinHandle<()>>,
    store: std::thread::JoinHandle<Result<()>>,
}

impl Pipeline {
    /// Starts the workers and the store stage. `signal` wakes the delivery workers.
    pub fn start(
        settings: PipelineSettings,
        rules: SharedRules,
        signal: Arc<Signal>,
    ) -> Result<Pipeline> {
        let storage = Storage::open(&settings.db)?;
        let workers = settings.workers.max(1);
        let (tx, rx) = sync_channel::<Batch>(workers * 2);
        let (out_tx, out_rx) = sync_channel::<Processed>(workers * 2);
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        let mut threads = Vec::new();
        for i in 0..workers {
            let rx = rx.clone();
            let out_tx = out_tx.clone();
            let rules = rules.clone();
            let stats = stats.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("match-{i}"))
                    .spawn(move || worker(&rx, &out_tx, &rules, &stats))?,
            );
        }
        drop(out_tx);
        let store_stats = stats.clone();
        let store = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut hooks = StoreHooks::new(settings.actors);
                store_loop(
                    storage,
                    out_rx,
                    &settings.sinks,
                    settings.merge_window_ms,
                    &store_stats,
                    &signal,
                    &mut hooks,
                )
            })?;
        Ok(Pipeline {
            input: Input {
                tx,
                next_seq: Arc::new(Mutex::new(0)),
            },
            stats,
            threads,
            store,
        })
    }

    /// Closes the input and waits until everything sent has been committed.
    pub fn finish(self) -> Result<()> {
        drop(self.input);
        for t in self.threads {
            let _ = t.join();
        }
        match self.store.join() {
            Ok(r) => r,
            Err(_) => anyhow::bail!("the store stage panicked"),
        }
    }
}

fn worker(
    rx: &Mutex<Receiver<Batch>>,
    out: &SyncSender<Processed>,
    rules: &SharedRules,
    stats: &Stats,
) {
    let mut bad_logged = 0u32;
    loop {
        let batch = {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        let rules = rules.read().unwrap_or_else(|e| e.into_inner()).clone();
        let processed = process_batch(batch, &rules, stats, &mut bad_logged);
        if out.send(processed).is_err() {
            return;
        }
    }
}

const MAX_BAD_LINES_LOGGED: u32 = 20;

fn process_batch(batch: Batch, rules: &RuleSet, stats: &Stats, bad_logged: &mut u32) -> Processed {
    let origin = batch.origin.clone();
    let mut decoder = Decoder::new(origin.format, origin.decoder.clone());
    let mut outcomes = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut coverage = Coverage::default();
    let (mut posts, mut bad, mut matched, mut deletes, mut notices, mut ignored) =
        (0, 0, 0, 0, 0, 0);
    Stats::add(
        &stats.lines,
        (batch.lines.len() + batch.oversized.len()) as u64,
    );
    Stats::add(
        &stats.bytes,
        batch.data.len() as u64
            + batch.lines.len() as u64
            + batch.oversized.iter().map(|o| o.1 as u64 + 1).sum::<u64>(),
    );
    for &(line_no, len) in &batch.oversized {
        bad += 1;
        if *bad_logged < MAX_BAD_LINES_LOGGED {
            *bad_logged += 1;
            tracing::warn!(input = %origin.name, line = line_no, bytes = len, "line over the size limit, skipped");
        }
    }
    for &(line_no, s, e) in &batch.lines {
        let line = &batch.data[s..e];
        let decoded = match decoder.feed(line, line_no) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(err) => {
                bad += 1;
                if *bad_logged < MAX_BAD_LINES_LOGGED {
                    *bad_logged += 1;
                    tracing::warn!(input = %origin.name, "bad line skipped: {err}");
                }
                continue;
            }
        };
        if let Some(c) = decoded.cursor {
            cursor = Some(cursor.map_or(c, |old: i64| old.max(c)));
        }
        if crate::analytics::is_withheld_line(line) {
            coverage.withheld(streamer_model::Platform::X);
        }
        match decoded.event {
            Event::Create(post) => {
                posts += 1;
                coverage.post(post.platform);
                if let Some(m) = match_post(*post, line, false, rules) {
                    matched += 1;
                    outcomes.push(Outcome::Matched(Box::new(m)));
                }
            }
            Event::Edit(post) => {
                posts += 1;
                coverage.post(post.platform);
                if let Some(m) = match_post(*post, line, true, rules) {
                    matched += 1;
                    outcomes.push(Outcome::Matched(Box::new(m)));
                }
            }
            Event::Delete(d) => {
                deletes += 1;
                outcomes.push(Outcome::Delete(d));
            }
            Event::Actor(a) => outcomes.push(Outcome::Actor(a)),
            Event::Notice(n) => {
                notices += 1;
                tracing::warn!(input = %origin.name, title = %n.title, detail = ?n.detail, "stream notice");
            }
            Event::Ignored(_) => ignored += 1,
        }
    }
    let counters = crate::metrics::global().source(&origin.name);
    for (c, n) in [
        (
            &counters.lines,
            (batch.lines.len() + batch.oversized.len()) as u64,
        ),
        (&counters.posts, posts),
        (&counters.bad_lines, bad),
        (&counters.notices, notices),
        (&counters.matched, matched),
    ] {
        c.fetch_add(n, Ordering::Relaxed);
    }
    Stats::add(&stats.posts, posts);
    Stats::add(&stats.bad, bad);
    Stats::add(&stats.matched, matched);
    Stats::add(&stats.deletes, deletes);
    Stats::add(&stats.notices, notices);
    Stats::add(&stats.ignored, ignored);
    Processed {
        seq: batch.seq,
        origin,
        outcomes,
        cursor,
        coverage,
    }
}

/// Enriches and matches one post; `None` when no rule matches.
fn match_post(post: Post, raw: &[u8], edit: bool, rules: &RuleSet) -> Option<Matched> {
    let started = std::time::Instant::now();
    let enrichment = streamer_ioc::enrich(&post);
    let hits = rules.matches(&post, &enrichment);
    crate::metrics::global()
        .match_latency
        .observe_ns(started.elapsed().as_nanos() as u64);
    if hits.is_empty() {
        return None;
    }
    Some(Matched {
        post,
        enrichment,
        hits,
        raw: raw.to_vec(),
        edit,
    })
}

fn store_loop(
    mut storage: Storage,
    rx: Receiver<Processed>,
    sinks: &[OutboxSink],
    window_ms: i64,
    stats: &Stats,
    signal: &Signal,
    hooks: &mut StoreHooks,
) -> Result<()> {
    let mut pending: BTreeMap<u64, Processed> = BTreeMap::new();
    let mut next = 0u64;
    for p in rx {
        pending.insert(p.seq, p);
        while let Some(p) = pending.remove(&next) {
            next += 1;
            if p.outcomes.is_empty()
                && p.coverage.is_empty()
                && (p.cursor.is_none() || p.origin.cursor_key.is_none())
            {
                continue;
            }
            let new_rows = commit(&mut storage, p, sinks, window_ms, stats, hooks)?;
            if new_rows > 0 {
                signal.notify();
            }
        }
    }
    Ok(())
}

fn commit(
    storage: &mut Storage,
    p: Processed,
    sinks: &[OutboxSink],
    window_ms: i64,
    stats: &Stats,
    hooks: &mut StoreHooks,
) -> Result<usize> {
    let mut tx = storage.batch()?;
    let now = jiff::Timestamp::now();
    let now_s = crate::storage::now_rfc3339_at(now);
    // Coverage and alert counters name the source: a live source by its name, a replay as such.
    let live = p.origin.cursor_key.is_some();
    let source = if live {
        p.origin.name.as_str()
    } else {
        "replay"
    };
    hooks.coverage(tx.conn(), source, &p.coverage, now)?;
    let mut synthetic = hooks.periodic(tx.conn(), &now_s)?;
    for outcome in p.outcomes {
        match outcome {
            Outcome::Matched(m) => {
                let Matched {
                    mut post,
                    enrichment,
                    hits,
                    raw,
                    edit,
                } = *m;
                let already = tx.alerted_rules(post.platform, &post.id)?;
                let new_hits: Vec<RuleHit> = hits
                    .into_iter()
                    .filter(|h| !already.contains(&h.id))
                    .collect();
                if new_hits.is_empty() {
                    if edit {
                        tx.upsert_post(&post, &raw)?;
                    } else {
                        Stats::add(&stats.duplicates, 1);
                    }
                    continue;
                }
                tx.upsert_post(&post, &raw)?;
                let old_handle = hooks.before_post(tx.conn(), &post)?;
                post.author.previous_handles = tx.observe_author(&post)?;
                let record = AlertRecord {
                    alert_id: alert_id(&post, &new_hits),
                    created_at: now_rfc3339(),
                    rules: new_hits,
                    post,
                    iocs: enrichment.iocs,
                    entities: enrichment.entities,
                };
                let json = serde_json::to_string(&record)?;
                let key = merge_key(&record.post.text, &record.rules);
                tx.insert_alert(
                    &NewAlert {
                        alert_id: &record.alert_id,
                        post: &record.post,
                        rule_ids: record.rule_ids(),
                        severity: record.severity(),
                        created_at: &record.created_at,
                        record_json: &json,
                        merge_key: &key,
                    },
                    sinks,
                    window_ms,
                )?;
                Stats::add(&stats.alerts, 1);
                let alert_source = if live {
                    source.to_string()
                } else {
                    format!("replay:{}", record.post.platform.as_str())
                };
                synthetic.extend(hooks.after_alert(
                    tx.conn(),
                    &record,
                    old_handle.as_deref(),
                    &alert_source,
                    now,
                )?);
            }
            Outcome::Delete(d) => {
                tx.mark_deleted(&d)?;
            }
            Outcome::Actor(a) => {
                synthetic.extend(hooks.before_actor_event(tx.conn(), &a, &now_s)?);
                tx.apply_actor_event(&a)?;
            }
        }
    }
    for record in &synthetic {
        if crate::analytics::insert_synthetic(&mut tx, record, sinks, window_ms)? {
            hooks.count_synthetic(tx.conn(), record, now)?;
            Stats::add(&stats.alerts, 1);
        }
    }
    if let (Some(c), Some(key)) = (p.cursor, &p.origin.cursor_key) {
        tx.set_cursor(key, &c.to_string())?;
    }
    tx.commit()
}
