//! Webhooks: an HTTP POST per message.
//!
//! Presets: `json` posts the alert record of DESIGN.md inside a small envelope (machines read
//! it, so indicators stay refanged as the contract says); `slack` and `teams` post messages
//! that people read, so they carry the defanged, escaped rendering. Every request carries its
//! idempotency key in the body (`id`), in `Idempotency-Key` and, for alerts, in
//! `X-Streamer-Alert-Id`; with a secret, `X-Streamer-Signature: sha256=HEX` is the
//! HMAC-SHA256 of the exact body bytes.
//!
//! HTTP 2xx is delivered; 408, 429 and 5xx are transient; every other status is permanent.
//! Redirects are not followed: a webhook URL that moved is a configuration to fix.

use super::DeliveryError;
use crate::config::{WebhookConfig, WebhookPreset};
use crate::render::{self, Delivery, Message, Notice, RenderOptions};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The webhook sink's state.
pub struct WebhookSink {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    url: String,
    preset: WebhookPreset,
    secret: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl WebhookSink {
    /// Builds the client and reads the signing secret and the secret headers.
    pub fn new(c: &WebhookConfig, timeout: Duration) -> anyhow::Result<WebhookSink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = {
            let _guard = runtime.enter();
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("streamer/", env!("CARGO_PKG_VERSION")))
                .build()?
        };
        let secret = match &c.secret {
            Some(s) => Some(s.resolve()?.into_bytes()),
            None => None,
        };
        let mut headers = c.headers.clone();
        for (name, value) in &c.secret_headers {
            let value = value.resolve()?;
            if value.chars().any(|c| c.is_control()) {
                anyhow::bail!(
                    "the value of header {name} (from the environment) holds a control character"
                );
            }
            headers.push((name.clone(), value));
        }
        Ok(WebhookSink {
            client,
            runtime,
            url: c.url.clone(),
            preset: c.preset,
            secret,
            headers,
        })
    }

    /// Posts one message.
    pub fn send(&mut self, m: &Message, opts: &RenderOptions) -> Result<(), DeliveryError> {
        let body = payload(m, self.preset, opts);
        let bytes =
            serde_json::to_vec(&body).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let key = m.key();
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &key)
            .header("X-Streamer-Kind", kind(m));
        if let Message::Alert(d) = m {
            req = req.header("X-Streamer-Alert-Id", &d.primary.alert_id);
        }
        if let Some(secret) = &self.secret {
            req = req.header("X-Streamer-Signature", sign(secret, &bytes));
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let result = self.runtime.block_on(async {
            let resp = req.body(bytes).send().await?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after_ms(v, std::time::SystemTime::now()));
            let text = resp.text().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, retry_after, text))
        });
        match result {
            Ok((status, _, _)) if status.is_success() => Ok(()),
            Ok((status, retry_after, text)) => {
                let msg = format!(
                    "HTTP {status} from the webhook: {}",
                    render::truncate_chars(&render::one_line(&text), 200)
                );
                let code = status.as_u16();
                match retry_after {
                    Some(ms) if code == 429 || code == 503 => {
                        Err(DeliveryError::RetryAfter(msg, ms))
                    }
                    _ if code == 408 || code == 429 || status.is_server_error() => {
                        Err(DeliveryError::Transient(msg))
                    }
                    _ => Err(DeliveryError::Permanent(msg)),
                }
            }
            // Connection refused, reset, timeout, TLS: the endpoint may come back.
            Err(e) => Err(DeliveryError::Transient(format!(
                "webhook request failed: {}",
                error_chain(&e)
            ))),
        }
    }
}

/// A `Retry-After` value (seconds, or an HTTP date) as milliseconds from `now`; `None` when
/// it is neither, or a date already past.
fn retry_after_ms(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let ms = at.duration_since(now).ok()?.as_millis();
    Some(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Alert(_) => "alert",
        Message::Digest(_) => "digest",
        Message::Notice(_) => "notice",
    }
}

/// `sha256=` and the lower-case hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A notice as JSON (also what the jsonl sink writes for one).
pub fn notice_json(n: &Notice) -> Value {
    json!({
        "notice_id": n.id,
        "kind": n.kind.as_str(),
        "source": n.source,
        "message": n.message,
        "created_at": n.created_at,
        "repeats": n.repeats,
    })
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "alert_id": d.primary.alert_id,
        "count": d.count(),
        "followup": d.followup,
        "merged_alert_ids": d.merged.iter().map(|m| m.alert_id.as_str()).collect::<Vec<_>>(),
        "alert": d.primary,
    })
}

