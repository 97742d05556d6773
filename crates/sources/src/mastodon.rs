//! Mastodon streaming (PROTOCOLS.md section 2): one task per (instance, stream).
//!
//! Each connection tries the WebSocket API first and falls back to Server-Sent Events when the
//! WebSocket handshake fails. Both become the same one-line WebSocket envelope
//! `{"stream":[…],"event":"update","payload":"<JSON string>"}` the wire decoder reads. Liveness:
//! server pings (WebSocket) and `:thump` comments (SSE); nothing for `stall_timeout` is a
//! stall. After any gap (a reconnect, or a restart with a stored resume id) the source pages
//! the timelines API forward from the newest status id it saw (`min_id`), so posts published
//! while it was away are not lost; overlaps with the stream are dropped as duplicates.

use crate::backoff::StreamBackoff;
use crate::dedup::RecentSet;
use crate::lines::{LineSplitter, Piece};
use crate::status::now_ms;
use crate::x::error_chain;
use crate::{http_client, preview, Closed, Emitter, StatusHandle};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// One Mastodon stream's settings.
#[derive(Clone)]
pub struct MastodonConfig {
    /// The instance's base URL (`https://infosec.exchange`, `http://127.0.0.1:PORT`).
    pub instance: String,
    /// The stream: `public`, `public:local`, `public:remote`, `hashtag:TAG`,
    /// `hashtag:local:TAG`, `list:ID`, `user` (see [`Stream::parse`]).
    pub stream: Stream,
    /// A user token (`read:statuses`); since Mastodon 4.2 every stream needs one. A secret:
    /// never logged, never in `Debug`.
    pub access_token: Option<String>,
    /// The newest status id seen before a restart: gap-fill starts there.
    pub resume_id: Option<String>,
    /// Nothing (heartbeats included) for this long is a stall: 45 s = three missed `:thump`s.
    pub stall_timeout: Duration,
    /// Frames and lines longer than this are skipped and counted.
    pub max_line_bytes: usize,
    /// Gap-fill reads at most this many timeline pages of 40 (a longer gap is logged).
    pub gap_fill_pages: usize,
}

impl fmt::Debug for MastodonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MastodonConfig")
            .field("instance", &self.instance)
            .field("stream", &self.stream)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("resume_id", &self.resume_id)
            .finish()
    }
}

impl MastodonConfig {
    /// Defaults for everything but the instance and stream.
    pub fn new(instance: &str, stream: Stream) -> MastodonConfig {
        MastodonConfig {
            instance: instance.trim_end_matches('/').to_string(),
            stream,
            access_token: None,
            resume_id: None,
            stall_timeout: Duration::from_secs(45),
            max_line_bytes: 1 << 20,
            gap_fill_pages: 25,
        }
    }
}

/// A stream name, parsed once (config validation uses [`Stream::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// As configured: `hashtag:ransomware`.
    pub spec: String,
    /// The WebSocket `stream` value: `hashtag`.
    ws: &'static str,
    /// `tag` or `list` parameter, if any.
    param: Option<(&'static str, String)>,
}

/// Why a stream name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Mastodon stream {0:?} (expected public, public:local, public:remote, hashtag:TAG, hashtag:local:TAG, list:ID or user)")]
pub struct UnknownStream(pub String);

impl Stream {
    /// Parses `public`, `public:local`, `public:remote` (each also with `:media`),
    /// `hashtag:TAG`, `hashtag:local:TAG`, `list:ID`, `user`.
    pub fn parse(spec: &str) -> Result<Stream, UnknownStream> {
        let simple = [
            "public",
            "public:local",
            "public:remote",
            "public:media",
            "public:local:media",
            "public:remote:media",
            "user",
        ];
        let bad = || UnknownStream(spec.to_string());
        let (ws, param) = if let Some(s) = simple.iter().find(|s| **s == spec) {
            (*s, None)
        } else if let Some(tag) = spec.strip_prefix("hashtag:local:") {
            ("hashtag:local", Some(("tag", tag)))
        } else if let Some(tag) = spec.strip_prefix("hashtag:") {
            ("hashtag", Some(("tag", tag)))
        } else if let Some(id) = spec.strip_prefix("list:") {
            ("list", Some(("list", id)))
        } else {
            return Err(bad());
        };
        if let Some((_, v)) = param {
            let tag_ok = !v.is_empty() && v.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !tag_ok {
                return Err(bad());
            }
        }
        Ok(Stream {
            spec: spec.to_string(),
            ws,
            param: param.map(|(k, v)| (k, v.to_string())),
        })
    }

