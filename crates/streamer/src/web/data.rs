//! Read queries behind the pages. Each takes a connection and returns plain data; the pages
//! render it.

use crate::alert::AlertRecord;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;

/// The alert list's filters, as the query string carries them (empty means "any").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Filter {
    /// Minimum severity.
    pub severity: String,
    pub rule: String,
    pub platform: String,
    /// A US state (two letters) among the targeted entities.
    pub state: String,
    /// A targeted entity: its domain (or a parent domain) or part of its name.
    pub entity: String,
    /// `PLATFORM:AUTHOR_ID`, a bare author id, or a handle.
    pub actor: String,
    /// Full-text search over the post text.
    pub q: String,
    /// Triage state: `open`, `false_positive`, or any.
    pub status: String,
    /// Paging: only alerts older than this rowid.
    pub before: Option<i64>,
    /// Live stream: only alerts newer than this rowid.
    pub after: Option<i64>,
}

fn opt(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

impl Filter {
    /// The filter as a query string (without paging), for links and the live stream.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("severity", &self.severity),
            ("rule", &self.rule),
            ("platform", &self.platform),
            ("state", &self.state),
            ("entity", &self.entity),
            ("actor", &self.actor),
            ("q", &self.q),
            ("status", &self.status),
        ] {
            if let Some(v) = opt(v) {
                parts.push(format!("{k}={}", super::html::enc(v)));
            }
        }
        parts.join("&")
    }
}

/// Turns what an analyst typed into an FTS5 query that cannot be a syntax error: every word
/// or "quoted phrase" becomes a quoted phrase (all must occur); a trailing `*` on a word keeps
/// prefix search.
pub(crate) fn fts_query(q: &str) -> Option<String> {
    let mut terms = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (term, prefix, tail) = if let Some(r) = rest.strip_prefix('"') {
            match r.find('"') {
                Some(end) => (&r[..end], false, &r[end + 1..]),
                None => (r, false, ""),
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            match word.strip_suffix('*') {
                Some(w) => (w, true, &rest[end..]),
                None => (word, false, &rest[end..]),
            }
        };
        rest = tail.trim_start();
        let term = term.trim();
        if term.is_empty() || !term.chars().any(char::is_alphanumeric) {
            continue;
        }
        let quoted = format!("\"{}\"", term.replace('"', "\"\""));
        terms.push(if prefix { quoted + "*" } else { quoted });
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

const SEVERITY_RANK: &str = "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
     WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END";

fn severity_rank(s: &str) -> Option<i64> {
    Some(match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        "info" => 0,
        _ => return None,
    })
}

/// One alert as the list shows it.
pub(crate) struct AlertSummary {
    pub rowid: i64,
    pub alert_id: String,
    pub severity: String,
    pub created_at: String,
    pub deleted: bool,
    pub false_positive: bool,
    pub record: Option<AlertRecord>,
}

const FP_EXPR: &str = "EXISTS (SELECT 1 FROM alert_feedback f WHERE f.alert_id = a.alert_id \
     AND f.kind = 'false_positive' AND f.revoked_at IS NULL)";

/// Alerts matching the filter, newest first; `after`/`upto` bound the rowids (live stream).
pub(crate) fn list_alerts(
    conn: &Connection,
    f: &Filter,
    after: Option<i64>,
    upto: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<AlertSummary>> {
    let sql = format!(
        "SELECT a.rowid, a.alert_id, a.severity, a.created_at, a.deleted, {FP_EXPR}, a.record_json
         FROM alerts a
         WHERE (?1 IS NULL OR {rank} >= ?1)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM post_rules pr WHERE pr.platform = a.platform
                AND pr.post_id = a.post_id AND pr.rule_id = ?2 AND pr.alert_id = a.alert_id))
           AND (?3 IS NULL OR a.platform = ?3)
           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.record_json, '$.entities') e
                WHERE upper(json_extract(e.value, '$.state')) = upper(?4)))
           AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.record_json, '$.entities') e
                WHERE json_extract(e.value, '$.domain') = lower(?5)
                   OR json_extract(e.value, '$.domain') LIKE '%.' || lower(?5)
                   OR instr(lower(COALESCE(json_extract(e.value, '$.name'), '')), lower(?5)) > 0))
           AND (?6 IS NULL OR a.platform || ':' || a.author_id = ?6 OR a.author_id = ?6
                OR lower(json_extract(a.record_json, '$.post.author.handle')) = lower(ltrim(?6, '@')))
           AND (?7 IS NULL OR EXISTS (SELECT 1 FROM posts p WHERE p.platform = a.platform AND p.id = a.post_id
                AND p.rowid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?7)))
           AND (?8 IS NULL OR (?8 = 'open' AND NOT {FP_EXPR}) OR (?8 = 'false_positive' AND {FP_EXPR}))
           AND (?9 IS NULL OR a.rowid > ?9)
           AND (?10 IS NULL OR a.rowid <= ?10)
           AND (?11 IS NULL OR a.rowid < ?11)
         ORDER BY a.rowid DESC LIMIT ?12",
        rank = SEVERITY_RANK.replace("severity", "a.severity"),
    );
    let status = match opt(&f.status) {
        Some(s @ ("open" | "false_positive")) => Some(s),
        _ => None,
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            opt(&f.severity).and_then(severity_rank),
            opt(&f.rule),
            opt(&f.platform),
            opt(&f.state),
            opt(&f.entity),
            opt(&f.actor),
            opt(&f.q).and_then(fts_query),
            status,
            after,
            upto,
            f.before,
            limit as i64
        ],
        |r| {
            let json: String = r.get(6)?;
            Ok(AlertSummary {
                rowid: r.get(0)?,
                alert_id: r.get(1)?,
                severity: r.get(2)?,
                created_at: r.get(3)?,
                deleted: r.get::<_, i64>(4)? != 0,
                false_positive: r.get(5)?,
                record: serde_json::from_str(&json).ok(),
            })
        },
    )?;
    rows.collect()
}

