//! SQLite storage: evidence, alerts, actors, counts, cursors and the outbox.
//!
//! One writer (the pipeline's store stage) commits each batch of matches in one transaction:
//! the post with its raw payload, its alerts, and one outbox row per sink. Delivery workers open
//! their own connections and only touch outbox rows. WAL mode lets readers (the CLI, the
//! dashboard) run beside the writer.
//!
//! Architecture invariant: an alert and its outbox rows are committed together, before any sink
//! is tried; a crash after the commit re-delivers, a crash before it re-processes the input.

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;
use streamer_model::{ActorEvent, DeleteRef, Platform, Post};

/// The schema version this build writes. A database with a newer version is refused.
pub const SCHEMA_VERSION: i64 = 6;

/// Each migration brings the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE posts (
    platform     TEXT NOT NULL,
    id           TEXT NOT NULL,
    native_id    TEXT,
    author_id    TEXT NOT NULL,
    created_at   TEXT,
    received_at  TEXT NOT NULL,
    text         TEXT NOT NULL,
    post_json    TEXT NOT NULL,
    raw          BLOB NOT NULL,
    deleted_at   TEXT,
    PRIMARY KEY (platform, id)
);
CREATE INDEX posts_native ON posts(platform, native_id) WHERE native_id IS NOT NULL;
CREATE INDEX posts_author ON posts(platform, author_id);
CREATE TABLE post_versions (
    platform     TEXT NOT NULL,
    id           TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    raw          BLOB NOT NULL
);
CREATE INDEX post_versions_post ON post_versions(platform, id);
CREATE TABLE alerts (
    alert_id     TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    post_id      TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    severity     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    record_json  TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_post ON alerts(platform, post_id);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE TABLE post_rules (
    platform     TEXT NOT NULL,
    post_id      TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    alert_id     TEXT NOT NULL,
    PRIMARY KEY (platform, post_id, rule_id)
);
CREATE TABLE actors (
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    handle       TEXT,
    name         TEXT,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    alert_count  INTEGER NOT NULL DEFAULT 0,
    active       INTEGER NOT NULL DEFAULT 1,
    status       TEXT,
    PRIMARY KEY (platform, author_id)
);
CREATE TABLE actor_names (
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    PRIMARY KEY (platform, author_id, kind, value)
);
CREATE TABLE actor_events (
    seq          INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    old_value    TEXT,
    new_value    TEXT,
    at           TEXT NOT NULL
);
CREATE TABLE rule_hits_hourly (
    rule_id      TEXT NOT NULL,
    hour         TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (rule_id, hour)
);
CREATE TABLE cursors (
    source       TEXT PRIMARY KEY,
    cursor       TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY,
    sink           TEXT NOT NULL,
    alert_id       TEXT NOT NULL,
    merge_key      TEXT,
    window_start   INTEGER NOT NULL,
    merged_ids     TEXT NOT NULL DEFAULT '[]',
    merged_count   INTEGER NOT NULL DEFAULT 1,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   INTEGER NOT NULL,
    followup       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    delivered_at   INTEGER
);
CREATE INDEX outbox_due ON outbox(sink, state, next_attempt);
CREATE INDEX outbox_merge ON outbox(sink, merge_key, seq) WHERE merge_key IS NOT NULL;
"#,
    // 2: the dashboard. Full-text search over stored posts (FTS5, kept in step with `posts` by
    // triggers, existing posts indexed once), analysts' feedback on alerts, suppressions that
    // the matcher applies, and the audit log of every dashboard action.
    r#"
CREATE VIRTUAL TABLE posts_fts USING fts5(
    text, content = 'posts', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER posts_fts_update AFTER UPDATE OF text ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO posts_fts (rowid, text) VALUES (new.rowid, new.text);
END;
INSERT INTO posts_fts (posts_fts) VALUES ('rebuild');
CREATE TABLE alert_feedback (
    seq          INTEGER PRIMARY KEY,
    alert_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    who          TEXT NOT NULL,
    at           TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_by   TEXT
);
CREATE INDEX alert_feedback_alert ON alert_feedback(alert_id);
CREATE TABLE suppressions (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('author', 'term')),
    value        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    alert_id     TEXT,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    removed_by   TEXT,
    removed_at   TEXT
);
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    who          TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    detail       TEXT
);
"#,
    // 3: operator notices (source down, no posts, start, stop), delivered through the outbox
    // like alerts: their outbox rows name them as `notice:ID`.
    r#"