    /// The `stream` array of envelopes, as the server writes it (`["hashtag","tag"]`).
    fn envelope_stream(&self) -> Vec<String> {
        let mut v = vec![self.ws.to_string()];
        if let Some((_, p)) = &self.param {
            v.push(p.clone());
        }
        v
    }

    fn query(&self) -> String {
        let mut q = format!("stream={}", self.ws);
        if let Some((k, v)) = &self.param {
            q.push_str(&format!("&{k}={}", encode(v)));
        }
        q
    }

    /// The SSE path and query.
    fn sse_path(&self) -> String {
        let path = match self.ws {
            "public" => "public",
            "public:local" => "public/local",
            "public:remote" => "public/remote",
            "public:media" => "public?only_media=true",
            "public:local:media" => "public/local?only_media=true",
            "public:remote:media" => "public/remote?only_media=true",
            "hashtag" => "hashtag",
            "hashtag:local" => "hashtag/local",
            "list" => "list",
            _ => "user",
        };
        let mut p = format!("/api/v1/streaming/{path}");
        if let Some((k, v)) = &self.param {
            p.push_str(&format!("?{k}={}", encode(v)));
        }
        p
    }

    /// The timeline that holds this stream's statuses, for gap-fill (path, extra query).
    fn timeline(&self) -> (String, &'static str) {
        let param = self
            .param
            .as_ref()
            .map(|(_, v)| encode(v))
            .unwrap_or_default();
        match self.ws {
            "public" => ("/api/v1/timelines/public".into(), ""),
            "public:local" => ("/api/v1/timelines/public".into(), "&local=true"),
            "public:remote" => ("/api/v1/timelines/public".into(), "&remote=true"),
            "public:media" => ("/api/v1/timelines/public".into(), "&only_media=true"),
            "public:local:media" => (
                "/api/v1/timelines/public".into(),
                "&local=true&only_media=true",
            ),
            "public:remote:media" => (
                "/api/v1/timelines/public".into(),
                "&remote=true&only_media=true",
            ),
            "hashtag" => (format!("/api/v1/timelines/tag/{param}"), ""),
            "hashtag:local" => (format!("/api/v1/timelines/tag/{param}"), "&local=true"),
            "list" => (format!("/api/v1/timelines/list/{param}"), ""),
            _ => ("/api/v1/timelines/home".into(), ""),
        }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Mastodon ids are opaque strings that sort by (length, text).
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[derive(Serialize)]
struct Envelope<'a> {
    stream: &'a [String],
    event: &'a str,
    payload: &'a str,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatusHead {
    id: String,
    #[serde(default)]
    edited_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

struct Session<'a> {
    cfg: &'a MastodonConfig,
    emit: &'a Emitter,
    status: &'a StatusHandle,
    recent: RecentSet,
    /// The newest status id seen: where gap-fill starts.
    last_id: Option<String>,
    envelope_stream: Vec<String>,
}

impl Session<'_> {
    /// Handles one envelope (from a WebSocket frame, an SSE event or a REST status).
    async fn envelope(&mut self, line: Vec<u8>) -> Result<(), Closed> {
        if line.len() > self.cfg.max_line_bytes {
            self.status.update(|s| s.oversized += 1);
            return self.emit.oversized(line.len()).await;
        }
        let env: Option<EnvelopeIn> = serde_json::from_slice(&line).ok();
        match env {
            None => self.status.update(|s| s.malformed += 1),
            Some(EnvelopeIn { error: Some(e), .. }) => {
                tracing::error!(source = %self.status.name(), "Mastodon refused the stream: {e}");
                self.status.note(format!("server error: {e}"));
                return Ok(());
            }
            Some(EnvelopeIn {
                event: Some(event),
                payload,
                ..
            }) => {
                let payload = payload.unwrap_or_default();
                let key = match event.as_str() {
                    "update" | "status.update" => {
                        match serde_json::from_str::<StatusHead>(&payload) {
                            Ok(h) => {
                                if event == "update"
                                    && self
                                        .last_id
                                        .as_deref()
                                        .is_none_or(|l| cmp_ids(&h.id, l) == Ordering::Greater)
                                {
                                    self.last_id = Some(h.id.clone());
                                    let id = h.id.clone();
                                    self.status.update(|s| s.resume = Some(id));
                                }
                                if let Some(t) = h
                                    .created_at
                                    .as_deref()
                                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                                {
                                    if h.edited_at.is_none() {
                                        let lag = now_ms() - t.as_millisecond();
                                        self.status.update(|s| s.lag_ms = Some(lag));
                                    }
                                }
                                format!("{event}\0{}\0{}", h.id, h.edited_at.unwrap_or_default())
                            }
                            Err(_) => {
                                self.status.update(|s| s.malformed += 1);
                                String::new()
                            }
                        }
                    }
                    other => format!("{other}\0{payload}"),
                };
                if !key.is_empty() && !self.recent.insert(&key) {
                    self.status.update(|s| s.duplicates += 1);
                    return Ok(());
                }
                if matches!(event.as_str(), "update" | "status.update") {
                    self.status.update(|s| s.posts += 1);
                }
            }
            Some(_) => {}
        }
        self.status.update(|s| s.lines += 1);
        self.emit.line(line).await
    }

