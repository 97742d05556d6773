//! Analytics kept incrementally, as alerts are stored: hourly counts, surges, coverage.
//!
//! The store stage calls [`StoreHooks`] inside the transaction that commits each batch, so a
//! counter never disagrees with the alerts it counts, and no report ever rescans history: a
//! report over a window sums at most (window hours × keys) counter rows.
//!
//! - `hourly_counts(dim, key, hour)`: alerts per rule, targeted entity, state, actor, source,
//!   severity, IOC and domain. The hour is the post's own hour (`created_at`, clamped to now),
//!   so replaying a month of recordings spreads its counts over that month; synthetic alerts
//!   (surges, watched-actor events) count only by severity, at the hour they were raised.
//! - `source_hourly(source, platform, hour)`: posts seen (matched or not) and posts X marked
//!   withheld, by the hour they were received: coverage and its gaps.
//! - Surges ([`baseline_at`], [`Baseline`]): per rule and per targeted entity, the current
//!   hour's count against the same hour of the week in up to four previous weeks, with a
//!   robust statistic (median + k × MAD, a Poisson floor, at least twice the median and a
//!   minimum count). A quiet Sunday is never the baseline of a busy Monday. Until one week of
//!   history exists, the previous 24 hours are the baseline (so a fresh install can flag a
//!   burst, and may flag its first weekday morning); with under six hours of history nothing
//!   is flagged. A surge is an alert (rule `surge`) through the normal path, once per key and
//!   hour, and only for the current or previous hour (a replay of old recordings does not
//!   page anyone about last month).

use crate::actors::ActorsConfig;
use crate::alert::AlertRecord;
use crate::storage::{Batch, NewAlert, OutboxSink};
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use streamer_model::{ActorEvent, AtomMatch, Author, Platform, Post, RuleHit, Severity};

/// An hour bucket as stored: `YYYY-MM-DDTHH` (UTC).
pub type Hour = String;

/// The hour bucket of a timestamp.
pub fn hour_of(ts: jiff::Timestamp) -> Hour {
    ts.strftime("%Y-%m-%dT%H").to_string()
}

/// The start of an hour bucket.
pub fn hour_start(hour: &str) -> Option<jiff::Timestamp> {
    format!("{hour}:00:00Z").parse().ok()
}

fn shift(hour: &str, hours: i64) -> Option<Hour> {
    Some(hour_of(
        hour_start(hour)? + jiff::SignedDuration::from_hours(hours),
    ))
}

/// The hour a post counts in: its `created_at`, unless missing, unparsable or in the future.
pub fn post_hour(post: &Post, now: jiff::Timestamp) -> Hour {
    let at = post
        .created_at
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .filter(|t| *t <= now)
        .unwrap_or(now);
    hour_of(at)
}

/// Parameters of the surge detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeParams {
    /// Previous weeks whose same hour of the week form the baseline.
    pub weeks: usize,
    /// How many robust standard deviations above the median a surge is.
    pub k: f64,
    /// A surge is also at least this many times the median.
    pub ratio: f64,
    /// Fewer alerts than this in an hour are never a surge.
    pub min_count: u64,
    /// Without a previous week: how many previous hours form the baseline.
    pub fallback_hours: usize,
    /// Without a previous week: how many hours of history are needed at all.
    pub min_fallback: usize,
}

impl Default for SpikeParams {
    /// Four weeks, k = 4, twice the median, at least 10 alerts; 24-hour fallback after 6 hours.
    fn default() -> Self {
        SpikeParams {
            weeks: 4,
            k: 4.0,
            ratio: 2.0,
            min_count: 10,
            fallback_hours: 24,
            min_fallback: 6,
        }
    }
}

/// What an hour is compared against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub median: f64,
    /// Median absolute deviation, scaled to a standard deviation (× 1.4826).
    pub mad: f64,
    /// The smallest count that is a surge.
    pub threshold: u64,
    /// True when the samples are the same hour of previous weeks (else the previous hours).
    pub weekly: bool,
    pub samples: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The baseline of a set of samples.
