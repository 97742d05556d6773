//! Webhooks against a local HTTP server (signature checked, statuses classified, Slack and
//! Teams presets) and syslog against local UDP, TCP and TLS listeners (RFC 5424 and CEF).

mod support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamer::alert::AlertRecord;
use streamer::config::Config;
use streamer::render::{Delivery, Message, Notice, NoticeKind};
use streamer::sinks::DeliveryError;
use streamer_model::{AtomMatch, Iocs, Platform, Post, RuleHit, Severity};

fn record() -> AlertRecord {
    let mut post = Post::new(Platform::X, "1862000000000000042", "1500000000000000099");
    post.text = "LockBit <b>claims</b> Austin | leak at https://evil.example.com/x\r\nnow".into();
    post.url = Some("https://x.com/i/status/1862000000000000042".into());
    post.author.handle = Some("brigade]\"=|".into());
    AlertRecord {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        created_at: "2026-11-30T14:02:12Z".into(),
        rules: vec![RuleHit {
            id: "ransom-local-gov".into(),
            severity: Severity::Critical,
            tags: vec!["ransomware".into()],
            matched: vec![AtomMatch {
                kind: "keyword".into(),
                value: "lockbit".into(),
                span: Some([0, 7]),
            }],
        }],
        post,
        iocs: Iocs {
            urls: vec!["https://evil.example.com/x".into()],
            domains: vec!["evil.example.com".into()],
            ..Iocs::default()
        },
        entities: vec![],
    }
}

fn alert() -> Message {
    Message::Alert(Delivery {
        primary: record(),
        merged: vec![],
        followup: false,
    })
}

fn webhook_config(port: u16, extra: &str) -> Config {
    std::env::set_var("DELIVERY_TEST_WEBHOOK_SECRET", "hook-secret");
    Config::from_str(
        &format!(
            "[[sinks]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout_secs = 5\n{extra}\n"
        ),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn send(config: &Config, m: &Message) -> Result<(), DeliveryError> {
    streamer::build_sinks(config).unwrap()[0].deliver(m)
}

#[test]
fn webhook_posts_the_alert_record_signed_with_its_idempotency_key() {
    let (port, seen) = support::http_server(vec![]);
    let config = webhook_config(
        port,
        "secret_env = \"DELIVERY_TEST_WEBHOOK_SECRET\"\nheaders = { \"X-Api-Key\" = \"k1\" }",
    );
    send(&config, &alert()).unwrap();
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-api-key"), Some("k1"));
    assert_eq!(
        r.header("idempotency-key"),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        r.header("x-streamer-alert-id"),
        Some("0123456789abcdef0123456789abcdef")
    );
    // The receiver recomputes the HMAC over the exact body bytes.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.header("x-streamer-signature"),
        Some(format!("sha256={expected}").as_str())
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["type"], "alert");
    assert_eq!(v["id"], "0123456789abcdef0123456789abcdef");
    let back: AlertRecord = serde_json::from_value(v["alert"].clone()).unwrap();
    assert_eq!(
        back,
        record(),
        "the alert record round-trips (machines get it whole)"
    );
}

#[test]
fn webhook_statuses_are_classified() {
    let (port, seen) = support::http_server(vec![503, 429, 408, 400, 404, 302, 200]);
    let config = webhook_config(port, "");
    let kinds: Vec<&str> = (0..7)
        .map(|_| match send(&config, &alert()) {
            Ok(()) => "ok",
            Err(DeliveryError::Transient(_)) => "transient",
            Err(DeliveryError::Permanent(_)) => "permanent",
            Err(DeliveryError::RetryAfter(..)) => "retry-after",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "transient",
            "transient",
            "transient",
            "permanent",
            "permanent",
            "permanent",
            "ok"
        ]
    );
    assert_eq!(seen.lock().unwrap().len(), 7);
    let down = webhook_config(support::free_port(), "");
    assert!(matches!(
        send(&down, &alert()),
        Err(DeliveryError::Transient(_))
    ));
}

#[test]
fn credential_headers_come_from_the_environment() {
    let (port, seen) = support::http_server(vec![]);
    std::env::set_var("DELIVERY_TEST_HEC_AUTH", "Splunk 1234-abcd");
    let config = webhook_config(
        port,
        "headers = { X-Route = \"soc\" }\nheaders_env = { Authorization = \"DELIVERY_TEST_HEC_AUTH\" }",
    );
    send(&config, &alert()).unwrap();
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs[0].header("authorization"), Some("Splunk 1234-abcd"));
    assert_eq!(reqs[0].header("x-route"), Some("soc"));

    let unset = webhook_config(
        port,
        "headers_env = { Authorization = \"DELIVERY_TEST_HEC_UNSET\" }",
    );
    let err = streamer::build_sinks(&unset)
        .err()
        .expect("an unset variable is an error");
    assert!(
        format!("{err:#}").contains("DELIVERY_TEST_HEC_UNSET"),
        "{err:#}"
    );
}

