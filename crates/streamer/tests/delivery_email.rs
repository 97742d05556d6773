//! Email delivery against a real SMTP server running inside the test (mailin-embedded on its
//! own thread): the message arrives, parses back as MIME, carries every field, renders a
//! hostile post harmless, and works over STARTTLS and implicit TLS (`smtps://`, through a TLS
//! terminator in front of the server) with a certificate made at test time, and with AUTH.

mod support;

use mail_parser::MimeHeaders;
use std::time::Duration;
use streamer::alert::AlertRecord;
use streamer::config::Config;
use streamer::render::{Delivery, Message};
use streamer::sinks::DeliveryError;
use streamer_model::{AtomMatch, Author, Entity, Geo, Iocs, Platform, Post, RuleHit, Severity};
use support::{make_cert, parse, Mode, Smtp, SmtpOptions};

fn full_record() -> AlertRecord {
    let mut post = Post::new(Platform::X, "1862000000000000042", "1500000000000000099");
    post.text =
        "LockBit hit Austin: see https://evil.example.com/leak and 185.220.101.4 now".into();
    post.url = Some("https://x.com/i/status/1862000000000000042".into());
    post.created_at = Some("2026-11-30T14:02:11Z".into());
    post.client = Some("Twitter for Android".into());
    post.lang = Some("en".into());
    post.author = Author {
        id: "1500000000000000099".into(),
        handle: Some("dd0s_brigade".into()),
        name: Some("DDoS Brigade".into()),
        followers: Some(1200),
        created_at: Some("2023-02-11T09:00:00Z".into()),
        previous_handles: vec!["old_brigade".into(), "older_brigade".into()],
    };
    post.geo = Some(Geo {
        lat: Some(30.26715),
        lon: Some(-97.74306),
        approximate: false,
        place: Some("Austin, TX".into()),
        country: Some("US".into()),
    });
    post.urls = vec!["https://evil.example.com/leak".into()];
    post.reply_to = Some("1862000000000000001".into());
    post.quote_of = Some("1862000000000000007".into());
    AlertRecord {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        created_at: "2026-11-30T14:02:12Z".into(),
        rules: vec![RuleHit {
            id: "ransom-local-gov".into(),
            severity: Severity::High,
            tags: vec!["ransomware".into(), "sltt".into()],
            matched: vec![AtomMatch {
                kind: "keyword".into(),
                value: "lockbit".into(),
                span: Some([0, 7]),
            }],
        }],
        post,
        iocs: Iocs {
            urls: vec!["https://evil.example.com/leak".into()],
            domains: vec!["evil.example.com".into()],
            ipv4: vec!["185.220.101.4".into()],
            sha256: vec!["a".repeat(64)],
            ..Iocs::default()
        },
        entities: vec![Entity {
            domain: "austintexas.gov".into(),
            name: Some("City of Austin".into()),
            kind: "City".into(),
            state: Some("TX".into()),
            city: None,
            security_contact: None,
        }],
    }
}

fn email_config(port: u16, extra: &str) -> Config {
    let text = format!(
        r#"
[alerts]
timezone = "America/Chicago"

[[sinks]]
kind = "email"
smtp_url = "smtp://127.0.0.1:{port}"
tls = "none"
from = "streamer@example.org"
to = ["analyst@example.org", "soc@example.org"]
timeout_secs = 5
{extra}
"#
    );
    Config::from_str(&text, None).unwrap_or_else(|e| panic!("{e}"))
}

fn send(config: &Config, m: &Message) -> Result<(), DeliveryError> {
    let mut sinks = streamer::build_sinks(config).unwrap();
    sinks[0].deliver(m)
}

fn alert(record: AlertRecord) -> Message {
    Message::Alert(Delivery {
        primary: record,
        merged: vec![],
        followup: false,
    })
}

fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .split("\r\n")
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_string())
}