pub fn baseline(samples: &[u64], weekly: bool, p: &SpikeParams) -> Baseline {
    let mut v: Vec<f64> = samples.iter().map(|&x| x as f64).collect();
    let m = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev) * 1.4826;
    // A Poisson floor: counts of rare events vary by about their square root even when a few
    // samples happen to agree exactly (MAD 0).
    let spread = mad.max(m.sqrt()).max(1.0);
    let threshold = (m + p.k * spread)
        .max(p.ratio * m)
        .ceil()
        .max(p.min_count as f64) as u64;
    Baseline {
        median: m,
        mad,
        threshold,
        weekly,
        samples: samples.len(),
    }
}

const WEEK: usize = 168;

/// The baseline of hour `t` of an hourly series whose index 0 is the first tracked hour:
/// the same hour of up to `weeks` previous weeks, else the previous `fallback_hours` hours;
/// `None` with too little history.
pub fn baseline_at(series: &[u64], t: usize, p: &SpikeParams) -> Option<Baseline> {
    let weekly: Vec<u64> = (1..=p.weeks)
        .filter_map(|w| t.checked_sub(w * WEEK).map(|i| series[i]))
        .collect();
    if !weekly.is_empty() {
        return Some(baseline(&weekly, true, p));
    }
    let from = t.saturating_sub(p.fallback_hours);
    let recent = &series[from..t.min(series.len())];
    (recent.len() >= p.min_fallback).then(|| baseline(recent, false, p))
}

/// Every hour of a series that is a surge (its count reaches its baseline's threshold).
pub fn surges_in(series: &[u64], p: &SpikeParams) -> Vec<usize> {
    (0..series.len())
        .filter(|&t| baseline_at(series, t, p).is_some_and(|b| series[t] >= b.threshold))
        .collect()
}

/// State the store stage keeps between batches for the analytics and actor hooks.
pub struct StoreHooks {
    actors: ActorsConfig,
    params: SpikeParams,
    started: bool,
    last_silence_check: Option<Instant>,
}

/// How often the store stage looks for silent watched accounts.
const SILENCE_CHECK_EVERY: Duration = Duration::from_secs(600);

/// The coverage counts of one batch: posts seen and withheld, per platform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Indexed like `Platform::ALL`.
    pub posts: [u64; 3],
    pub withheld: [u64; 3],
}

impl Coverage {
    fn idx(p: Platform) -> usize {
        Platform::ALL.iter().position(|&x| x == p).unwrap_or(0)
    }

    /// Counts one post.
    pub fn post(&mut self, p: Platform) {
        self.posts[Coverage::idx(p)] += 1;
    }

    /// Counts one post or notice that X marks withheld.
    pub fn withheld(&mut self, p: Platform) {
        self.withheld[Coverage::idx(p)] += 1;
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.posts
            .iter()
            .chain(self.withheld.iter())
            .all(|&n| n == 0)
    }
}

/// True when an X payload says that a post or user is withheld (v2 `withheld` object, v1.1
/// `status_withheld` / `user_withheld` notices). A JSON key, so post text never fakes it.
pub fn is_withheld_line(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"withheld\":").is_some()
}

impl StoreHooks {
    /// Hooks for a pipeline with these watched actors.
    pub fn new(actors: ActorsConfig) -> StoreHooks {
        StoreHooks {
            actors,
            params: SpikeParams::default(),
            started: false,
            last_silence_check: None,
        }
    }

    /// The watched-actor configuration.
    pub fn actors(&self) -> &ActorsConfig {
        &self.actors
    }

    /// At the start of each commit: registers the watched accounts once, and looks for silent
    /// ones every ten minutes. Returns the alerts to insert.
    pub fn periodic(&mut self, conn: &Connection, now: &str) -> Result<Vec<AlertRecord>> {
        if self.actors.watchlist.is_empty() {
            return Ok(vec![]);
        }
        if !self.started {
            crate::actors::register_watched(conn, &self.actors.watchlist, now)?;
            self.started = true;
        }
        if self
            .last_silence_check
            .is_some_and(|t| t.elapsed() < SILENCE_CHECK_EVERY)
        {
            return Ok(vec![]);
        }
        self.last_silence_check = Some(Instant::now());
        crate::actors::silence_alerts(conn, &self.actors.watchlist, self.actors.silence_days, now)
    }

