//! Email over SMTP with lettre, and the MIME message that `.eml` files share.
//!
//! One pooled `AsyncSmtpTransport` per sink reuses its connection between messages (a burst of
//! alerts does not pay a TLS handshake each), driven by the sink's own current-thread tokio
//! runtime, so the delivery worker stays a plain thread. STARTTLS (`smtp://`) or implicit TLS
//! (`smtps://`), a private CA from `ca_file` besides the system's roots, and AUTH PLAIN, LOGIN
//! or XOAUTH2 (the secret is then an OAuth 2 access token).

use super::DeliveryError;
use crate::config::{EmailConfig, SmtpAuth, TlsMode};
use crate::render::{self, Message, RenderOptions};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// The SMTP sink's state: the pooled transport, its runtime and the addresses.
pub struct EmailSink {
    /// Always `Some` until dropped: taken in `drop` so the pool closes inside its runtime.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    runtime: tokio::runtime::Runtime,
    /// A bound on one whole send, beyond lettre's per-command timeouts: a server that stops
    /// answering mid-session must not hold the worker forever.
    deadline: Duration,
    from: String,
    to: Vec<String>,
}

impl EmailSink {
    /// Builds the transport (no connection is made until the first message).
    pub fn new(e: &EmailConfig, timeout: Duration) -> anyhow::Result<EmailSink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // The pool spawns its housekeeping on the runtime it is built in.
        let transport = {
            let _guard = runtime.enter();
            smtp_transport(e, timeout)?
        };
        Ok(EmailSink {
            transport: Some(transport),
            runtime,
            deadline: timeout * 4,
            from: e.from.clone(),
            to: e.to.clone(),
        })
    }

    /// Sends one message.
    pub fn send(&mut self, m: &Message, opts: &RenderOptions) -> Result<(), DeliveryError> {
        let msg = build_message(m, opts, &self.from, &self.to).map_err(DeliveryError::Permanent)?;
        self.send_mime(msg)
    }

    /// Sends a ready-made MIME message (the summary email) over the same transport.
    pub fn send_mime(&mut self, msg: lettre::Message) -> Result<(), DeliveryError> {
        let transport = self.transport.as_ref().expect("present until drop");
        match self
            .runtime
            .block_on(async { tokio::time::timeout(self.deadline, transport.send(msg)).await })
        {
            Ok(result) => result.map(|_| ()).map_err(classify_smtp),
            Err(_) => Err(DeliveryError::Transient(format!(
                "the SMTP session took over {} s",
                self.deadline.as_secs()
            ))),
        }
    }
}

impl Drop for EmailSink {
    fn drop(&mut self) {
        // The pool spawns a task to close its connections when dropped: give it a runtime.
        let _guard = self.runtime.enter();
        drop(self.transport.take());
    }
}

/// The `X-Streamer-Alert-Id` header: the alert id, for filters and idempotency checks.
#[derive(Clone)]
struct AlertIdHeader(String);

impl Header for AlertIdHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Streamer-Alert-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AlertIdHeader(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `X-Streamer-Kind`: alert, digest or notice, for mail filters.
#[derive(Clone)]
struct KindHeader(String);

impl Header for KindHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Streamer-Kind")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(KindHeader(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Builds the MIME message (multipart/alternative, text and HTML) of any message.
pub fn build_message(
    m: &Message,
    opts: &RenderOptions,
    from: &str,
    to: &[String],
) -> Result<lettre::Message, String> {
    let r = render::render_message(m, opts);
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("from address {from:?}: {e}"))?;
    let kind = match m {
        Message::Alert(_) => "alert",
        Message::Digest(_) => "digest",
        Message::Notice(_) => "notice",
    };
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(r.subject)
        .message_id(Some(r.message_id))
        .in_reply_to(r.thread_root.clone())
        .references(r.thread_root)
        .header(KindHeader(kind.into()));
    if let Message::Alert(d) = m {
        b = b.header(AlertIdHeader(d.primary.alert_id.clone()));
    }
    for addr in to {
        b = b.to(addr
            .parse::<Mailbox>()
            .map_err(|e| format!("to address {addr:?}: {e}"))?);
    }
    b.multipart(MultiPart::alternative_plain_html(r.text, r.html))
        .map_err(|e| format!("cannot build message: {e}"))
}

