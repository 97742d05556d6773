//! The live sources of `streamer run`, bridged into the pipeline.
//!
//! ```text
//! tokio runtime (2 threads)                        bridge thread               pipeline
//! x ─────────┐                                     batches per source,          Input::send
//! mastodon:… ├──► mpsc (bounded) SourceLine ──►    flushed when full or   ──►  (blocks when
//! bluesky ───┘                                     when the channel is idle     the pipeline is full)
//! state writer: every 5 s, each source's status ──► SQLite `source_state` (`streamer status`)
//! ```
//!
//! Each configured source is its own task with its own backoff (`streamer-sources`); a source
//! that fails for good stops alone. `Input::send` blocks, so it is called from the bridge
//! thread, never from the async runtime: a full pipeline fills the bounded channel, the
//! sources stop reading, and TCP pushes back on the servers.

use crate::config::{Config, SourceConfig};
use crate::pipeline::{Batch, Input, Origin};
use crate::storage::Storage;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use streamer_sources::jetstream::JetstreamConfig;
use streamer_sources::mastodon::{MastodonConfig, Stream};
use streamer_sources::x::{XConfig, XRuleSpec};
use streamer_sources::{Emitter, Item, SourceLine, SourceSpec, SourceStatus, StatusHandle};
use streamer_wire::{DecoderOptions, Format};
use tokio::sync::mpsc;

/// How often source states are written to SQLite (and rates computed).
const STATE_EVERY: Duration = Duration::from_secs(5);

/// How far back a Mastodon stream resumes after a restart. Its resume id is the newest status
/// the source had *seen* at the last state write, and a status seen just before a SIGKILL may
/// not be stored yet; resuming a little earlier (twice the write interval) and deduplicating
/// loses none of them.
const MASTODON_REWIND_MS: u64 = 10_000;

/// `id` moved `ms` milliseconds back when it is a Mastodon snowflake id (the creation time in
/// milliseconds shifted left 16 bits, plus a sequence); other ids (sequential numbers, other
/// servers' string ids) are returned as they are.
fn rewind_mastodon_id(id: &str, ms: u64) -> String {
    const SNOWFLAKE_MIN: u64 = 1 << 40;
    match id.parse::<u64>() {
        Ok(n) if n >= SNOWFLAKE_MIN => n.saturating_sub(ms << 16).max(SNOWFLAKE_MIN).to_string(),
        _ => id.to_string(),
    }
}
/// How often a one-line summary per source is logged.
const LOG_EVERY: Duration = Duration::from_secs(300);
/// Lines waiting between the sources and the bridge.
const CHANNEL: usize = 4096;

/// The running live sources.
pub struct Live {
    runtime: tokio::runtime::Runtime,
    bridge: std::thread::JoinHandle<()>,
    statuses: Vec<StatusHandle>,
    db: PathBuf,
    /// Each X source's rule channel and how its rules are made, for hot reloads.
    x_rules: Vec<XRules>,
}

/// How an X source's server-side rules are derived from the config, and where new ones go.
struct XRules {
    name: String,
    limits: streamer_rules::XLimits,
    tag_prefix: String,
    tx: tokio::sync::watch::Sender<Vec<XRuleSpec>>,
}

/// One source as started: what it runs, how its lines are decoded, what it is called.
struct Planned {
    spec: SourceSpec,
    origin: Arc<Origin>,
    status: StatusHandle,
    x_rules: Option<XRules>,
}