#[test]
fn a_retry_after_from_the_receiver_is_kept_for_the_outbox() {
    let (port, _seen) = support::http_server_with(vec![
        (429, "retry-after: 7\r\n"),
        (503, "Retry-After: 120\r\n"),
        (429, "retry-after: someday\r\n"),
        (400, "retry-after: 5\r\n"),
    ]);
    let config = webhook_config(port, "");
    let outcomes: Vec<String> = (0..4)
        .map(|_| match send(&config, &alert()) {
            Err(DeliveryError::RetryAfter(_, ms)) => format!("after {ms}"),
            Err(DeliveryError::Transient(_)) => "transient".into(),
            Err(DeliveryError::Permanent(_)) => "permanent".into(),
            Ok(()) => "ok".into(),
        })
        .collect();
    assert_eq!(
        outcomes,
        ["after 7000", "after 120000", "transient", "permanent"]
    );
}

#[test]
fn slack_and_teams_presets_are_defanged_and_escaped() {
    let (port, seen) = support::http_server(vec![]);
    send(&webhook_config(port, "preset = \"slack\""), &alert()).unwrap();
    send(&webhook_config(port, "preset = \"teams\""), &alert()).unwrap();
    let reqs = seen.lock().unwrap().clone();
    let slack: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(text.starts_with("[CRITICAL] ransom-local-gov"), "{text}");
    let body = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(body.contains("&lt;b&gt;claims&lt;/b&gt;"), "{body}");
    assert!(body.contains("hxxps[://]evil[.]example[.]com"), "{body}");
    assert!(!String::from_utf8_lossy(&reqs[0].body).contains("https://evil"));
    let teams: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = teams["attachments"][0]["content"]["body"].to_string();
    assert!(card.contains("hxxps"), "{card}");
    assert!(!card.contains("https://evil"), "{card}");
    assert_eq!(teams["streamer_id"], "0123456789abcdef0123456789abcdef");
}

