//! Delivery: one worker thread per sink drains that sink's outbox rows.
//!
//! Each worker owns its own SQLite connection and its sink. It takes due rows oldest first,
//! delivers, and records the result: delivered, retry later (capped exponential backoff with
//! jitter, per-sink base and cap), or failed for good (`streamer outbox retry` revives it). A
//! slow or dead sink only delays its own rows; ingest never waits on delivery. The store stage
//! wakes workers through [`Signal`] the moment it commits rows, so a new alert leaves within
//! milliseconds, not at the next poll.
//!
//! Noise control lives here too: a sink in digest mode sends one summary every N minutes (N
//! minutes after the oldest undelivered alert), and a sink with a rate cap sends at most that
//! many messages a minute, folding what is beyond the cap into one summary when the cap allows
//! the next message. Nothing is dropped: every alert stays an outbox row until a message that
//! names it has been delivered.
//!
//! Operator notices ([`notify_operator`], [`Notifier`]) go through the same outbox and the
//! same workers, so a notice that the mail server is down is delivered when it comes back.

use crate::alert::AlertRecord;
use crate::config::DeliverySettings;
use crate::render::{Delivery, Digest, DigestReason, Message, Notice, NoticeKind};
use crate::sinks::{DeliveryError, Sink};
use crate::storage::{now_ms, now_rfc3339, OutboxRow, OutboxSink, Storage};
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Rows one worker reads per round; a digest or a rate-cap summary holds at most this many.
const ROUND: usize = 200;

/// Wakes delivery workers when new rows are committed, and tells them to stop.
#[derive(Default)]
pub struct Signal {
    generation: Mutex<u64>,
    cond: Condvar,
    stop: AtomicBool,
    /// Set at the end of a replay: digests go out now instead of at their period's end.
    flush: AtomicBool,
}

impl Signal {
    /// New rows are in the outbox.
    pub fn notify(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *g += 1;
        self.cond.notify_all();
    }

    /// Asks the workers to stop after their current delivery.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Asks digest sinks to send what they hold now (a replay ends long before a period).
    pub fn flush_held(&self) {
        self.flush.store(true, Ordering::SeqCst);
        self.notify();
    }

    fn flushing(&self) -> bool {
        self.flush.load(Ordering::SeqCst)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits until notified or `timeout` passes.
    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .cond
            .wait_timeout_while(g, timeout, |g| *g == seen && !self.stopping())
            .unwrap_or_else(|e| e.into_inner());
        *g
    }

    fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counters of one run's deliveries (messages, not alerts: a digest counts once).
#[derive(Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
}

/// The delay before the next try: the backoff, or longer when the receiver asked for longer
/// (`Retry-After`), but never past `cap`: an alert must not wait a day because a receiver
/// said so.
pub fn retry_delay_ms(backoff: i64, asked_ms: Option<u64>, cap: u64) -> i64 {
    let asked = asked_ms.map_or(0, |ms| i64::try_from(ms.min(cap)).unwrap_or(i64::MAX));
    backoff.max(asked)
}

/// Retry delay after `attempts` failures: `base` doubling to `cap`, with ±20 % jitter so that
/// many rows failing together do not retry in lockstep.
pub fn backoff_ms(attempts: i64, base: u64, cap: u64) -> i64 {
    let base = base as i64;
    let cap = cap as i64;
    let delay = base
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(cap)
        .max(1);
    // A random number per call: RandomState is seeded from the OS for each new instance.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(attempts);
    let r = (h.finish() % 1001) as i64 - 500; // -500..=500
    delay + delay * r / 2500
}

/// The running delivery workers.
pub struct Workers {
    handles: Vec<std::thread::JoinHandle<()>>,
    pub signal: Arc<Signal>,
    pub stats: Arc<DeliveryStats>,
}

impl Workers {
    /// Starts one worker per sink.
    pub fn start(db: &Path, sinks: Vec<Sink>) -> Result<Workers> {
        let signal = Arc::new(Signal::default());
        let stats = Arc::new(DeliveryStats::default());
        let mut handles = Vec::new();
        for sink in sinks {
            let storage = Storage::open(db)?;
            let signal = signal.clone();
            let stats = stats.clone();
            let name = format!("deliver-{}", sink.name());
            handles.push(
                std::thread::Builder::new()
                    .name(name)
                    .spawn(move || Worker::new(storage, sink, stats).run(&signal))?,
            );
        }
        Ok(Workers {
            handles,
            signal,
            stats,
        })
    }