    /// Counts one batch's posts for coverage, by the hour they were received.
    pub fn coverage(
        &self,
        conn: &Connection,
        source: &str,
        cov: &Coverage,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let hour = hour_of(now);
        for (i, p) in Platform::ALL.iter().enumerate() {
            if cov.posts[i] == 0 && cov.withheld[i] == 0 {
                continue;
            }
            conn.execute(
                "INSERT INTO source_hourly (source, platform, hour, posts, withheld) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(source, platform, hour) DO UPDATE SET posts = posts + excluded.posts,
                     withheld = withheld + excluded.withheld",
                params![source, p.as_str(), hour, cov.posts[i] as i64, cov.withheld[i] as i64],
            )?;
        }
        Ok(())
    }

    /// Before a matched post's author is observed: the handle stored for it (rename detection).
    pub fn before_post(&self, conn: &Connection, post: &Post) -> Result<Option<String>> {
        Ok(crate::actors::stored_handle(conn, post.platform, &post.author.id)?.flatten())
    }

    /// After a post's alert is inserted: counters, surges, and watched-actor alerts (a rename).
    pub fn after_alert(
        &mut self,
        conn: &Connection,
        record: &AlertRecord,
        old_handle: Option<&str>,
        source: &str,
        now: jiff::Timestamp,
    ) -> Result<Vec<AlertRecord>> {
        let now_s = crate::storage::now_rfc3339_at(now);
        let mut out = crate::actors::watch_alerts_for_post(
            conn,
            &self.actors.watchlist,
            &record.post,
            old_handle,
            &now_s,
        )?;
        let hour = post_hour(&record.post, now);
        let live = hour >= hour_of(now - jiff::SignedDuration::from_hours(1));
        let sev = record.severity();
        bump(conn, "severity", sev.as_str(), &hour)?;
        bump(conn, "source", source, &hour)?;
        bump(conn, "actor", &record.post.author_ref(), &hour)?;
        for rule in &record.rules {
            let n = bump(conn, "rule", &rule.id, &hour)?;
            if live {
                if let Some(s) =
                    self.surge(conn, "rule", &rule.id, &hour, n, rule.severity, record, now)?
                {
                    out.push(s);
                }
            }
        }
        let mut states: Vec<&str> = Vec::new();
        for e in &record.entities {
            let n = bump(conn, "entity", &e.domain, &hour)?;
            if live {
                if let Some(s) =
                    self.surge(conn, "entity", &e.domain, &hour, n, sev, record, now)?
                {
                    out.push(s);
                }
            }
            if let Some(st) = e.state.as_deref() {
                if !states.contains(&st) {
                    states.push(st);
                }
            }
        }
        for st in states {
            bump(conn, "state", st, &hour)?;
        }
        for (kind, value) in ioc_items(record) {
            bump(conn, "ioc", &format!("{kind}:{value}"), &hour)?;
        }
        for d in registrable_domains(record) {
            bump(conn, "domain", &d, &hour)?;
        }
        Ok(out)
    }

    /// Counts a synthetic alert (by severity, at the hour it was raised).
    pub fn count_synthetic(
        &self,
        conn: &Connection,
        record: &AlertRecord,
        now: jiff::Timestamp,
    ) -> Result<()> {
        bump(conn, "severity", record.severity().as_str(), &hour_of(now))?;
        Ok(())
    }