/// The body of a message under a preset.
pub fn payload(m: &Message, preset: WebhookPreset, opts: &RenderOptions) -> Value {
    match preset {
        WebhookPreset::Json => {
            let mut v = match m {
                Message::Alert(d) => {
                    let mut v = delivery_json(d);
                    v["type"] = json!("alert");
                    v
                }
                Message::Digest(g) => json!({
                    "type": "digest",
                    "count": g.count(),
                    "alerts": g.items.iter().map(delivery_json).collect::<Vec<_>>(),
                }),
                Message::Notice(n) => {
                    let mut v = notice_json(n);
                    v["type"] = json!("notice");
                    v
                }
            };
            v["id"] = json!(m.key());
            v
        }
        WebhookPreset::Slack => slack(m, opts),
        WebhookPreset::Teams => teams(m, opts),
    }
}

/// Slack mrkdwn: `&`, `<` and `>` are its only control characters (`<url|text>` makes links).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A people-facing summary of a message: (title, body lines, link).
fn summary(m: &Message, opts: &RenderOptions) -> (String, Vec<String>, Option<String>) {
    match m {
        Message::Alert(d) => {
            let r = &d.primary;
            let text = render::truncate_chars(&render::plain_text(r, opts.defang), 1500);
            let mut lines = vec![text];
            lines.push(format!(
                "Author: {} ({}:{})",
                r.post
                    .author
                    .handle
                    .as_deref()
                    .map(|h| format!("@{}", render::one_line(h)))
                    .unwrap_or_else(|| "-".into()),
                r.post.platform,
                render::one_line(&r.post.author.id)
            ));
            for e in &r.entities {
                lines.push(format!(
                    "Target: {} ({})",
                    e.name.as_deref().map(render::one_line).unwrap_or_default(),
                    render::show_ioc(&e.domain, opts.defang)
                ));
            }
            if d.count() > 1 {
                lines.push(format!("{} posts with identical text", d.count()));
            }
            lines.push(format!("Alert id: {}", r.alert_id));
            let link = r
                .post
                .url
                .as_deref()
                .map(|u| render::show_ioc(u, opts.defang));
            (render::subject(d), lines, link)
        }
        Message::Digest(g) => (
            render::digest_subject(g),
            g.items.iter().map(render::subject).collect(),
            None,
        ),
        Message::Notice(n) => (
            render::notice_subject(n),
            vec![render::multi_line(&n.message)],
            None,
        ),
    }
}

fn slack(m: &Message, opts: &RenderOptions) -> Value {
    let (title, lines, link) = summary(m, opts);
    let mut body = lines
        .iter()
        .map(|l| slack_escape(l))
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(link) = &link {
        body.push_str(&format!("\nPost: {}", slack_escape(link)));
    }
    json!({
        "text": slack_escape(&title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": render::truncate_chars(&title, 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": render::truncate_chars(&body, 2900)}},
            {"type": "context", "elements": [{"type": "plain_text", "text": format!("id {}", m.key())}]}
        ],
    })
}

/// Teams TextBlocks render a Markdown subset: escape what could make links or formatting.
fn teams_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '`' | '<' | '>' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn teams(m: &Message, opts: &RenderOptions) -> Value {
    let (title, lines, link) = summary(m, opts);
    let mut blocks = vec![json!({
        "type": "TextBlock", "text": teams_escape(&title), "weight": "Bolder", "wrap": true
    })];
    for l in &lines {
        blocks.push(json!({"type": "TextBlock", "text": teams_escape(l), "wrap": true}));
    }
    if let Some(link) = &link {
        blocks.push(json!({"type": "TextBlock", "text": format!("Post: {}", teams_escape(link)), "wrap": true}));
    }
    json!({
        "type": "message",
        "summary": title,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": blocks,
                "msteams": {"width": "Full"},
            }
        }],
        "streamer_id": m.key(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac_sha256_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_and_teams_escape_link_syntax() {
        assert_eq!(
            slack_escape("<http://x|click> & co"),
            "&lt;http://x|click&gt; &amp; co"
        );
        assert_eq!(teams_escape("[a](b)"), "\\[a\\]\\(b\\)");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_future_http_date() {
        use std::time::{Duration, SystemTime};
        // 2015-10-21 07:28:00 GMT
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after_ms("7", now), Some(7_000));
        assert_eq!(retry_after_ms(" 0 ", now), Some(0));
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), None);
        assert_eq!(retry_after_ms("soon", now), None);
        assert_eq!(retry_after_ms("-3", now), None);
    }
}
