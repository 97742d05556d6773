//! Syslog for SIEMs: RFC 5424 messages, plain or carrying an ArcSight CEF event, over UDP
//! (RFC 5426, one datagram each), TCP (RFC 6587 octet counting) or TLS (RFC 5425).
//!
//! Every message names its idempotency key in the structured data (`id=`) and, in CEF, in
//! `externalId`. Post-derived text is escaped for its place (structured-data values, CEF
//! header and extension fields), reduced to one line, and defanged unless the sink's
//! `defang = false` asks for live indicators.

use super::DeliveryError;
use crate::config::{SyslogConfig, SyslogFormat, SyslogTransport};
use crate::render::{self, Message, RenderOptions};
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;
use streamer_model::Severity;

/// The largest datagram sent over UDP (RFC 5426 says receivers should take 2048 octets).
const UDP_MAX: usize = 2048;
/// The largest frame sent over TCP or TLS.
const STREAM_MAX: usize = 64 * 1024;

enum Conn {
    None,
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// The syslog sink's state: its settings and the open stream, if any.
pub struct SyslogSink {
    config: SyslogConfig,
    timeout: Duration,
    hostname: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Conn,
}

impl SyslogSink {
    /// Reads the CA file for TLS; connects lazily.
    pub fn new(c: &SyslogConfig, timeout: Duration) -> anyhow::Result<SyslogSink> {
        let tls = match c.transport {
            SyslogTransport::Tls => Some(Arc::new(tls_config(c)?)),
            _ => None,
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| (33..=126).contains(&b)))
            .unwrap_or_else(|| "-".into());
        Ok(SyslogSink {
            config: c.clone(),
            timeout,
            hostname,
            tls,
            conn: Conn::None,
        })
    }

    /// Sends one message (a digest is one syslog message per alert: SIEMs correlate records).
    pub fn send(&mut self, m: &Message, opts: &RenderOptions) -> Result<(), DeliveryError> {
        let lines: Vec<String> = match m {
            Message::Digest(g) => g
                .items
                .iter()
                .map(|d| self.format(&Message::Alert(d.clone()), opts))
                .collect(),
            _ => vec![self.format(m, opts)],
        };
        for line in lines {
            self.send_line(line)?;
        }
        Ok(())
    }

