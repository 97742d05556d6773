//! The actor registry: who posted what we alerted on, under which names, and the watched
//! actors the analysts track.
//!
//! Every author of a matched post is keyed by platform and stable id (`actors`, with every
//! handle and display name in `actor_names`, clients in `actor_clients`, places in
//! `actor_places`), so a rename never loses an actor, even one that happened while Streamer was
//! down: the next post under the new handle lands on the same row, and the change is an actor
//! event. The original tool re-resolved actors from their current screen name at every start;
//! this registry never resolves names at all.
//!
//! Watched actors come from the analysts' CSV sheet ([`Watchlist::from_csv`]): one actor may own
//! accounts on X, Mastodon and Bluesky, and every analyst column is kept and shown. Their
//! accounts join the account rules, so every post of theirs alerts; a rename, a deactivated
//! account and a silence of `silence_days` are alerts of their own ([`watch_alerts_for_post`],
//! [`watch_alerts_for_event`], [`silence_alerts`]).
//!
//! Watched-actor alerts use the normal alert record (DESIGN.md) and path, so every sink gets
//! them. They are *synthetic*: the record's `post` is not a post but the event, with
//! `post.id` = `streamer:actor:…` (stable, so a replayed event keeps its alert id),
//! `post.text` a sentence saying what happened, `post.url` the post that revealed it (if any),
//! `post.author` the real account; the rule hit is `actor:rename`, `actor:account-status` or
//! `actor:silent`, tagged `actor`, with the account as an `account` atom, at the severity that
//! the actor's threat level maps to.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use streamer_model::{ActorEvent, AtomMatch, Author, Platform, Post, RuleHit, Severity};

use crate::alert::AlertRecord;

/// One account by its stable id: `x:783214`, `mastodon:infosec.exchange:1090`,
/// `bluesky:did:plc:abc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AccountRef {
    pub platform: Platform,
    pub author_id: String,
}

impl AccountRef {
    /// Parses `PLATFORM:AUTHOR_ID`; a bare number means X (as in rules).
    pub fn parse(s: &str) -> Option<AccountRef> {
        let s = s.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return Some(AccountRef {
                platform: Platform::X,
                author_id: s.to_string(),
            });
        }
        let (p, id) = s.split_once(':')?;
        let platform = Platform::parse(&p.to_ascii_lowercase())?;
        AccountRef::on(platform, id)
    }

    /// Parses an account written in a platform's own column of the actor sheet, where the
    /// platform prefix is optional. Handles are refused: they change, ids do not.
    pub fn on(platform: Platform, cell: &str) -> Option<AccountRef> {
        let raw = cell.trim();
        let prefix = format!("{}:", platform.as_str());
        let id = raw.strip_prefix(&prefix).unwrap_or(raw);
        let ok = match platform {
            Platform::X => !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
            Platform::Mastodon => id.split_once(':').is_some_and(|(host, acct)| {
                host.contains('.')
                    && !host.contains('@')
                    && !acct.is_empty()
                    && acct.bytes().all(|b| b.is_ascii_alphanumeric())
            }),
            Platform::Bluesky => {
                (id.starts_with("did:plc:") || id.starts_with("did:web:")) && id.len() > 8
            }
        };
        ok.then(|| AccountRef {
            platform,
            author_id: id.to_string(),
        })
    }

    /// The `PLATFORM:AUTHOR_ID` form of watch lists and rules.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform.as_str(), self.author_id)
    }
}

/// A watched actor: one row of the analysts' sheet, every column kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchedActor {
    pub name: String,
    pub associations: Vec<String>,
    /// As the analysts wrote it; [`WatchedActor::severity`] maps it for alerts.
    pub threat_level: Option<String>,
    pub notes: Option<String>,
    /// Every account the actor owns, across platforms.
    pub accounts: Vec<AccountRef>,
    /// Columns the sheet has beyond the known ones, shown as written (header, value).
    pub extra: Vec<(String, String)>,
}

impl WatchedActor {
    /// The severity of this actor's watch alerts: the threat level when it names one
    /// (`critical`, `high`, `medium`/`moderate`, `low`, `info`/`none`, or 1–5), else medium.
    pub fn severity(&self) -> Severity {
        let Some(level) = &self.threat_level else {
            return Severity::Medium;
        };
        let l = level.trim().to_ascii_lowercase();
        match l.as_str() {
            "critical" | "5" | "severe" => Severity::Critical,
            "high" | "4" => Severity::High,
            "medium" | "moderate" | "3" | "elevated" => Severity::Medium,
            "low" | "2" => Severity::Low,
            "info" | "none" | "1" | "informational" => Severity::Info,
            _ => Severity::Medium,
        }
    }
}

