//! Alert sinks: where the outbox delivers.
//!
//! A sink takes one [`Delivery`] and says whether it arrived, failed for now (retry later) or
//! failed for good. Sinks are an enum, not trait objects: the set is closed and each variant's
//! state (an open file, an SMTP pool) lives beside its config.

use crate::alert::AlertRecord;
use crate::config::{EmailConfig, SinkConfig, SinkKind, TlsMode};
use crate::render::{self, Delivery, RenderOptions};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::io::Write;
use std::path::PathBuf;

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: a timeout, a 4xx SMTP reply, an I/O error.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help: a 5xx SMTP reply, an invalid address.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A configured sink with its runtime state.
pub struct Sink {
    pub config: SinkConfig,
    render: RenderOptions,
    state: SinkState,
}

enum SinkState {
    Terminal,
    Jsonl {
        file: Option<std::fs::File>,
    },
    Eml,
    Email {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        runtime: tokio::runtime::Runtime,
    },
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

impl Sink {
    /// Builds a sink; fails when its settings cannot work (an unreadable CA file, a bad URL).
    pub fn new(config: SinkConfig, render: RenderOptions) -> anyhow::Result<Sink> {
        let state = match &config.kind {
            SinkKind::Terminal => SinkState::Terminal,
            SinkKind::Jsonl { .. } => SinkState::Jsonl { file: None },
            SinkKind::Eml { .. } => SinkState::Eml,
            SinkKind::Email(e) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let transport = Box::new(smtp_transport(e)?);
                SinkState::Email { transport, runtime }
            }
        };
        Ok(Sink {
            config,
            render,
            state,
        })
    }

    /// The sink's name: its key in the outbox.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Delivers one message.
    pub fn deliver(&mut self, d: &Delivery) -> Result<(), DeliveryError> {
        match (&mut self.state, &self.config.kind) {
            (SinkState::Terminal, _) => {
                crate::progress::print_above(&render::terminal_block(d, &self.render));
                Ok(())
            }
            (SinkState::Jsonl { file }, SinkKind::Jsonl { path }) => {
                write_jsonl(file, path, &d.primary)
            }
            (SinkState::Eml, SinkKind::Eml { dir, from, to }) => {
                let msg =
                    build_message(d, &self.render, from, to).map_err(DeliveryError::Permanent)?;
                write_eml(dir, &d.primary.alert_id, d.followup, &msg.formatted())
            }
            (SinkState::Email { transport, runtime }, SinkKind::Email(e)) => {
                let msg = build_message(d, &self.render, &e.from, &e.to)
                    .map_err(DeliveryError::Permanent)?;
                runtime
                    .block_on(transport.send(msg))
                    .map(|_| ())
                    .map_err(classify_smtp)
            }
            _ => Err(DeliveryError::Permanent(
                "sink state does not match its kind".into(),
            )),
        }
    }
}

fn write_jsonl(
    file: &mut Option<std::fs::File>,
    path: &PathBuf,
    record: &AlertRecord,
) -> Result<(), DeliveryError> {
    if file.is_none() {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DeliveryError::Transient(format!("{}: {e}", dir.display())))?;
            }
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| DeliveryError::Transient(format!("{}: {e}", path.display())))?;
        *file = Some(f);
    }
    let mut line =
        serde_json::to_vec(record).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
    line.push(b'\n');
    let f = file.as_mut().expect("opened above");
    // One write call per line: an append-mode write of a whole line is never interleaved.
    if let Err(e) = f.write_all(&line).and_then(|_| f.flush()) {
        *file = None;
        return Err(DeliveryError::Transient(format!("{}: {e}", path.display())));
    }
    Ok(())
}

fn write_eml(
    dir: &PathBuf,
    alert_id: &str,
    followup: bool,
    bytes: &[u8],
) -> Result<(), DeliveryError> {
    let io = |e: std::io::Error| DeliveryError::Transient(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = format!("{alert_id}{}.eml", if followup { ".followup" } else { "" });
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io)?;
    // Rename makes the file appear whole, and a re-delivery replaces it with the same content.
    std::fs::rename(&tmp, dir.join(name)).map_err(io)?;
    Ok(())
}

/// Builds the MIME message (multipart/alternative, text and HTML) of a delivery.
pub fn build_message(
    d: &Delivery,
    opts: &RenderOptions,
    from: &str,
    to: &[String],
) -> Result<Message, String> {
    let r = render::render_email(d, opts);
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("from address {from:?}: {e}"))?;
    let mut b = Message::builder()
        .from(from)
        .subject(r.subject)
        .message_id(Some(r.message_id))
        .in_reply_to(r.thread_root.clone())
        .references(r.thread_root)
        .header(AlertIdHeader(d.primary.alert_id.clone()));
    for addr in to {
        b = b.to(addr
            .parse::<Mailbox>()
            .map_err(|e| format!("to address {addr:?}: {e}"))?);
    }
    b.multipart(MultiPart::alternative_plain_html(r.text, r.html))
        .map_err(|e| format!("cannot build message: {e}"))
}

fn smtp_transport(e: &EmailConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let url = &e.smtp_url;
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("smtp_url {url:?} needs smtp:// or smtps://"))?;
    let (user, hostport) = match rest.trim_end_matches('/').rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, rest.trim_end_matches('/').to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("bad port in smtp_url"))?,
            ),
        ),
        None => (hostport.clone(), None),
    };
    let mut tls_builder = TlsParameters::builder(host.clone());
    if let Some(ca) = &e.ca_file {
        let pem =
            std::fs::read(ca).map_err(|err| anyhow::anyhow!("ca_file {}: {err}", ca.display()))?;
        tls_builder = tls_builder.add_root_certificate(Certificate::from_pem(&pem)?);
    }
    let tls_params = tls_builder.build()?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
    builder = match (scheme, e.tls) {
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
        let password = match &e.password {
            Some(secret) => secret.resolve()?,
            None => {
                anyhow::bail!("smtp_url names a user but no password_env or password_file is set")
            }
        };
        builder = builder.credentials(Credentials::new(user, password));
    }
    Ok(builder
        .timeout(Some(std::time::Duration::from_secs(30)))
        .build())
}

fn classify_smtp(e: lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Permanent(e.to_string())
    } else {
        DeliveryError::Transient(e.to_string())
    }
}
