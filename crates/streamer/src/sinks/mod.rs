//! Alert sinks: where the outbox delivers.
//!
//! A sink takes one [`Message`] (an alert, a digest or an operator notice) and says whether it
//! arrived, failed for now (retry later) or failed for good. Sinks are an enum, not trait
//! objects: the set is closed and each variant's state (an open file, an SMTP pool, an HTTP
//! client, a syslog connection) lives beside its config.
//!
//! Layout: [`email`] (SMTP with lettre, and the MIME message shared with `.eml` files),
//! [`webhook`] (JSON, Slack, Teams; HMAC signatures), [`syslog`] (RFC 5424 and CEF over UDP,
//! TCP or TLS). Terminal, JSON lines and `.eml` are small enough to live here.

pub mod email;
pub mod syslog;
pub mod webhook;

use crate::alert::AlertRecord;
use crate::config::{SinkConfig, SinkKind};
use crate::render::{self, Message, RenderOptions};
use std::io::Write;
use std::path::PathBuf;

pub use email::build_message;

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: a timeout, a 4xx SMTP reply, HTTP 5xx/408/429, an I/O error.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help: a 5xx SMTP reply, another HTTP 4xx, an invalid address.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Worth retrying, and the receiver said not before this many milliseconds (an HTTP 429
    /// or 503 with `Retry-After`): retrying sooner only earns another refusal.
    #[error("transient: {0} (retry after {1} ms)")]
    RetryAfter(String, u64),
}

/// A configured sink with its runtime state.
pub struct Sink {
    pub config: SinkConfig,
    render: RenderOptions,
    state: SinkState,
}

enum SinkState {
    Terminal,
    Jsonl { file: Option<std::fs::File> },
    Eml,
    Email(Box<email::EmailSink>),
    Webhook(Box<webhook::WebhookSink>),
    Syslog(Box<syslog::SyslogSink>),
}

impl Sink {
    /// Builds a sink; fails when its settings cannot work (an unreadable CA file, a bad URL,
    /// a missing secret).
    pub fn new(config: SinkConfig, mut render: RenderOptions) -> anyhow::Result<Sink> {
        if let Some(defang) = config.defang {
            render.defang = defang;
        }
        let timeout = std::time::Duration::from_millis(config.delivery.timeout_ms);
        let state = match &config.kind {
            SinkKind::Terminal => SinkState::Terminal,
            SinkKind::Jsonl { .. } => SinkState::Jsonl { file: None },
            SinkKind::Eml { .. } => SinkState::Eml,
            SinkKind::Email(e) => SinkState::Email(Box::new(email::EmailSink::new(e, timeout)?)),
            SinkKind::Webhook(w) => {
                SinkState::Webhook(Box::new(webhook::WebhookSink::new(w, timeout)?))
            }
            SinkKind::Syslog(s) => {
                SinkState::Syslog(Box::new(syslog::SyslogSink::new(s, timeout)?))
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
    pub fn deliver(&mut self, m: &Message) -> Result<(), DeliveryError> {
        match (&mut self.state, &self.config.kind) {
            (SinkState::Terminal, _) => {
                crate::progress::print_above(&render::terminal_message(m, &self.render));
                Ok(())
            }
            (SinkState::Jsonl { file }, SinkKind::Jsonl { path }) => match m {
                Message::Alert(d) => write_jsonl(file, path, &d.primary),
                // The jsonl sink writes every alert as it happens; a digest or notice routed
                // here (by `digest_minutes` or `notices = true`) writes its alerts or itself.
                Message::Digest(g) => {
                    for d in &g.items {
                        write_jsonl(file, path, &d.primary)?;
                    }
                    Ok(())
                }
                Message::Notice(n) => write_line(
                    file,
                    path,
                    &serde_json::json!({"notice": webhook::notice_json(n)}),
                ),
            },
            (SinkState::Eml, SinkKind::Eml { dir, from, to }) => {
                let msg =
                    build_message(m, &self.render, from, to).map_err(DeliveryError::Permanent)?;
                write_eml(dir, &m.key(), &msg.formatted())
            }
            (SinkState::Email(s), SinkKind::Email(_)) => s.send(m, &self.render),
            (SinkState::Webhook(s), SinkKind::Webhook(_)) => s.send(m, &self.render),
            (SinkState::Syslog(s), SinkKind::Syslog(_)) => s.send(m, &self.render),
            _ => Err(DeliveryError::Permanent(
                "sink state does not match its kind".into(),
            )),
        }
    }
}

impl Sink {
    /// Sends a ready-made MIME message (the summary email, `summary.rs`) through an email or
    /// `.eml` sink; `key` names the `.eml` file. Other sinks refuse it.
    pub fn send_mime(&mut self, key: &str, msg: lettre::Message) -> Result<(), DeliveryError> {
        match (&mut self.state, &self.config.kind) {
            (SinkState::Eml, SinkKind::Eml { dir, .. }) => write_eml(dir, key, &msg.formatted()),
            (SinkState::Email(s), SinkKind::Email(_)) => s.send_mime(msg),
            _ => Err(DeliveryError::Permanent(
                "only email and .eml sinks take a ready-made message".into(),
            )),
        }
    }
}

fn write_jsonl(
    file: &mut Option<std::fs::File>,
    path: &PathBuf,
    record: &AlertRecord,
) -> Result<(), DeliveryError> {
    write_line(file, path, record)
}

fn write_line(
    file: &mut Option<std::fs::File>,
    path: &PathBuf,
    value: &impl serde::Serialize,
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
        serde_json::to_vec(value).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
    line.push(b'\n');
    let f = file.as_mut().expect("opened above");
    // One write call per line: an append-mode write of a whole line is never interleaved.
    if let Err(e) = f.write_all(&line).and_then(|_| f.flush()) {
        *file = None;
        return Err(DeliveryError::Transient(format!("{}: {e}", path.display())));
    }
    Ok(())
}

fn write_eml(dir: &PathBuf, key: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    let io = |e: std::io::Error| DeliveryError::Transient(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    // Keys are hex, dots, dashes and digits: safe as file names.
    let name = format!("{key}.eml");
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io)?;
    // Rename makes the file appear whole, and a re-delivery replaces it with the same content.
    std::fs::rename(&tmp, dir.join(name)).map_err(io)?;
    Ok(())
}