#[test]
fn alert_arrives_as_valid_mime_with_every_field() {
    let smtp = Smtp::start(SmtpOptions::default());
    let config = email_config(smtp.port, "");
    send(&config, &alert(full_record())).unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.from, "streamer@example.org");
    assert_eq!(r.to, vec!["analyst@example.org", "soc@example.org"]);
    let raw = String::from_utf8_lossy(&r.data).into_owned();
    let msg = parse(&r.data);

    let subject = msg.subject().unwrap();
    assert!(
        subject.starts_with("[HIGH] ransom-local-gov — @dd0s_brigade on X: LockBit hit Austin"),
        "{subject}"
    );
    assert_eq!(
        msg.message_id(),
        Some("0123456789abcdef0123456789abcdef@streamer")
    );
    assert_eq!(
        header(&raw, "X-Streamer-Alert-Id").as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    // Threading: every alert about this actor replies to the same root.
    let root = msg.in_reply_to().as_text().unwrap().to_string();
    assert!(root.starts_with("actor-"), "{root}");
    assert_eq!(msg.references().as_text(), Some(root.as_str()));
    let mut other = full_record();
    other.alert_id = "ffff".into();
    other.post.id = "1862000000000000043".into();
    send(&config, &alert(other)).unwrap();
    let second = smtp.wait_for(2, Duration::from_secs(10));
    let m2 = parse(&second[1].data);
    assert_eq!(m2.in_reply_to().as_text(), Some(root.as_str()));

    // multipart/alternative with a text and an HTML part.
    let ct = msg.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = msg.body_text(0).unwrap().into_owned();
    let html = msg.body_html(0).unwrap().into_owned();
    for (part, body) in [("text", &text), ("html", &html)] {
        for needle in [
            "LockBit",                                    // the post text
            "https://x.com/i/status/1862000000000000042", // link to the post (ours: live)
            "Twitter for Android",                        // client
            "@dd0s_brigade",                              // handle
            "DDoS Brigade",                               // display name
            "x:1500000000000000099",                      // stable id
            "old_brigade, older_brigade",                 // previous handles
            "1200",                                       // followers
            "days (created 2023-02-11",                   // account age
            "30.26715, -97.74306",                        // coordinates
            "openstreetmap.org/?mlat=30.26715",           // map link
            "Austin, TX",                                 // place
            "2026-11-30 14:02:11 UTC",                    // UTC
            "2026-11-30 08:02:11 CST",                    // analyst's zone
            "ransom-local-gov",                           // rule
            "ransomware, sltt",                           // tags
            "keyword:lockbit",                            // matched term
            "evil[.]example[.]com",                       // IOC domain, defanged
            "185[.]220[.]101[.]4",                        // IOC IP, defanged
            &"a".repeat(64),                              // hash
            "City of Austin",                             // entity name
            "City",                                       // entity type
            "TX",                                         // state
            "csirt[@]austintexas[.]gov",                  // security contact, defanged
            "Reply to",                                   // reply context
            "1862000000000000001",
            "Quote of",
            "1862000000000000007",
            "0123456789abcdef0123456789abcdef", // alert id
        ] {
            assert!(
                body.contains(needle),
                "{part} part lacks {needle:?}:\n{body}"
            );
        }
    }
    assert!(html.contains("<mark>LockBit</mark>"), "{html}");
    // No live malicious link anywhere in the message.
    assert!(!raw.contains("https://evil.example.com"), "{raw}");
    assert!(
        !text.contains("https://evil.example.com") && !html.contains("https://evil.example.com")
    );
    assert!(
        !html.contains("href=\"hxxp"),
        "defanged links are never anchors"
    );
}