    fn wrap(&self, event: &str, payload: &str) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            stream: &self.envelope_stream,
            event,
            payload,
        })
        .unwrap_or_default()
    }
}

/// Runs one Mastodon stream until its emitter closes or the server refuses the token.
pub async fn run(cfg: MastodonConfig, emit: Emitter, status: StatusHandle) {
    let client = http_client();
    let mut backoff = StreamBackoff::default();
    let name = status.name();
    let mut session = Session {
        cfg: &cfg,
        emit: &emit,
        status: &status,
        recent: RecentSet::new(1 << 14),
        last_id: cfg.resume_id.clone(),
        envelope_stream: cfg.stream.envelope_stream(),
    };
    let mut streaming_base: Option<String> = None;
    loop {
        if streaming_base.is_none() {
            streaming_base = discover_streaming(&client, &cfg).await;
        }
        let base = streaming_base
            .clone()
            .unwrap_or_else(|| to_ws(&cfg.instance));
        let outcome = match connect_ws(&base, &cfg).await {
            Ok(ws) => Transport::Ws(Box::new(ws)),
            Err(WsError::Refused(why)) => Transport::Failed(Failure::Permanent(why)),
            Err(WsError::Other(ws_why)) => {
                tracing::info!(source = %name, "WebSocket failed ({ws_why}), trying SSE");
                match connect_sse(&client, &to_http(&base), &cfg).await {
                    Ok(resp) => Transport::Sse(resp),
                    Err(f) => Transport::Failed(f),
                }
            }
        };
        let (kind, result) = match outcome {
            Transport::Failed(f) => {
                let delay = match &f {
                    Failure::Permanent(m) => {
                        tracing::error!(source = %name, "OPERATOR NOTICE: the Mastodon stream stopped for good and needs an operator (check the access token): {m}");
                        status.stopped(m);
                        return;
                    }
                    Failure::RateLimited(_, reset) => backoff.rate_limited(*reset),
                    Failure::Other(_) => backoff.failed(),
                };
                tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "Mastodon: {}", f.message());
                status.failed(f.message());
                // The streaming host may have moved: ask again next time.
                streaming_base = None;
                tokio::time::sleep(delay).await;
                continue;
            }
            Transport::Ws(ws) => ("WebSocket", {
                status.connected();
                tracing::info!(source = %name, "Mastodon connected (WebSocket)");
                let up = Instant::now();
                let r = match gap_fill(&client, &mut session).await {
                    Err(Closed) => return,
                    Ok(()) => read_ws(*ws, &mut session).await,
                };
                (up, r)
            }),
            Transport::Sse(resp) => ("SSE", {
                status.connected();
                tracing::info!(source = %name, "Mastodon connected (SSE)");
                let up = Instant::now();
                let r = match gap_fill(&client, &mut session).await {
                    Err(Closed) => return,
                    Ok(()) => read_sse(resp, &mut session).await,
                };
                (up, r)
            }),
        };
        let (up, r) = result;
        let why = match r {
            Err(Closed) => return,
            Ok(why) => why,
        };
        let delay = backoff.dropped(up.elapsed());
        tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "Mastodon {kind} stream ended: {why}");
        status.failed(&why);
        tokio::time::sleep(delay).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

