//! X API v2 filtered stream (PROTOCOLS.md section 1): rules sync, the stream, reconnects.
//!
//! Rules: Streamer's rules carry a tag that starts with the configured prefix; sync lists the
//! server's rules, deletes Streamer's stale ones, validates the missing ones with `dry_run`,
//! adds the valid ones and reports the ones X rejects, at start and again for every rule set
//! sent on [`XConfig::rule_updates`] (a hot reload). Rules without the prefix are never
//! touched. Stream: `\r\n`-framed JSON lines with a bare `\r\n` heartbeat; no byte for
//! `stall_timeout` is a stall. Reconnects follow X's guidance through [`XBackoff`]; 401 and 403
//! stop this source for good (with an operator notice in the log and the status).

use crate::backoff::XBackoff;
use crate::dedup::RecentSet;
use crate::lines::{LineSplitter, Piece};
use crate::status::now_ms;
use crate::{http_client, preview, reset_in_unix, Closed, Emitter, StatusHandle};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// The X source's settings.
#[derive(Clone)]
pub struct XConfig {
    /// `https://api.x.com`, or a mock's `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The app-only bearer token (a secret: never logged, never in `Debug`).
    pub bearer_token: String,
    /// The rules Streamer wants on the server (from `streamer_rules::to_x_rules`).
    pub rules: Vec<XRuleSpec>,
    /// Marks the server rules Streamer owns.
    pub tag_prefix: String,
    /// `backfill_minutes` (1–5) on every connection, when the tier allows it.
    pub backfill_minutes: Option<u8>,
    /// No byte (heartbeats included) for this long is a stall. X sends `\r\n` at least
    /// every 20 s, often marginally later: 30 s by default.
    pub stall_timeout: Duration,
    /// Lines longer than this are skipped and counted.
    pub max_line_bytes: usize,
    /// New rule sets after a hot reload: each one is synced with X (stale Streamer rules
    /// deleted, missing ones added) while the stream stays connected, as X applies rule
    /// changes to an open stream. `None`: the rules are synced at start only.
    pub rule_updates: Option<tokio::sync::watch::Receiver<Vec<XRuleSpec>>>,
}

impl fmt::Debug for XConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XConfig")
            .field("base_url", &self.base_url)
            .field("bearer_token", &"<redacted>")
            .field("rules", &self.rules.len())
            .field("tag_prefix", &self.tag_prefix)
            .field("backfill_minutes", &self.backfill_minutes)
            .field("stall_timeout", &self.stall_timeout)
            .finish()
    }
}

impl XConfig {
    /// Defaults for everything but the base URL, token and rules.
    pub fn new(base_url: &str, bearer_token: &str, rules: Vec<XRuleSpec>) -> XConfig {
        XConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            bearer_token: bearer_token.to_string(),
            rules,
            tag_prefix: "streamer:".into(),
            backfill_minutes: None,
            stall_timeout: Duration::from_secs(30),
            max_line_bytes: 1 << 20,
            rule_updates: None,
        }
    }
}

/// One rule to keep on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct XRuleSpec {
    pub value: String,
    pub tag: String,
}

/// Every field and expansion the Post model reads: author (and their metrics and creation
/// time), client, geo and place, entities, language, referenced posts, long-post text.
pub const STREAM_PARAMS: &[(&str, &str)] = &[
    (
        "tweet.fields",
        "created_at,author_id,lang,source,entities,geo,referenced_tweets,conversation_id,\
         in_reply_to_user_id,possibly_sensitive,public_metrics,attachments,note_tweet,\
         edit_history_tweet_ids",
    ),
    (
        "expansions",
        "author_id,geo.place_id,attachments.media_keys,referenced_tweets.id,\
         referenced_tweets.id.author_id,in_reply_to_user_id",
    ),
    (
        "user.fields",
        "created_at,description,location,name,username,verified,public_metrics,protected,url",
    ),
    (
        "place.fields",
        "full_name,country,country_code,geo,place_type,name,id",
    ),
    ("media.fields", "type,url,preview_image_url,alt_text"),
];

