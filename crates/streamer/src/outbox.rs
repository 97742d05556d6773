//! Delivery: one worker thread per sink drains that sink's outbox rows.
//!
//! Each worker owns its own SQLite connection and its sink. It takes due rows oldest first,
//! delivers, and records the result: delivered, retry later (capped exponential backoff with
//! jitter), or failed for good. A slow or dead sink only delays its own rows; ingest never
//! waits on delivery. The store stage wakes workers through [`Signal`] when it commits rows.

use crate::alert::AlertRecord;
use crate::render::Delivery;
use crate::sinks::{DeliveryError, Sink};
use crate::storage::{now_ms, Storage};
use anyhow::Result;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Wakes delivery workers when new rows are committed, and tells them to stop.
#[derive(Default)]
pub struct Signal {
    generation: Mutex<u64>,
    cond: Condvar,
    stop: AtomicBool,
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

/// Counters of one run's deliveries.
#[derive(Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
}

/// Retry delay after `attempts` failures: 1 s doubling to a 5-minute cap, with ±20 % jitter.
pub fn backoff_ms(attempts: i64) -> i64 {
    let base = 1000i64
        .saturating_mul(1i64 << attempts.clamp(0, 9))
        .min(300_000);
    let jitter = (now_ms().rem_euclid(1000) - 500) * base / 2500;
    base + jitter
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
                    .spawn(move || run_worker(storage, sink, &signal, &stats))?,
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

fn run_worker(storage: Storage, mut sink: Sink, signal: &Signal, stats: &DeliveryStats) {
    let name = sink.name().to_string();
    let mut seen = signal.current();
    while !signal.stopping() {
        let rows = match storage.due(&name, now_ms(), 64) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(sink = %name, error = %format!("{e:#}"), "cannot read the outbox");
                seen = signal.wait(seen, Duration::from_secs(1));
                continue;
            }
        };
        if rows.is_empty() {
            let wait = match storage.next_due(&name) {
                Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(10, 1000) as u64),
                _ => Duration::from_millis(1000),
            };
            seen = signal.wait(seen, wait);
            continue;
        }
        for row in rows {
            if signal.stopping() {
                return;
            }
            let result = load_delivery(&storage, &row.alert_id, &row.merged_ids, row.followup)
                .and_then(|d| {
                    d.ok_or_else(|| {
                        anyhow::anyhow!("alert {} is missing from storage", row.alert_id)
                    })
                });
            let outcome = match result {
                Ok(delivery) => sink.deliver(&delivery),
                Err(e) => Err(DeliveryError::Permanent(format!("{e:#}"))),
            };
            let recorded = match outcome {
                Ok(()) => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    storage.mark_delivered(row.seq)
                }
                Err(DeliveryError::Transient(msg)) => {
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff_ms(row.attempts);
                    tracing::warn!(sink = %name, alert = %row.alert_id, attempt = row.attempts + 1, retry_in_ms = delay, error = %msg, "delivery failed, will retry");
                    storage.mark_retry(row.seq, now_ms() + delay, &msg)
                }
                Err(DeliveryError::Permanent(msg)) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(sink = %name, alert = %row.alert_id, error = %msg, "delivery failed permanently; `streamer outbox retry` queues it again");
                    storage.mark_failed(row.seq, &msg)
                }
            };
            if let Err(e) = recorded {
                tracing::error!(sink = %name, error = %format!("{e:#}"), "cannot record a delivery result");
            }
        }
    }
}

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

/// Waits until the outbox has nothing pending that is due (or `timeout` passes). Returns the
/// number of rows still pending.
pub fn wait_drained(db: &Path, signal: &Signal, timeout: Duration) -> Result<u64> {
    let storage = Storage::open(db)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        for attempts in 0..20 {
            let b = backoff_ms(attempts);
            let base = (1000i64 << attempts.min(9)).min(300_000);
            assert!(
                b >= base * 4 / 5 && b <= base * 6 / 5,
                "attempt {attempts}: {b} vs {base}"
            );
        }
        assert!(backoff_ms(30) <= 360_000);
    }
}