impl Live {
    /// Starts every configured source; `input` is the pipeline's entrance. Fails only on what
    /// an operator must fix before starting (a missing secret).
    /// `notifier` raises operator notices when a source is refused for good, stays down, or
    /// recovers.
    pub fn start(
        config: &Config,
        input: Input,
        notifier: Option<crate::outbox::Notifier>,
    ) -> Result<Live> {
        let planned = plan(config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sources")
            .enable_all()
            .build()
            .context("cannot start the sources' runtime")?;
        let (tx, rx) = mpsc::channel::<SourceLine>(CHANNEL);
        let origins: Vec<Arc<Origin>> = planned.iter().map(|p| p.origin.clone()).collect();
        let statuses: Vec<StatusHandle> = planned.iter().map(|p| p.status.clone()).collect();
        let mut x_rules = Vec::new();
        {
            let _guard = runtime.enter();
            for (i, mut p) in planned.into_iter().enumerate() {
                x_rules.extend(p.x_rules.take());
                tracing::info!(source = %p.origin.name, "starting source");
                streamer_sources::spawn(p.spec, Emitter::new(i, tx.clone()), p.status);
            }
        }
        drop(tx);
        let bridge = std::thread::Builder::new()
            .name("sources-bridge".into())
            .spawn(move || bridge(rx, origins, input))?;
        let db = config.storage.path.clone();
        runtime.spawn(state_writer(db.clone(), statuses.clone(), notifier));
        Ok(Live {
            runtime,
            bridge,
            statuses,
            db,
            x_rules,
        })
    }

    /// After a rules reload: hands each X source its new server-side rules, which it syncs
    /// with X (stale Streamer-tagged rules deleted, missing ones added) without reconnecting.
    pub fn reload_x_rules(&self, config: &Config) {
        for x in &self.x_rules {
            let (rules, warnings) =
                streamer_rules::to_x_rules(&config.rules, &config.watch, &x.limits, &x.tag_prefix);
            for w in warnings {
                tracing::warn!(source = %x.name, rule = %w.rule_id, "{}", w.message);
            }
            let specs = rules
                .into_iter()
                .map(|r| XRuleSpec {
                    value: r.value,
                    tag: r.tag,
                })
                .collect();
            let _ = x.tx.send(specs);
        }
    }

    /// The sources' current states (for the dashboard).
    pub fn statuses(&self) -> Vec<SourceStatus> {
        self.statuses.iter().map(|s| s.snapshot()).collect()
    }

    /// Stops every source, hands the lines already read to the pipeline, and writes the final
    /// states. Call before `Pipeline::finish`.
    pub fn stop(self) {
        self.runtime.shutdown_timeout(Duration::from_secs(2));
        let _ = self.bridge.join();
        let states: Vec<SourceStatus> = self.statuses.iter().map(|s| s.snapshot()).collect();
        let mut storage = None;
        if let Err(e) = write_states(&mut storage, &self.db, &states, &HashMap::new(), false) {
            tracing::warn!("cannot store the sources' final state: {e:#}");
        }
    }
}

fn plan(config: &Config) -> Result<Vec<Planned>> {
    let storage = Storage::open(&config.storage.path)?;
    let stored: HashMap<String, serde_json::Value> = storage
        .source_states()?
        .into_iter()
        .filter_map(|(name, json, _)| Some((name, serde_json::from_str(&json).ok()?)))
        .collect();
    let max_line_bytes = config.pipeline.max_line_bytes;
    let mut out = Vec::new();
    for source in &config.sources {
        let name = source.name();
        match source {
            SourceConfig::X {
                bearer_token,
                base_url,
                rule_tag_prefix,
                backfill_minutes,
                max_rules,
                max_rule_len,
                stall_timeout_secs,
            } => {
                let token = bearer_token
                    .resolve()
                    .with_context(|| format!("source {name}: the bearer token"))?;
                let limits = streamer_rules::XLimits {
                    max_rule_len: *max_rule_len,
                    max_rules: *max_rules,
                };
                let (rules, warnings) = streamer_rules::to_x_rules(
                    &config.rules,
                    &config.watch,
                    &limits,
                    rule_tag_prefix,
                );
                for w in warnings {
                    tracing::warn!(source = %name, rule = %w.rule_id, "{}", w.message);
                }
                let mut cfg = XConfig::new(
                    base_url,
                    &token,
                    rules
                        .into_iter()
                        .map(|r| XRuleSpec {
                            value: r.value,
                            tag: r.tag,
                        })
                        .collect(),
                );
                cfg.tag_prefix = rule_tag_prefix.clone();
                let (tx, rx) = tokio::sync::watch::channel(cfg.rules.clone());
                cfg.rule_updates = Some(rx);
                cfg.backfill_minutes = *backfill_minutes;
                cfg.stall_timeout = Duration::from_secs(*stall_timeout_secs);
                cfg.max_line_bytes = max_line_bytes;
                out.push(Planned {
                    spec: SourceSpec::X(cfg),
                    origin: origin(Format::X, &name, None, None, max_line_bytes),
                    status: StatusHandle::new(name.clone()),
                    x_rules: Some(XRules {
                        name: name.clone(),
                        limits,
                        tag_prefix: rule_tag_prefix.clone(),
                        tx,
                    }),
                });
            }
            SourceConfig::Mastodon {
                instance,
                streams,
                access_token,
                stall_timeout_secs,
            } => {
                let token = match access_token {
                    Some(t) => Some(
                        t.resolve()
                            .with_context(|| format!("source {name}: the access token"))?,
                    ),
                    None => None,
                };
                let host = crate::config::host_of(instance);
                for stream in streams {
                    let stream_name = format!("{name}:{stream}");
                    let mut cfg = MastodonConfig::new(
                        instance,
                        Stream::parse(stream).map_err(|e| anyhow::anyhow!("{e}"))?,
                    );
                    cfg.access_token = token.clone();
                    cfg.stall_timeout = Duration::from_secs(*stall_timeout_secs);
                    cfg.max_line_bytes = max_line_bytes;
                    cfg.resume_id = stored
                        .get(&stream_name)
                        .and_then(|v| v.get("resume"))
                        .and_then(|r| r.as_str())
                        .map(|id| rewind_mastodon_id(id, MASTODON_REWIND_MS));
                    let status = StatusHandle::new(stream_name.clone());
                    let resume = cfg.resume_id.clone();
                    status.update(|s| s.resume = resume);
                    out.push(Planned {
                        spec: SourceSpec::Mastodon(cfg),
                        origin: origin(
                            Format::Mastodon,
                            &stream_name,
                            Some(host.clone()),
                            None,
                            max_line_bytes,
                        ),
                        status,
                        x_rules: None,
                    });
                }
            }
            SourceConfig::Bluesky {
                url,
                compress,
                zstd_dictionary,
                wanted_dids,
                stall_timeout_secs,
                rewind_secs,
                ..
            } => {
                // Handles in `wanted_dids` were turned into DIDs by `crate::handles` before
                // `Live::start`; any left (not resolvable) are dropped rather than sent.
                let mut cfg = JetstreamConfig::new(url);
                if let (true, Some(path)) = (*compress, zstd_dictionary) {
                    let dict = std::fs::read(path).with_context(|| {
                        format!(
                            "source {name}: cannot read the zstd dictionary {}",
                            path.display()
                        )
                    })?;
                    cfg.zstd_dictionary = Some(Arc::new(dict));
                }
                cfg.wanted_dids = wanted_dids
                    .iter()
                    .filter(|d| d.starts_with("did:"))
                    .cloned()
                    .collect();
                if !wanted_dids.is_empty() && cfg.wanted_dids.is_empty() {
                    // An empty list would mean every account: never widen a watched-only source.
                    tracing::error!(source = %name, "not started: none of its wanted_dids is a DID");
                    continue;
                }
                cfg.cursor = storage
                    .cursor(&name)?
                    .and_then(|c| c.trim().parse::<i64>().ok());
                cfg.rewind = Duration::from_secs(*rewind_secs);
                cfg.stall_timeout = Duration::from_secs(*stall_timeout_secs);
                cfg.max_line_bytes = max_line_bytes;
                if let Some(c) = cfg.cursor {
                    tracing::info!(source = %name, cursor = c, "resuming Jetstream from the stored cursor");
                }
                out.push(Planned {
                    spec: SourceSpec::Jetstream(cfg),
                    origin: origin(
                        Format::Bluesky,
                        &name,
                        None,
                        Some(name.clone()),
                        max_line_bytes,
                    ),
                    status: StatusHandle::new(name.clone()),
                    x_rules: None,
                });
            }
        }
    }
    Ok(out)
}

fn origin(
    format: Format,
    name: &str,
    mastodon_instance: Option<String>,
    cursor_key: Option<String>,
    max_line_bytes: usize,
) -> Arc<Origin> {
    Arc::new(Origin {
        format,
        decoder: DecoderOptions {
            max_line_bytes,
            mastodon_instance,
        },
        cursor_key,
        name: name.to_string(),
    })
}

/// Moves lines from the sources into pipeline batches, one batch per source, sent when full
/// or when no more lines are waiting (so a quiet stream's post is not held back).
fn bridge(mut rx: mpsc::Receiver<SourceLine>, origins: Vec<Arc<Origin>>, input: Input) {
    let mut batches: HashMap<usize, Batch> = HashMap::new();
    let mut line_numbers = vec![0u64; origins.len()];
    let send = |b: Batch| input.send(b).is_ok();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(line) = next.take() {
            let Some(origin) = origins.get(line.source) else {
                continue;
            };
            line_numbers[line.source] += 1;
            let n = line_numbers[line.source];
            let batch = batches
                .entry(line.source)
                .or_insert_with(|| Batch::new(origin.clone()));
            match &line.item {
                Item::Line(l) => batch.push_line(n, l),
                Item::Oversized(len) => batch.push_oversized(n, *len),
            }
            if batch.is_full() {
                if let Some(b) = batches.remove(&line.source) {
                    if !send(b) {
                        return;
                    }
                }
            }
            next = rx.try_recv().ok();
        }
        for (_, b) in batches.drain() {
            if !b.is_empty() && !send(b) {
                return;
            }
        }
    }
    for (_, b) in batches.drain() {
        if !b.is_empty() && !send(b) {
            return;
        }
    }
}