#[test]
fn hostile_post_is_rendered_harmless() {
    let smtp = Smtp::start(SmtpOptions::default());
    let config = email_config(smtp.port, "");
    let mut r = full_record();
    r.post.text = "LockBit <script>alert(1)</script> \"><img src=x onerror=alert(2)> \r\nBcc: victim@example.org\r\n\u{202E}fdp.exe http://evil.example.com/x".into();
    r.post.author.handle = Some("h\r\nX-Injected: yes".into());
    r.post.author.name = Some("<b onmouseover=alert(3)>N</b>\u{202E}".into());
    r.post.client = Some("\"><script>c()</script>".into());
    r.post.geo.as_mut().unwrap().place = Some("<iframe src=//evil>\r\nTo: x@y".into());
    r.post.author.previous_handles = vec!["<svg/onload=alert(4)>".into()];
    send(&config, &alert(r)).unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(10));
    let raw = String::from_utf8_lossy(&got[0].data).into_owned();
    let head = raw.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        assert!(
            line.bytes().all(|b| b == b'\t' || (32..127).contains(&b)),
            "header line with a control or raw non-ASCII byte: {line:?}"
        );
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc:")
                && !lower.starts_with("x-injected:")
                && !lower.starts_with("to: x@y"),
            "injected header: {line}"
        );
    }
    let msg = parse(&got[0].data);
    let subject = msg.subject().unwrap();
    assert!(!subject.contains('\u{202E}') && !subject.contains('\n') && !subject.contains('\r'));
    let to: Vec<_> = msg
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, vec!["analyst@example.org", "soc@example.org"]);
    assert!(msg.bcc().is_none());
    let html = msg.body_html(0).unwrap().into_owned();
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<img",
        "<iframe",
        "<svg",
        "<b onmouseover",
        "\u{202e}",
    ] {
        assert!(!lower.contains(bad), "HTML contains {bad:?}:\n{html}");
    }
    assert!(
        html.contains("&lt;script&gt;") && html.contains("&quot;&gt;&lt;img"),
        "{html}"
    );
    let text = msg.body_text(0).unwrap().into_owned();
    assert!(!text.contains('\u{202E}'), "{text:?}");
    assert!(!text.replace("\r\n", "\n").contains('\r'), "{text:?}");
    assert!(
        !raw.contains("http://evil.example.com"),
        "live link in {raw}"
    );
}

#[test]
fn starttls_with_a_test_certificate_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_cert(dir.path());
    let smtp = Smtp::start(SmtpOptions {
        tls: Some((cert.cert_path.clone(), cert.key_path.clone())),
        user: Some(("alerts".into(), "s3cret pass".into())),
        port: None,
    });
    std::env::set_var("DELIVERY_TEST_SMTP_PASSWORD", "s3cret pass");
    std::env::set_var("DELIVERY_TEST_SMTP_WRONG", "nope");
    let tls_config = |secret: &str, auth: &str| {
        Config::from_str(
            &format!(
                r#"
[[sinks]]
kind = "email"
smtp_url = "smtp://alerts@127.0.0.1:{}"
tls = "required"
ca_file = "{}"
password_env = "{secret}"
{auth}
from = "streamer@example.org"
to = ["analyst@example.org"]
timeout_secs = 5
"#,
                smtp.port,
                cert.cert_path.display()
            ),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    // AUTH PLAIN (lettre's first choice) and AUTH LOGIN, both over STARTTLS.
    send(
        &tls_config("DELIVERY_TEST_SMTP_PASSWORD", ""),
        &alert(full_record()),
    )
    .unwrap();
    send(
        &tls_config("DELIVERY_TEST_SMTP_PASSWORD", "auth = \"login\""),
        &alert(full_record()),
    )
    .unwrap();
    let got = smtp.wait_for(2, Duration::from_secs(10));
    assert_eq!(got.len(), 2);
    assert!(got
        .iter()
        .all(|r| r.authenticated_as.as_deref() == Some("alerts")));
    parse(&got[0].data);

    // A wrong password is a permanent failure (535), and nothing is accepted.
    let err = send(
        &tls_config("DELIVERY_TEST_SMTP_WRONG", ""),
        &alert(full_record()),
    )
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err:?}");

    // Without the CA the server's certificate is not trusted: no mail, a retryable failure.
    let untrusted = Config::from_str(
        &format!(
            r#"
[[sinks]]
kind = "email"
smtp_url = "smtp://alerts@127.0.0.1:{}"
password_env = "DELIVERY_TEST_SMTP_PASSWORD"
from = "streamer@example.org"
to = ["analyst@example.org"]
timeout_secs = 5
"#,
            smtp.port
        ),
        None,
    )
    .unwrap();
    let err = send(&untrusted, &alert(full_record())).unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err:?}");
    assert_eq!(smtp.received().len(), 2);
}