    /// Watched-actor alerts of an account event, computed before the event is applied.
    pub fn before_actor_event(
        &self,
        conn: &Connection,
        ev: &ActorEvent,
        now: &str,
    ) -> Result<Vec<AlertRecord>> {
        crate::actors::watch_alerts_for_event(conn, &self.actors.watchlist, ev, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn surge(
        &self,
        conn: &Connection,
        dim: &str,
        key: &str,
        hour: &str,
        count: u64,
        severity: Severity,
        trigger: &AlertRecord,
        now: jiff::Timestamp,
    ) -> Result<Option<AlertRecord>> {
        if count < self.params.min_count {
            // No threshold is below the minimum count: skip the lookups for most alerts.
            return Ok(None);
        }
        let Some(b) = stored_baseline(conn, dim, key, hour, &self.params)? else {
            return Ok(None);
        };
        if count < b.threshold {
            return Ok(None);
        }
        let raised = conn
            .prepare_cached("SELECT 1 FROM surges WHERE dim = ?1 AND key = ?2 AND hour = ?3")?
            .query_row(params![dim, key, hour], |_| Ok(()))
            .optional()?
            .is_some();
        if raised {
            // One surge per key and hour, however far the count climbs.
            return Ok(None);
        }
        let now_s = crate::storage::now_rfc3339_at(now);
        let what = match dim {
            "rule" => format!("rule {key:?}"),
            _ => {
                let name = trigger
                    .entities
                    .iter()
                    .find(|e| e.domain == key)
                    .and_then(|e| e.name.clone());
                match name {
                    Some(n) => format!("posts targeting {n} ({key})"),
                    None => format!("posts targeting {key}"),
                }
            }
        };
        let basis = if b.weekly {
            format!(
                "the same hour of the previous {} week(s) had a median of {}",
                b.samples, b.median
            )
        } else {
            format!(
                "the previous {} hours had a median of {}",
                b.samples, b.median
            )
        };
        let text = format!(
            "Surge: {what}: {count} alerts in the hour from {hour}:00 UTC; {basis} (surge threshold {}).",
            b.threshold
        );
        let mut post = Post::new(
            trigger.post.platform,
            format!("streamer:surge:{dim}:{key}:{hour}"),
            "streamer",
        );
        post.author = Author::new("streamer");
        post.author.name = Some("Streamer".into());
        post.text = text;
        post.created_at = Some(now_s.clone());
        let hit = RuleHit {
            id: "surge".into(),
            severity,
            tags: vec!["surge".into(), dim.into()],
            matched: vec![AtomMatch {
                kind: dim.into(),
                value: key.into(),
                span: None,
            }],
        };
        let record = AlertRecord {
            alert_id: crate::alert::alert_id(&post, std::slice::from_ref(&hit)),
            created_at: now_s,
            rules: vec![hit],
            post,
            iocs: Default::default(),
            entities: trigger
                .entities
                .iter()
                .filter(|e| dim == "entity" && e.domain == key)
                .cloned()
                .collect(),
        };
        conn.execute(
            "INSERT OR IGNORE INTO surges (dim, key, hour, count, baseline, threshold, alert_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                dim,
                key,
                hour,
                count as i64,
                b.median,
                b.threshold as i64,
                record.alert_id
            ],
        )?;
        Ok(Some(record))
    }
}

/// Adds one to a counter and returns its new value; remembers the first hour counted.
fn bump(conn: &Connection, dim: &str, key: &str, hour: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "INSERT INTO hourly_counts (dim, key, hour, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT(dim, key, hour) DO UPDATE SET count = count + 1 RETURNING count",
        )?
        .query_row(params![dim, key, hour], |r| r.get(0))?;
    if n == 1 {
        conn.execute(
            "INSERT INTO analytics_meta (key, value) VALUES ('first_hour', ?1)
             ON CONFLICT(key) DO UPDATE SET value = min(value, excluded.value)",
            [hour],
        )?;
    }
    Ok(n as u64)
}

/// The baseline of a stored series at `hour`, from the counters (point lookups only).
pub fn stored_baseline(
    conn: &Connection,
    dim: &str,
    key: &str,
    hour: &str,
    p: &SpikeParams,
) -> Result<Option<Baseline>> {
    let first: Option<String> = conn
        .query_row(
            "SELECT value FROM analytics_meta WHERE key = 'first_hour'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(first) = first else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT count FROM hourly_counts WHERE dim = ?1 AND key = ?2 AND hour = ?3",
    )?;
    let mut get = |h: &str| -> Result<u64> {
        Ok(stmt
            .query_row(params![dim, key, h], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0) as u64)
    };
    let mut weekly = Vec::new();
    for w in 1..=p.weeks {
        let Some(h) = shift(hour, -((w * WEEK) as i64)) else {
            break;
        };
        if h < first {
            break;
        }
        weekly.push(get(&h)?);
    }
    if !weekly.is_empty() {
        return Ok(Some(baseline(&weekly, true, p)));
    }
    let mut recent = Vec::new();
    for i in 1..=p.fallback_hours {
        let Some(h) = shift(hour, -(i as i64)) else {
            break;
        };
        if h < first {
            break;
        }
        recent.push(get(&h)?);
    }
    Ok((recent.len() >= p.min_fallback).then(|| baseline(&recent, false, p)))
}