CREATE TABLE notices (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    source       TEXT,
    message      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
"#,
    // 4: live sources' state (connected, errors, rates, resume ids), for `streamer status`.
    r#"
CREATE TABLE source_state (
    source       TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
"#,
    // 5: analytics and the actor registry (issue 8). Counters are kept as alerts are stored,
    // so reports never rescan history: `hourly_counts` per dimension (rule, entity, state,
    // actor, source, severity, ioc, domain) and hour; `source_hourly` for coverage; the
    // clients and places of each actor; the watched accounts' first watch time; surges raised.
    r#"
CREATE TABLE hourly_counts (
    dim          TEXT NOT NULL,
    key          TEXT NOT NULL,
    hour         TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (dim, key, hour)
);
CREATE INDEX hourly_counts_hour ON hourly_counts(dim, hour);
CREATE TABLE source_hourly (
    source       TEXT NOT NULL,
    platform     TEXT NOT NULL,
    hour         TEXT NOT NULL,
    posts        INTEGER NOT NULL DEFAULT 0,
    withheld     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, platform, hour)
);
CREATE TABLE analytics_meta (
    key          TEXT PRIMARY KEY,
    value        TEXT NOT NULL
);
CREATE TABLE actor_clients (
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    client       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (platform, author_id, client)
);
CREATE TABLE actor_places (
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    place        TEXT NOT NULL,
    country      TEXT,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (platform, author_id, place)
);
CREATE TABLE watched_accounts (
    platform     TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    since        TEXT NOT NULL,
    PRIMARY KEY (platform, author_id)
);
CREATE TABLE surges (
    dim          TEXT NOT NULL,
    key          TEXT NOT NULL,
    hour         TEXT NOT NULL,
    count        INTEGER NOT NULL,
    baseline     REAL NOT NULL,
    threshold    INTEGER NOT NULL,
    alert_id     TEXT NOT NULL,
    PRIMARY KEY (dim, key, hour)
);
"#,
    // 6: Bluesky handles resolved to DIDs (watch lists written with handles), so a restart or
    // a replay needs no network: `resolved_at` in ms since the epoch decides freshness; a
    // Jetstream identity event for a DID replaces or purges its rows.
    r#"
CREATE TABLE handle_cache (
    handle       TEXT PRIMARY KEY,
    did          TEXT NOT NULL,
    resolved_at  INTEGER NOT NULL
);
CREATE INDEX handle_cache_did ON handle_cache(did);
"#,
];

/// A connection to the store, with the schema checked.
pub struct Storage {
    conn: Connection,
}

/// One alert to commit: the record and what the outbox needs.
pub struct NewAlert<'a> {
    pub alert_id: &'a str,
    pub post: &'a Post,
    pub rule_ids: Vec<&'a str>,
    pub severity: streamer_model::Severity,
    pub created_at: &'a str,
    pub record_json: &'a str,
    /// Identical text under the same rules: the key notifying sinks merge on.
    pub merge_key: &'a str,
}

/// A sink as the outbox sees it.
#[derive(Debug, Clone)]
pub struct OutboxSink {
    pub name: String,
    pub min_severity: streamer_model::Severity,
    /// Alerts above this severity are routed elsewhere.
    pub max_severity: streamer_model::Severity,
    /// Merge identical alerts within `merge_window_ms` into one delivery.
    pub merges: bool,
    /// Operator notices reach this sink too.
    pub notices: bool,
}

/// A due outbox row.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub seq: i64,
    pub sink: String,
    pub alert_id: String,
    pub merged_ids: Vec<String>,
    pub attempts: i64,
    pub followup: bool,
    /// When the row was queued (ms since the epoch): digests go out N minutes after their
    /// oldest row.
    pub created_at_ms: i64,
}

/// Counts of outbox rows by state, for summaries and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// Milliseconds since the Unix epoch, the outbox clock.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Now as RFC 3339 UTC with second precision.
pub fn now_rfc3339() -> String {
    now_rfc3339_at(jiff::Timestamp::now())
}