/// A TLS terminator on a new port in front of `backend`, as an SMTPS port 465 is: the client
/// speaks TLS from its first byte, the plain SMTP server behind it sees the session inside.
fn tls_terminator(cert: &support::TestCert, backend: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&cert.cert_path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&cert.key_path).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) =
                        tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    port
}

#[test]
fn implicit_tls_smtps_with_a_test_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_cert(dir.path());
    let smtp = Smtp::start(SmtpOptions::default());
    let port = tls_terminator(&cert, smtp.port);
    let smtps = |ca: &str| {
        Config::from_str(
            &format!(
                r#"
[[sinks]]
kind = "email"
smtp_url = "smtps://localhost:{port}"
{ca}
from = "streamer@example.org"
to = ["analyst@example.org"]
timeout_secs = 5
"#
            ),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    send(
        &smtps(&format!("ca_file = \"{}\"", cert.cert_path.display())),
        &alert(full_record()),
    )
    .unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    parse(&got[0].data);

    // Without the CA the certificate is refused before any SMTP: retryable, nothing sent.
    let err = send(&smtps(""), &alert(full_record())).unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err:?}");
    assert_eq!(smtp.received().len(), 1);
}

/// What the scripted XOAUTH2 server saw: each AUTH's decoded initial response, and each
/// message's data.
#[derive(Default)]
struct OauthLog {
    auth: Vec<String>,
    messages: Vec<String>,
}

/// A scripted SMTP server that offers only `AUTH XOAUTH2` (which mailin-embedded lacks) and
/// accepts the access token `token`.
fn xoauth2_server(token: &'static str) -> (u16, std::sync::Arc<std::sync::Mutex<OauthLog>>) {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = std::sync::Arc::new(std::sync::Mutex::new(OauthLog::default()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = seen.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                let mut authed = false;
                let _ = w.write_all(b"220 oauth.test ESMTP\r\n");
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.trim_end().to_string();
                    line.clear();
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-oauth.test\r\n250-AUTH XOAUTH2\r\n250 8BITMIME\r\n"
                    } else if let Some(b64) =
                        upper.strip_prefix("AUTH XOAUTH2 ").map(|_| &cmd[13..])
                    {
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(b64.trim())
                            .unwrap_or_default();
                        let text = String::from_utf8_lossy(&raw).into_owned();
                        authed = text.contains(&format!("auth=Bearer {token}\u{1}"));
                        log.lock().unwrap().auth.push(text);
                        if authed {
                            b"235 2.7.0 accepted\r\n"
                        } else {
                            b"535 5.7.8 invalid token\r\n"
                        }
                    } else if upper.starts_with("MAIL") && !authed {
                        b"530 5.7.0 authentication required\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n");
                        let mut data = String::new();
                        let mut l = String::new();
                        while r.read_line(&mut l).unwrap_or(0) > 0 && l != ".\r\n" {
                            data.push_str(&l);
                            l.clear();
                        }
                        log.lock().unwrap().messages.push(data);
                        b"250 2.0.0 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    (port, log)
}

#[test]
fn xoauth2_sends_the_bearer_token_for_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_cert(dir.path());
    let (backend, log) = xoauth2_server("ya29.test-token");
    // Over implicit TLS, as Microsoft 365 and Gmail are reached.
    let port = tls_terminator(&cert, backend);
    std::env::set_var("DELIVERY_TEST_OAUTH_TOKEN", "ya29.test-token");
    std::env::set_var("DELIVERY_TEST_OAUTH_EXPIRED", "ya29.expired");
    let config = |var: &str| {
        Config::from_str(
            &format!(
                r#"
[[sinks]]
kind = "email"
smtp_url = "smtps://alerts%40example.org@localhost:{port}"
ca_file = "{}"
auth = "xoauth2"
password_env = "{var}"
from = "alerts@example.org"
to = ["analyst@example.org"]
timeout_secs = 5
"#,
                cert.cert_path.display()
            ),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    send(&config("DELIVERY_TEST_OAUTH_TOKEN"), &alert(full_record())).unwrap();
    {
        let log = log.lock().unwrap();
        assert_eq!(
            log.auth,
            ["user=alerts@example.org\u{1}auth=Bearer ya29.test-token\u{1}\u{1}"]
        );
        assert_eq!(log.messages.len(), 1);
        parse(log.messages[0].as_bytes());
    }
    // A refused token is a permanent failure: retrying the same token cannot help.
    let err = send(
        &config("DELIVERY_TEST_OAUTH_EXPIRED"),
        &alert(full_record()),
    )
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err:?}");
    assert_eq!(log.lock().unwrap().messages.len(), 1);
}