/// The parts of an `smtp_url`: scheme, optional user, host, optional port.
fn parse_smtp_url(url: &str) -> anyhow::Result<(String, Option<String>, String, Option<u16>)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("smtp_url {url:?} needs smtp:// or smtps://"))?;
    let rest = rest.trim_end_matches('/');
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(percent_decode(u)), h.to_string()),
        None => (None, rest.to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("bad port {p:?} in smtp_url"))?,
            ),
        ),
        _ => (hostport.clone(), None),
    };
    if host.is_empty() {
        anyhow::bail!("smtp_url {url:?} has no host");
    }
    Ok((scheme.to_string(), user, host, port))
}

/// `user%40example.org` in a URL's userinfo is `user@example.org`.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn smtp_transport(
    e: &EmailConfig,
    timeout: Duration,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let (scheme, user, host, port) = parse_smtp_url(&e.smtp_url)?;
    let mut tls_builder = TlsParameters::builder(host.clone());
    if let Some(ca) = &e.ca_file {
        let pem =
            std::fs::read(ca).map_err(|err| anyhow::anyhow!("ca_file {}: {err}", ca.display()))?;
        tls_builder = tls_builder.add_root_certificate(
            Certificate::from_pem(&pem)
                .map_err(|err| anyhow::anyhow!("ca_file {}: {err}", ca.display()))?,
        );
    }
    let tls_params = tls_builder.build()?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
    builder = match (scheme.as_str(), e.tls) {
        ("smtps", _) => builder
            .port(port.unwrap_or(465))
            .tls(Tls::Wrapper(tls_params)),
        ("smtp", TlsMode::Required) => builder
            .port(port.unwrap_or(587))
            .tls(Tls::Required(tls_params)),
        ("smtp", TlsMode::Opportunistic) => builder
            .port(port.unwrap_or(587))
            .tls(Tls::Opportunistic(tls_params)),
        ("smtp", TlsMode::None) => builder.port(port.unwrap_or(25)).tls(Tls::None),
        (other, _) => anyhow::bail!("smtp_url scheme {other:?} is not smtp or smtps"),
    };
    if let Some(user) = user {
        let secret = match &e.password {
            Some(secret) => secret.resolve()?,
            None => {
                anyhow::bail!("smtp_url names a user but no password_env or password_file is set")
            }
        };
        builder = builder.credentials(Credentials::new(user, secret));
        builder = builder.authentication(match e.auth {
            Some(SmtpAuth::Plain) => vec![Mechanism::Plain],
            Some(SmtpAuth::Login) => vec![Mechanism::Login],
            Some(SmtpAuth::Xoauth2) => vec![Mechanism::Xoauth2],
            None => vec![Mechanism::Plain, Mechanism::Login],
        });
    } else if e.auth.is_some() {
        anyhow::bail!("`auth` is set but smtp_url names no user (smtp://USER@host:port)");
    }
    Ok(builder
        .timeout(Some(timeout))
        .pool_config(
            PoolConfig::new()
                .max_size(2)
                .idle_timeout(Duration::from_secs(60)),
        )
        .build())
}

/// SMTP 5xx replies are permanent; 4xx replies, timeouts, connection and TLS errors are
/// transient (a server that is down or greylisting will take the message later).
fn classify_smtp(e: lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Permanent(e.to_string())
    } else {
        DeliveryError::Transient(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_parts() {
        let (s, u, h, p) =
            parse_smtp_url("smtps://alerts%40example.org@mail.example.org:465/").unwrap();
        assert_eq!(
            (s.as_str(), u.as_deref(), h.as_str(), p),
            (
                "smtps",
                Some("alerts@example.org"),
                "mail.example.org",
                Some(465)
            )
        );
        let (_, u, h, p) = parse_smtp_url("smtp://127.0.0.1").unwrap();
        assert_eq!((u, h.as_str(), p), (None, "127.0.0.1", None));
        assert!(parse_smtp_url("smtp://host:x").is_err());
        assert!(parse_smtp_url("mail.example.org").is_err());
    }
}