/// The watched actors and an index from account to actor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watchlist {
    pub actors: Vec<WatchedActor>,
    index: HashMap<AccountRef, usize>,
}

/// A problem in the actor sheet, with its CSV line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetProblem {
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for SheetProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What a sheet column means.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Name,
    Associations,
    ThreatLevel,
    Notes,
    Platform(Platform),
    Accounts,
    Extra,
}

fn column_of(header: &str) -> Column {
    let h: String = header
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    match h.as_str() {
        "name" | "actor" | "actorname" => Column::Name,
        "associations" | "association" | "affiliations" | "groups" | "group" => {
            Column::Associations
        }
        "threatlevel" | "threat" | "level" => Column::ThreatLevel,
        "notes" | "note" | "comments" => Column::Notes,
        "x" | "twitter" | "xaccounts" | "twitteraccounts" | "xid" | "twitterid" => {
            Column::Platform(Platform::X)
        }
        "mastodon" | "mastodonaccounts" => Column::Platform(Platform::Mastodon),
        "bluesky" | "bsky" | "blueskyaccounts" => Column::Platform(Platform::Bluesky),
        "accounts" => Column::Accounts,
        _ => Column::Extra,
    }
}

/// Several values in one cell: separated by `;`, `,`, `|` or whitespace.
fn cell_items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(|c: char| c == ';' || c == ',' || c == '|' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

impl Watchlist {
    /// Reads the analysts' sheet: a header row, then one actor per row. Known columns (any
    /// case, spaces ignored): `name`, `associations`, `threat level`, `notes`, `x`, `mastodon`,
    /// `bluesky`, `accounts` (`PLATFORM:ID` items); other columns are kept as extras. Accounts
    /// must be stable ids, never handles. Every problem is reported, with its line.
    pub fn from_csv(text: &str) -> Result<Watchlist, Vec<SheetProblem>> {
        let mut problems = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                return Err(vec![SheetProblem {
                    line: Some(1),
                    message: format!("cannot read the header row: {e}"),
                }])
            }
        };
        let columns: Vec<Column> = headers.iter().map(column_of).collect();
        if !columns.contains(&Column::Name) {
            problems.push(SheetProblem {
                line: Some(1),
                message: "the header row has no `name` column".into(),
            });
            return Err(problems);
        }
        let mut list = Watchlist::default();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(SheetProblem {
                        line: e.position().map(|p| p.line()),
                        message: format!("unreadable row: {e}"),
                    });
                    continue;
                }
            };
            let line = record.position().map(|p| p.line());
            if record.iter().all(|c| c.is_empty()) {
                continue;
            }
            let mut actor = WatchedActor {
                name: String::new(),
                associations: vec![],
                threat_level: None,
                notes: None,
                accounts: vec![],
                extra: vec![],
            };
            for (i, cell) in record.iter().enumerate() {
                let column = columns.get(i).copied().unwrap_or(Column::Extra);
                let non_empty = (!cell.is_empty()).then(|| cell.to_string());
                match column {
                    Column::Name => actor.name = cell.to_string(),
                    Column::Associations => {
                        actor.associations = cell
                            .split([';', ',', '|'])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    }
                    Column::ThreatLevel => actor.threat_level = non_empty,
                    Column::Notes => actor.notes = non_empty,
                    Column::Platform(p) => {
                        for item in cell_items(cell) {
                            match AccountRef::on(p, item) {
                                Some(a) => actor.accounts.push(a),
                                None => problems.push(SheetProblem {
                                    line,
                                    message: format!(
                                        "{} account {item:?} is not a stable id ({}); handles change, ids do not",
                                        p.display_name(),
                                        id_hint(p)
                                    ),
                                }),
                            }
                        }
                    }
                    Column::Accounts => {
                        for item in cell_items(cell) {
                            match AccountRef::parse(item) {
                                Some(a) => actor.accounts.push(a),
                                None => problems.push(SheetProblem {
                                    line,
                                    message: format!(
                                        "account {item:?} is not PLATFORM:ID (x:783214, mastodon:HOST:ID, bluesky:did:plc:…)"
                                    ),
                                }),
                            }
                        }
                    }
                    Column::Extra => {
                        if let Some(v) = non_empty {
                            let h = headers.get(i).unwrap_or("").to_string();
                            actor.extra.push((h, v));
                        }
                    }
                }
            }
            if actor.name.is_empty() {
                problems.push(SheetProblem {
                    line,
                    message: "the actor has no name".into(),
                });
                continue;
            }
            actor.accounts.dedup();
            let idx = list.actors.len();
            for a in &actor.accounts {
                if let Some(&other) = list.index.get(a) {
                    if other != idx {
                        problems.push(SheetProblem {
                            line,
                            message: format!(
                                "account {} belongs to both {:?} and {:?}",
                                a.key(),
                                list.actors[other].name,
                                actor.name
                            ),
                        });
                    }
                    continue;
                }
                list.index.insert(a.clone(), idx);
            }
            list.actors.push(actor);
        }
        if problems.is_empty() {
            Ok(list)
        } else {
            Err(problems)
        }
    }

    /// The watched actor owning an account.
    pub fn lookup(&self, platform: Platform, author_id: &str) -> Option<&WatchedActor> {
        let key = AccountRef {
            platform,
            author_id: author_id.to_string(),
        };
        self.index.get(&key).map(|&i| &self.actors[i])
    }

    /// Every watched account as `PLATFORM:AUTHOR_ID`, for the account rules.
    pub fn account_keys(&self) -> Vec<String> {
        self.actors
            .iter()
            .flat_map(|a| a.accounts.iter().map(AccountRef::key))
            .collect()
    }

    /// True when nobody is watched.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// A watched actor by name (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<&WatchedActor> {
        self.actors
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name.trim()))
    }
}