    fn send_line(&mut self, line: String) -> Result<(), DeliveryError> {
        match self.config.transport {
            SyslogTransport::Udp => {
                let bytes = truncate_bytes(&line, UDP_MAX);
                let sock = UdpSocket::bind(if self.addr_is_v6() {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })
                .map_err(|e| DeliveryError::Transient(format!("syslog UDP socket: {e}")))?;
                sock.send_to(bytes.as_bytes(), &self.config.address)
                    .map_err(|e| {
                        DeliveryError::Transient(format!("syslog to {}: {e}", self.config.address))
                    })?;
                Ok(())
            }
            SyslogTransport::Tcp | SyslogTransport::Tls => {
                let msg = truncate_bytes(&line, STREAM_MAX);
                let frame = format!("{} {}", msg.len(), msg);
                // One reconnect: a collector that closed an idle connection is normal.
                for attempt in 0..2 {
                    if matches!(self.conn, Conn::None) {
                        self.connect()?;
                    }
                    let result = match &mut self.conn {
                        Conn::Tcp(s) => s.write_all(frame.as_bytes()).and_then(|_| s.flush()),
                        Conn::Tls(s) => s.write_all(frame.as_bytes()).and_then(|_| s.flush()),
                        Conn::None => unreachable!("connected above"),
                    };
                    match result {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            self.conn = Conn::None;
                            if attempt == 1 {
                                return Err(DeliveryError::Transient(format!(
                                    "syslog to {}: {e}",
                                    self.config.address
                                )));
                            }
                        }
                    }
                }
                unreachable!("the loop returns")
            }
        }
    }

    fn addr_is_v6(&self) -> bool {
        self.config
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.is_ipv6())
            .unwrap_or(false)
    }

    fn connect(&mut self) -> Result<(), DeliveryError> {
        let transient = |e: std::io::Error| {
            DeliveryError::Transient(format!("syslog connect to {}: {e}", self.config.address))
        };
        let addr = self
            .config
            .address
            .to_socket_addrs()
            .map_err(transient)?
            .next()
            .ok_or_else(|| {
                DeliveryError::Transient(format!("{} resolves to nothing", self.config.address))
            })?;
        let tcp = TcpStream::connect_timeout(&addr, self.timeout).map_err(transient)?;
        tcp.set_write_timeout(Some(self.timeout))
            .map_err(transient)?;
        tcp.set_read_timeout(Some(self.timeout))
            .map_err(transient)?;
        let _ = tcp.set_nodelay(true);
        self.conn = match &self.tls {
            None => Conn::Tcp(tcp),
            Some(cfg) => {
                let host = host_part(&self.config.address);
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        DeliveryError::Permanent(format!("syslog TLS server name {host:?}: {e}"))
                    })?;
                let conn = rustls::ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| DeliveryError::Transient(format!("syslog TLS: {e}")))?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                // Finish the handshake now so that a bad certificate is reported as such.
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock).map_err(|e| {
                        DeliveryError::Transient(format!(
                            "syslog TLS handshake with {}: {e}",
                            self.config.address
                        ))
                    })?;
                }
                Conn::Tls(Box::new(s))
            }
        };
        Ok(())
    }

    /// One RFC 5424 line for a message.
    pub fn format(&self, m: &Message, opts: &RenderOptions) -> String {
        let c = &self.config;
        let pri = FACILITY_LOCAL0 * 8 + syslog_severity(m.severity());
        let ts = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
        let msgid = match m {
            Message::Alert(_) => "ALERT",
            Message::Digest(_) => "DIGEST",
            Message::Notice(_) => "NOTICE",
        };
        let mut sd = vec![("id", m.key())];
        match m {
            Message::Alert(d) => {
                let r = &d.primary;
                sd.push(("alert_id", r.alert_id.clone()));
                sd.push(("severity", r.severity().as_str().to_string()));
                sd.push(("rules", r.rule_ids().join(",")));
                sd.push(("platform", r.post.platform.as_str().to_string()));
                sd.push(("post_id", r.post.id.clone()));
                sd.push(("author_id", r.post.author.id.clone()));
                sd.push(("count", d.count().to_string()));
            }
            Message::Notice(n) => {
                sd.push(("kind", n.kind.as_str().to_string()));
                if let Some(s) = &n.source {
                    sd.push(("source", s.clone()));
                }
            }
            Message::Digest(g) => sd.push(("count", g.count().to_string())),
        }
        let sd = format!(
            "[streamer@{PEN}{}]",
            sd.iter()
                .map(|(k, v)| format!(" {k}=\"{}\"", sd_escape(&render::one_line(v))))
                .collect::<String>()
        );
        let msg = match c.format {
            SyslogFormat::Rfc5424 => match m {
                Message::Alert(d) => format!(
                    "{}: {}",
                    render::headline(d),
                    render::truncate_chars(
                        &render::one_line(&render::plain_text(&d.primary, opts.defang)),
                        1000
                    )
                ),
                Message::Digest(g) => render::digest_subject(g),
                Message::Notice(n) => render::notice_subject(n),
            },
            SyslogFormat::Cef => cef(m, opts),
        };
        format!(
            "<{pri}>1 {ts} {} {} {} {msgid} {sd} {}",
            self.hostname,
            c.app_name,
            std::process::id(),
            render::one_line(&msg)
        )
    }
}

/// Syslog facility local0: the site's own use, which SIEM collectors route by.
const FACILITY_LOCAL0: u8 = 16;
/// The private enterprise number in structured-data ids (32473 is reserved for examples and
/// documentation by RFC 5612; a deployment with its own PEN can filter on the name).
const PEN: u32 = 32473;

fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    }
}