    /// Stops the workers and waits for them.
    pub fn stop(self) {
        self.signal.stop();
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// A token bucket: `per_minute` messages a minute, bursts up to the same number.
struct RateCap {
    per_minute: f64,
    tokens: f64,
    last: std::time::Instant,
}

impl RateCap {
    fn new(per_minute: u32) -> RateCap {
        RateCap {
            per_minute: per_minute as f64,
            tokens: per_minute as f64,
            last: std::time::Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = std::time::Instant::now();
        let minutes = now.duration_since(self.last).as_secs_f64() / 60.0;
        self.tokens = (self.tokens + minutes * self.per_minute).min(self.per_minute);
        self.last = now;
    }

    /// Whole tokens available now.
    fn available(&mut self) -> usize {
        self.refill();
        self.tokens.floor().max(0.0) as usize
    }

    /// Takes a token if one is there.
    fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token.
    fn wait(&mut self) -> Duration {
        self.refill();
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing * 60.0 / self.per_minute).max(Duration::from_millis(1))
    }
}

struct Worker {
    storage: Storage,
    sink: Sink,
    name: String,
    settings: DeliverySettings,
    rate: Option<RateCap>,
    stats: Arc<DeliveryStats>,
}

/// What one round of a worker decided.
enum Plan {
    /// Nothing to do until this long passes (or a signal comes).
    Wait(Duration),
    /// Deliver these messages, each with the rows it covers.
    Send(Vec<(Vec<OutboxRow>, Message)>),
}

impl Worker {
    fn new(storage: Storage, sink: Sink, stats: Arc<DeliveryStats>) -> Worker {
        let settings = sink.config.delivery.clone();
        Worker {
            storage,
            name: sink.name().to_string(),
            rate: settings.rate_per_minute.map(RateCap::new),
            settings,
            sink,
            stats,
        }
    }

    fn run(mut self, signal: &Signal) {
        let mut seen = signal.current();
        while !signal.stopping() {
            let plan = match self.plan(signal) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %format!("{e:#}"), "cannot read the outbox");
                    Plan::Wait(Duration::from_secs(1))
                }
            };
            match plan {
                Plan::Wait(d) => seen = signal.wait(seen, d),
                Plan::Send(messages) => {
                    for (rows, message) in messages {
                        if signal.stopping() {
                            return;
                        }
                        let outcome = self.sink.deliver(&message);
                        self.record(&rows, outcome);
                    }
                }
            }
        }
    }

    /// Reads the due rows and decides what to send now.
    fn plan(&mut self, signal: &Signal) -> Result<Plan> {
        let now = now_ms();
        let rows = self.storage.due(&self.name, now, ROUND)?;
        if rows.is_empty() {
            let wait = match self.storage.next_due(&self.name)? {
                Some(due) => Duration::from_millis((due - now).clamp(1, 1000) as u64),
                None => Duration::from_millis(1000),
            };
            return Ok(Plan::Wait(wait));
        }
        let (notices, alerts): (Vec<OutboxRow>, Vec<OutboxRow>) = rows
            .into_iter()
            .partition(|r| r.alert_id.starts_with(NOTICE_PREFIX));
        let mut out = Vec::new();
        // Notices are few and about the system itself: never held, never capped.
        for row in notices {
            match self.load(&row) {
                Ok(m) => out.push((vec![row], m)),
                Err(e) => self.record(&[row], Err(DeliveryError::Permanent(e))),
            }
        }
        if alerts.is_empty() {
            return Ok(Plan::Send(out));
        }
        if let Some(minutes) = self.settings.digest_minutes {
            let oldest = alerts.iter().map(|r| r.created_at_ms).min().unwrap_or(now);
            let due_at = oldest + minutes as i64 * 60_000;
            if now >= due_at || signal.flushing() {
                self.push_digest(&mut out, alerts, DigestReason::Period(minutes));
            } else if out.is_empty() {
                return Ok(Plan::Wait(Duration::from_millis(
                    (due_at - now).clamp(1, 1000) as u64,
                )));
            }
            return Ok(Plan::Send(out));
        }
        let mut alerts = alerts;
        if let Some(rate) = self.rate.as_mut() {
            let tokens = rate.available();
            if tokens == 0 {
                if out.is_empty() {
                    return Ok(Plan::Wait(rate.wait()));
                }
                return Ok(Plan::Send(out));
            }
            if alerts.len() > tokens {
                // Over the cap: send what the cap allows and fold the rest into one summary
                // that uses the last message allowed.
                let rest = alerts.split_off(tokens - 1);
                let per_minute = self.settings.rate_per_minute.unwrap_or(1);
                for _ in 0..tokens {
                    rate.take();
                }
                for row in alerts {
                    match self.load(&row) {
                        Ok(m) => out.push((vec![row], m)),
                        Err(e) => self.record(&[row], Err(DeliveryError::Permanent(e))),
                    }
                }
                self.push_digest(&mut out, rest, DigestReason::RateCap(per_minute));
                return Ok(Plan::Send(out));
            }
            for _ in 0..alerts.len() {
                rate.take();
            }
        }
        for row in alerts {
            match self.load(&row) {
                Ok(m) => out.push((vec![row], m)),
                Err(e) => self.record(&[row], Err(DeliveryError::Permanent(e))),
            }
        }
        Ok(Plan::Send(out))
    }

    fn push_digest(
        &mut self,
        out: &mut Vec<(Vec<OutboxRow>, Message)>,
        rows: Vec<OutboxRow>,
        reason: DigestReason,
    ) {
        let mut items = Vec::new();
        let mut good = Vec::new();
        for row in rows {
            match load_delivery(&self.storage, &row.alert_id, &row.merged_ids, row.followup) {
                Ok(Some(d)) => {
                    items.push(d);
                    good.push(row);
                }
                Ok(None) => self.record(
                    std::slice::from_ref(&row),
                    Err(DeliveryError::Permanent(format!(
                        "alert {} is missing from storage",
                        row.alert_id
                    ))),
                ),
                Err(e) => self.record(&[row], Err(DeliveryError::Transient(format!("{e:#}")))),
            }
        }
        if !items.is_empty() {
            out.push((good, Message::Digest(Digest { items, reason })));
        }
    }

    fn load(&self, row: &OutboxRow) -> Result<Message, String> {
        if let Some(id) = row.alert_id.strip_prefix(NOTICE_PREFIX) {
            let id: i64 = id
                .parse()
                .map_err(|_| format!("bad notice row {}", row.alert_id))?;
            let mut notice = load_notice(&self.storage, id)
                .map_err(|e| format!("{e:#}"))?
                .ok_or_else(|| format!("notice {id} is missing from storage"))?;
            notice.repeats = row.merged_ids.len();
            return Ok(Message::Notice(notice));
        }
        match load_delivery(&self.storage, &row.alert_id, &row.merged_ids, row.followup) {
            Ok(Some(d)) => Ok(Message::Alert(d)),
            Ok(None) => Err(format!("alert {} is missing from storage", row.alert_id)),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    /// Records the outcome of one message for every row it covers.
    fn record(&self, rows: &[OutboxRow], outcome: Result<(), DeliveryError>) {
        let stats = &self.stats;
        let name = &self.name;
        let first = rows.first().map(|r| r.alert_id.as_str()).unwrap_or("");
        let result: Result<()> = (|| {
            let tx = self.storage.conn().unchecked_transaction()?;
            match &outcome {
                Ok(()) => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(sink = %name, alert = %first, rows = rows.len(), "delivered");
                    for r in rows {
                        self.storage.mark_delivered(r.seq)?;
                    }
                }
                Err(e @ (DeliveryError::Transient(msg) | DeliveryError::RetryAfter(msg, _))) => {
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
                    let backoff = backoff_ms(
                        attempts,
                        self.settings.retry_base_ms,
                        self.settings.retry_max_ms,
                    );
                    let asked = match e {
                        DeliveryError::RetryAfter(_, ms) => Some(*ms),
                        _ => None,
                    };
                    let delay = retry_delay_ms(backoff, asked, self.settings.retry_max_ms);
                    tracing::warn!(sink = %name, alert = %first, rows = rows.len(), attempt = attempts + 1, retry_in_ms = delay, error = %msg, "delivery failed, will retry");
                    for r in rows {
                        self.storage.mark_retry(r.seq, now_ms() + delay, msg)?;
                    }
                }
                Err(DeliveryError::Permanent(msg)) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(sink = %name, alert = %first, rows = rows.len(), error = %msg, "delivery failed permanently; `streamer outbox retry` queues it again");
                    for r in rows {
                        self.storage.mark_failed(r.seq, msg)?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(sink = %name, error = %format!("{e:#}"), "cannot record a delivery result");
        }
        crate::outbox::metrics::record(name, &outcome);
    }
}

/// Per-sink delivery counters for the whole process, for `/metrics` and status pages: the
/// same events as the log lines, counted where they are logged.
pub mod metrics {
    use super::DeliveryError;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// Counts of one sink's delivery outcomes since the process started.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct SinkCounters {
        pub delivered: u64,
        pub retried: u64,
        pub failed: u64,
    }

    static COUNTERS: Mutex<BTreeMap<String, SinkCounters>> = Mutex::new(BTreeMap::new());

    pub(super) fn record(sink: &str, outcome: &Result<(), DeliveryError>) {
        let mut map = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
        let c = map.entry(sink.to_string()).or_default();
        match outcome {
            Ok(()) => c.delivered += 1,
            Err(DeliveryError::Transient(_) | DeliveryError::RetryAfter(..)) => c.retried += 1,
            Err(DeliveryError::Permanent(_)) => c.failed += 1,
        }
    }

    /// A snapshot of every sink's counters, by sink name.
    pub fn snapshot() -> BTreeMap<String, SinkCounters> {
        COUNTERS.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Outbox rows of notices carry `notice:ID` where alerts carry their alert id.
pub const NOTICE_PREFIX: &str = "notice:";

/// Loads a delivery (the primary alert and the merged ones) from storage.
pub fn load_delivery(
    storage: &Storage,
    alert_id: &str,
    merged_ids: &[String],
    followup: bool,
) -> Result<Option<Delivery>> {
    let Some(json) = storage.alert_record(alert_id)? else {
        return Ok(None);
    };
    let primary: AlertRecord = serde_json::from_str(&json)?;
    let mut merged = Vec::new();
    for id in merged_ids {
        if let Some(j) = storage.alert_record(id)? {
            merged.push(serde_json::from_str(&j)?);
        }
    }
    Ok(Some(Delivery {
        primary,
        merged,
        followup,
    }))
}

fn load_notice(storage: &Storage, id: i64) -> Result<Option<Notice>> {
    Ok(storage
        .conn()
        .query_row(
            "SELECT kind, source, message, created_at FROM notices WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?
        .map(|(kind, source, message, created_at)| Notice {
            id,
            kind: NoticeKind::parse(&kind),
            source,
            message,
            created_at,
            repeats: 0,
        }))
}

/// Queues an operator notice for every sink that takes notices, in one transaction, and
/// returns its id. The same kind of notice about the same source within `window_ms` is folded
/// into the pending one (a flapping source makes one message that counts, not a storm).
///
/// Call it from any thread with its own [`Storage`]; the workers pick the rows up within a
/// second, or at once when their [`Signal`] is notified (what [`Notifier::notify`] does).
pub fn notify_operator(
    storage: &Storage,
    sinks: &[OutboxSink],
    kind: NoticeKind,
    source: Option<&str>,
    message: &str,
    window_ms: i64,
) -> Result<i64> {
    let conn = storage.conn();
    let tx = conn.unchecked_transaction()?;
    let now = now_ms();
    tx.execute(
        "INSERT INTO notices (kind, source, message, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![kind.as_str(), source, message, now_rfc3339()],
    )?;
    let id = tx.last_insert_rowid();
    let row_id = format!("{NOTICE_PREFIX}{id}");
    let key = format!("notice\u{0}{}\u{0}{}", kind.as_str(), source.unwrap_or(""));
    for sink in sinks.iter().filter(|s| s.notices) {
        let pending: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, merged_ids FROM outbox WHERE sink = ?1 AND merge_key = ?2
                 AND state = 'pending' AND window_start >= ?3 ORDER BY seq DESC LIMIT 1",
                params![sink.name, key, now - window_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        // Start and stop are never folded: each one is news.
        let foldable = !matches!(kind, NoticeKind::Start | NoticeKind::Stop);
        match pending {
            Some((seq, merged)) if foldable => {
                let mut ids: Vec<String> = serde_json::from_str(&merged).unwrap_or_default();
                ids.push(row_id.clone());
                tx.execute(
                    "UPDATE outbox SET merged_ids = ?2, merged_count = merged_count + 1 WHERE seq = ?1",
                    params![seq, serde_json::to_string(&ids)?],
                )?;
            }
            _ => {
                tx.execute(
                    "INSERT INTO outbox (sink, alert_id, merge_key, window_start, merged_ids, next_attempt, created_at)
                     VALUES (?1, ?2, ?3, ?4, '[]', ?4, ?4)",
                    params![sink.name, row_id, key, now],
                )?;
            }
        }
    }
    tx.commit()?;
    tracing::info!(
        kind = kind.as_str(),
        source = source.unwrap_or(""),
        "operator notice: {message}"
    );
    Ok(id)
}

/// A handle for raising operator notices from any thread (sources, the run loop): it opens its
/// own connection per notice (notices are rare) and wakes the workers.
#[derive(Clone)]
pub struct Notifier {
    db: PathBuf,
    sinks: Vec<OutboxSink>,
    window_ms: i64,
    signal: Arc<Signal>,
}

impl Notifier {
    /// A notifier for the sinks of `config`, waking the workers behind `signal`.
    pub fn new(config: &crate::config::Config, signal: Arc<Signal>) -> Notifier {
        Notifier {
            db: config.storage.path.clone(),
            sinks: crate::outbox_sinks(config),
            window_ms: config.alerts.merge_window_secs * 1000,
            signal,
        }
    }

    /// Queues a notice and wakes the workers. Errors are logged, never returned: a notice must
    /// not take down the source that raised it.
    pub fn notify(&self, kind: NoticeKind, source: Option<&str>, message: &str) {
        let result = Storage::open(&self.db)
            .and_then(|s| notify_operator(&s, &self.sinks, kind, source, message, self.window_ms));
        match result {
            Ok(_) => self.signal.notify(),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot queue an operator notice: {message}")
            }
        }
    }
}

/// Waits until the outbox has nothing pending that is due (or `timeout` passes). Returns the
/// number of rows still pending. Digest sinks are asked to send what they hold.
pub fn wait_drained(db: &Path, signal: &Signal, timeout: Duration) -> Result<u64> {
    let storage = Storage::open(db).context("cannot open the outbox")?;
    signal.flush_held();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let pending = storage.outbox_counts(None)?.pending;
        if pending == 0 || std::time::Instant::now() >= deadline {
            return Ok(pending);
        }
        signal.notify();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until no operator notice is due and undelivered (or `timeout` passes): `run` lets
/// its stop notice go out before the workers stop.
pub fn wait_notices_sent(db: &Path, signal: &Signal, timeout: Duration) -> Result<u64> {
    let storage = Storage::open(db).context("cannot open the outbox")?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let pending: i64 = storage.conn().query_row(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND alert_id LIKE 'notice:%'
             AND next_attempt <= ?1 AND attempts = 0",
            [now_ms()],
            |r| r.get(0),
        )?;
        if pending == 0 || std::time::Instant::now() >= deadline {
            return Ok(pending as u64);
        }
        signal.notify();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receivers_retry_after_lengthens_the_delay_up_to_the_cap() {
        assert_eq!(retry_delay_ms(1_000, None, 60_000), 1_000);
        assert_eq!(retry_delay_ms(1_000, Some(7_000), 60_000), 7_000);
        assert_eq!(retry_delay_ms(9_000, Some(7_000), 60_000), 9_000);
        assert_eq!(retry_delay_ms(1_000, Some(86_400_000), 60_000), 60_000);
    }

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        for attempts in 0..30 {
            let b = backoff_ms(attempts, 1000, 300_000);
            let base = (1000i64 << attempts.min(20)).min(300_000);
            assert!(
                b >= base * 4 / 5 && b <= base * 6 / 5,
                "attempt {attempts}: {b} vs {base}"
            );
        }
        assert!(backoff_ms(3, 10, 50) <= 60);
        let spread: std::collections::BTreeSet<i64> =
            (0..50).map(|_| backoff_ms(5, 1000, 300_000)).collect();
        assert!(spread.len() > 5, "jitter varies: {spread:?}");
    }

    #[test]
    fn rate_cap_allows_a_burst_then_waits() {
        let mut r = RateCap::new(3);
        assert!(r.take() && r.take() && r.take());
        assert!(!r.take());
        let w = r.wait();
        assert!(
            w > Duration::from_secs(15) && w <= Duration::from_secs(20),
            "{w:?}"
        );
    }
}