fn id_hint(p: Platform) -> &'static str {
    match p {
        Platform::X => "the numeric user id",
        Platform::Mastodon => "INSTANCE:ACCOUNT_ID, e.g. infosec.exchange:1090",
        Platform::Bluesky => "the DID, e.g. did:plc:…",
    }
}

/// The `[actors]` configuration: the sheet and the silence rule.
#[derive(Debug, Clone)]
pub struct ActorsConfig {
    /// The sheet the watchlist was read from.
    pub csv: Option<PathBuf>,
    /// A watched account that posts nothing for this many days raises an `actor:silent` alert.
    pub silence_days: u32,
    pub watchlist: Arc<Watchlist>,
}

impl Default for ActorsConfig {
    /// No sheet; silence after 14 days.
    fn default() -> Self {
        ActorsConfig {
            csv: None,
            silence_days: 14,
            watchlist: Arc::new(Watchlist::default()),
        }
    }
}

fn actor_hit(id: &str, actor: &WatchedActor, account: &AccountRef, kind: &str) -> RuleHit {
    RuleHit {
        id: id.to_string(),
        severity: actor.severity(),
        tags: vec!["actor".into(), kind.into()],
        matched: vec![AtomMatch {
            kind: "account".into(),
            value: account.key(),
            span: None,
        }],
    }
}

fn synthetic_post(
    platform: Platform,
    id: String,
    author: Author,
    text: String,
    at: &str,
    url: Option<String>,
) -> Post {
    let mut post = Post::new(platform, id, author.id.clone());
    post.author = author;
    post.text = text;
    post.created_at = Some(at.to_string());
    post.url = url;
    post
}

fn record(post: Post, hit: RuleHit, now: &str) -> AlertRecord {
    AlertRecord {
        alert_id: crate::alert::alert_id(&post, std::slice::from_ref(&hit)),
        created_at: now.to_string(),
        rules: vec![hit],
        post,
        iocs: Default::default(),
        entities: vec![],
    }
}

fn label(handle: Option<&str>, account: &AccountRef) -> String {
    match handle {
        Some(h) => format!(
            "@{h} ({} {})",
            account.platform.display_name(),
            account.author_id
        ),
        None => format!(
            "{} account {}",
            account.platform.display_name(),
            account.author_id
        ),
    }
}