/// Values the filter drop-downs offer.
pub(crate) struct FilterOptions {
    pub rules: Vec<String>,
    pub platforms: Vec<String>,
    pub states: Vec<String>,
}

pub(crate) fn filter_options(conn: &Connection) -> rusqlite::Result<FilterOptions> {
    let col = |sql: &str| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let v = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    };
    Ok(FilterOptions {
        rules: col("SELECT DISTINCT rule_id FROM rule_hits_hourly ORDER BY rule_id LIMIT 500")?,
        platforms: ["x", "mastodon", "bluesky"].map(String::from).to_vec(),
        // States targeted by the newest alerts: bounded, so the list page stays fast.
        states: col("SELECT DISTINCT upper(json_extract(e.value, '$.state')) s
             FROM (SELECT record_json FROM alerts ORDER BY rowid DESC LIMIT 5000) a,
             json_each(a.record_json, '$.entities') e WHERE s IS NOT NULL ORDER BY s LIMIT 100")?,
    })
}

/// One feedback entry on an alert.
pub(crate) struct FeedbackRow {
    pub kind: String,
    pub reason: String,
    pub who: String,
    pub at: String,
    pub revoked: bool,
}

/// Everything the alert page shows.
pub(crate) struct AlertDetail {
    pub summary: AlertSummary,
    pub raw: Option<Vec<u8>>,
    pub feedback: Vec<FeedbackRow>,
    /// Handles the author used, oldest first (from the actor registry).
    pub handles: Vec<(String, String, String)>,
}

