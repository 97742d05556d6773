//! What each source is doing, for `streamer status`, the dashboard and the logs.

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// A snapshot of one source's state. Times are Unix milliseconds (wall clock, for display).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceStatus {
    /// `x`, `mastodon:HOST:STREAM`, `bluesky`.
    pub name: String,
    /// A stream is open and reading.
    pub connected: bool,
    /// Since when connected, or since when reconnecting (the first failure of a run of them).
    pub since_ms: Option<i64>,
    /// The last failure, in words (never a secret).
    pub last_error: Option<String>,
    /// Stopped for good (401/403): needs an operator.
    pub stopped: bool,
    /// Lines handed to the pipeline.
    pub lines: u64,
    /// Of those, posts (creates and edits).
    pub posts: u64,
    /// Deliveries dropped as already seen (server duplicates, rewind, gap-fill overlap).
    pub duplicates: u64,
    /// Lines over the size limit, skipped.
    pub oversized: u64,
    /// Lines the source could not read (they still go to the pipeline, which counts them).
    pub malformed: u64,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// Posts recovered by gap filling (Mastodon timelines).
    pub gap_filled: u64,
    /// How far behind real time the newest event was, in milliseconds.
    pub lag_ms: Option<i64>,
    /// Wall clock of the last byte or frame (heartbeats included).
    pub last_activity_ms: Option<i64>,
    /// What the source resumes from after a restart (Mastodon: the newest status id seen).
    pub resume: Option<String>,
    /// Lasting problems an operator should see (rules X rejected, ...), newest last, bounded.
    pub notes: Vec<String>,
}

/// The shared, lockable status of one source.
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<Mutex<SourceStatus>>);

/// How many notes a status keeps.
const MAX_NOTES: usize = 20;

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl StatusHandle {
    /// A fresh status named `name`.
    pub fn new(name: impl Into<String>) -> StatusHandle {
        StatusHandle(Arc::new(Mutex::new(SourceStatus {
            name: name.into(),
            ..SourceStatus::default()
        })))
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> SourceStatus {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the state under the lock.
    pub fn update(&self, f: impl FnOnce(&mut SourceStatus)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn name(&self) -> String {
        self.snapshot().name
    }

    /// A stream opened.
    pub(crate) fn connected(&self) {
        self.update(|s| {
            if s.since_ms.is_some() && !s.connected {
                s.reconnects += 1;
            }
            s.connected = true;
            s.since_ms = Some(now_ms());
            s.last_activity_ms = Some(now_ms());
        });
    }

    /// The stream is down; `error` says why.
    pub(crate) fn failed(&self, error: &str) {
        self.update(|s| {
            if s.connected || s.since_ms.is_none() {
                s.since_ms = Some(now_ms());
            }
            s.connected = false;
            s.last_error = Some(error.to_string());
        });
    }

    /// Stopped for good.
    pub(crate) fn stopped(&self, error: &str) {
        self.failed(error);
        self.update(|s| s.stopped = true);
    }

    pub(crate) fn note(&self, note: String) {
        self.update(|s| {
            s.notes.push(note);
            if s.notes.len() > MAX_NOTES {
                s.notes.remove(0);
            }
        });
    }

    pub(crate) fn activity(&self) {
        self.update(|s| s.last_activity_ms = Some(now_ms()));
    }
}
