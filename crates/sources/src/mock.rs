//! Faithful mock servers for X, Mastodon, Jetstream and the Bluesky handle resolver, with fault
//! injection (feature `mock`).
//!
//! Hand-written on raw TCP so every byte is under the test's control: chunked `\r\n` framing
//! and heartbeats (X), SSE comments and `:thump` (Mastodon), WebSocket frames and pings
//! (Mastodon, Jetstream), and faults: a disconnect in the middle of a line, a stall, an error
//! status with rate-limit headers, an operational-disconnect line, bytes dripping slowly.
//! Each server plays a queue of scripted connections ([`Conn`]) and, when the queue is empty,
//! a well-behaved default (heartbeats forever; Jetstream also replays from the cursor). Every
//! request is logged with the (tokio, pausable) time it arrived, so tests check reconnect
//! delays on a paused clock.

use futures_util::SinkExt;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// One step of a scripted stream connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// One payload: an X line (`\r\n` appended), a Jetstream text frame, a raw Mastodon
    /// WebSocket frame.
    Send(String),
    /// A Mastodon event, written as the transport does (an SSE block or a WebSocket envelope).
    Event { event: String, payload: String },
    /// X `\r\n`, SSE `:thump`, WebSocket ping.
    Heartbeat,
    /// Raw bytes on an HTTP stream (half a line, an SSE comment, …).
    Raw(Vec<u8>),
    /// Bytes written one at a time with a pause after each (HTTP streams).
    Drip(Vec<u8>, Duration),
    /// Wait.
    Pause(Duration),
    /// Close cleanly (last chunk; WebSocket close frame).
    Close,
    /// Drop the TCP connection at once (mid-line when it follows a `Raw`).
    Drop,
    /// Say nothing more and keep the connection open.
    Stall,
    /// Jetstream: send every stored event at or after the requested cursor.
    Replay,
}

/// One scripted connection.
#[derive(Debug, Clone)]
pub enum Conn {
    /// Answer with this status, headers and body, then close.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Accept (200 or 101) and play these steps; unless they end the connection, heartbeats
    /// follow forever.
    Stream(Vec<Step>),
}

impl Conn {
    /// An error response with a JSON body.
    pub fn status(status: u16, body: &str) -> Conn {
        Conn::Respond {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
}

/// A request the server saw, and when (tokio time: paused in tests).
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub method: String,
    /// Path and query.
    pub target: String,
    pub body: String,
    /// Whether it was a WebSocket upgrade.
    pub websocket: bool,
}

/// A parsed HTTP request.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    target: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn q_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn is_websocket(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }

    fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| self.q("access_token"))
    }

    fn hit(&self) -> Hit {
        Hit {
            at: Instant::now(),
            method: self.method.clone(),
            target: self.target.clone(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
            websocket: self.is_websocket(),
        }
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_request(s: &mut TcpStream) -> std::io::Result<Request> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("head too long"));
        }
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the head"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
    let query = qs
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while body.len() < len {
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(Request {
        method,
        path: path.to_string(),
        target: target.clone(),
        query,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn respond(
    s: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.flush().await?;
    let _ = s.shutdown().await;
    Ok(())
}

async fn start_chunked(s: &mut TcpStream, content_type: &str) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\
         Cache-Control: private, no-store\r\nx-rate-limit-limit: 50\r\nx-rate-limit-remaining: 49\r\n\
         x-rate-limit-reset: {}\r\n\r\n",
        now + 900
    );
    s.write_all(head.as_bytes()).await
}

async fn chunk(s: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    s.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    s.write_all(data).await?;
    s.write_all(b"\r\n").await?;
    s.flush().await
}

async fn upgrade(mut s: TcpStream, req: &Request) -> std::io::Result<WebSocketStream<TcpStream>> {
    let key = req.header("sec-websocket-key").unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await?;
    Ok(WebSocketStream::from_raw_socket(s, Role::Server, None).await)
}

async fn listen<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            // Without this, Nagle holds small frames for the peer's delayed ACK (~40 ms), which
            // a paused test clock would count as silence.
            let _ = s.set_nodelay(true);
            tokio::spawn(handler(s));
        }
    });
    addr
}