pub(crate) fn alert_detail(conn: &Connection, id: &str) -> rusqlite::Result<Option<AlertDetail>> {
    let sql = format!(
        "SELECT a.rowid, a.alert_id, a.severity, a.created_at, a.deleted, {FP_EXPR}, a.record_json,
                a.platform, a.post_id, a.author_id
         FROM alerts a WHERE a.alert_id = ?1"
    );
    let row = conn
        .query_row(&sql, [id], |r| {
            let json: String = r.get(6)?;
            Ok((
                AlertSummary {
                    rowid: r.get(0)?,
                    alert_id: r.get(1)?,
                    severity: r.get(2)?,
                    created_at: r.get(3)?,
                    deleted: r.get::<_, i64>(4)? != 0,
                    false_positive: r.get(5)?,
                    record: serde_json::from_str(&json).ok(),
                },
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
            ))
        })
        .optional()?;
    let Some((summary, platform, post_id, author_id)) = row else {
        return Ok(None);
    };
    let raw: Option<Vec<u8>> = conn
        .query_row(
            "SELECT raw FROM posts WHERE platform = ?1 AND id = ?2",
            params![platform, post_id],
            |r| r.get(0),
        )
        .optional()?;
    let mut stmt = conn.prepare_cached(
        "SELECT kind, reason, who, at, revoked_at IS NOT NULL FROM alert_feedback
         WHERE alert_id = ?1 ORDER BY seq",
    )?;
    let feedback = stmt
        .query_map([id], |r| {
            Ok(FeedbackRow {
                kind: r.get(0)?,
                reason: r.get(1)?,
                who: r.get(2)?,
                at: r.get(3)?,
                revoked: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let handles = names(conn, &platform, &author_id, "handle")?;
    Ok(Some(AlertDetail {
        summary,
        raw,
        feedback,
        handles,
    }))
}

/// Names of one kind (`handle` or `name`) an actor used: (value, first seen, last seen).
fn names(
    conn: &Connection,
    platform: &str,
    author_id: &str,
    kind: &str,
) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT value, first_seen, last_seen FROM actor_names
         WHERE platform = ?1 AND author_id = ?2 AND kind = ?3 ORDER BY first_seen, value",
    )?;
    let v = stmt
        .query_map(params![platform, author_id, kind], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect();
    v
}

/// An actor as the registry knows it.
pub(crate) struct Actor {
    pub platform: String,
    pub author_id: String,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub alert_count: i64,
    pub active: bool,
    pub status: Option<String>,
}

/// One entry of an actor's timeline: an alert or an account event.
pub(crate) enum TimelineEntry {
    Alert(Box<AlertSummary>),
    Event {
        kind: String,
        old: Option<String>,
        new: Option<String>,
        at: String,
    },
}

impl TimelineEntry {
    fn at(&self) -> &str {
        match self {
            TimelineEntry::Alert(a) => &a.created_at,
            TimelineEntry::Event { at, .. } => at,
        }
    }
}

/// The actor page's data.
pub(crate) struct ActorPage {
    pub actor: Actor,
    pub handles: Vec<(String, String, String)>,
    pub names: Vec<(String, String, String)>,
    pub timeline: Vec<TimelineEntry>,
    /// Accounts on other platforms with the same handle stem or display name, and why.
    pub linked: Vec<(Actor, String)>,
    pub muted: bool,
}

fn actor_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Actor> {
    Ok(Actor {
        platform: r.get(0)?,
        author_id: r.get(1)?,
        handle: r.get(2)?,
        name: r.get(3)?,
        first_seen: r.get(4)?,
        last_seen: r.get(5)?,
        alert_count: r.get(6)?,
        active: r.get::<_, i64>(7)? != 0,
        status: r.get(8)?,
    })
}

const ACTOR_COLS: &str =
    "platform, author_id, handle, name, first_seen, last_seen, alert_count, active, status";

/// The part of a handle that tends to stay the same across platforms: `user@host` → `user`,
/// `name.bsky.social` → `name`, lower-cased, letters and digits only.
pub(crate) fn handle_stem(handle: &str) -> String {
    let h = handle.trim_start_matches('@');
    let h = h.split('@').next().unwrap_or(h);
    let h = h.split('.').next().unwrap_or(h);
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

pub(crate) fn actor_page(
    conn: &Connection,
    platform: &str,
    author_id: &str,
) -> rusqlite::Result<Option<ActorPage>> {
    let actor = conn
        .query_row(
            &format!("SELECT {ACTOR_COLS} FROM actors WHERE platform = ?1 AND author_id = ?2"),
            params![platform, author_id],
            actor_from_row,
        )
        .optional()?;
    let Some(actor) = actor else { return Ok(None) };
    let handles = names(conn, platform, author_id, "handle")?;
    let display_names = names(conn, platform, author_id, "name")?;
    let alerts = list_alerts(
        conn,
        &Filter {
            actor: format!("{platform}:{author_id}"),
            ..Filter::default()
        },
        None,
        None,
        200,
    )?;
    let mut timeline: Vec<TimelineEntry> = alerts
        .into_iter()
        .map(|a| TimelineEntry::Alert(Box::new(a)))
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT kind, old_value, new_value, at FROM actor_events
         WHERE platform = ?1 AND author_id = ?2 ORDER BY seq DESC LIMIT 200",
    )?;
    for ev in stmt.query_map(params![platform, author_id], |r| {
        Ok(TimelineEntry::Event {
            kind: r.get(0)?,
            old: r.get(1)?,
            new: r.get(2)?,
            at: r.get(3)?,
        })
    })? {
        timeline.push(ev?);
    }
    timeline.sort_by(|a, b| b.at().cmp(a.at()));

    let stems: Vec<String> = handles
        .iter()
        .map(|h| handle_stem(&h.0))
        .filter(|s| s.len() >= 3)
        .collect();
    let lower_names: Vec<String> = display_names
        .iter()
        .map(|n| n.0.trim().to_lowercase())
        .filter(|n| n.chars().count() >= 3)
        .collect();
    let mut linked = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ACTOR_COLS} FROM actors WHERE platform <> ?1 ORDER BY last_seen DESC LIMIT 20000"
    ))?;
    for other in stmt.query_map([platform], actor_from_row)? {
        let other = other?;
        let why = if other
            .handle
            .as_deref()
            .is_some_and(|h| stems.contains(&handle_stem(h)))
        {
            Some("same handle")
        } else if other
            .name
            .as_deref()
            .is_some_and(|n| lower_names.contains(&n.trim().to_lowercase()))
        {
            Some("same display name")
        } else {
            None
        };
        if let Some(why) = why {
            linked.push((other, why.to_string()));
        }
        if linked.len() >= 50 {
            break;
        }
    }
    let muted: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM suppressions WHERE kind = 'author' AND value = ?1 AND removed_at IS NULL)",
        [format!("{platform}:{author_id}")],
        |r| r.get(0),
    )?;
    Ok(Some(ActorPage {
        actor,
        handles,
        names: display_names,
        timeline,
        linked,
        muted,
    }))
}