/// Why an attempt failed, and so which backoff applies.
#[derive(Debug)]
enum Failure {
    /// 401/403: the source stops.
    Permanent(String),
    /// 429, with the time until `x-rate-limit-reset`.
    RateLimited(String, Option<Duration>),
    /// Any other HTTP error status.
    Http(String),
    /// No response (connect, TLS, read).
    Network(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Permanent(m)
            | Failure::RateLimited(m, _)
            | Failure::Http(m)
            | Failure::Network(m) => m,
        }
    }
}

fn classify(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    what: &str,
) -> Failure {
    let msg = format!("{what}: HTTP {status}: {}", preview(body));
    match status.as_u16() {
        401 | 403 => Failure::Permanent(msg),
        429 => Failure::RateLimited(msg, reset_in_unix(headers, "x-rate-limit-reset")),
        _ => Failure::Http(msg),
    }
}

/// The outcome of rules sync, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub kept: usize,
    pub added: usize,
    pub deleted: usize,
    /// `(value, tag, why)` of the rules X refused.
    pub rejected: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct RulesPage {
    #[serde(default)]
    data: Vec<ServerRule>,
    #[serde(default)]
    meta: Option<RulesMeta>,
}

#[derive(Deserialize)]
struct RulesMeta {
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct ServerRule {
    id: String,
    value: String,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize)]
struct RulesPostResponse {
    #[serde(default)]
    errors: Vec<RuleProblem>,
}

#[derive(Deserialize)]
struct RuleProblem {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    details: Option<Vec<String>>,
}

impl RuleProblem {
    fn why(&self) -> String {
        let mut s = self.title.clone().unwrap_or_else(|| "rejected".into());
        if let Some(d) = &self.detail {
            s.push_str(": ");
            s.push_str(d);
        }
        if let Some(d) = &self.details {
            s.push_str(": ");
            s.push_str(&d.join("; "));
        }
        s
    }
}

struct Api<'a> {
    client: &'a reqwest::Client,
    cfg: &'a XConfig,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.base_url)
    }

    async fn get_rules(&self) -> Result<Vec<ServerRule>, Failure> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let mut req = self
                .client
                .get(self.url("/2/tweets/search/stream/rules"))
                .bearer_auth(&self.cfg.bearer_token)
                .timeout(Duration::from_secs(30));
            let mut query = vec![("max_results", "1000".to_string())];
            if let Some(t) = &token {
                query.push(("pagination_token", t.clone()));
            }
            req = req.query(&query);
            let body = self.send(req, "listing rules").await?;
            let page: RulesPage = serde_json::from_slice(&body)
                .map_err(|e| Failure::Http(format!("listing rules: unreadable response: {e}")))?;
            all.extend(page.data);
            token = page.meta.and_then(|m| m.next_token);
            if token.is_none() {
                break;
            }
        }
        Ok(all)
    }

    async fn post_rules(
        &self,
        body: serde_json::Value,
        dry_run: bool,
        what: &str,
    ) -> Result<Vec<RuleProblem>, Failure> {
        let mut req = self
            .client
            .post(self.url("/2/tweets/search/stream/rules"))
            .bearer_auth(&self.cfg.bearer_token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(Duration::from_secs(30));
        if dry_run {
            req = req.query(&[("dry_run", "true")]);
        }
        let body = self.send(req, what).await?;
        let resp: RulesPostResponse = serde_json::from_slice(&body)
            .map_err(|e| Failure::Http(format!("{what}: unreadable response: {e}")))?;
        Ok(resp.errors)
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Vec<u8>, Failure> {
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Network(format!("{what}: {}", error_chain(&e))))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Failure::Network(format!("{what}: {}", error_chain(&e))))?;
        if !status.is_success() {
            return Err(classify(status, &headers, &body, what));
        }
        Ok(body.to_vec())
    }
}