/// The IOCs of a record as (kind, value).
pub fn ioc_items(record: &AlertRecord) -> Vec<(&'static str, &str)> {
    let i = &record.iocs;
    let mut out = Vec::new();
    for (kind, list) in [
        ("url", &i.urls),
        ("domain", &i.domains),
        ("ipv4", &i.ipv4),
        ("ipv6", &i.ipv6),
        ("md5", &i.md5),
        ("sha1", &i.sha1),
        ("sha256", &i.sha256),
        ("cve", &i.cves),
        ("email", &i.emails),
        ("btc", &i.btc),
    ] {
        for v in list {
            out.push((kind, v.as_str()));
        }
    }
    out
}

/// The registrable domains a record points at: its links' hosts and its IOC domains.
pub fn registrable_domains(record: &AlertRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let hosts = record
        .post
        .urls
        .iter()
        .chain(record.iocs.urls.iter())
        .filter_map(|u| streamer_ioc::url_host(u))
        .chain(record.iocs.domains.iter().cloned());
    for h in hosts {
        if let Some(d) = streamer_ioc::registrable_domain(&h) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Inserts a synthetic alert (surge, watched actor) through the normal alert path, unless an
/// alert with its id exists already (a replayed event). Returns true when inserted.
pub fn insert_synthetic(
    batch: &mut Batch<'_>,
    record: &AlertRecord,
    sinks: &[OutboxSink],
    window_ms: i64,
) -> Result<bool> {
    let exists = batch
        .conn()
        .query_row(
            "SELECT 1 FROM alerts WHERE alert_id = ?1",
            [&record.alert_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if exists {
        return Ok(false);
    }
    let json = serde_json::to_string(record)?;
    let key = crate::alert::merge_key(&record.post.text, &record.rules);
    batch.insert_alert(
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
    Ok(true)
}

/// True for the records of synthetic alerts (surges, watched-actor events): their `post` is
/// an event, not a post.
pub fn is_synthetic(record: &AlertRecord) -> bool {
    record.post.id.starts_with("streamer:")
}

/// A report window: `[since, until)`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: jiff::Timestamp,
    pub until: jiff::Timestamp,
}

impl Window {
    /// The last `span` up to now.
    pub fn last(span: jiff::SignedDuration) -> Window {
        let until = jiff::Timestamp::now();
        Window {
            since: until - span,
            until,
        }
    }

    fn hours(&self) -> (Hour, Hour) {
        (hour_of(self.since), hour_of(self.until))
    }
}

/// Parses `--since`: `30d`, `12h`, `90m`, `2w`, or an RFC 3339 time.
pub fn parse_since(s: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        anyhow::anyhow!("--since {s:?}: expected e.g. 30d, 12h, 90m, 2w or an RFC 3339 time")
    })?;
    let hours = match unit {
        "m" | "min" => return Ok(now - jiff::SignedDuration::from_mins(n)),
        "h" => n,
        "d" | "" => n * 24,
        "w" => n * 24 * 7,
        _ => anyhow::bail!("--since {s:?}: unknown unit {unit:?} (m, h, d or w)"),
    };
    Ok(now - jiff::SignedDuration::from_hours(hours))
}

/// A counted key over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    pub key: String,
    /// A readable name for the key (an actor's handle, an entity's name), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub count: i64,
}

/// The most counted keys of one dimension in a window.
pub fn top(conn: &Connection, dim: &str, w: &Window, limit: usize) -> Result<Vec<Counted>> {
    let (from, to) = w.hours();
    let mut stmt = conn.prepare_cached(
        "SELECT key, SUM(count) AS n FROM hourly_counts WHERE dim = ?1 AND hour >= ?2 AND hour <= ?3
         GROUP BY key ORDER BY n DESC, key LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![dim, from, to, limit as i64], |r| {
        Ok(Counted {
            key: r.get(0)?,
            label: None,
            count: r.get(1)?,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for c in &mut out {
        c.label = match dim {
            "actor" => actor_label(conn, &c.key)?,
            "entity" => streamer_ioc::lookup_entity(&c.key).and_then(|e| e.name),
            _ => None,
        };
    }
    Ok(out)
}

fn actor_label(conn: &Connection, key: &str) -> Result<Option<String>> {
    let Some((p, id)) = key.split_once(':') else {
        return Ok(None);
    };
    Ok(conn
        .query_row(
            "SELECT handle FROM actors WHERE platform = ?1 AND author_id = ?2",
            params![p, id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten()
        .map(|h| format!("@{h}")))
}

/// A surge raised in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurgeRow {
    pub dim: String,
    pub key: String,
    pub hour: String,
    pub count: i64,
    pub baseline: f64,
    pub threshold: i64,
    pub alert_id: String,
}

/// Posts seen from one source in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageRow {
    pub source: String,
    pub platform: String,
    pub posts: i64,
    pub withheld: i64,
    /// Hours of the window with at least one post.
    pub hours_with_posts: i64,
    /// Runs of hours without posts between the source's first and last hour in the window,
    /// and after its last hour up to now: (first silent hour, number of hours).
    pub gaps: Vec<(String, i64)>,
}

/// Everything `streamer stats` and the summary email show.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub since: String,
    pub until: String,
    pub alerts_by_severity: Vec<Counted>,
    pub rules: Vec<Counted>,
    pub actors: Vec<Counted>,
    pub entities: Vec<Counted>,
    pub states: Vec<Counted>,
    pub iocs: Vec<Counted>,
    pub domains: Vec<Counted>,
    pub sources: Vec<Counted>,
    pub surges: Vec<SurgeRow>,
    pub coverage: Vec<CoverageRow>,
}

impl Report {
    /// Total alerts in the window.
    pub fn total_alerts(&self) -> i64 {
        self.alerts_by_severity.iter().map(|c| c.count).sum()
    }
}

/// Builds the report of a window from the counters.
pub fn report(conn: &Connection, w: &Window, limit: usize) -> Result<Report> {
    let mut sev = top(conn, "severity", w, 10)?;
    sev.sort_by_key(|c| std::cmp::Reverse(Severity::parse(&c.key).unwrap_or(Severity::Info)));
    let (from, to) = w.hours();
    let mut stmt = conn.prepare(
        "SELECT dim, key, hour, count, baseline, threshold, alert_id FROM surges
         WHERE hour >= ?1 AND hour <= ?2 ORDER BY hour DESC, dim, key",
    )?;
    let surges = stmt
        .query_map(params![from, to], |r| {
            Ok(SurgeRow {
                dim: r.get(0)?,
                key: r.get(1)?,
                hour: r.get(2)?,
                count: r.get(3)?,
                baseline: r.get(4)?,
                threshold: r.get(5)?,
                alert_id: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Report {
        since: crate::storage::now_rfc3339_at(w.since),
        until: crate::storage::now_rfc3339_at(w.until),
        alerts_by_severity: sev,
        rules: top(conn, "rule", w, limit)?,
        actors: top(conn, "actor", w, limit)?,
        entities: top(conn, "entity", w, limit)?,
        states: top(conn, "state", w, limit)?,
        iocs: top(conn, "ioc", w, limit)?,
        domains: top(conn, "domain", w, limit)?,
        sources: top(conn, "source", w, limit)?,
        surges,
        coverage: coverage(conn, w)?,
    })
}

/// Coverage per source in a window, with its gaps.
pub fn coverage(conn: &Connection, w: &Window) -> Result<Vec<CoverageRow>> {
    let (from, to) = w.hours();
    let mut stmt = conn.prepare(
        "SELECT source, platform, hour, posts, withheld FROM source_hourly
         WHERE hour >= ?1 AND hour <= ?2 ORDER BY source, platform, hour",
    )?;
    type Hours = Vec<(String, i64, i64)>;
    let mut by: BTreeMap<(String, String), Hours> = BTreeMap::new();
    let rows = stmt.query_map(params![from, to], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for r in rows {
        let (s, p, h, n, wh) = r?;
        by.entry((s, p)).or_default().push((h, n, wh));
    }
    let now_hour = hour_of(w.until);
    let mut out = Vec::new();
    for ((source, platform), hours) in by {
        let mut gaps = Vec::new();
        let mut prev: Option<&str> = None;
        for (h, n, _) in &hours {
            if *n == 0 {
                continue;
            }
            if let Some(p) = prev {
                let missing = hours_between(p, h) - 1;
                if missing > 0 {
                    gaps.push((shift(p, 1).unwrap_or_default(), missing));
                }
            }
            prev = Some(h);
        }
        // A live source that went quiet: hours since its last post (not the current hour,
        // which is still filling). Replays are not expected to continue.
        if let Some(p) = prev {
            if !source.starts_with("replay") {
                let missing = hours_between(p, &now_hour) - 1;
                if missing > 0 {
                    gaps.push((shift(p, 1).unwrap_or_default(), missing));
                }
            }
        }
        out.push(CoverageRow {
            posts: hours.iter().map(|x| x.1).sum(),
            withheld: hours.iter().map(|x| x.2).sum(),
            hours_with_posts: hours.iter().filter(|x| x.1 > 0).count() as i64,
            source,
            platform,
            gaps,
        });
    }
    Ok(out)
}

fn hours_between(a: &str, b: &str) -> i64 {
    match (hour_start(a), hour_start(b)) {
        (Some(a), Some(b)) => (b.as_second() - a.as_second()) / 3600,
        _ => 0,
    }
}

/// The report as text for the terminal.
pub fn report_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Window: {} to {}", r.since, r.until);
    let _ = writeln!(s, "Alerts: {}", r.total_alerts());
    let section = |s: &mut String, title: &str, rows: &[Counted]| {
        let _ = writeln!(s, "\n{title}:");
        if rows.is_empty() {
            let _ = writeln!(s, "  (none)");
        }
        for c in rows {
            match &c.label {
                Some(l) => {
                    let _ = writeln!(
                        s,
                        "  {:>6}  {} {}",
                        c.count,
                        crate::render::one_line(&c.key),
                        crate::render::one_line(l)
                    );
                }
                None => {
                    let _ = writeln!(s, "  {:>6}  {}", c.count, crate::render::one_line(&c.key));
                }
            }
        }
    };
    section(&mut s, "By severity", &r.alerts_by_severity);
    section(&mut s, "Rules", &r.rules);
    section(&mut s, "Actors", &r.actors);
    section(&mut s, "Targeted entities", &r.entities);
    section(&mut s, "States", &r.states);
    section(&mut s, "IOCs", &r.iocs);
    section(&mut s, "Domains", &r.domains);
    section(&mut s, "Sources", &r.sources);
    let _ = writeln!(s, "\nSurges:");
    if r.surges.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for x in &r.surges {
        let _ = writeln!(
            s,
            "  {} {} {}: {} alerts (baseline median {}, threshold {})",
            x.hour,
            x.dim,
            crate::render::one_line(&x.key),
            x.count,
            x.baseline,
            x.threshold
        );
    }
    let _ = writeln!(s, "\nCoverage:");
    if r.coverage.is_empty() {
        let _ = writeln!(s, "  (no posts received)");
    }
    for c in &r.coverage {
        let _ = writeln!(
            s,
            "  {} ({}): {} posts in {} hours, {} withheld, {} gap(s){}",
            c.source,
            c.platform,
            c.posts,
            c.hours_with_posts,
            c.withheld,
            c.gaps.len(),
            c.gaps
                .iter()
                .map(|(h, n)| format!(" [{h}:00 +{n}h]"))
                .collect::<String>()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_parses_units_and_times() {
        let now: jiff::Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("30d", now).unwrap().to_string(),
            "2026-11-03T12:00:00Z"
        );
        assert_eq!(
            parse_since("2w", now).unwrap().to_string(),
            "2026-11-19T12:00:00Z"
        );
        assert_eq!(
            parse_since("90m", now).unwrap().to_string(),
            "2026-12-03T10:30:00Z"
        );
        assert_eq!(
            parse_since("2026-12-01T00:00:00Z", now)
                .unwrap()
                .to_string(),
            "2026-12-01T00:00:00Z"
        );
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("3y", now).is_err());
    }

    #[test]
    fn withheld_is_a_key_not_a_word() {
        assert!(is_withheld_line(
            br#"{"data":{"id":"1","withheld":{"country_codes":["DE"]}}}"#
        ));
        assert!(is_withheld_line(br#"{"status_withheld":{"id":1}}"#));
        assert!(!is_withheld_line(
            br#"{"data":{"text":"the \"withheld\" tweet"}}"#
        ));
    }

    #[test]
    fn constant_series_needs_the_minimum_count() {
        let p = SpikeParams::default();
        let b = baseline(&[3, 3, 3, 3], true, &p);
        assert_eq!(b.median, 3.0);
        assert_eq!(b.mad, 0.0);
        assert_eq!(b.threshold, 10);
        let b = baseline(&[40, 44, 38, 41], true, &p);
        assert!(b.threshold >= 80, "{b:?}");
    }
}