/// Hourly hits of every rule over the last `hours` hours up to `now_hour` (`YYYY-MM-DDTHH`),
/// and the time of its last alert.
pub(crate) struct RuleStats {
    pub hourly: Vec<i64>,
    pub total: i64,
    pub last_hit: Option<String>,
}

/// `YYYY-MM-DDTHH` hour keys, oldest first, ending at the current hour.
pub(crate) fn hour_keys(hours: usize) -> Vec<String> {
    let now = jiff::Timestamp::now();
    (0..hours)
        .rev()
        .map(|h| {
            (now - jiff::SignedDuration::from_hours(h as i64))
                .strftime("%Y-%m-%dT%H")
                .to_string()
        })
        .collect()
}

pub(crate) fn rule_stats(
    conn: &Connection,
    rule_id: &str,
    hours: &[String],
) -> rusqlite::Result<RuleStats> {
    let mut stmt = conn.prepare_cached(
        "SELECT hour, count FROM rule_hits_hourly WHERE rule_id = ?1 AND hour >= ?2",
    )?;
    let first = hours.first().cloned().unwrap_or_default();
    let mut hourly = vec![0; hours.len()];
    for row in stmt.query_map(params![rule_id, first], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (hour, count) = row?;
        if let Some(i) = hours.iter().position(|h| *h == hour) {
            hourly[i] = count;
        }
    }
    let total = conn.query_row(
        "SELECT COALESCE(SUM(count), 0) FROM rule_hits_hourly WHERE rule_id = ?1",
        [rule_id],
        |r| r.get(0),
    )?;
    // The newest hour with hits bounds the search to that hour's alerts (alerts_created
    // index), each checked against post_rules by its primary key.
    let last_hour: Option<String> = conn.query_row(
        "SELECT MAX(hour) FROM rule_hits_hourly WHERE rule_id = ?1",
        [rule_id],
        |r| r.get(0),
    )?;
    let last_hit = match last_hour {
        Some(hour) => conn.query_row(
            "SELECT MAX(a.created_at) FROM alerts a WHERE a.created_at >= ?2
               AND EXISTS (SELECT 1 FROM post_rules pr WHERE pr.platform = a.platform
                   AND pr.post_id = a.post_id AND pr.rule_id = ?1 AND pr.alert_id = a.alert_id)",
            params![rule_id, hour],
            |r| r.get(0),
        )?,
        None => None,
    };
    Ok(RuleStats {
        hourly,
        total,
        last_hit,
    })
}