enum Transport {
    Ws(Box<Ws>),
    Sse(reqwest::Response),
    Failed(Failure),
}

#[derive(Debug)]
enum Failure {
    Permanent(String),
    RateLimited(String, Option<Duration>),
    Other(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Permanent(m) | Failure::RateLimited(m, _) | Failure::Other(m) => m,
        }
    }
}

enum WsError {
    /// 401/403: the token is refused.
    Refused(String),
    Other(String),
}

fn to_ws(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_string()
    }
}

fn to_http(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_string()
    }
}

/// `configuration.urls.streaming` of `/api/v2/instance`; `None` when unavailable.
async fn discover_streaming(client: &reqwest::Client, cfg: &MastodonConfig) -> Option<String> {
    #[derive(Deserialize)]
    struct Instance {
        configuration: Option<Conf>,
    }
    #[derive(Deserialize)]
    struct Conf {
        urls: Option<Urls>,
    }
    #[derive(Deserialize)]
    struct Urls {
        streaming: Option<String>,
    }
    let mut req = client
        .get(format!("{}/api/v2/instance", cfg.instance))
        .timeout(Duration::from_secs(20));
    if let Some(t) = &cfg.access_token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = resp.bytes().await.ok()?;
    let inst: Instance = serde_json::from_slice(&body).ok()?;
    let s = inst.configuration?.urls?.streaming?;
    let s = s.trim_end_matches('/').to_string();
    (s.starts_with("ws://") || s.starts_with("wss://")).then_some(s)
}

async fn connect_ws(base: &str, cfg: &MastodonConfig) -> Result<Ws, WsError> {
    let url = format!("{base}/api/v1/streaming?{}", cfg.stream.query());
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| WsError::Other(format!("bad streaming URL: {e}")))?;
    if let Some(t) = &cfg.access_token {
        let v = format!("Bearer {t}")
            .parse()
            .map_err(|_| WsError::Refused("the access token is not a valid header value".into()))?;
        req.headers_mut().insert("authorization", v);
    }
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_line_bytes.saturating_mul(4).max(1 << 20)))
        .max_frame_size(Some(cfg.max_line_bytes.saturating_mul(4).max(1 << 20)));
    match tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(req, Some(ws_cfg), true),
    )
    .await
    {
        Err(_) => Err(WsError::Other("WebSocket handshake timed out".into())),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp)))
            if matches!(resp.status().as_u16(), 401 | 403) =>
        {
            Err(WsError::Refused(format!(
                "WebSocket: HTTP {}: {}",
                resp.status(),
                preview(resp.body().as_deref().unwrap_or_default())
            )))
        }
        Ok(Err(e)) => Err(WsError::Other(error_chain(&e))),
    }
}