/// Writes every source's state to SQLite every [`STATE_EVERY`] and logs a summary every
/// [`LOG_EVERY`].
async fn state_writer(
    db: PathBuf,
    statuses: Vec<StatusHandle>,
    notifier: Option<crate::outbox::Notifier>,
) {
    let mut last_posts: HashMap<String, (u64, tokio::time::Instant)> = HashMap::new();
    let watches: Arc<std::sync::Mutex<HashMap<String, Watch>>> = Arc::default();
    let storage: Arc<std::sync::Mutex<Option<Storage>>> = Arc::default();
    let mut since_log = Duration::ZERO;
    let mut tick = tokio::time::interval(STATE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let states: Vec<SourceStatus> = statuses.iter().map(|s| s.snapshot()).collect();
        let now = tokio::time::Instant::now();
        let mut rates = HashMap::new();
        for s in &states {
            let (posts, at) = last_posts.get(&s.name).copied().unwrap_or((s.posts, now));
            let secs = now.duration_since(at).as_secs_f64();
            let rate = if secs > 0.0 {
                (s.posts.saturating_sub(posts)) as f64 / secs
            } else {
                0.0
            };
            rates.insert(s.name.clone(), rate);
            last_posts.insert(s.name.clone(), (s.posts, now));
        }
        since_log += STATE_EVERY;
        let log_now = since_log >= LOG_EVERY;
        if log_now {
            since_log = Duration::ZERO;
        }
        let db = db.clone();
        let storage = storage.clone();
        let notifier = notifier.clone();
        let watches = watches.clone();
        let result = tokio::task::spawn_blocking(move || {
            if let Some(n) = &notifier {
                let mut w = watches.lock().unwrap_or_else(|e| e.into_inner());
                let now = jiff::Timestamp::now().as_millisecond();
                for s in &states {
                    let watch = w.entry(s.name.clone()).or_default();
                    let mut notices = notices_for(s, watch, now, DOWN_AFTER_MS);
                    notices.extend(dead_man(s, watch, now, NO_POSTS_AFTER_MS));
                    for (kind, message) in notices {
                        n.notify(kind, Some(&s.name), &message);
                    }
                }
            }
            let mut guard = storage.lock().unwrap_or_else(|e| e.into_inner());
            let r = write_states(&mut guard, &db, &states, &rates, true);
            if log_now {
                for s in &states {
                    log_summary(s, rates.get(&s.name).copied().unwrap_or(0.0));
                }
            }
            r
        })
        .await;
        match result {
            Ok(Err(e)) => tracing::warn!("cannot store the sources' state: {e:#}"),
            Err(e) => tracing::warn!("source state writer failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
}

/// A source down (reconnecting) this long raises a `source_down` notice.
const DOWN_AFTER_MS: i64 = 5 * 60 * 1000;

/// A connected source that delivers no post for this long raises a `no_posts` notice (the
/// dead-man's switch: a stream that is open but silent is as bad as one that is down).
const NO_POSTS_AFTER_MS: i64 = 30 * 60 * 1000;

/// Which notices a source has raised, so each outage is announced once.
#[derive(Debug, Default)]
struct Watch {
    refused: bool,
    down: bool,
    /// Posts seen at the last change, and when that change was noticed.
    posts: Option<(u64, i64)>,
    silent: bool,
}

/// The dead-man's switch: a `no_posts` notice once a source has delivered nothing for
/// `after_ms` (connected or not), and a recovery notice when posts flow again.
fn dead_man(
    s: &SourceStatus,
    w: &mut Watch,
    now_ms: i64,
    after_ms: i64,
) -> Vec<(crate::render::NoticeKind, String)> {
    use crate::render::NoticeKind;
    let mut out = Vec::new();
    if s.stopped {
        return out;
    }
    match w.posts {
        Some((n, _)) if n == s.posts => {}
        _ => {
            let first = w.posts.is_none();
            w.posts = Some((s.posts, now_ms));
            if w.silent && !first {
                w.silent = false;
                out.push((
                    NoticeKind::SourceRecovered,
                    format!("{} is delivering posts again", s.name),
                ));
            }
            return out;
        }
    }
    let since = w.posts.map(|p| p.1).unwrap_or(now_ms);
    if !w.silent && now_ms - since >= after_ms {
        w.silent = true;
        out.push((
            NoticeKind::NoPosts,
            format!(
                "{} has delivered no post for {} minutes",
                s.name,
                (now_ms - since) / 60_000
            ),
        ));
    }
    out
}

/// The operator notices a source's state calls for now: refused for good (once), down for
/// `down_after_ms` (once per outage), recovered after a notified outage.
fn notices_for(
    s: &SourceStatus,
    w: &mut Watch,
    now_ms: i64,
    down_after_ms: i64,
) -> Vec<(crate::render::NoticeKind, String)> {
    use crate::render::NoticeKind;
    let error = s.last_error.as_deref().unwrap_or("unknown error");
    let mut out = Vec::new();
    if s.stopped {
        if !w.refused {
            w.refused = true;
            out.push((
                NoticeKind::SourceRefused,
                format!("{} stopped for good and needs an operator: {error}", s.name),
            ));
        }
        return out;
    }
    if s.connected {
        if w.down {
            w.down = false;
            out.push((
                NoticeKind::SourceRecovered,
                format!("{} is connected again", s.name),
            ));
        }
    } else if !w.down && s.since_ms.is_some_and(|t| now_ms - t >= down_after_ms) {
        w.down = true;
        out.push((
            NoticeKind::SourceDown,
            format!(
                "{} has been down for {} minutes, still reconnecting: {error}",
                s.name,
                (now_ms - s.since_ms.unwrap_or(now_ms)) / 60_000
            ),
        ));
    }
    out
}

fn log_summary(s: &SourceStatus, rate: f64) {
    if s.stopped {
        tracing::error!(source = %s.name, error = ?s.last_error, "source STOPPED: needs an operator");
    } else if s.connected {
        tracing::info!(source = %s.name, posts_per_sec = format!("{rate:.2}"), lag_ms = ?s.lag_ms,
            posts = s.posts, reconnects = s.reconnects, duplicates = s.duplicates, "source connected");
    } else {
        tracing::warn!(source = %s.name, error = ?s.last_error, reconnects = s.reconnects, "source reconnecting");
    }
}

/// Writes the states through `storage`, opened on first use and kept.
fn write_states(
    storage: &mut Option<Storage>,
    db: &std::path::Path,
    states: &[SourceStatus],
    rates: &HashMap<String, f64>,
    running: bool,
) -> Result<()> {
    if storage.is_none() {
        *storage = Some(Storage::open(db)?);
    }
    let Some(storage) = storage.as_ref() else {
        return Ok(());
    };
    for s in states {
        let mut v = serde_json::to_value(s)?;
        v["posts_per_sec"] = serde_json::json!(rates.get(&s.name).copied().unwrap_or(0.0));
        v["running"] = serde_json::json!(running);
        storage.set_source_state(&s.name, &v.to_string())?;
    }
    Ok(())
}

/// One line of `streamer status` for a source's stored state (JSON from the state writer).
pub fn describe_state(source: &str, state_json: &str, updated_at: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(state_json).unwrap_or_default();
    let ms_to_time = |key: &str| {
        v.get(key)
            .and_then(|m| m.as_i64())
            .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let num = |key: &str| v.get(key).and_then(|n| n.as_u64()).unwrap_or(0);
    let state = if v.get("running").and_then(|b| b.as_bool()) == Some(false) {
        "not running (streamer run has stopped)".to_string()
    } else if v.get("stopped").and_then(|b| b.as_bool()) == Some(true) {
        "STOPPED (needs an operator)".to_string()
    } else if v.get("connected").and_then(|b| b.as_bool()) == Some(true) {
        format!(
            "connected since {}",
            ms_to_time("since_ms").unwrap_or_default()
        )
    } else {
        format!(
            "reconnecting since {}",
            ms_to_time("since_ms").unwrap_or_else(|| "start".into())
        )
    };
    let mut line = format!(
        "source {source}: {state}; {:.2} posts/s; lag {}; {} posts, {} duplicates, {} oversized, {} reconnects",
        v.get("posts_per_sec").and_then(|r| r.as_f64()).unwrap_or(0.0),
        v.get("lag_ms")
            .and_then(|l| l.as_i64())
            .map(|l| format!("{:.1} s", l as f64 / 1000.0))
            .unwrap_or_else(|| "unknown".into()),
        num("posts"),
        num("duplicates"),
        num("oversized"),
        num("reconnects"),
    );
    if let Some(e) = v.get("last_error").and_then(|e| e.as_str()) {
        line.push_str(&format!("; last error: {e}"));
    }
    for n in v
        .get("notes")
        .and_then(|n| n.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(n) = n.as_str() {
            line.push_str(&format!("\n  note: {n}"));
        }
    }
    line.push_str(&format!(" (at {updated_at})"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::NoticeKind;

    #[test]
    fn mastodon_snowflake_ids_rewind_and_others_stay() {
        // 2024-11-30T10:00:00Z in ms, shifted as Mastodon does, plus a sequence.
        let at = 1_732_960_800_000u64;
        let id = ((at << 16) | 0x1234).to_string();
        let back: u64 = rewind_mastodon_id(&id, 10_000).parse().unwrap();
        assert_eq!(back >> 16, at - 10_000);
        assert_eq!(
            rewind_mastodon_id("501", 10_000),
            "501",
            "sequential ids stay"
        );
        assert_eq!(
            rewind_mastodon_id("AbC9xYz", 10_000),
            "AbC9xYz",
            "flake strings stay"
        );
    }

    #[test]
    fn each_outage_is_announced_once_and_its_end_too() {
        let mut w = Watch::default();
        let mut s = SourceStatus {
            name: "x".into(),
            since_ms: Some(0),
            last_error: Some("HTTP 503".into()),
            ..SourceStatus::default()
        };
        let kinds = |v: Vec<(NoticeKind, String)>| v.into_iter().map(|n| n.0).collect::<Vec<_>>();
        assert!(notices_for(&s, &mut w, 60_000, DOWN_AFTER_MS).is_empty());
        let down = notices_for(&s, &mut w, DOWN_AFTER_MS, DOWN_AFTER_MS);
        assert_eq!(kinds(down.clone()), [NoticeKind::SourceDown]);
        assert!(down[0].1.contains("HTTP 503"));
        assert!(notices_for(&s, &mut w, DOWN_AFTER_MS * 3, DOWN_AFTER_MS).is_empty());
        s.connected = true;
        assert_eq!(
            kinds(notices_for(&s, &mut w, DOWN_AFTER_MS * 4, DOWN_AFTER_MS)),
            [NoticeKind::SourceRecovered]
        );
        assert!(notices_for(&s, &mut w, DOWN_AFTER_MS * 5, DOWN_AFTER_MS).is_empty());
        s.connected = false;
        s.stopped = true;
        assert_eq!(
            kinds(notices_for(&s, &mut w, 0, DOWN_AFTER_MS)),
            [NoticeKind::SourceRefused]
        );
        assert!(notices_for(&s, &mut w, DOWN_AFTER_MS * 9, DOWN_AFTER_MS).is_empty());
    }

    #[test]
    fn a_silent_source_trips_the_dead_mans_switch_once_and_recovers() {
        let mut w = Watch::default();
        let mut s = SourceStatus {
            name: "bluesky".into(),
            connected: true,
            posts: 10,
            ..SourceStatus::default()
        };
        let kinds = |v: Vec<(NoticeKind, String)>| v.into_iter().map(|n| n.0).collect::<Vec<_>>();
        let after = NO_POSTS_AFTER_MS;
        assert!(dead_man(&s, &mut w, 0, after).is_empty());
        assert!(dead_man(&s, &mut w, after - 1, after).is_empty());
        let silent = dead_man(&s, &mut w, after, after);
        assert_eq!(kinds(silent.clone()), [NoticeKind::NoPosts]);
        assert!(silent[0].1.contains("30 minutes"), "{}", silent[0].1);
        assert!(
            dead_man(&s, &mut w, after * 3, after).is_empty(),
            "announced once"
        );
        s.posts = 11;
        assert_eq!(
            kinds(dead_man(&s, &mut w, after * 4, after)),
            [NoticeKind::SourceRecovered]
        );
        assert!(dead_man(&s, &mut w, after * 4 + 1, after).is_empty());
        s.posts = 12;
        assert!(
            dead_man(&s, &mut w, after * 5, after).is_empty(),
            "posts flowing: nothing to say"
        );
    }
}