/// Rule ids that have hits but are no longer configured.
pub(crate) fn rules_with_hits(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT rule_id FROM rule_hits_hourly")?;
    let v = stmt.query_map([], |r| r.get(0))?.collect();
    v
}

/// Stored posts, newest first, for trying a rule against them.
pub(crate) fn recent_posts(
    conn: &Connection,
    limit: usize,
) -> rusqlite::Result<Vec<streamer_model::Post>> {
    let mut stmt = conn.prepare_cached(
        "SELECT post_json FROM posts ORDER BY received_at DESC, rowid DESC LIMIT ?1",
    )?;
    let posts = stmt
        .query_map([limit as i64], |r| r.get::<_, String>(0))?
        .filter_map(|r| r.ok())
        .filter_map(|j| serde_json::from_str(&j).ok())
        .collect();
    Ok(posts)
}

/// The analytics page's numbers.
pub(crate) struct Analytics {
    /// (hour, alerts) for the 72 hours ending at the newest alert.
    pub volume: Vec<(String, i64)>,
    /// (rule, hour, count, trailing 24-hour average) where a rule's hour stands out.
    pub surges: Vec<(String, String, i64, f64)>,
    pub entities: Vec<(String, String, Option<String>, i64)>,
    pub states: Vec<(String, i64)>,
    pub iocs: Vec<(String, String, i64)>,
    pub actors: Vec<(String, String, Option<String>, i64)>,
    pub total: i64,
}

pub(crate) fn analytics(conn: &Connection) -> rusqlite::Result<Analytics> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))?;
    let newest: Option<String> =
        conn.query_row("SELECT MAX(created_at) FROM alerts", [], |r| r.get(0))?;
    // Top lists cover the 30 days up to the newest alert: what analysts work on, and bounded.
    let since = newest
        .as_deref()
        .and_then(|n| n.parse::<jiff::Timestamp>().ok())
        .map(|t| {
            (t - jiff::SignedDuration::from_hours(24 * 30))
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_default();
    let mut volume = Vec::new();
    if let Some(ts) = newest
        .as_deref()
        .and_then(|n| n.parse::<jiff::Timestamp>().ok())
    {
        let keys: Vec<String> = (0..72)
            .rev()
            .map(|h| {
                (ts - jiff::SignedDuration::from_hours(h))
                    .strftime("%Y-%m-%dT%H")
                    .to_string()
            })
            .collect();
        let mut stmt = conn.prepare_cached(
            "SELECT substr(created_at, 1, 13) h, COUNT(*) FROM alerts WHERE h >= ?1 GROUP BY h",
        )?;
        let counts: Vec<(String, i64)> = stmt
            .query_map([&keys[0]], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        volume = keys
            .into_iter()
            .map(|k| {
                let n = counts.iter().find(|c| c.0 == k).map(|c| c.1).unwrap_or(0);
                (k, n)
            })
            .collect();
    }
    // A surge: an hour with at least 5 hits and three times the rule's average over the 24
    // hours before it (an hour with no earlier history counts against an average of 1).
    let mut stmt = conn.prepare_cached(
        "SELECT r.rule_id, r.hour, r.count,
                COALESCE((SELECT SUM(p.count) FROM rule_hits_hourly p WHERE p.rule_id = r.rule_id
                  AND p.hour < r.hour
                  AND p.hour >= strftime('%Y-%m-%dT%H', replace(r.hour, 'T', ' ') || ':00:00', '-24 hours')), 0) / 24.0 AS avg
         FROM rule_hits_hourly r WHERE r.count >= 5 ORDER BY r.hour DESC LIMIT 2000",
    )?;
    let mut surges: Vec<(String, String, i64, f64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, _, c, avg)| *c as f64 >= 3.0 * avg.max(1.0))
        .take(20)
        .collect();
    surges.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(e.value, '$.domain') d, COALESCE(json_extract(e.value, '$.name'), ''),
                json_extract(e.value, '$.state'), COUNT(DISTINCT a.alert_id) n
         FROM (SELECT alert_id, record_json FROM alerts WHERE created_at >= ?1) a, json_each(a.record_json, '$.entities') e
         WHERE d IS NOT NULL GROUP BY d ORDER BY n DESC, d LIMIT 15",
    )?;
    let entities = stmt
        .query_map([&since], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT upper(json_extract(e.value, '$.state')) s, COUNT(DISTINCT a.alert_id) n
         FROM (SELECT alert_id, record_json FROM alerts WHERE created_at >= ?1) a, json_each(a.record_json, '$.entities') e
         WHERE s IS NOT NULL GROUP BY s ORDER BY n DESC, s",
    )?;
    let states = stmt
        .query_map([&since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT k.key, v.value, COUNT(DISTINCT a.alert_id) n
         FROM (SELECT alert_id, record_json FROM alerts WHERE created_at >= ?1) a, json_each(a.record_json, '$.iocs') k, json_each(k.value) v
         GROUP BY k.key, v.value ORDER BY n DESC, v.value LIMIT 20",
    )?;
    let iocs = stmt
        .query_map([&since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT a.platform, a.author_id, ac.handle, COUNT(*) n
         FROM (SELECT platform, author_id FROM alerts WHERE created_at >= ?1) a
         LEFT JOIN actors ac ON ac.platform = a.platform AND ac.author_id = a.author_id
         GROUP BY a.platform, a.author_id ORDER BY n DESC LIMIT 15",
    )?;
    let actors = stmt
        .query_map([&since], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Analytics {
        volume,
        surges,
        entities,
        states,
        iocs,
        actors,
        total,
    })
}

/// A table's rows as strings (for `source_state`, whose columns another component owns).
pub(crate) struct GenericTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
}

/// Column names that may hold secrets are never rendered.
fn secret_column(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["token", "password", "secret", "auth", "key"]
        .iter()
        .any(|s| n.contains(s))
}

pub(crate) fn generic_table(
    conn: &Connection,
    name: &str,
) -> rusqlite::Result<Option<GenericTable>> {
    if !table_exists(conn, name)? {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\" LIMIT 200"))?;
    let all: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let keep: Vec<usize> = (0..all.len())
        .filter(|&i| !secret_column(&all[i]))
        .collect();
    let columns = keep.iter().map(|&i| all[i].clone()).collect();
    let mut rows = Vec::new();
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let mut row = Vec::new();
        for &i in &keep {
            use rusqlite::types::ValueRef;
            row.push(match r.get_ref(i)? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(x) => format!("{x:.2}"),
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Blob(b) => format!("({} bytes)", b.len()),
            });
        }
        rows.push(row);
    }
    Ok(Some(GenericTable { columns, rows }))
}