/// How a transport writes the steps of a script.
enum Wire {
    /// X: chunked HTTP, `\r\n` lines.
    XLines,
    /// Mastodon SSE.
    Sse,
}

/// Plays steps on a chunked HTTP stream. Returns when the script ends the connection.
async fn play_http(
    mut s: TcpStream,
    steps: Vec<Step>,
    wire: Wire,
    heartbeat: Duration,
) -> std::io::Result<()> {
    let ct = match wire {
        Wire::XLines => "application/json",
        Wire::Sse => "text/event-stream",
    };
    start_chunked(&mut s, ct).await?;
    if let Wire::Sse = wire {
        chunk(&mut s, b":)\n").await?;
    }
    let beat: &[u8] = match wire {
        Wire::XLines => b"\r\n",
        Wire::Sse => b":thump\n",
    };
    for step in steps {
        match step {
            Step::Send(line) => match &wire {
                Wire::XLines => chunk(&mut s, format!("{line}\r\n").as_bytes()).await?,
                Wire::Sse => chunk(&mut s, line.as_bytes()).await?,
            },
            Step::Event { event, payload } => {
                chunk(
                    &mut s,
                    format!("event: {event}\ndata: {payload}\n\n").as_bytes(),
                )
                .await?
            }
            Step::Heartbeat => chunk(&mut s, beat).await?,
            Step::Raw(b) => chunk(&mut s, &b).await?,
            Step::Drip(b, every) => {
                for byte in b {
                    chunk(&mut s, &[byte]).await?;
                    tokio::time::sleep(every).await;
                }
            }
            Step::Pause(d) => tokio::time::sleep(d).await,
            Step::Close => {
                s.write_all(b"0\r\n\r\n").await?;
                let _ = s.shutdown().await;
                return Ok(());
            }
            Step::Drop => return Ok(()),
            Step::Stall => {
                // Hold the connection without a byte until the client gives up on it.
                let mut b = [0u8; 64];
                while s.read(&mut b).await? > 0 {}
                return Ok(());
            }
            Step::Replay => {}
        }
    }
    loop {
        tokio::time::sleep(heartbeat).await;
        chunk(&mut s, beat).await?;
    }
}

/// Plays steps on a WebSocket.
async fn play_ws(
    mut ws: WebSocketStream<TcpStream>,
    steps: Vec<Step>,
    stream: Vec<String>,
    replay: Vec<String>,
    heartbeat: Duration,
    zstd_dictionary: Option<&[u8]>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use futures_util::StreamExt;
    let frame = |text: String| match zstd_dictionary {
        None => Message::text(text),
        Some(dict) => Message::binary(
            zstd::bulk::Compressor::with_dictionary(3, dict)
                .and_then(|mut c| c.compress(text.as_bytes()))
                .unwrap_or_default(),
        ),
    };
    for step in steps {
        match step {
            Step::Send(text) => ws.send(frame(text)).await?,
            Step::Event { event, payload } => {
                let env = serde_json::json!({"stream": stream, "event": event, "payload": payload});
                ws.send(Message::text(env.to_string())).await?
            }
            Step::Heartbeat => ws.send(Message::Ping(Vec::new().into())).await?,
            Step::Raw(b) | Step::Drip(b, _) => ws.send(Message::binary(b)).await?,
            Step::Pause(d) => tokio::time::sleep(d).await,
            Step::Close => {
                ws.close(None).await?;
                return Ok(());
            }
            Step::Drop => return Ok(()),
            Step::Stall => {
                // Read (and so answer nothing) until the client leaves.
                while let Some(m) = ws.next().await {
                    m?;
                }
                return Ok(());
            }
            Step::Replay => {
                for e in &replay {
                    ws.send(frame(e.clone())).await?;
                }
            }
        }
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(heartbeat) => ws.send(Message::Ping(Vec::new().into())).await?,
            m = ws.next() => match m {
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => {}
            },
        }
    }
}

// ---------------------------------------------------------------------------------------- X

/// A rule as the X mock stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockRule {
    pub id: String,
    pub value: String,
    pub tag: Option<String>,
}

struct XState {
    token: String,
    rules: Vec<MockRule>,
    next_id: u64,
    max_rules: usize,
    conns: VecDeque<Conn>,
    hits: Vec<Hit>,
    heartbeat: Duration,
}