/// Brings the server's Streamer-owned rules in line with `cfg.rules`.
async fn sync_rules(client: &reqwest::Client, cfg: &XConfig) -> Result<SyncReport, Failure> {
    let api = Api { client, cfg };
    let server = api.get_rules().await?;
    let ours: Vec<&ServerRule> = server
        .iter()
        .filter(|r| {
            r.tag
                .as_deref()
                .is_some_and(|t| t.starts_with(&cfg.tag_prefix))
        })
        .collect();
    let wanted: HashSet<(&str, &str)> = cfg
        .rules
        .iter()
        .map(|r| (r.value.as_str(), r.tag.as_str()))
        .collect();
    let present: HashSet<(&str, &str)> = ours
        .iter()
        .map(|r| (r.value.as_str(), r.tag.as_deref().unwrap_or("")))
        .collect();
    let stale: Vec<&str> = ours
        .iter()
        .filter(|r| !wanted.contains(&(r.value.as_str(), r.tag.as_deref().unwrap_or(""))))
        .map(|r| r.id.as_str())
        .collect();
    let mut seen = HashSet::new();
    let missing: Vec<&XRuleSpec> = cfg
        .rules
        .iter()
        .filter(|r| !present.contains(&(r.value.as_str(), r.tag.as_str())))
        .filter(|r| seen.insert((r.value.as_str(), r.tag.as_str())))
        .collect();
    let mut report = SyncReport {
        kept: ours.len() - stale.len(),
        ..SyncReport::default()
    };
    if !stale.is_empty() {
        // Deleting first frees room under the rule cap for the additions.
        let problems = api
            .post_rules(
                serde_json::json!({"delete": {"ids": stale}}),
                false,
                "deleting stale rules",
            )
            .await?;
        report.deleted = stale.len().saturating_sub(problems.len());
    }
    if missing.is_empty() {
        return Ok(report);
    }
    let add = |rules: &[&XRuleSpec]| serde_json::json!({ "add": rules });
    let problems = api
        .post_rules(add(&missing), true, "validating rules")
        .await?;
    let rejected_values: HashSet<String> =
        problems.iter().filter_map(|p| p.value.clone()).collect();
    for p in &problems {
        let value = p.value.clone().unwrap_or_default();
        let tag = missing
            .iter()
            .find(|r| r.value == value)
            .map(|r| r.tag.clone())
            .unwrap_or_default();
        report.rejected.push((value, tag, p.why()));
    }
    let valid: Vec<&XRuleSpec> = missing
        .into_iter()
        .filter(|r| !rejected_values.contains(&r.value))
        .collect();
    if !problems.is_empty() && problems.iter().all(|p| p.value.is_none()) {
        // A problem that names no rule (cap reached, ...) concerns the whole request.
        return Ok(report);
    }
    if valid.is_empty() {
        return Ok(report);
    }
    let problems = api.post_rules(add(&valid), false, "adding rules").await?;
    for p in &problems {
        let value = p.value.clone().unwrap_or_default();
        let tag = valid
            .iter()
            .find(|r| r.value == value)
            .map(|r| r.tag.clone())
            .unwrap_or_default();
        report.rejected.push((value, tag, p.why()));
    }
    report.added = valid.len().saturating_sub(problems.len());
    Ok(report)
}

/// The stream URL with every field the Post model needs.
pub fn stream_url(cfg: &XConfig) -> String {
    let mut url = format!("{}/2/tweets/search/stream?", cfg.base_url);
    let mut first = true;
    for (k, v) in STREAM_PARAMS {
        if !first {
            url.push('&');
        }
        first = false;
        url.push_str(k);
        url.push('=');
        url.push_str(&v.replace(' ', ""));
    }
    if let Some(m) = cfg.backfill_minutes.filter(|m| *m > 0) {
        url.push_str(&format!("&backfill_minutes={}", m.min(5)));
    }
    url
}