#[test]
fn tls_required_refuses_a_server_without_starttls() {
    let smtp = Smtp::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let cert = make_cert(dir.path());
    let config = Config::from_str(
        &format!(
            "[[sinks]]\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:{}\"\nca_file = \"{}\"\nfrom = \"s@example.org\"\nto = [\"a@example.org\"]\n",
            smtp.port,
            cert.cert_path.display()
        ),
        None,
    )
    .unwrap();
    assert!(send(&config, &alert(full_record())).is_err());
    assert!(smtp.received().is_empty(), "mail went out in clear text");
}

#[test]
fn smtp_replies_are_classified_transient_or_permanent() {
    let smtp = Smtp::start(SmtpOptions::default());
    let config = email_config(smtp.port, "");
    smtp.set_mode(Mode::Greylist(1));
    let e = send(&config, &alert(full_record())).unwrap_err();
    assert!(
        matches!(e, DeliveryError::Transient(ref m) if m.contains("451")),
        "{e:?}"
    );
    send(&config, &alert(full_record())).unwrap();
    smtp.set_mode(Mode::RejectContaining("LockBit"));
    let e = send(&config, &alert(full_record())).unwrap_err();
    assert!(
        matches!(e, DeliveryError::Permanent(ref m) if m.contains("550")),
        "{e:?}"
    );
    // Connection refused: nobody listens.
    let down = email_config(support::free_port(), "");
    let e = send(&down, &alert(full_record())).unwrap_err();
    assert!(matches!(e, DeliveryError::Transient(_)), "{e:?}");
}

#[test]
fn notices_and_digests_are_mailed_too() {
    use streamer::render::{Digest, DigestReason, Notice, NoticeKind};
    let smtp = Smtp::start(SmtpOptions::default());
    let config = email_config(smtp.port, "");
    send(
        &config,
        &Message::Notice(Notice {
            id: 7,
            kind: NoticeKind::SourceRefused,
            source: Some("x".into()),
            message: "HTTP 401 Unauthorized: check X_BEARER_TOKEN".into(),
            created_at: "2026-12-03T10:00:00Z".into(),
            repeats: 2,
        }),
    )
    .unwrap();
    let mut second = full_record();
    second.alert_id = "second".into();
    second.rules[0].severity = Severity::Critical;
    second.post.text = "DDoS on Travis County".into();
    send(
        &config,
        &Message::Digest(Digest {
            items: vec![
                Delivery {
                    primary: full_record(),
                    merged: vec![],
                    followup: false,
                },
                Delivery {
                    primary: second,
                    merged: vec![full_record()],
                    followup: false,
                },
            ],
            reason: DigestReason::Period(60),
        }),
    )
    .unwrap();
    let got = smtp.wait_for(2, Duration::from_secs(10));
    let notice = parse(&got[0].data);
    assert_eq!(
        notice.subject(),
        Some("[NOTICE] Streamer source refused — x (×3): HTTP 401 Unauthorized: check X_BEARER_TOKEN")
    );
    let digest = parse(&got[1].data);
    let subject = digest.subject().unwrap();
    assert!(
        subject.starts_with("[CRITICAL] Streamer: 3 alert(s) — digest of the last 60 min"),
        "{subject}"
    );
    let text = digest.body_text(0).unwrap();
    let first = text.find("DDoS on Travis County").unwrap();
    let later = text.find("LockBit hit Austin").unwrap();
    assert!(first < later, "most severe first:\n{text}");
    assert!(text.contains("second") && text.contains("0123456789abcdef0123456789abcdef"));
}