/// A time as RFC 3339 UTC with second precision, the form stored everywhere.
pub fn now_rfc3339_at(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Storage {
    /// Opens (creating if needed) the database, migrates it and checks its version.
    pub fn open(path: &Path) -> Result<Storage> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create directory {}", dir.display()))?;
            }
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        let mut storage = Storage { conn };
        storage
            .setup()
            .with_context(|| format!("cannot use database {}", path.display()))?;
        Ok(storage)
    }

    fn setup(&mut self) -> Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(30))?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .context("cannot enable WAL (is the file a SQLite database, and writable?)")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            bail!(
                "database schema version {version} is newer than this streamer understands ({SCHEMA_VERSION}); \
                 upgrade streamer or use another database"
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)
                .with_context(|| format!("migration to schema version {}", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The raw connection, for read-only queries by commands.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a write transaction for one batch.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        Ok(Batch {
            tx: self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
            now_ms: now_ms(),
            now: now_rfc3339(),
            new_outbox_rows: 0,
        })
    }

    /// Stores a live source's state (JSON), written periodically by `streamer run`.
    pub fn set_source_state(&self, source: &str, state_json: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO source_state (source, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(source) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            params![source, state_json, now_rfc3339()],
        )?;
        Ok(())
    }

    /// Every live source's last stored state: (source, state JSON, updated at).
    pub fn source_states(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, state, updated_at FROM source_state ORDER BY source")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The cached DID of a Bluesky handle (lower-case, no `@`) and when it was resolved (ms
    /// since the epoch).
    pub fn cached_handle(&self, handle: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT did, resolved_at FROM handle_cache WHERE handle = ?1",
                [handle],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Remembers that `handle` resolved to `did` at `at_ms`.
    pub fn cache_handle(&self, handle: &str, did: &str, at_ms: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO handle_cache (handle, did, resolved_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(handle) DO UPDATE SET did = excluded.did, resolved_at = excluded.resolved_at",
            params![handle, did, at_ms],
        )?;
        Ok(())
    }

    /// Forgets a handle (the resolver says it no longer exists).
    pub fn forget_handle(&self, handle: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM handle_cache WHERE handle = ?1", [handle])?;
        Ok(())
    }

    /// The stored cursor of a source.
    pub fn cursor(&self, source: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Outbox rows of one sink that are due now, oldest first.
    pub fn due(&self, sink: &str, now_ms: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, sink, alert_id, merged_ids, attempts, followup, created_at FROM outbox
             WHERE sink = ?1 AND state = 'pending' AND next_attempt <= ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![sink, now_ms, limit as i64], |r| {
                let merged: String = r.get(3)?;
                Ok(OutboxRow {
                    seq: r.get(0)?,
                    sink: r.get(1)?,
                    alert_id: r.get(2)?,
                    merged_ids: serde_json::from_str(&merged).unwrap_or_default(),
                    attempts: r.get(4)?,
                    followup: r.get::<_, i64>(5)? != 0,
                    created_at_ms: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When the next pending row of a sink is due, if any.
    pub fn next_due(&self, sink: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MIN(next_attempt) FROM outbox WHERE sink = ?1 AND state = 'pending'",
            [sink],
            |r| r.get(0),
        )?)
    }

    /// The stored alert record JSON.
    pub fn alert_record(&self, alert_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT record_json FROM alerts WHERE alert_id = ?1",
                [alert_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Marks a row delivered.
    pub fn mark_delivered(&self, seq: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET state = 'delivered', delivered_at = ?2, last_error = NULL WHERE seq = ?1",
            params![seq, now_ms()],
        )?;
        Ok(())
    }

    /// Schedules another attempt after a transient failure.
    pub fn mark_retry(&self, seq: i64, next_attempt_ms: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 WHERE seq = ?1",
            params![seq, next_attempt_ms, error],
        )?;
        Ok(())
    }

    /// Marks a row failed for good (a permanent error); `streamer outbox retry` revives it.
    pub fn mark_failed(&self, seq: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
            params![seq, error],
        )?;
        Ok(())
    }

    /// Makes held follow-up messages (merged duplicates waiting for their window to close) due
    /// now: a replay ends long before a real window would.
    pub fn release_followups(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET next_attempt = ?1 WHERE state = 'pending' AND followup = 1 AND next_attempt > ?1",
            [now_ms()],
        )?)
    }

    /// Puts failed rows back in the queue (all sinks, or one).
    pub fn retry_failed(&self, sink: Option<&str>) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt = ?1 WHERE state = 'failed' AND (?2 IS NULL OR sink = ?2)",
            params![now_ms(), sink],
        )?)
    }

    /// Outbox counts, for all sinks or one.
    pub fn outbox_counts(&self, sink: Option<&str>) -> Result<OutboxCounts> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, COUNT(*) FROM outbox WHERE (?1 IS NULL OR sink = ?1) GROUP BY state",
        )?;
        let mut rows = stmt.query([sink])?;
        while let Some(r) = rows.next()? {
            let state: String = r.get(0)?;
            let n: i64 = r.get(1)?;
            match state.as_str() {
                "pending" => counts.pending = n as u64,
                "delivered" => counts.delivered = n as u64,
                _ => counts.failed += n as u64,
            }
        }
        Ok(counts)
    }

    /// Number of alerts stored.
    pub fn alert_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Handles an author used before, oldest first, excluding the current one.
    pub fn previous_handles(
        &self,
        platform: Platform,
        author_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<String>> {
        previous_handles(&self.conn, platform, author_id, current)
    }
}