/// Runs the X source until its emitter closes or X refuses the credentials.
pub async fn run(cfg: XConfig, emit: Emitter, status: StatusHandle) {
    let client = http_client();
    let mut backoff = XBackoff::default();
    let mut rules_synced = false;
    let mut recent = RecentSet::new(1 << 16);
    let name = status.name();
    if let Some(rx) = cfg.rule_updates.clone() {
        tokio::spawn(resync_on_reload(
            client.clone(),
            cfg.clone(),
            rx,
            status.clone(),
        ));
    }
    loop {
        let failure = if !rules_synced {
            match sync_rules(&client, &cfg).await {
                Ok(report) => {
                    rules_synced = true;
                    tracing::info!(source = %name, kept = report.kept, added = report.added,
                        deleted = report.deleted, rejected = report.rejected.len(), "X rules synced");
                    for (value, tag, why) in &report.rejected {
                        tracing::error!(source = %name, rule = %tag, value = %value, "X rejected a rule: {why}");
                        status.note(format!("X rejected rule {tag} ({value}): {why}"));
                    }
                    continue;
                }
                Err(f) => f,
            }
        } else {
            match connect(&client, &cfg).await {
                Ok(resp) => {
                    backoff.connected();
                    status.connected();
                    tracing::info!(source = %name, "X stream connected");
                    let up = Instant::now();
                    match read_stream(resp, &cfg, &emit, &status, &mut recent).await {
                        Err(Closed) => return,
                        Ok(why) => {
                            let delay = backoff.dropped(up.elapsed());
                            tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "X stream ended: {why}");
                            status.failed(&why);
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                }
                Err(f) => f,
            }
        };
        let delay = match &failure {
            Failure::Permanent(m) => {
                tracing::error!(source = %name, "OPERATOR NOTICE: the X source stopped for good and needs an operator (check the bearer token and the app's access): {m}");
                status.stopped(m);
                return;
            }
            Failure::RateLimited(_, reset) => backoff.rate_limited(*reset),
            Failure::Http(_) => backoff.http_error(),
            Failure::Network(_) => backoff.network_error(),
        };
        if backoff.at_cap() {
            tracing::error!(source = %name, delay_s = delay.as_secs(), "X reconnects reached the backoff cap: {}", failure.message());
        } else {
            tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "X: {}", failure.message());
        }
        status.failed(failure.message());
        tokio::time::sleep(delay).await;
    }
}