/// The X API v2 mock: rules endpoints and the filtered stream.
///
/// Rules whose value contains `INVALID` are refused as invalid; duplicates as `DuplicateRule`;
/// beyond `max_rules`, `RulesCapProblem`. A wrong bearer token gets 401 everywhere; no rules
/// on the stream gets 409.
#[derive(Clone)]
pub struct XMock {
    pub addr: SocketAddr,
    state: Arc<Mutex<XState>>,
}

impl XMock {
    /// Starts the mock on `127.0.0.1:0`, accepting `token`.
    pub async fn start(token: &str) -> XMock {
        let state = Arc::new(Mutex::new(XState {
            token: token.to_string(),
            rules: Vec::new(),
            next_id: 1_000_000_000_000_000_000,
            max_rules: 1000,
            conns: VecDeque::new(),
            hits: Vec::new(),
            heartbeat: Duration::from_secs(20),
        }));
        let st = state.clone();
        let addr = listen(move |s| {
            let st = st.clone();
            async move {
                let _ = x_conn(s, st).await;
            }
        })
        .await;
        XMock { addr, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn st(&self) -> std::sync::MutexGuard<'_, XState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a scripted stream connection.
    pub fn push(&self, conn: Conn) {
        self.st().conns.push_back(conn);
    }

    /// Sets the heartbeat interval of default and finished streams.
    pub fn set_heartbeat(&self, d: Duration) {
        self.st().heartbeat = d;
    }

    /// Sets the rule cap.
    pub fn set_max_rules(&self, n: usize) {
        self.st().max_rules = n;
    }

    /// Adds a rule as another tool would have.
    pub fn add_rule(&self, value: &str, tag: Option<&str>) -> String {
        let mut st = self.st();
        st.next_id += 1;
        let id = st.next_id.to_string();
        st.rules.push(MockRule {
            id: id.clone(),
            value: value.into(),
            tag: tag.map(str::to_string),
        });
        id
    }

    /// The rules on the server now.
    pub fn rules(&self) -> Vec<MockRule> {
        self.st().rules.clone()
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.st().hits.clone()
    }

    /// The stream connection attempts so far.
    pub fn stream_hits(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| {
                h.target.starts_with("/2/tweets/search/stream?")
                    || h.target == "/2/tweets/search/stream"
            })
            .collect()
    }
}

async fn x_conn(mut s: TcpStream, st: Arc<Mutex<XState>>) -> std::io::Result<()> {
    let req = read_request(&mut s).await?;
    let lock = || st.lock().unwrap_or_else(|e| e.into_inner());
    let (authorised, conn, heartbeat) = {
        let mut g = lock();
        g.hits.push(req.hit());
        let ok = req.bearer() == Some(g.token.as_str());
        let is_stream = req.path == "/2/tweets/search/stream";
        let conn = if ok && is_stream {
            Some(g.conns.pop_front().unwrap_or(Conn::Stream(Vec::new())))
        } else {
            None
        };
        (ok, conn, g.heartbeat)
    };
    if !authorised {
        let body =
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;
        return respond(&mut s, 401, &[], body).await;
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/2/tweets/search/stream") => {
            if lock().rules.is_empty() {
                let body = r#"{"title":"ConnectionException","detail":"Stream has no rules","type":"https://api.x.com/2/problems/streaming-connection"}"#;
                return respond(&mut s, 409, &[], body).await;
            }
            match conn.unwrap_or(Conn::Stream(Vec::new())) {
                Conn::Respond {
                    status,
                    headers,
                    body,
                } => respond(&mut s, status, &headers, &body).await,
                Conn::Stream(steps) => play_http(s, steps, Wire::XLines, heartbeat).await,
            }
        }
        ("GET", "/2/tweets/search/stream/rules") => {
            let body = {
                let g = lock();
                if g.rules.is_empty() {
                    serde_json::json!({"meta": {"sent": "2026-01-01T00:00:00.000Z", "result_count": 0}})
                } else {
                    let data: Vec<_> = g
                        .rules
                        .iter()
                        .map(|r| match &r.tag {
                            Some(t) => serde_json::json!({"id": r.id, "value": r.value, "tag": t}),
                            None => serde_json::json!({"id": r.id, "value": r.value}),
                        })
                        .collect();
                    serde_json::json!({"data": data, "meta": {"sent": "2026-01-01T00:00:00.000Z", "result_count": g.rules.len()}})
                }
            };
            respond(&mut s, 200, &[], &body.to_string()).await
        }
        ("POST", "/2/tweets/search/stream/rules") => {
            let dry = req.q("dry_run") == Some("true");
            let v: serde_json::Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(_) => return respond(&mut s, 400, &[], r#"{"title":"Invalid Request"}"#).await,
            };
            let body = x_post_rules(&mut lock(), &v, dry);
            respond(&mut s, if dry { 200 } else { 201 }, &[], &body.to_string()).await
        }
        _ => respond(&mut s, 404, &[], r#"{"title":"Not Found Error"}"#).await,
    }
}

fn x_post_rules(g: &mut XState, v: &serde_json::Value, dry: bool) -> serde_json::Value {
    let mut errors = Vec::new();
    let mut data = Vec::new();
    if let Some(ids) = v.pointer("/delete/ids").and_then(|x| x.as_array()) {
        let ids: Vec<&str> = ids.iter().filter_map(|i| i.as_str()).collect();
        let before = g.rules.len();
        if !dry {
            g.rules.retain(|r| !ids.contains(&r.id.as_str()));
        }
        let deleted = if dry {
            ids.len()
        } else {
            before - g.rules.len()
        };
        return serde_json::json!({"meta": {"sent": "2026-01-01T00:00:00.000Z",
            "summary": {"deleted": deleted, "not_deleted": ids.len() - deleted}}});
    }
    let adds = v
        .get("add")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    let mut count = g.rules.len();
    let mut created = 0;
    for a in &adds {
        let value = a
            .get("value")
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string();
        let tag = a.get("tag").and_then(|x| x.as_str()).map(str::to_string);
        if value.contains("INVALID") || value.is_empty() {
            errors.push(serde_json::json!({"value": value, "title": "InvalidRule",
                "details": ["Reference to invalid operator 'INVALID'."],
                "type": "https://api.x.com/2/problems/invalid-rules"}));
        } else if g.rules.iter().any(|r| r.value == value) {
            errors.push(
                serde_json::json!({"value": value, "id": "1", "title": "DuplicateRule",
                "type": "https://api.x.com/2/problems/duplicate-rules"}),
            );
        } else if count >= g.max_rules {
            errors.push(serde_json::json!({"title": "RulesCapProblem",
                "detail": "You have exceeded the maximum number of rules.",
                "type": "https://api.x.com/2/problems/rule-cap"}));
        } else {
            count += 1;
            created += 1;
            if !dry {
                g.next_id += 1;
                let id = g.next_id.to_string();
                data.push(serde_json::json!({"id": id, "value": value, "tag": tag}));
                g.rules.push(MockRule { id, value, tag });
            }
        }
    }
    let mut out = serde_json::json!({"meta": {"sent": "2026-01-01T00:00:00.000Z",
        "summary": {"created": created, "not_created": errors.len(), "valid": created, "invalid": errors.len()}}});
    if !data.is_empty() {
        out["data"] = serde_json::Value::Array(data);
    }
    if !errors.is_empty() {
        out["errors"] = serde_json::Value::Array(errors);
    }
    out
}

// --------------------------------------------------------------------------------- Mastodon

struct MState {
    token: Option<String>,
    websocket: bool,
    /// Every status the server has, `(id, JSON)`, for the timelines API.
    statuses: Vec<(String, String)>,
    conns: VecDeque<Conn>,
    hits: Vec<Hit>,
    heartbeat: Duration,
    addr: Option<SocketAddr>,
}

/// The Mastodon mock: `/api/v2/instance`, WebSocket and SSE streaming, the timelines API.
#[derive(Clone)]
pub struct MastodonMock {
    pub addr: SocketAddr,
    state: Arc<Mutex<MState>>,
}

impl MastodonMock {
    /// Starts the mock; `token` is required on every request when given.
    pub async fn start(token: Option<&str>) -> MastodonMock {
        let state = Arc::new(Mutex::new(MState {
            token: token.map(str::to_string),
            websocket: true,
            statuses: Vec::new(),
            conns: VecDeque::new(),
            hits: Vec::new(),
            heartbeat: Duration::from_secs(15),
            addr: None,
        }));
        let st = state.clone();
        let addr = listen(move |s| {
            let st = st.clone();
            async move {
                let _ = m_conn(s, st).await;
            }
        })
        .await;
        state.lock().unwrap_or_else(|e| e.into_inner()).addr = Some(addr);
        MastodonMock { addr, state }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, MState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Refuse WebSocket upgrades (404), so clients must fall back to SSE.
    pub fn disable_websocket(&self) {
        self.st().websocket = false;
    }

    /// Sets the heartbeat interval (`:thump` / ping) of default and finished streams.
    pub fn set_heartbeat(&self, d: Duration) {
        self.st().heartbeat = d;
    }

    /// Queues a scripted streaming connection (WebSocket or SSE, whichever comes).
    pub fn push(&self, conn: Conn) {
        self.st().conns.push_back(conn);
    }

    /// Stores a status for the timelines API.
    pub fn store(&self, id: &str, json: &str) {
        self.st().statuses.push((id.to_string(), json.to_string()));
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.st().hits.clone()
    }

    /// Streaming connection attempts (WebSocket and SSE).
    pub fn stream_hits(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.target.starts_with("/api/v1/streaming"))
            .collect()
    }
}

fn m_stream_of(req: &Request) -> Option<Vec<String>> {
    let (name, param) = if req.path == "/api/v1/streaming" {
        let s = req.q("stream")?.to_string();
        let p = match s.as_str() {
            "hashtag" | "hashtag:local" => Some(req.q("tag")?.to_string()),
            "list" => Some(req.q("list")?.to_string()),
            _ => None,
        };
        (s, p)
    } else {
        let rest = req.path.strip_prefix("/api/v1/streaming/")?;
        let s = rest.replace('/', ":");
        let p = match s.as_str() {
            "hashtag" | "hashtag:local" => Some(req.q("tag")?.to_string()),
            "list" => Some(req.q("list")?.to_string()),
            _ => None,
        };
        (s, p)
    };
    let known = [
        "public",
        "public:local",
        "public:remote",
        "hashtag",
        "hashtag:local",
        "list",
        "user",
        "public:media",
        "public:local:media",
        "public:remote:media",
    ];
    if !known.contains(&name.as_str()) {
        return None;
    }
    let mut v = vec![name];
    v.extend(param);
    Some(v)
}

async fn m_conn(mut s: TcpStream, st: Arc<Mutex<MState>>) -> std::io::Result<()> {
    let req = read_request(&mut s).await?;
    let lock = || st.lock().unwrap_or_else(|e| e.into_inner());
    let (authorised, ws_ok, heartbeat, addr) = {
        let mut g = lock();
        g.hits.push(req.hit());
        let ok = g.token.is_none() || req.bearer() == g.token.as_deref();
        (ok, g.websocket, g.heartbeat, g.addr)
    };
    if req.path == "/api/v2/instance" {
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        let body = serde_json::json!({"domain": "127.0.0.1",
            "configuration": {"urls": {"streaming": format!("ws://{addr}")}}});
        return respond(&mut s, 200, &[], &body.to_string()).await;
    }
    if !authorised {
        return respond(
            &mut s,
            401,
            &[],
            r#"{"error":"The access token is invalid"}"#,
        )
        .await;
    }
    if req.path.starts_with("/api/v1/streaming") {
        if req.is_websocket() && !ws_ok {
            return respond(&mut s, 404, &[], r#"{"error":"Not found"}"#).await;
        }
        let Some(stream) = m_stream_of(&req) else {
            return respond(&mut s, 400, &[], r#"{"error":"Unknown channel requested"}"#).await;
        };
        let conn = lock().conns.pop_front().unwrap_or(Conn::Stream(Vec::new()));
        let steps = match conn {
            Conn::Respond {
                status,
                headers,
                body,
            } => return respond(&mut s, status, &headers, &body).await,
            Conn::Stream(steps) => steps,
        };
        if req.is_websocket() {
            let ws = upgrade(s, &req).await?;
            let _ = play_ws(ws, steps, stream, Vec::new(), heartbeat, None).await;
            return Ok(());
        }
        return play_http(s, steps, Wire::Sse, heartbeat).await;
    }
    if req.path.starts_with("/api/v1/timelines/") {
        let limit: usize = req
            .q("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(20)
            .min(40);
        let mut all = lock().statuses.clone();
        all.sort_by(|a, b| crate::mastodon::cmp_ids(&a.0, &b.0));
        let above = |id: &str, bound: Option<&str>| {
            bound.is_none_or(|b| crate::mastodon::cmp_ids(id, b) == std::cmp::Ordering::Greater)
        };
        let page: Vec<&(String, String)> = if let Some(min) = req.q("min_id") {
            all.iter()
                .filter(|(id, _)| above(id, Some(min)))
                .take(limit)
                .collect()
        } else {
            let since = req.q("since_id");
            let mut v: Vec<_> = all.iter().filter(|(id, _)| above(id, since)).collect();
            let n = v.len();
            v.drain(..n.saturating_sub(limit));
            v
        };
        let body = format!(
            "[{}]",
            page.iter()
                .rev()
                .map(|(_, j)| j.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut headers = Vec::new();
        if let (Some(first), Some(last)) = (page.first(), page.last()) {
            headers.push((
                "Link".to_string(),
                format!(
                    "<http://{}{}?max_id={}>; rel=\"next\", <http://{}{}?min_id={}>; rel=\"prev\"",
                    addr.map(|a| a.to_string()).unwrap_or_default(),
                    req.path,
                    first.0,
                    addr.map(|a| a.to_string()).unwrap_or_default(),
                    req.path,
                    last.0
                ),
            ));
        }
        return respond(&mut s, 200, &headers, &body).await;
    }
    respond(&mut s, 404, &[], r#"{"error":"Not found"}"#).await
}

// -------------------------------------------------------------------------------- Jetstream

struct JState {
    /// Frames are zstd-compressed with this dictionary when a client asks `compress=true`.
    zstd_dictionary: Option<Vec<u8>>,
    events: Vec<(i64, String)>,
    conns: VecDeque<Conn>,
    hits: Vec<Hit>,
    heartbeat: Duration,
}

/// The Jetstream v1 mock: `/subscribe` with `wantedCollections`, `wantedDids` and `cursor`.
/// It does not enforce `maxMessageSizeBytes`, so clients' own size limit is what tests see.
#[derive(Clone)]
pub struct JetstreamMock {
    pub addr: SocketAddr,
    state: Arc<Mutex<JState>>,
}

impl JetstreamMock {
    /// Starts the mock.
    pub async fn start() -> JetstreamMock {
        let state = Arc::new(Mutex::new(JState {
            zstd_dictionary: None,
            events: Vec::new(),
            conns: VecDeque::new(),
            hits: Vec::new(),
            heartbeat: Duration::from_secs(20),
        }));
        let st = state.clone();
        let addr = listen(move |s| {
            let st = st.clone();
            async move {
                let _ = j_conn(s, st).await;
            }
        })
        .await;
        JetstreamMock { addr, state }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, JState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `ws://127.0.0.1:PORT/subscribe`.
    pub fn url(&self) -> String {
        format!("ws://{}/subscribe", self.addr)
    }

    /// Stores an event for replay (`Step::Replay` and default connections).
    pub fn store(&self, event: &str) {
        let t = serde_json::from_str::<serde_json::Value>(event)
            .ok()
            .and_then(|v| v.get("time_us").and_then(|t| t.as_i64()))
            .unwrap_or(0);
        self.st().events.push((t, event.to_string()));
    }

    /// Queues a scripted connection.
    pub fn push(&self, conn: Conn) {
        self.st().conns.push_back(conn);
    }

    /// Sets the ping interval.
    pub fn set_heartbeat(&self, d: Duration) {
        self.st().heartbeat = d;
    }

    /// Compresses frames with this zstd dictionary for clients that ask `compress=true`.
    pub fn set_zstd_dictionary(&self, dict: &[u8]) {
        self.st().zstd_dictionary = Some(dict.to_vec());
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.st().hits.clone()
    }
}

async fn j_conn(mut s: TcpStream, st: Arc<Mutex<JState>>) -> std::io::Result<()> {
    let req = read_request(&mut s).await?;
    let (conn, events, heartbeat, dict) = {
        let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
        g.hits.push(req.hit());
        let conn = g
            .conns
            .pop_front()
            .unwrap_or(Conn::Stream(vec![Step::Replay]));
        (
            conn,
            g.events.clone(),
            g.heartbeat,
            g.zstd_dictionary.clone(),
        )
    };
    let dict = dict.filter(|_| req.q("compress") == Some("true"));
    if req.path != "/subscribe" || !req.is_websocket() {
        return respond(&mut s, 404, &[], r#"{"error":"not found"}"#).await;
    }
    let steps = match conn {
        Conn::Respond {
            status,
            headers,
            body,
        } => return respond(&mut s, status, &headers, &body).await,
        Conn::Stream(steps) => steps,
    };
    let cursor: Option<i64> = req.q("cursor").and_then(|c| c.parse().ok());
    let collections = req.q_all("wantedCollections");
    let dids = req.q_all("wantedDids");
    let replay: Vec<String> = events
        .into_iter()
        .filter(|(t, _)| cursor.is_some_and(|c| *t >= c))
        .filter(|(_, e)| j_wanted(e, &collections, &dids))
        .map(|(_, e)| e)
        .collect();
    let ws = upgrade(s, &req).await?;
    let _ = play_ws(ws, steps, Vec::new(), replay, heartbeat, dict.as_deref()).await;
    Ok(())
}

fn j_wanted(event: &str, collections: &[&str], dids: &[&str]) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(event) else {
        return true;
    };
    if v.get("kind").and_then(|k| k.as_str()) != Some("commit") {
        return true;
    }
    let did = v.get("did").and_then(|d| d.as_str()).unwrap_or_default();
    let col = v
        .pointer("/commit/collection")
        .and_then(|c| c.as_str())
        .unwrap_or_default();
    (dids.is_empty() || dids.contains(&did))
        && (collections.is_empty()
            || collections.iter().any(|c| match c.strip_suffix('*') {
                Some(prefix) => col.starts_with(prefix),
                None => *c == col,
            }))
}

// ------------------------------------------------------------------------ handle resolver

struct RState {
    handles: std::collections::HashMap<String, String>,
    conns: VecDeque<Conn>,
    hits: Vec<Hit>,
    resolves: usize,
}

/// The Bluesky handle resolver mock: `GET /xrpc/com.atproto.identity.resolveHandle?handle=H`
/// answers `{"did":"…"}` for a known handle and `400 {"error":"InvalidRequest",…}` otherwise,
/// as the AppView does. Scripted answers ([`ResolverMock::push`]: a 503, a 429, a body that is
/// not a DID) are played first, one per request. [`ResolverMock::resolve_count`] counts the
/// resolve requests, so tests prove that cache hits stay off the network.
#[derive(Clone)]
pub struct ResolverMock {
    pub addr: SocketAddr,
    state: Arc<Mutex<RState>>,
}

impl ResolverMock {
    /// Starts the mock, knowing no handle.
    pub async fn start() -> ResolverMock {
        let state = Arc::new(Mutex::new(RState {
            handles: std::collections::HashMap::new(),
            conns: VecDeque::new(),
            hits: Vec::new(),
            resolves: 0,
        }));
        let st = state.clone();
        let addr = listen(move |s| {
            let st = st.clone();
            async move {
                let _ = r_conn(s, st).await;
            }
        })
        .await;
        ResolverMock { addr, state }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, RState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:PORT`, the resolver base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes `handle` (lower-case, no `@`) resolve to `did`.
    pub fn set(&self, handle: &str, did: &str) {
        self.st()
            .handles
            .insert(handle.to_string(), did.to_string());
    }

    /// Forgets `handle` (it becomes unknown).
    pub fn remove(&self, handle: &str) {
        self.st().handles.remove(handle);
    }

    /// Queues a scripted answer for the next resolve request (e.g. `Conn::status(503, …)`);
    /// `Conn::Stream` is not meaningful here and answers as if nothing was queued.
    pub fn push(&self, conn: Conn) {
        self.st().conns.push_back(conn);
    }

    /// Resolve requests so far.
    pub fn resolve_count(&self) -> usize {
        self.st().resolves
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.st().hits.clone()
    }
}

async fn r_conn(mut s: TcpStream, st: Arc<Mutex<RState>>) -> std::io::Result<()> {
    let req = read_request(&mut s).await?;
    let is_resolve = req.path == "/xrpc/com.atproto.identity.resolveHandle";
    if !is_resolve {
        st.lock()
            .unwrap_or_else(|e| e.into_inner())
            .hits
            .push(req.hit());
        return respond(
            &mut s,
            404,
            &[],
            r#"{"error":"MethodNotImplemented","message":"Method Not Implemented"}"#,
        )
        .await;
    }
    let (scripted, did) = {
        let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
        g.hits.push(req.hit());
        g.resolves += 1;
        let scripted = g.conns.pop_front();
        let did = req.q("handle").and_then(|h| g.handles.get(h).cloned());
        (scripted, did)
    };
    if let Some(Conn::Respond {
        status,
        headers,
        body,
    }) = scripted
    {
        return respond(&mut s, status, &headers, &body).await;
    }
    if req.q("handle").is_none_or(str::is_empty) {
        return respond(
            &mut s,
            400,
            &[],
            r#"{"error":"InvalidRequest","message":"Error: Params must have the property \"handle\""}"#,
        )
        .await;
    }
    match did {
        Some(did) => {
            respond(
                &mut s,
                200,
                &[],
                &serde_json::json!({ "did": did }).to_string(),
            )
            .await
        }
        None => {
            respond(
                &mut s,
                400,
                &[],
                r#"{"error":"InvalidRequest","message":"Unable to resolve handle"}"#,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------- fixtures

/// A minimal X v2 stream line for post `id` with `text`, authored by user 42.
pub fn x_post(id: &str, text: &str) -> String {
    serde_json::json!({
        "data": {"id": id, "text": text, "author_id": "42", "created_at": "2026-01-01T00:00:00.000Z",
                 "lang": "en", "source": "Mock Client", "edit_history_tweet_ids": [id]},
        "includes": {"users": [{"id": "42", "username": "mockuser", "name": "Mock User",
                     "created_at": "2020-01-01T00:00:00.000Z",
                     "public_metrics": {"followers_count": 7, "following_count": 1, "tweet_count": 3, "listed_count": 0}}]},
        "matching_rules": [{"id": "1", "tag": "streamer:mock"}]
    })
    .to_string()
}

/// X's operational-disconnect line.
pub const X_OPERATIONAL_DISCONNECT: &str = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;

/// A Mastodon REST/stream Status with server-local `id` and plain `text`.
pub fn mastodon_status(id: &str, text: &str) -> String {
    serde_json::json!({
        "id": id, "uri": format!("https://mock.example/users/alice/statuses/{id}"),
        "url": format!("https://mock.example/@alice/{id}"),
        "created_at": "2026-01-01T00:00:00.000Z", "edited_at": null,
        "content": format!("<p>{text}</p>"), "spoiler_text": "", "visibility": "public",
        "language": "en", "in_reply_to_id": null, "in_reply_to_account_id": null, "reblog": null,
        "account": {"id": "1090", "username": "alice", "acct": "alice",
                    "display_name": "Alice", "url": "https://mock.example/@alice",
                    "created_at": "2020-01-01T00:00:00.000Z", "followers_count": 5},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
    .to_string()
}

/// A Jetstream post-create event.
pub fn jetstream_post(did: &str, rkey: &str, time_us: i64, text: &str) -> String {
    serde_json::json!({
        "did": did, "time_us": time_us, "kind": "commit",
        "commit": {"rev": format!("rev{rkey}"), "operation": "create",
                   "collection": "app.bsky.feed.post", "rkey": rkey,
                   "record": {"$type": "app.bsky.feed.post", "text": text,
                              "createdAt": "2026-01-01T00:00:00.000Z", "langs": ["en"]},
                   "cid": format!("bafy{rkey}")}
    })
    .to_string()
}

/// A Jetstream identity event.
pub fn jetstream_identity(did: &str, handle: &str, time_us: i64) -> String {
    serde_json::json!({
        "did": did, "time_us": time_us, "kind": "identity",
        "identity": {"did": did, "handle": handle, "seq": 1, "time": "2026-01-01T00:00:00.000Z"}
    })
    .to_string()
}
