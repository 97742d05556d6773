//! Bluesky Jetstream v1 (`/subscribe`, PROTOCOLS.md section 3): posts only
//! (`wantedCollections=app.bsky.feed.post`), optionally only watched accounts (`wantedDids`).
//!
//! Resume: the newest `time_us` seen is the cursor (the binary stores it as it commits, and
//! passes the stored one in at start). Every connection after the first event rewinds
//! [`JetstreamConfig::rewind`] before that cursor, because Jetstream replays at-least-once and
//! `time_us` is not strictly monotonic; the replayed events already seen are dropped here by
//! `(did, collection, rkey, rev)`, and the store's (platform, id) dedup is the final guard.
//! Identity and account events pass through whatever the filter (they update actors).

use crate::backoff::StreamBackoff;
use crate::dedup::RecentSet;
use crate::status::now_ms;
use crate::x::error_chain;
use crate::{Closed, Emitter, StatusHandle};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// The Jetstream source's settings.
#[derive(Debug, Clone)]
pub struct JetstreamConfig {
    /// `wss://…/subscribe` (`ws://` for tests).
    pub url: String,
    /// Only these repos (the watched-accounts-only mode); empty = everyone.
    pub wanted_dids: Vec<String>,
    /// The stored cursor (`time_us`) to resume from; `None` = live tail.
    pub cursor: Option<i64>,
    /// How far before the cursor a reconnect resumes.
    pub rewind: Duration,
    /// No frame (pings included) for this long is a stall: the unfiltered post stream is never
    /// silent for more than a few seconds, a `wantedDids` stream may be; pings keep it alive.
    pub stall_timeout: Duration,
    /// Events longer than this are skipped (asked of the server with `maxMessageSizeBytes`).
    pub max_line_bytes: usize,
    /// Jetstream's zstd dictionary: when set, the source asks for `compress=true` and
    /// decompresses the binary frames with it (about half the bandwidth).
    pub zstd_dictionary: Option<std::sync::Arc<Vec<u8>>>,
}

impl JetstreamConfig {
    /// Defaults for everything but the URL.
    pub fn new(url: &str) -> JetstreamConfig {
        JetstreamConfig {
            url: url.to_string(),
            wanted_dids: Vec::new(),
            cursor: None,
            rewind: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(60),
            max_line_bytes: 1 << 20,
            zstd_dictionary: None,
        }
    }
}

/// The subscribe URL for a connection resuming at `cursor` (already rewound).
pub fn subscribe_url(cfg: &JetstreamConfig, cursor: Option<i64>) -> String {
    let mut url = cfg.url.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str("wantedCollections=app.bsky.feed.post");
    for did in &cfg.wanted_dids {
        url.push_str("&wantedDids=");
        url.push_str(&percent_encode(did));
    }
    url.push_str(&format!("&maxMessageSizeBytes={}", cfg.max_line_bytes));
    if cfg.zstd_dictionary.is_some() {
        url.push_str("&compress=true");
    }
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    url
}

/// Percent-encodes what a query value may not hold (DIDs hold `:`, which is fine, and `%`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    did: &'a str,
    time_us: i64,
    #[serde(borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    commit: Option<CommitHead<'a>>,
}

#[derive(Deserialize)]
struct CommitHead<'a> {
    #[serde(borrow, default)]
    rev: Option<&'a str>,
    #[serde(borrow, default)]
    operation: Option<&'a str>,
    #[serde(borrow, default)]
    collection: Option<&'a str>,
    #[serde(borrow, default)]
    rkey: Option<&'a str>,
}

/// Runs the Jetstream source until its emitter closes.
pub async fn run(cfg: JetstreamConfig, emit: Emitter, status: StatusHandle) {
    let mut backoff = StreamBackoff::default();
    let mut recent = RecentSet::new(1 << 16);
    let mut cursor = cfg.cursor;
    let name = status.name();
    let mut zstd = match cfg.zstd_dictionary.as_deref() {
        None => None,
        Some(dict) => match zstd::bulk::Decompressor::with_dictionary(dict) {
            Ok(d) => Some(d),
            Err(e) => {
                let why = format!("the zstd dictionary cannot be loaded: {e}");
                tracing::error!(source = %name, "OPERATOR NOTICE: Jetstream stopped: {why}");
                status.stopped(&why);
                return;
            }
        },
    };
    loop {
        let from = cursor.map(|c| c - cfg.rewind.as_micros() as i64);
        let url = subscribe_url(&cfg, from);
        let ws_cfg = WebSocketConfig::default()
            .max_message_size(Some(cfg.max_line_bytes.saturating_mul(4).max(1 << 20)))
            .max_frame_size(Some(cfg.max_line_bytes.saturating_mul(4).max(1 << 20)));
        let connected = tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(ws_cfg), true),
        )
        .await;
        let ws = match connected {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                let why = format!("connecting: {}", error_chain(&e));
                let delay = backoff.failed();
                tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "Jetstream: {why}");
                status.failed(&why);
                tokio::time::sleep(delay).await;
                continue;
            }
            Err(_) => {
                let delay = backoff.failed();
                tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "Jetstream: connecting timed out");
                status.failed("connecting: timed out");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        status.connected();
        tracing::info!(source = %name, cursor = ?from, "Jetstream connected");
        let up = Instant::now();
        let why = match read(
            ws,
            &cfg,
            &emit,
            &status,
            &mut recent,
            &mut cursor,
            &mut zstd,
        )
        .await
        {
            Err(Closed) => return,
            Ok(why) => why,
        };
        let delay = backoff.dropped(up.elapsed());
        tracing::warn!(source = %name, delay_ms = delay.as_millis() as u64, "Jetstream connection ended: {why}");
        status.failed(&why);
        tokio::time::sleep(delay).await;
    }
}