/// Syncs every new rule set from a hot reload, with a few retries on the X backoff; one that
/// still fails is logged and waits for the next reload. Ends when the sender is dropped.
async fn resync_on_reload(
    client: reqwest::Client,
    mut cfg: XConfig,
    mut rx: tokio::sync::watch::Receiver<Vec<XRuleSpec>>,
    status: StatusHandle,
) {
    let name = status.name();
    while rx.changed().await.is_ok() {
        cfg.rules = rx.borrow_and_update().clone();
        let mut backoff = XBackoff::default();
        for attempt in 1..=3 {
            match sync_rules(&client, &cfg).await {
                Ok(report) => {
                    tracing::info!(source = %name, kept = report.kept, added = report.added,
                        deleted = report.deleted, rejected = report.rejected.len(), "X rules re-synced after a reload");
                    for (value, tag, why) in &report.rejected {
                        tracing::error!(source = %name, rule = %tag, value = %value, "X rejected a rule: {why}");
                        status.note(format!("X rejected rule {tag} ({value}): {why}"));
                    }
                    break;
                }
                Err(f) => {
                    let delay = match &f {
                        Failure::Permanent(_) => {
                            tracing::error!(source = %name, "X rules not re-synced: {}", f.message());
                            break;
                        }
                        Failure::RateLimited(_, reset) => backoff.rate_limited(*reset),
                        Failure::Http(_) => backoff.http_error(),
                        Failure::Network(_) => backoff.network_error(),
                    };
                    if attempt == 3 {
                        tracing::error!(source = %name, "X rules not re-synced, the server keeps the old ones until the next reload: {}", f.message());
                        break;
                    }
                    tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "X rules re-sync: {}", f.message());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

async fn connect(client: &reqwest::Client, cfg: &XConfig) -> Result<reqwest::Response, Failure> {
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        client
            .get(stream_url(cfg))
            .bearer_auth(&cfg.bearer_token)
            .send(),
    )
    .await
    .map_err(|_| Failure::Network("connecting the stream: timed out".into()))?
    .map_err(|e| Failure::Network(format!("connecting the stream: {}", error_chain(&e))))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(Duration::from_secs(10), resp.bytes())
        .await
        .ok()
        .and_then(|b| b.ok())
        .unwrap_or_default();
    Err(classify(status, &headers, &body, "connecting the stream"))
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    data: Option<HeadData<'a>>,
    #[serde(default)]
    errors: Option<Vec<StreamProblem>>,
}

#[derive(Deserialize)]
struct HeadData<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct StreamProblem {
    #[serde(default)]
    disconnect_type: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// Reads one open stream until it ends; `Ok(why)` when it did, `Err(Closed)` when the
/// pipeline is gone.
async fn read_stream(
    mut resp: reqwest::Response,
    cfg: &XConfig,
    emit: &Emitter,
    status: &StatusHandle,
    recent: &mut RecentSet,
) -> Result<String, Closed> {
    let mut splitter = LineSplitter::new(cfg.max_line_bytes);
    let mut pieces = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(cfg.stall_timeout, resp.chunk()).await {
            Err(_) => {
                return Ok(format!(
                    "stalled: no data or heartbeat for {} s",
                    cfg.stall_timeout.as_secs()
                ))
            }
            Ok(Err(e)) => return Ok(format!("read error: {}", error_chain(&e))),
            Ok(Ok(None)) => return Ok("closed by the server".into()),
            Ok(Ok(Some(c))) => c,
        };
        status.activity();
        splitter.push(&chunk, &mut pieces);
        for piece in pieces.drain(..) {
            match piece {
                Piece::Oversized(n) => {
                    status.update(|s| s.oversized += 1);
                    emit.oversized(n).await?;
                }
                Piece::Line(line) if line.iter().all(|b| b.is_ascii_whitespace()) => {}
                Piece::Line(line) => {
                    if let Some(why) = handle_line(line, emit, status, recent).await? {
                        return Ok(why);
                    }
                }
            }
        }
    }
}

/// Emits one line unless it is a duplicate; `Some(why)` for an operational disconnect.
async fn handle_line(
    line: Vec<u8>,
    emit: &Emitter,
    status: &StatusHandle,
    recent: &mut RecentSet,
) -> Result<Option<String>, Closed> {
    let head: Option<Head> = serde_json::from_slice(&line).ok();
    let mut disconnect = None;
    match &head {
        None => status.update(|s| s.malformed += 1),
        Some(Head { data: Some(d), .. }) => {
            if !recent.insert(d.id.as_ref()) {
                status.update(|s| s.duplicates += 1);
                return Ok(None);
            }
            let lag = d
                .created_at
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| now_ms() - t.as_millisecond());
            status.update(|s| {
                s.posts += 1;
                if lag.is_some() {
                    s.lag_ms = lag;
                }
            });
        }
        Some(Head {
            data: None,
            errors: Some(errors),
        }) => {
            if let Some(p) = errors.iter().find(|p| p.disconnect_type.is_some()) {
                disconnect = Some(format!(
                    "{}: {}",
                    p.disconnect_type.as_deref().unwrap_or_default(),
                    p.detail
                        .as_deref()
                        .or(p.title.as_deref())
                        .unwrap_or("disconnected by X")
                ));
            }
        }
        Some(_) => {}
    }
    status.update(|s| s.lines += 1);
    emit.line(line).await?;
    Ok(disconnect)
}

/// An error with its causes, which reqwest keeps in `source()`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_url_requests_every_field_the_post_model_needs() {
        let mut cfg = XConfig::new("http://h/", "t", vec![]);
        cfg.backfill_minutes = Some(9);
        let url = stream_url(&cfg);
        assert!(url.starts_with("http://h/2/tweets/search/stream?tweet.fields="));
        for needed in [
            "author_id",
            "source",
            "geo.place_id",
            "entities",
            "lang",
            "referenced_tweets.id",
            "public_metrics",
            "created_at",
            "note_tweet",
            "country_code",
        ] {
            assert!(url.contains(needed), "{needed} missing from {url}");
        }
        assert!(url.ends_with("&backfill_minutes=5"));
        assert!(!url.contains(' '));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = XConfig::new("http://h", "SECRET-TOKEN", vec![]);
        assert!(!format!("{cfg:?}").contains("SECRET"));
    }
}