async fn connect_sse(
    client: &reqwest::Client,
    base: &str,
    cfg: &MastodonConfig,
) -> Result<reqwest::Response, Failure> {
    let mut req = client
        .get(format!("{base}{}", cfg.stream.sse_path()))
        .header("accept", "text/event-stream");
    if let Some(t) = &cfg.access_token {
        req = req.bearer_auth(t);
    }
    let resp = tokio::time::timeout(Duration::from_secs(30), req.send())
        .await
        .map_err(|_| Failure::Other("SSE: connecting timed out".into()))?
        .map_err(|e| Failure::Other(format!("SSE: {}", error_chain(&e))))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    let msg = format!("SSE: HTTP {status}: {}", preview(&body));
    Err(match status.as_u16() {
        401 | 403 => Failure::Permanent(msg),
        429 => Failure::RateLimited(msg, reset_in_iso(&headers)),
        _ => Failure::Other(msg),
    })
}

/// Time until Mastodon's `X-RateLimit-Reset` (an ISO timestamp).
fn reset_in_iso(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let t: jiff::Timestamp = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    let ms = t.as_millisecond() - now_ms();
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

async fn read_ws(mut ws: Ws, session: &mut Session<'_>) -> Result<String, Closed> {
    loop {
        let msg = match tokio::time::timeout(session.cfg.stall_timeout, ws.next()).await {
            Err(_) => {
                return Ok(format!(
                    "stalled: no frame or ping for {} s",
                    session.cfg.stall_timeout.as_secs()
                ))
            }
            Ok(None) => return Ok("closed by the server".into()),
            Ok(Some(Err(e))) => return Ok(format!("read error: {}", error_chain(&e))),
            Ok(Some(Ok(m))) => m,
        };
        session.status.activity();
        match msg {
            Message::Text(t) => session.envelope(t.as_bytes().to_vec()).await?,
            // Mastodon terminates clients that missed a pong: send it now, not on the next read.
            Message::Ping(_) => {
                let _ = ws.flush().await;
            }
            Message::Close(frame) => {
                return Ok(format!(
                    "closed by the server{}",
                    frame
                        .map(|f| format!(": {} {}", f.code, f.reason))
                        .unwrap_or_default()
                ))
            }
            _ => {}
        }
    }
}

async fn read_sse(
    mut resp: reqwest::Response,
    session: &mut Session<'_>,
) -> Result<String, Closed> {
    let mut splitter = LineSplitter::new(session.cfg.max_line_bytes + 16);
    let mut pieces = Vec::new();
    let mut event: Option<String> = None;
    let mut data: Option<Vec<u8>> = None;
    loop {
        let chunk = match tokio::time::timeout(session.cfg.stall_timeout, resp.chunk()).await {
            Err(_) => {
                return Ok(format!(
                    "stalled: no data or :thump for {} s",
                    session.cfg.stall_timeout.as_secs()
                ))
            }
            Ok(Err(e)) => return Ok(format!("read error: {}", error_chain(&e))),
            Ok(Ok(None)) => return Ok("closed by the server".into()),
            Ok(Ok(Some(c))) => c,
        };
        session.status.activity();
        splitter.push(&chunk, &mut pieces);
        for piece in std::mem::take(&mut pieces) {
            let line = match piece {
                Piece::Oversized(n) => {
                    session.status.update(|s| s.oversized += 1);
                    session.emit.oversized(n).await?;
                    event = None;
                    data = None;
                    continue;
                }
                Piece::Line(l) => l,
            };
            if line.is_empty() {
                // A blank line dispatches the event.
                if let (Some(e), Some(d)) = (event.take(), data.take()) {
                    let payload = String::from_utf8_lossy(&d);
                    let env = session.wrap(&e, &payload);
                    session.envelope(env).await?;
                }
                event = None;
                data = None;
                continue;
            }
            if line.starts_with(b":") {
                continue;
            }
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (&line[..], &b""[..]),
            };
            match field {
                b"event" => event = Some(String::from_utf8_lossy(value).trim().to_string()),
                b"data" => match data.as_mut() {
                    Some(d) => {
                        d.push(b'\n');
                        d.extend_from_slice(value);
                    }
                    None => data = Some(value.to_vec()),
                },
                _ => {}
            }
        }
    }
}