/// The outbox of one sink.
pub(crate) struct OutboxStat {
    pub sink: String,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub oldest_pending_ms: Option<i64>,
    pub last_error: Option<String>,
}

pub(crate) fn outbox_stats(conn: &Connection) -> rusqlite::Result<Vec<OutboxStat>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sink,
                SUM(state = 'pending'), SUM(state = 'delivered'), SUM(state = 'failed'),
                MIN(CASE WHEN state = 'pending' THEN created_at END),
                (SELECT o2.last_error FROM outbox o2 WHERE o2.sink = o.sink AND o2.last_error IS NOT NULL
                  ORDER BY o2.seq DESC LIMIT 1)
         FROM outbox o GROUP BY sink ORDER BY sink",
    )?;
    let v = stmt
        .query_map([], |r| {
            Ok(OutboxStat {
                sink: r.get(0)?,
                pending: r.get(1)?,
                delivered: r.get(2)?,
                failed: r.get(3)?,
                oldest_pending_ms: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?
        .collect();
    v
}

/// One live source's last reported state (the JSON `streamer run` writes to `source_state`),
/// with keys that may hold secrets removed.
pub(crate) struct SourceRow {
    pub source: String,
    pub updated_at: String,
    pub state: serde_json::Map<String, serde_json::Value>,
}

/// The live sources' states, when the database has the `source_state` table.
pub(crate) fn source_states(conn: &Connection) -> rusqlite::Result<Option<Vec<SourceRow>>> {
    if !table_exists(conn, "source_state")? {
        return Ok(None);
    }
    let Some(table) = generic_table(conn, "source_state")? else {
        return Ok(None);
    };
    let col = |name: &str| table.columns.iter().position(|c| c == name);
    let (Some(source), Some(state)) = (col("source"), col("state")) else {
        return Ok(None);
    };
    let updated = col("updated_at");
    let rows = table
        .rows
        .iter()
        .map(|r| {
            let mut map = match serde_json::from_str::<serde_json::Value>(&r[state]) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => {
                    let mut m = serde_json::Map::new();
                    m.insert("state".into(), r[state].clone().into());
                    m
                }
            };
            map.retain(|k, _| !secret_column(k));
            SourceRow {
                source: r[source].clone(),
                updated_at: updated.map(|u| r[u].clone()).unwrap_or_default(),
                state: map,
            }
        })
        .collect();
    Ok(Some(rows))
}

/// Source health: the `source_state` table when live sources keep one, and the cursors.
pub(crate) struct Health {
    /// `None` when the database has no `source_state` table; a generic table when it has one
    /// that is not `(source, state JSON, updated_at)`.
    pub sources: Option<Vec<SourceRow>>,
    pub sources_raw: Option<GenericTable>,
    pub cursors: Vec<(String, String, String)>,
    pub outbox: Vec<OutboxStat>,
    /// Posts stored (matched) in the last five minutes, per second, per platform.
    pub stored_rate: Vec<(String, f64)>,
    pub alerts: i64,
    pub last_alert: Option<String>,
}

pub(crate) fn health(conn: &Connection) -> rusqlite::Result<Health> {
    let mut stmt =
        conn.prepare_cached("SELECT source, cursor, updated_at FROM cursors ORDER BY source")?;
    let cursors = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let since = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut stmt = conn.prepare_cached(
        "SELECT platform, COUNT(*) / 300.0 FROM posts WHERE received_at >= ?1 GROUP BY platform",
    )?;
    let stored_rate = stmt
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (alerts, last_alert) =
        conn.query_row("SELECT COUNT(*), MAX(created_at) FROM alerts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let sources = source_states(conn)?;
    let sources_raw = if sources.is_none() {
        generic_table(conn, "source_state")?
    } else {
        None
    };
    Ok(Health {
        sources,
        sources_raw,
        cursors,
        outbox: outbox_stats(conn)?,
        stored_rate,
        alerts,
        last_alert,
    })
}

/// Prometheus text exposition of the store's state.
pub(crate) fn metrics(conn: &Connection) -> rusqlite::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let label = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    out.push_str(
        "# HELP streamer_alerts Alerts stored, by severity.\n# TYPE streamer_alerts gauge\n",
    );
    let mut stmt =
        conn.prepare_cached("SELECT severity, COUNT(*) FROM alerts GROUP BY severity ORDER BY 1")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (sev, n) = row?;
        let _ = writeln!(out, "streamer_alerts{{severity=\"{}\"}} {n}", label(&sev));
    }
    out.push_str(
        "# HELP streamer_outbox_rows Outbox rows by sink and state.\n# TYPE streamer_outbox_rows gauge\n",
    );
    for s in outbox_stats(conn)? {
        for (state, n) in [
            ("pending", s.pending),
            ("delivered", s.delivered),
            ("failed", s.failed),
        ] {
            let _ = writeln!(
                out,
                "streamer_outbox_rows{{sink=\"{}\",state=\"{state}\"}} {n}",
                label(&s.sink)
            );
        }
    }
    out.push_str(
        "# HELP streamer_rule_hits Alerts per rule (all time).\n# TYPE streamer_rule_hits gauge\n",
    );
    let mut stmt = conn.prepare_cached(
        "SELECT rule_id, SUM(count) FROM rule_hits_hourly GROUP BY rule_id ORDER BY 1",
    )?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (rule, n) = row?;
        let _ = writeln!(out, "streamer_rule_hits{{rule=\"{}\"}} {n}", label(&rule));
    }
    let posts: i64 = conn.query_row("SELECT COUNT(*) FROM posts", [], |r| r.get(0))?;
    let _ = writeln!(
        out,
        "# HELP streamer_posts_stored Posts stored as evidence.\n# TYPE streamer_posts_stored gauge\nstreamer_posts_stored {posts}"
    );
    let supp: i64 = conn.query_row(
        "SELECT COUNT(*) FROM suppressions WHERE removed_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    let _ = writeln!(
        out,
        "# HELP streamer_suppressions_active Active suppressions.\n# TYPE streamer_suppressions_active gauge\nstreamer_suppressions_active {supp}"
    );
    out.push_str("# HELP streamer_cursor_updated_seconds When each source's cursor last moved (Unix time).\n# TYPE streamer_cursor_updated_seconds gauge\n");
    let mut stmt = conn.prepare_cached("SELECT source, updated_at FROM cursors ORDER BY source")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (source, at) = row?;
        if let Ok(ts) = at.parse::<jiff::Timestamp>() {
            let _ = writeln!(
                out,
                "streamer_cursor_updated_seconds{{source=\"{}\"}} {}",
                label(&source),
                ts.as_second()
            );
        }
    }
    // Live sources' last reported state (written every few seconds by `streamer run`).
    if let Some(rows) = source_states(conn)? {
        for (name, key, kind, help) in [
            (
                "streamer_source_connected",
                "connected",
                "gauge",
                "1 while the source's stream is open.",
            ),
            (
                "streamer_source_reconnects_total",
                "reconnects",
                "counter",
                "Successful connections after the first.",
            ),
            (
                "streamer_source_lag_milliseconds",
                "lag_ms",
                "gauge",
                "How far behind real time the newest event was.",
            ),
            (
                "streamer_source_duplicates_total",
                "duplicates",
                "counter",
                "Deliveries dropped as already seen.",
            ),
            (
                "streamer_source_gap_filled_total",
                "gap_filled",
                "counter",
                "Posts recovered by gap filling.",
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for row in &rows {
                let value = match row.state.get(key) {
                    Some(serde_json::Value::Bool(b)) => Some(u64::from(*b) as f64),
                    Some(serde_json::Value::Number(n)) => n.as_f64(),
                    _ => None,
                };
                if let Some(v) = value {
                    let _ = writeln!(out, "{name}{{source=\"{}\"}} {v}", label(&row.source));
                }
            }
        }
    }
    Ok(out)
}