/// Every handle an account used, oldest first (for records built outside a post).
pub fn previous_handles_of(
    conn: &Connection,
    platform: Platform,
    author_id: &str,
) -> Result<Vec<String>> {
    previous_handles(conn, platform, author_id, None)
}

fn previous_handles(
    conn: &Connection,
    platform: Platform,
    author_id: &str,
    current: Option<&str>,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT value FROM actor_names WHERE platform = ?1 AND author_id = ?2 AND kind = 'handle'
         ORDER BY first_seen, value",
    )?;
    let handles = stmt
        .query_map(params![platform.as_str(), author_id], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(handles
        .into_iter()
        .filter(|h| Some(h.as_str()) != current)
        .collect())
}

/// One write transaction of the store stage.
pub struct Batch<'c> {
    tx: Transaction<'c>,
    now_ms: i64,
    now: String,
    /// Outbox rows added in this batch (delivery workers are woken when it is non-zero).
    pub new_outbox_rows: usize,
}

impl Batch<'_> {
    /// The batch's transaction, for the analytics and actor hooks of the store stage
    /// (`analytics`, `actors`) that keep their counters in the same commit as the alert.
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The rules already alerted for a post (by any earlier version of it).
    pub fn alerted_rules(&self, platform: Platform, post_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT rule_id FROM post_rules WHERE platform = ?1 AND post_id = ?2",
        )?;
        let rules = stmt
            .query_map(params![platform.as_str(), post_id], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rules)
    }

    /// Records the author of a matched post: every handle and name seen, and a handle change
    /// as an actor event. Returns the author's previous handles (for the alert record).
    pub fn observe_author(&mut self, post: &Post) -> Result<Vec<String>> {
        let platform = post.platform.as_str();
        let a = &post.author;
        let old: Option<(Option<String>, Option<String>)> = self
            .tx
            .query_row(
                "SELECT handle, name FROM actors WHERE platform = ?1 AND author_id = ?2",
                params![platform, a.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match &old {
            None => {
                self.tx.execute(
                    "INSERT INTO actors (platform, author_id, handle, name, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![platform, a.id, a.handle, a.name, self.now],
                )?;
            }
            Some((old_handle, old_name)) => {
                if a.handle.is_some() && old_handle.is_some() && a.handle != *old_handle {
                    self.actor_event(
                        platform,
                        &a.id,
                        "handle_change",
                        old_handle.as_deref(),
                        a.handle.as_deref(),
                    )?;
                }
                if a.name.is_some() && old_name.is_some() && a.name != *old_name {
                    self.actor_event(
                        platform,
                        &a.id,
                        "name_change",
                        old_name.as_deref(),
                        a.name.as_deref(),
                    )?;
                }
                self.tx.execute(
                    "UPDATE actors SET handle = COALESCE(?3, handle), name = COALESCE(?4, name), last_seen = ?5
                     WHERE platform = ?1 AND author_id = ?2",
                    params![platform, a.id, a.handle, a.name, self.now],
                )?;
            }
        }
        for (kind, value) in [("handle", &a.handle), ("name", &a.name)] {
            if let Some(v) = value {
                self.tx.execute(
                    "INSERT INTO actor_names (platform, author_id, kind, value, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                     ON CONFLICT(platform, author_id, kind, value) DO UPDATE SET last_seen = excluded.last_seen",
                    params![platform, a.id, kind, v, self.now],
                )?;
            }
        }
        previous_handles(&self.tx, post.platform, &a.id, a.handle.as_deref())
    }

    fn actor_event(
        &self,
        platform: &str,
        author_id: &str,
        kind: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO actor_events (platform, author_id, kind, old_value, new_value, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![platform, author_id, kind, old, new, self.now],
        )?;
        Ok(())
    }

    /// Applies an identity or account event to a known actor (unknown accounts are ignored:
    /// the registry holds authors of matched posts). Returns true when the actor was known.
    pub fn apply_actor_event(&mut self, ev: &ActorEvent) -> Result<bool> {
        let platform = ev.platform.as_str();
        if ev.platform == Platform::Bluesky && ev.active.is_none() && ev.status.is_none() {
            self.identity_changed(&ev.author_id, ev.handle.as_deref())?;
        }
        let old: Option<Option<String>> = self
            .tx
            .query_row(
                "SELECT handle FROM actors WHERE platform = ?1 AND author_id = ?2",
                params![platform, ev.author_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(old_handle) = old else {
            return Ok(false);
        };
        if let Some(h) = &ev.handle {
            if Some(h) != old_handle.as_ref() {
                self.actor_event(
                    platform,
                    &ev.author_id,
                    "handle_change",
                    old_handle.as_deref(),
                    Some(h),
                )?;
                self.tx.execute(
                    "UPDATE actors SET handle = ?3, last_seen = ?4 WHERE platform = ?1 AND author_id = ?2",
                    params![platform, ev.author_id, h, self.now],
                )?;
                self.tx.execute(
                    "INSERT INTO actor_names (platform, author_id, kind, value, first_seen, last_seen)
                     VALUES (?1, ?2, 'handle', ?3, ?4, ?4)
                     ON CONFLICT(platform, author_id, kind, value) DO UPDATE SET last_seen = excluded.last_seen",
                    params![platform, ev.author_id, h, self.now],
                )?;
            }
        }
        if let Some(active) = ev.active {
            self.tx.execute(
                "UPDATE actors SET active = ?3, status = ?4 WHERE platform = ?1 AND author_id = ?2",
                params![platform, ev.author_id, active as i64, ev.status],
            )?;
            if !active {
                self.actor_event(
                    platform,
                    &ev.author_id,
                    "account_status",
                    None,
                    ev.status.as_deref(),
                )?;
            }
        }
        Ok(true)
    }

    /// A Bluesky identity event: the DID's cached handles are purged (PROTOCOLS.md 3.4: "purge
    /// your cache for this DID"); a new valid handle it carries now points to this DID, taking
    /// it from any other DID that held it. `handle.invalid` or no handle only purges.
    fn identity_changed(&self, did: &str, handle: Option<&str>) -> Result<()> {
        let handle = handle
            .filter(|h| *h != "handle.invalid")
            .and_then(streamer_sources::handles::normalize_handle);
        self.tx.execute(
            "DELETE FROM handle_cache WHERE did = ?1 OR handle = ?2",
            params![did, handle],
        )?;
        if let Some(h) = handle {
            self.tx.execute(
                "INSERT INTO handle_cache (handle, did, resolved_at) VALUES (?1, ?2, ?3)",
                params![h, did, self.now_ms],
            )?;
        }
        Ok(())
    }

    /// Stores (or updates, for an edit) the post's evidence.
    pub fn upsert_post(&mut self, post: &Post, raw: &[u8]) -> Result<()> {
        let json = serde_json::to_string(post)?;
        self.tx.execute(
            "INSERT INTO posts (platform, id, native_id, author_id, created_at, received_at, text, post_json, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(platform, id) DO UPDATE SET text = excluded.text, post_json = excluded.post_json,
                 raw = excluded.raw, native_id = COALESCE(excluded.native_id, native_id)",
            params![
                post.platform.as_str(),
                post.id,
                post.native_id,
                post.author.id,
                post.created_at,
                self.now,
                post.text,
                json,
                raw
            ],
        )?;
        self.tx.execute(
            "INSERT INTO post_versions (platform, id, received_at, raw) VALUES (?1, ?2, ?3, ?4)",
            params![post.platform.as_str(), post.id, self.now, raw],
        )?;
        Ok(())
    }

    /// Commits an alert with one outbox row per sink that takes its severity; notifying sinks
    /// merge it into a pending delivery of identical text within the window.
    pub fn insert_alert(
        &mut self,
        alert: &NewAlert<'_>,
        sinks: &[OutboxSink],
        merge_window_ms: i64,
    ) -> Result<()> {
        let platform = alert.post.platform.as_str();
        self.tx.execute(
            "INSERT OR IGNORE INTO alerts (alert_id, platform, post_id, author_id, severity, created_at, record_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                alert.alert_id,
                platform,
                alert.post.id,
                alert.post.author.id,
                alert.severity.as_str(),
                alert.created_at,
                alert.record_json
            ],
        )?;
        for rule in &alert.rule_ids {
            self.tx.execute(
                "INSERT OR IGNORE INTO post_rules (platform, post_id, rule_id, alert_id) VALUES (?1, ?2, ?3, ?4)",
                params![platform, alert.post.id, rule, alert.alert_id],
            )?;
            let hour = &alert.created_at[..alert.created_at.len().min(13)];
            self.tx.execute(
                "INSERT INTO rule_hits_hourly (rule_id, hour, count) VALUES (?1, ?2, 1)
                 ON CONFLICT(rule_id, hour) DO UPDATE SET count = count + 1",
                params![rule, hour],
            )?;
        }
        self.tx.execute(
            "UPDATE actors SET alert_count = alert_count + 1 WHERE platform = ?1 AND author_id = ?2",
            params![platform, alert.post.author.id],
        )?;
        for sink in sinks
            .iter()
            .filter(|s| alert.severity >= s.min_severity && alert.severity <= s.max_severity)
        {
            if sink.merges && self.merge_into_pending(sink, alert, merge_window_ms)? {
                continue;
            }
            self.tx.execute(
                "INSERT INTO outbox (sink, alert_id, merge_key, window_start, merged_ids, next_attempt, created_at)
                 VALUES (?1, ?2, ?3, ?4, '[]', ?4, ?4)",
                params![
                    sink.name,
                    alert.alert_id,
                    sink.merges.then_some(alert.merge_key),
                    self.now_ms
                ],
            )?;
            self.new_outbox_rows += 1;
        }
        Ok(())
    }

    /// Merges a duplicate into the newest delivery of the same text and rules in the window:
    /// into it while it is still pending, else into a follow-up held until the window closes.
    fn merge_into_pending(
        &mut self,
        sink: &OutboxSink,
        alert: &NewAlert<'_>,
        window_ms: i64,
    ) -> Result<bool> {
        let latest: Option<(i64, String, i64, String)> = self
            .tx
            .query_row(
                "SELECT seq, state, window_start, merged_ids FROM outbox
                 WHERE sink = ?1 AND merge_key = ?2 ORDER BY seq DESC LIMIT 1",
                params![sink.name, alert.merge_key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((seq, state, window_start, merged)) = latest else {
            return Ok(false);
        };
        if self.now_ms - window_start > window_ms {
            return Ok(false);
        }
        if state == "pending" {
            let mut ids: Vec<String> = serde_json::from_str(&merged).unwrap_or_default();
            ids.push(alert.alert_id.to_string());
            self.tx.execute(
                "UPDATE outbox SET merged_ids = ?2, merged_count = merged_count + 1 WHERE seq = ?1",
                params![seq, serde_json::to_string(&ids)?],
            )?;
        } else {
            self.tx.execute(
                "INSERT INTO outbox (sink, alert_id, merge_key, window_start, merged_ids, next_attempt, followup, created_at)
                 VALUES (?1, ?2, ?3, ?4, '[]', ?5, 1, ?6)",
                params![
                    sink.name,
                    alert.alert_id,
                    alert.merge_key,
                    window_start,
                    window_start + window_ms,
                    self.now_ms
                ],
            )?;
            self.new_outbox_rows += 1;
        }
        Ok(true)
    }

    /// Marks a post and its alerts deleted (evidence kept). Returns whether the post was known.
    pub fn mark_deleted(&mut self, d: &DeleteRef) -> Result<bool> {
        let platform = d.platform.as_str();
        let id: Option<String> = match (&d.id, &d.native_id) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(native)) => self
                .tx
                .query_row(
                    "SELECT id FROM posts WHERE platform = ?1 AND native_id = ?2",
                    params![platform, native],
                    |r| r.get(0),
                )
                .optional()?,
            (None, None) => None,
        };
        let Some(id) = id else { return Ok(false) };
        let n = self.tx.execute(
            "UPDATE posts SET deleted_at = COALESCE(deleted_at, ?3) WHERE platform = ?1 AND id = ?2",
            params![platform, id, self.now],
        )?;
        self.tx.execute(
            "UPDATE alerts SET deleted = 1 WHERE platform = ?1 AND post_id = ?2",
            params![platform, id],
        )?;
        Ok(n > 0)
    }

    /// Stores a source's resume cursor.
    pub fn set_cursor(&mut self, source: &str, cursor: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO cursors (source, cursor, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            params![source, cursor, self.now],
        )?;
        Ok(())
    }

    /// Commits the batch.
    pub fn commit(self) -> Result<usize> {
        let n = self.new_outbox_rows;
        self.tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamer_model::Severity;

    fn sinks() -> Vec<OutboxSink> {
        vec![
            OutboxSink {
                name: "jsonl".into(),
                min_severity: Severity::Info,
                max_severity: Severity::Critical,
                merges: false,
                notices: false,
            },
            OutboxSink {
                name: "eml".into(),
                min_severity: Severity::Info,
                max_severity: Severity::Critical,
                merges: true,
                notices: true,
            },
        ]
    }

    fn alert<'a>(id: &'a str, post: &'a Post) -> NewAlert<'a> {
        NewAlert {
            alert_id: id,
            post,
            rule_ids: vec!["r1"],
            severity: Severity::High,
            created_at: "2026-12-03T10:00:00Z",
            record_json: "{}",
            merge_key: "same-text",
        }
    }

    #[test]
    fn handle_cache_keeps_answers_and_identity_events_replace_or_purge_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(&dir.path().join("s.db")).unwrap();
        let (alice, bob) = (
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
        );
        assert_eq!(s.cached_handle("alice.bsky.social").unwrap(), None);
        s.cache_handle("alice.bsky.social", alice, 1_000).unwrap();
        s.cache_handle("bob.bsky.social", bob, 2_000).unwrap();
        assert_eq!(
            s.cached_handle("alice.bsky.social").unwrap(),
            Some((alice.to_string(), 1_000))
        );
        s.cache_handle("alice.bsky.social", alice, 5_000).unwrap();
        assert_eq!(
            s.cached_handle("alice.bsky.social").unwrap().unwrap().1,
            5_000
        );
        let identity = |did: &str, handle: Option<&str>| ActorEvent {
            platform: Platform::Bluesky,
            author_id: did.into(),
            handle: handle.map(str::to_string),
            active: None,
            status: None,
            at: None,
        };
        // Alice renames: her old handle is purged, the new one points to her (an unknown
        // actor: the cache is updated all the same).
        let mut b = s.batch().unwrap();
        assert!(!b
            .apply_actor_event(&identity(alice, Some("Alice2.bsky.social")))
            .unwrap());
        b.commit().unwrap();
        assert_eq!(s.cached_handle("alice.bsky.social").unwrap(), None);
        let (did, at) = s.cached_handle("alice2.bsky.social").unwrap().unwrap();
        assert_eq!(did, alice);
        assert!(at > 5_000);
        // Bob takes Alice's new handle: it now points to Bob, Bob's old one is gone.
        let mut b = s.batch().unwrap();
        b.apply_actor_event(&identity(bob, Some("alice2.bsky.social")))
            .unwrap();
        b.commit().unwrap();
        assert_eq!(
            s.cached_handle("alice2.bsky.social").unwrap().unwrap().0,
            bob
        );
        assert_eq!(s.cached_handle("bob.bsky.social").unwrap(), None);
        // An identity event without a usable handle only purges; account events touch nothing.
        s.cache_handle("carol.bsky.social", alice, 9_000).unwrap();
        let mut b = s.batch().unwrap();
        let mut deactivated = identity(alice, None);
        deactivated.active = Some(false);
        deactivated.status = Some("deactivated".into());
        b.apply_actor_event(&deactivated).unwrap();
        b.commit().unwrap();
        assert!(s.cached_handle("carol.bsky.social").unwrap().is_some());
        let mut b = s.batch().unwrap();
        b.apply_actor_event(&identity(alice, Some("handle.invalid")))
            .unwrap();
        b.commit().unwrap();
        assert_eq!(s.cached_handle("carol.bsky.social").unwrap(), None);
        assert_eq!(s.cached_handle("handle.invalid").unwrap(), None);
        s.forget_handle("alice2.bsky.social").unwrap();
        assert_eq!(s.cached_handle("alice2.bsky.social").unwrap(), None);
    }

    #[test]
    fn migrates_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Storage::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Storage::open(&path).err().unwrap();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }

    #[test]
    fn duplicates_merge_into_a_pending_delivery_and_follow_up_after_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(&dir.path().join("s.db")).unwrap();
        let p1 = Post::new(Platform::X, "1", "a");
        let p2 = Post::new(Platform::X, "2", "b");
        let p3 = Post::new(Platform::X, "3", "c");
        let mut b = s.batch().unwrap();
        b.insert_alert(&alert("A1", &p1), &sinks(), 600_000)
            .unwrap();
        b.insert_alert(&alert("A2", &p2), &sinks(), 600_000)
            .unwrap();
        b.commit().unwrap();
        let eml = s.due("eml", now_ms(), 10).unwrap();
        assert_eq!(eml.len(), 1);
        assert_eq!(eml[0].merged_ids, vec!["A2".to_string()]);
        assert_eq!(s.due("jsonl", now_ms(), 10).unwrap().len(), 2);
        s.mark_delivered(eml[0].seq).unwrap();

        let mut b = s.batch().unwrap();
        b.insert_alert(&alert("A3", &p3), &sinks(), 600_000)
            .unwrap();
        b.commit().unwrap();
        assert!(
            s.due("eml", now_ms(), 10).unwrap().is_empty(),
            "follow-up waits for the window"
        );
        assert_eq!(s.release_followups().unwrap(), 1);
        let follow = s.due("eml", now_ms(), 10).unwrap();
        assert_eq!(follow.len(), 1);
        assert!(follow[0].followup);
        assert_eq!(follow[0].alert_id, "A3");
    }

    #[test]
    fn handle_change_is_an_actor_event_and_previous_handles_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(&dir.path().join("s.db")).unwrap();
        let mut p = Post::new(Platform::X, "1", "783214");
        p.author.handle = Some("old_name".into());
        let mut b = s.batch().unwrap();
        assert!(b.observe_author(&p).unwrap().is_empty());
        p.author.handle = Some("new_name".into());
        assert_eq!(b.observe_author(&p).unwrap(), vec!["old_name".to_string()]);
        b.commit().unwrap();
        let n: i64 = s
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM actor_events WHERE kind = 'handle_change'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn mastodon_delete_by_native_id_marks_post_and_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(&dir.path().join("s.db")).unwrap();
        let mut p = Post::new(
            Platform::Mastodon,
            "https://m.example/users/a/statuses/9",
            "m.example:1",
        );
        p.native_id = Some("m.example:9".into());
        let mut b = s.batch().unwrap();
        b.upsert_post(&p, b"{}").unwrap();
        b.insert_alert(&alert("A1", &p), &sinks(), 600_000).unwrap();
        let deleted = b
            .mark_deleted(&DeleteRef {
                platform: Platform::Mastodon,
                id: None,
                native_id: Some("m.example:9".into()),
            })
            .unwrap();
        assert!(deleted);
        b.commit().unwrap();
        let d: i64 = s
            .conn()
            .query_row(
                "SELECT deleted FROM alerts WHERE alert_id = 'A1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(d, 1);
    }
}