/// Pages the stream's timeline forward from the newest id seen, oldest first.
async fn gap_fill(client: &reqwest::Client, session: &mut Session<'_>) -> Result<(), Closed> {
    let Some(mut since) = session.last_id.clone() else {
        return Ok(());
    };
    let (path, extra) = session.cfg.stream.timeline();
    let name = session.status.name();
    let mut filled = 0u64;
    for page in 0..session.cfg.gap_fill_pages {
        let url = format!(
            "{}{path}?min_id={}&limit=40{extra}",
            session.cfg.instance,
            encode(&since)
        );
        let mut req = client.get(url).timeout(Duration::from_secs(30));
        if let Some(t) = &session.cfg.access_token {
            req = req.bearer_auth(t);
        }
        let body = match req.send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(source = %name, "gap-fill stopped: {}", error_chain(&e));
                    break;
                }
            },
            Ok(r) => {
                tracing::warn!(source = %name, status = %r.status(), "gap-fill refused by the timelines API");
                break;
            }
            Err(e) => {
                tracing::warn!(source = %name, "gap-fill failed: {}", error_chain(&e));
                break;
            }
        };
        let statuses: Vec<Box<serde_json::value::RawValue>> = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(source = %name, "gap-fill: unreadable timeline page: {e}");
                break;
            }
        };
        let mut items: Vec<(String, Box<serde_json::value::RawValue>)> = statuses
            .into_iter()
            .filter_map(|raw| {
                let h: StatusHead = serde_json::from_str(raw.get()).ok()?;
                Some((h.id, raw))
            })
            .collect();
        if items.is_empty() {
            break;
        }
        items.sort_by(|a, b| cmp_ids(&a.0, &b.0));
        let before = session.status.snapshot().duplicates;
        let n = items.len() as u64;
        for (id, raw) in items {
            if cmp_ids(&id, &since) == Ordering::Greater {
                since = id;
            }
            let env = session.wrap("update", raw.get());
            session.envelope(env).await?;
        }
        let dups = session.status.snapshot().duplicates - before;
        filled += n - dups;
        if page + 1 == session.cfg.gap_fill_pages {
            tracing::warn!(source = %name, "gap-fill stopped after {} pages: older posts of the gap are lost", page + 1);
        }
    }
    if filled > 0 {
        tracing::info!(source = %name, posts = filled, "gap filled from the timelines API");
        session.status.update(|s| s.gap_filled += filled);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_parse_into_ws_sse_and_timeline_forms() {
        let s = Stream::parse("hashtag:ransomware").unwrap();
        assert_eq!(s.query(), "stream=hashtag&tag=ransomware");
        assert_eq!(s.sse_path(), "/api/v1/streaming/hashtag?tag=ransomware");
        assert_eq!(s.timeline().0, "/api/v1/timelines/tag/ransomware");
        assert_eq!(s.envelope_stream(), ["hashtag", "ransomware"]);
        let l = Stream::parse("public:local").unwrap();
        assert_eq!(l.sse_path(), "/api/v1/streaming/public/local");
        assert_eq!(
            l.timeline(),
            ("/api/v1/timelines/public".into(), "&local=true")
        );
        assert_eq!(
            Stream::parse("list:42").unwrap().query(),
            "stream=list&list=42"
        );
        assert_eq!(
            Stream::parse("user").unwrap().timeline().0,
            "/api/v1/timelines/home"
        );
        assert!(Stream::parse("federated").is_err());
        assert!(Stream::parse("hashtag:").is_err());
        assert!(Stream::parse("hashtag:a&b").is_err());
    }

    #[test]
    fn ids_sort_by_length_then_text() {
        assert_eq!(cmp_ids("9", "10"), Ordering::Less);
        assert_eq!(cmp_ids("110", "109"), Ordering::Greater);
    }
}