/// The stored handle of an actor, before this post or event changes it.
pub fn stored_handle(
    conn: &Connection,
    platform: Platform,
    author_id: &str,
) -> Result<Option<Option<String>>> {
    Ok(conn
        .query_row(
            "SELECT handle FROM actors WHERE platform = ?1 AND author_id = ?2",
            params![platform.as_str(), author_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Watch alerts revealed by a matched post: a rename of a watched account (`old_handle` is the
/// handle stored before this post). Also keeps the clients and places of every author.
pub fn watch_alerts_for_post(
    conn: &Connection,
    watchlist: &Watchlist,
    post: &Post,
    old_handle: Option<&str>,
    now: &str,
) -> Result<Vec<AlertRecord>> {
    observe_extras(conn, post, now)?;
    let mut out = Vec::new();
    let Some(actor) = watchlist.lookup(post.platform, &post.author.id) else {
        return Ok(out);
    };
    let (Some(old), Some(new)) = (old_handle, post.author.handle.as_deref()) else {
        return Ok(out);
    };
    if old == new {
        return Ok(out);
    }
    let account = AccountRef {
        platform: post.platform,
        author_id: post.author.id.clone(),
    };
    let text = format!(
        "Watched actor {:?}: {} renamed @{old} to @{new}.",
        actor.name,
        label(None, &account)
    );
    let mut author = post.author.clone();
    if !author.previous_handles.iter().any(|h| h == old) {
        author.previous_handles.push(old.to_string());
    }
    let spost = synthetic_post(
        post.platform,
        format!("streamer:actor:rename:{}:{old}:{new}", account.key()),
        author,
        text,
        now,
        post.url.clone(),
    );
    out.push(record(
        spost,
        actor_hit("actor:rename", actor, &account, "rename"),
        now,
    ));
    Ok(out)
}

/// Watch alerts revealed by an account event (Bluesky `identity`/`account`): a rename or a
/// deactivated, suspended or deleted watched account. Call it before the event is applied.
pub fn watch_alerts_for_event(
    conn: &Connection,
    watchlist: &Watchlist,
    ev: &ActorEvent,
    now: &str,
) -> Result<Vec<AlertRecord>> {
    let mut out = Vec::new();
    let Some(actor) = watchlist.lookup(ev.platform, &ev.author_id) else {
        return Ok(out);
    };
    let account = AccountRef {
        platform: ev.platform,
        author_id: ev.author_id.clone(),
    };
    let stored = stored_handle(conn, ev.platform, &ev.author_id)?.flatten();
    let at = ev.at.clone().unwrap_or_else(|| now.to_string());
    let mut author = Author::new(ev.author_id.clone());
    author.handle = ev.handle.clone().or_else(|| stored.clone());
    author.previous_handles =
        crate::storage::previous_handles_of(conn, ev.platform, &ev.author_id)?
            .into_iter()
            .filter(|h| Some(h) != author.handle.as_ref())
            .collect();
    if let (Some(old), Some(new)) = (stored.as_deref(), ev.handle.as_deref()) {
        if old != new {
            let mut a = author.clone();
            if !a.previous_handles.iter().any(|h| h == old) {
                a.previous_handles.push(old.to_string());
            }
            let text = format!(
                "Watched actor {:?}: {} renamed @{old} to @{new}.",
                actor.name,
                label(None, &account)
            );
            let p = synthetic_post(
                ev.platform,
                format!("streamer:actor:rename:{}:{old}:{new}", account.key()),
                a,
                text,
                &at,
                None,
            );
            out.push(record(
                p,
                actor_hit("actor:rename", actor, &account, "rename"),
                now,
            ));
        }
    }
    if ev.active == Some(false) {
        let status = ev.status.as_deref().unwrap_or("inactive");
        let text = format!(
            "Watched actor {:?}: {} is no longer active (status: {status}).",
            actor.name,
            label(author.handle.as_deref(), &account)
        );
        let p = synthetic_post(
            ev.platform,
            format!("streamer:actor:status:{}:{status}:{at}", account.key()),
            author,
            text,
            &at,
            None,
        );
        out.push(record(
            p,
            actor_hit("actor:account-status", actor, &account, "account-status"),
            now,
        ));
    }
    Ok(out)
}

/// Records that the watched accounts are watched from now on (the start of their silence
/// clock when they have never posted).
pub fn register_watched(conn: &Connection, watchlist: &Watchlist, now: &str) -> Result<()> {
    for actor in &watchlist.actors {
        for a in &actor.accounts {
            conn.execute(
                "INSERT INTO watched_accounts (platform, author_id, actor, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(platform, author_id) DO UPDATE SET actor = excluded.actor",
                params![a.platform.as_str(), a.author_id, actor.name, now],
            )?;
        }
    }
    Ok(())
}

/// `actor:silent` alerts: watched accounts with no post for `silence_days` (counted from
/// their last post, or from when they were first watched). One alert per silence: the next
/// needs a post in between. `now` is RFC 3339 UTC.
pub fn silence_alerts(
    conn: &Connection,
    watchlist: &Watchlist,
    silence_days: u32,
    now: &str,
) -> Result<Vec<AlertRecord>> {
    let mut out = Vec::new();
    if silence_days == 0 {
        return Ok(out);
    }
    let Ok(now_ts) = now.parse::<jiff::Timestamp>() else {
        return Ok(out);
    };
    let limit = now_ts - jiff::SignedDuration::from_hours(24 * silence_days as i64);
    for actor in &watchlist.actors {
        for account in &actor.accounts {
            let p = account.platform.as_str();
            let seen: Option<(String, Option<String>)> = conn
                .query_row(
                    "SELECT last_seen, handle FROM actors WHERE platform = ?1 AND author_id = ?2",
                    params![p, account.author_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let since: Option<String> = conn
                .query_row(
                    "SELECT since FROM watched_accounts WHERE platform = ?1 AND author_id = ?2",
                    params![p, account.author_id],
                    |r| r.get(0),
                )
                .optional()?;
            let (last, handle) = match (seen, since) {
                (Some((l, h)), _) => (l, h),
                (None, Some(s)) => (s, None),
                (None, None) => continue,
            };
            let Ok(last_ts) = last.parse::<jiff::Timestamp>() else {
                continue;
            };
            if last_ts > limit {
                continue;
            }
            let already: bool = conn
                .query_row(
                    "SELECT 1 FROM actor_events WHERE platform = ?1 AND author_id = ?2
                     AND kind = 'silence' AND old_value = ?3",
                    params![p, account.author_id, last],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if already {
                continue;
            }
            conn.execute(
                "INSERT INTO actor_events (platform, author_id, kind, old_value, new_value, at)
                 VALUES (?1, ?2, 'silence', ?3, ?4, ?5)",
                params![p, account.author_id, last, silence_days.to_string(), now],
            )?;
            let mut author = Author::new(account.author_id.clone());
            author.handle = handle.clone();
            author.previous_handles =
                crate::storage::previous_handles_of(conn, account.platform, &account.author_id)?
                    .into_iter()
                    .filter(|h| Some(h) != handle.as_ref())
                    .collect();
            let text = format!(
                "Watched actor {:?}: {} has not posted for {silence_days} days or more (last seen {last}).",
                actor.name,
                label(handle.as_deref(), account)
            );
            let post = synthetic_post(
                account.platform,
                format!("streamer:actor:silent:{}:{last}", account.key()),
                author,
                text,
                now,
                None,
            );
            out.push(record(
                post,
                actor_hit("actor:silent", actor, account, "silent"),
                now,
            ));
        }
    }
    Ok(out)
}

/// Keeps the clients and places an author posted from.
fn observe_extras(conn: &Connection, post: &Post, now: &str) -> Result<()> {
    let p = post.platform.as_str();
    if let Some(client) = post.client.as_deref().filter(|c| !c.is_empty()) {
        conn.execute(
            "INSERT INTO actor_clients (platform, author_id, client, first_seen, last_seen, count)
             VALUES (?1, ?2, ?3, ?4, ?4, 1)
             ON CONFLICT(platform, author_id, client) DO UPDATE SET last_seen = excluded.last_seen, count = count + 1",
            params![p, post.author.id, client, now],
        )?;
    }
    if let Some(geo) = &post.geo {
        let place = geo.place.clone().or_else(|| match (geo.lat, geo.lon) {
            (Some(lat), Some(lon)) => Some(format!("{lat:.3},{lon:.3}")),
            _ => None,
        });
        if let Some(place) = place {
            conn.execute(
                "INSERT INTO actor_places (platform, author_id, place, country, first_seen, last_seen, count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1)
                 ON CONFLICT(platform, author_id, place) DO UPDATE SET last_seen = excluded.last_seen, count = count + 1",
                params![p, post.author.id, place, geo.country, now],
            )?;
        }
    }
    Ok(())
}

/// One account as the registry knows it, for `streamer actors list|show`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub platform: Platform,
    pub author_id: String,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub alert_count: i64,
    pub active: bool,
    pub status: Option<String>,
    /// The watched actor owning the account, if any.
    pub actor: Option<String>,
}

/// A name an account used, with when.
#[derive(Debug, Clone, Serialize)]
pub struct SeenValue {
    pub value: String,
    pub first_seen: String,
    pub last_seen: String,
    /// How many matched posts carried it (clients and places), when counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// Everything known about one account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetail {
    pub account: AccountInfo,
    pub handles: Vec<SeenValue>,
    pub names: Vec<SeenValue>,
    pub clients: Vec<SeenValue>,
    pub places: Vec<SeenValue>,
    /// (kind, old, new, at), oldest first.
    pub events: Vec<(String, Option<String>, Option<String>, String)>,
    /// (alert id, created at, rule ids), newest first.
    pub recent_alerts: Vec<(String, String, Vec<String>)>,
}

fn account_row(r: &rusqlite::Row<'_>, watchlist: &Watchlist) -> rusqlite::Result<AccountInfo> {
    let platform: String = r.get(0)?;
    let platform = Platform::parse(&platform).unwrap_or(Platform::X);
    let author_id: String = r.get(1)?;
    Ok(AccountInfo {
        actor: watchlist
            .lookup(platform, &author_id)
            .map(|a| a.name.clone()),
        platform,
        author_id,
        handle: r.get(2)?,
        name: r.get(3)?,
        first_seen: r.get(4)?,
        last_seen: r.get(5)?,
        alert_count: r.get(6)?,
        active: r.get::<_, i64>(7)? != 0,
        status: r.get(8)?,
    })
}

const ACCOUNT_COLUMNS: &str =
    "platform, author_id, handle, name, first_seen, last_seen, alert_count, active, status";

/// Known accounts, most alerted first (only watched ones with `watched_only`).
pub fn list(
    conn: &Connection,
    watchlist: &Watchlist,
    watched_only: bool,
    limit: usize,
) -> Result<Vec<AccountInfo>> {
    let mut out = Vec::new();
    if watched_only {
        for actor in &watchlist.actors {
            for a in &actor.accounts {
                out.push(account(conn, watchlist, a)?);
            }
        }
        return Ok(out);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM actors ORDER BY alert_count DESC, last_seen DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], |r| account_row(r, watchlist))?;
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

/// One account; a watched account never seen is returned with empty history.
pub fn account(conn: &Connection, watchlist: &Watchlist, a: &AccountRef) -> Result<AccountInfo> {
    let found = conn
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM actors WHERE platform = ?1 AND author_id = ?2"),
            params![a.platform.as_str(), a.author_id],
            |r| account_row(r, watchlist),
        )
        .optional()?;
    Ok(found.unwrap_or_else(|| AccountInfo {
        platform: a.platform,
        author_id: a.author_id.clone(),
        handle: None,
        name: None,
        first_seen: None,
        last_seen: None,
        alert_count: 0,
        active: true,
        status: None,
        actor: watchlist
            .lookup(a.platform, &a.author_id)
            .map(|x| x.name.clone()),
    }))
}

/// The accounts a query names: `PLATFORM:ID`, a watched actor's name (all its accounts), or
/// a handle any account used, now or before (with or without `@`).
pub fn resolve(conn: &Connection, watchlist: &Watchlist, query: &str) -> Result<Vec<AccountRef>> {
    if let Some(actor) = watchlist.by_name(query) {
        return Ok(actor.accounts.clone());
    }
    if let Some(a) = AccountRef::parse(query) {
        return Ok(vec![a]);
    }
    let handle = query.trim().trim_start_matches('@');
    let mut stmt = conn.prepare(
        "SELECT DISTINCT platform, author_id FROM actor_names WHERE kind = 'handle' AND value = ?1 COLLATE NOCASE
         ORDER BY platform, author_id",
    )?;
    let rows = stmt.query_map([handle], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (p, id) = r?;
        if let Some(platform) = Platform::parse(&p) {
            out.push(AccountRef {
                platform,
                author_id: id,
            });
        }
    }
    Ok(out)
}

fn seen_values(
    conn: &Connection,
    sql: &str,
    a: &AccountRef,
    counted: bool,
) -> Result<Vec<SeenValue>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params![a.platform.as_str(), a.author_id], |r| {
        Ok(SeenValue {
            value: r.get(0)?,
            first_seen: r.get(1)?,
            last_seen: r.get(2)?,
            count: if counted { Some(r.get(3)?) } else { None },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Everything the registry holds about one account.
pub fn detail(conn: &Connection, watchlist: &Watchlist, a: &AccountRef) -> Result<AccountDetail> {
    let names_sql = |kind: &str| {
        format!(
            "SELECT value, first_seen, last_seen FROM actor_names WHERE platform = ?1 AND author_id = ?2
             AND kind = '{kind}' ORDER BY first_seen, value"
        )
    };
    let handles = seen_values(conn, &names_sql("handle"), a, false)?;
    let names = seen_values(conn, &names_sql("name"), a, false)?;
    let clients = seen_values(
        conn,
        "SELECT client, first_seen, last_seen, count FROM actor_clients WHERE platform = ?1 AND author_id = ?2
         ORDER BY count DESC, client",
        a,
        true,
    )?;
    let places = seen_values(
        conn,
        "SELECT place || COALESCE(' (' || country || ')', ''), first_seen, last_seen, count FROM actor_places
         WHERE platform = ?1 AND author_id = ?2 ORDER BY count DESC, place",
        a,
        true,
    )?;
    let mut stmt = conn.prepare(
        "SELECT kind, old_value, new_value, at FROM actor_events WHERE platform = ?1 AND author_id = ?2 ORDER BY seq",
    )?;
    let events = stmt
        .query_map(params![a.platform.as_str(), a.author_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(
        "SELECT a.alert_id, a.created_at, (SELECT group_concat(rule_id, ' ') FROM post_rules r WHERE r.alert_id = a.alert_id)
         FROM alerts a WHERE a.platform = ?1 AND a.author_id = ?2 ORDER BY a.created_at DESC LIMIT 10",
    )?;
    let recent_alerts = stmt
        .query_map(params![a.platform.as_str(), a.author_id], |r| {
            let rules: Option<String> = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                rules
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(AccountDetail {
        account: account(conn, watchlist, a)?,
        handles,
        names,
        clients,
        places,
        events,
        recent_alerts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHEET: &str = "Name,Associations,Threat Level,Notes,X,Mastodon,Bluesky,Source\n\
        Crimson Otter,\"LockBit; affiliate\",High,\"Posts leak links, \"\"first\"\" on X\",783214,infosec.exchange:1090,did:plc:abc123,sheet-2\n\
        Quiet Fox,,low,,\"x:42 99\",,,\n";

    #[test]
    fn sheet_keeps_every_column_and_links_accounts_across_platforms() {
        let w = Watchlist::from_csv(SHEET).unwrap();
        assert_eq!(w.actors.len(), 2);
        let otter = &w.actors[0];
        assert_eq!(otter.associations, vec!["LockBit", "affiliate"]);
        assert_eq!(otter.severity(), Severity::High);
        assert_eq!(
            otter.notes.as_deref(),
            Some("Posts leak links, \"first\" on X")
        );
        assert_eq!(
            otter.extra,
            vec![("Source".to_string(), "sheet-2".to_string())]
        );
        assert_eq!(otter.accounts.len(), 3);
        for (p, id) in [
            (Platform::X, "783214"),
            (Platform::Mastodon, "infosec.exchange:1090"),
            (Platform::Bluesky, "did:plc:abc123"),
        ] {
            assert_eq!(w.lookup(p, id).unwrap().name, "Crimson Otter");
        }
        assert_eq!(w.lookup(Platform::X, "99").unwrap().name, "Quiet Fox");
        assert_eq!(w.actors[1].severity(), Severity::Low);
        assert!(w
            .account_keys()
            .contains(&"bluesky:did:plc:abc123".to_string()));
    }

    #[test]
    fn handles_and_shared_accounts_are_refused_with_lines() {
        let bad = "name,x,bluesky\nA,@someone,alice.bsky.social\nB,1,\nC,1,\n";
        let problems = Watchlist::from_csv(bad).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text[0].starts_with("line 2:") && text[0].contains("@someone"),
            "{text:?}"
        );
        assert!(text[1].contains("alice.bsky.social"), "{text:?}");
        assert!(
            text[2].starts_with("line 4:") && text[2].contains("both"),
            "{text:?}"
        );
        assert!(Watchlist::from_csv("x,y\n1,2\n").is_err());
    }
}