fn syslog_config(address: &str, transport: &str, extra: &str) -> Config {
    Config::from_str(
        &format!(
            "[[sinks]]\nkind = \"syslog\"\naddress = \"{address}\"\ntransport = \"{transport}\"\napp_name = \"streamer-test\"\ntimeout_secs = 5\n{extra}\n"
        ),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn check_rfc5424(line: &str) {
    // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG
    assert!(line.starts_with("<130>1 "), "local0.crit: {line}");
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert!(parts[1].ends_with('Z') && parts[1].contains('T'), "{line}");
    assert_eq!(parts[3], "streamer-test");
    assert_eq!(parts[5], "ALERT");
    assert!(
        parts[6].starts_with("[streamer@32473 id=\"0123456789abcdef0123456789abcdef\""),
        "{line}"
    );
    assert!(!line.contains('\n') && !line.contains('\r'));
    assert!(!line.contains("https://evil"), "{line}");
}

#[test]
fn syslog_udp_rfc5424_and_cef() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    send(&syslog_config(&addr, "udp", ""), &alert()).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let line = String::from_utf8(buf[..n].to_vec()).unwrap();
    check_rfc5424(&line);
    assert!(line.contains("[CRITICAL] ransom-local-gov"), "{line}");

    send(&syslog_config(&addr, "udp", "format = \"cef\""), &alert()).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let line = String::from_utf8(buf[..n].to_vec()).unwrap();
    check_rfc5424(&line);
    let cef = &line[line.find("CEF:0|").expect("CEF payload")..];
    // Split on the `|` that are not escaped as `\|` (the handle holds one).
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = cef.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                fields.last_mut().unwrap().push(c);
                fields.last_mut().unwrap().extend(chars.next());
            }
            '|' if fields.len() < 8 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    assert!(
        fields[5].contains("@brigade]\"=\\|"),
        "`|` escaped in the header: {}",
        fields[5]
    );
    assert_eq!(&fields[..3], ["CEF:0", "Streamer", "Streamer"]);
    assert_eq!(fields[4], "ransom-local-gov");
    assert_eq!(fields[6], "10");
    let ext = &fields[7];
    assert!(
        ext.contains("externalId=0123456789abcdef0123456789abcdef"),
        "{ext}"
    );
    assert!(
        ext.contains("suser=brigade]\"\\=|"),
        "`=` escaped in extensions: {ext}"
    );
    assert!(ext.contains("cs4=evil[.]example[.]com"), "{ext}");
}

fn read_frame(r: &mut impl BufRead) -> String {
    try_read_frame(r).expect("an octet-counted frame")
}

fn try_read_frame(r: &mut impl BufRead) -> Option<String> {
    let mut len = Vec::new();
    r.read_until(b' ', &mut len).ok()?;
    let n: usize = String::from_utf8(len).ok()?.trim().parse().ok()?;
    let mut msg = vec![0; n];
    r.read_exact(&mut msg).ok()?;
    String::from_utf8(msg).ok()
}

#[test]
fn syslog_tcp_octet_counted_frames_and_a_notice() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = syslog_config(&addr, "tcp", "");
    let mut sink = streamer::build_sinks(&config).unwrap().remove(0);
    sink.deliver(&alert()).unwrap();
    sink.deliver(&Message::Notice(Notice {
        id: 3,
        kind: NoticeKind::SourceDown,
        source: Some("bluesky".into()),
        message: "connection reset\r\nretrying".into(),
        created_at: "2026-12-03T10:00:00Z".into(),
        repeats: 0,
    }))
    .unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut r = BufReader::new(stream);
    check_rfc5424(&read_frame(&mut r));
    let notice = read_frame(&mut r);
    assert!(notice.starts_with("<131>1 "), "local0.err: {notice}");
    assert!(
        notice.contains(" NOTICE [streamer@32473 id=\"notice-3-"),
        "{notice}"
    );
    assert!(
        notice.contains("kind=\"source_down\" source=\"bluesky\""),
        "{notice}"
    );
    assert!(notice.ends_with("connection reset retrying"), "{notice}");
}

#[test]
fn syslog_over_tls_with_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let cert = support::make_cert(dir.path());
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&cert.cert_path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&cert.key_path).unwrap();
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let conn = rustls::ServerConnection::new(server_config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut r = BufReader::new(&mut tls);
            // An untrusting client aborts the handshake: that connection yields nothing.
            if let Some(line) = try_read_frame(&mut r) {
                log.lock().unwrap().push(line);
            }
        }
    });
    let config = syslog_config(
        &format!("localhost:{port}"),
        "tls",
        &format!("ca_file = \"{}\"", cert.cert_path.display()),
    );
    send(&config, &alert()).unwrap();
    // Without the CA the certificate is refused: a retryable failure, nothing sent.
    let untrusted = syslog_config(&format!("localhost:{port}"), "tls", "");
    assert!(matches!(
        send(&untrusted, &alert()),
        Err(DeliveryError::Transient(_))
    ));
    for _ in 0..100 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = got.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    check_rfc5424(&lines[0]);
}