async fn read<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    cfg: &JetstreamConfig,
    emit: &Emitter,
    status: &StatusHandle,
    recent: &mut RecentSet,
    cursor: &mut Option<i64>,
    zstd: &mut Option<zstd::bulk::Decompressor<'static>>,
) -> Result<String, Closed>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = match tokio::time::timeout(cfg.stall_timeout, ws.next()).await {
            Err(_) => {
                return Ok(format!(
                    "stalled: no frame for {} s",
                    cfg.stall_timeout.as_secs()
                ))
            }
            Ok(None) => return Ok("closed by the server".into()),
            Ok(Some(Err(e))) => return Ok(format!("read error: {}", error_chain(&e))),
            Ok(Some(Ok(m))) => m,
        };
        status.activity();
        let bytes: Vec<u8> = match msg {
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Binary(b) => match zstd.as_mut() {
                None => b.to_vec(),
                Some(z) => match decompress(z, &b, cfg.max_line_bytes) {
                    Ok(v) => v,
                    Err(Some(len)) => {
                        status.update(|s| s.oversized += 1);
                        emit.oversized(len).await?;
                        continue;
                    }
                    Err(None) => {
                        status.update(|s| s.malformed += 1);
                        tracing::warn!(source = %status.name(), bytes = b.len(), "a compressed frame could not be decompressed, skipped");
                        continue;
                    }
                },
            },
            Message::Close(frame) => {
                return Ok(format!(
                    "closed by the server{}",
                    frame
                        .map(|f| format!(": {} {}", f.code, f.reason))
                        .unwrap_or_default()
                ))
            }
            Message::Ping(_) => {
                // Send the queued pong now rather than on the next read.
                let _ = ws.flush().await;
                continue;
            }
            _ => continue,
        };
        if bytes.len() > cfg.max_line_bytes {
            status.update(|s| s.oversized += 1);
            emit.oversized(bytes.len()).await?;
            continue;
        }
        let head: Option<Head> = serde_json::from_slice(&bytes).ok();
        match &head {
            None => status.update(|s| s.malformed += 1),
            Some(h) => {
                let c = h.commit.as_ref();
                let key = (
                    h.did,
                    h.kind.unwrap_or(""),
                    c.and_then(|c| c.collection).unwrap_or(""),
                    c.and_then(|c| c.rkey).unwrap_or(""),
                    c.and_then(|c| c.rev).unwrap_or(""),
                    c.and_then(|c| c.operation).unwrap_or(""),
                    if c.is_none() { h.time_us } else { 0 },
                );
                if !recent.insert(&key) {
                    status.update(|s| s.duplicates += 1);
                    continue;
                }
                *cursor = Some(cursor.map_or(h.time_us, |old| old.max(h.time_us)));
                let is_post = c.is_some_and(|c| matches!(c.operation, Some("create" | "update")));
                let lag = now_ms() - h.time_us / 1000;
                status.update(|s| {
                    s.lag_ms = Some(lag);
                    if is_post {
                        s.posts += 1;
                    }
                });
            }
        }
        status.update(|s| s.lines += 1);
        emit.line(bytes).await?;
    }
}

/// Decompresses one frame into at most `max` bytes; `Err(Some(len))` when it is larger,
/// `Err(None)` when it is not a zstd frame of this dictionary.
fn decompress(
    z: &mut zstd::bulk::Decompressor<'static>,
    frame: &[u8],
    max: usize,
) -> Result<Vec<u8>, Option<usize>> {
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n > max as u64 => return Err(Some(n as usize)),
        Err(_) => return Err(None),
        _ => {}
    }
    z.decompress(frame, max).map_err(|_| None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_asks_for_posts_watched_dids_size_cap_and_cursor() {
        let mut cfg = JetstreamConfig::new("ws://h/subscribe");
        cfg.wanted_dids = vec!["did:plc:abc".into(), "did:web:x.example".into()];
        cfg.max_line_bytes = 1000;
        assert_eq!(
            subscribe_url(&cfg, Some(1_700_000_000_000_000)),
            "ws://h/subscribe?wantedCollections=app.bsky.feed.post&wantedDids=did:plc:abc\
             &wantedDids=did:web:x.example&maxMessageSizeBytes=1000&cursor=1700000000000000"
        );
    }
}