/// Structured-data values escape `"`, `\` and `]` (RFC 5424 §6.3.3).
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// CEF header fields escape `|` and `\`.
fn cef_header(s: &str) -> String {
    render::one_line(s)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
}

/// CEF extension values escape `\` and `=`; line breaks were removed by `one_line`.
fn cef_value(s: &str) -> String {
    render::one_line(s)
        .replace('\\', "\\\\")
        .replace('=', "\\=")
}

fn cef(m: &Message, opts: &RenderOptions) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let (class, name, sev, ext) = match m {
        Message::Alert(d) => {
            let r = &d.primary;
            let iocs = &r.iocs;
            let show = |v: &[String]| {
                v.iter()
                    .map(|s| render::show_ioc(s, opts.defang))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut ext: Vec<(&str, String)> = vec![
                ("externalId", r.alert_id.clone()),
                ("rt", jiff::Timestamp::now().as_millisecond().to_string()),
                (
                    "msg",
                    render::truncate_chars(&render::plain_text(r, opts.defang), 1000),
                ),
                ("suser", r.post.author.handle.clone().unwrap_or_default()),
                ("suid", format!("{}:{}", r.post.platform, r.post.author.id)),
                ("cs1Label", "platform".into()),
                ("cs1", r.post.platform.as_str().into()),
                ("cs2Label", "rules".into()),
                ("cs2", r.rule_ids().join(",")),
                ("cs3Label", "tags".into()),
                (
                    "cs3",
                    r.rules
                        .iter()
                        .flat_map(|h| h.tags.iter().cloned())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                ("cs4Label", "iocDomains".into()),
                ("cs4", show(&iocs.domains)),
                ("cs5Label", "iocUrls".into()),
                ("cs5", show(&iocs.urls)),
                ("cs6Label", "iocHashes".into()),
                (
                    "cs6",
                    iocs.md5
                        .iter()
                        .chain(&iocs.sha1)
                        .chain(&iocs.sha256)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                ("cn1Label", "identicalPosts".into()),
                ("cn1", d.count().to_string()),
            ];
            if let Some(u) = &r.post.url {
                ext.push(("request", render::show_ioc(u, opts.defang)));
            }
            if let Some(ip) = iocs.ipv4.first() {
                ext.push(("dst", ip.clone()));
            }
            if let Some(e) = r.entities.first() {
                ext.push(("dhost", render::show_ioc(&e.domain, opts.defang)));
                ext.push(("cs7Label", "entity".into()));
                ext.push(("cs7", e.name.clone().unwrap_or_default()));
            }
            let class = r.rules.first().map(|h| h.id.clone()).unwrap_or_default();
            (class, render::subject(d), cef_severity(r.severity()), ext)
        }
        Message::Notice(n) => (
            format!("notice:{}", n.kind.as_str()),
            render::notice_subject(n),
            cef_severity(n.kind.severity()),
            vec![
                ("externalId", m.key()),
                ("msg", n.message.clone()),
                ("cs1Label", "source".into()),
                ("cs1", n.source.clone().unwrap_or_default()),
            ],
        ),
        Message::Digest(g) => (
            "digest".into(),
            render::digest_subject(g),
            cef_severity(m.severity()),
            vec![("externalId", m.key())],
        ),
    };
    format!(
        "CEF:0|Streamer|Streamer|{version}|{}|{}|{sev}|{}",
        cef_header(&class),
        cef_header(&render::truncate_chars(&name, 512)),
        ext.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", cef_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn host_part(address: &str) -> &str {
    let host = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(address);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn tls_config(c: &SyslogConfig) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match &c.ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| anyhow::anyhow!("ca_file {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| anyhow::anyhow!("ca_file {}: {e}", path.display()))?;
                roots.add(cert)?;
            }
            if roots.is_empty() {
                anyhow::bail!("ca_file {} holds no certificate", path.display());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_structured_data_and_cef() {
        assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(cef_header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(cef_value("k=v\r\nx"), "k\\=v x");
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        assert_eq!(truncate_bytes("ééé", 3), "é");
    }
}