/// One audit log entry.
pub(crate) struct AuditRow {
    pub at: String,
    pub who: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub detail: Option<String>,
}

pub(crate) fn audit_rows(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, who, action, target, reason, detail FROM audit_log ORDER BY seq DESC LIMIT ?1",
    )?;
    let v = stmt
        .query_map([limit as i64], |r| {
            Ok(AuditRow {
                at: r.get(0)?,
                who: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                reason: r.get(4)?,
                detail: r.get(5)?,
            })
        })?
        .collect();
    v
}

/// One suppression.
pub(crate) struct SuppressionRow {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub alert_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub removed: Option<(String, String)>,
}

pub(crate) fn suppression_rows(conn: &Connection) -> rusqlite::Result<Vec<SuppressionRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, value, reason, alert_id, created_by, created_at, removed_by, removed_at
         FROM suppressions ORDER BY removed_at IS NOT NULL, id DESC LIMIT 1000",
    )?;
    let v = stmt
        .query_map([], |r| {
            let by: Option<String> = r.get(7)?;
            let at: Option<String> = r.get(8)?;
            Ok(SuppressionRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                value: r.get(2)?,
                reason: r.get(3)?,
                alert_id: r.get(4)?,
                created_by: r.get(5)?,
                created_at: r.get(6)?,
                removed: at.map(|at| (by.unwrap_or_default(), at)),
            })
        })?
        .collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_always_well_formed() {
        assert_eq!(fts_query("lockbit").as_deref(), Some("\"lockbit\""));
        assert_eq!(
            fts_query("\"school district\" leak*").as_deref(),
            Some("\"school district\" \"leak\"*")
        );
        assert_eq!(fts_query("a\"b").as_deref(), Some("\"a\"\"b\""));
        assert_eq!(fts_query("  - ( ) "), None);
        assert_eq!(
            fts_query("\"unterminated").as_deref(),
            Some("\"unterminated\"")
        );
    }

    #[test]
    fn handle_stems() {
        assert_eq!(handle_stem("@LockBit_Supp"), "lockbitsupp");
        assert_eq!(handle_stem("lockbitsupp@infosec.exchange"), "lockbitsupp");
        assert_eq!(handle_stem("lockbitsupp.bsky.social"), "lockbitsupp");
    }
}
